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

__all__ = ["DecidedRule", "STOP_AFTER_GROK", "update_hold"]


@dataclass(frozen=True)
class DecidedRule:
    window: int = 0  # steps the hold must have lasted
    frac: float = 0.0  # and the step must be >= (1 + frac) x the generalization step
    anchor: str = "hold"  # "hold": the current unbroken hold; "first": from the first crossing

    def __post_init__(self):
        check_int(self.window, "train.retire_window", 0)
        check_number(self.frac, "train.retire_frac", 0.0)
        check_choice(self.anchor, "anchor", ("hold", "first"))

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
