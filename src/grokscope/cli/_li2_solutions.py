"""``grokscope li2 solutions``: CoGO's constructed optima and Tian's table of solution types.

Tian 2024, "Composing Global Optimizers to Reasoning Tasks via Algebraic Objects in Neural Nets".

    grokscope li2 solutions --d 23 [--hidden 512] [--wd 5e-5] [--lr 0.01] [--steps 10000]
                            [--seeds 1,2,3,4,5] [--train-fraction 0.9] [--threshold 0.05] [--json]

first checks the constructed global optima z_F6, z_F4/6 and z_M (d² nodes; skipped for d > 71)
on all d² pairs (their centred MSE, 0 to rounding), then trains one Li2 network per seed as the
reference's sweep did (``grokscope.li2.train_cogo``), factorizes each per-frequency solution and
prints Tian's table (``grokscope.li2.solution_table``) with Tian's numbers beside ours.
``--steps 0`` only checks the constructions. A thin layer over ``grokscope.li2``; registered in
``cli/li2.py`` as ``app.command("solutions")(solutions)``.
"""

from __future__ import annotations

import json
import math

import typer

from grokscope.validate import check_int, check_number, require


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        seeds = []
    require(bool(seeds) and all(s >= 0 for s in seeds), "--seeds", text, "comma-separated integers >= 0")
    return seeds


def _cell(v) -> str:
    m, se = v
    if m is None or math.isnan(m):
        return "-"
    return f"{m:.2f}" if se is None or math.isnan(se) else f"{m:.2f}±{se:.2f}"


def solutions(
    d: int = typer.Option(23, "--d", help="Odd modulus d of a + b mod d (Tian's table: 23, 71, 127)."),
    hidden: int = typer.Option(512, "--hidden", help="Hidden nodes q (Tian's table: 512)."),
    wd: float = typer.Option(5e-5, "--wd", help="Adam's coupled L2 weight decay (Tian's table: 5e-5)."),
    lr: float = typer.Option(0.01, "--lr", help="Adam learning rate (the reference's sweep: 0.01)."),
    steps: int = typer.Option(10000, "--steps", help="Full-batch steps (the reference's sweep: 10,000); 0 = constructions only."),
    seeds: str = typer.Option("1,2,3,4,5", "--seeds", help="Comma-separated seeds, trained together as one ensemble."),
    train_fraction: float = typer.Option(0.9, "--train-fraction", help="Training fraction of the d² pairs (reference: 0.9)."),
    threshold: float = typer.Option(0.05, "--threshold", help="A node is active when its largest |z_a[k]| exceeds this."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """CoGO's constructed optima checked on all pairs, and Tian's table of trained solution types."""
    check_int(d, "--d", 3)
    require(d % 2 == 1, "--d", d, "an odd integer >= 3")
    check_int(hidden, "--hidden", 1)
    check_number(wd, "--wd", lo=0.0)
    check_number(lr, "--lr", lo=0.0, lo_open=True)
    check_int(steps, "--steps", 0)
    seed_list = _seeds(seeds)
    check_number(train_fraction, "--train-fraction", lo=0.0, hi=1.0, lo_open=True)
    check_number(threshold, "--threshold", lo=0.0, lo_open=True)
    from grokscope.li2 import construction_losses, solution_table, train_cogo

    built = construction_losses(d, memorize=d <= 71)
    table = None
    if steps > 0:
        run = train_cogo(d, hidden=hidden, lr=lr, weight_decay=wd, steps=steps, train_fraction=train_fraction,
                         seeds=seed_list)
        table = solution_table(run, threshold)
    if as_json:
        typer.echo(json.dumps({"d": d, "constructions": built, "table": table.to_dict() if table else None},
                              indent=1, ensure_ascii=False))
        return
    typer.echo(f"constructed optima on Z_{d}, centred MSE over all {d * d} pairs:")
    for name, v in built.items():
        typer.echo(f"  {name:>11}: {v['nodes']:>6} nodes, loss {v['loss']:.3e}")
    if table is None:
        return
    r = table.run
    typer.echo(f"trained: q = {r.hidden}, wd = {r.weight_decay:g}, Adam lr = {r.lr:g}, {r.steps} steps, "
               f"{r.train_fraction:g} of pairs, seeds {list(r.seeds)}: {r.seconds:.1f} s")
    typer.echo("  final train loss " + " ".join(f"{x:.2e}" for x in r.train_loss)
               + " | test acc " + " ".join(f"{x:.3f}" for x in r.test_acc))
    typer.echo(f"{'column (mean ± s.e. over seeds)':>34} {'ours':>14} {'seed':>14}")
    for col, v in table.ours.items():
        seed = _cell(table.seed[col]) if table.seed else "-"
        typer.echo(f"{col:>34} {_cell(v):>14} {seed:>14}")
    typer.echo("errors are ×10⁻²; solution types are % of the factorable per-frequency solutions")
    for det in table.details:
        typer.echo(f"  seed {det['seed']}: order per frequency {dict(det['orders'])}")
