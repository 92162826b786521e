"""Nothing a user has is lost by an upgrade: a store written by grokscope 0.1.0 opens, shows,
reports, analyzes and resumes with today's code.

``tests/fixtures/store_v1.db`` was written once by ``tests/fixtures/make_store_v1.py`` at commit
3ede61f (before the contracts of issue 9) and is never regenerated. Runs 2 and 4 were stopped
halfway with a resume state (run 2's optimizer is the transform chain, whose state 0.1.0 keyed
by chain position; run 4's is ``FusedAdamW``); runs 1 and 3 are the same configs run to the end
by 0.1.0. Resumed with today's code, each must end with the old uninterrupted numbers: the rows
0.1.0 stored stay exactly as they were, and the rows computed now equal 0.1.0's to rounding. Not
exactly: 0.1.0 computed them on another CPU, and MKL's kernels (hence the last bits of a product)
differ between CPUs (measured: relative differences up to 2e-6 on an AMD EPYC against the Intel
machine that wrote the fixture). A broken resume, such as an optimizer state that is not restored,
moves the numbers far more than that (``test_a_lost_optimizer_state_is_caught``). On one machine a
resume is bit-exact (tests/integration/test_train_resume.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from grokscope.store import Store

FIXTURE = Path(__file__).parent.parent / "fixtures" / "store_v1.db"
OLD_METRICS = ("train_loss", "train_acc", "test_loss", "test_acc", "all_loss", "all_acc", "weight_norm")


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    dst = tmp_path / "store_v1.db"
    shutil.copyfile(FIXTURE, dst)
    return dst


def test_old_store_lists_and_shows(old_store, run_cli):
    code, out, err = run_cli("runs", "--store", old_store, "--json")
    assert code == 0, err
    runs = {r["id"]: r for r in json.loads(out)}
    assert [runs[i]["status"] for i in range(1, 7)] == ["finished", "interrupted", "finished", "interrupted",
                                                        "finished", "finished"]
    code, out, err = run_cli("show", 1, "--store", old_store, "--json")
    assert code == 0 and len(json.loads(out)["members"]) == 3
    code, out, err = run_cli("sweeps", "--store", old_store)
    assert code == 0 and "tiny" in out


def test_old_store_reports_and_analyzes(old_store, tmp_path, run_cli):
    code, out, err = run_cli("report", 1, "--store", old_store, "--out", tmp_path / "report")
    assert code == 0 and Path(out.strip().splitlines()[-1]).exists()
    code, _, err = run_cli("analyze", 1, "--store", old_store, "--out", tmp_path / "analysis")
    assert code == 0, err
    assert any((tmp_path / "analysis").iterdir())


RTOL, ATOL = 1e-4, 1e-7  # rounding across CPUs (measured <= 2e-6 relative); a broken resume is far outside


@pytest.mark.parametrize("interrupted,reference", [(2, 1), (4, 3)], ids=["chain", "fused"])
def test_old_interrupted_run_resumes_to_the_old_uninterrupted_numbers(old_store, run_cli, interrupted, reference):
    torch.set_num_threads(1)
    store = Store(old_store)
    steps_old, old = store.metrics(interrupted, names=list(OLD_METRICS))  # what 0.1.0 stored before it stopped
    code, _, err = run_cli("train", "--resume", interrupted, "--store", old_store, "--quiet")
    assert code == 0, err
    assert store.get_run(interrupted).status == "finished"
    steps_ref, ref = store.metrics(reference, names=list(OLD_METRICS))
    steps_new, new = store.metrics(interrupted, names=list(OLD_METRICS))
    np.testing.assert_array_equal(steps_new, steps_ref)
    n_old = len(steps_old)
    assert 0 < n_old < len(steps_ref)
    for k in OLD_METRICS:
        np.testing.assert_array_equal(new[k][:n_old], old[k], err_msg=k)  # stored rows unchanged
        np.testing.assert_array_equal(new[k][:n_old], ref[k][:n_old], err_msg=k)  # 0.1.0 on both sides
        np.testing.assert_allclose(new[k], ref[k], rtol=RTOL, atol=ATOL, err_msg=k)
    assert store.checkpoint_steps(interrupted) == store.checkpoint_steps(reference)
    last = store.checkpoint_steps(reference)[-1]
    a, b = store.load_checkpoint(reference, last), store.load_checkpoint(interrupted, last)
    assert set(a) == set(b)
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=RTOL, atol=ATOL, msg=k)
    keys = ("mem_step", "gen_step", "phase", "diverged")
    assert [{k: m.get(k) for k in keys} for m in store.members(interrupted)] == \
           [{k: m.get(k) for k in keys} for m in store.members(reference)]


def test_a_lost_optimizer_state_is_caught(old_store, run_cli, monkeypatch):
    """The tolerance above is not loose: a resume that drops Adam's moments (zeroes them) ends far
    outside it, so the test above would catch a resume that does not restore its state."""
    from torch.utils._pytree import tree_map

    from grokscope.train._state import RunState

    restore = RunState.from_resume.__func__

    def lossy(cls, *args, **kwargs):
        state = restore(cls, *args, **kwargs)
        state.opt_state = tree_map(lambda t: torch.zeros_like(t) if torch.is_tensor(t) and t.is_floating_point()
                                   else t, state.opt_state)
        return state

    monkeypatch.setattr(RunState, "from_resume", classmethod(lossy))
    torch.set_num_threads(1)
    code, _, err = run_cli("train", "--resume", 4, "--store", old_store, "--quiet")
    assert code == 0, err
    store = Store(old_store)
    _, ref = store.metrics(3, names=["train_loss"])
    _, new = store.metrics(4, names=["train_loss"])
    rel = np.abs(new["train_loss"] - ref["train_loss"]) / np.abs(ref["train_loss"])
    assert rel.max() > 100 * RTOL


def test_old_sweep_is_recognized_by_its_spec(old_store):
    """Re-running the old sweep's spec finds it complete: config keys added since (with defaults
    that keep the old behaviour) do not make the registered spec read as a different one."""
    from grokscope.sweep import parse_spec, run_sweep, sweep_members

    spec = parse_spec({"name": "tiny", "base": "pair-mod67", "seeds": 2, "steps": 100, "max_ensemble": 2,
                       "set": {"task.p": 7, "task.train_frac": 0.6, "threads": 1, "log.n_checkpoints": 2},
                       "grid": {"optim.weight_decay": [0.1, 1.0]}})
    store = Store(old_store)
    report = run_sweep(spec, store=store, progress=False)
    assert report.complete and len(report.skipped) == 2 and not report.trained
    assert len(sweep_members(store, "tiny")) == 4
