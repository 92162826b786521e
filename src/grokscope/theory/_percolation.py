"""Percolation on landscapes: Newman–Ziff sweeps, vectorized over chunks of edges.

Newman & Ziff (PRL 85, 4104, 2000) add the edges of one realization in order and
follow the clusters with union-find, so a single pass gives every observable at
every occupation. Here the union-find runs on *chunks*: the edges of a chunk are
contracted onto the current cluster labels and merged with scipy's C connected
components, then every node is relabelled in one numpy gather. Exact event times
(the edge that first joins M_M to M_G, or first spans the sea) come from a
bisection inside the chunk where the event happens, on the small contracted graph.

The order is given as an *edge time*: bond percolation with data D uses
``edge_u * z`` (the D at which the edge appears); site percolation with
capacity q uses ``max(complexity[a], complexity[b])`` (the q at which both ends
exist). Gokhale 2023, "The semantic landscape paradigm for neural networks", §3.1 (grokking,
data) and §3.2 (emergence, parameters).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from grokscope.errors import ConfigError
from grokscope.theory._landscape import Landscape
from grokscope.validate import check_int, require

__all__ = ["Sweep", "percolation_sweep", "bond_sweep", "site_sweep", "connection_threshold", "giant_component_fraction"]

_LEFT, _RIGHT = np.int8(1), np.int8(2)


@dataclass(frozen=True)
class Sweep:
    """Observables of one Newman–Ziff pass, at checkpoints and at exact events."""

    time: np.ndarray  # [n_ck] edge time of the last edge added at each checkpoint
    n_edges: np.ndarray  # [n_ck] edges added so far
    largest: np.ndarray  # [n_ck] size of the largest cluster (nodes)
    reach_min: np.ndarray  # [n_ck] min node_value over the cluster of pair[0] (NaN if no values)
    pair_time: float  # edge time at which pair[0] and pair[1] first join (inf: never)
    span_time: float  # edge time at which one cluster first touches left and right (inf: never)


def _relabel_small(la, lb):
    """Contract edges (la, lb) between cluster labels: unique labels, their small components."""
    uniq, inv = np.unique(np.concatenate([la, lb]), return_inverse=True)
    k = la.size
    m = uniq.size
    g = coo_matrix((np.ones(k, dtype=np.int8), (inv[:k], inv[k:])), shape=(m, m))
    n_comp, comp = connected_components(g, directed=False)
    return uniq, inv, n_comp, comp


class _Clusters:
    """Cluster labels of every node, and per-label size, side flags and minimum value."""

    def __init__(self, n: int, flags: np.ndarray, value: np.ndarray):
        self.label = np.arange(n, dtype=np.int64)
        self.size = np.ones(n, dtype=np.int64)
        self.flags = flags.astype(np.int8)
        self.minv = value.astype(np.float64)
        self.remap = np.arange(n, dtype=np.int64)
        self.largest = 1 if n else 0

    def contracted(self, a, b):
        la, lb = self.label[a], self.label[b]
        keep = la != lb
        return la[keep], lb[keep], np.flatnonzero(keep)

    def merge(self, la, lb, small=None):
        if la.size == 0:
            return
        uniq, _, n_comp, comp = _relabel_small(la, lb) if small is None else small
        rep = np.empty(n_comp, dtype=np.int64)
        rep[comp[::-1]] = uniq[::-1]  # last write wins: each component keeps its smallest label
        sizes = np.bincount(comp, weights=self.size[uniq], minlength=n_comp).astype(np.int64)
        flags = np.zeros(n_comp, dtype=np.int8)
        np.bitwise_or.at(flags, comp, self.flags[uniq])
        minv = np.full(n_comp, np.inf)
        np.minimum.at(minv, comp, self.minv[uniq])
        self.remap[uniq] = rep[comp]
        self.label = self.remap[self.label]
        self.remap[uniq] = uniq  # back to the identity for the next chunk
        self.size[uniq] = 0
        self.size[rep] = sizes
        self.flags[rep] = flags
        self.minv[rep] = minv
        self.largest = max(self.largest, int(sizes.max()))


def _first_true(n: int, pred) -> int:
    """Smallest j in [1, n] with pred(j) true, given pred(n) is true and pred is monotone."""
    lo, hi = 1, n
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def percolation_sweep(
    n_nodes: int,
    edges: np.ndarray,
    edge_time: np.ndarray,
    *,
    checkpoints: int | np.ndarray = 200,
    pair: tuple[int, int] | None = None,
    left: np.ndarray | None = None,
    right: np.ndarray | None = None,
    node_value: np.ndarray | None = None,
) -> Sweep:
    """Add edges in order of ``edge_time`` and record clusters (Newman–Ziff).

    ``checkpoints``: a number of evenly spaced checkpoints, or the edge counts at which
    to record. ``pair``: two nodes whose joining time is wanted. ``left``/``right``:
    node masks; the span time is when one cluster first contains both sides.
    ``node_value``: e.g. F; ``reach_min`` is its minimum over pair[0]'s cluster.

    >>> import numpy as np
    >>> s = percolation_sweep(3, np.array([[0, 1], [1, 2]]), np.array([0.2, 0.7]), checkpoints=[1, 2], pair=(0, 2))
    >>> s.largest.tolist(), s.pair_time
    ([2, 3], 0.7)
    """
    edges = np.asarray(edges, dtype=np.int64)
    edge_time = np.asarray(edge_time, dtype=np.float64)
    n_e = edges.shape[0]
    order = np.argsort(edge_time, kind="stable")
    edges, edge_time = edges[order], edge_time[order]
    if np.isscalar(checkpoints):
        n_ck = check_int(checkpoints, "checkpoints", 1)
        ck = np.unique(np.linspace(0, n_e, n_ck + 1).round().astype(np.int64)[1:])
    else:
        ck = np.unique(np.clip(np.asarray(checkpoints, dtype=np.int64), 0, n_e))
    flags = np.zeros(n_nodes, dtype=np.int8)
    if left is not None:
        flags[np.asarray(left, bool)] |= _LEFT
    if right is not None:
        flags[np.asarray(right, bool)] |= _RIGHT
    value = np.full(n_nodes, np.nan) if node_value is None else np.asarray(node_value, np.float64)
    cl = _Clusters(n_nodes, flags, np.where(np.isnan(value), np.inf, value))
    track_span = left is not None and right is not None
    pair_time = span_time = np.inf
    if pair is not None and pair[0] == pair[1]:
        pair_time = -np.inf
    if track_span and np.any((flags & _LEFT) & (flags & _RIGHT)):
        span_time = -np.inf  # one node on both sides spans before any edge
    largest, reach = np.zeros(ck.size, np.int64), np.zeros(ck.size)
    start = 0
    for i, stop in enumerate(ck):
        a, b = edges[start:stop, 0], edges[start:stop, 1]
        la, lb, kept = cl.contracted(a, b)
        small = _relabel_small(la, lb) if la.size else None
        if la.size and (pair_time == np.inf and pair is not None or span_time == np.inf and track_span):
            uniq, inv, _, comp = small
            if pair is not None and pair_time == np.inf:
                ls, lt = cl.label[pair[0]], cl.label[pair[1]]
                js, jt = np.searchsorted(uniq, ls), np.searchsorted(uniq, lt)
                if js < uniq.size and jt < uniq.size and uniq[js] == ls and uniq[jt] == lt and comp[js] == comp[jt]:
                    j = _first_true(la.size, lambda j: _joined(la[:j], lb[:j], ls, lt))
                    pair_time = float(edge_time[start + kept[j - 1]])
            if track_span and span_time == np.inf:
                f = np.zeros(comp.max() + 1, np.int8)
                np.bitwise_or.at(f, comp, cl.flags[uniq])
                if np.any(f == _LEFT | _RIGHT):
                    j = _first_true(la.size, lambda j: _spans(la[:j], lb[:j], cl.flags))
                    span_time = float(edge_time[start + kept[j - 1]])
        cl.merge(la, lb, small)
        largest[i] = cl.largest
        reach[i] = cl.minv[cl.label[pair[0]]] if pair is not None else np.nan
        start = stop
    times = edge_time[np.maximum(ck - 1, 0)] if n_e else np.zeros(ck.size)
    reach = np.where(np.isinf(reach), np.nan, reach)
    return Sweep(times, ck, largest, reach, pair_time, span_time)


def _joined(la, lb, ls, lt) -> bool:
    uniq, inv, _, comp = _relabel_small(la, lb)
    js, jt = np.searchsorted(uniq, ls), np.searchsorted(uniq, lt)
    return bool(js < uniq.size and jt < uniq.size and uniq[js] == ls and uniq[jt] == lt and comp[js] == comp[jt])


def _spans(la, lb, flags) -> bool:
    uniq, _, _, comp = _relabel_small(la, lb)
    f = np.zeros(comp.max() + 1, np.int8)
    np.bitwise_or.at(f, comp, flags[uniq])
    return bool(np.any(f == _LEFT | _RIGHT))


def bond_sweep(land: Landscape, *, checkpoints: int | np.ndarray = 200, node_value=None) -> Sweep:
    """Newman–Ziff over data D: times are in units of D (mean degree of the present graph).

    >>> from grokscope.theory import square_lattice
    >>> s = bond_sweep(square_lattice(64, seed=0))
    >>> 1.0 < s.span_time < 3.0   # D_c = z p_c = 4 * 1/2 = 2 as L -> infinity
    True
    """
    return percolation_sweep(land.n_nodes, land.edges, land.edge_u * land.z, checkpoints=checkpoints,
                             pair=(land.source, land.target), left=land.left, right=land.right,
                             node_value=node_value)


def site_sweep(land: Landscape, *, checkpoints: int | np.ndarray = 200, node_value=None) -> Sweep:
    """Newman–Ziff over capacity q (all edges between formulable nodes present, D -> infinity).

    Times are capacities q in [0, 1]; a node joins at q = complexity. Clusters of one
    isolated node are not counted until an edge touches them (irrelevant to spanning).

    >>> from grokscope.theory import square_lattice
    >>> 0.45 < site_sweep(square_lattice(64, seed=0)).span_time < 0.75   # site p_c ≈ 0.5927
    True
    """
    t = np.maximum(land.complexity[land.edges[:, 0]], land.complexity[land.edges[:, 1]])
    return percolation_sweep(land.n_nodes, land.edges, t, checkpoints=checkpoints,
                             pair=(land.source, land.target), left=land.left, right=land.right,
                             node_value=node_value)


def connection_threshold(land: Landscape) -> float:
    """D_c of one landscape: the data (mean degree) at which M_M and M_G first become connected.

    Raises ``ConfigError`` when no D up to the substrate's z connects them (no path exists).

    >>> from grokscope.theory import barrier_chain
    >>> land = barrier_chain([0.5, 2.0, 0.0])
    >>> bool(connection_threshold(land) == land.edge_u.max() * land.z)   # both chain edges needed
    True
    """
    d = percolation_sweep(land.n_nodes, land.edges, land.edge_u * land.z, checkpoints=8,
                          pair=(land.source, land.target)).pair_time
    if not np.isfinite(d):
        raise ConfigError(f"landscape {land.name}: M_M and M_G are not connected even at D = z = {land.z:g}; "
                          "no data size percolates")
    return max(float(d), 0.0)


def giant_component_fraction(c: float, *, tol: float = 1e-12) -> float:
    """The exact giant-component fraction of Erdős–Rényi at mean degree c: the root S > 0 of S = 1 - exp(-cS).

    Zero for c <= 1 (Erdős & Rényi 1960). Solved by fixed-point iteration from S = 1.

    >>> round(giant_component_fraction(2.0), 4)
    0.7968
    """
    require(c >= 0, "c", c, ">= 0 (the mean degree)")
    if c <= 1.0:
        return 0.0
    s = 1.0
    for _ in range(100_000):
        s_new = 1.0 - np.exp(-c * s)
        if abs(s_new - s) < tol:
            return float(s_new)
        s = s_new
    return float(s)
