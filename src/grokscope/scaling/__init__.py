"""Scaling-law fits from data: a CSV of runs or a stored sweep, and the figures of a fit.

The fitting itself lives in ``grokscope.fit`` (``fit`` for the one-variable laws,
``fit_chinchilla`` for L(N, D), ``compute_optimal`` and ``isoflop_profiles``); this package reads
the points (``load_csv``, ``sweep_points``), fits them (``fit_points``) and draws the result
(``fit_figure``). ``grokscope scaling fit`` is a thin layer over it (docs/scaling.md).
"""

from grokscope.scaling._data import LAW_NAMES, SweepPoints, load_csv, sweep_points
from grokscope.scaling._figures import fit_figure
from grokscope.scaling._fitting import ScalingFit, fit_points

__all__ = ["LAW_NAMES", "ScalingFit", "SweepPoints", "fit_figure", "fit_points", "load_csv", "sweep_points"]
