"""Scaling laws from the semantic trap model (Gokhale 2023, §4.1, Eqs. 6–8), and the exploration behind τ0.

Reference: Gokhale (2023), "The semantic landscape paradigm for neural networks".

Three measurements, each against the paper's prediction:

* F(S): slope of the typical (median) and mean F = F0/(1 + N_b) against steps S,
  for several μ (Eq. 6 predicts -μ); the renewal variant's F(S) beside it;
* F(N) at fixed budget and D -> large, F(D) at fixed budget and N -> large, with the
  paper's τ0(D, N), fitted inside and outside the ranges where Eqs. 7–8 are claimed
  (D << D_k, N << (ℓ0/ℓ∞)^d_f): predictions -μ/(d_f α) and -μ;
* τ0(N) from simulated exploration (ballistic, diffusive, sub-diffusive walkers on
  d_f-dimensional lattices with N exits): prediction τ0 ∝ N^(-1/(α d_f)).
"""

from __future__ import annotations

import numpy as np

from grokscope.errors import ConfigError
from grokscope.theory._fit import fit_power_law
from grokscope.theory._study import Study, realization_seed
from grokscope.theory._trap import WALKS, attempt_time, exploration_times, semantic_trap

__all__ = ["trap_study", "EXPLORATION_CASES", "search_time_exponent"]

# (walk, d_f, lattice side, exit densities): densities keep the median search under ~10^4 steps
EXPLORATION_CASES = (
    ("ballistic", 1, 20_000, (0.01, 0.02, 0.04, 0.08)),
    ("ballistic", 2, 256, (0.01, 0.02, 0.04, 0.08)),
    ("diffusive", 1, 20_000, (0.02, 0.04, 0.08, 0.16)),
    ("diffusive", 2, 256, (0.01, 0.02, 0.04, 0.08)),
    ("diffusive", 3, 48, (0.01, 0.02, 0.04, 0.08)),
    ("subdiffusive", 1, 20_000, (0.04, 0.08, 0.16, 0.32)),
    ("subdiffusive", 2, 256, (0.01, 0.02, 0.04, 0.08)),
)


def search_time_exponent(walk: str, d_f: int, a: float = 0.5) -> float:
    """Slope of τ0 vs N that the standard search argument gives, for comparison with the paper's.

    A walk of walk dimension d_w (ballistic 1, diffusive 2) visits ~n^min(d_f/d_w, 1) distinct
    sites in n steps; it meets one of N exits (density ∝ N) after n ∝ N^(-1/min(d_f/d_w, 1))
    steps, and a CTRW needs time n^(1/a) for n steps. The paper's -1/(α d_f) is the
    compact case d_f <= d_w (d_f = d_w is marginal: logarithmic corrections). See de Gennes,
    J. Chem. Phys. 76, 3316 (1982) on compact exploration; Bénichou & Voituriez, Phys. Rep.
    539, 225 (2014) on search times.

    >>> search_time_exponent("diffusive", 1), search_time_exponent("ballistic", 2)
    (-2.0, -1.0)
    """
    d_w = 1.0 if walk == "ballistic" else 2.0
    time_per_step = 1.0 / a if walk == "subdiffusive" else 1.0
    return -time_per_step / min(d_f / d_w, 1.0)


def _alpha(walk: str, a: float) -> float:
    return a / 2.0 if walk == "subdiffusive" else WALKS[walk]


def _slope(x, y, seed):
    f = fit_power_law(x, y, n_boot=500, seed=seed)
    return {"slope": f.exponent, "ci95": [f.ci_low, f.ci_high], "x_range": [f.x_min, f.x_max]}


def trap_study(
    mus=(0.3, 0.5, 0.7, 1.5),  # three glassy μ < 1 and one μ > 1, where Eq. 6 should fail
    *,
    beta: float = 1.0,
    n_walkers: int = 400,  # median F of 400 walkers: ~5% scatter per point
    S_max: float = 1e6,
    mu_scaling: float = 0.5,  # μ for F(N), F(D) (Eqs. 7–8 need μ < 1)
    alpha: float = 0.5,
    d_f: float = 2.0,
    D_k: float = 1e4,
    ell_inf: float = 1e-3,
    budget: float = 1e3,
    explore: bool = True,
    explore_walkers: int = 400,
    a: float = 0.5,
    seed: int = 0,
) -> Study:
    """Trap-model scaling exponents vs the paper's predictions (Eqs. 6–8), and simulated τ0(N).

    >>> st = trap_study((0.5,), n_walkers=50, S_max=1e4, explore=False)
    >>> -1.0 < st.summary["F_vs_S"]["0.5"]["median"]["slope"] < 0
    True
    """
    if not mus or any(not m > 0 for m in mus):
        raise ConfigError(f"mus={list(mus)}: every μ must be > 0")
    if not mu_scaling > 0:
        raise ConfigError(f"mu_scaling={mu_scaling}: must be > 0")
    if S_max <= 10:
        raise ConfigError(f"S_max={S_max}: need > 10 steps for a slope over at least one decade")
    S = np.geomspace(10.0, S_max, 25)
    summary: dict = {"definition": "slopes of log F vs log S/N/D with F = F0/(1+N_b); renewal: d<ΔF of occupied trap>/d ln S"}
    arrays: dict[str, np.ndarray] = {"S": S, "mus": np.array(mus, float)}
    f_s = {}
    for i, mu in enumerate(mus):
        run = semantic_trap(S, n_walkers=n_walkers, beta=beta, mu=mu, seed=realization_seed(seed, i))
        med, mean = np.median(run.F_semantic, 0), run.F_semantic.mean(0)
        depth = np.nanmean(run.depth, 0)  # renewal: <ΔF> of the occupied trap
        slope_ln = np.polyfit(np.log(S), depth, 1)[0]
        f_s[str(mu)] = {
            "paper": -mu,
            "sum_of_waits_theory": -min(mu, 1.0),  # t(N_b) ∝ N_b^max(1/μ, 1) (generalized CLT)
            "median": _slope(S, med, seed),
            "mean": _slope(S, mean, seed),
            "renewal_dDeltaF_dlnS": float(slope_ln),
            "renewal_dDeltaF_dlnS_theory": 1.0 / beta if mu < 1 else 0.0,
            "truncated": run.truncated,
        }
        arrays[f"F_median_mu{mu}"], arrays[f"F_mean_mu{mu}"], arrays[f"renewal_depth_mu{mu}"] = med, mean, depth
    summary["F_vs_S"] = f_s
    # Eqs. 7-8 at a fixed budget: F = median F0 / (1 + N_b(budget / τ0))
    N_grid = np.geomspace(1.0, 1e10, 21)
    D_grid = np.geomspace(1.0, 1e8, 17)
    tau_N = attempt_time(1e12, N_grid, alpha=alpha, d_f=d_f, D_k=D_k, ell_inf=ell_inf)
    tau_D = attempt_time(D_grid, 1e15, alpha=alpha, d_f=d_f, D_k=D_k, ell_inf=ell_inf)
    x = np.concatenate([budget / tau_N, budget / tau_D])
    run = semantic_trap(x, n_walkers=n_walkers, beta=beta, mu=mu_scaling, seed=realization_seed(seed, 99))
    F_sorted = np.median(run.F_semantic, 0)  # at sorted x
    F_at = F_sorted[np.searchsorted(run.S, x)]
    F_N, F_D = F_at[: N_grid.size], F_at[N_grid.size:]
    N_hi = (1.0 / ell_inf) ** d_f  # (ℓ0/ℓ∞)^d_f with ℓ0 = 1
    in_N, out_N = N_grid <= N_hi / 100, N_grid >= N_hi * 100
    in_D, out_D = D_grid <= D_k / 100, D_grid >= D_k * 100
    summary["F_vs_N"] = {"paper": -mu_scaling / (d_f * alpha), "inside": _slope(N_grid[in_N], F_N[in_N], seed),
                         "outside": _slope(N_grid[out_N], F_N[out_N], seed), "N_upper": N_hi}
    summary["F_vs_D"] = {"paper": -mu_scaling, "inside": _slope(D_grid[in_D], F_D[in_D], seed),
                         "outside": _slope(D_grid[out_D], F_D[out_D], seed), "D_k": D_k}
    arrays.update(N_grid=N_grid, F_N=F_N, D_grid=D_grid, F_D=F_D, tau0_N=tau_N, tau0_D=tau_D)
    if explore:
        ex = {}
        for j, (walk, d, L, rhos) in enumerate(EXPLORATION_CASES):
            Ns = np.array(rhos) * L**d
            med = np.array([np.median(exploration_times(N, d_f=d, walk=walk, L=L, a=a, n_walkers=explore_walkers,
                                                        max_steps=50_000, seed=realization_seed(seed, 1000 + 10 * j + k)))
                            for k, N in enumerate(Ns)])
            key = f"{walk}_d{d}"
            ex[key] = {"alpha": _alpha(walk, a), "paper": -1.0 / (_alpha(walk, a) * d),
                       "search_theory": search_time_exponent(walk, d, a), "fit": _slope(Ns, med, seed)}
            arrays[f"explore_N_{key}"], arrays[f"explore_tau0_{key}"] = Ns, med
        summary["tau0_vs_N"] = ex
    config = {"mus": list(mus), "beta": beta, "n_walkers": n_walkers, "S_max": S_max, "mu_scaling": mu_scaling,
              "alpha": alpha, "d_f": d_f, "D_k": D_k, "ell_inf": ell_inf, "budget": budget, "explore": explore,
              "explore_walkers": explore_walkers, "a": a, "seed": seed}
    return Study("trap", config, summary, arrays)
