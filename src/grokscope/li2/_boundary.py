"""Theorem 4 measured: which of E's maxima the empirical energy Ê keeps, and the critical data fraction.

Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking",
Theorem 4: with ``n ≳ d_k² M log(M/δ)`` training pairs drawn from the M² of a group of order M,
Ê keeps (w.p. 1 − δ) the local maxima of E in the d_k-dimensional irreps; so the training
fraction ``p = n/M²`` at the memorization–generalization boundary should scale like ``c·ln M/M``.

What "keeps" means here (one rule, stated once):

1. Start at E's maximum in each real isotypic component (irrep or complex pair): a random
   ``[u; v]`` projected onto the component and ascended on the full-table E (``Energy``) to
   convergence (σ = x²: the ascent never leaves the component; Theorem 2's ``w*``).
2. From there, projected gradient ascent on Ê of the training subset (same step rule as ``ascend``).
3. The maximum is **kept** when the point the ascent reaches still has at least ``purity``
   (default 0.75) of ``‖u‖² + ‖v‖²`` in the starting component. A start that falls below
   ``_ESCAPED`` = 0.5 is stopped early (it has left for a memorizing maximum). Measured on Z_97
   at p = 0.43: kept maxima converge at purity 0.88–0.94 (Ê's maximum moved, not lost), escaped
   ones end at 0.04–0.3, and 400 or 1,500 steps give the same verdicts.

The critical fraction ``p*`` of one (group, seed) is where the share of kept maxima crosses 1/2,
found by bisection in ``log p`` on NESTED training sets (one random order of the M² pairs per
seed; ``sample_pairs`` takes its prefix), so that more data never removes a pair. :func:`boundary`
then fits ``p*(M)`` to ``c·ln M/M`` and to ``a·M^-γ`` through ``grokscope.fit`` and compares them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from grokscope._json import jsonable
from grokscope.fit import Comparison, FitResult, Law, compare, fit
from grokscope.groups import (
    FiniteGroup,
    irrep_shares,
    irreps,
    isotypic_projectors,
    parse_group,
)
from grokscope.validate import check_int, check_number, check_seed, require

from ._empirical import EmpiricalEnergy, sample_pairs
from ._energy import Energy

__all__ = ["LN_OVER_M", "BoundaryResult", "KeptMaxima", "boundary", "component_maxima", "critical_fraction",
           "kept_maxima"]

_ESCAPED = 0.5  # share of ‖w‖² left in the starting component below which a start is stopped as escaped
_CHECK_EVERY = 10  # ascent steps between purity checks


def _ln_over_m_solve(x, y, fixed, x0_min):
    r = np.log(y) - np.log(np.log(x)) + np.log(x)  # log c, point by point
    log_c = float(r.mean())
    res = r - log_c
    return np.array([math.exp(log_c)]), float(res @ res)


# p* = c·ln M / M: Theorem 4's n ≳ M log M at fixed d_k and δ, as a fraction of the M² pairs
LN_OVER_M = Law("c_lnM_over_M", ("c",), "c * ln(x) / x", _ln_over_m_solve,
                lambda x, c: c * np.log(x) / x, nonlinear=False)


def _components(group: FiniteGroup) -> tuple[list[int], tuple[str, ...]]:
    """Indices (into ``irreps(group).components``) of the non-trivial real components, and all labels."""
    table = irreps(group)
    idx = [c for c, comp in enumerate(table.components) if not table.irreps[comp[0]].is_trivial]
    return idx, tuple(table.component_label(c) for c in table.components)


def _pick(group: FiniteGroup, seed: int, max_components: int) -> list[int]:
    """At most ``max_components`` non-trivial components, a random choice from ``seed``, in table order."""
    all_comps, _ = _components(group)
    gen = torch.Generator().manual_seed(check_seed(seed))
    return [all_comps[i] for i in torch.randperm(len(all_comps), generator=gen)[:max_components].sort().values.tolist()]


def _step(w: Tensor, g: Tensor, lr: float) -> tuple[Tensor, Tensor]:
    """One projected ascent step (``ascend``'s rule) and ``‖g_⊥‖/‖g‖`` before it."""
    g_tan = g - (g * w).sum(1, keepdim=True) * w
    g_norm = g.norm(dim=1, keepdim=True).clamp_min(1e-300)
    w = w + lr * g_tan / g_norm
    return w / w.norm(dim=1, keepdim=True), (g_tan.norm(dim=1, keepdim=True) / g_norm)[:, 0]


def _purity(group: FiniteGroup, w: Tensor, comp: Tensor) -> Tensor:
    """``[starts]`` share of ``‖u‖² + ‖v‖²`` in each start's own component."""
    m = group.order
    shares = irrep_shares(group, torch.stack([w[:, :m], w[:, m:]], -1)).shares  # [starts, n_components]
    return shares[torch.arange(w.shape[0]), comp]


def component_maxima(group: FiniteGroup, comps: list[int], seed: int, *, lr: float = 0.5,
                     max_steps: int = 400, tol: float = 1e-6) -> Tensor:
    """``[len(comps), 2M]`` float64: one maximum of the full-table E inside each listed component.

    >>> from grokscope.groups import cyclic
    >>> from grokscope.li2 import Energy
    >>> w = component_maxima(cyclic(9), [1, 2, 3, 4], seed=0)
    >>> [round(float(e), 6) for e in Energy(cyclic(9), dtype=torch.float64)(w)]  # M/4 each (Theorem 2, ×4)
    [2.25, 2.25, 2.25, 2.25]
    """
    m = group.order
    proj = isotypic_projectors(group)[comps]  # [c, M, M]
    gen = torch.Generator().manual_seed(check_seed(seed))
    raw = torch.randn(len(comps), 2, m, generator=gen, dtype=torch.float64)
    w = torch.einsum("cgh,csh->csg", proj, raw).reshape(len(comps), 2 * m)  # [u; v] both in component c
    w = w / w.norm(dim=1, keepdim=True)
    energy = Energy(group, "x2", dtype=torch.float64)
    for _ in range(max_steps):
        w, rel = _step(w, energy.value_and_grad(w)[1], lr)
        if bool((rel < tol).all()):
            break
    return w


@dataclass(frozen=True)
class KeptMaxima:
    """Which of E's maxima Ê keeps on one training subset (``to_dict()`` for JSON)."""

    group: str
    order: int
    fraction: float
    n: int  # training pairs
    seed: int
    labels: tuple[str, ...]  # the components tried
    kept: tuple[bool, ...]
    purity: tuple[float, ...]  # share left in the starting component at the end
    steps: int
    purity_threshold: float

    @property
    def share_kept(self) -> float:
        return sum(self.kept) / len(self.kept)

    def to_dict(self) -> dict:
        return jsonable({**self.__dict__, "share_kept": self.share_kept})


def kept_maxima(group: FiniteGroup, fraction: float, *, seed: int = 0, start_seed: int | None = None,
                max_components: int = 16, lr: float = 0.5, max_steps: int = 1000, tol: float = 1e-3,
                purity: float = 0.75, starts: Tensor | None = None, comps: list[int] | None = None) -> KeptMaxima:
    """Ascend Ê (σ = x², ``round(fraction·M²)`` pairs from ``seed``) from E's maxima; which stay put.

    At most ``max_components`` non-trivial components are tried (a random choice from
    ``start_seed``, default ``seed``); ``starts``/``comps`` pass precomputed maxima.

    >>> from grokscope.groups import cyclic
    >>> kept_maxima(cyclic(23), 1.0).share_kept, kept_maxima(cyclic(23), 0.2).share_kept
    (1.0, 0.0)
    """
    fraction = check_number(fraction, "fraction", lo=0.0, hi=1.0, lo_open=True)
    purity = check_number(purity, "purity", lo=_ESCAPED, hi=1.0, lo_open=True)
    max_components = check_int(max_components, "max_components", 1)
    start_seed = seed if start_seed is None else start_seed
    _, labels = _components(group)
    if comps is None:
        comps = _pick(group, start_seed, max_components)
    if starts is None:
        starts = component_maxima(group, comps, start_seed)
    comp_t = torch.tensor(comps)
    energy = EmpiricalEnergy(group, sample_pairs(group, fraction, seed), "x2")
    w, active = starts.clone(), torch.ones(len(comps), dtype=torch.bool)
    step = 0
    for step in range(1, max_steps + 1):
        w_new, rel = _step(w[active], energy.value_and_grad(w[active])[1], lr)
        w[active] = w_new
        idx = torch.nonzero(active).reshape(-1)
        active[idx[rel < tol]] = False  # converged
        if step % _CHECK_EVERY == 0:
            active &= _purity(group, w, comp_t) >= _ESCAPED  # escaped: stop
        if not bool(active.any()):
            break
    pur = _purity(group, w, comp_t)
    return KeptMaxima(group=group.name, order=group.order, fraction=fraction, n=energy.n, seed=seed,
                      labels=tuple(labels[c] for c in comps), kept=tuple(bool(p >= purity) for p in pur),
                      purity=tuple(float(p) for p in pur), steps=step, purity_threshold=purity)


def critical_fraction(group: FiniteGroup, seed: int = 0, *, iters: int = 6, lo: float | None = None,
                      **kw) -> tuple[float, float, float, list[KeptMaxima]]:
    """``(p*, lo, hi, probes)``: the fraction where the share of kept maxima crosses 1/2, by bisection
    in log p between a fraction that keeps fewer than half (``lo``, halved from 1/2 until it does)
    and one that keeps at least half (``hi``, starting at 1: the full table keeps every maximum).
    ``p*`` is the geometric mean of the final bracket. ``kw`` goes to :func:`kept_maxima`."""
    iters = check_int(iters, "iters", 1, 30)
    comps = _pick(group, seed, check_int(kw.pop("max_components", 16), "max_components", 1))
    starts = component_maxima(group, comps, seed)  # the same ones kept_maxima(group, p, seed=seed) starts from
    probes = []

    def keeps(p: float) -> bool:
        r = kept_maxima(group, p, seed=seed, starts=starts, comps=comps, **kw)
        probes.append(r)
        return r.share_kept >= 0.5

    min_p = 2.0 / group.order ** 2
    hi, lo = 1.0, (0.5 if lo is None else check_number(lo, "lo", lo=0.0, hi=1.0, lo_open=True, hi_open=True))
    while keeps(lo):
        hi, lo = lo, lo / 2
        require(lo >= min_p, "critical fraction", group.name, "reachable: Ê keeps the maxima down to 2 pairs")
    for _ in range(iters):
        mid = math.sqrt(lo * hi)
        if keeps(mid):
            hi = mid
        else:
            lo = mid
    return math.sqrt(lo * hi), lo, hi, probes


@dataclass(frozen=True)
class BoundaryResult:
    """The critical fraction per (group, seed) and its fits against the group order M."""

    groups: tuple[str, ...]
    orders: tuple[int, ...]  # one per row
    seeds: tuple[int, ...]
    p_star: tuple[float, ...]
    p_lo: tuple[float, ...]
    p_hi: tuple[float, ...]
    fit_ln: FitResult  # p* = c·ln M / M
    fit_power: FitResult  # p* = a·M^-γ
    comparison: Comparison
    rule: str
    seconds: float
    probes: tuple[KeptMaxima, ...] = field(repr=False, default=())

    def to_dict(self) -> dict:
        rows = [{"group": g, "M": m, "seed": s, "p_star": p, "lo": lo, "hi": hi, "p_star_M_over_lnM": p * m / math.log(m)}
                for g, m, s, p, lo, hi in zip(self.groups, self.orders, self.seeds, self.p_star, self.p_lo, self.p_hi)]
        return jsonable({"rule": self.rule, "rows": rows,
                         "fit_c_lnM_over_M": self.fit_ln.to_dict(), "fit_power_law": self.fit_power.to_dict(),
                         "comparison": {"aic": self.comparison.aic, "bic": self.comparison.bic,
                                        "loo": self.comparison.loo, "best": self.comparison.best,
                                        "delta_aic": self.comparison.delta_aic},
                         "seconds": round(self.seconds, 2)})


RULE = ("p* = geometric midpoint of the bisection bracket (in log p, nested training sets) where the share of "
        "E's maxima that projected ascent on the empirical energy keeps (purity >= {purity} in the starting "
        "irrep component) crosses 1/2; up to {max_components} components per group, sigma = x^2")


def boundary(group_specs: list[str], seeds: list[int], *, iters: int = 6, max_components: int = 16,
             purity: float = 0.75, n_boot: int = 1000, boot_seed: int = 0, **kw) -> BoundaryResult:
    """:func:`critical_fraction` for every group and seed, then ``p*(M)`` fitted to ``c·ln M/M`` and
    ``a·M^-γ`` (least squares on log p*, bootstrap over the points) and compared by AIC/BIC/LOO."""
    require(len(group_specs) >= 3, "groups", list(group_specs), "at least 3 groups (a power law has 2 parameters)")
    require(len(seeds) >= 1, "seeds", list(seeds), "at least one seed")
    t0 = time.perf_counter()
    rows, probes = [], []
    for spec in group_specs:
        g = parse_group(spec)
        for s in seeds:
            p, lo, hi, pr = critical_fraction(g, s, iters=iters, max_components=max_components, purity=purity, **kw)
            rows.append((g.name, g.order, s, p, lo, hi))
            probes.extend(pr)
    names, ms, ss, ps, los, his = zip(*rows)
    x, y = np.array(ms, dtype=float), np.array(ps)
    fit_ln = fit(LN_OVER_M, x, y, n_boot=n_boot, seed=boot_seed, loo=True, name="p* = c ln M / M")
    fit_pw = fit("power_law", x, y, n_boot=n_boot, seed=boot_seed, loo=True, name="p* = a M^-g")
    cmp = compare(x, y, {"c_lnM_over_M": (LN_OVER_M, {}), "power_law": ("power_law", {})}, name="boundary")
    return BoundaryResult(groups=names, orders=ms, seeds=ss, p_star=ps, p_lo=los, p_hi=his, fit_ln=fit_ln,
                          fit_power=fit_pw, comparison=cmp,
                          rule=RULE.format(purity=purity, max_components=max_components),
                          seconds=time.perf_counter() - t0, probes=tuple(probes))
