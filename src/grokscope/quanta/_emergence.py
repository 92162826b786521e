"""Emergence per quantum: when each subtask of multitask sparse parity is learned, against its frequency.

The quantization model (Michaud, Liu, Girit & Tegmark 2023, "The Quantization Model of Neural
Scaling", arXiv:2303.13506) says a network learns discrete quanta in order of how often they are
useful. On multitask sparse parity the quanta are the subtasks, with frequencies ``p_i ∝
i^-(α+1)``. With online data a subtask needs a roughly fixed number of its own samples to be
learned, which arrive at rate ``p_i`` per sample, so the step at which it is learned scales as
``S_i ∝ p_i^-1``: a slope of -1 on log-log axes. The mean loss ``Σ_i p_i L_i(t)`` is then a sum of
sharp drops, each weighted by its frequency, and looks smooth (L ∝ S^-α/(α+1)).

**The rule.** Subtask ``i`` is *learned* at the first evaluated step at which its loss on its
own test rows (``test_loss/task{i}``, cross-entropy) is below ``threshold_bits`` bits (default
0.1 bit = 0.0693 nats; chance is 1 bit). ``n_learned`` counts the subtasks whose loss at the
last evaluated step is below the threshold (learned and not forgotten).

**The fit.** ``learned_step = a · p^-g`` by least squares on ``log step`` through
``grokscope.fit`` (law ``power_law``), over the learned subtasks (step > 0) of one member, with a
bootstrap interval over subtasks; ``slope = -g`` (theory: -1). The pooled fit over members
bootstraps whole members when there are at least two.

:func:`emergence` reads a stored run; :func:`emergence_from_metrics` does the same from arrays
(a ``TrainResult``'s ``steps`` and ``metrics``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grokscope._json import jsonable
from grokscope.errors import AnalysisError
from grokscope.fit import FitError, fit
from grokscope.tasks import zipf_probs
from grokscope.validate import check_choice, check_int, check_number

__all__ = ["Emergence", "MemberEmergence", "emergence", "emergence_from_metrics", "LEARNED_BITS", "learned_steps"]

LEARNED_BITS = 0.1  # a subtask is learned once its test loss is below 0.1 bit (chance: 1 bit)
_CE_LOSSES = ("ce", "ce64")  # the losses whose values are cross-entropies in nats
_LN2 = math.log(2.0)


@dataclass
class MemberEmergence:
    """One member: the step each subtask was learned at (None: never) and the slope of the fit."""

    member: int
    learned_step: list[int | None]  # [n_tasks]
    n_learned: int  # below the threshold at the last evaluated step
    fit: dict[str, Any] | None  # FitResult.to_dict() of learned_step = a * p^-g, or None
    slope: dict[str, Any] | None  # -g with its interval ({value, lo, hi, level}); theory -1
    fit_error: str | None = None  # why there is no fit (too few learned subtasks)
    n_train: int | None = None  # the member's training rows D (fixed-data runs; online: rows only measured)


@dataclass
class Emergence:
    """The emergence analysis of one multitask-parity run (JSON: :meth:`to_dict` / :meth:`to_json`)."""

    run_id: int | None
    rule: str
    threshold_bits: float
    split: str
    alpha: float  # the paper's α
    zipf_exponent: float  # α + 1
    probs: list[float]  # [n_tasks] p_i
    groups: list[str]  # [n_tasks] task-group names
    steps: list[int]  # [n_eval]
    loss_bits: list[list[list[float | None]]]  # [model][n_eval][n_tasks] per-subtask loss in bits
    mean_loss_bits: list[list[float | None]]  # [model][n_eval] Σ_i p_i L_i (the Zipf-weighted mean)
    members: list[MemberEmergence]
    pooled_fit: dict[str, Any] | None
    pooled_slope: dict[str, Any] | None
    theory_slope: float = -1.0
    n_params: int | None = None  # parameters of one member (from the last checkpoint): n_learned vs N
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__ if k != "members"}
                        | {"members": [vars(m) for m in self.members]})

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def summary(self) -> dict[str, Any]:
        """The numbers without the curves: per member n_learned and slope, and the pooled slope."""
        return jsonable({"run_id": self.run_id, "rule": self.rule, "alpha": self.alpha,
                         "zipf_exponent": self.zipf_exponent, "n_tasks": len(self.probs), "n_params": self.n_params,
                         "members": [{"member": m.member, "n_train": m.n_train, "n_learned": m.n_learned,
                                      "slope": m.slope, "fit_error": m.fit_error} for m in self.members],
                         "pooled_slope": self.pooled_slope, "theory_slope": self.theory_slope})


def learned_steps(steps: np.ndarray, loss_bits: np.ndarray, threshold_bits: float = LEARNED_BITS) -> np.ndarray:
    """``[n_tasks]`` int: the first step whose loss is below the threshold, -1 where never.

    ``loss_bits [n_eval, n_tasks]``; NaN (a retired member) never counts.

    >>> learned_steps(np.array([0, 10, 20]), np.array([[1.0, 1.0], [0.05, 1.0], [0.01, 0.5]]))
    array([10, -1])
    """
    below = np.asarray(loss_bits) < threshold_bits  # NaN compares False
    first = np.argmax(below, axis=0)
    return np.where(below.any(axis=0), np.asarray(steps)[first], -1)


def _slope_fit(p: np.ndarray, s: np.ndarray, groups, n_boot: int, seed: int):
    ok = s > 0  # step 0 (learned at initialization) has no logarithm
    try:
        f = fit("power_law", p[ok], s[ok].astype(float), groups=None if groups is None else groups[ok],
                n_boot=n_boot, seed=seed, name="learned step vs p_i")
    except FitError as e:
        return None, None, str(e)
    g = f.params["g"]
    slope = {"value": -float(g), "lo": -g.hi, "hi": -g.lo, "level": g.level}
    return f.to_dict(), jsonable(slope), None


def emergence_from_metrics(steps, metrics: Mapping[str, np.ndarray], task_section: Mapping[str, Any], *,
                           loss: str = "ce", threshold_bits: float = LEARNED_BITS, split: str = "test",
                           n_boot: int = 1000, seed: int = 0, run_id: int | None = None) -> Emergence:
    """The analysis from ``steps [n_eval]``, ``metrics {name: [n_eval, model]}`` and the run's resolved
    ``task`` config section (``kind = "multitask_parity"``: ``n_tasks`` and ``alpha`` are read)."""
    if task_section.get("kind") != "multitask_parity":
        raise AnalysisError(f"task.kind={task_section.get('kind')!r}: emergence per quantum needs a "
                            "multitask_parity run")
    if loss not in _CE_LOSSES:
        raise AnalysisError(f"train.loss={loss!r}: the learned-subtask rule reads cross-entropy in bits; "
                            f"train with one of {', '.join(_CE_LOSSES)}")
    threshold_bits = check_number(threshold_bits, "threshold_bits", 0.0, lo_open=True)
    split = check_choice(split, "split", ("test", "train", "all"))
    n_boot = check_int(n_boot, "n_boot", 0)
    n_tasks, alpha = int(task_section["n_tasks"]), float(task_section["alpha"])
    probs = zipf_probs(n_tasks, alpha + 1.0).numpy()  # [n_tasks]
    prefix = f"{split}_loss/"
    groups = sorted(k[len(prefix):] for k in metrics if k.startswith(prefix))
    if len(groups) != n_tasks:
        raise AnalysisError(f"the run logged {len(groups)} metrics {prefix}<task> but has n_tasks={n_tasks}")
    steps = np.asarray(steps, dtype=np.int64)
    L = np.stack([np.asarray(metrics[prefix + g], dtype=np.float64) for g in groups], -1)  # [n_eval, model, n_tasks]
    L = L / _LN2  # nats -> bits
    L = np.moveaxis(L, 1, 0)  # [model, n_eval, n_tasks], bits
    mean = L @ probs  # [model, n_eval]

    members, pooled_p, pooled_s, pooled_g = [], [], [], []
    for m in range(L.shape[0]):
        s = learned_steps(steps, L[m], threshold_bits)  # [n_tasks]
        last = L[m][np.isfinite(L[m]).all(axis=1)]
        n_learned = int((last[-1] < threshold_bits).sum()) if len(last) else 0
        learned = s >= 0
        f, slope, err = _slope_fit(probs[learned], s[learned], None, n_boot, seed)
        members.append(MemberEmergence(m, [int(v) if v >= 0 else None for v in s], n_learned, f, slope, err))
        pooled_p.append(probs[learned]), pooled_s.append(s[learned]), pooled_g.append(np.full(learned.sum(), m))
    p_all, s_all, g_all = np.concatenate(pooled_p), np.concatenate(pooled_s), np.concatenate(pooled_g)
    pf, ps, perr = _slope_fit(p_all, s_all, g_all if L.shape[0] >= 2 else None, n_boot, seed)
    notes = [] if perr is None else [f"pooled fit: {perr}"]
    rule = (f"subtask i is learned at the first evaluated step with {split}_loss/task_i < {threshold_bits:g} bit "
            f"({threshold_bits * _LN2:.4g} nats); n_learned counts subtasks below it at the last evaluation; "
            "slope = -g of learned_step = a * p_i^-g (least squares on log step, bootstrap over subtasks; "
            "pooled: over members)")
    return Emergence(run_id, rule, threshold_bits, split, alpha, alpha + 1.0, probs.tolist(), groups,
                     steps.tolist(), L.tolist(), mean.tolist(), members, pf, ps, notes=notes)


def emergence(store, run_id: int, *, threshold_bits: float = LEARNED_BITS, split: str = "test",
              n_boot: int = 1000, seed: int = 0) -> Emergence:
    """The emergence analysis of stored run ``run_id`` (see the module docstring for the rule and fit)."""
    rec = store.get_run(run_id)
    task = rec.config.get("task", {})
    if task.get("kind") != "multitask_parity":
        raise AnalysisError(f"run {run_id} trains task.kind={task.get('kind')!r}: emergence per quantum "
                            "needs a multitask_parity run")
    steps, metrics = store.metrics(run_id)
    loss = rec.config.get("train", {}).get("loss", "ce")
    em = emergence_from_metrics(steps, metrics, task, loss=loss, threshold_bits=threshold_bits, split=split,
                                n_boot=n_boot, seed=seed, run_id=run_id)
    for m, row in zip(em.members, store.members(run_id)):
        m.n_train = row.get("n_train")
    ckpts = store.checkpoint_steps(run_id)
    if ckpts:
        em.n_params = int(sum(v[0].numel() for v in store.load_checkpoint(run_id, ckpts[-1]).values()))
    return em
