"""The semantic trap model and its renewal (Bouchaud) variant (Gokhale 2023, §4.1, Eqs. 4–8).

Reference: Gokhale (2023), "The semantic landscape paradigm for neural networks".

Barriers ΔF are exponential with density β μ exp(-β μ ΔF) (Eq. 4, normalized:
ρ0 = μ), crossed after an Arrhenius wait τ = τ0 exp(β ΔF) (Eq. 3), so
P(τ > t) = (t/τ0)^(-μ) (Eq. 5). Waits are independent; after N_b crossings

* the **semantic** trap model has F = F0 / (1 + N_b) (the paper's F ∝ 1/N_b, shifted by
  one so that F(0) = F0), hence F(S) ∝ S^(-μ) for μ < 1 (Eq. 6) and S^(-1) for μ > 1;
* the **renewal** variant (Bouchaud 1992) redraws the trap after every hop: the state
  has no memory of N_b, its energy is -ΔF of the occupied trap. The trap holding the
  walker at time S has τ ~ S, so its depth grows only like (1/β) ln S for μ < 1 and
  saturates at 1/(β(μ - 1)) for μ > 1: no power law in S.

`attempt_time` is the paper's τ0(D, N) = ℓ(N)^(1/α) / γ(D) with γ(D) = γ∞ D/(D + D_k)
and ℓ(N) = ℓ0 N^(-1/d_f) + ℓ∞; `exploration_times` simulates that exploration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grokscope.errors import ConfigError
from grokscope.validate import check_choice, check_int, require

__all__ = ["trap_waits", "TrapRun", "semantic_trap", "attempt_time", "exploration_times", "WALKS"]

WALKS = {"ballistic": 1.0, "diffusive": 0.5, "subdiffusive": None}  # α of each exploration walk


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check_trap(beta: float, mu: float, tau0: float) -> None:
    require(beta > 0, "beta", beta, "> 0 (the inverse temperature)")
    require(mu > 0, "mu", mu, "> 0 (the barrier exponent μ = T/T_g)")
    require(tau0 > 0, "tau0", tau0, "> 0 (the attempt time)")


def trap_waits(size, *, beta: float, mu: float, tau0: float = 1.0, seed=0) -> np.ndarray:
    """Waiting times τ = τ0 exp(β ΔF) with ΔF ~ β μ exp(-β μ ΔF) (Eqs. 3–5): P(τ > t) = (t/τ0)^(-μ).

    >>> w = trap_waits(100_000, beta=2.0, mu=0.5, seed=0)
    >>> bool(abs((w > 100).mean() - 100 ** -0.5) < 0.005)
    True
    """
    _check_trap(beta, mu, tau0)
    dF = _rng(seed).exponential(1.0 / (beta * mu), size)
    return tau0 * np.exp(beta * dF)


@dataclass(frozen=True)
class TrapRun:
    """Trap-model walkers read at budgets S."""

    S: np.ndarray  # [n_S] training steps (the same unit as τ0)
    n_b: np.ndarray  # [walker, n_S] barriers crossed by S
    depth: np.ndarray  # [walker, n_S] ΔF of the trap occupied at S (the renewal read-out: energy -ΔF)
    F0: float
    truncated: bool  # a walker hit max_barriers before S_max: counts at large S are lower bounds

    @property
    def F_semantic(self) -> np.ndarray:  # [walker, n_S] Gokhale 2023 §4.1: F = F0 / (1 + N_b)
        return self.F0 / (1.0 + self.n_b)


def _rowwise_count(cum: np.ndarray, S: np.ndarray, scale: float) -> np.ndarray:
    """For increasing rows ``cum [w, b]``: how many entries of each row are <= each S -> [w, n_S]."""
    w, b = cum.shape
    rows = np.arange(w, dtype=np.float64)[:, None]
    # Rows live in disjoint unit intervals (row, row + 1], so one flat searchsorted serves all rows.
    keys = (rows + np.minimum(cum, scale) / scale).ravel()
    q = rows + S[None, :] / scale  # [w, n_S], S <= scale / 2 < scale
    pos = np.searchsorted(keys, q.ravel(), side="right").reshape(w, S.size)
    return pos - (np.arange(w) * b)[:, None]


def semantic_trap(
    S,
    *,
    n_walkers: int = 500,
    beta: float = 1.0,
    mu: float = 0.5,
    tau0: float = 1.0,
    F0: float = 1.0,
    block: int = 2048,  # barriers drawn per walker per pass: bounded memory for μ > 1 (many barriers)
    max_barriers: int = 2_000_000,
    seed=0,
) -> TrapRun:
    """Simulate the semantic trap model (Gokhale 2023 §4.1) and its renewal read-out at budgets ``S``.

    >>> import numpy as np
    >>> run = semantic_trap(np.array([10.0, 1000.0]), n_walkers=200, mu=0.5, seed=0)
    >>> bool(np.median(run.n_b[:, 1]) > np.median(run.n_b[:, 0]))
    True
    """
    _check_trap(beta, mu, tau0)
    n_walkers = check_int(n_walkers, "n_walkers", 1)
    S = np.sort(np.asarray(S, dtype=np.float64).ravel())
    if S.size == 0 or S[0] < 0:
        raise ConfigError("S: need at least one budget, all >= 0")
    rng = _rng(seed)
    W, s_max = int(n_walkers), float(S[-1])
    scale = 2.0 * s_max + 1.0
    n_b = np.zeros((W, S.size), dtype=np.int64)
    depth = np.full((W, S.size), np.nan)
    clock = np.zeros(W)  # time of the last crossing
    drawn = 0
    active = np.arange(W)
    while active.size and drawn < max_barriers:
        dF = rng.exponential(1.0 / (beta * mu), (active.size, block))  # [walker, block]
        cum = clock[active, None] + np.cumsum(tau0 * np.exp(beta * dF), axis=1)
        cnt = _rowwise_count(cum, S, scale)  # [walker, n_S] crossings of this block by S
        n_b[active] += cnt
        inside = (cnt < block) & np.isnan(depth[active])  # S falls in this block's last uncrossed trap
        r, c = np.nonzero(inside)
        depth[active[r], c] = dF[r, cnt[r, c]]
        clock[active] = cum[:, -1]
        drawn += block
        active = active[clock[active] <= s_max]
    return TrapRun(S, n_b, depth, float(F0), truncated=bool(active.size))


def attempt_time(
    D,
    N,
    *,
    alpha: float = 0.5,  # diffusive exploration (the paper's α = 1/2 case)
    d_f: float = 2.0,
    gamma_inf: float = 1.0,
    D_k: float = 1e4,  # Eqs. 7–8 need D << D_k
    ell0: float = 1.0,
    ell_inf: float = 1e-3,  # Eq. 7 needs N << (ell0/ell_inf)^d_f = 1e6 here
) -> np.ndarray:
    """The paper's attempt time τ0 = ℓ(N)^(1/α) / γ(D) (Gokhale 2023 §4.1: ℓ ∝ (γ t)^α).

    >>> round(float(attempt_time(1e4, 1.0, ell_inf=0.0, d_f=1.0, alpha=1.0)), 6)   # ℓ=1, γ=1/2
    2.0
    """
    require(0 < alpha <= 1, "alpha", alpha, "in (0, 1] (the exploration exponent)")
    require(d_f > 0, "d_f", d_f, "> 0 (the fractal dimension)")
    D = np.asarray(D, dtype=np.float64)
    N = np.asarray(N, dtype=np.float64)
    if np.any(D <= 0) or np.any(N <= 0):
        raise ConfigError("D and N must be > 0")
    gamma = gamma_inf * D / (D + D_k)
    ell = ell0 * N ** (-1.0 / d_f) + ell_inf
    return ell ** (1.0 / alpha) / gamma


def exploration_times(
    N: float,
    *,
    d_f: int = 2,
    walk: str = "diffusive",
    L: int = 256,
    a: float = 0.5,  # sub-diffusive CTRW: waits with P(τ > t) = t^-a, so <x²> ∝ t^a and α = a/2
    persistence: float | None = None,  # ballistic walk keeps its direction ~this many steps (default L)
    n_walkers: int = 1000,
    max_steps: int = 200_000,
    seed=0,
) -> np.ndarray:
    """First times ``[walker]`` at which an exploring walker finds an exit (inf: not within max_steps).

    The flat sub-graph is a periodic hypercubic lattice of side L in d_f dimensions;
    each site is an exit (a hop to lower F) with probability N / L^d_f, so N exits
    are scattered over the sub-graph (Gokhale 2023 §4.1: more parameters, more ways down).
    Walks: "ballistic" (persistent, α = 1), "diffusive" (nearest-neighbour, α = 1/2),
    "subdiffusive" (diffusive hops after Pareto waits of exponent a, α = a/2).

    >>> t = exploration_times(50.0, d_f=1, walk="ballistic", L=1000, n_walkers=200, seed=0)
    >>> 5 < float(np.median(t)) < 40     # exits every 20 sites, found in ~ half that
    True
    """
    check_choice(walk, "walk", tuple(WALKS))
    if d_f not in (1, 2, 3):
        raise ConfigError(f"d_f={d_f}: the lattice substrate supports dimensions 1, 2, 3")
    require(0 < a < 1, "a", a, "in (0, 1) (the CTRW wait exponent)")
    n_sites = L**d_f
    rho = N / n_sites
    if not 0 < rho < 1:
        raise ConfigError(f"N={N}: the exit density N / L^d_f = {rho:.3g} must lie in (0, 1)")
    rng = _rng(seed)
    exits = rng.random(n_sites) < rho
    free = np.flatnonzero(~exits)
    if free.size == 0 or not exits.any():
        raise ConfigError(f"N={N}: no exits or no free sites on the L={L} lattice; change N or L")
    W = int(n_walkers)
    x = np.stack(np.unravel_index(rng.choice(free, W), (L,) * d_f), axis=1).astype(np.int64)  # [walker, d]
    strides = L ** np.arange(d_f - 1, -1, -1)
    axis = rng.integers(0, d_f, W)
    sign = rng.choice(np.array([-1, 1]), W)
    p_turn = 1.0 / (persistence if persistence is not None else L)
    t = np.zeros(W)
    found = np.full(W, np.inf)
    active = np.arange(W)
    for _ in range(max_steps):
        if not active.size:
            break
        k = active.size
        if walk == "ballistic":
            turn = rng.random(k) < p_turn
            axis[active[turn]] = rng.integers(0, d_f, int(turn.sum()))
            sign[active[turn]] = rng.choice(np.array([-1, 1]), int(turn.sum()))
            ax, sg = axis[active], sign[active]
        else:
            ax, sg = rng.integers(0, d_f, k), rng.choice(np.array([-1, 1]), k)
        x[active, ax] = (x[active, ax] + sg) % L
        t[active] += (1.0 - rng.random(k)) ** (-1.0 / a) if walk == "subdiffusive" else 1.0
        hit = exits[x[active] @ strides]
        found[active[hit]] = t[active[hit]]
        active = active[~hit]
    return found
