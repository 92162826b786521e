"""Scaling exponents measured on trained networks: L(N), L(D), L(S) against the quantization model.

The quantization model (Michaud, Liu, Girit & Tegmark 2023, "The Quantization Model of Neural
Scaling", arXiv:2303.13506, §2) takes quanta used with frequencies ``p_k ∝ k^-(α+1)``. A network
of N parameters holds ``n ∝ N`` quanta, so ``L(N) - L_∞ ∝ Σ_{k>n} p_k ∝ N^-α``; with D samples a
quantum is learned once it was seen a fixed number of times, ``p_n D ≈ τ``, so ``n ∝ D^(1/(α+1))``
and ``L(D) - L_∞ ∝ D^-α/(α+1)``; steps S play the part of D with online data. Predictions:
``α_N = α``, ``α_D = α_S = α/(α+1)``; quanta learned ``n ∝ N^1`` and ``n ∝ D^(1/(α+1))``.

**What is measured.** L is the Zipf-weighted mean test loss ``Σ_i p_i L_i`` in bits (chance: 1
bit) of multitask sparse parity, from the emergence analysis (``_emergence``). L(N): the lowest
evaluation (``loss_at="best"``, early stopping; ``"last"``: the last) of each member of a width
sweep (online data), N = parameters of one member. L(D): the same for each member of a data sweep
(``task.train_count``, fixed data). The default is the lowest because with fixed data the test
cross-entropy of the subtasks not learned climbs far above chance as the network memorizes its rows
(measured: seed means of 1.6-13 bits at the last evaluation, docs/quanta-exponents.md), which is not the loss the
quantization model describes; with online data the two agree closely. L(S): every evaluation at or after the first step where the
seed-mean loss is below ``s_from_bits`` of the widest network of the width sweep (the steps before
it are the plateau before the first quantum, not a power law).

**The fit.** ``L = a·x^-g + c`` (``power_law_offset`` of ``grokscope.fit``, least squares on log L)
over every (x, seed) point of one α, with a bootstrap over whole seeds (``groups=seed``); the
measured exponent is g. **Where it holds**: the residual ``log L - log L̂`` averaged over the seeds
at each x; the fit holds at x where its magnitude is at most ``hold_tol`` (default 0.1, ~10%), and
``holds_range`` is the longest run of consecutive x where it does. Local slopes
``d log(L̄ - c)/d log x`` between neighbouring x (L̄: seed mean) show how the exponent drifts.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grokscope._json import jsonable
from grokscope.errors import AnalysisError
from grokscope.fit import FitError, fit
from grokscope.quanta._emergence import LEARNED_BITS, emergence
from grokscope.validate import check_choice, check_int, check_number

__all__ = ["KEYS", "ExponentFit", "Exponents", "LearnedCount", "exponents", "exponents_from_points", "fit_exponent",
           "learned_count_fit", "predicted_count_exponent", "predicted_exponent"]

KEYS = ("N", "D", "S")
_HOLD_TOL = 0.1  # |mean log residual| <= 0.1 (about 10%): the law holds at that x


def predicted_exponent(key: str, alpha: float) -> float:
    """The quantization model's exponent of L(key) - L_∞: α for N, α/(α+1) for D and S.

    >>> predicted_exponent("N", 0.5), round(predicted_exponent("D", 0.5), 6)
    (0.5, 0.333333)
    """
    key = check_choice(key, "key", KEYS)
    alpha = check_number(alpha, "alpha", 0.0, lo_open=True)
    return alpha if key == "N" else alpha / (alpha + 1.0)


def predicted_count_exponent(key: str, alpha: float) -> float:
    """Exponent of the number of quanta learned: 1 against N, 1/(α+1) against D and S."""
    key = check_choice(key, "key", KEYS)
    alpha = check_number(alpha, "alpha", 0.0, lo_open=True)
    return 1.0 if key == "N" else 1.0 / (alpha + 1.0)


@dataclass
class ExponentFit:
    """L(key) = a·key^-g + c for one α: the measured g with its interval beside the prediction."""

    key: str  # "N", "D" or "S"
    alpha: float  # the paper's α of the task
    predicted: float  # α (N) or α/(α+1) (D, S)
    exponent: dict[str, Any] | None  # g: {value, lo, hi, level}, bootstrap over seeds
    offset: dict[str, Any] | None  # c (bits): the loss the law tends to
    covers_prediction: bool | None
    fit: dict[str, Any] | None  # FitResult.to_dict()
    x: list[float]  # the distinct x of the points, ascending
    mean_loss: list[float]  # [len(x)] seed-mean loss (bits)
    mean_residual: list[float | None]  # [len(x)] seed-mean log residual of the fit
    holds: list[bool]  # [len(x)] |mean residual| <= hold_tol
    holds_range: list[float] | None  # the longest run of consecutive x where the fit holds
    local_slopes: list[float | None]  # [len(x) - 1] d log(L̄ - c) / d log x between neighbours
    n_seeds: int
    points: dict[str, list]  # {"x", "seed", "loss"}: every point fitted
    error: str | None = None  # why there is no fit


@dataclass
class LearnedCount:
    """Quanta (subtasks) learned against N or D for one α, with n = a·x^b fitted (theory b)."""

    key: str
    alpha: float
    predicted: float  # 1 (N) or 1/(α+1) (D)
    x: list[float]
    mean_learned: list[float]  # [len(x)] over seeds
    per_seed: list[list[int]]  # [len(x)][seed]
    exponent: dict[str, Any] | None  # b with its interval (bootstrap over seeds), points with n > 0
    error: str | None = None


@dataclass
class Exponents:
    """Every measured exponent of the stored sweeps (JSON: :meth:`to_dict` / :meth:`to_json`)."""

    rule: str
    loss: str  # what L is
    width_sweep: str | None
    data_sweep: str | None
    fits: list[ExponentFit]
    learned: list[LearnedCount]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"rule": self.rule, "loss": self.loss, "width_sweep": self.width_sweep,
                         "data_sweep": self.data_sweep, "fits": [vars(f) for f in self.fits],
                         "learned": [vars(c) for c in self.learned], "notes": self.notes})

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def summary(self) -> list[dict[str, Any]]:
        """One row per fit: key, α, measured exponent with interval, prediction, range where it holds."""
        return jsonable([{"key": f.key, "alpha": f.alpha, "exponent": f.exponent, "predicted": f.predicted,
                          "covers": f.covers_prediction, "offset": f.offset,
                          "x_range": [f.x[0], f.x[-1]] if f.x else None, "holds_range": f.holds_range,
                          "n_seeds": f.n_seeds, "error": f.error} for f in self.fits])


def _estimate(e) -> dict[str, Any]:
    return jsonable({"value": float(e), "lo": e.lo, "hi": e.hi, "level": e.level})


def _longest_run(x: np.ndarray, ok: np.ndarray) -> list[float] | None:
    best, start = None, None
    for i, good in enumerate(list(ok) + [False]):
        if good and start is None:
            start = i
        elif not good and start is not None:
            if best is None or i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return None if best is None else [float(x[best[0]]), float(x[best[1] - 1])]


def fit_exponent(key: str, alpha: float, x, loss, seeds, *, n_boot: int = 1000, level: float = 0.95,
                 seed: int = 0, hold_tol: float = _HOLD_TOL) -> ExponentFit:
    """Fit ``loss = a·x^-g + c`` to the points ``(x, loss)`` of the seeds ``seeds`` (one label a point),
    bootstrapping whole seeds; see the module docstring for where the fit is said to hold."""
    x, y, s = (np.asarray(v, dtype=float).ravel() for v in (x, loss, seeds))
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    x, y, s = x[ok], y[ok], s[ok]
    xs = np.unique(x)
    mean = np.array([y[x == v].mean() for v in xs])
    pred = predicted_exponent(key, alpha)
    base = {"key": key, "alpha": float(alpha), "predicted": pred, "x": xs.tolist(), "mean_loss": mean.tolist(),
            "n_seeds": int(np.unique(s).size),
            "points": {"x": x.tolist(), "seed": s.astype(int).tolist(), "loss": y.tolist()}}
    try:
        f = fit("power_law_offset", x, y, groups=s, n_boot=n_boot, level=level, seed=seed,
                name=f"L({key}) at alpha={alpha:g}")
    except FitError as e:
        return ExponentFit(**base, exponent=None, offset=None, covers_prediction=None, fit=None,
                           mean_residual=[None] * xs.size, holds=[False] * xs.size, holds_range=None,
                           local_slopes=[None] * max(xs.size - 1, 0), error=str(e))
    g, c = f.params["g"], f.params["c"]
    res = np.log(y) - np.log(f.predict(x))
    mres = np.array([res[x == v].mean() for v in xs])
    holds = np.abs(mres) <= hold_tol
    with np.errstate(divide="ignore", invalid="ignore"):
        ly = np.log(mean - float(c))
        slopes = np.diff(ly) / np.diff(np.log(xs))
    return ExponentFit(**base, exponent=_estimate(g), offset=_estimate(c),
                       covers_prediction=bool(g.covers(pred)) if not math.isnan(g.lo) else None,
                       fit=f.to_dict(), mean_residual=mres.tolist(), holds=holds.tolist(),
                       holds_range=_longest_run(xs, holds),
                       local_slopes=[float(-v) if np.isfinite(v) else None for v in slopes])


def learned_count_fit(key: str, alpha: float, x, n_learned, seeds, *, n_boot: int = 1000, level: float = 0.95,
                      seed: int = 0) -> LearnedCount:
    """``n_learned = a·x^b`` (``power_law`` with g = -b) over the points with at least one quantum learned."""
    x, n, s = (np.asarray(v, dtype=float).ravel() for v in (x, n_learned, seeds))
    xs = np.unique(x)
    per_seed = [n[x == v].astype(int).tolist() for v in xs]
    pred = predicted_count_exponent(key, alpha)
    out = LearnedCount(key, float(alpha), pred, xs.tolist(), [float(np.mean(p)) for p in per_seed], per_seed, None)
    try:
        f = fit("power_law", x, n, groups=s, n_boot=n_boot, level=level, seed=seed,
                name=f"quanta learned vs {key} at alpha={alpha:g}")
    except FitError as e:
        out.error = str(e)
        return out
    g = f.params["g"]
    out.exponent = jsonable({"value": -float(g), "lo": -g.hi, "hi": -g.lo, "level": g.level})
    return out


def exponents_from_points(points: list[dict[str, Any]], *, n_boot: int = 1000, level: float = 0.95, seed: int = 0,
                          hold_tol: float = _HOLD_TOL, width_sweep: str | None = None,
                          data_sweep: str | None = None, rule: str = "", notes=()) -> Exponents:
    """The fits from a table of points ``{key, alpha, x, seed, loss[, n_learned]}`` (one dict a point).

    Every (key, α) gets one ``ExponentFit``; points of keys N and D that carry ``n_learned`` also give a
    ``LearnedCount``.
    """
    n_boot = check_int(n_boot, "n_boot", 0)
    groups: dict[tuple[str, float], list[dict]] = defaultdict(list)
    for p in points:
        groups[(check_choice(p["key"], "key", KEYS), float(p["alpha"]))].append(p)
    if not groups:
        raise AnalysisError("no points to fit: the sweeps hold no finished multitask_parity members")
    fits, learned = [], []
    for (key, alpha), ps in sorted(groups.items(), key=lambda kv: (KEYS.index(kv[0][0]), kv[0][1])):
        cols = {k: [p[k] for p in ps] for k in ("x", "seed", "loss")}
        fits.append(fit_exponent(key, alpha, cols["x"], cols["loss"], cols["seed"], n_boot=n_boot, level=level,
                                 seed=seed, hold_tol=hold_tol))
        if key in ("N", "D") and all(p.get("n_learned") is not None for p in ps):
            learned.append(learned_count_fit(key, alpha, cols["x"], [p["n_learned"] for p in ps], cols["seed"],
                                             n_boot=n_boot, level=level, seed=seed))
    return Exponents(rule, "Σ_i p_i L_i: Zipf-weighted mean test loss over subtasks, in bits (chance 1 bit)",
                     width_sweep, data_sweep, fits, learned, list(notes))


def _members_by_run(store, sweep) -> dict[int, list[dict]]:
    from grokscope.sweep import sweep_members

    runs: dict[int, list[dict]] = defaultdict(list)
    for m in sweep_members(store, sweep):
        if m["run_id"] is not None and not m.get("diverged"):
            runs[m["run_id"]].append(m)
    if not runs:
        raise AnalysisError(f"sweep {sweep!r} has no trained members yet")
    return runs


def _sweep_points(store, sweep, key: str, *, threshold_bits: float, loss_at: str, s_from_bits: float):
    pts, s_pts, widest = [], [], {}
    for run_id, members in sorted(_members_by_run(store, sweep).items()):
        em = emergence(store, run_id, threshold_bits=threshold_bits, n_boot=0)
        L = np.asarray(em.mean_loss_bits, dtype=float)  # [model, n_eval]
        for m in members:
            curve, me = L[m["member"]], em.members[m["member"]]
            finite = np.isfinite(curve)
            if not finite.any():
                continue
            loss = float(np.nanmin(curve)) if loss_at == "best" else float(curve[finite][-1])
            x = em.n_params if key == "N" else (me.n_train or m["values"].get("task.train_count"))
            pts.append({"key": key, "alpha": em.alpha, "x": float(x), "seed": int(m["seed"]), "loss": loss,
                        "n_learned": me.n_learned, "run_id": run_id})
            if key == "N":
                w = widest.get(em.alpha)
                if w is None or em.n_params > w[0]:
                    widest[em.alpha] = (em.n_params, [])
                if em.n_params >= widest[em.alpha][0]:
                    widest[em.alpha][1].append((int(m["seed"]), em.steps, curve))
    for alpha, (_, curves) in widest.items():
        steps = np.asarray(curves[0][1], dtype=float)
        mean = np.nanmean(np.stack([c for _, _, c in curves]), 0)  # [n_eval]
        below = np.flatnonzero((mean < s_from_bits) & (steps > 0))
        if below.size == 0:
            continue
        for sd, _, c in curves:
            for j in range(below[0], steps.size):
                s_pts.append({"key": "S", "alpha": alpha, "x": float(steps[j]), "seed": sd, "loss": float(c[j])})
    return pts, s_pts


def exponents(store, width_sweep: str | int | None = None, data_sweep: str | int | None = None, *,
              n_boot: int = 1000, level: float = 0.95, seed: int = 0, threshold_bits: float = LEARNED_BITS,
              loss_at: str = "best", s_from_bits: float = 0.9, hold_tol: float = _HOLD_TOL) -> Exponents:
    """L(N) and L(S) from a stored width sweep, L(D) from a stored data sweep, with quanta learned.

    ``width_sweep``: online multitask-parity runs over ``model.width`` (and ``task.alpha``);
    ``data_sweep``: fixed-data runs over ``task.train_count`` (and ``task.alpha``); names or ids,
    at least one. ``loss_at``: ``"best"`` (lowest) or ``"last"`` evaluation per member, for N and D.
    ``s_from_bits``: L(S) uses the steps from the first at which the seed-mean loss of the widest
    network is below this. Seeds are the sweeps' seed indices; the bootstrap resamples them whole.
    """
    if width_sweep is None and data_sweep is None:
        raise AnalysisError("exponents: give a width sweep, a data sweep, or both")
    loss_at = check_choice(loss_at, "loss_at", ("last", "best"))
    threshold_bits = check_number(threshold_bits, "threshold_bits", 0.0, lo_open=True)
    s_from_bits = check_number(s_from_bits, "s_from_bits", 0.0, lo_open=True)
    pts = []
    if width_sweep is not None:
        p, s = _sweep_points(store, width_sweep, "N", threshold_bits=threshold_bits, loss_at=loss_at,
                             s_from_bits=s_from_bits)
        pts += p + s
    if data_sweep is not None:
        pts += _sweep_points(store, data_sweep, "D", threshold_bits=threshold_bits, loss_at=loss_at,
                             s_from_bits=s_from_bits)[0]
    at = "lowest" if loss_at == "best" else "last"
    rule = (f"L = Σ_i p_i L_i in bits at the {at} evaluation (N, D) or at every evaluation from the first "
            f"with seed-mean L < {s_from_bits:g} bit of the widest network (S); L = a x^-g + c by least squares "
            f"on log L, {n_boot} bootstrap resamples of whole seeds, {level:.0%} percentile intervals; the fit "
            f"holds at x where |mean log residual| <= {hold_tol:g}; quanta learned: test loss < "
            f"{threshold_bits:g} bit at the last evaluation, n = a x^b fitted over points with n > 0")
    return exponents_from_points(pts, n_boot=n_boot, level=level, seed=seed, hold_tol=hold_tol,
                                 width_sweep=None if width_sweep is None else str(width_sweep),
                                 data_sweep=None if data_sweep is None else str(data_sweep), rule=rule)
