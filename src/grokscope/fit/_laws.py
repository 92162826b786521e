"""The laws: each is a formula, a loss, and a least-squares solver for its point estimate.

Every law here is fitted by least squares on ``log y``: the quantities grokscope fits
(times, losses, exponents' raw data) are positive with multiplicative noise, so the log
scale is where residuals are comparable across decades. Each solver returns the
parameters in the law's order and the loss at the optimum.

=====================  ===========================  =====================================
law                    formula                      how the optimum is found
=====================  ===========================  =====================================
``power_law``          ``a * x**-g``                closed form: a line through (log x, log y)
``power_law_offset``   ``a * x**-g + c``            profile over c, then ``least_squares``
``shifted_power_law``  ``a * (x - x0)**-g``         profile over x0, then ``least_squares``
``broken_power_law``   see ``_broken``              profile over the break, then ``least_squares``
=====================  ===========================  =====================================

The shifted power law is the grokking-time law ``t_g = A (D - D_c)^-nu`` of Gokhale (2023,
"The semantic landscape paradigm for neural networks", §3.1).

>>> import numpy as np
>>> x = np.logspace(0, 2, 9)
>>> p, rss = LAWS["power_law"].solve(x, 3.0 * x**-0.5, {}, 0.0)
>>> [round(float(v), 6) for v in p], rss < 1e-20
([3.0, 0.5], True)
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import least_squares

from grokscope.fit._broken import BROKEN_POWER_LAW
from grokscope.fit._law import Law
from grokscope.fit._result import FitError

__all__ = ["Law", "LAWS", "get_law"]

# Profile grids: fine enough that the refinement starts in the right basin, small enough
# that a 500-sample bootstrap of a three-parameter law stays under a few seconds.
_N_PROFILE = 80

def _line(lx: np.ndarray, ly: np.ndarray) -> tuple[float, float]:
    """Ordinary least squares ``ly = intercept + slope * lx`` (closed form)."""
    dx = lx - lx.mean()
    slope = float((dx * (ly - ly.mean())).sum() / (dx * dx).sum())
    return slope, float(ly.mean() - slope * lx.mean())


# ----------------------------------------------------------------------------- a x^-g

def _power_predict(x, a, g):
    return a * np.power(x, -g)


def _power_solve(x, y, fixed, x0_min):
    lx, ly = np.log(x), np.log(y)
    if "g" in fixed:
        g = fixed["g"]
        loga = float((ly + g * lx).mean())
    else:
        slope, loga = _line(lx, ly)
        g = -slope
    r = ly - loga + g * lx
    return np.array([math.exp(loga), g]), float(r @ r)


# ----------------------------------------------------------------------------- a x^-g + c

def _offset_predict(x, a, g, c):
    return a * np.power(x, -g) + c


def _offset_solve(x, y, fixed, x0_min):
    ly, lx = np.log(y), np.log(x)
    # Profile over c in [0, min y): y - c must stay positive for the log-linear regression.
    grid = y.min() * (1.0 - np.geomspace(1.0, 1e-4, _N_PROFILE))
    Y = np.log(y[None, :] - grid[:, None])                            # [G, n]
    lm = lx.mean()
    dl = lx - lm
    slope = (Y - Y.mean(axis=1, keepdims=True)) @ dl / (dl @ dl)     # regress each row of Y on log x
    inter = Y.mean(axis=1) - slope * lm
    pred = np.log(np.exp(inter[:, None] + slope[:, None] * lx[None, :]) + grid[:, None])
    rss = ((pred - ly[None, :]) ** 2).sum(axis=1)
    i = int(np.nanargmin(rss))
    x0 = [inter[i], -slope[i], grid[i]]

    def resid(p):
        loga, g, c = p
        return np.log(np.exp(loga - g * lx) + c) - ly

    sol = least_squares(resid, x0, bounds=([-np.inf, -np.inf, 0.0], [np.inf, np.inf, np.inf]), x_scale="jac")
    p, rss_fit = sol.x, float((sol.fun**2).sum())
    if rss_fit > rss[i]:                                              # keep the profile optimum if refinement wandered
        p, rss_fit = np.asarray(x0), float(rss[i])
    return np.array([math.exp(p[0]), p[1], p[2]]), rss_fit


# ----------------------------------------------------------------------------- a (x - x0)^-g

def _shifted_predict(x, a, g, x0):
    with np.errstate(divide="ignore", invalid="ignore"):
        out = a * np.power(x - x0, -g)
    return np.where(x > x0, out, np.inf)


def _linreg(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least squares of y on [1, X] for each row of X [G, n]; returns intercept, slope, rss, each [G]."""
    xm = X.mean(axis=1, keepdims=True)
    ym = y.mean()
    dx = X - xm
    sxx = (dx * dx).sum(axis=1)
    slope = (dx * (y - ym)).sum(axis=1) / np.where(sxx > 0, sxx, np.nan)
    inter = ym - slope * xm[:, 0]
    resid = y[None, :] - inter[:, None] - slope[:, None] * X
    return inter, slope, (resid * resid).sum(axis=1)


def _shifted_solve(x, y, fixed, x0_min):
    """x0 is searched in ``[x0_min, min(x))``: the law is only defined above x0."""
    ly = np.log(y)
    g_fix = fixed.get("g")
    xmin, span = x.min(), x.max() - x.min()
    hi = xmin - 1e-9 * max(span, 1.0)
    if x0_min >= hi:
        raise FitError(f"x0_min={x0_min}: must be below the smallest x {xmin}")
    # Profile over x0, denser near min(x) where the divergence makes the fit most sensitive.
    u = np.linspace(0.0, 1.0, _N_PROFILE)
    grid = hi - (hi - x0_min) * u**2
    X = np.log(x[None, :] - grid[:, None])                           # [G, n]
    if g_fix is None:
        inter, slope, rss = _linreg(X, ly)
    else:
        inter = (ly[None, :] + g_fix * X).mean(axis=1)
        slope = np.full_like(inter, -g_fix)
        rss = ((ly[None, :] - inter[:, None] + g_fix * X) ** 2).sum(axis=1)
    i = int(np.nanargmin(rss))
    p0 = [inter[i], -slope[i], grid[i]] if g_fix is None else [inter[i], grid[i]]

    def resid(p):
        if g_fix is None:
            loga, g, x0 = p
        else:
            (loga, x0), g = p, g_fix
        return loga - g * np.log(x - x0) - ly

    lo = [-np.inf, -np.inf, x0_min] if g_fix is None else [-np.inf, x0_min]
    up = [np.inf, np.inf, hi] if g_fix is None else [np.inf, hi]
    p0[-1] = float(np.clip(p0[-1], x0_min, hi))
    sol = least_squares(resid, p0, bounds=(lo, up), x_scale="jac")
    p = sol.x
    rss_fit = float((sol.fun**2).sum())
    if rss_fit > rss[i]:                                             # keep the profile optimum if refinement wandered
        p, rss_fit = np.asarray(p0), float(rss[i])
    loga, g, x0 = (p[0], p[1], p[2]) if g_fix is None else (p[0], g_fix, p[1])
    return np.array([math.exp(loga), g, x0]), rss_fit


LAWS: dict[str, Law] = {law.name: law for law in (
    Law("power_law", ("a", "g"), "a * x^-g", _power_solve, _power_predict, fixable=("g",), nonlinear=False),
    Law("power_law_offset", ("a", "g", "c"), "a * x^-g + c  (a > 0, c >= 0)", _offset_solve, _offset_predict),
    Law("shifted_power_law", ("a", "g", "x0"), "a * (x - x0)^-g  (x0_min <= x0 < min x)", _shifted_solve,
        _shifted_predict, log_x=False, fixable=("g",)),
    BROKEN_POWER_LAW,
)}


def get_law(law: str | Law) -> Law:
    """The law named ``law`` (one of ``LAWS``), or ``law`` itself."""
    if isinstance(law, Law):
        return law
    if law not in LAWS:
        raise FitError(f"law={law!r}: must be one of {', '.join(LAWS)}")
    return LAWS[law]
