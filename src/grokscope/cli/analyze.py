"""``grokscope analyze RUN``: every analysis that applies to a stored run, as ``analysis.json`` and figures.

The analysis is one data object (``grokscope.analysis.analyze_run`` -> ``RunAnalysis``) that
``grokscope.report.write_analysis`` writes as ``analysis.json`` (what the explorer reads),
``summary.json`` and one PNG per figure. This command only parses, prints and exits.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from grokscope.cli._common import STORE_OPT, open_store

app = typer.Typer()


@app.command()
def analyze(run: int = typer.Argument(..., help="Run id."), store: Optional[Path] = STORE_OPT,
            out: Optional[Path] = typer.Option(None, "--out", help="Output directory (default: <store dir>/analysis/run-RUN)."),
            member: Optional[int] = typer.Option(None, "--member", help="Whose Fourier snapshot to take (default: the best final test accuracy)."),
            as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON.")):
    """Reverse-engineer a run, each analysis where it applies: progress measures (Nanda et al. 2023, "Progress
    measures for grokking via mechanistic interpretability"); fallibility and the heuristic-model walk (Gokhale
    2023, "The semantic landscape paradigm for neural networks"); Fourier circuits, stars, the relevant bits of
    sparse parity and the circular construction (Pearce et al. 2023, "Do machine learning models memorize or
    generalize?")."""
    from grokscope.report import write_analysis

    s = open_store(store, must_exist=True)
    out_dir = out if out is not None else s.path.parent / "analysis" / f"run-{run}"
    ra, paths = write_analysis(s, run, out_dir, member=member)
    summary = ra.summary()
    if as_json:
        typer.echo(json.dumps(summary, indent=1))
        return
    typer.echo(f"analysis of run {run}: {len(ra.steps)} checkpoints in {ra.seconds:.2g} s -> {out_dir}")
    typer.echo(f"measures: {', '.join(sorted(ra.results))}")
    if "key_freqs" in summary:
        typer.echo(f"key frequencies per member: {summary['key_freqs']}")
    if "irreps_in_use" in summary:
        typer.echo(f"irreps in use per member: {summary['irreps_in_use']['embedding_in_use']}")
    typer.echo(f"wrote {paths[0].name}, {paths[1].name} and {len(paths) - 2} figures")
