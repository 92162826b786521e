"""What a fit returns: estimates with intervals, the definition, and how well the law fits.

An ``Estimate`` is a float (so ``fit.params["g"] * 2`` and ``round(fit.params["g"], 3)``
work) that also carries its percentile interval ``[lo, hi]`` at coverage ``level``. A
``FitResult`` holds one per parameter of the law, the formula and the loss that define
them, and the goodness-of-fit numbers a model comparison needs.

>>> e = Estimate(1.02, 0.95, 1.10, 0.95)
>>> float(e), e.lo, e.hi, str(e)
(1.02, 0.95, 1.1, '1.02 [0.95, 1.1] (95%)')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from grokscope._json import jsonable
from grokscope.errors import AnalysisError, ConfigError

__all__ = ["FitError", "Estimate", "FitResult", "checked"]


class FitError(AnalysisError, ConfigError):
    """A fit cannot be made as asked: too few usable points, a bad coverage level, an unknown law.

    One class for every fit. It is an ``AnalysisError`` (the data lack what the fit needs)
    and, for the theory simulators' callers that caught it before, a ``ConfigError``.
    """


def checked(validator: Callable[..., Any], *args, **kwargs):
    """Run a ``grokscope.validate`` check, raising its one-line message as a ``FitError``."""
    try:
        return validator(*args, **kwargs)
    except ConfigError as e:
        raise FitError(str(e)) from None


class Estimate(float):
    """A fitted value with a percentile interval ``[lo, hi]`` of coverage ``level`` (NaN: none computed)."""

    __slots__ = ("lo", "hi", "level")

    def __new__(cls, value: float, lo: float = math.nan, hi: float = math.nan, level: float = math.nan):
        self = super().__new__(cls, value)
        self.lo, self.hi, self.level = float(lo), float(hi), float(level)
        return self

    def __getnewargs__(self):
        return (float(self), self.lo, self.hi, self.level)

    @property
    def value(self) -> float:
        return float(self)

    def covers(self, truth: float) -> bool:
        """Whether ``truth`` lies in ``[lo, hi]`` (False when there is no interval)."""
        return bool(self.lo <= truth <= self.hi)

    def to_dict(self) -> dict:
        return jsonable({"value": float(self), "lo": self.lo, "hi": self.hi, "level": self.level})

    def __repr__(self) -> str:
        return f"Estimate({float(self)!r}, lo={self.lo!r}, hi={self.hi!r}, level={self.level!r})"

    def __str__(self) -> str:
        if math.isnan(self.lo):
            return f"{float(self):.4g}"
        return f"{float(self):.4g} [{self.lo:.4g}, {self.hi:.4g}] ({round(100 * self.level)}%)"


def _gauss_ll_term(rss: float, n: int) -> float:
    # -2 log L of a Gaussian on the residuals at its maximum-likelihood variance rss/n, without the
    # constant n (1 + log 2π) that every law fitted to the same points shares. A floor keeps an
    # exact fit (rss == 0, noiseless synthetic data) finite.
    return n * math.log(max(rss, 1e-300) / n)


@dataclass(frozen=True)
class FitResult:
    """One fitted law. ``params`` are in the law's order; ``definition`` says what they mean.

    ``rss`` is the loss at the optimum (the sum of squared residuals in the law's loss space,
    ``log y`` for every law here), ``k`` the number of free parameters. ``aic`` and ``bic``
    are those of a Gaussian likelihood on the residuals with its variance as one more
    parameter: ``n log(rss/n) + 2(k+1)`` and ``n log(rss/n) + (k+1) log n``; ``loo`` is the
    root-mean-square leave-one-out residual (NaN where not computed).
    """

    law: str
    params: dict[str, Estimate]
    definition: str
    n_points: int
    rss: float
    k: int
    residuals: np.ndarray = field(repr=False)       # [n_points] log y - log ŷ at the fitted points
    x: np.ndarray = field(repr=False)               # [n_points] the points the fit used
    y: np.ndarray = field(repr=False)
    fixed: tuple[str, ...] = ()                     # parameters held at a given value, not fitted
    loo: float = math.nan
    n_boot: int = 0
    n_boot_failed: int = 0                          # resamples on which the law could not be fitted
    level: float = math.nan
    bootstrap: str = "none"                         # "points", "groups" or "none"
    predict_fn: Callable[..., np.ndarray] | None = field(default=None, repr=False, compare=False)

    @property
    def aic(self) -> float:
        return _gauss_ll_term(self.rss, self.n_points) + 2 * (self.k + 1)

    @property
    def bic(self) -> float:
        return _gauss_ll_term(self.rss, self.n_points) + (self.k + 1) * math.log(self.n_points)

    # the names of the result type that analysis.Fit had
    @property
    def model(self) -> str:
        return self.law

    @property
    def n(self) -> int:
        return self.n_points

    def value(self, name: str) -> float:
        return float(self.params[name])

    def predict(self, x) -> np.ndarray:
        """The law at ``x`` with the fitted parameters (``inf`` where it diverges)."""
        return self.predict_fn(np.asarray(x, dtype=float), *[float(v) for v in self.params.values()])

    def renamed(self, names: dict[str, str], law: str | None = None) -> FitResult:
        """The same fit with parameters renamed (e.g. ``{"x0": "D_c"}``) for a caller's notation."""
        params = {names.get(k, k): v for k, v in self.params.items()}
        fixed = tuple(names.get(k, k) for k in self.fixed)
        where = ", ".join(f"{k} = {v}" for k, v in names.items())
        return FitResult(**{**self.__dict__, "params": params, "fixed": fixed, "law": law or self.law,
                            "definition": f"{self.definition} (here {where})"})

    def to_dict(self) -> dict:
        """JSON-ready: parameters with intervals, the definition, goodness of fit (NaN -> None)."""
        return jsonable({
            "law": self.law, "definition": self.definition,
            "params": {k: v.to_dict() for k, v in self.params.items()}, "fixed": list(self.fixed),
            "n_points": self.n_points, "x_range": [float(self.x.min()), float(self.x.max())],
            "rss": self.rss, "k": self.k, "aic": self.aic, "bic": self.bic, "loo": self.loo,
            "residuals": self.residuals, "n_boot": self.n_boot, "n_boot_failed": self.n_boot_failed,
            "level": self.level, "bootstrap": self.bootstrap,
        })

    def __str__(self) -> str:
        ps = ", ".join(f"{k} = {v}" for k, v in self.params.items())
        return f"{self.law}: {ps}  ({self.n_points} points, AIC {self.aic:.2f})"
