"""Graphs of heuristic models: the semantic landscape (Gokhale 2023, §2.3, §3).

Reference: Gokhale (2023), "The semantic landscape paradigm for neural networks".

A `Landscape` is an undirected graph whose nodes are heuristic models, each
carrying a fallibility F >= 0 (Gokhale 2023 Eq. 1). Two random numbers per element make
data D and parameters N act on it, with every D and N read off *one* realization
(coupled, as in Newman–Ziff), so a threshold is a property of the realization:

* bond percolation with data D (§3.1: "D is proportional to the average degree"):
  edge e is present iff ``edge_u[e] < D / z``, z the substrate's mean degree, so
  the mean degree of the present graph is D;
* site percolation with parameters N (§3.2, Fig. 3): node i can be formulated iff
  ``complexity[i] <= capacity(N) = N / (N + N_half)``.

Generators: `square_lattice`, `erdos_renyi`, `random_geometric` (substrates),
`sea_of_minima` (Fig. 2: a memorization node M_M and a generalizing node M_G
separated by a rugged sea of higher-F models), `emergence_landscape` (Fig. 3:
F falls across the sea and better models need more capacity), `barrier_chain`
(M_M - barriers - M_G, small enough for exact checks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grokscope.errors import ConfigError
from grokscope.validate import check_int, require

__all__ = [
    "Landscape",
    "square_lattice",
    "erdos_renyi",
    "random_geometric",
    "sea_of_minima",
    "emergence_landscape",
    "barrier_chain",
    "bond_probability",
    "capacity",
    "present_edges",
]


@dataclass(frozen=True)
class Landscape:
    """A graph of heuristic models with fallibility F (Gokhale 2023 §2.3)."""

    edges: np.ndarray  # [n_edges, 2] int64, undirected, each pair once
    F: np.ndarray  # [n_nodes] fallibility, >= 0
    edge_u: np.ndarray  # [n_edges] U(0,1): present at data D iff edge_u < D / z
    complexity: np.ndarray  # [n_nodes] in [0,1]: formulable at N iff complexity <= capacity(N)
    z: float  # substrate mean degree, the largest D the substrate can hold
    source: int  # M_M, where training starts (the memorizing model)
    target: int  # M_G, the generalizing model
    left: np.ndarray | None = None  # [n_nodes] bool: one side of the sea (spanning checks)
    right: np.ndarray | None = None
    name: str = "landscape"

    @property
    def n_nodes(self) -> int:
        return int(self.F.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edges.shape[0])


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def bond_probability(D: float, z: float) -> float:
    """Edge occupation probability at data D on a substrate of mean degree z: ``p = D / z``.

    >>> bond_probability(2.0, 4.0)
    0.5
    """
    p = D / z
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"D={D}: must lie in [0, z={z:g}] (D is the mean degree of the model graph)")
    return float(p)


def capacity(N: float, N_half: float = 1.0) -> float:
    """Fraction of node complexities a network of N parameters can formulate, ``N / (N + N_half)``.

    The saturating form mirrors the paper's γ(D) = γ∞ D / (D + D_k) (§4.1); only its
    monotonicity matters for where the site-percolation transition sits.

    >>> capacity(1.0, N_half=1.0)
    0.5
    """
    require(N >= 0, "N", N, ">= 0 (parameters)")
    require(N_half > 0, "N_half", N_half, "> 0")
    return float(N / (N + N_half))


def present_edges(land: Landscape, D: float | None = None, N: float | None = None, N_half: float = 1.0):
    """Mask ``[n_edges]`` of edges present at data D and parameters N (None: no restriction).

    >>> land = square_lattice(50, seed=0)
    >>> round(float(present_edges(land, D=2.0).mean()), 1)     # D = 2 on z ≈ 4: half the bonds
    0.5
    """
    mask = np.ones(land.n_edges, dtype=bool)
    if D is not None:
        mask &= land.edge_u < bond_probability(D, land.z)
    if N is not None:
        node_ok = land.complexity <= capacity(N, N_half)
        mask &= node_ok[land.edges[:, 0]] & node_ok[land.edges[:, 1]]
    return mask


def _lattice_edges(L: int) -> np.ndarray:
    idx = np.arange(L * L).reshape(L, L)  # [row, col]
    horiz = np.stack([idx[:, :-1].ravel(), idx[:, 1:].ravel()], axis=1)
    vert = np.stack([idx[:-1, :].ravel(), idx[1:, :].ravel()], axis=1)
    return np.concatenate([horiz, vert]).astype(np.int64)


def square_lattice(L: int, *, seed=0) -> Landscape:
    """An L x L square lattice with free boundaries (F = 0): the substrate for exact thresholds.

    ``left``/``right`` mark the first and last columns, so left-right spanning is the
    percolation event (bond p_c = 1/2, site p_c ≈ 0.5927).

    >>> square_lattice(3).n_edges
    12
    """
    L = check_int(L, "L", 2)
    rng = _rng(seed)
    edges = _lattice_edges(L)
    col = np.arange(L * L) % L
    return Landscape(
        edges=edges,
        F=np.zeros(L * L),
        edge_u=rng.random(edges.shape[0]),
        complexity=rng.random(L * L),
        z=2.0 * edges.shape[0] / (L * L),
        source=(L // 2) * L,
        target=(L // 2) * L + L - 1,
        left=col == 0,
        right=col == L - 1,
        name=f"square_lattice(L={L})",
    )


def erdos_renyi(n: int, c_max: float, *, seed=0) -> Landscape:
    """Erdős–Rényi substrate: ``round(c_max n / 2)`` uniformly random pairs, so D runs up to mean degree c_max.

    Pairs are drawn with replacement (the G(n, M) model); repeats have density
    O(c/n) and do not move the giant component at large n.

    >>> erdos_renyi(1000, 3.0).n_edges
    1500
    """
    n = check_int(n, "n", 2)
    require(c_max > 0, "c_max", c_max, "> 0 (the largest mean degree)")
    rng = _rng(seed)
    m = int(round(c_max * n / 2))
    a = rng.integers(0, n, m)
    b = (a + rng.integers(1, n, m)) % n  # never a self-loop
    edges = np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1).astype(np.int64)
    return Landscape(
        edges=edges,
        F=np.zeros(n),
        edge_u=np.sort(rng.random(m)),  # the pairs are i.i.d., so giving them sorted u is an unbiased order
        complexity=rng.random(n),
        z=float(c_max),
        source=0,
        target=1,
        name=f"erdos_renyi(n={n}, c_max={c_max:g})",
    )


def random_geometric(n: int, radius: float, *, dim: int = 2, seed=0) -> Landscape:
    """Random geometric graph: n points in the unit cube, edges between points closer than ``radius``.

    >>> random_geometric(200, 0.1, seed=1).n_nodes
    200
    """
    from scipy.spatial import cKDTree

    n = check_int(n, "n", 2)
    require(radius > 0, "radius", radius, "> 0")
    rng = _rng(seed)
    pts = rng.random((n, dim))  # [n, dim]
    edges = cKDTree(pts).query_pairs(radius, output_type="ndarray").astype(np.int64)
    return Landscape(
        edges=edges,
        F=np.zeros(n),
        edge_u=rng.random(edges.shape[0]),
        complexity=rng.random(n),
        z=max(2.0 * edges.shape[0] / n, 1e-12),
        source=int(np.argmin(pts[:, 0])),
        target=int(np.argmax(pts[:, 0])),
        left=pts[:, 0] < radius,
        right=pts[:, 0] > 1 - radius,
        name=f"random_geometric(n={n}, r={radius:g}, dim={dim})",
    )


def _with_hubs(L: int, rng, F_sea: np.ndarray, F_M: float, F_G: float, complexity_sea: np.ndarray, name: str):
    """Sea of L x L models plus M_M wired to the left column and M_G to the right column."""
    n_sea = L * L
    sea = _lattice_edges(L)
    col = np.arange(n_sea) % L
    left_nodes, right_nodes = np.flatnonzero(col == 0), np.flatnonzero(col == L - 1)
    m_m, m_g = n_sea, n_sea + 1
    hub = np.concatenate([
        np.stack([left_nodes, np.full(L, m_m)], axis=1),
        np.stack([right_nodes, np.full(L, m_g)], axis=1),
    ])
    edges = np.concatenate([sea, hub]).astype(np.int64)
    # Hub edges are always present (u = 0): memorization is reachable from its side of the
    # sea at any D, so M_M ~ M_G connectivity is exactly left-right spanning of the sea.
    edge_u = np.concatenate([rng.random(sea.shape[0]), np.zeros(hub.shape[0])])
    F = np.concatenate([F_sea, [F_M, F_G]])
    complexity = np.concatenate([complexity_sea, [0.0, 0.0]])  # M_M and M_G always formulable
    left = np.zeros(n_sea + 2, bool)
    right = np.zeros(n_sea + 2, bool)
    left[m_m] = right[m_g] = True
    return Landscape(edges, F, edge_u, complexity, z=2.0 * sea.shape[0] / n_sea, source=m_m, target=m_g,
                     left=left, right=right, name=name)


def sea_of_minima(
    L: int,
    *,
    F_sea: float = 1.0,  # height of the shallow minima, in units of 1/β at β = 1
    ruggedness: float = 1.0,  # sea nodes get F_sea + ruggedness * U(0,1): barriers between them
    F_memorize: float = 0.5,  # M_M sits below the sea: leaving memorization means climbing
    seed=0,
) -> Landscape:
    """Grokking landscape (Gokhale 2023 §3.1, Fig. 2): M_M and M_G on opposite sides of a rugged sea.

    The sea is an L x L lattice of high-F heuristic models; M_M (F = ``F_memorize``)
    touches every model of the left column, M_G (F = 0) every model of the right
    column. Bond percolation with D removes sea edges, so M_M reaches M_G iff the sea
    spans: D_c = z p_c = 2 on this substrate as L -> infinity.

    >>> land = sea_of_minima(8, seed=0)
    >>> land.n_nodes, float(land.F[land.target])
    (66, 0.0)
    """
    L = check_int(L, "L", 2)
    if F_sea < 0 or ruggedness < 0 or F_memorize < 0:
        raise ConfigError(f"F_sea={F_sea}, ruggedness={ruggedness}, F_memorize={F_memorize}: fallibilities must be >= 0")
    rng = _rng(seed)
    F = F_sea + ruggedness * rng.random(L * L)
    return _with_hubs(L, rng, F, F_memorize, 0.0, rng.random(L * L), f"sea_of_minima(L={L})")


def emergence_landscape(
    L: int,
    *,
    F_max: float = 1.0,  # F at the left (start) side of the sea; falls linearly to 0 at the right
    coupling: float = 0.5,  # 0: complexity independent of F; 1: lower F always needs more capacity
    seed=0,
) -> Landscape:
    """Emergence landscape (Gokhale 2023 §3.2, Fig. 3): better models need more capacity.

    Sea node i at column x has F = F_max (1 - x / (L-1)) and complexity
    ``coupling * (1 - F/F_max) + (1 - coupling) * U(0,1)`` (§5.2: a model of lower F
    contains more quanta). Training starts at M_M (F = F_max, left side). M_G
    (F = 0) touches the right column.

    >>> land = emergence_landscape(6, seed=0)
    >>> bool(land.complexity[land.source] == 0.0)
    True
    """
    L = check_int(L, "L", 2)
    require(0.0 <= coupling <= 1.0, "coupling", coupling, "in [0, 1]")
    require(F_max > 0, "F_max", F_max, "> 0")
    rng = _rng(seed)
    x = (np.arange(L * L) % L) / (L - 1)
    F = F_max * (1.0 - x)
    complexity = coupling * x + (1.0 - coupling) * rng.random(L * L)
    return _with_hubs(L, rng, F, F_max, 0.0, complexity, f"emergence_landscape(L={L}, coupling={coupling:g})")


def barrier_chain(F: list[float] | np.ndarray, *, width: int = 1, seed=0) -> Landscape:
    """M_M - barrier models - M_G as a chain (``width`` parallel chains share the ends).

    ``F = [F_M, F_b1, ..., F_bk, F_G]``. Small enough to solve exactly.

    >>> barrier_chain([0.5, 2.0, 0.0]).n_edges
    2
    """
    F = np.asarray(F, dtype=np.float64)
    if F.ndim != 1 or F.size < 2 or np.any(F < 0):
        raise ConfigError(f"F={F.tolist()}: need >= 2 fallibilities, all >= 0")
    width = check_int(width, "width", 1)
    rng = _rng(seed)
    k = F.size - 2  # barrier models per chain
    src, tgt = 0, 1
    nodes_F = [F[0], F[-1]]
    edges = []
    for _ in range(width):
        prev = src
        for j in range(k):
            nodes_F.append(F[1 + j])
            node = len(nodes_F) - 1
            edges.append((prev, node))
            prev = node
        edges.append((prev, tgt))
        if k == 0:
            break  # one direct edge; parallel copies would be multi-edges
    edges = np.array(edges, dtype=np.int64)
    n = len(nodes_F)
    return Landscape(edges, np.array(nodes_F), rng.random(edges.shape[0]), rng.random(n), z=2.0 * len(edges) / n,
                     source=src, target=tgt, name=f"barrier_chain(k={k}, width={width})")
