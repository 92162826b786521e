"""Drawing, and nothing else: figure pieces and the figures of a run's analysis.

Everything here draws from data it is handed (arrays, or a ``RunAnalysis`` / its JSON) and
computes nothing an analysis did not already hold, so a figure drawn from a saved
``analysis.json`` is the figure ``grokscope analyze`` drew. ``grokscope.analysis`` computes,
``grokscope.report`` composes pages, and both draw through this package. Figures are built on
``matplotlib.figure.Figure`` (Agg), imported lazily: importing grokscope never loads matplotlib.
"""

from grokscope.plots._analysis import analysis_figures, plot_irrep_usage, save_figures
from grokscope.plots._sweeps import PHASE_COLORS, plot_critical, plot_phase_map
from grokscope.plots._base import (
    COLUMN_WIDTH_IN, DIVERGED_COLOR, DPI, color_limit, mark_steps, member_colors, new_figure, plot_curves, plot_heatmap,
)

__all__ = [
    # pieces
    "DPI", "COLUMN_WIDTH_IN", "DIVERGED_COLOR", "new_figure", "member_colors", "plot_curves", "mark_steps",
    "plot_heatmap", "color_limit",
    # a run's analysis
    "analysis_figures", "save_figures", "plot_irrep_usage",
    # a sweep's
    "plot_critical", "plot_phase_map", "PHASE_COLORS",
]
