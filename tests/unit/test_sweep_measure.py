"""``max_ensemble = "measure"``: each shape stacks the size measured fastest, the choice is stored
with the plan, and a re-run packs the same way without measuring again."""

from __future__ import annotations

import pytest

import grokscope.sweep._pack as P
from grokscope.errors import ConfigError
from grokscope.store import Store
from grokscope.sweep import parse_spec, run_sweep, sweep_members
from grokscope.sweep._measure import choose_size, measure_stack, stack_sizes, timed_rate

RAW = {"name": "m", "seeds": 3, "steps": 6, "max_ensemble": "measure",
       "set": {"task.p": 7, "log.dense_until": 2, "log.n_log": 3, "log.n_checkpoints": 1},
       "grid": {"model.d_hidden": [4, 6], "optim.weight_decay": [0.1, 1.0]}}  # 2 shapes x 6 members


def test_sizes_and_the_choice_rule():
    assert stack_sizes(1) == [1] and stack_sizes(8) == [1, 2, 4, 8] and stack_sizes(6) == [1, 2, 4, 6]
    assert choose_size({1: 10.0, 2: 30.0, 4: 30.0}) == 4  # a tie goes to the larger size
    assert choose_size({1: 50.0, 2: 30.0, 4: 20.0}) == 1  # stacking that loses is not chosen
    seen = []
    choice = measure_stack({}, 5, rate=lambda cfg, k, steps: seen.append(k) or {1: 1.0, 2: 3.0, 4: 2.0, 5: 2.5}[k])
    assert seen == [1, 2, 4, 5] and choice.size == 2


def test_the_real_timer_runs_k_copies_unstored():
    spec = parse_spec(RAW)
    cfg = P._config_for(spec, {"model.d_hidden": 4}, ["optim.weight_decay"], [(0, 0), (1, 0)], [0, 1])
    assert timed_rate(cfg, 2, steps=3) > 0


def test_measured_sizes_pack_each_shape_are_stored_and_reused(tmp_path, monkeypatch):
    # shape d_hidden=4 is measured fastest at 2 members, d_hidden=6 at 6 (the whole shape)
    fast = {4: {1: 1.0, 2: 5.0, 4: 3.0, 6: 2.0}, 6: {1: 1.0, 2: 2.0, 4: 3.0, 6: 9.0}}
    calls = []

    def rate(cfg, k, steps):
        calls.append(k)
        return fast[cfg["model"]["d_hidden"]][k]

    monkeypatch.setattr("grokscope.sweep._measure.timed_rate", rate)
    store = Store(tmp_path / "s.db")
    rep = run_sweep(parse_spec(RAW), store, progress=False, tune_memory=False)
    assert sorted(calls) == sorted([1, 2, 4, 6] * 2)
    assert rep.complete and sorted(rep.stacks.values()) == [2, 6]
    runs = {r.id: r.n_members for r in store.list_runs()}
    assert sorted(runs.values()) == [2, 2, 2, 6]  # 6 members in 3 ensembles of 2; 6 in one
    members = sweep_members(store, "m")
    assert len(members) == 12 and len({(m["run_id"], m["member"]) for m in members}) == 12

    monkeypatch.setattr("grokscope.sweep._measure.timed_rate", lambda *a: pytest.fail("measured again"))
    again = run_sweep(parse_spec(RAW), store, progress=False, tune_memory=False)
    assert again.stacks == rep.stacks and len(again.skipped) == 4 and not again.trained


def test_bad_max_ensemble_is_one_line():
    with pytest.raises(ConfigError, match="max_ensemble='fast': must be an integer >= 1 or 'measure'"):
        parse_spec({**RAW, "max_ensemble": "fast"})
