"""``grokscope export RUN|SWEEP --format ...``: hand a run or sweep to the tools researchers use.

Tidy tables (Parquet, CSV), TensorBoard logs (one directory per member, with its hyperparameters),
or one transformer member as TransformerLens config arguments and state dict. The work is
``grokscope.export.export``; this command parses, prints the files and exits (docs/exports.md).
"""

from __future__ import annotations

from pathlib import Path

import typer

from grokscope.cli._common import STORE_OPT, open_store

app = typer.Typer()


@app.command()
def export(target: str = typer.Argument(..., metavar="RUN|SWEEP", help="Run id, or sweep name (sweep:NAME if it is all digits)."),
           fmt: str = typer.Option(..., "--format", help="parquet, csv, tensorboard or transformerlens."),
           out: Path | None = typer.Option(None, "--out", help="Output directory, new or empty (default: <store dir>/exports/run-N-FORMAT)."),
           member: int | None = typer.Option(None, "--member", help="transformerlens: which member (default 0)."),
           step: int | None = typer.Option(None, "--step", help="transformerlens: which checkpoint step (default: the last)."),
           store: Path | None = STORE_OPT):
    """Export a run or sweep: tidy metrics and members tables (parquet, csv), TensorBoard logs with
    hyperparameters (tensorboard), or one transformer member for TransformerLens (transformerlens)."""
    from grokscope.export import FORMATS
    from grokscope.export import export as run_export
    from grokscope.validate import check_choice

    check_choice(fmt, "--format", FORMATS)  # before the store is opened: a bad command creates nothing
    paths = run_export(open_store(store, must_exist=True), target, fmt, out, member=member, step=step)
    where = paths[0].parent if fmt != "tensorboard" else (out if out is not None else paths[0].parent.parent.parent)
    typer.echo(f"exported {target} as {fmt}: {len(paths)} {'member directories' if fmt == 'tensorboard' else 'files'} in {where}")
    for p in paths:
        typer.echo(str(p))
