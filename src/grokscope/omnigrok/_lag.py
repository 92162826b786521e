"""Delayed generalization, measured: when train accuracy reaches a level, when test accuracy does.

Omnigrok's grokking on MNIST: from a large init scale α, train accuracy reaches 100% long before
test accuracy rises; from α = 1 test accuracy does not lag. ``generalization_lag`` reads, per
member, the first evaluated step at which train accuracy reaches ``train_level`` (memorization)
and test accuracy reaches ``test_level`` (generalization), and their ratio (NaN where a level is
not reached within the run). It works on any run's metrics ``[n_eval, model]``.

>>> steps = np.array([0, 100, 1000, 5000])
>>> train = np.array([[0.1, 0.1], [1.0, 0.5], [1.0, 1.0], [1.0, 1.0]])
>>> test = np.array([[0.1, 0.1], [0.95, 0.2], [0.95, 0.3], [0.95, 0.92]])
>>> [(r.t_memorize, r.t_generalize, r.ratio) for r in generalization_lag(steps, train, test)]
[(100.0, 100.0, 1.0), (1000.0, 5000.0, 5.0)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grokscope.omnigrok._teacher_student import first_reach

__all__ = ["Lag", "generalization_lag"]


@dataclass
class Lag:
    """One member: steps to ``train_level`` train accuracy and ``test_level`` test accuracy."""

    member: int
    t_memorize: float
    t_generalize: float
    ratio: float  # t_generalize / t_memorize (1: no lag)
    test_acc_at_memorize: float
    final_test_acc: float


def generalization_lag(steps, train_acc, test_acc, train_level: float = 0.99, test_level: float = 0.9) -> list[Lag]:
    """Per member of ``train_acc``, ``test_acc`` ``[n_eval, model]`` evaluated at ``steps [n_eval]``."""
    steps, tr, te = np.asarray(steps), np.asarray(train_acc, float), np.asarray(test_acc, float)
    t_mem, t_gen = first_reach(steps, tr, train_level), first_reach(steps, te, test_level)
    out = []
    for i in range(tr.shape[1]):
        at = float(te[np.searchsorted(steps, t_mem[i]), i]) if np.isfinite(t_mem[i]) else float("nan")
        out.append(Lag(i, float(t_mem[i]), float(t_gen[i]), float(t_gen[i] / t_mem[i]) if t_mem[i] > 0 else float("nan"),
                       at, float(te[-1, i])))
    return out
