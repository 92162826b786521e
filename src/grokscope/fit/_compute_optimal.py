"""The compute-optimal allocation N_opt ∝ C^a, D_opt ∝ C^b: from a fitted L(N, D), and from IsoFLOP profiles.

With the training compute ``C = 6 N D`` (Kaplan et al. 2020; Hoffmann et al. 2022), minimizing
``L(N, D) = E + A/N^α + B/D^β`` at fixed C gives (Hoffmann et al. 2022)

    N_opt(C) = G (C/6)^a,   D_opt(C) = G^-1 (C/6)^b,
    a = β/(α+β),   b = α/(α+β),   G = (αA / (βB))^(1/(α+β)).

``compute_optimal(fit)`` evaluates this at the fitted parameters and, on each bootstrap
resample of the fit, gives percentile intervals for a, b and G.

The second estimate is Hoffmann et al.'s **Approach 2** (IsoFLOP profiles): group the runs by
their FLOP budget; at each budget fit a parabola of the loss against log N and take its minimum
as N_opt(C); then fit the power law N_opt = k C^a through ``grokscope.fit`` (least squares on
log N_opt, bootstrap over budgets). ``D_opt = C / (6 N_opt)``, so that fit's b is 1 − a.

>>> a, b, G = allocation_exponents(406.4, 410.7, 0.34, 0.28)
>>> round(a, 4), round(b, 4), round(a + b, 12)
(0.4516, 0.5484, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from grokscope._json import jsonable
from grokscope.fit._bootstrap import percentile_interval
from grokscope.fit._chinchilla import ChinchillaFit, check_positive
from grokscope.fit._fit import check_level, fit
from grokscope.fit._result import Estimate, FitError, FitResult, checked
from grokscope.validate import check_int, check_number

__all__ = ["ComputeOptimal", "IsoFLOPProfiles", "allocation_exponents", "compute_optimal", "isoflop_profiles"]

FLOPS_PER_PARAM_TOKEN = 6.0  # C = 6 N D: forward + backward pass of a transformer (Kaplan et al. 2020)


def allocation_exponents(A, B, alpha, beta) -> tuple:
    """``(a, b, G)`` of the compute-optimal frontier (Hoffmann et al. 2022); arrays broadcast."""
    a = beta / (alpha + beta)
    b = alpha / (alpha + beta)
    G = np.power(alpha * A / (beta * B), 1.0 / (alpha + beta))
    return a, b, G


@dataclass(frozen=True)
class ComputeOptimal:
    """N_opt = G (C/6)^a and D_opt = (C/6)^b / G from a fitted L(N, D), with bootstrap intervals."""

    a: Estimate
    b: Estimate
    G: Estimate
    definition: str = ("minimize E + A/N^alpha + B/D^beta subject to C = 6 N D: N_opt = G (C/6)^a, "
                       "D_opt = (C/6)^b / G, a = beta/(alpha+beta), b = alpha/(alpha+beta), "
                       "G = (alpha A/(beta B))^(1/(alpha+beta)) (Hoffmann et al. 2022)")

    def n_opt(self, c) -> np.ndarray:
        return float(self.G) * np.power(np.asarray(c, float) / FLOPS_PER_PARAM_TOKEN, float(self.a))

    def d_opt(self, c) -> np.ndarray:
        return np.power(np.asarray(c, float) / FLOPS_PER_PARAM_TOKEN, float(self.b)) / float(self.G)

    def to_dict(self) -> dict:
        return jsonable({"a": self.a.to_dict(), "b": self.b.to_dict(), "G": self.G.to_dict(),
                         "definition": self.definition})


def compute_optimal(f: ChinchillaFit) -> ComputeOptimal:
    """The compute-optimal exponents of a fitted L(N, D), intervals from the fit's own bootstrap resamples."""
    p = {k: float(v) for k, v in f.params.items()}
    point = allocation_exponents(p["A"], p["B"], p["alpha"], p["beta"])
    boot = None
    if f.boot is not None and len(f.boot):
        _, A, B, al, be = f.boot.T
        with np.errstate(all="ignore"):
            boot = allocation_exponents(A, B, al, be)
    out = []
    for j, v in enumerate(point):
        lo, hi = percentile_interval(boot[j], f.level) if boot is not None else (math.nan, math.nan)
        out.append(Estimate(float(v), lo, hi, f.level))
    return ComputeOptimal(*out)


@dataclass(frozen=True)
class IsoFLOPProfiles:
    """Approach 2: per FLOP budget the parabola's minimum, and the power law N_opt = k C^a through them."""

    budgets: np.ndarray = field(repr=False)     # [n_profiles] C of each profile used (geometric mean of its runs)
    n_opt: np.ndarray = field(repr=False)       # [n_profiles] argmin over N of the fitted parabola
    loss_opt: np.ndarray = field(repr=False)    # [n_profiles] the parabola's minimum loss
    coef: np.ndarray = field(repr=False)        # [n_profiles, 3] (c0, c1, c2) of L = c0 + c1 x + c2 x^2, x = log N
    n_runs: np.ndarray = field(repr=False)      # [n_profiles] runs in each profile
    skipped: dict                               # budget -> why it was not used (too few runs, not convex, ...)
    n_fit: FitResult                            # power_law of N_opt against C: N_opt = k C^-g, so a = -g
    a: Estimate
    b: Estimate
    definition: str = ("runs grouped by C = 6 N D; per group L = c0 + c1 log N + c2 (log N)^2 by least squares, "
                       "N_opt = exp(-c1 / (2 c2)); then log N_opt = log k + a log C by least squares "
                       "(Hoffmann et al. 2022, Approach 2); b = 1 - a since D_opt = C / (6 N_opt)")

    def to_dict(self) -> dict:
        return jsonable({"budgets": self.budgets, "n_opt": self.n_opt, "loss_opt": self.loss_opt, "coef": self.coef,
                         "n_runs": self.n_runs, "skipped": {f"{k:.4g}": v for k, v in self.skipped.items()},
                         "n_fit": self.n_fit.to_dict(), "a": self.a.to_dict(), "b": self.b.to_dict(),
                         "definition": self.definition})


def _groups(logc: np.ndarray, budgets, tol_dex: float) -> list[np.ndarray]:
    """Indices of the runs of each FLOP budget: nearest given budget within tol_dex, or gaps > tol_dex."""
    if budgets is not None:
        lb = np.log10(check_positive(budgets, "budgets"))
        near = np.abs(logc[:, None] - lb[None, :])                                  # [n, n_budgets]
        j = near.argmin(axis=1)
        ok = near[np.arange(logc.size), j] <= tol_dex
        return [np.flatnonzero(ok & (j == k)) for k in range(lb.size)]
    order = np.argsort(logc, kind="stable")
    cuts = np.flatnonzero(np.diff(logc[order]) > tol_dex) + 1
    return [np.sort(g) for g in np.split(order, cuts)]


def isoflop_profiles(
    n,
    d,
    loss,
    *,
    budgets=None,             # FLOP budgets to group around; None: split where log10 C jumps by > tol_dex
    tol_dex: float = 0.05,    # how far (decades) a run's C may lie from its budget
    min_runs: int = 4,        # runs (at distinct N) a profile needs for its parabola
    n_boot: int = 0,
    level: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> IsoFLOPProfiles:
    """Hoffmann et al.'s Approach 2 on runs ``(n, d, loss)``; see the module docstring.

    A profile is used when it has ``min_runs`` distinct N, its parabola opens upward, and its
    minimum lies inside the N range it sampled (a minimum outside would be extrapolated); the
    others are listed in ``skipped`` with the reason. At least 3 profiles are needed.
    """
    n, d, loss = check_positive(n, "N"), check_positive(d, "D"), check_positive(loss, "loss")
    if not n.size == d.size == loss.size:
        raise FitError(f"isoflop: N, D and loss have {n.size}, {d.size} and {loss.size} values; they must pair up")
    tol_dex = checked(check_number, tol_dex, "tol_dex", 0.0, lo_open=True)
    min_runs = checked(check_int, min_runs, "min_runs", 3)
    level = check_level(level)
    c = FLOPS_PER_PARAM_TOKEN * n * d
    rows, skipped = [], {}
    for g in _groups(np.log10(c), budgets, tol_dex):
        if g.size == 0:
            continue
        budget = float(np.exp(np.log(c[g]).mean()))
        x = np.log(n[g])
        if np.unique(x).size < min_runs:
            skipped[budget] = f"{np.unique(x).size} distinct N (< {min_runs})"
            continue
        c2, c1, c0 = np.polyfit(x, loss[g], 2)
        if not c2 > 0:
            skipped[budget] = "parabola opens downward (no minimum)"
            continue
        xs = -c1 / (2 * c2)
        if not x.min() <= xs <= x.max():
            skipped[budget] = f"minimum at N = {math.exp(xs):.3g}, outside the sampled N range"
            continue
        rows.append((budget, math.exp(xs), c0 - c1 * c1 / (4 * c2), (c0, c1, c2), g.size))
    if len(rows) < 3:
        raise FitError(f"isoflop: {len(rows)} usable FLOP budget(s) (skipped: {len(skipped)}); need at least 3 "
                       f"to fit N_opt against C")
    budgets_u, n_opt, loss_opt, coef, n_runs = (np.array(v) for v in zip(*rows))
    nf = fit("power_law", budgets_u, n_opt, n_boot=n_boot, level=level, seed=seed, name="isoflop N_opt(C)")
    g = nf.params["g"]
    a = Estimate(-float(g), -g.hi, -g.lo, level)
    b = Estimate(1.0 - float(a), 1.0 - a.hi, 1.0 - a.lo, level)
    return IsoFLOPProfiles(budgets=budgets_u, n_opt=n_opt, loss_opt=loss_opt, coef=coef, n_runs=n_runs,
                           skipped=skipped, n_fit=nf, a=a, b=b)
