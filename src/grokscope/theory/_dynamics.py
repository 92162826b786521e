"""Hopping between heuristic models: a continuous-time Markov chain (Gokhale 2023, §2.3, Eq. 3).

Reference: Gokhale (2023), "The semantic landscape paradigm for neural networks".

Rates on a present edge i -> j, with ΔF = F_j - F_i and R0 the attempt rate:

=============  ===============================  ===========================  ===================
rule           R_ij                             downhill move (ΔF < 0)       stationary π_i ∝
=============  ===============================  ===========================  ===================
"arrhenius"    R0 exp(-β ΔF)   (Gokhale Eq. 3)  *faster* than R0, unbounded  exp(-2 β F_i)
"symmetric"    R0 exp(-β ΔF / 2)                faster than R0, unbounded    exp(-β F_i)
"metropolis"   R0 min(1, exp(-β ΔF))            exactly R0 (capped)          exp(-β F_i)
"glauber"      R0 / (1 + exp(β ΔF))             -> R0, R0/2 on flat moves    exp(-β F_i)
=============  ===============================  ===========================  ===================

All four obey detailed balance. The paper's form applies the full Boltzmann factor
in *both* directions, so R_ij / R_ji = exp(-2 β ΔF): its stationary law is
Boltzmann at temperature 1/(2β), and it accelerates downhill moves exponentially
(a walker falls into a deep minimum at rate R0 e^{β|ΔF|}). Metropolis and Glauber
cap downhill moves at the attempt rate, the usual regularization.

The simulation is exact (Gillespie 1977): each walker waits an Exp(Λ_i) time,
Λ_i = Σ_j R_ij, then jumps to j with probability R_ij / Λ_i. All walkers advance
together; the neighbour is drawn for all of them with one ``searchsorted`` on the
table ``key[e] = i + (cumulative rate of row i up to e) / Λ_i``, which increases
across rows, so ``searchsorted(key, i + u)`` lands inside row i.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import spsolve

from grokscope.errors import ConfigError
from grokscope.validate import check_choice, check_int, require

__all__ = ["RateMatrix", "hopping_rates", "stationary_boltzmann", "mean_first_passage", "KMCResult", "simulate"]

RULES = ("arrhenius", "symmetric", "metropolis", "glauber")


@dataclass(frozen=True)
class RateMatrix:
    """Out-going rates of every node, CSR layout (row i = moves out of model i)."""

    indptr: np.ndarray  # [n_nodes + 1]
    indices: np.ndarray  # [n_entries] destination of each move
    rates: np.ndarray  # [n_entries] R_ij
    out_rate: np.ndarray  # [n_nodes] Λ_i = Σ_j R_ij (0: nowhere to go)
    key: np.ndarray  # [n_entries] i + cumulative R_ij / Λ_i: the sampling table
    rule: str
    beta: float

    @property
    def n_nodes(self) -> int:
        return int(self.out_rate.shape[0])

    def to_csr(self) -> csr_matrix:
        return csr_matrix((self.rates, self.indices, self.indptr), shape=(self.n_nodes, self.n_nodes))


def hopping_rates(edges, F, *, beta: float, rule: str = "arrhenius", R0: float = 1.0) -> RateMatrix:
    """Rates of the CTMC on the undirected ``edges`` (both directions), Gokhale 2023 Eq. 3 and its regularizations.

    >>> import numpy as np
    >>> r = hopping_rates(np.array([[0, 1]]), np.array([0.0, 1.0]), beta=1.0, rule="metropolis")
    >>> np.round(r.rates, 4).tolist()    # 0 -> 1 uphill: e^-1; 1 -> 0 downhill: R0
    [0.3679, 1.0]
    """
    require(beta > 0, "beta", beta, "> 0 (the inverse temperature)")
    require(R0 > 0, "R0", R0, "> 0 (the attempt rate)")
    check_choice(rule, "rule", RULES)
    F = np.asarray(F, dtype=np.float64)
    n = F.shape[0]
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    src = np.concatenate([edges[:, 0], edges[:, 1]])
    dst = np.concatenate([edges[:, 1], edges[:, 0]])
    dF = F[dst] - F[src]
    with np.errstate(over="ignore"):
        if rule == "arrhenius":
            r = R0 * np.exp(-beta * dF)
        elif rule == "symmetric":
            r = R0 * np.exp(-0.5 * beta * dF)
        elif rule == "metropolis":
            r = R0 * np.exp(-beta * np.maximum(dF, 0.0))
        else:
            r = R0 / (1.0 + np.exp(beta * dF))
    if not np.all(np.isfinite(r)):
        raise ConfigError(f"beta={beta}: beta * |ΔF| = {beta * np.abs(dF).max():.3g} overflows the {rule} rates; lower beta")
    order = np.lexsort((dst, src))
    src, dst, r = src[order], dst[order], r[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))])
    out = np.bincount(src, weights=r, minlength=n)
    cum = np.cumsum(r)
    row_start = np.concatenate([[0.0], cum])[indptr[src]]  # cumulative sum before each row
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = (cum - row_start) / out[src]
    key = src + np.where(out[src] > 0, np.minimum(frac, 1.0), 1.0)  # rows whose rates all underflow: never sampled
    return RateMatrix(indptr, dst, r, out, key, rule, float(beta))


def stationary_boltzmann(F, *, beta: float, rule: str = "arrhenius") -> np.ndarray:
    """The stationary distribution each rule has on a connected graph (see the module table).

    >>> import numpy as np
    >>> stationary_boltzmann(np.array([0.0, np.log(2)]), beta=1.0, rule="metropolis").round(4).tolist()
    [0.6667, 0.3333]
    """
    check_choice(rule, "rule", RULES)
    F = np.asarray(F, dtype=np.float64)
    b = 2.0 * beta if rule == "arrhenius" else beta
    w = np.exp(-b * (F - F.min()))
    return w / w.sum()


def mean_first_passage(rates: RateMatrix, target) -> np.ndarray:
    """Exact mean first-passage times to ``target`` from every node: ``Σ_j R_ij (m_j - m_i) = -1``.

    Nodes that cannot reach the target get ``inf``. Dense-free: one sparse solve.

    >>> import numpy as np
    >>> r = hopping_rates(np.array([[0, 1]]), np.zeros(2), beta=1.0, rule="metropolis")
    >>> mean_first_passage(r, [1]).tolist()
    [1.0, 0.0]
    """
    n = rates.n_nodes
    tgt = np.zeros(n, dtype=bool)
    tgt[np.asarray(target)] = True
    A = rates.to_csr()
    _, comp = connected_components(A, directed=False)
    live = ~tgt & np.isin(comp, np.unique(comp[tgt]))
    m = np.full(n, np.inf)
    m[tgt] = 0.0
    idx = np.flatnonzero(live)
    if idx.size:
        sub = A[idx][:, idx]
        Q = sub - csr_matrix((rates.out_rate[idx], (np.arange(idx.size), np.arange(idx.size))), shape=sub.shape)
        m[idx] = spsolve(Q.tocsc(), -np.ones(idx.size))
    return m


@dataclass(frozen=True)
class KMCResult:
    """Outcome of `simulate` for ``n_walkers`` independent walkers."""

    hit_time: np.ndarray  # [walker] first time in the target set (inf: not within t_max / max_hops)
    final_node: np.ndarray  # [walker]
    n_hops: int  # hops summed over walkers
    occupation: np.ndarray | None  # [n_nodes] time spent in each node, summed over walkers, up to t_max
    t_grid: np.ndarray | None  # [n_grid]
    F_traj: np.ndarray | None  # [walker, n_grid] F of the occupied model at each grid time


def simulate(
    rates: RateMatrix,
    start,
    *,
    n_walkers: int,
    target=None,
    t_max: float = np.inf,
    max_hops: int = 10_000_000,  # per walker: a cap so a walker on a trap-ridden graph cannot run forever
    F=None,
    t_grid=None,
    record_occupation: bool = False,
    seed=0,
) -> KMCResult:
    """Exact kinetic Monte Carlo for many independent walkers (Gillespie).

    ``start``: a node or ``[walker]`` nodes. A walker stops on entering ``target``
    (first passage; it then stays there for the F trajectory), at ``t_max``, or after
    ``max_hops`` hops. ``F`` with ``t_grid`` records F of the occupied model at those
    times; ``record_occupation`` accumulates the time spent in each node up to t_max.

    >>> import numpy as np
    >>> r = hopping_rates(np.array([[0, 1]]), np.zeros(2), beta=1.0, rule="metropolis")
    >>> res = simulate(r, 0, n_walkers=4000, target=[1], seed=0)
    >>> bool(abs(res.hit_time.mean() - 1.0) < 0.1)    # Exp(1) waits
    True
    """
    n_walkers = check_int(n_walkers, "n_walkers", 1)
    if record_occupation and not np.isfinite(t_max):
        raise ConfigError("record_occupation needs a finite t_max")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n = rates.n_nodes
    W = int(n_walkers)
    pos = np.broadcast_to(np.asarray(start, dtype=np.int64), (W,)).copy()  # [walker]
    t = np.zeros(W)
    hit = np.full(W, np.inf)
    is_tgt = np.zeros(n, dtype=bool)
    if target is not None:
        is_tgt[np.asarray(target)] = True
    hit[is_tgt[pos]] = 0.0
    occ = np.zeros(n) if record_occupation else None
    grid = traj = cursor = None
    if t_grid is not None:
        if F is None:
            raise ConfigError("t_grid needs F, the fallibility of every node")
        F = np.asarray(F, dtype=np.float64)
        grid = np.asarray(t_grid, dtype=np.float64)
        traj = np.full((W, grid.size), np.nan)  # [walker, n_grid]
        cursor = np.zeros(W, dtype=np.int64)
    active = np.flatnonzero(~is_tgt[pos])
    hops = np.zeros(W, dtype=np.int64)
    total = 0
    while active.size:
        p = pos[active]
        lam = rates.out_rate[p]
        with np.errstate(divide="ignore"):
            dt = rng.standard_exponential(active.size) / lam  # stuck walkers (Λ = 0) wait forever
        t_old = t[active]
        t_new = t_old + dt
        if occ is not None:
            occ += np.bincount(p, weights=np.minimum(t_new, t_max) - t_old, minlength=n)
        if traj is not None:
            _fill(traj, cursor, grid, active, t_new, F[p])
        alive = t_new < t_max
        u = rng.random(active.size)
        e = np.searchsorted(rates.key, p + u, side="right")
        nxt = rates.indices[np.minimum(e, rates.indices.size - 1)]
        moved = active[alive]
        pos[moved] = nxt[alive]
        t[moved] = t_new[alive]
        hops[moved] += 1
        total += int(alive.sum())
        reached = is_tgt[pos[moved]]
        hit[moved[reached]] = t[moved[reached]]
        active = moved[~reached & (hops[moved] < max_hops)]
    if traj is not None:  # a walker in the target stays there (absorbing); one cut by max_hops stays NaN
        done = np.isfinite(hit)
        after = (np.arange(grid.size)[None, :] >= cursor[:, None]) & done[:, None]
        traj[after] = np.broadcast_to(F[pos][:, None], traj.shape)[after]
    return KMCResult(hit, pos, total, occ, grid, traj)


def _fill(traj, cursor, grid, active, t_new, f_now):
    """Write F of the current model into every grid slot the hop interval [t_old, t_new) covers."""
    cur = cursor[active]
    idx = np.arange(active.size)
    while True:
        ok = cur < grid.size
        ok[ok] = grid[cur[ok]] < t_new[ok]
        if not ok.any():
            break
        traj[active[ok], cur[ok]] = f_now[idx[ok]]
        cur[ok] += 1
    cursor[active] = cur
