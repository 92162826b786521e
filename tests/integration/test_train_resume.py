"""kill -9 a ``grokscope train`` at a random moment, resume it, and get an uninterrupted run's numbers.

Two processes train the same config, one thread each: the reference runs to the end in its own
store; the victim is killed with SIGKILL once its store holds a randomly chosen step, then
``grokscope train --resume`` finishes it. The config exercises all the state a resume must bring
back: minibatch sampling (the RNG), AdamW moments, the grokfast EMA, per-member learning rates,
and a member that diverges early (the active mask and the bookkeeping). It runs twice: with
grokfast (the transform chain) and without (``FusedAdamW``, torch's fused kernel).
The comparison is exact: same code, same thread count, same inputs -> the same floats.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from grokscope.cli import main
from grokscope.errors import StoreError
from grokscope.store import Store

STEPS = 2500
CONFIG = f"""\
name = "resume-check"
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

[optim]
lr = [1e-2, 5e-3, 2e-2, 1e30]   # the last member diverges within a few steps
weight_decay = 1.0
{{grokfast}}

[log]
flush_seconds = 0.2
n_checkpoints = 12
dense_until = 50
n_log = 100
"""


def _integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def _flushed_step(db: Path) -> int:
    """The last step whose metrics the victim has committed (-1 before the first flush)."""
    if not db.exists():
        return -1
    try:
        steps, _ = Store(db).metrics(1, names=["train_acc"])
    except StoreError:  # the run is not created yet, or no metric is logged yet
        return -1
    return int(steps[-1]) if len(steps) else -1


def _status_via_cli(db: Path, capfd) -> str:
    capfd.readouterr()
    try:
        main(["runs", "--json", "--store", str(db)])
    except SystemExit as e:
        assert not e.code, capfd.readouterr().err
    (run,) = json.loads(capfd.readouterr().out)
    return run["status"]


def _assert_same_run(a: Store, b: Store, run: int = 1) -> None:
    steps_a, m_a = a.metrics(run)
    steps_b, m_b = b.metrics(run)
    np.testing.assert_array_equal(steps_a, steps_b)
    assert steps_a[-1] == STEPS and set(m_a) == set(m_b)
    for k in m_a:
        np.testing.assert_array_equal(m_a[k], m_b[k], err_msg=k)  # exactly, NaN where NaN
    assert a.checkpoint_steps(run) == b.checkpoint_steps(run)
    for step in a.checkpoint_steps(run):
        ca, cb = a.load_checkpoint(run, step), b.load_checkpoint(run, step)
        assert set(ca) == set(cb)
        for k in ca:
            torch.testing.assert_close(ca[k], cb[k], rtol=0, atol=0, equal_nan=True, msg=f"step {step} {k}")
    assert a.members(run) == b.members(run)


@pytest.mark.parametrize("grokfast", ["grokfast_alpha = 0.9\ngrokfast_lambda = 1.0", ""],
                         ids=["chain-grokfast", "fused-adamw"])
def test_kill_minus_9_then_resume_gives_the_uninterrupted_numbers(tmp_path, cli_env, grokscope_argv, capfd,
                                                                   grokfast):
    cfg = tmp_path / "resume.toml"
    cfg.write_text(CONFIG.replace("{grokfast}", grokfast))
    ref_db, db = tmp_path / "reference" / "runs.db", tmp_path / "victim" / "runs.db"
    train = ["train", cfg, "--quiet", "--store"]
    reference = subprocess.Popen(grokscope_argv(*train, ref_db), env=cli_env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    victim = subprocess.Popen(grokscope_argv(*train, db), env=cli_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rng = random.Random()  # a different kill moment every run; printed on failure
    target, extra_sleep = rng.randint(STEPS // 10, STEPS // 2), rng.uniform(0.0, 0.2)
    where = f"kill after flushed step >= {target} + {extra_sleep:.3f} s"
    try:
        deadline = time.monotonic() + 300
        while _flushed_step(db) < target:
            assert victim.poll() is None, f"victim ended before the kill ({where}): {victim.stderr.read()}"
            assert time.monotonic() < deadline, f"victim too slow ({where})"
            time.sleep(0.02)
        time.sleep(extra_sleep)  # somewhere inside a flush interval, maybe inside a flush
        assert victim.poll() is None, f"victim finished before the kill ({where})"
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)  # reap it: a zombie would still look alive
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    assert victim.returncode == -signal.SIGKILL

    # The store survived: intact, the run reads "interrupted", and what it holds is a prefix of the run.
    assert _integrity(db) == "ok", where
    assert _status_via_cli(db, capfd) == "interrupted", where
    killed_at = _flushed_step(db)
    assert target <= killed_at < STEPS, where
    resume_state = Store(db).load_resume(1)
    assert resume_state is not None and 0 < resume_state["step"] <= STEPS, where
    killed_steps, killed_metrics = Store(db).metrics(1)

    resumed = subprocess.run(grokscope_argv("train", "--resume", 1, "--quiet", "--store", db), env=cli_env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert reference.wait(timeout=300) == 0, reference.stderr.read()

    for path in (db, ref_db):
        assert _integrity(path) == "ok"
        assert _status_via_cli(path, capfd) == "finished"
    ref, res = Store(ref_db), Store(db)
    members = ref.members(1)
    assert [m["diverged"] for m in members] == [False, False, False, True]  # the mask was exercised
    _assert_same_run(ref, res)
    # Before the resume the store held exactly the reference's first metrics: lost only the unflushed tail.
    ref_steps, ref_metrics = ref.metrics(1)
    n = len(killed_steps)
    np.testing.assert_array_equal(killed_steps, ref_steps[:n])
    for k, v in killed_metrics.items():
        np.testing.assert_array_equal(v, ref_metrics[k][:n], err_msg=k)
    assert ref.get_run(1).summary["final_step"] == res.get_run(1).summary["final_step"] == STEPS
