"""Retirement: decided members leave the ensemble, and nothing changes for anyone by it.

References:
- the rule (``DecidedRule``) against its definition written out here, on enumerated cases; and
  ``train.stop_after_grok`` against the formula it had before the rule existed (every live member
  generalized, the step at least 1.25 x the latest generalization step), exhaustively on small cases;
- a retired member's stored metrics and checkpoints equal those of the same member trained ALONE
  (a one-member run with its seed and no retirement) up to its retirement step, bit for bit (float64,
  one thread); its later checkpoints hold its retirement-step weights, its later metrics are NaN, and
  its mem_step / gen_step / phase are the alone run's;
- the survivors' numbers equal those of the same ensemble trained without retirement, bit for bit,
  on both optimizer paths (FusedAdamW, and the transform chain with Grokfast) with per-member
  learning rates, weight decays and projection norms and minibatches (so every per-member piece
  of state is compacted: parameters, moments, hyperparameters, data rows, generators).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from grokscope.analysis._phases import first_step_at_or_above
from grokscope.config import load_config
from grokscope.errors import ConfigError
from grokscope.store import Store
from grokscope.train import STOP_AFTER_GROK, DecidedRule, HookBase, RetireHook, train
from grokscope.train._hooks import EvalContext, GrokkingHook

STEPS = 300
SEEDS = [1, 2, 3, 4]
# a + b mod 7, 90% of pairs for training, weight decay 3: these seeds generalize at steps ~60-210
# (float64, one thread; found by a short scan), so they retire at different steps.
BASE = ["task.p=7", "task.train_frac=0.9", "dtype=float64", f"train.steps={STEPS}", "model.d_embed=8",
        "model.d_hidden=24", "optim.lr=2e-2", "optim.weight_decay=3.0", "optim.warmup_steps=0",
        f"log.dense_until={STEPS}", f"log.n_checkpoints={STEPS + 1}", "threads=1",
        # the log-spaced checkpoints only: transition checkpoints follow the whole ensemble's accuracies,
        # so an ensemble keeps extra steps a one-member run may not (test_checkpoint_plan.py compares those)
        "log.transition_checkpoints=0"]
RETIRE = ["train.retire_window=10"]


def _cfg(*more):
    return load_config(overrides=[*BASE, *more])


def _members(seeds):
    return [f"n_members={len(seeds)}", f"member_seeds={seeds}"]


# -- the rule ------------------------------------------------------------------------------------
def _decided_by_definition(step, gen, held, div, window, frac):
    """The module docstring's definition, one member at a time."""
    if div >= 0:
        return True
    return gen >= 0 and held >= 0 and step - held >= window and step >= (1 + frac) * gen


def test_the_rule_is_its_definition():
    cases = list(itertools.product([0, 40, 100, 130], [-1, 0, 40, 100], [-1, 0, 40, 100], [-1, 3],
                                   [0, 30], [0.0, 0.25]))
    for step, gen, held, div, window, frac in cases:
        got = DecidedRule(window, frac, "hold").decided(step, np.array([gen]), np.array([held]), np.array([div]))
        assert bool(got[0]) == _decided_by_definition(step, gen, held, div, window, frac), (step, gen, held, div)
    # anchor="first" ignores breaks in the hold: it counts from the first crossing
    first = DecidedRule(10, 0.0, "first").decided(50, np.array([30]), np.array([-1]), np.array([-1]))
    assert first.tolist() == [True]


def test_stop_after_grok_is_the_rule_and_stops_as_it_always_did():
    def legacy(step, gen, live):  # the formula of grokscope before the rule existed
        g = gen[live]
        return bool(live.any() and (g >= 0).all() and step >= 1.25 * g.max())

    hook = GrokkingHook(stop_after_grok=True)
    hook.setup(3)
    for gens in itertools.product([-1, 0, 8, 40, 41], repeat=3):
        for live in itertools.product([False, True], repeat=3):
            live = np.array(live)
            for step in (0, 9, 10, 50, 51, 52):
                hook.gen_step = np.array(gens)
                assert hook._all_grokked(step, live) == legacy(step, np.array(gens), live), (gens, live, step)
    assert STOP_AFTER_GROK == DecidedRule(window=0, frac=0.25, anchor="first")


def test_retire_settings_are_checked_in_one_line():
    with pytest.raises(ConfigError, match=r"^train.retire_window=-1: .*>= 0") as e:
        _cfg("train.retire_window=-1")
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match=r"^train.retire_frac=-0.5: "):
        _cfg("train.retire_frac=-0.5")
    assert _cfg().train.retire_window == 0 and _cfg().train.retire_frac == 0.0  # off by default


def test_the_hook_retires_a_member_once_its_hold_lasts_the_window():
    hook = RetireHook(window=20)
    hook.setup(2)
    ctx = EvalContext(step=0, total=100, active=np.ones(2, bool), diverged_step=np.array([-1, -1]),
                      retired_step=np.array([-1, -1]))
    seen = []
    for step, acc in [(10, [1.0, 1.0]), (20, [1.0, 0.5]), (25, [1.0, 1.0]), (30, [1.0, 1.0]), (45, [1.0, 1.0])]:
        ctx.step, ctx.retired = step, None
        hook(step, {"test_acc": np.array(acc)}, ctx)
        seen.append(None if ctx.retired is None else ctx.retired.tolist())
    # member 0 holds from 10: decided at 30; member 1's hold restarts at 25: decided at 45
    assert seen == [None, None, None, [True, False], [True, True]]


# -- training: alone, and the survivors ----------------------------------------------------------
def _run(store, *more):
    return train(_cfg(*more), store)


def _assert_prefix_equal(ens, i, single, upto):
    """Member ``i``'s metrics equal the one-member run's at every step <= ``upto``; NaN after."""
    np.testing.assert_array_equal(ens.steps, single.steps[:len(ens.steps)])
    n = int(np.searchsorted(ens.steps, upto, side="right"))
    for k, v in single.metrics.items():
        np.testing.assert_array_equal(ens.metrics[k][:n, i], v[:n, 0], err_msg=k)
        assert np.isnan(ens.metrics[k][n:, i]).all(), k


def test_a_retired_member_equals_the_same_member_trained_alone(store_path):
    store = Store(store_path)
    ens = _run(store, *_members(SEEDS), *RETIRE)
    retired = [m for m in ens.members if m["retired_step"] is not None]
    assert len(retired) >= 2 and ens.summary["n_retired"] == len(retired)  # the test exercises retirement
    assert len({m["retired_step"] for m in retired}) >= 2  # at different steps: compaction happened twice
    assert ens.summary["member_steps"] < ens.summary["member_steps_budget"] == len(SEEDS) * STEPS
    for m in retired:
        i, r = m["member"], m["retired_step"]
        single = _run(store, *_members([SEEDS[i]]))
        _assert_prefix_equal(ens, i, single, r)
        for key in ("mem_step", "gen_step", "phase", "delay", "diverged", "n_train", "seed"):
            assert m[key] == single.members[0][key], key
        # the rule: test accuracy held >= 99% over the last `window` steps before retiring
        steps = single.steps
        held = single.metrics["test_acc"][(steps >= r - 10) & (steps <= r), 0]
        assert (held >= 0.99).all() and not (single.metrics["test_acc"][steps == r - 11, 0] >= 0.99).all()
        # weights: the alone run's checkpoints (same steps up to r), and its weights at r (a run of r steps:
        # nothing in this config depends on the budget) at every later checkpoint
        at_r = _run(store, *_members([SEEDS[i]]), f"train.steps={r}")
        alone_r = store.load_checkpoint(at_r.run_id, r)
        ens_steps, single_steps = store.checkpoint_steps(ens.run_id), store.checkpoint_steps(single.run_id)
        assert [s for s in ens_steps if s < r] == [s for s in single_steps if s < r]
        assert any(s >= r for s in ens_steps)
        for s in ens_steps:
            ck = store.load_checkpoint(ens.run_id, s)
            ref = store.load_checkpoint(single.run_id, s) if s < r else alone_r
            for k in ck:
                assert torch.equal(ck[k][i], ref[k][0]), (i, s, k)
    # readers of the stored metrics see the same first crossings (a NaN never reaches the threshold)
    steps, stored = store.metrics(ens.run_id)
    np.testing.assert_array_equal(first_step_at_or_above(steps, stored["test_acc"]),
                                  [-1 if m["gen_step"] is None else m["gen_step"] for m in ens.members])


@pytest.mark.parametrize("path", [
    ["optim.weight_decay=[3.0, 2.5, 3.0, 0.1]"],  # FusedAdamW: per-member (lr, wd) groups
    ["optim.grokfast_alpha=0.9", "optim.grokfast_lambda=1.0", "optim.weight_decay=[3.0, 2.5, 3.0, 0.1]",
     "optim.project_norm=[0.0, 0.0, 30.0, 0.0]"],  # the transform chain, per-member hyperparameters
], ids=["fused-adamw", "chain-grokfast"])
@pytest.mark.parametrize("batch", [0, 16], ids=["full-batch", "minibatch"])
def test_the_survivors_numbers_do_not_change(store_path, path, batch):
    store = Store(store_path)
    more = [*_members(SEEDS), "optim.lr=[2e-2, 1.5e-2, 2e-2, 2.5e-2]", f"train.batch_size={batch}", *path]
    ref = _run(store, *more)
    ret = _run(store, *more, *RETIRE)
    rows = ret.members
    assert any(m["retired_step"] is not None for m in rows) and any(m["retired_step"] is None for m in rows)
    ref_ck = {s: store.load_checkpoint(ref.run_id, s) for s in store.checkpoint_steps(ref.run_id)}
    for m in rows:
        i, r = m["member"], m["retired_step"]
        upto = ret.summary["final_step"] if r is None else r
        n = int(np.searchsorted(ret.steps, upto, side="right"))
        for k in ret.metrics:
            np.testing.assert_array_equal(ret.metrics[k][:n, i], ref.metrics[k][:n, i], err_msg=f"{k} member {i}")
        for s in store.checkpoint_steps(ret.run_id):  # (after r: the alone test checks a retired row)
            ck = store.load_checkpoint(ret.run_id, s)
            for k in ck if s <= upto and s in ref_ck else ():
                assert torch.equal(ck[k][i], ref_ck[s][k][i]), (i, s, k)


def test_diverged_members_retire_and_a_run_whose_members_all_retire_stops(store_path):
    store = Store(store_path)
    res = _run(store, *_members(SEEDS[:3]), "optim.lr=[2e-2, 2e-2, 1e30]", *RETIRE)
    div = res.members[2]
    assert div["diverged"] and div["retired_step"] is not None and div["retired_step"] > div["diverged_step"]
    # every member was decided: the run stopped at the last decision, before the budget
    assert all(m["retired_step"] is not None for m in res.members)
    assert res.summary["final_step"] == max(m["retired_step"] for m in res.members) < STEPS
    assert not np.isnan(res.metrics["train_acc"][-1][[i for i, m in enumerate(res.members)
                                                      if m["retired_step"] == res.summary["final_step"]]]).any()


class EmbedMean(HookBase):
    """Reads the live ensemble (``ctx.model``): each live member's mean embedding weight, per row."""

    name = "embed_mean"

    def __call__(self, step, metrics, ctx):
        return {"embed_mean": ctx.model.embed.W_E.detach().double().mean(dim=(1, 2)).numpy()}


def test_a_hook_reading_the_live_model_gets_its_values_placed_at_their_members(store_path):
    store = Store(store_path)
    res = train(_cfg(*_members(SEEDS), *RETIRE), store, hooks=[EmbedMean()])
    steps = set(store.checkpoint_steps(res.run_id))
    checked = 0
    for j, s in enumerate(res.steps):
        if int(s) not in steps:
            continue
        checked += 1
        w = store.load_checkpoint(res.run_id, int(s))["embed.W_E"].double().mean(dim=(1, 2)).numpy()
        live = [m["retired_step"] is None or m["retired_step"] >= s for m in res.members]
        np.testing.assert_array_equal(res.metrics["embed_mean"][j][live], w[live])
        assert np.isnan(res.metrics["embed_mean"][j][~np.array(live)]).all()
    assert checked > 20 and any(m["retired_step"] is not None and m["retired_step"] < res.steps[-1] for m in res.members)
