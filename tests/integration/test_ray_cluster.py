"""A Ray worker dies in the middle of a sweep: every member ends in the store exactly once.

A worker process of a local Ray instance (``ray.init`` in this process) is SIGKILLed while it
trains an ensemble (its private store, ``$TMPDIR/grokscope-worker-<pid>-*/worker.db``, already
holds flushed metrics); the driver resubmits that ensemble, counts the retry, and finishes. The
reference is an uninterrupted in-process sweep of the same spec: every member's result equals
it, no member is lost, none is mapped twice, and the store holds exactly one finished run per
ensemble. The same check on a real multi-node layout (``ray start`` processes on loopback, whole
worker nodes killed) is ``tests/slow/test_ray_multinode.py`` (20-42 s on the 2-core CPU: opt-in).

Every wait is bounded (``WAIT``).
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from grokscope.store import Store
from grokscope.sweep import load_spec, run_sweep, sweep_members
from grokscope.sweep._ray import LOCAL_NODE_IP

# The test extra installs Ray: where CI runs (CI=true) a missing Ray is an error, never a silent skip.
if os.environ.get("CI"):
    import ray
else:
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[test]')")
pytestmark = pytest.mark.ray

# 4 ensembles of 2 members (dtype is a shape key, max_ensemble cuts each dtype group in two);
# long enough (steps) that a kill finds an ensemble mid-training, short flushes so it has metrics.
SPEC = """
seeds = 2
steps = {steps}
max_ensemble = 2
[set]
"task.p" = 7
"task.train_frac" = 0.6
"log.dense_until" = 5
"log.n_log" = 10
"log.n_checkpoints" = 2
"log.flush_seconds" = 0.05
[grid]
"dtype" = ["float32", "float64"]
"optim.lr" = [1e-3, 3e-2]
"""
STEPS = 400
N_ENSEMBLES = 4
RESULT_KEYS = ("point", "seed", "values", "ensemble", "member", "phase", "mem_step", "gen_step", "diverged",
               "member_seed")
WAIT = 40.0   # the longest any single wait of these tests may take (s)


def write_spec(tmp_path: Path, name: str) -> Path:
    p = tmp_path / f"{name}.toml"
    p.write_text(textwrap.dedent(SPEC.format(steps=STEPS)))
    return p


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted in-process sweep: (store, members)."""
    tmp = tmp_path_factory.mktemp("ref")
    store = Store(tmp / "ref.db")
    rep = run_sweep(load_spec(write_spec(tmp, "lost")), store, progress=False, tune_memory=False)
    assert rep.complete and len(rep.trained) == N_ENSEMBLES
    return store, sweep_members(store, "lost")


def check_every_member_once(store, name: str, reference) -> None:
    """No member lost, none mapped twice, one finished run per ensemble, each member equal to the reference."""
    ref_store, ref_members = reference
    ms = sweep_members(store, name)
    assert len(ms) == len(ref_members) == 2 * N_ENSEMBLES
    assert all(m["run_id"] is not None for m in ms), "a member was lost"
    pairs = [(m["run_id"], m["member"]) for m in ms]
    assert len(set(pairs)) == len(pairs), "two sweep members map to one trained member"
    runs = [r for r in store.list_runs() if (r.name or "").startswith(f"sweep:{name}/")]
    assert sorted(r.id for r in runs) == sorted({m["run_id"] for m in ms}), "a run was imported twice"
    assert len(runs) == N_ENSEMBLES and all(r.status == "finished" for r in runs)
    for x, y in zip(ref_members, ms):
        assert {k: x.get(k) for k in RESULT_KEYS} == {k: y.get(k) for k in RESULT_KEYS}
        row = store.members(y["run_id"])[y["member"]]      # the sweep table's copy equals the run's own row
        assert row.get("phase") == y.get("phase") and row.get("gen_step") == y.get("gen_step")
    for x, y in zip(ref_members[::2], ms[::2]):            # the imported runs hold the same metrics
        sa, va = ref_store.metrics(x["run_id"])
        sb, vb = store.metrics(y["run_id"])
        np.testing.assert_array_equal(sa, sb)
        assert set(va) == set(vb)
        for k in va:
            np.testing.assert_allclose(va[k], vb[k], rtol=1e-5, atol=1e-6)


def training_worker(tmpdir: Path, ignore: frozenset[Path] = frozenset()) -> int | None:
    """The pid of a worker whose private store under ``tmpdir`` has flushed metrics (mid-training), else None.

    ``ignore``: stores already there before (a killed worker leaves its directory behind).
    """
    for db in set(tmpdir.glob("grokscope-worker-*/worker.db")) - ignore:
        try:
            c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2)
            try:
                n = c.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
            finally:
                c.close()
        except sqlite3.Error:
            continue
        if n > 0:
            return int(db.parent.name.split("-")[2])
    return None


class Killer(threading.Thread):
    """Waits (bounded) until a worker under ``tmpdir`` is mid-training, then calls ``kill(pid)`` once."""

    def __init__(self, tmpdir: Path, kill):
        super().__init__(daemon=True)
        self.tmpdir, self.kill, self.killed, self.stop = tmpdir, kill, None, threading.Event()
        self.before = frozenset(tmpdir.glob("grokscope-worker-*/worker.db"))   # left by earlier kills

    def run(self):
        t0 = time.monotonic()
        while not self.stop.is_set() and time.monotonic() - t0 < WAIT:
            pid = training_worker(self.tmpdir, self.before)
            if pid is not None:
                self.kill(pid)
                self.killed = pid
                return
            time.sleep(0.005)


# --- a worker process of a local Ray instance dies ---------------------------------------------

@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """A local Ray instance with one CPU whose workers keep their private stores in a known $TMPDIR."""
    wtmp = tmp_path_factory.mktemp("w")
    old = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(wtmp)                             # inherited by the workers at ray.init
    session = tempfile.mkdtemp(prefix="gs-ray-", dir="/tmp")     # short: Ray's socket paths must stay < 107 bytes
    if ray.is_initialized():
        ray.shutdown()
    try:
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, _temp_dir=session,
                 _node_ip_address=LOCAL_NODE_IP)
    finally:
        if old is None:
            os.environ.pop("TMPDIR")
        else:
            os.environ["TMPDIR"] = old
    yield wtmp
    ray.shutdown()
    shutil.rmtree(session, ignore_errors=True)


def test_killed_worker_process_is_retried_and_every_member_stored_once(tmp_path, local_ray, reference):
    killer = Killer(local_ray, lambda pid: os.kill(pid, signal.SIGKILL))
    killer.start()
    store = Store(tmp_path / "ray.db")
    t0 = time.monotonic()
    rep = run_sweep(load_spec(write_spec(tmp_path, "lost")), store, backend="ray", progress=False, tune_memory=False)
    killer.stop.set()
    killer.join()
    assert time.monotonic() - t0 < 2 * WAIT
    assert killer.killed is not None, "no worker was caught mid-training; make the ensembles longer"
    assert rep.complete and len(rep.retried) == 1 and sorted(rep.trained) == list(range(N_ENSEMBLES))
    check_every_member_once(store, "lost", reference)


def test_an_ensemble_lost_more_than_max_retries_times_stops_the_sweep(tmp_path, local_ray):
    from grokscope.sweep import pack
    from grokscope.sweep._ray import WorkersLostError, run_on_ray

    plans = pack(load_spec(write_spec(tmp_path, "unlucky")))[:1]
    killer = Killer(local_ray, lambda pid: os.kill(pid, signal.SIGKILL))
    killer.start()
    done, store = [], Store(tmp_path / "u.db")
    with pytest.raises(WorkersLostError, match=r"ensemble 0 lost its Ray worker 1 times .*max_retries=0") as e:
        run_on_ray(plans, store, "unlucky", None, on_done=lambda *a: done.append(a), max_retries=0)
    killer.join()
    assert killer.killed is not None and done == [] and store.list_runs() == [] and "\n" not in str(e.value)


def test_no_worker_for_too_long_stops_the_sweep_with_one_line(tmp_path, local_ray):
    from grokscope.sweep import pack
    from grokscope.sweep._ray import WorkersLostError, run_on_ray

    plans = pack(load_spec(write_spec(tmp_path, "starved")))[:1]
    store = Store(tmp_path / "s.db")
    t0 = time.monotonic()
    with pytest.raises(WorkersLostError, match=r"no Ray node with 2 CPU for 1 s") as e:   # the instance has 1 CPU
        run_on_ray(plans, store, "starved", None, on_done=None, cpus_per_task=2, no_worker_seconds=1.0)
    assert time.monotonic() - t0 < 10 and "\n" not in str(e.value)
    assert store.list_runs() == []


def test_a_tasks_own_error_is_raised_as_itself_not_retried(tmp_path, local_ray):
    from grokscope.errors import ConfigError
    from grokscope.sweep import pack
    from grokscope.sweep._pack import EnsemblePlan
    from grokscope.sweep._ray import run_on_ray

    (plan, *_) = pack(load_spec(write_spec(tmp_path, "bad")))
    bad = EnsemblePlan(index=0, config={**plan.config, "optim": {**plan.config["optim"], "lr": "fast"}},
                       members=plan.members, shared=plan.shared)
    retried, store = [], Store(tmp_path / "b.db")
    with pytest.raises(ConfigError, match="optim.lr='fast'"):
        run_on_ray([bad], store, "bad", None, on_done=None, on_retry=retried.append)
    assert retried == [] and store.list_runs() == []


# --- what the driver does with each kind of failure (no training) -------------------------------

def test_lost_worker_errors_are_told_from_the_tasks_own_errors():
    from grokscope.sweep._ray import is_lost_worker

    ex = ray.exceptions
    assert is_lost_worker(ex.WorkerCrashedError(), ray)
    assert is_lost_worker(ex.NodeDiedError("node gone"), ray)
    assert is_lost_worker(ex.RayTaskError("train_exported", "tb", ex.WorkerCrashedError()), ray)
    assert not is_lost_worker(ex.RayTaskError("train_exported", "tb", ValueError("a bug")), ray)
    assert not is_lost_worker(ValueError("a bug"), ray)


def test_an_address_where_nothing_listens_is_refused_at_once():
    import socket

    from grokscope.errors import ConfigError
    from grokscope.sweep._ray import _check_reachable

    with socket.socket() as s:                   # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match=rf"--address 127.0.0.1:{port}: nothing answers there") as e:
        _check_reachable(f"127.0.0.1:{port}")
    assert time.monotonic() - t0 < 5 and "\n" not in str(e.value)
    _check_reachable("auto")                     # left to Ray: the cluster this machine's `ray start` made
