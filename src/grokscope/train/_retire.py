"""Retirement: a member whose outcome is decided leaves the ensemble, so the survivors run faster.

``RetireHook`` is an evaluation hook (``_hooks.py``): at each evaluation it applies the rule of
``_decided.py`` with ``anchor="hold"`` — generalized (test accuracy ≥ 99%) and held there for
``train.retire_window`` steps and until ``(1 + train.retire_frac)`` × its generalization step, or
diverged — and calls ``ctx.retire(mask)`` for the members it finds decided. The loop then
compacts the run (``RunState.retire``): the member's rows leave the stacked parameters, the
optimizer state and per-member hyperparameters, the training data and the minibatch generators.

What a retired member leaves behind:

- its **weights** at its retirement step appear at its row in every later checkpoint (stored
  checkpoints stay ``[n_members, ...]``; analyses are unchanged);
- its **metrics** after that step are NaN (stored metrics stay ``[n_members]`` wide; a NaN never
  reaches a threshold, so first crossings, phases and reports read the same);
- its **member row** gains ``retired_step``; ``mem_step``, ``gen_step`` and ``phase`` are what they
  were: nothing after retirement can change a first crossing.

Up to its retirement step a member's metrics and weights are exactly those of the same member
trained alone (members never couple, and compaction changes no survivor's floats).

With ``train.retire_stall_window > 0`` a stalled member (never memorized, and no train-accuracy
gain for that many steps: ``_decided.py``) retires as well, as "confusion".

The rule is off by default (``retire_window = 0``, ``retire_frac = 0``, ``retire_stall_window = 0``): the budget of a published
setup is part of the setup, and a run with the rule off stores exactly what it always stored.

>>> import numpy as np
>>> from grokscope.train._hooks import EvalContext
>>> hook = RetireHook(window=10); hook.setup(3)
>>> ctx = EvalContext(step=0, total=100, active=np.ones(3, bool), diverged_step=np.array([-1, -1, 4]))
>>> for step in (20, 30):
...     ctx.step = step
...     _ = hook(step, {"test_acc": np.array([1.0, 0.5, np.nan])}, ctx)
>>> ctx.retired.tolist()    # held since 20, 10 steps at 30; member 2 diverged
[True, False, True]
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from grokscope.analysis._phases import update_first_crossing
from grokscope.train._decided import DecidedRule, update_hold, update_stall
from grokscope.train._hooks import EvalContext, HookBase

__all__ = ["RetireHook", "retire_hook"]


class RetireHook(HookBase):
    """Retires each member once it is decided (see the module docstring); state: the hold starts."""

    name = "retire"

    def __init__(self, window: int = 0, frac: float = 0.0, stall_window: int = 0, stall_gain: float = 0.01):
        self.rule = DecidedRule(window=window, frac=frac, anchor="hold", stall_window=stall_window,
                                stall_gain=stall_gain)
        self.setup(0)

    def setup(self, n_members: int) -> None:
        self.gen_step = np.full(n_members, -1, dtype=np.int64)
        self.held_since = np.full(n_members, -1, dtype=np.int64)
        self.mem_step = np.full(n_members, -1, dtype=np.int64)  # first train accuracy >= 99% (stall rule)
        self.stall_acc = np.full(n_members, np.nan)  # the stall rule's reference train accuracy
        self.stall_step = np.full(n_members, -1, dtype=np.int64)  # and the step it was set

    def __call__(self, step: int, metrics: Mapping[str, np.ndarray], ctx: EvalContext) -> dict[str, np.ndarray]:
        live = ctx.live_mask()  # not retired yet (diverged members are live until they retire)
        acc = np.asarray(metrics["test_acc"], dtype=np.float64)
        update_first_crossing(self.gen_step, step, np.where(live, acc, np.nan))
        update_hold(self.held_since, step, acc, live)
        if self.rule.window > 0 or self.rule.frac > 0:
            decided = live & self.rule.decided(step, self.gen_step, self.held_since, ctx.diverged_step)
        else:  # the stall rule alone: generalized members train on to the budget; diverged ones retire
            decided = live & (np.asarray(ctx.diverged_step) >= 0)
        if self.rule.stall_window > 0:
            train_acc = np.asarray(metrics["train_acc"], dtype=np.float64)
            update_first_crossing(self.mem_step, step, np.where(live, train_acc, np.nan))
            update_stall(self.stall_acc, self.stall_step, step, train_acc, live, self.rule.stall_gain)
            decided |= live & self.rule.stalled(step, self.mem_step, self.stall_step)
        if decided.any():
            ctx.retire(decided)
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {"gen_step": self.gen_step.copy(), "held_since": self.held_since.copy(), "mem_step": self.mem_step.copy(),
                "stall_acc": self.stall_acc.copy(), "stall_step": self.stall_step.copy()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.gen_step = np.asarray(state["gen_step"], dtype=np.int64).copy()
        self.held_since = np.asarray(state["held_since"], dtype=np.int64).copy()
        n = len(self.gen_step)  # a state saved before the stall rule existed has no stall arrays
        self.mem_step = np.asarray(state.get("mem_step", np.full(n, -1)), dtype=np.int64).copy()
        self.stall_acc = np.asarray(state.get("stall_acc", np.full(n, np.nan)), dtype=np.float64).copy()
        self.stall_step = np.asarray(state.get("stall_step", np.full(n, -1)), dtype=np.int64).copy()


def retire_hook(train_cfg) -> RetireHook | None:
    """The retirement hook of a ``[train]`` config section, or None when the rule is off."""
    window, frac = getattr(train_cfg, "retire_window", 0), getattr(train_cfg, "retire_frac", 0.0)
    stall, gain = getattr(train_cfg, "retire_stall_window", 0), getattr(train_cfg, "retire_stall_gain", 0.01)
    return RetireHook(window, frac, stall, gain) if (window > 0 or frac > 0 or stall > 0) else None
