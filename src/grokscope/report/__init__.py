"""Reports: publication-quality figures (PNG) and one self-contained offline HTML page per run.

>>> from grokscope.report import write_report
>>> path = write_report(store, run_id)   # <store dir>/reports/run-<id>/report.html  # doctest: +SKIP

Other modules add sections to a run's page (``run_report_page``) or build their own
(``ReportPage``) from the figure pieces (``plot_curves``, ``plot_heatmap``, ...). The report
draws data and computes none: the analysis section and ``write_analysis`` (what ``grokscope
analyze`` writes) draw a ``grokscope.analysis.RunAnalysis``.
"""

from grokscope.report._analysis_section import add_analysis_figures, add_analysis_section, write_analysis

from grokscope.report._page import ReportError, ReportPage
from grokscope.report._plots import DPI, color_limit, mark_steps, member_colors, new_figure, plot_curves, plot_heatmap
from grokscope.report._run import THRESHOLD, first_crossing, member_rows, run_report_page, write_report
from grokscope.report._weights import model_weight_views, pick_checkpoints, weight_views

__all__ = [
    # the run report
    "write_report",
    "run_report_page",
    # a run's analysis (grokscope.analysis.RunAnalysis), drawn
    "write_analysis",
    "add_analysis_section",
    "add_analysis_figures",
    # building pages
    "ReportPage",
    "ReportError",
    # figure pieces
    "new_figure",
    "plot_curves",
    "plot_heatmap",
    "color_limit",
    "mark_steps",
    "member_colors",
    "DPI",
    # definitions used by the report
    "THRESHOLD",
    "first_crossing",
    "member_rows",
    "pick_checkpoints",
    "weight_views",
    "model_weight_views",
]
