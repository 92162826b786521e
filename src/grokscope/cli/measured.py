"""``grokscope landscape measured SWEEP``: the semantic landscape measured on trained networks.

A thin layer over :func:`grokscope.landscape_measured.measure_landscape`: reads the sweep (or,
with ``--run``, one run) from the store, prints the summary, writes ``landscape_measured.json``
and one figure per part into ``--out``. Bad input raises a one-line ``GrokscopeError``
(exit code 2 through ``grokscope.cli.main``), checked before anything is written.
"""

from __future__ import annotations

from pathlib import Path

import typer

from grokscope.cli._common import STORE_OPT, open_store
from grokscope.errors import ConfigError

app = typer.Typer(no_args_is_help=True)

_WHERE = typer.Option(None, help="fix another swept key for the theory figure: KEY=VALUE")
_OUT = typer.Option(Path("landscape-measured"), "--out", help="directory for the JSON and figures")


def _where(items: list[str] | None) -> dict:
    from grokscope.cli.sweep import parse_where

    return parse_where(items)


@app.command("measured")
def measured(
    sweep: str = typer.Argument(..., help="sweep name or id (`grokscope sweeps`); a run id with --run"),
    store: Path | None = STORE_OPT,
    run: bool = typer.Option(False, "--run", help="SWEEP is a run id: measure that run's members"),
    parts: str | None = typer.Option(
        None, help="comma-separated parts, each then required: graph,arrhenius,eq2,theory (default: all that apply)"),
    coarse: bool = typer.Option(False, help="label nodes by how many frequencies / irreps / bits are in use, not which"),
    wait: str = typer.Option("plateau", help="waiting time: plateau (gen_step - mem_step) or rise (its duration)"),
    barrier: str = typer.Option("all", help="dF on F_all (every input, Eq. 1) or on F_test (the test split alone)"),
    key: str | None = typer.Option(None, help="the swept data-size key for the theory figure (default: found)"),
    where: list[str] | None = _WHERE,
    theory_run: int | None = typer.Option(None, help="the stored `grokscope landscape grokking` run (default: latest)"),
    simulate: bool = typer.Option(True, help="run and store a small grokking study if the store holds none"),
    n_boot: int = typer.Option(500, help="bootstrap resamples"),
    sim_walkers: int = typer.Option(100, help="simulated walkers for the graph comparison"),
    out: Path = _OUT,
    seed: int = typer.Option(0, help="seed of the bootstrap and the simulator"),
) -> None:
    """The empirical graph of heuristic models, Arrhenius tested, Eq. 2 with an unseen split, and t_g vs D − D_c
    beside the simulator (Gokhale 2023, "The semantic landscape paradigm for neural networks")."""
    from grokscope.landscape_measured import measure_landscape, write_measurement

    part_list = None
    if parts is not None:
        part_list = [p.strip() for p in parts.split(",") if p.strip()]
        if not part_list:
            raise ConfigError(f"--parts={parts!r}: name at least one of graph, arrhenius, eq2, theory")
    fixed = _where(where)
    st = open_store(store)
    try:
        res = measure_landscape(st, sweep, run=run, parts=part_list, coarse=coarse, wait=wait, barrier=barrier, key=key, where=fixed,
                                theory=theory_run, simulate_theory=simulate, theory_out=out, n_boot=n_boot,
                                sim_walkers=sim_walkers, seed=seed)
    finally:
        st.close()
    typer.echo(res.summary())
    for p in write_measurement(res, out):
        typer.echo(f"wrote {p}")
