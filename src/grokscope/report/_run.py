"""The report of one training run: curves, the member table, weight heatmaps, config.

``run_report_page(store, run_id)`` builds a ``ReportPage`` that analysis or sweep code
may extend with its own sections; ``write_report`` builds and writes it.

Definitions used on the page (stated there too, so a reader never has to guess):

- memorization step: first logged step with train accuracy >= 99%;
- generalization step: first logged step with test accuracy >= 99%;
- delay ratio: generalization step / memorization step (Power et al. 2022, "Grokking:
  generalization beyond overfitting on small algorithmic datasets", plot the same two steps;
  a ratio >> 1 is grokking).

The threshold, the first crossing and the delay ratio are grokscope's one definition
(``grokscope.analysis._phases``); the learning curves are whatever metrics the run logged
(``_curves.py``) and the weight heatmaps the matrices its model names (``_weights.py``).

The member fields ``mem_step``/``gen_step``/``phase`` written by the analysis take
precedence; the page computes the two steps from the curves only when they are absent.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any

import numpy as np

from grokscope.analysis._phases import THRESHOLD, delay_ratio, first_step_at_or_above
from grokscope.report._analysis_section import add_analysis_section
from grokscope.report._curves import add_learning_curves
from grokscope.report._page import ReportError, ReportPage
from grokscope.report._plots import mark_steps, member_colors, new_figure, plot_curves
from grokscope.report._weights import add_weights, pick_checkpoints, weight_view_names, weight_views

__all__ = ["THRESHOLD", "first_crossing", "member_rows", "pick_checkpoints", "weight_views", "weight_view_names",
           "run_report_page", "write_report"]


# ------------------------------------------------------------------ member table
def first_crossing(steps: np.ndarray, values: np.ndarray, threshold: float = THRESHOLD) -> list[int | None]:
    """Per member, the first step whose value is ``>= threshold`` (None if never; NaN never crosses).

    ``grokscope.analysis._phases.first_step_at_or_above`` with None for its -1.

    >>> first_crossing(np.array([0, 10, 20]), np.array([[0.1, 0.5], [0.995, 0.7], [1.0, 0.9]]))
    [10, None]
    """
    return [None if s < 0 else int(s) for s in first_step_at_or_above(np.asarray(steps), values, threshold)]


def member_rows(members: list[dict], steps: np.ndarray, metrics: dict[str, np.ndarray]) -> tuple[list[dict], bool]:
    """Table rows ``{member, seed, mem_step, gen_step, delay_ratio, phase, diverged}``.

    Returns ``(rows, computed)``; ``computed`` is True when some step came from the curves.
    """
    n = len(members)
    fallback = {}
    for key, metric in (("mem_step", "train_acc"), ("gen_step", "test_acc")):
        if metric in metrics and len(steps):
            fallback[key] = first_crossing(steps, metrics[metric])
        else:
            fallback[key] = [None] * n
    rows, computed = [], False
    for i, m in enumerate(members):
        row = {"member": m.get("member", i), "seed": m.get("seed")}
        for key in ("mem_step", "gen_step"):
            if key in m:
                row[key] = m[key]
            else:
                row[key] = fallback[key][i]
                computed = True
        mem, gen = row["mem_step"], row["gen_step"]
        row["delay_ratio"] = delay_ratio(mem, gen)
        row["phase"] = m.get("phase")
        row["diverged"] = bool(m.get("diverged", False))
        rows.append(row)
    return rows, computed


# ------------------------------------------------------------------ the page
def _fmt_time(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _flatten(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(d, dict):
        out = []
        for k, v in d.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out or [(prefix, "{}")]
    if isinstance(d, list) and len(d) > 12:  # per-member lists: show the extent, not 512 numbers
        return [(prefix, f"[{d[0]}, {d[1]}, ..., {d[-1]}] ({len(d)} values)")]
    return [(prefix, d)]


def _median(values: list) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.median(vals)) if vals else None


def run_report_page(store, run_id: int, member: int | None = None) -> ReportPage:
    """The report of run ``run_id`` as a ``ReportPage`` (extend it, then ``write``).

    ``member`` picks whose weights are drawn (default: the first member that
    generalized without diverging, else member 0).
    """
    rec = store.get_run(run_id)
    if member is not None and not 0 <= member < rec.n_members:
        raise ReportError(f"member {member}: run {run_id} has members 0..{rec.n_members - 1}")
    label = f"run {rec.id}" + (f" ({rec.name})" if rec.name else "")
    page = ReportPage(
        f"grokscope report: {label}",
        f"{rec.kind} run with {rec.n_members} members; status {rec.status}; created {_fmt_time(rec.created)}; "
        f"last data {_fmt_time(rec.updated)}; store {store.path}",
    )
    steps, metrics = store.metrics(run_id)
    members = store.members(run_id)
    rows, computed = member_rows(members, steps, metrics)
    diverged = [r["diverged"] for r in rows]
    colors = member_colors(len(rows), diverged)
    med_mem, med_gen = _median([r["mem_step"] for r in rows]), _median([r["gen_step"] for r in rows])
    n = rec.n_members

    # (a) accuracy and (b) loss
    page.add_section("Learning curves")
    if not len(steps):
        page.add_html('<p class="note">No metrics have been logged for this run yet.</p>')
    marks = ([med_mem, med_gen], ["median memorization", "median generalization"])
    add_learning_curves(page, steps, metrics, colors, marks, label,
                        lambda what, logy: _curve_caption(what, n, diverged, logy))
    if "weight_norm" in metrics:
        fig, axes = new_figure(1, width=4.5)
        plot_curves(axes[0, 0], steps, metrics["weight_norm"], colors=colors, ylabel="parameter L2 norm")
        mark_steps(axes[0, 0], [med_mem, med_gen], ["median memorization", "median generalization"])
        axes[0, 0].legend(fontsize="x-small")
        fig.suptitle(f"Weight norm of {n} members vs. training step, {label}", fontsize="medium")
        page.add_figure(fig, "L2 norm of all parameters per member (thin lines), median in black.", name="weight_norm")

    # (c) the member table
    page.add_section("Members")
    note = (
        f"Memorization step: first logged step with train accuracy ≥ {THRESHOLD:.0%}; generalization step: "
        f"first with test accuracy ≥ {THRESHOLD:.0%}; delay ratio = generalization / memorization step (a step 0 "
        "counts as 1). "
        "— means never reached (or not recorded)."
    )
    if computed:
        note += " Some steps were computed here from the logged curves because the run's members do not carry them."
    page.add_html(f'<p class="note">{html.escape(note)}</p>')
    page.add_table(
        rows,
        header=["member", "seed", "mem_step", "gen_step", "delay_ratio", "phase", "diverged"],
        labels=["member", "seed", "memorization step", "generalization step", "delay ratio", "phase", "diverged"],
    )

    # (d) weights at three checkpoints
    page.add_section("Weights")
    add_weights(page, store, run_id, rows, member, label)

    # (e) config and summary
    page.add_section("Configuration")
    page.add_table(_flatten(rec.config), header=["key", "value"])
    page.add_section("Summary")
    if rec.summary:
        page.add_table(_flatten(rec.summary), header=["key", "value"])
    else:
        page.add_html('<p class="note">No summary recorded for this run.</p>')
    return page


def _curve_caption(what: str, n: int, diverged: list[bool], logy: bool) -> str:
    scale = "log-log axes" if logy else "log step axis"
    cap = (
        f"{what.capitalize()} of each of the {n} members (thin lines) and their median (black), {scale}; "
        "dotted lines mark the median memorization and generalization steps; step 0 is not shown on the log axis."
    )
    if any(diverged):
        cap += f" {sum(diverged)} diverged member(s) in grey."
    return cap


def write_report(store, run_id: int, out_dir: str | Path | None = None, *, member: int | None = None,
                 analysis: bool = True) -> Path:
    """Write the run's figures (PNG) and a self-contained HTML page; returns the page's path.

    ``out_dir`` defaults to ``<store dir>/reports/run-<id>/``. Training runs get the analysis
    section too (``analysis=False`` skips it).

    >>> import tempfile
    >>> from grokscope.store import Store
    >>> store = Store(Path(tempfile.mkdtemp()) / "runs.db")
    >>> run_id = store.create_run("train", {"p": 5}, [{"seed": 0}, {"seed": 1}])
    >>> curves = [(s, {"train_acc": [s / 100, 1.0], "test_acc": [0.0, s / 100]}) for s in (1, 10, 100)]
    >>> store.flush(run_id, metrics=curves)
    >>> path = write_report(store, run_id)
    >>> path.relative_to(store.path.parent).as_posix()
    'reports/run-1/report.html'
    """
    page = run_report_page(store, run_id, member=member)
    if analysis and store.get_run(run_id).kind == "train":
        add_analysis_section(page, store, run_id)  # Fourier circuits, progress measures (docs/analysis.md)
    out = Path(out_dir) if out_dir is not None else Path(store.path).parent / "reports" / f"run-{int(run_id)}"
    return page.write(out / "report.html")
