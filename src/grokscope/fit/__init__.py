"""Fitting laws to measured points: power laws and their relatives, intervals, model comparison.

One place for every fit grokscope reports: the exponents of the theory simulators, the
critical data size and its grokking-time law, and the scaling laws to come.

Laws (``_laws``, ``_broken``), each fitted by least squares on ``log y``:
``power_law`` a·x^-g, ``power_law_offset`` a·x^-g + c, ``shifted_power_law`` a·(x - x0)^-g
(the grokking-time law t_g ∝ (D - D_c)^-ν of Gokhale 2023, "The semantic landscape paradigm
for neural networks"), ``broken_power_law`` (two exponents, sharp break).
Fits (``_fit``): ``fit`` with a bootstrap over points or over whole groups (seeds), from an
explicit seed or ``numpy.random.Generator``; ``FitResult`` with one ``Estimate`` (value,
interval, level) per parameter and the definition (formula and loss).
Bootstrap (``_bootstrap``): the resampling and the percentile interval, for callers that
bootstrap a whole pipeline (``analysis.critical_data_size``).
Comparison (``_compare``): AIC, BIC and leave-one-out error across laws.

>>> import numpy as np
>>> from grokscope.fit import fit
>>> x = np.logspace(0, 3, 20)
>>> f = fit("power_law", x, 2.0 * x**-0.5 * np.exp(0.05 * np.sin(x)), n_boot=200, seed=0)
>>> f.params["g"].lo < 0.5 < f.params["g"].hi
True
>>> f.definition
'y = a * x^-g, least squares on log y: minimize sum_i (log y_i - log f(x_i))^2'
"""

from grokscope.fit._bootstrap import (
                                       as_generator,
                                       members,
                                       percentile_interval,
                                       resample,
                                       resamples,
)
from grokscope.fit._chinchilla import (
                                       CHINCHILLA_PARAMS,
                                       HOFFMANN_GRID,
                                       HUBER_DELTA,
                                       ChinchillaFit,
                                       check_positive,
                                       chinchilla_loss,
                                       fit_chinchilla,
)
from grokscope.fit._compare import Comparison, compare
from grokscope.fit._compute_optimal import (
                                       ComputeOptimal,
                                       IsoFLOPProfiles,
                                       allocation_exponents,
                                       compute_optimal,
                                       isoflop_profiles,
)
from grokscope.fit._fit import check_level, fit, loo_rmse, usable_points
from grokscope.fit._law import LOG_LOSS, Law
from grokscope.fit._laws import LAWS, get_law
from grokscope.fit._result import Estimate, FitError, FitResult, checked

__all__ = [
    # Chinchilla's L(N, D) (Hoffmann et al. 2022, Approach 3) and the compute-optimal allocation
    "fit_chinchilla", "ChinchillaFit", "chinchilla_loss", "CHINCHILLA_PARAMS", "HOFFMANN_GRID", "HUBER_DELTA",
    "check_positive", "compute_optimal", "ComputeOptimal", "allocation_exponents", "isoflop_profiles",
    "IsoFLOPProfiles",
    # laws
    "Law", "LAWS", "LOG_LOSS", "get_law",
    # fitting
    "fit", "FitResult", "Estimate", "FitError", "check_level", "checked", "usable_points", "loo_rmse",
    # bootstrap
    "as_generator", "members", "resample", "resamples", "percentile_interval",
    # comparison
    "Comparison", "compare",
]
