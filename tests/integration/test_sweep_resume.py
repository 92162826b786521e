"""Nothing is lost: kill -9 a sweep at any instant, re-run it, and every member is trained exactly once.

The reference for the results is an uninterrupted sweep of the same spec in a fresh store:
after the kills and the resume, each member's result (phase, steps, divergence) must be the
same, and the store must hold exactly one finished run per ensemble.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from grokscope.errors import ConfigError
from grokscope.store import Store
from grokscope.sweep import load_spec, pack, run_name, run_sweep, sweep_members
from grokscope.sweep._executor import train_plan

# Tiny but real: modular addition mod 7 with the default model, 4 ensembles of 4 members.
SPEC = """
    seeds = 2
    steps = {steps}
    max_ensemble = 4
    [set]
    {set}
    [grid]
    "dtype" = ["float32", "float64"]
    "optim.lr" = [1e-3, 3e-2]
    "optim.weight_decay" = [0.1, 1.0]
"""
# Sparse logging and a short flush interval: the cost is the steps, and a kill mid-training
# finds flushed metrics to resume from.
TINY_SET = """"task.p" = 7
    "task.train_frac" = 0.6
    "log.dense_until" = 5
    "log.n_log" = 10
    "log.n_checkpoints" = 2
    "log.flush_seconds" = 0.05"""
RESULT_KEYS = ("phase", "mem_step", "gen_step", "diverged", "member_seed")


def write_spec(tmp_path, name="tiny", steps=100, **fmt):
    p = tmp_path / f"{name}.toml"
    p.write_text(textwrap.dedent(SPEC.format(steps=steps, set=fmt.get("set", TINY_SET))))
    return p


def results(store, name):
    return [(m["point"], m["seed"], *(m.get(k) for k in RESULT_KEYS)) for m in sweep_members(store, name)]


def table_counts(path):
    with sqlite3.connect(path) as c:
        names = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: c.execute(f"SELECT COUNT(*) FROM {n}").fetchone()[0] for n in names}


def check_consistent(store, name, n_ensembles):
    ms = sweep_members(store, name)
    assert all(m["run_id"] is not None for m in ms), "a member was lost"
    pairs = [(m["run_id"], m["member"]) for m in ms]
    assert len(set(pairs)) == len(pairs), "two sweep members map to one trained member"
    mapped = {m["run_id"] for m in ms}
    assert len(mapped) == n_ensembles
    runs = [r for r in store.list_runs() if (r.name or "").startswith(f"sweep:{name}/")]
    finished = [r for r in runs if r.status == "finished"]
    assert sorted(r.id for r in finished) == sorted(mapped), "a finished run is unmapped (duplicate training)"
    assert all(r.status == "failed" for r in runs if r.id not in mapped)
    for m in ms:                                        # the copy in the sweep table equals the run's own row
        row = store.members(m["run_id"])[m["member"]]
        assert row.get("phase") == m.get("phase") and row.get("gen_step") == m.get("gen_step")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    spec = load_spec(write_spec(tmp))
    store = Store(tmp / "ref.db")
    rep = run_sweep(spec, store, progress=False, tune_memory=False)
    assert rep.complete and len(rep.trained) == 4
    return results(store, "tiny")


def test_clean_sweep_maps_every_member_once(tmp_path, reference):
    assert len(reference) == 16
    assert len({(p, s) for p, s, *_ in reference}) == 16


def _driver(spec_path, store_path):
    code = ("import sys; from grokscope.sweep._cli import sweep_cmd; "
            "sweep_cmd(sys.argv[1], sys.argv[2], progress=False)")
    return subprocess.Popen([sys.executable, "-c", code, str(spec_path), str(store_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(store_path, predicate, proc, timeout=240.0):  # generous: CI machines are shared
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            return False
        try:
            with sqlite3.connect(store_path, timeout=5) as c:
                if predicate(c):
                    return True
        except sqlite3.OperationalError:
            pass
        time.sleep(0.01)
    return False


def test_kill_9_mid_training_and_between_ensembles_then_resume(tmp_path, reference):
    spec_path = write_spec(tmp_path)
    db = tmp_path / "kill.db"
    kills = 0
    # 1st kill: while an ensemble is mid-training (its run has metrics but is not finished).
    # 2nd kill: right after the second ensemble is done (between ensembles).
    predicates = [
        lambda c: c.execute("SELECT COUNT(*) FROM runs r WHERE r.status='running' AND "
                            "EXISTS (SELECT 1 FROM metrics m WHERE m.run_id=r.id)").fetchone()[0] > 0,
        lambda c: c.execute("SELECT COUNT(*) FROM sweep_ensembles WHERE status='done'").fetchone()[0] >= 2,
    ]
    for pred in predicates:
        proc = _driver(spec_path, db)
        hit = _wait_for(db, pred, proc)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        assert hit or proc.returncode == 0, proc.stderr.read().decode()[-2000:]
    assert kills >= 1, "the sweep finished before any kill; make it longer"
    store = Store(db)
    rep = run_sweep(load_spec(spec_path), store, progress=False, tune_memory=False)
    assert rep.complete
    check_consistent(store, "tiny", 4)
    # the ensemble cut mid-training was resumed by the trainer (same run), not retrained: no extra run
    assert len([r for r in store.list_runs() if r.name.startswith("sweep:tiny/")]) == 4
    assert results(store, "tiny") == reference
    # a further re-run trains nothing
    again = run_sweep(load_spec(spec_path), store, progress=False, tune_memory=False)
    assert again.trained == [] and again.adopted == [] and len(again.skipped) == 4


def test_finished_but_unmapped_run_is_adopted_and_unflushed_run_resumed_in_place(tmp_path, reference):
    spec = load_spec(write_spec(tmp_path))
    store = Store(tmp_path / "adopt.db")
    run_sweep(spec, store, progress=False, max_ensembles=0, tune_memory=False)           # registers the plan only
    plans = pack(spec)
    # ensemble 0 trained but the mapping transaction never happened (killed in between)
    rid = train_plan(plans[0].config, store, run_name("tiny", 0))
    # ensemble 1 has a run that never finished (killed while it was being created)
    partial = store.create_run(kind="train", config=plans[1].config,
                               members=[{"seed": s} for s in plans[1].config["member_seeds"]],
                               name=run_name("tiny", 1))
    rep = run_sweep(spec, store, progress=False, tune_memory=False)
    assert rep.adopted == [0] and sorted(rep.trained) == [1, 2, 3]
    # nothing was flushed, so the trainer starts the same run over: no second run for ensemble 1
    assert rep.resumed == [1] and rep.abandoned_runs == []
    assert store.get_run(partial).status == "finished"
    assert {m["run_id"] for m in sweep_members(store, "tiny") if m["ensemble"] == 0} == {rid}
    assert {m["run_id"] for m in sweep_members(store, "tiny") if m["ensemble"] == 1} == {partial}
    assert len([r for r in store.list_runs() if r.name.startswith("sweep:tiny/")]) == 4
    check_consistent(store, "tiny", 4)
    assert results(store, "tiny") == reference


def test_changed_spec_is_refused_and_the_store_is_unchanged(tmp_path):
    path = write_spec(tmp_path)
    db = tmp_path / "c.db"
    store = Store(db)
    run_sweep(load_spec(path), store, progress=False, tune_memory=False, max_ensembles=1)
    before = table_counts(db)
    path.write_text(path.read_text().replace("[1e-3, 3e-2]", "[1e-3, 1e-2]"))
    with pytest.raises(ConfigError, match=r"sweep 'tiny' was started with a different spec \(axes.optim.lr") as e:
        run_sweep(load_spec(path), store, progress=False, tune_memory=False)
    assert "\n" not in str(e.value)
    assert table_counts(db) == before
    # a bad value is refused before anything is written
    path.write_text(path.read_text().replace("[0.1, 1.0]", "[0.1, -1.0]"))
    with pytest.raises(ConfigError, match="weight_decay"):
        run_sweep(load_spec(path), store, progress=False, tune_memory=False)
    assert table_counts(db) == before


def test_sweeps_listing_and_cli_functions(tmp_path, capsys):
    from grokscope.sweep import list_sweeps
    from grokscope.sweep._cli import sweep_cmd, sweeps_cmd

    path = write_spec(tmp_path, name="listed")
    db = tmp_path / "l.db"
    sweep_cmd(str(path), str(db), progress=False, max_ensembles=1, tune_memory=False)
    (rec,) = list_sweeps(Store(db))
    assert (rec.name, rec.n_points, rec.n_members, rec.n_ensembles, rec.ensembles_done, rec.members_done) == \
        ("listed", 8, 16, 4, 1, 4)
    assert rec.status == "incomplete"
    sweeps_cmd(str(db))
    out = capsys.readouterr().out
    assert "listed" in out and "4/16" in out and json.dumps(rec.keys)  # listed with its progress


def test_diverging_members_are_recorded_and_counted_in_the_phase_map(tmp_path):
    from grokscope.analysis._phasemap import phase_map
    from grokscope.sweep import parse_spec

    spec = parse_spec({"name": "div", "seeds": 2, "steps": 20,
                       "set": {"task.p": 7, "log.dense_until": 5, "log.n_log": 5, "log.n_checkpoints": 1},
                       "grid": {"optim.lr": [1e-3, 1e30], "optim.weight_decay": [0.0]}})   # 1e30: overflows
    store = Store(tmp_path / "d.db")
    run_sweep(spec, store, progress=False, tune_memory=False)
    ms = sweep_members(store, "div")
    assert [m["diverged"] for m in ms] == [False, False, True, True]
    pm = phase_map(ms, "optim.lr", "optim.weight_decay")
    assert pm.counts[(1e30, 0.0)] == {"diverged": 2}
    assert "diverged" not in pm.counts[(1e-3, 0.0)]
