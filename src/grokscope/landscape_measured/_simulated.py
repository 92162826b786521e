"""The simulator's walks, observed the way a trained network is: at log-spaced checkpoints.

``grokscope landscape grokking`` (``grokscope.theory.grokking_study``) walks from the memorizing
model M_M to the generalizing model M_G of a ``sea_of_minima`` landscape (Gokhale 2023, "The
semantic landscape paradigm for neural networks", §3.1, Fig. 2) with Arrhenius rates (Eq. 3).
To compare its landscape with the empirical graph, each walker's exact path (Gillespie) is
looked at only at ``n_obs`` log-spaced times up to 1.25x its arrival at M_G (the trainer stores
log-spaced checkpoints and, with ``stop_after_grok``, trains 25% past generalization), and
becomes a :class:`~grokscope.landscape_measured._walks.Walk` whose statistics
(:func:`~grokscope.landscape_measured._walks.walk_stats`) are computed exactly as for networks.

>>> ws = simulated_walks(L=4, n_walkers=3, seed=0)
>>> len(ws), ws[0].nodes[-1] == "M_G"
(3, True)
"""

from __future__ import annotations

import numpy as np

from grokscope.landscape_measured._walks import Walk
from grokscope.theory import connection_threshold, hopping_rates, sea_of_minima
from grokscope.validate import check_int, require

__all__ = ["simulated_walks"]


def _path(rates, start: int, target: int, rng, max_hops: int) -> tuple[np.ndarray, np.ndarray]:
    """One exact Gillespie path: ``(entry times [n_hops + 1], nodes [n_hops + 1])`` until ``target``."""
    times, nodes = [0.0], [start]
    i, t = start, 0.0
    for _ in range(max_hops):
        if i == target or rates.out_rate[i] <= 0:
            break
        lo, hi = rates.indptr[i], rates.indptr[i + 1]
        t += rng.standard_exponential() / rates.out_rate[i]
        i = int(rates.indices[lo + np.searchsorted(np.cumsum(rates.rates[lo:hi]), rng.random() * rates.out_rate[i])])
        times.append(t)
        nodes.append(i)
    return np.asarray(times), np.asarray(nodes)


def simulated_walks(*, L: int = 8, delta: float = 0.5, beta: float = 1.0, ruggedness: float = 1.0,
                    n_walkers: int = 100, n_obs: int = 60, max_hops: int = 200_000, seed: int = 0) -> list[Walk]:
    """Walkers M_M -> M_G on ``sea_of_minima(L)`` at data ``D = D_c + delta`` (Arrhenius rule), observed on a log grid.

    Node labels are ``M_M``, ``M_G`` or the sea node's index; F is the node's fallibility.
    """
    L, n_walkers, n_obs = check_int(L, "L", 2), check_int(n_walkers, "n_walkers", 1), check_int(n_obs, "n_obs", 3)
    require(delta > 0, "delta", delta, "> 0 (data above the connection threshold)")
    land = sea_of_minima(L, ruggedness=ruggedness, seed=seed)
    D = min(connection_threshold(land) + delta, land.z)
    present = land.edge_u * land.z < D
    rates = hopping_rates(land.edges[present], land.F, beta=beta, rule="arrhenius")
    rng = np.random.default_rng(seed)
    names = {land.source: "M_M", land.target: "M_G"}
    walks = []
    for w in range(n_walkers):
        times, nodes = _path(rates, land.source, land.target, rng, max_hops)
        end = 1.25 * times[-1] if times[-1] > 0 else 1.0
        # Log-spaced like the trainer's checkpoints: 0, then n_obs - 1 points over 3 decades below the end.
        grid = np.concatenate([[0.0], np.geomspace(end * 1e-3, end, n_obs - 1)])
        at = nodes[np.searchsorted(times, grid, side="right") - 1]  # node occupied at each grid time
        walks.append(Walk(f"walker {w}", grid, tuple(names.get(int(n), str(int(n))) for n in at), land.F[at]))
    return walks
