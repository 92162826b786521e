"""Fits of grokking time against data size, and a model comparison between them.

Two laws compete for "how long does grokking take with D training examples":

* the **percolation law** of Gokhale (2023, "The semantic landscape paradigm for neural
  networks", §3.1): below a critical size D_c the graph of heuristic models is
  disconnected, above it the grokking rate grows with the excess degree, so
  ``t_g = A * (D - D_c) ** (-nu)`` with the paper's prediction ``nu = 1``;
* a **power law with an offset**, ``t = a * r ** (-gamma) + b``, which has no
  threshold: the time stays finite for every r > 0.

Both are ``grokscope.fit`` laws (``shifted_power_law`` and ``power_law_offset``) in this
module's notation: least squares on ``log t`` (times are positive and their noise is
multiplicative), a profile over the nonlinear parameter (D_c, resp. b) refined with
``scipy.optimize.least_squares``. The comparison is ``grokscope.fit.compare``: AIC and BIC
of a Gaussian likelihood on log-times, and the leave-one-out error of each law.

``Fit`` and ``ModelComparison`` are deprecated aliases of ``grokscope.fit.FitResult`` and
``grokscope.fit.Comparison``.

>>> import numpy as np
>>> D = np.linspace(300, 900, 13)
>>> t = 5e5 * (D - 200.0) ** -1.0
>>> fit = fit_shifted_power(D, t)
>>> round(fit.params["D_c"]), round(fit.params["nu"], 3)
(200, 1.0)
"""

from __future__ import annotations

import numpy as np

from grokscope.fit import Comparison, FitError, FitResult, compare, fit

__all__ = ["Fit", "ModelComparison", "fit_shifted_power", "fit_power_offset", "compare_fits"]

Fit = FitResult                  # deprecated alias: the one fit result type
ModelComparison = Comparison     # deprecated alias

# This module's notation for the two laws of grokscope.fit.
_SHIFTED = {"a": "A", "g": "nu", "x0": "D_c"}
_OFFSET = {"a": "a", "g": "gamma", "c": "b"}


def _shifted(f: FitResult) -> FitResult:
    return f.renamed(_SHIFTED, law="shifted_power")


def _offset(f: FitResult) -> FitResult:
    return f.renamed(_OFFSET, law="power_offset")


def fit_shifted_power(D, t, *, nu: float | None = None, d_c_min: float = 0.0) -> FitResult:
    """Fit ``t = A * (D - D_c) ** (-nu)`` on log t; pass ``nu=1.0`` to test the paper's exponent.

    D_c is searched in ``[d_c_min, min(D))``: a data size cannot be negative, and the law is
    only defined above D_c. Gokhale (2023) §3.1 predicts ``nu = 1`` (grokking rate
    proportional to the excess degree D - D_c of the graph of heuristic models).

    >>> import numpy as np
    >>> D = np.array([0.3, 0.4, 0.5, 0.6, 0.8]); t = 100 / (D - 0.25)
    >>> round(fit_shifted_power(D, t, nu=1.0).params["D_c"], 4)
    0.25
    """
    fixed = None if nu is None else {"g": nu}
    return _shifted(fit("shifted_power_law", D, t, fixed=fixed, x0_min=d_c_min, name="shifted power fit"))


def fit_power_offset(r, t) -> FitResult:
    """Fit ``t = a * r ** (-gamma) + b`` (``a, b >= 0``) on log t: the threshold-free alternative.

    >>> import numpy as np
    >>> r = np.linspace(0.2, 0.9, 8); t = 30 * r ** -2.0 + 50
    >>> f = fit_power_offset(r, t)
    >>> round(f.params["gamma"], 3), round(f.params["b"], 2)
    (2.0, 50.0)
    """
    if np.any(np.asarray(r, dtype=float) <= 0):
        raise FitError("power-law-with-offset fit: data sizes must be > 0")
    return _offset(fit("power_law_offset", r, t, name="power-law-with-offset fit"))


def compare_fits(x, t, *, loo: bool = True) -> tuple[dict[str, FitResult], Comparison]:
    """Fit the percolation law (free nu and nu = 1) and the power law with offset, and compare them.

    Returns the fits by name (``"shifted_power"``, ``"shifted_power_nu1"``, ``"power_offset"``)
    and their ``Comparison``. All three use the same points and the same Gaussian
    likelihood on log t, so their AIC/BIC are directly comparable.

    >>> import numpy as np
    >>> D = np.linspace(300, 900, 10); t = 4e5 / (D - 250)
    >>> fits, cmp = compare_fits(D, t * np.exp(0.01 * np.sin(D)))
    >>> cmp.best in ("shifted_power", "shifted_power_nu1")
    True
    """
    c = compare(x, t, {
        "shifted_power": "shifted_power_law",
        "shifted_power_nu1": ("shifted_power_law", {"g": 1.0}),
        "power_offset": "power_law_offset",
    }, loo=loo)
    rename = {"shifted_power": _shifted, "shifted_power_nu1": _shifted, "power_offset": _offset}
    fits = {k: rename[k](f) for k, f in c.fits.items()}
    return fits, Comparison(fits=fits, aic=c.aic, bic=c.bic, loo=c.loo, best=c.best, delta_aic=c.delta_aic,
                            y_name="t")
