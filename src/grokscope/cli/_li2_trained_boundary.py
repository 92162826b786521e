"""``grokscope li2 trained-boundary``: Theorem 4's boundary in trained Li2 networks.

Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking".

    grokscope li2 trained-boundary --groups cyclic:23,... --coefs 1.5,...,6.4 --seeds 0,1,2,3,4 --steps N [--json] [--out DIR]

trains one Li2 network per (group, fraction p = c·ln M/M, seed), packed into ensembles
(``grokscope.li2.trained_boundary``), classifies each as generalized, memorized or undecided, finds
p*(M) where half the seeds generalize (seed-bootstrap interval) and fits c·ln M/M and a·M^-γ per
family; ``--out`` writes ``trained_boundary.json`` and ``trained_boundary.png`` there. A thin layer
over ``grokscope.li2``; registered in ``cli/li2.py`` as ``app.command("trained-boundary")(...)``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from grokscope.cli._common import comma_floats, comma_ints, group_specs
from grokscope.validate import check_choice, check_int, check_number


_TB_GROUPS = ("cyclic:23,cyclic:31,cyclic:43,cyclic:59,cyclic:83,cyclic:127,"
              "dihedral:11,dihedral:15,dihedral:20,dihedral:26,dihedral:35,dihedral:48")  # D_n: the energy boundary's


def trained_boundary(
    groups: str = typer.Option(_TB_GROUPS, "--groups", help="Group specs separated by ';' or by ',' between specs "
                               "(at least 3; a family's fit needs 3 orders)."),
    coefs: str = typer.Option("2,2.3,2.65,3,3.4,3.85,4.4,5.2", "--coefs",
                              help="Coefficients c of the fractions p = c ln M / M, comma-separated; every p in (0, 1)."),
    seeds: str = typer.Option("0,1,2,3,4", "--seeds", help="Seeds (training pairs and init), comma-separated."),
    steps: int = typer.Option(2000, "--steps", help="Step budget per member (full-batch Adam steps)."),
    lr: float = typer.Option(0.1, "--lr", help="Adam learning rate on W."),
    hidden: int = typer.Option(0, "--hidden", help="Hidden nodes K (0: 32·ceil((2M+1)/32) per group)."),
    leave_window: int = typer.Option(100, "--leave-window", help="Steps a member must hold test accuracy >= 0.99 "
                                     "before it leaves its ensemble (counted generalized)."),
    eval_every: int = typer.Option(50, "--eval-every", help="Steps between evaluations."),
    dtype: str = typer.Option("float32", "--dtype", help="float32 or float64."),
    threads: int = typer.Option(1, "--threads", help="torch intra-op threads during the sweep (per worker)."),
    workers: int = typer.Option(1, "--workers", help="Groups trained at once, one process each (results do not "
                                "depend on it; 2 on a 2-core machine)."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples (seeds for p*; points for the fits)."),
    refine: int = typer.Option(0, "--refine", help="Extra coefficients per group inside the grid step where the "
                               "generalized share crosses 1/2 (a second pass; 0: none)."),
    out: str = typer.Option("", "--out", help="Directory for trained_boundary.json and trained_boundary.png."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Theorem 4 in trained networks: the fraction p*(M) below which Li2 networks memorize instead of
    generalizing, fitted to c·ln M/M and to a·M^-γ."""
    specs = group_specs(groups)
    coef_list = [check_number(c, "--coefs", lo=0.0, lo_open=True) for c in comma_floats(coefs, "--coefs", "2,2.65,3.4")]
    seed_list = comma_ints(seeds, "--seeds", 0, "0,1,2")
    check_int(steps, "--steps", 1)
    check_number(lr, "--lr", lo=0.0, lo_open=True)
    check_int(hidden, "--hidden", 0)
    check_int(leave_window, "--leave-window", 0)
    check_int(eval_every, "--eval-every", 1)
    check_choice(dtype, "--dtype", ("float32", "float64"))
    check_int(threads, "--threads", 1)
    check_int(workers, "--workers", 1)
    check_int(n_boot, "--n-boot", 0)
    check_int(refine, "--refine", 0)
    from grokscope.li2 import trained_boundary as run_sweep

    progress = None if as_json else (lambda text: print(text, file=sys.stderr, flush=True))
    r = run_sweep(specs, coef_list, seed_list, steps=steps, lr=lr, hidden=hidden or None, eval_every=eval_every,
                  leave_window=leave_window, dtype=dtype, n_boot=n_boot, refine=refine, threads=threads,
                  workers=workers, progress=progress)
    d = r.to_dict()
    if out:
        from grokscope.li2 import trained_boundary_figure

        path = Path(out)
        path.mkdir(parents=True, exist_ok=True)
        (path / "trained_boundary.json").write_text(json.dumps(d, indent=1, ensure_ascii=False))
        trained_boundary_figure(d).savefig(path / "trained_boundary.png")
    if as_json:
        typer.echo(json.dumps(d, indent=1, ensure_ascii=False))
        return
    typer.echo(f"rule: {r.rule}")
    typer.echo(f"{'group':>8} {'M':>4} {'K':>4} {'generalized per c (of ' + str(len(seed_list)) + ')':>32} "
               f"{'undec.':>6} {'p*':>7} {'95% (seeds)':>17} {'c* = p*M/lnM':>12} {'s':>6}")
    fmt = lambda v: "  nan" if v is None else f"{v:.4f}"
    for g in d["groups"]:
        typer.echo(f"{g['group']:>8} {g['M']:>4} {g['hidden']:>4} {' '.join(map(str, g['generalized'])):>32} "
                   f"{sum(g['undecided']):>6} {fmt(g['p_star']):>7} [{fmt(g['p_lo'])}, {fmt(g['p_hi'])}] "
                   f"{fmt(g['c_star']):>12} {g['seconds']:>6.1f}" + ("" if g["status"] == "ok" else f"  ({g['status']})"))
    for fam, f in r.fits.items():
        typer.echo(f"\n{fam}: p* = c ln M / M : c = {f['ln'].params['c']} (seed bootstrap {f['c_seed_interval']})")
        typer.echo(f"{fam}: p* = a M^-γ     : a = {f['power'].params['a']}, γ = {f['power'].params['g']} "
                   f"(γ seed bootstrap {f['gamma_seed_interval']})")
        typer.echo(f["comparison"].summary())
    typer.echo(f"\n{d['undecided']} undecided members; member-steps {d['member_steps']:,} of {d['member_steps_full']:,} "
               f"({100 * d['member_steps_saved']:.1f}% saved by leaving early); {d['seconds']} s wall, {d['cpu_seconds']} s "
               f"CPU on {d['workers']} worker(s) x {d['threads']} thread(s), load average {d['load_average']}")
