"""What every command shares: the one ``--store`` option, opening the store, the consoles, tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

STORE_OPT = typer.Option(None, "--store", help="Run store (SQLite). Default: $GROKSCOPE_STORE or ./grokscope-runs/grokscope.db")


def open_store(path: Optional[str | Path]):
    """The run store at ``path`` (``None``: ``$GROKSCOPE_STORE`` or the default path)."""
    from grokscope.store import Store

    return Store(path)


def console(stderr: bool = False):
    """A rich console without syntax highlighting: stdout for results, stderr for progress."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def members_table(members: list[dict[str, Any]], title: str):
    """Per member: training-set size, steps to memorize and to generalize, delay, phase."""
    from rich.table import Table

    t = Table(title=title)
    for col in ("member", "n_train", "memorized at", "generalized at", "delay", "phase"):
        t.add_column(col, justify="right" if col != "phase" else "left")
    for m in members:
        fmt = lambda v: "-" if v is None else str(v)  # noqa: E731
        t.add_row(str(m["member"]), fmt(m.get("n_train")), fmt(m.get("mem_step")), fmt(m.get("gen_step")),
                  "-" if m.get("delay") is None else f"{m['delay']:.1f}x", str(m.get("phase")))
    return t
