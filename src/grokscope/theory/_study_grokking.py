"""Grokking as first passage above a percolation threshold (Gokhale 2023, §3.1, Fig. 2).

Reference: Gokhale (2023), "The semantic landscape paradigm for neural networks".

On `sea_of_minima` landscapes the walker starts at the memorizing model M_M and
grokking is its first arrival at M_G. Below D_c no path exists; the paper argues
the grokking rate grows like the excess degree, t_g ∝ (D - D_c)^(-ν) with ν = 1.

Two definitions of the distance to threshold are measured, because on a finite
graph they differ:

* quenched: each realization's own D_c^(r) (the D at which its M_M and M_G join,
  exact from a Newman–Ziff pass), t_g(D_c^(r) + δ) from the exact mean
  first-passage time (a sparse linear solve), averaged over realizations;
* annealed: one D_c for the ensemble (the mean of D_c^(r)), t_g averaged over
  the realizations connected at D.

Kinetic Monte Carlo at a few D gives the distribution of grokking times and the
trajectory of F, and checks the linear-system means.
"""

from __future__ import annotations

import numpy as np

from grokscope.errors import ConfigError
from grokscope.theory._dynamics import RULES, hopping_rates, mean_first_passage, simulate
from grokscope.theory._fit import fit_power_law
from grokscope.theory._landscape import sea_of_minima
from grokscope.theory._percolation import connection_threshold
from grokscope.theory._study import Study, realization_seed
from grokscope.validate import require

__all__ = ["grokking_study"]


def grokking_study(
    L: int = 32,
    *,
    realizations: int = 16,
    rules=("arrhenius", "metropolis", "glauber"),
    beta: float = 1.0,
    ruggedness: float = 1.0,  # sea F = 1 + ruggedness * U(0,1); 0 makes the sea flat (pure diffusion)
    F_memorize: float = 0.5,
    delta_min: float = 0.01,  # δ = D - D_c range of the fit: from a few edges above threshold...
    delta_max: float = 1.0,  # ...to half the threshold itself (D_c ≈ 2 on this substrate)
    n_delta: int = 12,
    fit_from: float = 0.1,  # a second fit keeps δ >= this: below it a finite graph's t_g saturates (one path)
    n_walkers: int = 400,
    seed: int = 0,
) -> Study:
    """Grokking time vs data above the connection threshold, fitted as t_g ∝ (D - D_c)^(-ν).

    >>> st = grokking_study(8, realizations=3, rules=("metropolis",), n_delta=4, n_walkers=50)
    >>> st.summary["fits"]["metropolis"]["quenched"]["nu"] > -5
    True
    """
    require(beta > 0, "beta", beta, "> 0 (the inverse temperature)")
    bad = [r for r in rules if r not in RULES]
    if bad or not rules:
        raise ConfigError(f"rules={list(rules)}: each must be one of {', '.join(RULES)}")
    if not 0 < delta_min < delta_max:
        raise ConfigError(f"delta_min={delta_min}, delta_max={delta_max}: need 0 < delta_min < delta_max")
    if realizations < 2:
        raise ConfigError(f"realizations={realizations}: need >= 2 for an interval on ν")
    lands = [sea_of_minima(L, ruggedness=ruggedness, F_memorize=F_memorize, seed=realization_seed(seed, r))
             for r in range(realizations)]
    z = lands[0].z
    D_c = np.array([connection_threshold(land) for land in lands])  # [realization]
    deltas = np.geomspace(delta_min, delta_max, n_delta)
    D_ann = D_c.mean() + deltas
    if D_ann[-1] > z:
        raise ConfigError(f"delta_max={delta_max}: D_c + delta_max = {D_ann[-1]:.3g} exceeds z={z:g}; lower it")

    def mfpt(land, D, rule):
        present = land.edge_u * z < D
        rates = hopping_rates(land.edges[present], land.F, beta=beta, rule=rule)
        return mean_first_passage(rates, [land.target])[land.source], rates

    t_q = np.full((len(rules), realizations, n_delta), np.inf)  # [rule, realization, δ] quenched
    t_a = np.full((len(rules), realizations, n_delta), np.inf)  # [rule, realization, δ] annealed
    for k, rule in enumerate(rules):
        for r, land in enumerate(lands):
            for j, d in enumerate(deltas):
                t_q[k, r, j] = mfpt(land, min(D_c[r] + d, z), rule)[0]
                t_a[k, r, j] = mfpt(land, D_ann[j], rule)[0]
    fits = {}
    groups = np.repeat(np.arange(realizations), n_delta)
    x_q = np.tile(deltas, realizations)
    upper = x_q >= fit_from
    if upper.sum() < 2 * realizations or np.sum(deltas >= fit_from) < 2:
        raise ConfigError(f"fit_from={fit_from}: leaves fewer than 2 δ values in [{delta_min}, {delta_max}]")

    def _nu(f):
        return {"nu": -f.exponent, "nu_ci95": [-f.ci_high, -f.ci_low], "fit": f.to_dict()}

    for k, rule in enumerate(rules):
        y = t_q[k].ravel()
        conn = np.isfinite(t_a[k])
        mean_a = np.array([t_a[k][conn[:, j], j].mean() if conn[:, j].any() else np.nan for j in range(n_delta)])
        fits[rule] = {
            "quenched": _nu(fit_power_law(x_q, y, groups=groups, seed=seed)),
            "quenched_from": _nu(fit_power_law(x_q[upper], y[upper], groups=groups[upper], seed=seed)),
            "annealed": {**_nu(fit_power_law(deltas, mean_a, seed=seed)), "fraction_connected": conn.mean(0).tolist()},
        }
    # kinetic Monte Carlo on realization 0 with the first rule: distribution and F(t)
    land, rule = lands[0], rules[0]
    kmc_delta = np.array([deltas[0], deltas[n_delta // 2], deltas[-1]])
    t_grid = np.geomspace(1e-2, 1e7, 60)
    hits, traj, exact = [], [], []
    for j, d in enumerate(kmc_delta):
        m, rates = mfpt(land, min(D_c[0] + d, z), rule)
        res = simulate(rates, land.source, n_walkers=n_walkers, target=[land.target], F=land.F, t_grid=t_grid,
                       seed=realization_seed(seed, 10**6 + j))
        hits.append(res.hit_time)
        traj.append(np.nanmean(res.F_traj, axis=0))
        exact.append(m)
    hits = np.array(hits)  # [3, walker]
    se = hits.std(1, ddof=1) / np.sqrt(n_walkers)
    summary = {
        "definition": "t_g: mean first-passage time M_M -> M_G (exact linear solve); D_c: D at which they join",
        "landscape": f"sea_of_minima(L={L}, ruggedness={ruggedness}, F_memorize={F_memorize})",
        "beta": beta,
        "z": z,
        "D_c_mean": float(D_c.mean()),
        "D_c_sd": float(D_c.std(ddof=1)),
        "nu_paper": 1.0,
        "fit_ranges": {"quenched": [delta_min, delta_max], "quenched_from": [fit_from, delta_max]},
        "fits": fits,
        "kmc_check": {"rule": rule, "delta": kmc_delta.tolist(), "kmc_mean": hits.mean(1).tolist(),
                      "kmc_se": se.tolist(), "exact_mean": exact},
    }
    config = {"L": L, "realizations": realizations, "rules": list(rules), "beta": beta, "ruggedness": ruggedness,
              "F_memorize": F_memorize, "delta_min": delta_min, "delta_max": delta_max, "n_delta": n_delta,
              "fit_from": fit_from,
              "n_walkers": n_walkers, "seed": seed}
    arrays = {"deltas": deltas, "D_c": D_c, "t_quenched": t_q, "t_annealed": t_a, "kmc_delta": kmc_delta,
              "kmc_hit_times": hits, "t_grid": t_grid, "F_mean_traj": np.array(traj)}
    return Study("grokking", config, summary, arrays)
