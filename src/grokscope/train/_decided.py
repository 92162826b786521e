"""When a member's outcome is decided: the one rule behind retirement and ``train.stop_after_grok``.

A member is **decided** at an evaluated step ``s`` when

- it **diverged** (its loss went non-finite: it is frozen and can only stay as it is), or
- it **generalized and held it**: test accuracy ≥ ``THRESHOLD`` (99%, ``grokscope.analysis._phases``)
  at every evaluation from the step ``h`` at which its current hold began through ``s``, and
  ``s − h ≥ window`` and ``s ≥ (1 + frac) · g``, with ``g`` its generalization step (first crossing).

``window`` is an absolute number of steps, ``frac`` a margin relative to the generalization step
(scale-free, for log-spaced evaluations). ``anchor="first"`` counts the hold from the first
crossing ``g`` whatever came after (``h = g``); ``anchor="hold"`` (retirement) restarts it whenever
test accuracy drops below the threshold.

A member is **stalled** at ``s`` (only when ``stall_window > 0``; retirement's option
``train.retire_stall_window``) when it has never memorized (train accuracy has not reached
``THRESHOLD`` at any evaluation so far) and its train accuracy has not risen more than
``stall_gain`` above its reference level for ``stall_window`` steps: the reference is the train
accuracy at the first evaluation, raised to the current value (and its step to ``s``) whenever the
current value exceeds it by more than ``stall_gain`` (:func:`update_stall`). A member that has
memorized is never stalled, whatever its train accuracy does later: waiting after memorization is
where grokking happens. A stalled member's outcome is predicted, not observed: it retires never
having memorized, so it reads as "confusion". Measured on PAIR's parity
sweep (docs/sweeps.md): with a window of 2,000 steps the rule retired exactly the 225 members that
never memorized in 20,000 steps, and no member that memorized later.

``train.stop_after_grok`` is this rule with ``window=0, frac=0.25, anchor="first"``
(:data:`STOP_AFTER_GROK`): the run stops when every live member is decided, i.e. has
generalized and trained 25% past its generalization step — what it always did. Retirement
(``train.retire_window``, ``train.retire_frac``) is the rule with ``anchor="hold"``: each decided
member leaves the ensemble at once (``grokscope.train._retire``).

>>> import numpy as np
>>> rule = DecidedRule(window=100, frac=0.0, anchor="hold")
>>> rule.decided(500, gen_step=np.array([300, 300, -1, -1]), held_since=np.array([300, 450, -1, -1]),
...              diverged_step=np.array([-1, -1, -1, 7])).tolist()
[True, False, False, True]
>>> STOP_AFTER_GROK.decided(125, np.array([100]), np.array([-1]), np.array([-1])).tolist()   # 1.25 × 100
[True]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grokscope.analysis._phases import reached
from grokscope.validate import check_choice, check_int, check_number

__all__ = ["DecidedRule", "STOP_AFTER_GROK", "update_hold", "update_stall"]


@dataclass(frozen=True)
class DecidedRule:
    window: int = 0  # steps the hold must have lasted
    frac: float = 0.0  # and the step must be >= (1 + frac) x the generalization step
    anchor: str = "hold"  # "hold": the current unbroken hold; "first": from the first crossing
    stall_window: int = 0  # steps without a train-accuracy gain > stall_gain (0 = stalled members stay)
    stall_gain: float = 0.01

    def __post_init__(self):
        check_int(self.window, "train.retire_window", 0)
        check_number(self.frac, "train.retire_frac", 0.0)
        check_choice(self.anchor, "anchor", ("hold", "first"))
        check_int(self.stall_window, "train.retire_stall_window", 0)
        check_number(self.stall_gain, "train.retire_stall_gain", 0.0, 1.0)

    def stalled(self, step: int, mem_step: np.ndarray, ref_step: np.ndarray) -> np.ndarray:
        """``[model]`` bool: stalled at ``step`` (``mem_step``: first step with train accuracy >= 99%,
        -1 = not yet; ``ref_step`` from :func:`update_stall`, -1 = none yet)."""
        ref = np.asarray(ref_step)
        if self.stall_window <= 0:
            return np.zeros(len(ref), dtype=bool)
        return (np.asarray(mem_step) < 0) & (ref >= 0) & (step - ref >= self.stall_window)

    def decided(self, step: int, gen_step: np.ndarray, held_since: np.ndarray,
                diverged_step: np.ndarray) -> np.ndarray:
        """``[model]`` bool: decided at ``step`` (all arrays ``[model]`` int, -1 = never / not now)."""
        gen = np.asarray(gen_step)
        held = gen if self.anchor == "first" else np.asarray(held_since)
        grokked = (gen >= 0) & (held >= 0) & (step - held >= self.window) & (step >= (1 + self.frac) * gen)
        return grokked | (np.asarray(diverged_step) >= 0)


STOP_AFTER_GROK = DecidedRule(window=0, frac=0.25, anchor="first")


def update_hold(held_since: np.ndarray, step: int, test_acc: np.ndarray, members: np.ndarray) -> None:
    """In place: for ``members`` (a ``[model]`` bool mask), the start of the current hold of test accuracy
    at or above the threshold (``step`` where it begins now, -1 where it is below; NaN is below).

    >>> h = np.array([-1, 5, 5]); update_hold(h, 9, np.array([1.0, 1.0, 0.5]), np.array([True, True, True]))
    >>> h.tolist()
    [9, 5, -1]
    """
    up = reached(test_acc)
    held_since[members & up & (held_since < 0)] = step
    held_since[members & ~up] = -1


def update_stall(ref_acc: np.ndarray, ref_step: np.ndarray, step: int, train_acc: np.ndarray, members: np.ndarray,
                 gain: float) -> None:
    """In place, for ``members``: the stall rule's reference level and its step. The first evaluation
    sets them; a later one raises them when train accuracy exceeds the level by more than ``gain``.
    A NaN accuracy changes nothing.

    >>> acc, at = np.array([np.nan, 0.5]), np.array([-1, 0])
    >>> update_stall(acc, at, 100, np.array([0.5, 0.505]), np.array([True, True]), gain=0.01)
    >>> acc.tolist(), at.tolist()          # member 0 starts; member 1 gained only 0.005
    ([0.5, 0.5], [100, 0])
    >>> update_stall(acc, at, 200, np.array([0.52, 0.52]), np.array([True, True]), gain=0.01)
    >>> acc.tolist(), at.tolist()
    ([0.52, 0.52], [200, 200])
    """
    a = np.asarray(train_acc, dtype=np.float64)
    ok = members & np.isfinite(a)
    up = ok & ((ref_step < 0) | (a > ref_acc + gain))
    ref_acc[up] = a[up]
    ref_step[up] = step
