"""Percolation experiments: thresholds with finite-size scaling, and emergence with N (Gokhale 2023, §3).

Reference: Gokhale (2023), "The semantic landscape paradigm for neural networks".

`percolation_study` measures the left-right spanning threshold of L x L square
lattices over several L (bond: data D; site: parameters N) and the Erdős–Rényi
giant component against its exact curve. `emergence_study` locates the capacity
N_c at which a path from M_M to low-F models opens (Fig. 3), the phase of
M_M ~ M_G connectivity over (D, N), and the lowest F reachable at each N.
"""

from __future__ import annotations

import numpy as np

from grokscope.errors import ConfigError
from grokscope.fit import fit, percentile_interval, resamples
from grokscope.theory._landscape import emergence_landscape, erdos_renyi, square_lattice
from grokscope.theory._percolation import bond_sweep, giant_component_fraction, percolation_sweep, site_sweep
from grokscope.theory._study import Study, realization_seed

__all__ = ["percolation_study", "emergence_study", "EXACT_PC"]

# Square-lattice thresholds: bond 1/2 (Kesten 1980); site 0.59274621 (Newman & Ziff 2000).
EXACT_PC = {"bond": 0.5, "site": 0.59274621}
NU_2D = 4.0 / 3.0  # correlation-length exponent of 2D percolation (den Nijs 1979)


def percolation_study(
    sizes=(32, 64, 128),  # three sizes span a factor 4 in L: enough to see L^(-3/4) shrink the spread
    *,
    kind: str = "bond",
    realizations: int = 40,  # standard error of the mean threshold ~ 0.5 L^(-3/4) / sqrt(40) < 0.005
    er_n: int = 100_000,
    n_boot: int = 500,
    seed: int = 0,
) -> Study:
    """Finite-size scaling of the square-lattice threshold, and the Erdős–Rényi giant component.

    For each size L: the spanning threshold p_span of every realization (one Newman–Ziff
    pass each); its mean extrapolated as p(L) = p_c + A L^(-1/ν) with the exact ν = 4/3,
    and its spread fitted as sd(L) ∝ L^(-1/ν) to estimate ν. Intervals: bootstrap over
    realizations.

    >>> st = percolation_study((16, 32), realizations=8, er_n=2000, n_boot=20)
    >>> 0.3 < st.summary["p_c_extrapolated"] < 0.7
    True
    """
    if kind not in EXACT_PC:
        raise ConfigError(f"kind={kind!r}: must be 'bond' or 'site'")
    sizes = sorted(int(L) for L in sizes)
    if len(sizes) < 2 or sizes[0] < 4:
        raise ConfigError(f"sizes={sizes}: need at least two lattice sizes, each >= 4")
    if realizations < 2:
        raise ConfigError(f"realizations={realizations}: need >= 2 to measure a spread")
    thr = np.zeros((len(sizes), realizations))  # [size, realization] spanning threshold p
    for i, L in enumerate(sizes):
        for r in range(realizations):
            land = square_lattice(L, seed=realization_seed(seed, 1000 * i + r))
            if kind == "bond":
                thr[i, r] = bond_sweep(land, checkpoints=16).span_time / land.z
            else:
                thr[i, r] = site_sweep(land, checkpoints=16).span_time
    Ls = np.array(sizes, dtype=float)

    def _estimates(t):
        x = Ls ** (-1.0 / NU_2D)
        slope, p_c = np.polyfit(x, t.mean(1), 1)
        sd = t.std(1, ddof=1)
        if np.any(sd <= 0):  # a resample that repeats one realization has no spread
            return p_c, np.nan
        return p_c, 1.0 / fit("power_law", Ls, sd).params["g"]     # sd ∝ L^(-1/ν)

    p_c, nu = _estimates(thr)
    # a realization is a group of points (one per size): resample realizations whole
    draws = resamples(n_boot, realizations, seed=realization_seed(seed, 10**6))
    boots = np.array([_estimates(thr[:, idx]) for idx in draws]).reshape(n_boot, 2)   # [resample, (p_c, ν)]
    (pc_lo, pc_hi), (nu_lo, nu_hi) = (percentile_interval(boots[:, j], 0.95) for j in range(2))
    # Erdős–Rényi: one pass, giant fraction at every mean degree c on a grid
    cs = np.linspace(0.05, 3.0, 60)
    er = erdos_renyi(er_n, 3.0, seed=realization_seed(seed, 2 * 10**6))
    s = percolation_sweep(er.n_nodes, er.edges, er.edge_u, checkpoints=(cs * er_n / 2).astype(int))
    S_sim = s.largest / er_n
    S_exact = np.array([giant_component_fraction(c) for c in cs])
    above = cs > 1.3  # away from the critical window, where finite-n corrections are O(n^-1/3)
    summary = {
        "definition": "p_span: occupation at which one cluster first joins the left and right columns",
        "kind": kind,
        "p_c_exact": EXACT_PC[kind],
        "p_c_extrapolated": float(p_c),
        "p_c_ci95": [float(pc_lo), float(pc_hi)],
        "nu_from_spread": float(nu),
        "nu_ci95": [float(nu_lo), float(nu_hi)],
        "nu_exact": NU_2D,
        "per_size": {int(L): {"mean": float(thr[i].mean()), "sem": float(thr[i].std(ddof=1) / np.sqrt(realizations)),
                              "sd": float(thr[i].std(ddof=1))} for i, L in enumerate(sizes)},
        "D_c_extrapolated": float(4.0 * p_c) if kind == "bond" else None,
        "er_n": er_n,
        "er_max_abs_error_c_gt_1.3": float(np.abs(S_sim - S_exact)[above].max()),
        "er_S_at_c2": {"simulated": float(np.interp(2.0, cs, S_sim)), "exact": giant_component_fraction(2.0)},
    }
    config = {"sizes": sizes, "kind": kind, "realizations": realizations, "er_n": er_n, "seed": seed}
    arrays = {"sizes": Ls, "thresholds": thr, "er_c": cs, "er_S_sim": S_sim, "er_S_exact": S_exact}
    return Study("percolation", config, summary, arrays)


def emergence_study(
    L: int = 32,
    *,
    realizations: int = 16,
    coupling: float = 0.5,  # half of a model's complexity is set by how good it is (Gokhale 2023 §5.2), half random
    N_half: float = 1.0,  # capacity(N) = N / (N + N_half): N in units of N_half
    n_grid: int = 24,
    seed: int = 0,
) -> Study:
    """Emergence with parameters N (Gokhale 2023 §3.2, Fig. 3) on `emergence_landscape`.

    Per realization: N_c, the N at which M_M (F = F_max) first connects to M_G (F = 0)
    with all data (D = z); the lowest F in M_M's cluster at each N; and over a (D, N)
    grid the fraction of realizations in which M_M reaches M_G.

    >>> st = emergence_study(12, realizations=3, n_grid=6)
    >>> st.summary["N_c_median"] > 0
    True
    """
    if not 0.0 <= coupling <= 1.0:
        raise ConfigError(f"coupling={coupling}: must lie in [0, 1]")
    if realizations < 1 or n_grid < 2:
        raise ConfigError(f"realizations={realizations}, n_grid={n_grid}: need >= 1 and >= 2")
    q_grid = np.linspace(0.02, 0.98, n_grid)  # capacities
    N_grid = N_half * q_grid / (1.0 - q_grid)
    q_c = np.zeros(realizations)
    reach = np.zeros((realizations, n_grid))  # [realization, N] lowest F reachable from M_M
    D_c = np.zeros((realizations, n_grid))  # [realization, N] data needed to connect M_M to M_G
    z = None
    for r in range(realizations):
        land = emergence_landscape(L, coupling=coupling, seed=realization_seed(seed, r))
        z = land.z
        sw = site_sweep(land, checkpoints=400, node_value=land.F)
        q_c[r] = sw.pair_time
        idx = np.searchsorted(sw.time, q_grid, side="right") - 1
        reach[r] = np.where(idx >= 0, sw.reach_min[np.maximum(idx, 0)], land.F[land.source])
        reach[r] = np.where(np.isnan(reach[r]), land.F[land.source], reach[r])
        for j, q in enumerate(q_grid):
            ok = land.complexity <= q
            both = ok[land.edges[:, 0]] & ok[land.edges[:, 1]]
            t = np.where(both, land.edge_u * land.z, np.inf)
            D_c[r, j] = percolation_sweep(land.n_nodes, land.edges, t, checkpoints=4,
                                          pair=(land.source, land.target)).pair_time
    D_grid = np.linspace(0.0, z, n_grid)
    phase = (D_grid[None, None, :] >= D_c[:, :, None]).mean(0)  # [N, D] fraction connected
    N_c = N_half * q_c / (1.0 - np.minimum(q_c, 1 - 1e-12))
    summary = {
        "definition": "N_c: smallest N (capacity N/(N+N_half)) at which M_M connects to M_G with all data",
        "L": L,
        "coupling": coupling,
        "q_c_mean": float(q_c.mean()),
        "q_c_sd": float(q_c.std(ddof=1)) if realizations > 1 else None,
        "N_c_median": float(np.median(N_c)),
        "N_c_iqr": [float(np.quantile(N_c, 0.25)), float(np.quantile(N_c, 0.75))],
        "site_p_c_uncoupled": EXACT_PC["site"],
        "F_reached_at_N_grid": reach.mean(0).tolist(),
        "N_grid": N_grid.tolist(),
    }
    config = {"L": L, "realizations": realizations, "coupling": coupling, "N_half": N_half, "n_grid": n_grid,
              "seed": seed}
    arrays = {"N_grid": N_grid, "D_grid": D_grid, "phase": phase, "F_reached": reach, "N_c": N_c, "D_c": D_c}
    return Study("emergence", config, summary, arrays)
