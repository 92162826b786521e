"""The broken power law: two exponents meeting at a sharp break.

``y = a * (x / xb)**-g1`` for ``x < xb`` and ``a * (x / xb)**-g2`` for ``x >= xb``: a
continuous curve whose log-log slope jumps from ``-g1`` to ``-g2`` at ``xb`` (a *sharp*
break; ``a`` is the value at the break). Fitted by least squares on ``log y``: for a fixed
break the law is linear in ``(log a, g1, g2)``, so a profile over ``log xb`` finds the
basin, and ``least_squares`` refines all four parameters together. The break is kept
between the third and the third-to-last distinct x, so that each exponent rests on at
least three points (the break point shared): a break next to the edge would spend an
exponent on fitting one point exactly. The law therefore needs 6 distinct x.

>>> import numpy as np
>>> x = np.logspace(0, 3, 13)
>>> y = np.where(x < 30, (x / 30) ** -0.5, (x / 30) ** -2.0)
>>> p, rss = BROKEN_POWER_LAW.solve(x, y, {}, 0.0)
>>> [round(float(v), 4) for v in p]
[1.0, 0.5, 2.0, 30.0]
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import least_squares

from grokscope.fit._law import Law

__all__ = ["BROKEN_POWER_LAW"]

_N_PROFILE = 120  # break positions tried on the log-x axis before refinement


def _predict(x, a, g1, g2, xb):
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.log(x / xb)
    return a * np.exp(-g1 * np.minimum(u, 0.0) - g2 * np.maximum(u, 0.0))


def _solve(x, y, fixed, x0_min):
    lx, ly = np.log(x), np.log(y)
    d = np.unique(lx)
    grid = np.linspace(d[2], d[-3], _N_PROFILE)                      # [G] candidate log xb
    u = lx[None, :] - grid[:, None]                                  # [G, n]
    X = np.stack([np.ones_like(u), -np.minimum(u, 0.0), -np.maximum(u, 0.0)], axis=-1)   # [G, n, 3]
    coef = np.linalg.pinv(X) @ ly                                    # [G, 3] (log a, g1, g2) per break
    rss = ((X @ coef[:, :, None])[..., 0] - ly[None, :]) ** 2        # [G, n]
    rss = rss.sum(axis=1)
    i = int(np.nanargmin(rss))
    p0 = [*coef[i], grid[i]]

    def resid(p):
        loga, g1, g2, lxb = p
        v = lx - lxb
        return loga - g1 * np.minimum(v, 0.0) - g2 * np.maximum(v, 0.0) - ly

    lo, up = [-np.inf, -np.inf, -np.inf, d[2]], [np.inf, np.inf, np.inf, d[-3]]
    sol = least_squares(resid, p0, bounds=(lo, up), x_scale="jac")
    p, rss_fit = sol.x, float((sol.fun**2).sum())
    if rss_fit > rss[i]:                                             # keep the profile optimum if refinement wandered
        p, rss_fit = np.asarray(p0), float(rss[i])
    return np.array([math.exp(p[0]), p[1], p[2], math.exp(p[3])]), rss_fit


BROKEN_POWER_LAW = Law(
    "broken_power_law", ("a", "g1", "g2", "xb"),
    "a * (x/xb)^-g1 for x < xb, a * (x/xb)^-g2 for x >= xb  (sharp break, continuous at xb)",
    _solve, _predict, min_distinct=6,
)
