"""Which steps keep weights: exactly n distinct log-spaced steps, thinned to a byte budget, and extra
checkpoints where accuracies move.

References: the spacing against its closed form (a dense prefix, then a constant ratio); the
budget against the arithmetic of bytes; every extra checkpoint against the rule recomputed from the
run's stored metrics; weights at shared steps against the same member trained alone; a sweep
registered with other log settings still resumes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from grokscope.config import load_config
from grokscope.errors import ConfigError
from grokscope.store import Store
from grokscope.sweep import parse_spec, run_sweep
from grokscope.train import train
from grokscope.train._checkpoint_plan import checkpoint_steps, fit_checkpoints

STEPS = 200
BASE = ["task.p=11", "task.train_frac=0.6", "dtype=float64", f"train.steps={STEPS}", "model.d_embed=8",
        "model.d_hidden=24", "optim.lr=1e-2", "optim.weight_decay=1.0", "threads=1"]


@pytest.mark.parametrize("total,n", [(40_000, 100), (1500, 100), (300, 100), (1000, 24), (99, 100), (10, 3)])
def test_exactly_n_distinct_steps_log_spaced(total, n):
    steps = np.array(sorted(checkpoint_steps(total, n)))
    assert len(steps) == min(n, total + 1) and steps[0] == 0 and steps[-1] == total
    if total + 1 <= n:
        return
    # the definition: the smallest dense prefix 1..a after which the log-spaced points are >= 1 step apart
    a = next(a for a in range(1, n - 1) if a * ((total / a) ** (1 / (n - 1 - a)) - 1) >= 1)
    assert (steps[1 : a + 1] == np.arange(1, a + 1)).all()
    geo = steps[a:]  # then a * r^j, rounded, with one constant ratio r
    r = (total / a) ** (1 / (len(geo) - 1))
    np.testing.assert_allclose(geo, a * r ** np.arange(len(geo)), atol=0.5 + 1e-9)


def test_the_budget_thins_both_kinds_in_proportion():
    mib = 2**20
    assert fit_checkpoints(100, 50, bytes_per_checkpoint=mib, budget_mib=256) == (100, 50)  # 150 fit in 256
    assert fit_checkpoints(100, 50, bytes_per_checkpoint=4 * mib, budget_mib=256) == (43, 21)  # 64 fit: 2 to 1
    assert fit_checkpoints(100, 50, bytes_per_checkpoint=300 * mib, budget_mib=256) == (2, 0)  # first and last kept
    assert fit_checkpoints(100, 50, bytes_per_checkpoint=300 * mib, budget_mib=0) == (100, 50)  # 0: no limit


def test_a_run_keeps_what_fits(store_path):
    store = Store(store_path)
    res = train(load_config(overrides=[*BASE, "n_members=2"]), store)
    assert len(store.checkpoint_steps(res.run_id)) >= 100  # the default: 100 log-spaced, plus transitions
    # weights of one member: float64 embedding, hidden and unembedding; 2 members; a budget that fits 10
    per_ckpt = sum(v[0].numel() * 8 for v in store.load_checkpoint(res.run_id, 0).values()) * 2
    budget = 10 * per_ckpt / 2**20
    thin = train(load_config(overrides=[*BASE, "n_members=2", f"log.checkpoint_mib={budget}"]), store)
    assert len(store.checkpoint_steps(thin.run_id)) == 10  # 100 : 50 of 10 -> 7 log-spaced + 3 transitions (all used)


def test_extra_checkpoints_follow_the_rule_recomputed_from_stored_metrics(store_path):
    store = Store(store_path)
    cfg = load_config(overrides=[*BASE, "n_members=3", "log.n_checkpoints=8", "log.transition_checkpoints=1000",
                                 "log.transition_delta=0.1", f"log.dense_until={STEPS}"])
    res = train(cfg, store)
    scheduled = checkpoint_steps(STEPS, 8)
    kept = store.checkpoint_steps(res.run_id)
    extra = sorted(set(kept) - scheduled)
    assert extra, "the run must move its accuracies somewhere"
    acc = np.stack([res.metrics["train_acc"], res.metrics["test_acc"]])  # [2, step, model]
    last, expected = None, []
    for j, s in enumerate(res.steps.tolist()):
        moved = last is not None and np.nanmax(np.abs(acc[:, j] - last)) >= 0.1
        if s not in scheduled and moved:
            expected.append(s)
        if s in scheduled or (s not in scheduled and moved):
            last = acc[:, j]
    assert extra == expected


def test_a_member_has_the_same_weights_packed_or_alone_at_every_shared_step(store_path):
    store = Store(store_path)
    ens = train(load_config(overrides=[*BASE, "n_members=3", "member_seeds=[4, 5, 6]"]), store)
    alone = train(load_config(overrides=[*BASE, "n_members=1", "member_seeds=[5]"]), store)
    shared = sorted(set(store.checkpoint_steps(ens.run_id)) & set(store.checkpoint_steps(alone.run_id)))
    assert len(shared) >= 100 and checkpoint_steps(STEPS, 100) <= set(shared)  # the schedule is the same
    for s in shared:
        a, b = store.load_checkpoint(ens.run_id, s), store.load_checkpoint(alone.run_id, s)
        for k in b:
            assert torch.equal(a[k][1], b[k][0]), (s, k)


@pytest.mark.parametrize("bad", ["log.checkpoint_mib=-1", "log.transition_checkpoints=-2", "log.transition_delta=0",
                                 "log.transition_delta=1.5"])
def test_bad_log_settings_get_one_line(bad):  # (the CLI prints that line and exits with 2: test_cli.py)
    with pytest.raises(ConfigError) as e:
        load_config(overrides=[*BASE, bad])
    key = bad.split("=")[0]
    assert key in str(e.value) and "\n" not in str(e.value)


def test_a_sweep_registered_with_other_log_settings_resumes_with_them(store_path):
    """A sweep started by an older grokscope (24 checkpoints, no transition keys) is the same sweep."""
    store = Store(store_path)
    table = {"name": "old-log", "base": "demo", "seeds": 1, "steps": 40,
             "set": {"train.stop_after_grok": False}, "grid": {"optim.weight_decay": [0.1, 0.3]}}
    spec = parse_spec(table)
    run_sweep(spec, store, progress=False, max_ensembles=0, tune_memory=False)  # registers the plan only
    with store.transaction() as conn:  # what an older version wrote: its own [log] section
        (raw,) = conn.execute("SELECT spec FROM sweeps WHERE name='old-log'").fetchone()
        canon = json.loads(raw)
        canon["base_config"]["log"] = {"dense_until": 100, "n_log": 200, "n_checkpoints": 24, "flush_seconds": 5.0}
        conn.execute("UPDATE sweeps SET spec=? WHERE name='old-log'", (json.dumps(canon, sort_keys=True),))
    table["set"]["log.transition_checkpoints"] = 0  # a log key added to [set] (as the bundled D_c sweeps did)
    report = run_sweep(parse_spec(table), store, progress=False, tune_memory=False)
    assert report.complete
    for run in store.list_runs():
        assert run.config["log"]["n_checkpoints"] == 24 and run.config["log"]["transition_checkpoints"] == 0
        assert len(store.checkpoint_steps(run.id)) >= 24
