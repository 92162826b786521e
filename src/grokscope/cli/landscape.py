"""``grokscope landscape ...``: the semantic-landscape studies (a thin layer over ``grokscope.theory``).

Gokhale 2023, "The semantic landscape paradigm for neural networks", reads training as a walk on
a graph of heuristic models. Each command runs one study of it, writes ``<name>.png`` and
``<name>_summary.json`` into ``--out`` and stores a run of kind "simulation" (config, summary,
arrays) in the run store. Bad parameters raise ``ConfigError``; ``grokscope.cli.main`` prints
the line and exits 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from grokscope.cli._common import STORE_OPT, open_store
from grokscope.errors import ConfigError

app = typer.Typer(help='Simulate the semantic landscape of Gokhale 2023, "The semantic landscape paradigm for neural '
                       'networks": percolation, grokking, emergence, trap model.',
                  no_args_is_help=True)

_OUT = typer.Option(Path("landscape-out"), "--out", help="Directory for figures and the JSON summary.")
_SEED = typer.Option(0, "--seed", help="Seed of the whole study; realization r uses member_seed(seed, r).")


def _floats(text: str, name: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"--{name}={text!r}: must be comma-separated numbers, e.g. 0.3,0.5") from None
    if not vals:
        raise ConfigError(f"--{name}={text!r}: give at least one value")
    return vals


def _finish(study, out: Path, store_path) -> None:
    from grokscope.theory._figures import plot_study
    from grokscope.theory._study import save_study

    store = open_store(store_path)
    try:
        run_id = save_study(study, out, store)
    finally:
        store.close()
    paths = plot_study(study, out)
    typer.echo(f"run {run_id} (simulation) stored in {store.path}")
    for p in [*paths, out / f"{study.name}_summary.json"]:
        typer.echo(f"wrote {p}")


@app.command()
def percolation(
    sizes: str = typer.Option("32,64,128", help="Lattice sides L, comma-separated."),
    kind: str = typer.Option("bond", help="bond (data D) or site (parameters N)."),
    realizations: int = typer.Option(40, help="Lattices per size."),
    er_n: int = typer.Option(100_000, help="Nodes of the Erdős–Rényi graph."),
    out: Path = _OUT,
    store: Optional[Path] = STORE_OPT,
    seed: int = _SEED,
) -> None:
    """Square-lattice thresholds with finite-size scaling; Erdős–Rényi giant component vs exact."""
    from grokscope.theory._study_percolation import percolation_study

    Ls = tuple(int(v) for v in _floats(sizes, "sizes"))
    st = percolation_study(Ls, kind=kind, realizations=realizations, er_n=er_n, seed=seed)
    s = st.summary
    typer.echo(f"p_c ({kind}) extrapolated: {s['p_c_extrapolated']:.4f} "
               f"[{s['p_c_ci95'][0]:.4f}, {s['p_c_ci95'][1]:.4f}]  exact {s['p_c_exact']:.4f}")
    typer.echo(f"nu from spread: {s['nu_from_spread']:.2f} [{s['nu_ci95'][0]:.2f}, {s['nu_ci95'][1]:.2f}]  exact 4/3")
    typer.echo(f"ER S(c=2): {s['er_S_at_c2']['simulated']:.4f}  exact {s['er_S_at_c2']['exact']:.4f}")
    _finish(st, out, store)


@app.command()
def grokking(
    L: int = typer.Option(32, "--L", help="Side of the sea of heuristic models."),
    realizations: int = typer.Option(16, help="Landscapes."),
    rules: str = typer.Option("arrhenius,metropolis,glauber", help="Rate rules, comma-separated."),
    beta: float = typer.Option(1.0, help="Inverse temperature β (> 0)."),
    ruggedness: float = typer.Option(1.0, help="Sea F = 1 + ruggedness * U(0,1)."),
    delta_min: float = typer.Option(0.01, help="Smallest D - D_c."),
    delta_max: float = typer.Option(1.0, help="Largest D - D_c."),
    fit_from: float = typer.Option(0.1, help="Second fit over D - D_c >= this."),
    n_walkers: int = typer.Option(400, help="Kinetic Monte Carlo walkers per D."),
    out: Path = _OUT,
    store: Optional[Path] = STORE_OPT,
    seed: int = _SEED,
) -> None:
    """Grokking time vs data above the M_M ~ M_G connection threshold; fit ν."""
    from grokscope.theory._study_grokking import grokking_study

    rule_list = tuple(r.strip() for r in rules.split(",") if r.strip())
    st = grokking_study(L, realizations=realizations, rules=rule_list, beta=beta, ruggedness=ruggedness,
                        delta_min=delta_min, delta_max=delta_max, fit_from=fit_from, n_walkers=n_walkers, seed=seed)
    s = st.summary
    typer.echo(f"D_c = {s['D_c_mean']:.3f} ± {s['D_c_sd']:.3f} (sd over landscapes); Gokhale 2023 predicts ν = 1")
    for rule, f in s["fits"].items():
        q, u = f["quenched"], f["quenched_from"]
        typer.echo(f"{rule:>10}: ν = {q['nu']:.2f} [{q['nu_ci95'][0]:.2f}, {q['nu_ci95'][1]:.2f}] "
                   f"(D - D_c >= {delta_min}); ν = {u['nu']:.2f} [{u['nu_ci95'][0]:.2f}, {u['nu_ci95'][1]:.2f}] "
                   f"(>= {fit_from})")
    _finish(st, out, store)


@app.command()
def emergence(
    L: int = typer.Option(32, "--L", help="Side of the sea of heuristic models."),
    realizations: int = typer.Option(16, help="Landscapes."),
    coupling: float = typer.Option(0.5, help="How much a model's complexity follows its goodness, in [0, 1]."),
    n_grid: int = typer.Option(24, help="Grid points in D and in N."),
    out: Path = _OUT,
    store: Optional[Path] = STORE_OPT,
    seed: int = _SEED,
) -> None:
    """The N at which a path to low-F models opens; connectivity phase over (D, N); F reached vs N."""
    from grokscope.theory._study_percolation import emergence_study

    st = emergence_study(L, realizations=realizations, coupling=coupling, n_grid=n_grid, seed=seed)
    s = st.summary
    typer.echo(f"N_c median {s['N_c_median']:.3g} (IQR {s['N_c_iqr'][0]:.3g}-{s['N_c_iqr'][1]:.3g}); "
               f"capacity q_c = {s['q_c_mean']:.3f} (uncoupled site p_c {s['site_p_c_uncoupled']:.4f})")
    _finish(st, out, store)


@app.command()
def trap(
    mus: str = typer.Option("0.3,0.5,0.7,1.5", help="Barrier exponents μ (> 0), comma-separated."),
    beta: float = typer.Option(1.0, help="Inverse temperature β (> 0)."),
    n_walkers: int = typer.Option(400, help="Trap-model walkers."),
    s_max: float = typer.Option(1e6, "--s-max", help="Largest training budget S (units of τ0)."),
    mu_scaling: float = typer.Option(0.5, help="μ used for F(N) and F(D)."),
    alpha: float = typer.Option(0.5, help="Exploration exponent α of Gokhale 2023's τ0(D, N)."),
    d_f: float = typer.Option(2.0, "--d-f", help="Fractal dimension d_f of the flat sub-graph."),
    explore: bool = typer.Option(True, help="Also simulate the exploration walkers behind τ0(N)."),
    out: Path = _OUT,
    store: Optional[Path] = STORE_OPT,
    seed: int = _SEED,
) -> None:
    """Semantic trap model: F(S), F(N), F(D) slopes vs Eqs. 6-8; renewal variant; simulated τ0(N)."""
    from grokscope.theory._study_trap import trap_study

    st = trap_study(_floats(mus, "mus"), beta=beta, n_walkers=n_walkers, S_max=s_max, mu_scaling=mu_scaling,
                    alpha=alpha, d_f=d_f, explore=explore, seed=seed)
    s = st.summary
    for mu, v in s["F_vs_S"].items():
        m = v["median"]
        typer.echo(f"mu={mu}: F(S) slope {m['slope']:.3f} [{m['ci95'][0]:.3f}, {m['ci95'][1]:.3f}] "
                   f"(paper {v['paper']:.2f}, sum-of-waits theory {v['sum_of_waits_theory']:.2f})")
    for key in ("F_vs_N", "F_vs_D"):
        v = s[key]
        typer.echo(f"{key}: inside {v['inside']['slope']:.3f}, outside {v['outside']['slope']:.3f} "
                   f"(paper {v['paper']:.3f})")
    for key, v in s.get("tau0_vs_N", {}).items():
        typer.echo(f"tau0 vs N {key}: {v['fit']['slope']:.2f} [{v['fit']['ci95'][0]:.2f}, {v['fit']['ci95'][1]:.2f}] "
                   f"(paper {v['paper']:.2f}, search theory {v['search_theory']:.2f})")
    _finish(st, out, store)


# `grokscope landscape measured SWEEP`: the landscape measured on trained networks (cli/measured.py)
from grokscope.cli import measured as _measured  # noqa: E402

app.add_typer(_measured.app)
