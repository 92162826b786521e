"""An adaptive sweep (members retire once decided) loses nothing to kill -9, with and without refill.

Kill the sweep's process at the first moment a running ensemble has compacted (one of its members
retired: its metrics turn NaN from then on), re-run the sweep, and compare with the same sweep run
uninterrupted in a fresh store: every member is mapped exactly once, and each member's phase,
steps, retirement step and every stored metric value are the same, bit for bit (one thread, so the
kernels' reduction order is fixed). With ``refill`` the ensembles are trained stacked, queued ones
joining as members retire; there the reference is also each ensemble trained alone by ``train``:
being stacked changes no number.
"""

import os
import signal
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from grokscope.store import Store
from grokscope.sweep import load_spec, run_sweep, sweep_members

from test_sweep_resume import _wait_for, check_consistent

# a + b mod 23 with the default model, 6 members; with these settings members generalize after
# ~150-300 steps and most retire (window 20 steps, and past 1.25 x their step). Without refill: 2
# ensembles of 3. With refill = 2: 3 ensembles of 2 in a stack of 4 rows, the third joining once
# two members have retired.
SPEC = """
seeds = 3
steps = 400
max_ensemble = {max_ensemble}
{refill}
[set]
"threads" = 1
"task.p" = 23
"task.train_frac" = 0.8
"optim.lr" = 1e-2
"train.retire_window" = 20
"train.retire_frac" = 0.25
"log.dense_until" = 5
"log.n_log" = 40
"log.n_checkpoints" = 2
"log.flush_seconds" = 0.05
[grid]
"optim.weight_decay" = [1.0, 2.0]
"""
NAME = "adaptive"
KEYS = ("phase", "mem_step", "gen_step", "diverged", "retired_step")


MODES = {"retire": dict(max_ensemble=3, refill=""), "refill": dict(max_ensemble=4, refill="refill = 2")}
N_ENSEMBLES = {"retire": 2, "refill": 3}


def _spec(tmp_path, mode):
    p = tmp_path / f"{NAME}.toml"
    p.write_text(SPEC.format(**MODES[mode]))
    return p


def _members(store):
    """(point, seed) -> (the member's result fields, its metrics) from the run that trained it."""
    out = {}
    for m in sweep_members(store, NAME):
        row = store.members(m["run_id"])[m["member"]]
        steps, met = store.metrics(m["run_id"])
        out[(m["point"], m["seed"])] = (tuple(row.get(k) for k in KEYS), steps.tolist(),
                                        {k: v[:, m["member"]] for k, v in sorted(met.items())})
    return out


@pytest.fixture(scope="module", params=list(MODES))
def reference(tmp_path_factory, request):
    tmp = tmp_path_factory.mktemp("adaptive-ref")
    store = Store(tmp / "ref.db")
    assert run_sweep(load_spec(_spec(tmp, request.param)), store, progress=False, tune_memory=False).complete
    ref = _members(store)
    retired = [fields[-1] for fields, _, _ in ref.values() if fields[-1] is not None]
    assert len(ref) == 6 and len(retired) >= 2, ref  # the spec exercises compaction
    return request.param, ref


def test_a_stacked_ensemble_equals_the_same_ensemble_trained_alone(tmp_path, reference):
    from grokscope.config import RunConfig
    from grokscope.sweep import pack
    from grokscope.train import train

    mode, ref = reference
    plans = pack(load_spec(_spec(tmp_path, mode)))
    assert len(plans) == N_ENSEMBLES[mode] and all(bool(p.stack) == (mode == "refill") for p in plans)
    for plan in plans:
        alone = train(RunConfig.from_dict(plan.config), None)
        for j, key in enumerate(plan.members):
            fields, steps, metrics = ref[key]
            assert alone.steps.tolist() == steps and alone.members[j].get("retired_step") == fields[-1], key
            for name, values in metrics.items():
                np.testing.assert_array_equal(alone.metrics[name][:, j], values, err_msg=f"{key} {name}")


def _compacted(c) -> bool:
    """A running ensemble whose latest test accuracies include a NaN: a member has retired."""
    for (run,) in c.execute("SELECT id FROM runs WHERE status='running'"):
        row = c.execute("SELECT value FROM metrics WHERE run_id=? AND name='test_acc' ORDER BY step DESC LIMIT 1",
                        (run,)).fetchone()
        if row is not None and np.isnan(np.frombuffer(row[0], dtype=np.float64)).any():
            return True
    return False


# The killed process pauses while a run has retired some but not all of its members, so the poller
# below sees a compacted ensemble mid-training however fast or loaded the machine: unpaused, an
# ensemble of 2 here can stay compacted for ~60 ms, which a loaded CI machine missed. It pauses
# 0.3 s at each such evaluation (which makes the next flush due), and 0.5 s right after each flush
# of such a run (at most 10 times), when the evaluation's NaN row is in the store and the run is
# still running: that window exists even when the run's last member retires at its next
# evaluation. Sleeping changes no number (the comparison below is bit for bit).
_SLOW_WHILE_COMPACTED = """import sys, time
from grokscope.train import _retire, _writer
_call, _flush, _naps = _retire.RetireHook.__call__, _writer.RunWriter.flush, [10]
def _slow(self, step, metrics, ctx):
    out = _call(self, step, metrics, ctx)
    if ctx.retired is not None and ctx.retired.any() and not ctx.retired.all():
        time.sleep(0.3)
    return out
def _slow_flush(self, state):
    _flush(self, state)
    r = getattr(state, "retired_step", None)
    if r is not None and (r >= 0).any() and not (r >= 0).all() and _naps[0] > 0:
        _naps[0] -= 1
        time.sleep(0.5)
_retire.RetireHook.__call__ = _slow
_writer.RunWriter.flush = _slow_flush
"""


def test_kill_9_after_a_retirement_then_resume_gives_the_uninterrupted_sweep(tmp_path, reference):
    mode, reference = reference
    spec_path, db = _spec(tmp_path, mode), tmp_path / "kill.db"
    code = _SLOW_WHILE_COMPACTED + ("from grokscope.sweep._cli import sweep_cmd; "
                                    "sweep_cmd(sys.argv[1], sys.argv[2], progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(spec_path), str(db)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    hit = False
    try:
        hit = _wait_for(db, _compacted, proc)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert hit, f"no compacted ensemble was seen running (exit {proc.returncode}): {proc.stderr.read().decode()[-2000:]}"
    with sqlite3.connect(db) as c:  # the kill left a run (or stacked runs) mid-training: the resume has work to do
        assert c.execute("SELECT COUNT(*) FROM runs WHERE status='running'").fetchone()[0] >= 1
    store = Store(db)
    rep = run_sweep(load_spec(spec_path), store, progress=False, tune_memory=False)
    assert rep.complete
    check_consistent(store, NAME, N_ENSEMBLES[mode])
    # resumed, not retrained: one run per ensemble
    assert len([r for r in store.list_runs() if r.name.startswith(f"sweep:{NAME}/")]) == N_ENSEMBLES[mode]
    got = _members(store)
    assert got.keys() == reference.keys()
    for key, (fields, steps, metrics) in reference.items():
        assert got[key][:2] == (fields, steps), key
        assert got[key][2].keys() == metrics.keys(), key
        for name, values in metrics.items():  # NaN after retirement compares equal here, numbers bit for bit
            np.testing.assert_array_equal(got[key][2][name], values, err_msg=f"{key} {name}")
