"""Runs stacked into one ensemble (``train_stacked``) compute exactly what each computes alone.

The reference is each run trained on its own by ``train`` (one thread, so every kernel reduces in
one order): metrics bit for bit, retirement steps, final steps. The stack must really refill: a
queued run joins while earlier runs are still training (their members having retired), which the
start/done callbacks record.
"""

import numpy as np
import pytest

from grokscope import load_config
from grokscope.errors import ConfigError
from grokscope.train import StackJob, train, train_stacked

BASE = ["train.steps=800", "task.p=23", "threads=1", "train.retire_window=20", "train.retire_frac=0.25",
        "optim.lr=1e-2", "task.train_frac=[0.8,0.9]", "n_members=2", "optim.weight_decay=[1.0,2.0]",
        "log.n_checkpoints=3", "train.pad_to=480"]


def _cfgs(n, extra=()):
    return [load_config(preset="pair-mod67", overrides=[*BASE, *extra, f"seed={s}"]) for s in range(n)]


def test_stacked_runs_refill_and_equal_each_run_trained_alone():
    cfgs = _cfgs(5)
    events = []

    def start(job):
        events.append(("start", job.tag))

    def done(job, result):
        events.append(("done", job.tag))

    stacked = train_stacked([StackJob(c, on_start=start, on_done=done, tag=i) for i, c in enumerate(cfgs)],
                            None, capacity=4)
    # refill: some run started while an earlier-started run was still training
    running, joined_mid_run = set(), False
    for kind, i in events:
        if kind == "start":
            joined_mid_run |= len(running) > 0 and i >= 2
            running.add(i)
        else:
            running.discard(i)
    assert joined_mid_run, events
    for cfg, got in zip(cfgs, stacked):
        alone = train(cfg, None)
        assert alone.steps.tolist() == got.steps.tolist() and alone.summary["final_step"] == got.summary["final_step"]
        assert [m.get("retired_step") for m in alone.members] == [m.get("retired_step") for m in got.members]
        for name, values in alone.metrics.items():
            np.testing.assert_array_equal(got.metrics[name], values, err_msg=name)
    assert sum(m.get("retired_step") is not None for r in stacked for m in r.members) >= 4


def test_runs_of_different_shapes_or_widths_are_refused_in_one_line():
    a, b = _cfgs(1)[0], _cfgs(1, ["model.d_hidden=16"])[0]
    with pytest.raises(ConfigError, match="cannot share a stack") as e:
        train_stacked([StackJob(a), StackJob(b)], None, capacity=4)
    assert "\n" not in str(e.value)
    c, d = _cfgs(1, ["train.pad_to=0"])[0], _cfgs(1, ["train.pad_to=0", "task.train_frac=[0.5,0.6]"])[0]
    with pytest.raises(ConfigError, match="train.pad_to"):
        train_stacked([StackJob(c), StackJob(d)], None, capacity=4)
    with pytest.raises(ConfigError, match="capacity"):
        train_stacked([StackJob(a)], None, capacity=0)
