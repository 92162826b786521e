"""Which steps keep a copy of the weights: log-spaced over the run, thinned to fit, and denser at transitions.

Three rules, all from ``[log]`` of the run config:

1. ``n_checkpoints`` steps log-spaced over ``[0, steps]``, the first and the last included
   (:func:`checkpoint_steps`); 100 by default, enough to scrub through a run in the explorer.
2. They must fit in ``checkpoint_mib`` MiB per run, counting the float bytes of every member's
   weights: a run whose weights are large keeps fewer (:func:`fit_checkpoints`), still log-spaced.
3. Transitions get more: at an evaluation where some live member's train or test accuracy has
   moved by at least ``transition_delta`` since the last checkpoint, that evaluation is checkpointed
   too, at most ``transition_checkpoints`` times per run (:class:`TransitionCheckpoints`, an
   evaluation hook, so its state is part of the resume state and a resumed run checkpoints where an
   uninterrupted one does). None when ``n_checkpoints`` is 0 (weights not wanted). Memorization and grokking are exactly where accuracy moves, so a
   reader scrubbing through the explorer sees the circuit form at the rate it forms.

The final weights are always kept, whatever the rules say (``_loop``). Checkpoints only observe:
no rule here changes a number the run computes.

>>> sorted(checkpoint_steps(1000, 6))
[0, 1, 6, 32, 178, 1000]
>>> len(checkpoint_steps(1500, 100)), len(checkpoint_steps(50, 100))
(100, 51)
>>> fit_checkpoints(100, 50, bytes_per_checkpoint=8 * 2**20, budget_mib=256)   # 32 fit: split 2 to 1
(21, 11)
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from grokscope.train._hooks import EvalContext, HookBase

__all__ = ["checkpoint_steps", "fit_checkpoints", "TransitionCheckpoints"]


def checkpoint_steps(total: int, n: int) -> set[int]:
    """``n`` distinct weight checkpoints over ``[0, total]``, log-spaced, 0 and ``total`` included.

    Every step ``1..a`` and then ``a·r^j`` up to ``total``, with the smallest ``a`` at which
    consecutive log-spaced points lie at least one step apart (so rounding merges none): as close
    to log spacing as whole steps allow. A run shorter than ``n`` steps keeps every step.
    """
    if n <= 0:
        return set()
    if n == 1 or total <= 0:
        return {total}
    if total + 1 <= n:
        return set(range(total + 1))
    for a in range(1, n - 1):
        q = n - 1 - a  # points after a, the last one `total`
        r = (total / a) ** (1 / q)
        if a * (r - 1) >= 1:
            geo = np.rint(a * r ** np.arange(1, q + 1)).astype(int)
            return {0, *range(1, a + 1), *geo.tolist(), total}
    return {0, *range(1, n - 1), total}


def fit_checkpoints(n_log: int, n_transition: int, *, bytes_per_checkpoint: int,
                    budget_mib: float) -> tuple[int, int]:
    """How many log-spaced and transition checkpoints fit in ``budget_mib`` MiB (0 = no limit).

    When the asked-for ``n_log + n_transition`` do not fit, both shrink in proportion; at least the
    first and the last weights are kept (the last is kept in any case).
    """
    if budget_mib <= 0 or bytes_per_checkpoint <= 0:
        return n_log, n_transition
    fit = int(budget_mib * 2**20 // bytes_per_checkpoint)
    want = n_log + n_transition
    if want <= fit:
        return n_log, n_transition
    keep_log = min(n_log, max(2, round(fit * n_log / want)))
    return keep_log, max(0, min(n_transition, fit - keep_log))


class TransitionCheckpoints(HookBase):
    """Ask for a checkpoint where accuracies move (rule 3 of the module docstring).

    ``scheduled``: the run's log-spaced checkpoint steps; the reference point ("since the last
    checkpoint") moves at those too. Members that are retired, diverged or have no value (NaN, e.g.
    no test set) are not looked at.
    """

    name = "transition_checkpoints"

    def __init__(self, max_extra: int, delta: float, scheduled: set[int]):
        self.max_extra = int(max_extra)
        self.delta = float(delta)
        self.scheduled = set(scheduled)
        self.last = np.zeros((2, 0))  # [train|test, model]: accuracies at the last checkpoint (NaN: none yet)
        self.used = 0
        self.steps: list[int] = []  # the extra checkpoints taken so far

    def setup(self, n_members: int) -> None:
        self.last = np.full((2, n_members), np.nan)
        self.used, self.steps = 0, []

    def __call__(self, step: int, metrics: Mapping[str, np.ndarray], ctx: EvalContext) -> dict[str, np.ndarray]:
        acc = np.stack([np.asarray(metrics["train_acc"], dtype=np.float64),
                        np.asarray(metrics.get("test_acc", np.full(self.last.shape[1], np.nan)), dtype=np.float64)])
        looked = ctx.live_mask() & ctx.active  # [model]
        moved = np.abs(acc - self.last)[:, looked]  # NaN where either end is missing
        extra = (step not in self.scheduled and self.used < self.max_extra
                 and bool(np.any(moved[np.isfinite(moved)] >= self.delta)))
        if extra:
            ctx.request_checkpoint()
            self.used += 1
            self.steps.append(int(step))
        if extra or step in self.scheduled:
            seen = np.isfinite(acc)
            self.last[seen] = acc[seen]
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {"last": self.last.copy(), "used": self.used, "steps": list(self.steps)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.last = np.asarray(state["last"], dtype=np.float64).copy()
        self.used = int(state["used"])
        self.steps = [int(s) for s in state["steps"]]
