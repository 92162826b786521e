"""Reusable figure pieces (learning curves over an ensemble, weight heatmaps), for report pages.

They are defined once, in ``grokscope.plots`` (the layer that draws), and re-exported here.
"""

from grokscope.plots import (
    COLUMN_WIDTH_IN, DIVERGED_COLOR, DPI, color_limit, mark_steps, member_colors, new_figure, plot_curves, plot_heatmap,
)

__all__ = [
    "COLUMN_WIDTH_IN", "DIVERGED_COLOR", "DPI", "color_limit", "mark_steps", "member_colors", "new_figure",
    "plot_curves", "plot_heatmap",
]
