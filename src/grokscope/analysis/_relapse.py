"""Un-grokking: a member that generalized and then fell back, and whether it came back.

PAIR 2023 ("Do machine learning models memorize or generalize?", "Open questions") describes runs
that go generalize → memorize, and generalize → memorize → generalize. A member's *phase*
(``grokscope.analysis._phases``) is read off its first 99% crossing and never sees that, so this
module follows the test accuracy after the crossing, with a stated rule (hysteresis, so that noise
around 99% is not a relapse):

- a member is **generalized** from the first evaluation with test accuracy >= 99% (``THRESHOLD``);
- it **falls back** at the first later evaluation with test accuracy < 90% (``FALL``);
- it **recovers** at the next evaluation with test accuracy >= 99% again, and can fall again.

Per member: ``relapses`` (how many falls), ``fall_step`` (the first), ``regen_step`` (the first
recovery after it) and ``trajectory``: ``"never"`` (never generalized), ``"stable"`` (generalized
and never fell), ``"ungrokked"`` (fell and was still down at the last evaluation), ``"regrokked"``
(fell, and generalized again at the last evaluation). The trainer tracks this online
(``GrokkingHook``); :func:`relapse_fields` applies the same update to a stored curve.

>>> steps = [0, 10, 20, 30, 40, 50]
>>> relapse_fields(steps, [0.1, 1.0, 0.95, 0.5, 0.6, 0.995])      # 95% is not a fall; 50% is
{'relapses': 1, 'fall_step': 30, 'regen_step': 50, 'trajectory': 'regrokked'}
>>> relapse_fields(steps, [0.1, 1.0, 1.0, 0.2, 0.3, 0.4])["trajectory"]
'ungrokked'
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from grokscope.analysis._phases import reached

__all__ = ["FALL", "Relapses", "relapse_fields", "TRAJECTORIES"]

FALL = 0.90  # test accuracy below this after generalizing is a fall (hysteresis below the 99% threshold)
TRAJECTORIES = ("never", "stable", "ungrokked", "regrokked")


class Relapses:
    """Per-member relapse bookkeeping, updated at each evaluation (arrays ``[model]``)."""

    def __init__(self, n_members: int = 0):
        self.relapses = np.zeros(n_members, dtype=np.int64)
        self.fall_step = np.full(n_members, -1, dtype=np.int64)
        self.regen_step = np.full(n_members, -1, dtype=np.int64)
        self.down = np.zeros(n_members, dtype=bool)

    def update(self, step: int, test_acc: np.ndarray, gen_step: np.ndarray) -> None:
        """One evaluation: ``gen_step`` already includes this step's first crossings (-1: not yet)."""
        up = reached(test_acc)  # NaN never reaches: a member without a test set never falls or recovers
        below = np.asarray(test_acc, dtype=np.float64) < FALL
        falls = (gen_step >= 0) & ~self.down & below
        self.relapses[falls] += 1
        self.fall_step[falls & (self.fall_step < 0)] = step
        recovers = self.down & up
        self.regen_step[recovers & (self.regen_step < 0)] = step
        self.down = (self.down | falls) & ~recovers

    def fields(self, gen_step: np.ndarray) -> list[dict[str, Any]]:
        out = []
        for g, n, f, r, d in zip(gen_step, self.relapses, self.fall_step, self.regen_step, self.down):
            traj = "never" if g < 0 else "stable" if n == 0 else "ungrokked" if d else "regrokked"
            out.append({"relapses": int(n), "fall_step": int(f) if f >= 0 else None,
                        "regen_step": int(r) if r >= 0 else None, "trajectory": traj})
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"relapses": self.relapses.copy(), "fall_step": self.fall_step.copy(),
                "regen_step": self.regen_step.copy(), "down": self.down.copy()}

    def load_state_dict(self, state: dict[str, Any], n_members: int) -> None:
        """A state saved before relapses were tracked (no keys) loads as "none seen yet"."""
        fresh = Relapses(n_members)
        for k, v in fresh.state_dict().items():
            setattr(self, k, np.asarray(state.get(k, v), dtype=v.dtype).copy())


def relapse_fields(steps: Sequence[int], test_acc: Sequence[float]) -> dict[str, Any]:
    """The relapse fields of one member from its stored test-accuracy curve (the trainer's rule)."""
    r, gen = Relapses(1), np.full(1, -1, dtype=np.int64)
    for s, a in zip(steps, test_acc):
        a = np.asarray([a], dtype=np.float64)
        if gen[0] < 0 and reached(a)[0]:
            gen[0] = int(s)
        r.update(int(s), a, gen)
    return r.fields(gen)[0]
