"""Stalled members retire (``train.retire_stall_window``): the rule against its definition, and a run.

References: the definition in ``grokscope.train._decided``'s docstring written out here as a plain loop
over one member's evaluations; the same ensemble trained without the stall rule (a stalled member's
retirement step is recomputed by that loop from the train accuracies the rule-free run stored, and
every other member's numbers are unchanged, bit for bit).
"""

from __future__ import annotations

import numpy as np
import pytest

from grokscope.config import load_config
from grokscope.errors import ConfigError
from grokscope.store import Store
from grokscope.train import DecidedRule, RetireHook, train
from grokscope.train._hooks import EvalContext

STEPS = 300
SEEDS = [1, 2, 3, 4]
# a + b mod 7 as in test_retire.py; members 1 and 3 get a learning rate of 1e-12, so they never move
BASE = ["task.p=7", "task.train_frac=0.9", "dtype=float64", f"train.steps={STEPS}", "model.d_embed=8",
        "model.d_hidden=24", "optim.weight_decay=3.0", "optim.warmup_steps=0", f"log.dense_until={STEPS}",
        "log.n_checkpoints=0", "threads=1", "n_members=4", f"member_seeds={SEEDS}",
        "optim.lr=[2e-2, 1e-12, 2e-2, 1e-12]"]


def _stall_step_by_definition(steps, acc, window, gain):
    """The first evaluated step at which the member is stalled, or None (one member, a plain loop)."""
    ref = ref_step = None
    for s, a in zip(steps, acc):
        if np.isnan(a):
            continue
        if a >= 0.99:
            return None  # memorized: never stalled afterwards
        if ref is None or a > ref + gain:
            ref, ref_step = a, s
        if s - ref_step >= window:
            return s
    return None


def test_the_hook_retires_exactly_where_the_definition_says():
    rng = np.random.default_rng(0)
    steps = np.arange(0, 400, 10)
    seen = []
    for window, gain in [(50, 0.0), (50, 0.01), (120, 0.05), (10, 0.02)]:
        # random walks of train accuracy: flat stretches, small rises, some reaching 0.99
        acc = np.clip(0.3 + np.cumsum(rng.choice([0, 0, 0.004, 0.02, 0.1], size=(len(steps), 6)), 0), 0, 1)
        hook = RetireHook(stall_window=window, stall_gain=gain)
        hook.setup(6)
        ctx = EvalContext(step=0, total=400, active=np.ones(6, bool), diverged_step=np.full(6, -1))
        retired_at = [None] * 6
        for i, s in enumerate(steps):
            ctx.step = int(s)
            hook(int(s), {"test_acc": np.zeros(6), "train_acc": acc[i]}, ctx)
            for m in np.flatnonzero(ctx.retired if ctx.retired is not None else []):
                if retired_at[m] is None:
                    retired_at[m] = int(s)
        assert retired_at == [_stall_step_by_definition(steps, acc[:, m], window, gain) for m in range(6)]
        seen += retired_at
    assert any(r is None for r in seen) and any(r is not None for r in seen)  # both outcomes exercised


def test_stall_settings_are_checked_in_one_line():
    for bad, msg in [("train.retire_stall_window=-1", "train.retire_stall_window"),
                     ("train.retire_stall_gain=1.5", "train.retire_stall_gain")]:
        with pytest.raises(ConfigError, match=msg):
            load_config(overrides=[*BASE, bad])
    with pytest.raises(ConfigError, match="retire_stall_window"):
        DecidedRule(stall_window=-5)


def test_stalled_members_retire_and_the_others_do_not_change(store_path):
    store = Store(store_path)
    ref = train(load_config(overrides=BASE), store)
    res = train(load_config(overrides=[*BASE, "train.retire_stall_window=100"]), store)
    for m in res.members:
        i = m["member"]
        expect = _stall_step_by_definition(ref.steps, ref.metrics["train_acc"][:, i], 100, 0.01)
        assert m["retired_step"] == expect, i
        upto = STEPS if expect is None else expect
        n = int(np.searchsorted(res.steps, upto, side="right"))
        for k in res.metrics:
            np.testing.assert_array_equal(res.metrics[k][:n, i], ref.metrics[k][:n, i], err_msg=f"{k} {i}")
        for key in ("mem_step", "gen_step", "phase"):
            assert m[key] == ref.members[i][key], (i, key)
    stalled = [m for m in res.members if m["retired_step"] is not None]
    assert [m["member"] for m in stalled] == [1, 3] and all(m["phase"] == "confusion" for m in stalled)
    assert res.summary["member_steps"] < res.summary["member_steps_budget"] == 4 * STEPS


def test_a_retire_state_saved_before_the_stall_rule_loads():
    hook = RetireHook(window=10)
    hook.load_state_dict({"gen_step": np.array([5, -1]), "held_since": np.array([5, -1])})  # the old keys only
    assert hook.stall_step.tolist() == [-1, -1] and np.isnan(hook.stall_acc).all()
