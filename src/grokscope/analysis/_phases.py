"""Steps to memorize and to generalize, and the phase of a training run.

Definitions (used everywhere in grokscope: the trainer's summary, reports, sweeps):

- **memorization step**: the first evaluated step at which train accuracy >= 99%;
- **generalization step**: the first evaluated step at which test accuracy >= 99%;
- **delay**: generalization step / memorization step (> 1 when generalization lags).

One NaN rule: a NaN value never reaches a threshold (:func:`reached`), so a member without a test
set, or one whose metric is undefined at a step, is never counted as having generalized there.
Every first crossing in grokscope (the trainer's bookkeeping, the report's member table, the
analyses) is :func:`first_step_at_or_above` / :func:`first_crossing` / :func:`update_first_crossing`.

Phases, after Liu et al. 2022 ("Towards Understanding Grokking: An Effective Theory of
Representation Learning", §4, phase diagram) and PAIR 2023 ("When Does Grokking Happen?"), which
name four outcomes of a run with a fixed budget:

- **confusion**: the run never memorizes (train accuracy stays < 99%);
- **memorization**: it memorizes but never generalizes within the budget;
- **grokking**: it generalizes, and the generalization step is at least ``delay_ratio`` times the
  memorization step (default 2: generalization takes at least as long again as memorizing did);
- **comprehension**: it generalizes with a smaller delay (train and test rise together).

Liu et al. draw the grokking/comprehension line by an absolute number of steps (10^3 of their
10^5 budget); a ratio is the scale-free form of the same rule, so it applies to runs of any length.
Pass ``rule="liu2022"`` to use their absolute form (``fast_steps``). A diverged member is
labelled ``diverged``.

>>> phase(mem_step=100, gen_step=1500)
'grokking'
>>> phase(mem_step=100, gen_step=120), phase(mem_step=100, gen_step=None), phase(None, None)
('comprehension', 'memorization', 'confusion')
"""

from __future__ import annotations

import numpy as np

__all__ = ["THRESHOLD", "PHASES", "reached", "first_step_at_or_above", "first_crossing", "update_first_crossing",
           "phase", "delay_ratio", "grokking_fields"]

THRESHOLD = 0.99  # "memorized" / "generalized": accuracy >= 99% (the and PAIR's criterion)
PHASES = ("comprehension", "grokking", "memorization", "confusion", "diverged")


def reached(values: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    """``values >= threshold`` elementwise, with NaN never reaching (the one NaN rule).

    >>> reached(np.array([0.5, 0.99, np.nan, 1.0])).tolist()
    [False, True, False, True]
    """
    return np.nan_to_num(np.asarray(values, dtype=float), nan=-np.inf) >= threshold


def first_step_at_or_above(steps: np.ndarray, values: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    """Per member, the first step at which ``values >= threshold``; -1 where never.

    ``steps [n_steps]``, ``values [n_steps, model]`` -> ``[model]`` int64.

    >>> first_step_at_or_above(np.array([0, 10, 20]), np.array([[0.1], [0.995], [0.5]])).tolist()
    [10]
    """
    hit = reached(values, threshold)  # [n_steps, model]
    first = hit.argmax(axis=0)
    return np.where(hit.any(axis=0), np.asarray(steps)[first], -1).astype(np.int64)


def first_crossing(steps: np.ndarray, values: np.ndarray, threshold: float = THRESHOLD) -> list[int | None]:
    """:func:`first_step_at_or_above` as a list with None for "never".

    >>> first_crossing(np.array([0, 10, 20]), np.array([[0.1, 0.5], [0.995, np.nan], [1.0, 0.9]]))
    [10, None]
    """
    return [None if s < 0 else int(s) for s in first_step_at_or_above(steps, values, threshold).tolist()]


def update_first_crossing(first: np.ndarray, step: int, values: np.ndarray, threshold: float = THRESHOLD) -> None:
    """Online form of :func:`first_step_at_or_above`: set ``first[m] = step`` where member ``m``
    reaches ``threshold`` now and had not before (``first [model]`` int, -1 = not yet; in place).

    >>> first = np.array([-1, 5, -1]); update_first_crossing(first, 9, np.array([0.999, 1.0, np.nan]))
    >>> first.tolist()
    [9, 5, -1]
    """
    first[reached(values, threshold) & (first < 0)] = step


def delay_ratio(mem_step: int | None, gen_step: int | None) -> float | None:
    """Generalization step / memorization step (a step 0 counts as 1); None if either is missing."""
    if mem_step is None or gen_step is None:
        return None
    return max(gen_step, 1) / max(mem_step, 1)


def phase(mem_step: int | None, gen_step: int | None, *, diverged: bool = False, rule: str = "ratio",
          delay_ratio_min: float = 2.0, fast_steps: int = 1000) -> str:
    """The phase label of one member (see the module docstring for the rules)."""
    if diverged:
        return "diverged"
    if mem_step is None or mem_step < 0:
        return "confusion"
    if gen_step is None or gen_step < 0:
        return "memorization"
    if rule == "ratio":
        late = delay_ratio(mem_step, gen_step) >= delay_ratio_min
    elif rule == "liu2022":
        late = mem_step <= fast_steps < gen_step
    else:
        raise ValueError(f"rule={rule!r}: must be 'ratio' or 'liu2022'")
    return "grokking" if late else "comprehension"


def grokking_fields(mem_step: int | None, gen_step: int | None, diverged: bool = False) -> dict:
    """A member's ``mem_step``, ``gen_step``, ``delay`` and ``phase`` (steps < 0 read as never).

    >>> grokking_fields(100, 1500)
    {'mem_step': 100, 'gen_step': 1500, 'delay': 15.0, 'phase': 'grokking'}
    """
    mem = None if mem_step is None or mem_step < 0 else int(mem_step)
    gen = None if gen_step is None or gen_step < 0 else int(gen_step)
    return {"mem_step": mem, "gen_step": gen, "delay": delay_ratio(mem, gen),
            "phase": phase(mem, gen, diverged=diverged)}
