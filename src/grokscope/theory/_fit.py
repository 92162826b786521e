"""Power-law fits with bootstrap intervals, in the notation of the theory studies.

Every exponent grokscope reports from a simulation (ν of the grokking time, the trap-model
slopes, the exploration exponent) goes through `fit_power_law`, a thin view of
``grokscope.fit.fit("power_law", ...)``: an ordinary least-squares line through
(log x, log y), with a percentile bootstrap interval. The bootstrap resamples the *points*
by default, or whole groups of points (`groups=`, e.g. one group per graph realization)
when points from one realization are correlated.

`PowerLawFit` is kept for the studies' JSON and for existing callers; new code should use
``grokscope.fit.fit`` and its ``FitResult`` (there the law is ``a * x^-g``, so
``exponent = -g``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from grokscope.fit import check_level, fit

__all__ = ["PowerLawFit", "fit_power_law"]


@dataclass(frozen=True)
class PowerLawFit:
    """``y ≈ prefactor * x**exponent``, with a bootstrap interval on the exponent."""

    exponent: float
    prefactor: float
    ci_low: float  # percentile bootstrap interval of `exponent`
    ci_high: float
    ci: float  # the interval's coverage, e.g. 0.95
    n_points: int
    x_min: float  # the range the fit used: an exponent means nothing outside it
    x_max: float

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.exponent:.3f} [{self.ci_low:.3f}, {self.ci_high:.3f}]"


def fit_power_law(
    x,
    y,
    *,
    groups=None,
    n_boot: int = 1000,  # 1000 resamples: the 2.5% / 97.5% percentiles move < 0.01 in log units
    ci: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> PowerLawFit:
    """Fit ``y = A x^b`` by least squares in log-log space, with a bootstrap interval on b.

    Points with non-positive or non-finite x or y are dropped (they have no logarithm).
    Errors are ``grokscope.fit.FitError`` (a ``ConfigError`` and an ``AnalysisError``).

    >>> import numpy as np
    >>> x = np.logspace(0, 3, 20)
    >>> fit = fit_power_law(x, 2.0 * x ** -0.5, n_boot=50)
    >>> round(fit.exponent, 6), round(fit.prefactor, 6)
    (-0.5, 2.0)
    """
    ci = check_level(ci, "ci")
    f = fit("power_law", x, y, groups=groups, n_boot=n_boot, level=ci, seed=seed, name="fit_power_law")
    g = f.params["g"]
    return PowerLawFit(
        exponent=-float(g),
        prefactor=float(f.params["a"]),
        ci_low=-g.hi,
        ci_high=-g.lo,
        ci=ci,
        n_points=f.n_points,
        x_min=float(f.x.min()),
        x_max=float(f.x.max()),
    )
