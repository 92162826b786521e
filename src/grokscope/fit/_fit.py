"""Fit one law to points, with a bootstrap interval on every parameter.

``fit(law, x, y)`` drops the points where the loss is undefined (non-finite x or y,
``y <= 0``, and ``x <= 0`` for laws in ``log x``), solves the law's least-squares problem
(see ``_laws``), and, with ``n_boot > 0``, refits on resamples of the points or of whole
groups (``groups=``: one label per point, e.g. the seed) to give percentile intervals.

>>> import numpy as np
>>> x = np.logspace(0, 3, 20)
>>> f = fit("power_law", x, 2.0 * x**-0.5, n_boot=50, seed=0)
>>> round(f.params["a"], 6), round(f.params["g"], 6), f.n_points
(2.0, 0.5, 20)
>>> fit("shifted_power_law", [1.0, 2.0, 3.0], [3.0, 2.0, 1.0])
Traceback (most recent call last):
...
grokscope.fit._result.FitError: shifted_power_law: 3 usable points (finite x and y, y > 0) at 3 distinct x; need at least 4 distinct x to fit 3 parameters
"""

from __future__ import annotations

import math

import numpy as np

from grokscope.fit._bootstrap import percentile_interval, resamples
from grokscope.fit._law import Law
from grokscope.fit._laws import get_law
from grokscope.fit._result import Estimate, FitError, FitResult, checked
from grokscope.validate import check_int, check_number

__all__ = ["fit", "usable_points", "check_level", "loo_rmse"]


def check_level(level: object, key: str = "level") -> float:
    """A coverage level strictly between 0 and 1 (e.g. 0.95)."""
    return checked(check_number, level, key, 0.0, 1.0, lo_open=True, hi_open=True)


def _check_fixed(law: Law, fixed) -> dict[str, float]:
    fixed = dict(fixed or {})
    for k, v in fixed.items():
        if k not in law.fixable:
            allowed = ", ".join(law.fixable) or "none"
            raise FitError(f"fixed={{{k!r}: ...}}: {law.name} can hold fixed only: {allowed}")
        fixed[k] = checked(check_number, v, f"fixed[{k!r}]")
    return fixed


def usable_points(law: Law, x, y, groups=None, name: str | None = None):
    """``x, y [, groups]`` restricted to the points where the law's loss is defined."""
    name = name or law.name
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise FitError(f"{name}: x has {x.size} values but y has {y.size}; they must pair up")
    ok = np.isfinite(x) & np.isfinite(y) & (y > 0)
    if law.log_x:
        ok &= x > 0
    g = None
    if groups is not None:
        g = np.asarray(groups).ravel()
        if g.size != x.size:
            raise FitError(f"{name}: groups has {g.size} labels but there are {x.size} points")
        g = g[ok]
    return x[ok], y[ok], g


def _require_points(law: Law, x: np.ndarray, n_fixed: int, name: str) -> None:
    need = law.min_points(n_fixed)
    d = np.unique(x).size
    if d < need:
        cond = "finite x and y, y > 0" + (", x > 0" if law.log_x else "")
        raise FitError(f"{name}: {x.size} usable points ({cond}) at {d} distinct x; "
                       f"need at least {need} distinct x to fit {len(law.params) - n_fixed} parameters")


def loo_rmse(law: Law, x: np.ndarray, y: np.ndarray, fixed: dict[str, float], x0_min: float = 0.0) -> float:
    """Root-mean-square of the leave-one-out residuals ``log y_i - log f_(-i)(x_i)``.

    ``inf`` where a held-out prediction is not positive and finite, NaN if some refit is impossible.
    """
    err = []
    need = law.min_points(len(fixed))
    for i in range(x.size):
        keep = np.arange(x.size) != i
        if np.unique(x[keep]).size < need:
            return math.nan
        try:
            p, _ = law.solve(x[keep], y[keep], fixed, x0_min)
        except FitError:
            return math.nan
        pred = law.predict(x[i : i + 1], *p)[0]
        err.append(math.log(pred) - math.log(y[i]) if np.isfinite(pred) and pred > 0 else math.inf)
    return float(np.sqrt(np.mean(np.square(err))))


def fit(
    law: str | Law,
    x,
    y,
    *,
    fixed: dict[str, float] | None = None,
    groups=None,
    n_boot: int = 0,
    level: float = 0.95,
    seed: int | np.random.Generator = 0,
    loo: bool = False,
    x0_min: float = 0.0,  # shifted_power_law: x0 is searched in [x0_min, min x); sizes and times are >= 0
    name: str | None = None,
) -> FitResult:
    """Fit ``law`` to ``(x, y)`` by least squares on ``log y``; see the module docstring.

    ``fixed``: parameters held at a value (``{"g": 1.0}``). ``groups``: one label per point;
    with it the bootstrap resamples whole groups, else single points. ``n_boot`` resamples
    from ``seed`` (an int or a ``numpy.random.Generator``) give percentile intervals of
    coverage ``level``; resamples where the law cannot be fitted (too few distinct x) are
    skipped and counted in ``n_boot_failed``. ``loo``: also compute the leave-one-out error.
    ``name`` labels error messages.
    """
    L = get_law(law)
    name = name or L.name
    level = check_level(level)
    n_boot = checked(check_int, n_boot, "n_boot", 0)
    x0_min = checked(check_number, x0_min, "x0_min")
    fix = _check_fixed(L, fixed)
    x, y, g = usable_points(L, x, y, groups, name)
    _require_points(L, x, len(fix), name)
    values, rss = L.solve(x, y, fix, x0_min)
    with np.errstate(divide="ignore"):
        residuals = np.log(y) - np.log(L.predict(x, *values))

    need = L.min_points(len(fix))
    boots, failed = [], 0
    if n_boot:
        for idx in resamples(n_boot, x.size, groups=g, seed=seed):
            if np.unique(x[idx]).size < need:
                failed += 1
                continue
            try:
                boots.append(L.solve(x[idx], y[idx], fix, x0_min)[0])
            except FitError:
                failed += 1
    B = np.asarray(boots, dtype=float).reshape(len(boots), len(L.params))   # [n_ok, n_params]
    params = {}
    for j, p in enumerate(L.params):
        v = float(values[j])
        lo, hi = (v, v) if p in fix else percentile_interval(B[:, j], level)
        params[p] = Estimate(v, lo, hi, level)
    return FitResult(
        law=L.name, params=params, definition=L.definition(fix), n_points=int(x.size), rss=float(rss),
        k=len(L.params) - len(fix), residuals=residuals, x=x, y=y, fixed=tuple(fix),
        loo=loo_rmse(L, x, y, fix, x0_min) if loo else math.nan,
        n_boot=n_boot, n_boot_failed=failed, level=level,
        bootstrap="none" if not n_boot else ("groups" if g is not None else "points"),
        predict_fn=L.predict,
    )
