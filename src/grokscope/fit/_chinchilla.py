"""Chinchilla's parametric loss L(N, D) = E + A/N^α + B/D^β, fitted the way the field does.

Hoffmann et al. 2022 ("Training Compute-Optimal Large Language Models", Approach 3) and
Epoch's replication (Besiroglu, Erdil, Barnett & You 2024, "Chinchilla Scaling: A
replication attempt") fit the law to (model size N, training tokens D, final loss L) by:

* the **log-sum-exp parametrization**: with ``a = log A``, ``b = log B``, ``e = log E``,
  ``log L̂ = LSE(a - α log N, b - β log D, e)``, so every parameter lives on R;
* a **Huber loss on log L** with ``δ = 10^-3``: ``sum_i huber_δ(log L̂_i - log L_i)``;
* **L-BFGS** from a **grid of initializations** (α, β ∈ {0, 0.5, ..., 2}, e ∈ {-1, -0.5, ..., 1},
  a, b ∈ {0, 5, ..., 25}: 4,500 starts), keeping the lowest loss;
* **bootstrap** intervals: refits on resamples of the points (Epoch: 4,000 resamples, each
  refitted from one start), percentile intervals.

Two choices of ours, both measured in docs/scaling.md:

* Scipy's L-BFGS-B stops when the *absolute* change of the loss falls below ``ftol`` for losses
  under 1, and this loss is ~10^-3 — the early stop Epoch identified in Hoffmann et al.'s fit. We
  minimize the same loss divided by δ, with tight tolerances, and the gradient in closed form.
* The 4,500 grid points are screened by their loss (one vectorized evaluation) and L-BFGS is
  run from the ``n_starts`` best (default 64); ``n_starts=None`` runs all 4,500 (Hoffmann's
  protocol, ~1 CPU-minute on 240 points). On Epoch's data both reach the same optimum (the
  losses agree to 1e-15, the parameters to 7 significant digits).
  Each bootstrap resample is refitted from the full-data optimum (Epoch's bootstrap starts from
  one point too).

>>> import numpy as np
>>> N, D = np.meshgrid(np.geomspace(1e7, 1e10, 6), np.geomspace(1e9, 1e12, 6))
>>> L = chinchilla_loss(N, D, 1.69, 406.4, 410.7, 0.34, 0.28)
>>> f = fit_chinchilla(N.ravel(), D.ravel(), L.ravel())
>>> [round(float(f.params[k]), 3) for k in ("E", "A", "B", "alpha", "beta")]
[1.69, 406.4, 410.7, 0.34, 0.28]
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from grokscope._json import jsonable
from grokscope.fit._bootstrap import percentile_interval, resamples
from grokscope.fit._fit import check_level
from grokscope.fit._result import Estimate, FitError, checked
from grokscope.validate import check_int, check_number

__all__ = ["CHINCHILLA_PARAMS", "HOFFMANN_GRID", "HUBER_DELTA", "ChinchillaFit", "check_positive", "chinchilla_loss",
           "fit_chinchilla"]

HUBER_DELTA = 1e-3  # Hoffmann et al. 2022 (Approach 3); Besiroglu et al. 2024's notebook
CHINCHILLA_PARAMS = ("E", "A", "B", "alpha", "beta")
# The initializations of Hoffmann et al. 2022 (Approach 3), as Epoch's notebook writes them, in the optimizer's coordinates (a, b, e, α, β).
HOFFMANN_GRID = np.array(list(itertools.product(
    np.arange(0, 30, 5), np.arange(0, 30, 5), np.arange(-1, 1.5, 0.5),
    np.arange(0, 2.5, 0.5), np.arange(0, 2.5, 0.5))), dtype=float)                 # [4500, 5]
_OPTIONS = {"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000}
DEFINITION = (f"L = E + A/N^alpha + B/D^beta, fitted as log L = LSE(a - alpha log N, b - beta log D, e) "
              f"(a = log A, b = log B, e = log E) by minimizing sum_i huber_delta(log L_hat_i - log L_i), "
              f"delta = {HUBER_DELTA:g}, with L-BFGS from a grid of initializations (Hoffmann et al. 2022, "
              f"Approach 3; Besiroglu et al. 2024)")


def chinchilla_loss(n, d, E, A, B, alpha, beta) -> np.ndarray:
    """``E + A / n**alpha + B / d**beta``."""
    return E + A * np.power(np.asarray(n, float), -alpha) + B * np.power(np.asarray(d, float), -beta)


def check_positive(values, key: str) -> np.ndarray:
    """``values`` as a float array, every entry finite and > 0, else one ``FitError`` naming the first bad one."""
    v = np.asarray(values, dtype=float).ravel()
    bad = np.flatnonzero(~(np.isfinite(v) & (v > 0)))
    if bad.size:
        i = int(bad[0])
        raise FitError(f"{key}[{i}]={float(v[i])!r}: must be a finite number > 0 ({bad.size} such value(s) in {key})")
    return v


def _lse(theta: np.ndarray, lN: np.ndarray, lD: np.ndarray):
    """log L̂ and the softmax weights of its three terms, for parameters ``theta [..., 5]`` -> ``[..., n]``."""
    a, b, e, al, be = (theta[..., j, None] for j in range(5))
    t = np.stack(np.broadcast_arrays(a - al * lN, b - be * lD, e), axis=0)      # [3, ..., n]
    m = t.max(axis=0)
    ex = np.exp(t - m)
    s = ex.sum(axis=0)
    return m + np.log(s), ex / s


def _huber(r: np.ndarray, delta: float) -> np.ndarray:
    ar = np.abs(r)
    return np.where(ar <= delta, 0.5 * r * r, delta * (ar - 0.5 * delta))


def _objective(theta, lN, lD, lL, delta):
    """The Huber loss divided by δ, and its gradient in (a, b, e, α, β).

    Written out term by term (not through ``_lse``): L-BFGS calls it ~10^4 times per fit.
    """
    a, b, e, al, be = theta
    t1 = a - al * lN                                                            # [n]
    t2 = b - be * lD
    m = np.maximum(np.maximum(t1, t2), e)
    e1, e2, e3 = np.exp(t1 - m), np.exp(t2 - m), np.exp(e - m)
    s = e1 + e2 + e3
    r = m + np.log(s) - lL                                                      # log L̂ - log L
    ar = np.absolute(r)
    inner = ar <= delta
    f = np.where(inner, 0.5 * r * r, delta * (ar - 0.5 * delta)).sum() / delta
    psi = np.clip(r, -delta, delta) / (delta * s)                               # d(huber/δ)/dr / Σ exp
    g1, g2 = psi @ e1, psi @ e2
    grad = np.array([g1, g2, psi @ e3, -(psi * e1) @ lN, -(psi * e2) @ lD])
    return float(f), grad


def _solve(starts: np.ndarray, lN, lD, lL, delta) -> tuple[np.ndarray, float]:
    """L-BFGS-B from each start; the optimum with the lowest loss (in units of δ) and that loss."""
    best_x, best_f = None, math.inf
    for x0 in starts:
        res = minimize(_objective, x0, args=(lN, lD, lL, delta), jac=True, method="L-BFGS-B", options=_OPTIONS)
        if np.all(np.isfinite(res.x)) and res.fun < best_f:
            best_x, best_f = res.x, float(res.fun)
    if best_x is None:
        raise FitError("chinchilla: L-BFGS found no finite optimum from any initialization")
    return best_x, best_f


def _natural(theta: np.ndarray) -> np.ndarray:
    """(a, b, e, α, β) -> (E, A, B, α, β)."""
    theta = np.asarray(theta, float)
    return np.stack([np.exp(theta[..., 2]), np.exp(theta[..., 0]), np.exp(theta[..., 1]),
                     theta[..., 3], theta[..., 4]], axis=-1)


@dataclass(frozen=True)
class ChinchillaFit:
    """A fitted L(N, D): one ``Estimate`` per parameter (E, A, B, alpha, beta), like ``FitResult``.

    ``huber`` is the loss at the optimum (``sum huber_δ``, not divided by δ), ``rss`` the sum of
    squared log residuals, ``residuals = log L - log L̂``. ``boot [n_ok, 5]`` holds the bootstrap
    estimates (E, A, B, alpha, beta), so derived quantities (the compute-optimal exponents) get
    intervals from the same resamples. ``excluded``: points left out before fitting (the highest
    losses, as Epoch does).
    """

    params: dict[str, Estimate]
    n: np.ndarray = field(repr=False)               # [n_points] model sizes used
    d: np.ndarray = field(repr=False)               # [n_points] training tokens used
    loss: np.ndarray = field(repr=False)            # [n_points] final losses used
    residuals: np.ndarray = field(repr=False)       # [n_points] log L - log L̂
    huber: float
    rss: float
    delta: float = HUBER_DELTA
    n_starts: int = 0                               # L-BFGS runs for the point estimate
    excluded: int = 0
    n_boot: int = 0
    n_boot_failed: int = 0
    level: float = math.nan
    bootstrap: str = "none"
    boot: np.ndarray = field(default=None, repr=False)   # [n_ok, 5] (E, A, B, alpha, beta) per resample
    law: str = "chinchilla"
    definition: str = DEFINITION
    k: int = 5

    @property
    def n_points(self) -> int:
        return int(self.n.size)

    def value(self, name: str) -> float:
        return float(self.params[name])

    def predict(self, n, d) -> np.ndarray:
        """L(n, d) with the fitted parameters."""
        return chinchilla_loss(n, d, *(float(self.params[k]) for k in CHINCHILLA_PARAMS))

    def to_dict(self) -> dict:
        return jsonable({
            "law": self.law, "definition": self.definition,
            "params": {k: v.to_dict() for k, v in self.params.items()},
            "n_points": self.n_points, "excluded": self.excluded, "n_starts": self.n_starts,
            "n_range": [float(self.n.min()), float(self.n.max())], "d_range": [float(self.d.min()), float(self.d.max())],
            "huber": self.huber, "delta": self.delta, "rss": self.rss, "k": self.k, "residuals": self.residuals,
            "n_boot": self.n_boot, "n_boot_failed": self.n_boot_failed, "level": self.level, "bootstrap": self.bootstrap,
        })

    def __str__(self) -> str:
        ps = ", ".join(f"{k} = {v}" for k, v in self.params.items())
        return f"chinchilla: {ps}  ({self.n_points} points, Huber loss {self.huber:.6g})"


def fit_chinchilla(
    n,
    d,
    loss,
    *,
    delta: float = HUBER_DELTA,
    n_starts: int | None = 64,      # best grid points (by loss) L-BFGS starts from; None: all 4,500
    grid: np.ndarray | None = None,  # initializations (a, b, e, alpha, beta) [G, 5]; default HOFFMANN_GRID
    exclude_highest: int = 0,       # leave out the points with the highest losses (Epoch: 5)
    n_boot: int = 0,
    level: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> ChinchillaFit:
    """Fit L(N, D) = E + A/N^α + B/D^β to ``(n, d, loss)``; see the module docstring.

    Every ``n``, ``d`` and ``loss`` must be finite and > 0 (one ``FitError`` line names the first
    that is not); at least 6 points are needed (5 parameters). ``exclude_highest=k`` drops the
    points whose loss is at least the k-th highest (Epoch's rule, ties included). ``n_boot``
    resamples of the points from ``seed`` give percentile intervals of coverage ``level``.
    """
    n, d, loss = check_positive(n, "N"), check_positive(d, "D"), check_positive(loss, "loss")
    if not n.size == d.size == loss.size:
        raise FitError(f"chinchilla: N, D and loss have {n.size}, {d.size} and {loss.size} values; they must pair up")
    delta = checked(check_number, delta, "delta", 0.0, lo_open=True)
    level = check_level(level)
    n_boot = checked(check_int, n_boot, "n_boot", 0)
    exclude_highest = checked(check_int, exclude_highest, "exclude_highest", 0)
    grid = HOFFMANN_GRID if grid is None else np.asarray(grid, float).reshape(-1, 5)
    if n_starts is not None:
        n_starts = checked(check_int, n_starts, "n_starts", 1)
    excluded = 0
    if exclude_highest:
        keep = loss < np.sort(loss)[-exclude_highest] if exclude_highest <= loss.size else np.zeros(loss.size, bool)
        excluded = int((~keep).sum())
        n, d, loss = n[keep], d[keep], loss[keep]
    if n.size <= len(CHINCHILLA_PARAMS):
        raise FitError(f"chinchilla: {n.size} points (after excluding {excluded}); need at least "
                       f"{len(CHINCHILLA_PARAMS) + 1} to fit {len(CHINCHILLA_PARAMS)} parameters")
    lN, lD, lL = np.log(n), np.log(d), np.log(loss)

    # Screen the grid with one vectorized evaluation, then L-BFGS from the best starts.
    if n_starts is not None and n_starts < len(grid):
        rows = max(1, 2**22 // lN.size)                                         # ~100 MiB of [rows, n] temporaries
        screen = np.concatenate([_huber(_lse(grid[i:i + rows], lN, lD)[0] - lL, delta).sum(axis=1)
                                 for i in range(0, len(grid), rows)])            # [G]
        starts = grid[np.argsort(screen, kind="stable")[:n_starts]]
    else:
        starts = grid
    theta, f = _solve(starts, lN, lD, lL, delta)
    pred = _lse(theta, lN, lD)[0]
    residuals = lL - pred

    boots, failed = [], 0
    for idx in resamples(n_boot, n.size, seed=seed) if n_boot else ():
        try:
            boots.append(_solve(theta[None, :], lN[idx], lD[idx], lL[idx], delta)[0])
        except FitError:
            failed += 1
    B = _natural(np.asarray(boots, float).reshape(len(boots), 5))               # [n_ok, 5]
    values = _natural(theta)
    params = {}
    for j, p in enumerate(CHINCHILLA_PARAMS):
        lo, hi = percentile_interval(B[:, j], level) if n_boot else (math.nan, math.nan)
        params[p] = Estimate(float(values[j]), lo, hi, level)
    return ChinchillaFit(
        params=params, n=n, d=d, loss=loss, residuals=residuals, huber=f * delta, rss=float(residuals @ residuals),
        delta=delta, n_starts=len(starts), excluded=excluded, n_boot=n_boot, n_boot_failed=failed, level=level,
        bootstrap="points" if n_boot else "none", boot=B,
        definition=DEFINITION.replace(f"delta = {HUBER_DELTA:g}", f"delta = {delta:g}"),
    )
