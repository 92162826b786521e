"""``grokscope li2 ...``: Li2's theorems measured (a thin layer over ``grokscope.li2``).

Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking".

    grokscope li2 energy --group cyclic:71 [--starts N] [--act x2] [--seed S] [--json]

prints the local maxima of the Stage II energy found by projected gradient ascent from ``N``
random starts, with their energies, irrep labels, counts and Theorem 2's predicted E*. Bad input
(an unknown group spec, M < 2, an unknown σ, N <= 0) raises one ``ConfigError`` line; ``main``
prints it and exits with code 2.
"""

from __future__ import annotations

import json

import typer

from grokscope.validate import check_choice, check_int

app = typer.Typer(help='Li2 (Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of '
                       'Grokking"): the energy function and its maxima on group tasks.', no_args_is_help=True)

_ACTS = ("x2", "relu", "silu")


@app.callback()
def _group() -> None:
    """Li2's theorems, each measured by one command."""


@app.command()
def energy(
    group: str = typer.Option("cyclic:71", "--group", help="cyclic:M, product:m1,m2,..., dihedral:n or symmetric:n (n <= 5)."),
    starts: int = typer.Option(1000, "--starts", help="Random starts on the sphere, ascended together."),
    act: str = typer.Option("x2", "--act", help="Activation σ: x2 (Theorem 2's setting), relu or silu."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random starts."),
    lr: float = typer.Option(0.5, "--lr", help="Step, relative to ‖∇E‖ (in (0, 2])."),
    max_steps: int = typer.Option(400, "--max-steps", help="Most ascent steps."),
    top: int = typer.Option(40, "--top", help="Classes of maxima shown in the table (--json lists all)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Local maxima of E(w) = ½‖Ỹᵀσ(Xw)‖² on the sphere and Theorem 2's E* beside them."""
    check_choice(act, "--act", _ACTS)
    check_int(starts, "--starts", 1, 10**6)
    check_int(top, "--top", 1)
    from grokscope.groups import parse_group
    from grokscope.li2 import NORMALIZATION, ascend

    g = parse_group(group)
    result = ascend(g, starts=starts, act=act, seed=seed, lr=lr, max_steps=max_steps)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=1, ensure_ascii=False))
        return
    typer.echo(f"{g.describe()}, σ = {act}: {result.starts} starts, {result.steps} steps, "
               f"{result.converged} converged (‖∇⊥E‖/‖∇E‖ < {result.tol:g}) in {result.seconds:.2f} s")
    typer.echo(f"normalization: {NORMALIZATION}")
    head = f"{'irrep':>16} {'d':>2} {'type':>8} {'E':>10} {'E* (ours)':>10} {'E* (seed)':>10} {'starts':>7} {'purity':>7}"
    typer.echo(head)
    fmt = lambda v: "-" if v is None else f"{v:.4f}"
    for m in result.maxima[:top]:
        typer.echo(f"{m.label:>16} {m.dim:>2} {m.kind:>8} {m.energy:>10.4f} {fmt(m.predicted):>10} "
                   f"{fmt(m.predicted_seed):>10} {m.count:>7} {m.purity_min:>7.4f}")
    if len(result.maxima) > top:
        typer.echo(f"... {len(result.maxima) - top} more classes (--top, or --json for all)")
