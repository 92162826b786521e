"""``grokscope runs``, ``show`` and ``report``: read what the store holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from grokscope.cli._common import STORE_OPT, console, members_table, open_store

app = typer.Typer()


def _record_dict(rec) -> dict[str, Any]:
    return {"id": rec.id, "kind": rec.kind, "name": rec.name, "status": rec.status, "n_members": rec.n_members,
            "created": rec.created, "updated": rec.updated, "summary": rec.summary}


@app.command()
def runs(store: Optional[Path] = STORE_OPT, as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """List the stored runs."""
    s = open_store(store, must_exist=True)
    recs = s.list_runs()
    if as_json:
        typer.echo(json.dumps([_record_dict(r) for r in recs], indent=1, default=str))
        return
    from datetime import datetime, timezone

    from rich.table import Table

    t = Table(title=f"runs in {s.path}")
    for col in ("id", "kind", "name", "status", "members", "created (UTC)", "summary"):
        t.add_column(col)
    for r in recs:
        summ = r.summary or {}
        brief = ", ".join(f"{k} {v}" for k, v in (summ.get("phases") or {}).items()) or ""
        t.add_row(str(r.id), r.kind, r.name or "", r.status, str(r.n_members),
                  datetime.fromtimestamp(r.created, timezone.utc).strftime("%Y-%m-%d %H:%M"), brief)
    console().print(t)


@app.command()
def show(run: int = typer.Argument(..., help="Run id."), store: Optional[Path] = STORE_OPT,
         as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """Show one run: config, members (steps to memorize/generalize, phase) and summary."""
    s = open_store(store, must_exist=True)
    rec = s.get_run(run)
    members = s.members(run)
    if as_json:
        typer.echo(json.dumps({**_record_dict(rec), "config": rec.config, "members": members}, indent=1, default=str))
        return
    con = console()
    con.print(f"[bold]run {rec.id}[/] {rec.name or ''} ({rec.kind}), status {rec.status}, {rec.n_members} members")
    con.print(json.dumps(rec.config, indent=1, default=str))
    if members and "phase" in members[0]:
        con.print(members_table(members, "members"))
    if rec.summary:
        con.print(json.dumps(rec.summary, indent=1, default=str))


@app.command()
def report(run: int = typer.Argument(..., help="Run id."), store: Optional[Path] = STORE_OPT,
           out: Optional[Path] = typer.Option(None, "--out", help="Output directory."),
           member: Optional[int] = typer.Option(None, "--member", help="Whose weights to draw.")):
    """Write a run's figures (PNG) and one self-contained HTML page."""
    from grokscope.report import write_report

    path = write_report(open_store(store, must_exist=True), run, out, member=member)
    typer.echo(str(path))
