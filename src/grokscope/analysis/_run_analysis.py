"""A run's analysis as one plain data object: :func:`analyze_run` -> :class:`RunAnalysis` (JSON).

>>> from grokscope.analysis import analyze_run                    # doctest: +SKIP
>>> ra = analyze_run(Store("runs.db"), 1)                         # doctest: +SKIP
>>> ra.results["key_frequencies"]["per_member"], ra.to_json()[:40] # doctest: +SKIP

The object holds numbers and lists only: the analysed checkpoint steps, the curves over them
(``{name: [n_steps][model]}``: losses, accuracies and fallibility of every split and group,
weight norm, and on Fourier tasks restricted/excluded loss, Gini coefficients and the memorized
fraction), and the result of every measure that applies to the run's task and model
(``grokscope.analysis._measures.MEASURES``), each with its definition. The report draws it
(``grokscope.report``), ``grokscope analyze`` writes it as ``analysis.json``, and the explorer
reads that file; none of them computes anything else.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from grokscope._json import jsonable
from grokscope.analysis._checkpoints import Measures, checkpoint_measures
from grokscope.analysis._irreps import IRREPS_MEASURE
from grokscope.analysis._measures import MEASURES, Measure, RunContext, best_member
from grokscope.analysis._run_data import RunData, load_run, masks_from_split, run_split
from grokscope.analysis._snapshot import fourier_snapshot, parity_curves
from grokscope.tasks import input_kind, task_groups
from grokscope.validate import check_int, require

__all__ = [
    "RunAnalysis", "analyze_run", "analyze_run_data", "spread_steps", "write_analysis_json", "analyze", "analyze_command",
    # the pieces, importable from here for code written against grokscope.analysis._analyze_cli
    "RunData", "load_run", "run_split", "masks_from_split", "Measures", "checkpoint_measures",
    "fourier_snapshot", "parity_curves",
]

SCHEMA = 1  # bump when a field of RunAnalysis.to_dict() changes meaning
ALL_MEASURES: tuple[Measure, ...] = (*MEASURES, IRREPS_MEASURE)  # + which irreps a group task's network uses


@dataclass
class RunAnalysis:
    """Everything the analyses found in one run, as plain data (see the module docstring)."""

    run_id: int | None
    label: str
    task: dict  # name, input_kind, n_classes, fourier_p, groups
    model: dict  # arch, d_hidden (None when the model declares no anatomy)
    n_members: int
    steps: list[int]  # the analysed checkpoints
    best_member: int  # highest final test accuracy: whose snapshot is taken by default
    curves: dict[str, list] = field(default_factory=dict)  # name -> [n_steps][model]
    results: dict[str, dict] = field(default_factory=dict)  # measure name -> its result
    definitions: dict[str, str] = field(default_factory=dict)  # measure name -> what it is
    seconds: float = 0.0

    def curve(self, name: str) -> np.ndarray:
        """``curves[name]`` as a float array ``[n_steps, model]`` (None in JSON reads as NaN)."""
        return np.asarray(self.curves[name], dtype=float).reshape(len(self.steps), self.n_members)

    def to_dict(self) -> dict:
        """Plain JSON types only (numbers, strings, lists, dicts; NaN and inf become None)."""
        return {"schema": SCHEMA, **jsonable(asdict(self))}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, d: dict) -> "RunAnalysis":
        """Inverse of :meth:`to_dict` (arrays come back as lists; read them with :meth:`curve`)."""
        return cls(**{k: v for k, v in d.items() if k != "schema"})

    @classmethod
    def from_json(cls, text: str) -> "RunAnalysis":
        """Read what :meth:`to_json` wrote (e.g. a saved ``analysis.json``)."""
        return cls.from_dict(json.loads(text))

    def summary(self) -> dict:
        """The short form ``grokscope analyze`` prints and writes as ``summary.json``."""
        c, r = self.curves, self.results
        out = {
            "run": self.run_id, "label": self.label, "task": self.task["name"], "arch": self.model["arch"],
            "n_members": self.n_members, "n_checkpoints": len(self.steps), "steps": [self.steps[0], self.steps[-1]],
            "final": {k: v[-1] for k, v in c.items()}, "measures": sorted(r),
        }
        if "phases" in r:
            out["phases"] = r["phases"]
        if "test_loss_rise" in r:
            out["test_loss_rise"] = r["test_loss_rise"]
        if "key_frequencies" in r:
            out["key_freqs"] = r["key_frequencies"]["per_member"]
        if "heuristic_walk" in r:
            out["heuristic_walk"] = r["heuristic_walk"]["walk"]
        if "fourier_snapshot" in r:
            snap = r["fourier_snapshot"]
            out["snapshot"] = {k: snap[k] for k in ("step", "member", "key_freqs", "group_freqs", "group_r2",
                                                    "group_amplitude")}
            freq = np.asarray(snap["neuron_freq"])
            out["snapshot"]["neurons_per_freq"] = {int(f): int((freq == f).sum()) for f in snap["group_freqs"]}
            out["snapshot"]["median_neuron_frac"] = float(np.median(snap["neuron_frac"]))
        if "parity_relevant_bits" in r:
            out["parity_final"] = {k: v[-1] for k, v in r["parity_relevant_bits"].items()}
        if "construction" in r:
            out["construction"] = r["construction"]
        if "irreps" in r:
            out["irreps_in_use"] = {k: (r["irreps"][k] or [None])[-1] for k in ("embedding_in_use", "unembedding_in_use")}
        out["seconds"] = self.seconds
        return jsonable(out)


def analyze_run_data(run: RunData, *, run_id: int | None = None, member: int | None = None,
                     steps: list[int] | None = None, measures: tuple[Measure, ...] = ALL_MEASURES) -> RunAnalysis:
    """:func:`analyze_run` for a run already in memory (:class:`RunData`, e.g. a construction)."""
    t0 = time.perf_counter()
    n_m = run.n_members
    if member is not None:
        member = check_int(member, "member", 0, n_m - 1)
    steps = list(run.steps if steps is None else steps)
    missing = sorted(set(steps) - set(run.steps))
    require(bool(steps) and not missing, "steps", missing or steps, f"checkpoint steps of the run ({run.label})")
    ctx = RunContext(run, run.anatomy(run.load(steps[-1])), steps, member)
    applied = [m for m in measures if m.applies(run.task, ctx.anatomy)]
    results = {m.name: m.compute(ctx) for m in applied}
    task = run.task
    return RunAnalysis(
        run_id=run_id, label=run.label,
        task={"name": task.name, "input_kind": input_kind(task), "n_classes": task.n_classes,
              "fourier_p": getattr(task, "fourier_p", None), "groups": sorted(task_groups(task))},
        model={"arch": None if ctx.anatomy is None else ctx.anatomy.arch,
               "d_hidden": None if ctx.anatomy is None else ctx.anatomy.d_hidden},
        n_members=n_m, steps=[int(s) for s in steps], best_member=best_member(ctx.curves),
        curves={k: v.tolist() for k, v in ctx.curves.items()},
        results=jsonable(results), definitions={m.name: m.definition for m in applied},
        seconds=time.perf_counter() - t0,
    )


def analyze_run(store, run_id: int, *, member: int | None = None, steps: list[int] | None = None,
                measures: tuple[Measure, ...] = ALL_MEASURES, max_steps: int | None = None) -> RunAnalysis:
    """Every measure that applies to run ``run_id``'s task and model, as one :class:`RunAnalysis`.

    ``member`` picks whose Fourier snapshot is taken (default: the best by final test accuracy);
    ``steps`` restricts the analysis to some checkpoints (default: all), or ``max_steps`` to at most
    that many of them (:func:`spread_steps`). Raises ``AnalysisError`` for a run without
    checkpoints, ``ConfigError`` for a member or step the run does not have.
    """
    t0 = time.perf_counter()
    run = load_run(store, run_id)
    if steps is None and max_steps is not None:
        steps = spread_steps(run.steps, max_steps)
    ra = analyze_run_data(run, run_id=run_id, member=member, steps=steps, measures=measures)
    ra.seconds = time.perf_counter() - t0  # loading the run included
    return ra


def spread_steps(steps: list[int], n: int) -> list[int]:
    """At most ``n`` (>= 2) of ``steps``, evenly spaced by position, the first and the last included
    (checkpoints are stored log-spaced, so this keeps them log-spaced).

    >>> spread_steps(list(range(10)), 4)
    [0, 3, 6, 9]
    """
    steps = list(steps)
    if len(steps) <= n:
        return steps
    return [steps[i] for i in sorted({round(i * (len(steps) - 1) / (max(n, 2) - 1)) for i in range(max(n, 2))})]


def write_analysis_json(analysis: RunAnalysis, out_dir: str | Path) -> Path:
    """Write ``analysis.json`` (the whole object) and ``summary.json`` (its summary) to ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps(analysis.summary(), indent=1))
    path = out_dir / "analysis.json"
    path.write_text(analysis.to_json())
    return path


def analyze(store, run_id: int, out_dir: str | Path) -> dict:
    """Deprecated: :func:`analyze_run`, then ``analysis.json``, ``summary.json`` and the figures in ``out_dir``.

    Returns the summary with the figure names. ``grokscope analyze`` does the same through
    ``grokscope.report.write_analysis``.
    """
    from grokscope.plots import save_figures

    ra = analyze_run(store, run_id)
    write_analysis_json(ra, out_dir)
    summary = {**ra.summary(), "figures": [p.name for p in save_figures(ra, out_dir)]}
    (Path(out_dir) / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def analyze_command(run_id: int, store_path: str | None = None, out_dir: str | None = None) -> int:
    """Deprecated (``grokscope.cli.analyze`` is the command): :func:`analyze` into ``out_dir``
    (default ``<store dir>/analysis/run-<RUN>``); returns the exit code 0."""
    from grokscope.store import Store

    store = Store(store_path)
    analyze(store, run_id, Path(out_dir) if out_dir else store.path.parent / "analysis" / f"run-{run_id}")
    return 0
