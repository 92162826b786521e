"""The "What the network learned" section of a run report, and the files of ``grokscope analyze``.

Both draw one data object, the run's ``RunAnalysis`` (``grokscope.analysis.analyze_run``): its
figures (``grokscope.analysis.analysis_figures``: progress measures, fallibility, the
heuristic-model walk, the Fourier snapshot, the relevant bits of sparse parity) and a table per
member. Nothing here computes an analysis.
"""

from __future__ import annotations

import html
from pathlib import Path

from grokscope.analysis import RunAnalysis, analyze_run, write_analysis_json
from grokscope.plots import analysis_figures, save_figures
from grokscope.errors import AnalysisError

__all__ = ["analysis_figures", "add_analysis_section", "add_analysis_figures", "member_table", "write_analysis",
           "REPORT_CHECKPOINTS"]

# The report analyses at most this many of a run's checkpoints (``analyze_run``'s ``max_steps``): runs
# keep 100+ checkpoints for the explorer since grokscope 0.3, and analysing every one took the demo's
# report from a few seconds to ~40 s. `grokscope analyze` still analyses every checkpoint.
REPORT_CHECKPOINTS = 40


def member_table(ra: RunAnalysis) -> list[dict]:
    """Per member: key frequencies, phase boundaries (steps) and the transient test-loss rise."""
    r = ra.results
    keys = r.get("key_frequencies", {}).get("per_member")
    rows = []
    for m in range(ra.n_members):
        row = {"member": m}
        if keys is not None:
            row["key freqs"] = " ".join(map(str, keys[m]))
        if "phases" in r:
            ph = r["phases"]
            row["mem_step"] = ph["mem_step"][m]
            row["cleanup"] = f"{_g(ph['clean_start'][m])}–{_g(ph['clean_end'][m])}"
        if "test_loss_rise" in r:
            row["test-loss rise (nats)"] = r["test_loss_rise"]["height"][m]
            row["rise duration"] = r["test_loss_rise"]["duration"][m]
        rows.append(row)
    return rows


def _g(x) -> str:
    return "nan" if x is None else f"{x:g}"


def add_analysis_figures(page, ra: RunAnalysis) -> None:
    """Append the figures of ``ra`` and its member table to the current section of ``page``."""
    for name, fig, caption in analysis_figures(ra):
        page.add_figure(fig, caption, name=f"analysis_{name}")
    page.add_table(member_table(ra), caption="Per member: key frequencies, phase boundaries (steps), the transient "
                   "test-loss rise. Definitions: " + " ".join(f"{k}: {v}" for k, v in ra.definitions.items()))


def add_analysis_section(page, store, run_id: int) -> RunAnalysis | None:
    """Analyse ``run_id`` (``analyze_run``) and append its figures to a ``ReportPage`` as a section.

    Runs that cannot be analysed (no weight checkpoints, a config that builds no model) get a
    one-line note instead. Returns the analysis (None then).
    """
    page.add_section("What the network learned")
    try:
        ra = analyze_run(store, run_id, max_steps=REPORT_CHECKPOINTS)
    except AnalysisError as e:
        page.add_html(f'<p class="note">{html.escape(str(e))}</p>')
        return None
    add_analysis_figures(page, ra)
    return ra


def write_analysis(store, run_id: int, out_dir: str | Path, *, member: int | None = None,
                   steps: list[int] | None = None) -> tuple[RunAnalysis, list[Path]]:
    """What ``grokscope analyze`` writes: ``analysis.json``, ``summary.json`` and one PNG per figure.

    Returns the analysis and the paths written.
    """
    ra = analyze_run(store, run_id, member=member, steps=steps)
    json_path = write_analysis_json(ra, out_dir)
    return ra, [json_path, json_path.parent / "summary.json", *save_figures(ra, out_dir)]
