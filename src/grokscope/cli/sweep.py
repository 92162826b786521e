"""``grokscope sweep``, ``sweeps``, ``phasemap`` and ``critical``: families of runs and their maps.

The typer commands are thin wrappers over plain functions (``sweep_cmd`` ...), which tests and
scripts call directly; each returns normally or raises a ``GrokscopeError`` (one line, exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from grokscope.cli._common import STORE_OPT, console, open_store
from grokscope.errors import ConfigError

app = typer.Typer()


def parse_where(where: list[str] | None) -> dict[str, Any]:
    """``["optim.lr=0.001", "task.op=\\"add\\""]`` -> ``{"optim.lr": 0.001, "task.op": "add"}`` (JSON values, else strings)."""
    out = {}
    for w in where or []:
        if "=" not in w:
            raise ConfigError(f"--where {w!r}: must be KEY=VALUE, e.g. optim.lr=0.001")
        k, v = w.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


def sweep_cmd(spec_path: str, store_path: str | Path | None = None, backend: str = "inprocess", address: str | None = None,
              name: str | None = None, max_ensembles: int | None = None, progress: bool = True,
              tune_memory: bool = True) -> None:
    """``grokscope sweep SPEC.toml``: start or resume a sweep (same spec -> continues where it stopped)."""
    from grokscope.sweep import load_spec, run_sweep

    con = console()
    spec = load_spec(spec_path, name=name)
    store = open_store(store_path)
    con.print(spec.describe())
    rep = run_sweep(spec, store, backend=backend, address=address, progress=progress, max_ensembles=max_ensembles,
                    console=con, tune_memory=tune_memory)
    left = rep.n_ensembles - len(rep.skipped) - len(rep.adopted) - len(rep.trained)
    con.print(f"sweep {rep.name!r} (id {rep.sweep_id}) in {store.path}: {len(rep.skipped)} ensembles already done, "
              f"{len(rep.adopted)} adopted, {len(rep.trained)} trained now "
              f"({rep.members_trained} models in {rep.seconds:.1f} s = {rep.models_per_s:.2f} models/s); "
              + ("complete" if rep.complete else f"{left} ensembles left"))
    if rep.abandoned_runs:
        con.print(f"runs {rep.abandoned_runs} were cut mid-training by an earlier kill; marked failed, retrained")
    if rep.retried:
        con.print(f"lost Ray workers: {len(rep.retried)} ensemble attempt(s) retried (ensembles "
                  f"{sorted(set(rep.retried))}); each ensemble stored once")


def sweeps_cmd(store_path: str | Path | None = None) -> None:
    """``grokscope sweeps``: list the sweeps in the store with their progress."""
    import time

    from rich.table import Table

    from grokscope.sweep import list_sweeps

    store = open_store(store_path, must_exist=True)
    rows = list_sweeps(store)
    con = console()
    if not rows:
        con.print(f"no sweeps in {store.path}")
        return
    t = Table(title=f"sweeps in {store.path}")
    for c in ("id", "name", "swept keys", "points", "members done", "ensembles done", "status", "updated"):
        t.add_column(c)
    for s in rows:
        t.add_row(str(s.id), s.name, ", ".join(s.keys), str(s.n_points), f"{s.members_done}/{s.n_members}",
                  f"{s.ensembles_done}/{s.n_ensembles}", s.status, time.strftime("%Y-%m-%d %H:%M", time.localtime(s.updated)))
    con.print(t)


def phasemap_cmd(sweep: str, x: str, y: str, store_path: str | Path | None = None, where: list[str] | None = None,
                 out: str | None = None) -> Path:
    """``grokscope phasemap SWEEP X Y``: the phase and median-steps map over two swept keys, as a PNG."""
    from grokscope.analysis._phasemap import phase_map, plot_phase_map
    from grokscope.sweep import sweep_members

    fixed = parse_where(where)          # bad input is refused before the store is opened
    store = open_store(store_path, must_exist=True)
    members = sweep_members(store, sweep)
    pm = phase_map(members, x, y, where=fixed)
    path = Path(out or f"phasemap-{sweep}-{x}-{y}.png")
    plot_phase_map(pm, path, title=None)
    console().print(f"wrote {path} ({len(pm.xs)} x {len(pm.ys)} cells, "
                    f"{sum(len(v) for v in pm.phases.values())} members)")
    return path


def critical_cmd(sweep: str, store_path: str | Path | None = None, key: str | None = None, where: list[str] | None = None,
                 out: str | None = None, n_boot: int = 500, ci: float = 0.95, seed: int = 0,
                 time_key: str = "gen_step") -> dict:
    """``grokscope critical SWEEP``: D_c with a bootstrap CI, ν against Gokhale 2023's ν = 1, the alternative law, a PNG."""
    from grokscope.analysis._critical import critical_data_size, plot_critical
    from grokscope.sweep import critical_data

    fixed = parse_where(where)          # bad input is refused before the store is opened
    store = open_store(store_path, must_exist=True)
    x, t, budget, key = critical_data(store, sweep, key, fixed, time_key)
    res = critical_data_size(x, t, budget=budget, n_boot=n_boot, ci=ci, seed=seed)
    path = Path(out or f"critical-{sweep}.png")
    plot_critical(res, path, xlabel=key, title=f"Critical data size of sweep {sweep!r} ({time_key})")
    summary = res.to_dict()
    path.with_suffix(".json").write_text(json.dumps(summary, indent=1))
    con = console()
    con.print(res.summary(), markup=False, highlight=False)   # intervals are [lo, hi], not rich markup
    con.print(f"wrote {path} and {path.with_suffix('.json')}")
    return summary


_WHERE = typer.Option(None, help="fix another swept key: KEY=VALUE")


@app.command("sweep")
def _sweep(spec: str = typer.Argument(..., help="sweep spec TOML, or a bundled one: sweep-pair-parity"),
           store: Optional[Path] = STORE_OPT,
           backend: str = typer.Option("inprocess", help="inprocess or ray"),
           address: Optional[str] = typer.Option(
               None, help="Ray cluster to join, HOST:PORT of its head (with --backend ray; run on a node of it)"),
           name: Optional[str] = typer.Option(None, help="sweep name (default: the spec's)"),
           max_ensembles: Optional[int] = typer.Option(None, help="stop after training this many ensembles"),
           progress: bool = typer.Option(True, help="show the progress bar")):
    """Start or resume a sweep: completed ensembles are never retrained."""
    sweep_cmd(spec, store, backend, address, name, max_ensembles, progress)


@app.command("sweeps")
def _sweeps(store: Optional[Path] = STORE_OPT):
    """List sweeps and their progress."""
    sweeps_cmd(store)


@app.command("phasemap")
def _phasemap(sweep: str, x: str, y: str, store: Optional[Path] = STORE_OPT,
              where: Optional[list[str]] = _WHERE,
              out: Optional[str] = typer.Option(None, help="PNG path")):
    """2-D map of phases and median steps-to-generalize over two swept keys."""
    phasemap_cmd(sweep, x, y, store, where, out)


@app.command("critical")
def _critical(sweep: str, store: Optional[Path] = STORE_OPT,
              key: Optional[str] = typer.Option(None, help="the data-size key (default: the swept one)"),
              where: Optional[list[str]] = _WHERE,
              out: Optional[str] = typer.Option(None, help="PNG path (a .json summary is written beside it)"),
              n_boot: int = typer.Option(500, help="bootstrap resamples over seeds"),
              ci: float = typer.Option(0.95, help="confidence level of the intervals")):
    """Critical data size D_c and the grokking-time law above it (Gokhale 2023, "The semantic landscape paradigm for neural networks")."""
    critical_cmd(sweep, store, key, where, out, n_boot, ci)
