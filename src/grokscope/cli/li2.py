"""``grokscope li2 ...``: Li2's theorems measured (a thin layer over ``grokscope.li2``).

Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking".

    grokscope li2 energy --group cyclic:71 [--starts N] [--act x2] [--seed S] [--json]

prints the local maxima of the Stage II energy found by projected gradient ascent from ``N``
random starts, with their energies, irrep labels, counts and Theorem 2's predicted E*.

    grokscope li2 stages --group cyclic:23 [--fraction F] [--hidden 64,512] [--eta 0,1,1e4] [--json]

measures Stage I at the Li2 init (``grokscope.li2.stage_one_grid``): the ridge top layer's
back-propagated gradient G_F, its cosine with ỸỸᵀF, Tian's Lemma 1 and η G_F against ∇Ê.

    grokscope li2 boundary --groups cyclic:23,cyclic:31,... [--seeds 0,1,2] [--json]

measures Theorem 4's critical training fraction per group and seed (``grokscope.li2.boundary``)
and fits it to c·ln M/M and to a·M^-γ, with intervals and the AIC/BIC/LOO comparison.

    grokscope li2 train --group cyclic:23 [--fraction F] [--hidden K] [--eta η] [--eta-w η_W] [--json]

trains W by full-batch gradient descent with V at its ridge solution every step
(``grokscope.li2.train_ridge``) and prints held-out accuracy, G_F and node purity over training.

    grokscope li2 stage3 --group cyclic:23 --learned 1,2,3 [--starts N] [--per-irrep n] [--json]

Theorem 7 (``grokscope.li2.stage_three``): freezes hidden nodes on the learned irreps, fits the
ridge top layer to them, ascends the new node's energy E_S on the residual target from N random
starts and counts which irreps the maxima land on (the theorem: none in the learned set).

    grokscope li2 grok --group cyclic:71 [--fraction 0.4] [--eta 2e-4,0] [--lr 1e-3,5e-3] [--json]

trains W with Adam under the ridge top layer for every (η, lr) (``grokscope.li2.train_ridge_adam``)
and prints, per checkpoint, the accuracies and the network's stage by ``network_stages``' rule:
emerged nodes (energy against Theorem 2's E*, irrep purity) and learned irreps.

``grokscope li2 trained-boundary`` (Theorem 4 in trained networks) and ``grokscope li2 solutions``
(CoGO's constructions and Tian's table) live in their own modules, ``_li2_trained_boundary.py`` and
``_li2_solutions.py``, whose docstrings describe them.

Bad input (an unknown group spec, M < 2, an unknown σ, N <= 0, a negative η, fewer than three
groups...) raises one ``ConfigError`` line before any work; ``main`` prints it and exits with code 2.
"""

from __future__ import annotations

import json

import typer

from grokscope.cli import (  # these two commands live in their own modules
    _li2_solutions,
    _li2_trained_boundary,
)
from grokscope.cli._common import comma_floats, comma_ints, group_specs
from grokscope.validate import check_choice, check_int

app = typer.Typer(help='Li2 (Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of '
                       'Grokking"): the energy function, Stage I and the memorization boundary.',
                  no_args_is_help=True)

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


def _floats(text: str, key: str) -> list[float]:
    return comma_floats(text, key, "0,1e-2,1")


def _ints(text: str, key: str, lo: int) -> list[int]:
    return comma_ints(text, key, lo, "0,1,2")


@app.command()
def stages(
    group: str = typer.Option("cyclic:23", "--group", help="cyclic:M, product:m1,m2,..., dihedral:n or symmetric:n."),
    fraction: float = typer.Option(0.5, "--fraction", help="Training fraction of the M² pairs (in (0, 1])."),
    hidden: str = typer.Option("64,512,2048", "--hidden", help="Widths K, comma-separated."),
    eta: str = typer.Option("0,1e-2,1,1e2,1e4", "--eta", help="Weight decays η on V (the ridge), comma-separated, >= 0."),
    act: str = typer.Option("x2", "--act", help="Activation σ: x2, relu or silu."),
    seed: int = typer.Option(0, "--seed", help="Seed of the training subset and of the Li2 init."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
) -> None:
    """Stage I at init: the ridge top layer's back-propagated gradient G_F against Lemma 1 and ∇Ê."""
    from grokscope.validate import check_number

    check_choice(act, "--act", _ACTS)
    check_number(fraction, "--fraction", lo=0.0, hi=1.0, lo_open=True)
    ks = _ints(hidden, "--hidden", 1)
    etas = [check_number(e, "--eta", lo=0.0) for e in _floats(eta, "--eta")]
    from grokscope.groups import parse_group
    from grokscope.li2 import stage_one_grid

    g = parse_group(group)
    rows = stage_one_grid(g, fraction=fraction, hidden=ks, etas=etas, act=act, seed=seed)
    if as_json:
        typer.echo(json.dumps({"group": g.name, "order": g.order, "fraction": fraction, "act": act, "seed": seed,
                               "rows": rows}, indent=1, ensure_ascii=False))
        return
    typer.echo(f"{g.describe()}, σ = {act}, {rows[0]['n']} training pairs (fraction {fraction:g}), Li2 init, seed {seed}")
    typer.echo(f"{'K':>6} {'η':>8} {'loss':>8} {'‖G_F‖':>10} {'‖G_F‖/√K':>10} {'cos(G_F,ỸỸᵀF)':>15} {'Lemma1 err':>11} "
               f"{'ηG_F vs ∇Ê':>11} {'F̃ᵀF̃ offdiag':>13}")
    for r in rows:
        rel = "-" if r["energy_rel_err"] is None else f"{r['energy_rel_err']:.2e}"
        typer.echo(f"{r['k']:>6} {r['eta']:>8.0e} {r['train_loss']:>8.4f} {r['g_norm']:>10.3e} "
                   f"{r['g_node_rms']:>10.3e} {r['cos_energy']:>15.4f} {r['lemma1_rel_err']:>11.3e} {rel:>11} "
                   f"{r['gram_k_offdiag']:>13.4f}")


@app.command()
def boundary(
    groups: str = typer.Option("cyclic:23,cyclic:31,cyclic:41,cyclic:53,cyclic:71,cyclic:97", "--groups",
                               help="Group specs separated by ';' or by ',' between specs (at least 3)."),
    seeds: str = typer.Option("0,1,2", "--seeds", help="Seeds (training subsets and starting maxima), comma-separated."),
    iters: int = typer.Option(6, "--iters", help="Bisection steps in log p per group and seed."),
    components: int = typer.Option(16, "--components", help="Irrep components tried per group (a random choice)."),
    purity: float = typer.Option(0.75, "--purity", help="Share left in the starting irrep for a maximum to count as kept."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples for the fit intervals."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Theorem 4: the critical training fraction p* below which the empirical energy loses E's maxima,
    fitted to c·ln M/M and to a·M^-γ."""
    from grokscope.validate import check_number

    check_int(iters, "--iters", 1, 30)
    check_int(components, "--components", 1)
    check_number(purity, "--purity", lo=0.5, hi=1.0, lo_open=True)
    check_int(n_boot, "--n-boot", 0)
    specs = group_specs(groups)
    seed_list = _ints(seeds, "--seeds", 0)
    from grokscope.groups import parse_group
    from grokscope.li2 import boundary as run_boundary

    for s in specs:
        parse_group(s)  # every spec checked before any work
    r = run_boundary(specs, seed_list, iters=iters, max_components=components, purity=purity, n_boot=n_boot)
    if as_json:
        typer.echo(json.dumps(r.to_dict(), indent=1, ensure_ascii=False))
        return
    typer.echo(f"rule: {r.rule}")
    typer.echo(f"{'group':>8} {'M':>5} {'seed':>5} {'p*':>8} {'bracket':>17} {'p*·M/lnM':>9}")
    import math

    for g, m, s, p, lo, hi in zip(r.groups, r.orders, r.seeds, r.p_star, r.p_lo, r.p_hi):
        typer.echo(f"{g:>8} {m:>5} {s:>5} {p:>8.4f} [{lo:.4f}, {hi:.4f}] {p * m / math.log(m):>9.3f}")
    typer.echo(f"fit  p* = c ln M / M : c = {r.fit_ln.params['c']}")
    typer.echo(f"fit  p* = a M^-γ     : a = {r.fit_power.params['a']}, γ = {r.fit_power.params['g']}")
    typer.echo(r.comparison.summary())
    typer.echo(f"{r.seconds:.1f} s")



@app.command()
def train(
    group: str = typer.Option("cyclic:23", "--group", help="cyclic:M, product:m1,m2,..., dihedral:n or symmetric:n."),
    fraction: float = typer.Option(0.6, "--fraction", help="Training fraction of the M² pairs (in (0, 1])."),
    hidden: int = typer.Option(256, "--hidden", help="Hidden nodes K."),
    eta: float = typer.Option(1.0, "--eta", help="Weight decay η on V (the ridge regularizer), >= 0."),
    eta_w: float = typer.Option(1e-3, "--eta-w", help="Weight decay η_W on W, >= 0."),
    lr: float = typer.Option(0.05, "--lr", help="Gradient-descent step on W."),
    steps: int = typer.Option(1000, "--steps", help="Full-batch steps."),
    eval_every: int = typer.Option(100, "--eval-every", help="Steps between records."),
    act: str = typer.Option("x2", "--act", help="Activation σ: x2, relu or silu."),
    seed: int = typer.Option(0, "--seed", help="Seed of the training subset and of the Li2 init."),
    as_json: bool = typer.Option(False, "--json", help="Print the run as JSON."),
) -> None:
    """Train W by gradient descent with the top layer at its ridge solution every step (Stage I's V_ridge):
    held-out accuracy, G_F and node purity over training."""
    from grokscope.validate import check_number

    check_choice(act, "--act", _ACTS)
    check_number(fraction, "--fraction", lo=0.0, hi=1.0, lo_open=True)
    check_int(hidden, "--hidden", 1)
    check_number(eta, "--eta", lo=0.0)
    check_number(eta_w, "--eta-w", lo=0.0)
    check_number(lr, "--lr", lo=0.0, lo_open=True)
    check_int(steps, "--steps", 0)
    check_int(eval_every, "--eval-every", 1)
    from grokscope.groups import parse_group
    from grokscope.li2 import train_ridge

    g = parse_group(group)
    run, _, _ = train_ridge(g, fraction=fraction, hidden=hidden, act=act, eta=eta, eta_w=eta_w, lr=lr, steps=steps,
                            eval_every=eval_every, seed=seed)
    if as_json:
        typer.echo(json.dumps(run.to_dict(), indent=1, ensure_ascii=False))
        return
    typer.echo(f"{g.describe()}, σ = {act}, {run.n_train} training pairs, K = {hidden}, η = {eta:g}, "
               f"η_W = {eta_w:g}, lr = {lr:g}, seed {seed}: {run.seconds:.1f} s")
    typer.echo(f"{'step':>6} {'train acc':>9} {'test acc':>8} {'loss':>9} {'‖G_F‖/√K':>10} {'cos(G_F,ỸỸᵀF)':>15} "
               f"{'node purity':>11} {'‖W‖':>8}")
    for r in run.records:
        typer.echo(f"{r['step']:>6} {r['train_acc']:>9.4f} {r['test_acc']:>8.4f} "
                   f"{r['train_loss']:>9.2e} {r['g_node_rms']:>10.3e} {r['cos_energy']:>15.4f} "
                   f"{r['node_purity']:>11.4f} {r['w_norm']:>8.3f}")

def _learned_list(text: str) -> list[str]:
    """``"1,2,3"``, ``"ρ2,ρ3"`` or ``"k=(1,0);k=(0,1)"``: split at ';', else at commas outside parentheses."""
    import re

    from grokscope.errors import ConfigError

    parts = [p.strip() for p in (text.split(";") if ";" in text else re.split(r",(?![^(]*\))", text))]
    parts = [p for p in parts if p]
    if not parts:
        raise ConfigError(f"--learned={text!r}: must list irrep components or frequencies, e.g. 1,2,3 or ρ2")
    return parts


@app.command()
def stage3(
    group: str = typer.Option("cyclic:23", "--group", help="cyclic:M, product:m1,m2,..., dihedral:n or symmetric:n."),
    learned: str = typer.Option("1,2,3", "--learned", help="The learned set S: frequencies (cyclic groups) or "
                                "component labels such as ρ2 or k=±3, comma-separated."),
    per_irrep: int = typer.Option(0, "--per-irrep", help="Frozen nodes per learned component (0: 12·d_k²)."),
    starts: int = typer.Option(2000, "--starts", help="Random starts of the new node, ascended together."),
    fraction: float = typer.Option(1.0, "--fraction", help="Training fraction the top layer is fitted on (in (0, 1])."),
    eta: float = typer.Option(0.0, "--eta", help="Ridge η of the top layer on the frozen nodes (0: the η → 0⁺ limit)."),
    act: str = typer.Option("x2", "--act", help="Activation σ: x2 (Theorem 7's setting), relu or silu."),
    seed: int = typer.Option(0, "--seed", help="Seed of the frozen nodes, the training subset and the starts."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Theorem 7: with irreps S learned, where the maxima of the modified energy E_S land."""
    from grokscope.validate import check_number

    check_choice(act, "--act", _ACTS)
    check_int(per_irrep, "--per-irrep", 0)
    check_int(starts, "--starts", 1, 10**6)
    check_number(fraction, "--fraction", lo=0.0, hi=1.0, lo_open=True)
    check_number(eta, "--eta", lo=0.0)
    items = _learned_list(learned)
    from grokscope.groups import parse_group
    from grokscope.li2 import resolve_components, stage_three

    g = parse_group(group)
    resolve_components(g, items)  # checked before any work
    r = stage_three(g, items, per_irrep=per_irrep or None, starts=starts, act=act, fraction=fraction, eta=eta,
                    seed=seed)
    if as_json:
        typer.echo(json.dumps(r.to_dict(), indent=1, ensure_ascii=False))
        return
    gap = "-" if r.residual_vs_theorem is None else f"{r.residual_vs_theorem:.1e}"
    typer.echo(f"{g.describe()}, σ = {act}: learned S = {', '.join(r.learned)} ({r.n_nodes} frozen nodes), "
               f"fraction {fraction:g}, η = {eta:g}; residual vs Ỹ(I − P_S): {gap}")
    typer.echo(f"{r.starts} starts, {r.steps} steps, {r.converged} converged, {r.seconds:.2f} s: "
               f"{r.landed_in_learned} maxima in S (Theorem 7: 0); missing components reached "
               f"{r.missing_reached}/{r.missing_total}")
    fmt = lambda v: "-" if v is None else f"{v:.4f}"
    typer.echo(f"{'irrep':>16} {'in S':>5} {'E_S':>10} {'E* (ours)':>10} {'starts':>7} {'purity':>7}")
    for m in r.maxima:
        typer.echo(f"{m.label:>16} {'yes' if m.label in r.learned else 'no':>5} {m.energy:>10.4f} "
                   f"{fmt(m.predicted):>10} {m.count:>7} {m.purity_min:>7.4f}")


@app.command()
def grok(
    group: str = typer.Option("cyclic:71", "--group", help="cyclic:M, product:m1,m2,..., dihedral:n or symmetric:n."),
    fraction: float = typer.Option(0.4, "--fraction", help="Training fraction of the M² pairs (in (0, 1])."),
    hidden: int = typer.Option(512, "--hidden", help="Hidden nodes K."),
    eta: str = typer.Option("2e-4,0", "--eta", help="Ridge coefficients η on V (Tian's η), comma-separated, >= 0."),
    lr: str = typer.Option("1e-3", "--lr", help="Adam learning rates on W, comma-separated."),
    weight_decay: float = typer.Option(1e-4, "--weight-decay", help="Adam's L2 weight decay on W."),
    steps: int = typer.Option(1000, "--steps", help="Full-batch steps."),
    eval_every: int = typer.Option(100, "--eval-every", help="Steps between checkpoints."),
    act: str = typer.Option("x2", "--act", help="Activation σ: x2, relu or silu."),
    seed: int = typer.Option(0, "--seed", help="Seed of the training subset and of the Li2 init."),
    as_json: bool = typer.Option(False, "--json", help="Print the runs as JSON."),
) -> None:
    """Train with Adam under the ridge top layer for each (η, lr); per checkpoint the accuracies, the
    nodes' energies against Theorem 2's E*, their irrep purity and the stage."""
    from grokscope.validate import check_number

    check_choice(act, "--act", _ACTS)
    check_number(fraction, "--fraction", lo=0.0, hi=1.0, lo_open=True)
    check_int(hidden, "--hidden", 1)
    etas = [check_number(e, "--eta", lo=0.0) for e in _floats(eta, "--eta")]
    lrs = [check_number(v, "--lr", lo=0.0, lo_open=True) for v in _floats(lr, "--lr")]
    check_number(weight_decay, "--weight-decay", lo=0.0)
    check_int(steps, "--steps", 0)
    check_int(eval_every, "--eval-every", 1)
    from grokscope.groups import parse_group
    from grokscope.li2 import network_stages, train_ridge_adam

    g = parse_group(group)
    out = []
    for e in etas:
        for rate in lrs:
            run = train_ridge_adam(g, fraction=fraction, hidden=hidden, act=act, eta=e, lr=rate,
                                   weight_decay=weight_decay, steps=steps, eval_every=eval_every, seed=seed)
            st = network_stages(g, run.checkpoints, act=act, records=run.records)
            out.append((run, st))
    if as_json:
        typer.echo(json.dumps([{"run": run.to_dict(), "stages": st.to_dict()} for run, st in out],
                              indent=1, ensure_ascii=False))
        return
    typer.echo(f"stage rule: {out[0][1].rule}")
    for run, st in out:
        typer.echo(f"\n{g.describe()}, σ = {act}, {run.n_train} training pairs, K = {hidden}, η = {run.eta:g}, "
                   f"Adam lr = {run.lr:g}, weight decay {weight_decay:g}, seed {seed}: {run.seconds:.1f} s")
        typer.echo(f"{'step':>6} {'train acc':>9} {'test acc':>8} {'cos(G_F,ỸỸᵀF)':>15} {'stage':>5} {'moved':>7} "
                   f"{'emerged':>8} {'learned':>8} {'E/E* mean':>9} {'top 10%':>8} {'purity':>7}")
        for r in st.rows:
            typer.echo(f"{r['step']:>6} {r['train_acc']:>9.4f} {r['test_acc']:>8.4f} {r['cos_energy']:>15.4f} "
                       f"{r['stage']:>5} {r['moved']:>7.3f} {r['emerged']:>8} {r['n_learned']:>4}/{r['n_components']:<3} "
                       f"{r['ratio_mean']:>9.4f} {r['ratio_top']:>8.4f} {r['purity_mean']:>7.4f}")



app.command("trained-boundary")(_li2_trained_boundary.trained_boundary)
app.command("solutions")(_li2_solutions.solutions)
