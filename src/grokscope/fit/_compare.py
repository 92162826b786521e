"""Model comparison: the same points, several laws, AIC, BIC and leave-one-out error.

Every law is fitted by least squares on ``log y`` to the *same* points (those every
candidate can use), so their Gaussian log-likelihoods, and with them

* ``AIC = n log(RSS/n) + 2 (k + 1)`` and ``BIC = n log(RSS/n) + (k + 1) log n``
  (k free parameters plus the residual variance; constants shared by all laws dropped),
* the leave-one-out RMSE of ``log y``,

are directly comparable. ``best`` is the lowest AIC; ``delta_aic`` its margin over the next
(> 2 is conventional support, > 10 decisive; Burnham & Anderson 2002, "Model Selection and
Multimodel Inference").

>>> import numpy as np
>>> x = np.logspace(0, 2, 12)
>>> y = 5.0 * x**-1.5 * np.random.default_rng(0).lognormal(0.0, 0.05, x.size)
>>> c = compare(x, y, ["power_law", "power_law_offset"])
>>> c.best, round(c.delta_aic, 2)        # the offset fits c = 0 and pays for a parameter it does not use
('power_law', 2.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from grokscope._json import jsonable
from grokscope.fit._fit import fit, usable_points
from grokscope.fit._laws import LAWS, get_law
from grokscope.fit._result import FitError, FitResult, checked
from grokscope.validate import check_choice

__all__ = ["Comparison", "compare"]


@dataclass(frozen=True)
class Comparison:
    """The fits by label, their AIC, BIC and leave-one-out RMSE; ``best`` is the lowest AIC."""

    fits: dict[str, FitResult]
    aic: dict[str, float]
    bic: dict[str, float]
    loo: dict[str, float]
    best: str
    delta_aic: float               # AIC(second best) - AIC(best): > 2 conventional support, > 10 decisive
    y_name: str = "y"              # what y is called in the summary (e.g. "t" for times)

    def best_by(self, criterion: str = "aic") -> str:
        """The law with the lowest ``"aic"``, ``"bic"`` or ``"loo"`` (BIC penalizes extra parameters more
        for n > 7; it is the safer choice when the candidates are nested, e.g. a broken power law
        whose free break point buys more than one parameter's worth of fit on pure noise)."""
        table = {"aic": self.aic, "bic": self.bic, "loo": self.loo}[checked(check_choice, criterion, "criterion",
                                                                             ("aic", "bic", "loo"))]
        finite = {k: v for k, v in table.items() if np.isfinite(v)}
        return min(finite, key=finite.get) if finite else self.best

    @property
    def loo_rmse(self) -> dict[str, float]:  # the name analysis.ModelComparison used
        return self.loo

    def summary(self) -> str:
        rows = [f"{m}: AIC {self.aic[m]:.2f}  BIC {self.bic[m]:.2f}  LOO-RMSE(log {self.y_name}) {self.loo[m]:.4f}"
                for m in self.aic]
        verdict = ("not distinguishable (dAIC < 2)" if self.delta_aic < 2 else
                   "positive support" if self.delta_aic < 10 else "decisive support")
        return "\n".join(rows + [f"best by AIC: {self.best} (dAIC = {self.delta_aic:.2f} over the next: {verdict})"])

    def to_dict(self) -> dict:
        return jsonable({"fits": {k: f.to_dict() for k, f in self.fits.items()}, "aic": self.aic, "bic": self.bic,
                         "loo": self.loo, "best": self.best, "delta_aic": self.delta_aic})


def compare(
    x,
    y,
    laws: Sequence[str] | Mapping[str, str | tuple[str, dict[str, float]]] = tuple(LAWS),
    *,
    loo: bool = True,
    x0_min: float = 0.0,
    name: str = "model comparison",
) -> Comparison:
    """Fit each candidate law to the points all of them can use, and rank them by AIC.

    ``laws``: law names, or labels mapped to a law name or to ``(law name, fixed params)``,
    e.g. ``{"free": "shifted_power_law", "nu1": ("shifted_power_law", {"g": 1.0})}``.
    """
    cands = {n: (n, {}) for n in laws} if not isinstance(laws, Mapping) else {
        k: (v, {}) if isinstance(v, str) else (v[0], dict(v[1])) for k, v in laws.items()}
    if len(cands) < 2:
        raise FitError(f"{name}: {len(cands)} candidate law(s); compare at least 2")
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    for law, _ in cands.values():                        # keep the points every law can use
        x, y, _g = usable_points(get_law(law), x, y, name=name)
    fits = {k: fit(law, x, y, fixed=fx, loo=loo, x0_min=x0_min, name=f"{name} ({k})") for k, (law, fx) in cands.items()}
    aic = {k: f.aic for k, f in fits.items()}
    bic = {k: f.bic for k, f in fits.items()}
    loo_ = {k: f.loo for k, f in fits.items()}
    order = sorted(aic, key=aic.get)
    return Comparison(fits=fits, aic=aic, bic=bic, loo=loo_, best=order[0],
                      delta_aic=float(aic[order[1]] - aic[order[0]]) if len(order) > 1 else math.nan)
