"""Resume a run whose ensemble has compacted (members retired) and get the uninterrupted numbers.

- kill -9 a ``grokscope train`` with retirement on, at a random moment after some member retired
  and before the last did, resume it, and get the reference run's metrics, checkpoints and member
  rows exactly (one thread, same code). The reference runs first, so the kill can be aimed between
  its first and last retirement. Both optimizer paths: FusedAdamW and the chain with Grokfast.
- In process: Ctrl-C after a retirement, resume, same numbers; and the resume state round trip
  (store -> ``RunState.from_resume`` -> ``to_resume``) gives back every entry, with the retired
  members recorded and the state full width (as if they had been frozen in place).
- A resume state without ``retired_step`` (version 2, what grokscope wrote before retirement) loads
  with every member live.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from grokscope.config import load_config
from grokscope.models import build_model
from grokscope.seeding import generator, member_seed
from grokscope.store import Store
from grokscope.store._codec import blob_to_resume, resume_to_blob
from grokscope.train import GrokkingHook, RetireHook, RunState, make_optimizer, train
from grokscope.train._loop import _checkpoint_plan

STEPS = 25000
CONFIG = f"""\
name = "retire-resume-check"
n_members = 4
seed = 3

[task]
kind = "modular"
op = "add"
p = 23
train_frac = 0.5

[model]
arch = "pair_mlp"
d_embed = 16
d_hidden = 48

[train]
steps = {STEPS}
batch_size = 64
retire_window = 50

[optim]
lr = [1e-2, 5e-3, 2e-2, 1e30]   # the last member diverges within a few steps (and retires)
weight_decay = 1.0
{{grokfast}}

[log]
flush_seconds = 0.2
n_checkpoints = 12
dense_until = 50
n_log = 150
"""
PATHS = pytest.mark.parametrize("grokfast", ["grokfast_alpha = 0.9\ngrokfast_lambda = 1.0", ""],
                                ids=["chain-grokfast", "fused-adamw"])


def _flushed_step(db: Path) -> int:
    if not db.exists():
        return -1
    try:
        steps, _ = Store(db).metrics(1, names=["train_acc"])
    except Exception:  # not created yet / nothing logged yet
        return -1
    return int(steps[-1]) if len(steps) else -1


def _assert_same_run(a: Store, b: Store, run_a: int = 1, run_b: int = 1) -> None:
    steps_a, m_a = a.metrics(run_a)
    steps_b, m_b = b.metrics(run_b)
    np.testing.assert_array_equal(steps_a, steps_b)
    assert set(m_a) == set(m_b)
    for k in m_a:
        np.testing.assert_array_equal(m_a[k], m_b[k], err_msg=k)  # exactly, NaN where NaN
    assert a.checkpoint_steps(run_a) == b.checkpoint_steps(run_b)
    for step in a.checkpoint_steps(run_a):
        ca, cb = a.load_checkpoint(run_a, step), b.load_checkpoint(run_b, step)
        for k in ca:
            torch.testing.assert_close(ca[k], cb[k], rtol=0, atol=0, equal_nan=True, msg=f"step {step} {k}")
    assert a.members(run_a) == b.members(run_b)
    sa, sb = a.get_run(run_a).summary, b.get_run(run_b).summary
    for k in ("final_step", "n_retired", "member_steps", "member_steps_budget"):
        assert sa[k] == sb[k], k


@PATHS
def test_kill_minus_9_after_a_retirement_then_resume_gives_the_uninterrupted_numbers(
        tmp_path, cli_env, grokscope_argv, grokfast):
    cfg = tmp_path / "retire.toml"
    cfg.write_text(CONFIG.replace("{grokfast}", grokfast))
    ref_db, db = tmp_path / "reference" / "runs.db", tmp_path / "victim" / "runs.db"
    done = subprocess.run(grokscope_argv("train", cfg, "--quiet", "--store", ref_db), env=cli_env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    retired = sorted(m["retired_step"] for m in Store(ref_db).members(1) if m.get("retired_step") is not None)
    assert len(retired) >= 2, retired  # the config exercises compaction (the diverged member and a grokked one)
    rng = random.Random()  # a different kill moment every run; printed on failure
    # The run stops when its last live members are decided (at retired[-1]); aim in the first half
    # between the first and the last retirement, so the victim is still training when it is killed.
    target = rng.randint(retired[0] + 1, max(retired[0] + 1, (retired[0] + retired[-1]) // 2))
    extra_sleep = rng.uniform(0.0, 0.2)
    where = f"kill after flushed step >= {target} + {extra_sleep:.3f} s (retirements at {retired})"

    victim = subprocess.Popen(grokscope_argv("train", cfg, "--quiet", "--store", db), env=cli_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while _flushed_step(db) < target:
            assert victim.poll() is None, f"victim ended before the kill ({where}): {victim.stderr.read()}"
            assert time.monotonic() < deadline, f"victim too slow ({where})"
            time.sleep(0.02)
        time.sleep(extra_sleep)
        assert victim.poll() is None, f"victim finished before the kill ({where})"
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    assert victim.returncode == -signal.SIGKILL
    assert Store(db).get_run(1).status == "interrupted", f"the kill came after training had finished ({where})"
    saved = Store(db).load_resume(1)
    assert saved is not None and saved["step"] > retired[0] and "retired_step" in saved, where

    resumed = subprocess.run(grokscope_argv("train", "--resume", 1, "--quiet", "--store", db), env=cli_env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    _assert_same_run(Store(ref_db), Store(db))


# -- in process ------------------------------------------------------------------------------------
SMALL = ["task.p=7", "task.train_frac=0.9", "dtype=float64", "train.steps=300", "model.d_embed=8",
         "model.d_hidden=24", "optim.lr=[2e-2, 1.5e-2, 2e-2, 2.5e-2]", "optim.weight_decay=[3.0, 2.5, 3.0, 0.1]",
         "optim.warmup_steps=0", "log.dense_until=300", "log.n_checkpoints=20", "n_members=4",
         "member_seeds=[1, 2, 3, 4]", "train.batch_size=16", "train.retire_window=10", "threads=1"]


def _interrupt_after_first_retirement(store, run_id_box):
    def progress(ev):
        if ev["n_live"] < 4 and not run_id_box:
            run_id_box.append(ev["step"])
            os.kill(os.getpid(), signal.SIGINT)  # stops at the next clean point and flushes

    return progress


@PATHS
def test_ctrl_c_after_a_retirement_then_resume_gives_the_uninterrupted_numbers(store_path, grokfast):
    more = [] if not grokfast else ["optim.grokfast_alpha=0.9", "optim.grokfast_lambda=1.0"]
    cfg = load_config(overrides=[*SMALL, *more])
    store = Store(store_path)
    full = train(cfg, store)
    box: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        train(cfg, store, progress=_interrupt_after_first_retirement(store, box))
    run = full.run_id + 1
    saved = store.load_resume(run)
    assert "retired_step" in saved and saved["step"] == box[0] + 1
    assert saved["params"]["embed.W_E"].shape[0] == 4 and saved["active"].shape == (4,)  # full width
    train(cfg, store, resume=run)
    _assert_same_run(store, store, full.run_id, run)


def _fresh(cfg):
    task = cfg.build_task()
    model = build_model(cfg, task, member_seeds=[member_seed(s, 1) for s in cfg.seeds()])
    opt = make_optimizer(cfg, model.dtype, model.device)
    gens = [generator(member_seed(s, 2)) for s in cfg.seeds()]
    _, transitions = _checkpoint_plan(cfg, model)  # the loop's hooks, in the loop's order
    return model, opt, gens, [GrokkingHook(False), RetireHook(cfg.train.retire_window), *transitions]


def _assert_same(a, b, where="state"):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=where)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@PATHS
def test_a_compacted_resume_state_round_trips_and_an_old_one_loads_with_every_member_live(store_path, grokfast):
    more = [] if not grokfast else ["optim.grokfast_alpha=0.9", "optim.grokfast_lambda=1.0"]
    cfg = load_config(overrides=[*SMALL, *more])
    store = Store(store_path)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, store, progress=_interrupt_after_first_retirement(store, []))
    saved = store.load_resume(1)
    state = RunState.from_resume(saved, *_fresh(cfg))
    n_retired = int((np.asarray(saved["retired_step"]) >= 0).sum())
    assert len(state.rows) == 4 - n_retired and state.model.n_models == len(state.rows) and len(state.gens) == len(state.rows)
    _assert_same(saved, state.to_resume())
    _assert_same(saved, blob_to_resume(resume_to_blob(state.to_resume())))
    old = {k: v for k, v in saved.items() if k != "retired_step"}
    state = RunState.from_resume(old, *_fresh(cfg))
    assert len(state.rows) == 4 and not state.any_retired
    _assert_same(old, state.to_resume())
