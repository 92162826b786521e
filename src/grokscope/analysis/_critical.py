"""The critical data size D_c, and the law of grokking time above it, with bootstrap intervals.

Gokhale (2023, "The semantic landscape paradigm for neural networks", §3.1) reads grokking
as a percolation transition: below a critical training-set size D_c no path connects the
memorizing solution to the generalizing one, so a network never generalizes; above it the
grokking time falls as ``t_g ∝ 1 / (D - D_c)``. Power et al. (2022, "Grokking: generalization
beyond overfitting on small algorithmic datasets") first reported the critical size. Given a sweep over the data size with several seeds per size, this module:

1. estimates the **threshold** ``D_c^thr``: the data size at which half the seeds generalize
   within the step budget. The per-size fractions are made monotone in D (isotonic
   regression, weighted by seeds) and the 1/2 crossing is linearly interpolated. This is
   an *operational* D_c: with a finite budget it sits above the asymptotic one, because
   times diverge as D -> D_c;
2. fits ``t_g = A (D - D_c)^(-nu)`` to the per-size **median** time (members that did not
   generalize count as +inf, so the median is defined wherever more than half did), which
   gives the *asymptotic* D_c and nu, and the alternative ``t = a D^(-gamma) + b``;
3. compares the laws (AIC/BIC on log t, leave-one-out error; see ``_fits``);
4. bootstraps every number over seeds: each resample draws, at every data size, that size's
   seeds with replacement (``grokscope.fit.resample`` with ``strata=``), and recomputes
   everything. Intervals are percentile intervals (``grokscope.fit.percentile_interval``).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> D = np.repeat(np.arange(100, 320, 20), 9).astype(float)
>>> t = np.where(D > 120, 2e4 / np.maximum(D - 120, 1e-9) * rng.lognormal(0, 0.1, D.size), np.inf)
>>> res = critical_data_size(D, t, budget=1e4, n_boot=50, seed=0)
>>> 100 < res.d_c_fit < 140 and 0.7 < res.nu < 1.3
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from grokscope.analysis._fits import compare_fits, fit_power_offset, fit_shifted_power
from grokscope.errors import AnalysisError
from grokscope.fit import Comparison, FitResult, as_generator, check_level, checked, percentile_interval, resample
from grokscope.validate import check_int

__all__ = ["CriticalResult", "critical_data_size", "plot_critical"]

# drawn in grokscope.plots; importable from here as before
from grokscope.plots._sweeps import plot_critical  # noqa: E402


@dataclass(frozen=True)
class CriticalResult:
    """Everything estimated about D_c, with the data behind it. Intervals are (low, high) percentiles."""

    sizes: np.ndarray              # [n_sizes] distinct data sizes, ascending
    n: np.ndarray                  # [n_sizes] seeds per size
    n_gen: np.ndarray              # [n_sizes] seeds that generalized within the budget
    t_median: np.ndarray           # [n_sizes] median time over seeds (inf where <= half generalized)
    member_x: np.ndarray = field(repr=False)   # [members] data size of each member
    member_t: np.ndarray = field(repr=False)   # [members] time of each member (inf: did not generalize)
    d_c_threshold: float = float("nan")
    d_c_threshold_ci: tuple[float, float] = (float("nan"), float("nan"))
    d_c_fit: float = float("nan")
    d_c_fit_ci: tuple[float, float] = (float("nan"), float("nan"))
    nu: float = float("nan")
    nu_ci: tuple[float, float] = (float("nan"), float("nan"))
    gamma: float = float("nan")
    gamma_ci: tuple[float, float] = (float("nan"), float("nan"))
    fits: dict[str, FitResult] = field(default_factory=dict, repr=False)
    comparison: Comparison | None = None
    budget: float | None = None
    n_boot: int = 0
    n_boot_failed: int = 0         # resamples where a fit was impossible (too few sizes with a median)
    ci_level: float = 0.95

    def summary(self) -> str:
        """A few lines a researcher can paste in a notebook: every number with its definition and interval."""
        pct = round(100 * self.ci_level)
        lines = [
            f"{len(self.sizes)} data sizes, {int(self.n.sum())} members, budget {self.budget} steps, "
            f"{self.n_boot} bootstrap resamples over seeds ({self.n_boot_failed} without a fit), {pct}% intervals",
            f"D_c (half the seeds generalize within the budget): {self.d_c_threshold:.4g} "
            f"[{self.d_c_threshold_ci[0]:.4g}, {self.d_c_threshold_ci[1]:.4g}]",
        ]
        n_fit = int(np.isfinite(self.t_median).sum())
        if not self.fits:
            lines.append(f"no fit of t_g(D): {n_fit} data sizes where more than half the seeds generalized; "
                         f"the laws need at least 4 (add sizes above the threshold or raise the budget)")
        else:
            lines += [
                f"D_c (fit of median t = A (D - D_c)^-nu over {n_fit} sizes): {self.d_c_fit:.4g} "
                f"[{self.d_c_fit_ci[0]:.4g}, {self.d_c_fit_ci[1]:.4g}]",
                f"nu = {self.nu:.3f} [{self.nu_ci[0]:.3f}, {self.nu_ci[1]:.3f}]  (percolation prediction: nu = 1, "
                f"{'inside' if self.nu_ci[0] <= 1 <= self.nu_ci[1] else 'outside'} the interval)",
                f"alternative t = a D^-gamma + b: gamma = {self.gamma:.3f} [{self.gamma_ci[0]:.3f}, {self.gamma_ci[1]:.3f}]",
            ]
            if self.d_c_fit <= 1e-12:
                lines.append("the fitted D_c sits at its lower bound 0: these times show no threshold above 0, "
                             "and the percolation law reduces to a pure power law")
        if self.comparison is not None:
            lines.append(self.comparison.summary())
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-ready numbers (no arrays of members), e.g. for ``store.set_summary`` or a docs table."""
        out = {
            "sizes": self.sizes.tolist(), "n": self.n.tolist(), "n_gen": self.n_gen.tolist(),
            "t_median": [None if not np.isfinite(v) else float(v) for v in self.t_median],
            "d_c_threshold": self.d_c_threshold, "d_c_threshold_ci": list(self.d_c_threshold_ci),
            "d_c_fit": self.d_c_fit, "d_c_fit_ci": list(self.d_c_fit_ci),
            "nu": self.nu, "nu_ci": list(self.nu_ci), "gamma": self.gamma, "gamma_ci": list(self.gamma_ci),
            "fits": {k: {p: float(v) for p, v in f.params.items()} for k, f in self.fits.items()},
            "budget": self.budget, "n_boot": self.n_boot, "n_boot_failed": self.n_boot_failed, "ci_level": self.ci_level,
        }
        if self.comparison is not None:
            c = self.comparison
            out["comparison"] = {"aic": c.aic, "bic": c.bic, "loo_rmse": c.loo, "best": c.best, "delta_aic": c.delta_aic}
        return out


def _isotonic_increasing(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted pool-adjacent-violators: the closest non-decreasing sequence to y."""
    vals, wts, counts = [], [], []
    for yi, wi in zip(y.tolist(), w.tolist()):
        vals.append(yi); wts.append(wi); counts.append(1)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            v2, w2, c2 = vals.pop(), wts.pop(), counts.pop()
            wsum = wts[-1] + w2
            vals[-1] = (vals[-1] * wts[-1] + v2 * w2) / wsum
            wts[-1] = wsum; counts[-1] += c2
    return np.repeat(vals, counts)


def _half_crossing(sizes: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
    """Data size where the isotonic fraction of generalizing seeds first reaches 1/2 (nan if it never does)."""
    q = _isotonic_increasing(p, w)
    if q[0] >= 0.5:
        return float(sizes[0])     # already above half at the smallest size: D_c is at or below it
    above = np.nonzero(q >= 0.5)[0]
    if above.size == 0:
        return float("nan")
    j = above[0]
    x0, x1, q0, q1 = sizes[j - 1], sizes[j], q[j - 1], q[j]
    return float(x0 + (0.5 - q0) * (x1 - x0) / (q1 - q0))


def _per_size(x: np.ndarray, t: np.ndarray, groups: list[np.ndarray]):
    n = np.array([g.size for g in groups])
    n_gen = np.array([np.isfinite(t[g]).sum() for g in groups])
    med = np.array([np.median(t[g]) if g.size else np.inf for g in groups])   # inf entries sort last
    return n, n_gen, med


def critical_data_size(x, t, *, budget: float | None = None, n_boot: int = 500, ci: float = 0.95,
                       seed: int | np.random.Generator = 0, min_sizes_for_fit: int = 4) -> CriticalResult:
    """Estimate D_c (threshold and fitted), nu and gamma with bootstrap intervals over seeds.

    ``x[i]`` is member i's data size (count or fraction), ``t[i]`` its steps to generalize;
    use ``inf`` or ``nan`` for members that did not generalize (or diverged). If ``budget``
    is given, times beyond it are treated as not generalized. See the module docstring for
    the definitions; reference: Gokhale (2023) §3.1, Power et al. (2022).

    >>> import numpy as np
    >>> x = np.repeat([1., 2., 3., 4., 5., 6.], 5); t = np.where(x > 1.5, 100 / np.maximum(x - 1, 1e-9), np.inf)
    >>> r = critical_data_size(x, t, n_boot=20)
    >>> round(r.nu, 3), round(r.d_c_fit, 3)
    (1.0, 1.0)
    """
    x = np.asarray(x, dtype=float).ravel()
    t = np.asarray(t, dtype=float).ravel().copy()
    if x.shape != t.shape:
        raise AnalysisError(f"critical_data_size: {x.size} data sizes but {t.size} times; they must pair up")
    ci = check_level(ci, "ci")
    n_boot = checked(check_int, n_boot, "n_boot", 0)
    min_sizes_for_fit = max(min_sizes_for_fit, 4)   # three parameters need at least four sizes
    t[~np.isfinite(t)] = np.inf
    if budget is not None:
        t[t > budget] = np.inf
    sizes = np.unique(x[np.isfinite(x)])
    if sizes.size < 2:
        raise AnalysisError(f"critical_data_size: {sizes.size} distinct data size(s); sweep over at least 2 (4 to fit a law)")
    groups = [np.nonzero(x == s)[0] for s in sizes]
    n, n_gen, med = _per_size(x, t, groups)

    def estimate(med_, n_, ngen_):
        thr = _half_crossing(sizes, ngen_ / n_, n_)
        ok = np.isfinite(med_)
        if ok.sum() < min_sizes_for_fit:
            return thr, None, None
        try:
            return thr, fit_shifted_power(sizes[ok], med_[ok]), fit_power_offset(sizes[ok], med_[ok])
        except AnalysisError:
            return thr, None, None

    thr, _, _ = estimate(med, n, n_gen)
    ok = np.isfinite(med)
    fits, comparison = {}, None
    if ok.sum() >= min_sizes_for_fit:
        fits, comparison = compare_fits(sizes[ok], med[ok])

    rng = as_generator(seed)
    boot = {"thr": [], "dc": [], "nu": [], "gamma": []}
    failed = 0
    for _ in range(n_boot):
        idx = np.split(resample(rng, x.size, strata=groups), np.cumsum(n)[:-1])   # seeds within each size
        _, ng_b, med_b = _per_size(x, t, idx)
        thr_b, sp, po = estimate(med_b, n, ng_b)
        boot["thr"].append(thr_b)
        if sp is None:
            failed += 1
            continue
        boot["dc"].append(sp.params["D_c"]); boot["nu"].append(sp.params["nu"]); boot["gamma"].append(po.params["gamma"])

    sp, po = fits.get("shifted_power"), fits.get("power_offset")
    nan = float("nan")
    return CriticalResult(
        sizes=sizes, n=n, n_gen=n_gen, t_median=med, member_x=x, member_t=t,
        d_c_threshold=thr, d_c_threshold_ci=percentile_interval(boot["thr"], ci),
        # An interval only around a point estimate: without one, the few resamples that happened to
        # fit would pass for a measurement.
        d_c_fit=float(sp.params["D_c"]) if sp else nan, d_c_fit_ci=percentile_interval(boot["dc"], ci) if sp else (nan, nan),
        nu=float(sp.params["nu"]) if sp else nan, nu_ci=percentile_interval(boot["nu"], ci) if sp else (nan, nan),
        gamma=float(po.params["gamma"]) if po else nan, gamma_ci=percentile_interval(boot["gamma"], ci) if po else (nan, nan),
        fits=fits, comparison=comparison, budget=budget, n_boot=n_boot, n_boot_failed=failed, ci_level=ci,
    )
