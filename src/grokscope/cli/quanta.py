"""``grokscope quanta ...``: the quantization model measured on stored runs (a thin layer over ``grokscope.quanta``).

    grokscope quanta qdg RUN [--member I] [--step S] [--params NAMES] [--samples N] [--clusters K ...]
                             [--max-loss-bits B | --all-samples] [--affinity signed|abs]
                             [--ce-gradient autograd|stable] [--json] [--out FIG.png]
    grokscope quanta emergence RUN [--threshold-bits B] [--split test] [--json] [--out DIR]

``qdg`` clusters the task's rows by the direction of their loss gradient (quanta discovery from
gradients, Michaud et al. 2023, §5) and prints, for each number of clusters, the adjusted Rand index
against the task's groups (multitask sparse parity: the subtasks) and the rank-frequency slope of
the cluster sizes; ``--out`` draws the rank-frequency figure. ``emergence`` prints the step each
subtask of a multitask-parity run was learned at against its frequency. Bad input raises one
``ConfigError`` line; ``main`` prints it and exits with code 2.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer

from grokscope.cli._common import STORE_OPT, open_store, param_names, repeated_ints
from grokscope.validate import check_int, check_number

app = typer.Typer(help="The quantization model of neural scaling (Michaud et al. 2023) measured on stored runs.",
                  no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Quanta: emergence per subtask, and quanta discovery from gradients."""


@app.command()
def qdg(
    run: int = typer.Argument(..., help="Run id (see `grokscope runs`)."),
    member: int = typer.Option(0, "--member", help="Ensemble member to analyse."),
    step: int | None = typer.Option(None, "--step", help="Checkpoint step (default: the last)."),
    params: list[str] | None = typer.Option(None, "--params", help="Parameter names or dotted prefixes "
                                               "(repeat or comma-separate; default: all)."),
    samples: int = typer.Option(10_000, "--samples", help="Samples to cluster (drawn from the low-loss rows)."),
    clusters: list[str] = typer.Option(["10", "20", "50", "100"], "--clusters", help="Numbers of clusters of "
                                       "the sweep (repeat or comma-separate)."),
    max_loss_bits: float = typer.Option(0.1, "--max-loss-bits", help="Keep rows whose loss is below this (bits)."),
    all_samples: bool = typer.Option(False, "--all-samples", help="Keep every row, whatever its loss."),
    eigen_solver: str = typer.Option("arpack", "--eigen-solver", help="arpack (scikit-learn's default) or lobpcg."),
    affinity: str = typer.Option("signed", "--affinity", help="signed: 1 - arccos(C)/pi (the paper's); abs: "
                                 "1 - arccos(|C|)/pi, a gradient and its negative alike (docs/qdg.md)."),
    ce_gradient: str = typer.Option("autograd", "--ce-gradient", help="autograd of the cross-entropy, or stable: "
                                    "the same loss written so that a confident sample's gradient is not rounding "
                                    "error (docs/qdg.md)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sample draw, the clustering and the bootstrap."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples of the rank-frequency exponent."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole result (every sample's cluster) as JSON."),
    out: Path | None = typer.Option(None, "--out", help="Write the rank-frequency figure here (PNG)."),
    store: Path | None = STORE_OPT,
) -> None:
    """Quanta discovery from gradients: cluster samples by their loss gradients' directions."""
    from grokscope.quanta import QDGConfig, qdg_run

    check_number(max_loss_bits, "--max-loss-bits", 0.0, lo_open=True)
    check_int(samples, "--samples", 1)
    names = param_names(params)
    cfg = QDGConfig(samples=samples, clusters=tuple(repeated_ints(clusters, "--clusters")), params=names,
                    max_loss=None if all_samples else max_loss_bits * math.log(2), eigen_solver=eigen_solver,
                    affinity=affinity, ce_gradient=ce_gradient, seed=seed, n_boot=n_boot)
    result = qdg_run(open_store(store, must_exist=True), run, member=member, step=step, cfg=cfg)
    if out is not None:
        from grokscope.quanta._rankfreq import rank_frequency_figure

        out.parent.mkdir(parents=True, exist_ok=True)
        rank_frequency_figure(result).savefig(out, dpi=150)
    if as_json:
        typer.echo(result.to_json())
        return
    s = result.seconds
    typer.echo(f"QDG of {result.source}: {result.n_samples} samples (of {result.n_candidates} below the loss rule), "
               f"{result.n_params:,} parameters, {result.n_zero_gradients} zero gradients, mean cosine "
               f"{result.mean_cosine:.3f}; {s['total_s']:.1f} s (gradients {s['gradients_s']:.1f} s, similarity "
               f"{s['similarity_s']:.1f} s, embedding {s['embedding_s']:.1f} s)")
    typer.echo(f"{'k':>6} {'ARI':>6} {'homog.':>6} {'slope':>7} {'95% interval':>18} {'largest clusters':<30}")
    for c in result.clusters:
        e = c.rank_frequency.exponent
        ari = "-" if c.ari is None else f"{c.ari:.3f}"
        homog = "-" if c.homogeneity is None else f"{c.homogeneity:.3f}"
        ci = f"[{-e.hi:.2f}, {-e.lo:.2f}]" if math.isfinite(e.lo) else "-"
        typer.echo(f"{c.k:>6} {ari:>6} {homog:>6} {c.rank_frequency.slope:>7.2f} {ci:>18} "
                   f"{', '.join(map(str, c.rank_frequency.sizes[:6]))}")
    typer.echo("ARI: adjusted Rand index of clusters vs the task's groups; homog.: 1 when each cluster lies in "
               "one group; slope of log size vs log rank (bootstrap over samples)"
               + (f"; figure: {out}" if out is not None else ""))


@app.command()
def emergence(
    run: int = typer.Argument(..., help="Run id of a multitask_parity run."),
    threshold_bits: float = typer.Option(0.1, "--threshold-bits", help="A subtask is learned below this loss (bits)."),
    split: str = typer.Option("test", "--split", help="Split whose per-subtask loss is used."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples of the slope."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole analysis as JSON."),
    out: Path | None = typer.Option(None, "--out", help="Directory for emergence.json and the two figures."),
    store: Path | None = STORE_OPT,
) -> None:
    """Emergence per quantum: the step each subtask is learned at against its frequency (theory: slope -1)."""
    from grokscope.quanta import emergence as run_emergence
    from grokscope.quanta import save_emergence

    em = run_emergence(open_store(store, must_exist=True), run, threshold_bits=threshold_bits, split=split, n_boot=n_boot, seed=seed)
    paths = save_emergence(em, out) if out is not None else []
    typer.echo(em.to_json() if as_json else json.dumps(em.summary(), indent=1, ensure_ascii=False))
    for p in paths:
        typer.echo(f"wrote {p}", err=True)


from grokscope.cli import _quanta_lm  # noqa: E402

app.command("lm-train")(_quanta_lm.lm_train)
app.command("lm-tokens")(_quanta_lm.lm_tokens)
app.command("lm-qdg")(_quanta_lm.lm_qdg)
