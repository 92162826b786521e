"""Li2's Stage III: top-down modulation — with irreps S learned, a new node's energy E_S has maxima
only on the missing irreps (Theorem 7).

Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking",
Theorem 7: for group arithmetic with σ = x², once the hidden layer has learned a subset S of the
irreps, the back-propagated gradient becomes ``G_F ∝ (Φ_S ⊗ 1_M)(Φ_S ⊗ 1_M)* F``, which yields a
modified energy E_S with local maxima only on the irreps k ∉ S.

How it is measured here (nothing in it assumes the theorem):

1. **Learned nodes.** For every component in S, ``per_irrep`` hidden nodes, each a maximum of the
   full-table E inside that component (Theorem 2's ``w*``, from a random start projected onto the
   component: :func:`component_maxima`), frozen.
2. **The residual target.** The top layer fitted to them at its ridge solution leaves the residual
   ``R = Ỹ − F̃_S V_ridge`` ``[n, M]`` (η = 0: the η → 0⁺ limit, ``R = P^⊥_{F̃_S} Ỹ``, the part of
   the target the learned features cannot express). A new node w with a silent top weight then
   receives ``G_F ∝ R Rᵀ σ(Xw)`` (Stage I's ``G_F = (Ỹ − F̃V)Vᵀ`` with the new node's ridge weight
   ``∝ Rᵀσ(Xw)``), i.e. it ascends

       E_S(w) = ½ ‖Rᵀ σ(X w)‖²,

   Stage II's energy with Ỹ replaced by the residual (:class:`ModifiedEnergy`).
3. **Its maxima.** Projected gradient ascent on the sphere from many random starts at once
   (``ascend``'s step), then each end point labelled by the isotypic component holding most of
   ``‖u‖² + ‖v‖²``. Theorem 7 predicts that no start ends in S.

The theorem's closed form, for the full table: learned nodes that span the S-part of the target
make ``R = Ỹ (I − Σ_{k∈S} P_k)`` (``P_k`` the isotypic projectors on the class axis), so for σ = x²
``E_S(w) = (2/M) Σ_{k∉S, k≠0} d_k ‖û_k v̂_k‖²``: E with the learned irreps' terms removed
(:meth:`ModifiedEnergy.from_irreps`). ``stage_three`` reports how far the measured R is from it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from grokscope._json import jsonable
from grokscope.errors import ConfigError
from grokscope.groups import FiniteGroup, irreps, isotypic_projectors
from grokscope.validate import (
    check_choice,
    check_int,
    check_number,
    check_seed,
    require,
)

from ._ascent import Maximum, _summarize, random_sphere
from ._boundary import _step, component_maxima
from ._empirical import _DERIVS, all_pairs, sample_pairs
from ._energy import ACTS
from ._stage1 import centre_rows, ridge_top

__all__ = ["ModifiedEnergy", "StageThree", "learned_nodes", "resolve_components", "stage_three"]


def resolve_components(group: FiniteGroup, learned) -> list[int]:
    """Indices into ``irreps(group).components`` of the learned set: component labels (``"ρ2"``,
    ``"k=±3"``, ``"k=(1,0)"``) or, for cyclic groups, frequencies ``k`` (``3`` means ``k=±3``).

    >>> from grokscope.groups import cyclic
    >>> resolve_components(cyclic(9), [1, "k=±3"])
    [1, 3]
    """
    table = irreps(group)
    labels = [table.component_label(c) for c in table.components]
    out = []
    for item in learned:
        text = str(item).strip()
        if text in labels:
            idx = labels.index(text)
        elif len(group.factors) == 1 and text.lstrip("+-").isdigit():
            k = int(text) % group.order
            k = min(k, group.order - k)
            match = [i for i, lab in enumerate(labels) if lab in (f"k=±{k}", f"k={k}")]
            if not match:
                raise ConfigError(f"learned={item!r}: must name a frequency in 1..{group.order // 2} of {group.name}")
            idx = match[0]
        else:
            raise ConfigError(f"learned={item!r}: must be one of {group.name}'s components "
                              f"{', '.join(labels[1:])}{' or a frequency k' if len(group.factors) == 1 else ''}")
        require(idx != 0, "learned", item, "a non-trivial irrep (the trivial one is centred away)")
        if idx not in out:
            out.append(idx)
    return sorted(out)


def learned_nodes(group: FiniteGroup, comps: list[int], per_irrep: int | None = None, seed: int = 0) -> Tensor:
    """``[K_S, 2M]`` float64: frozen hidden nodes ``[u; v]``, ``per_irrep`` maxima of E inside each
    listed component (random phases: each from its own random start in the component).

    Default ``12·d_k²`` per component: on Z_M a frequency's products u_a v_b and squares span 8
    directions (the (k,k), (k,−k), (2k,0), (0,2k) Fourier pairs), and 12 generic nodes fill them;
    measured, 24 (d_k = 2, D_5 and S_3) already make the residual the theorem's to 2e-7.
    """
    require(len(comps) >= 1, "learned", list(comps), "at least one component")
    table = irreps(group)
    counts = []
    for c in comps:
        d = table.irreps[table.components[c][0]].dim
        counts.append(12 * d * d if per_irrep is None else check_int(per_irrep, "per_irrep", 1))
    return component_maxima(group, [c for c, n in zip(comps, counts) for _ in range(n)], check_seed(seed))


class ModifiedEnergy:
    """``E_S(w) = ½‖Rᵀσ(Xw)‖²`` batched over ``w [starts, 2M]``, for a residual target ``R [n, M]``
    on the rows ``pairs [n, 2]`` (value and gradient in closed form, like ``EmpiricalEnergy``)."""

    def __init__(self, group: FiniteGroup, pairs: Tensor, residual: Tensor, act: str = "x2"):
        self.group, self.act, self.m = group, check_choice(act, "act", tuple(ACTS)), group.order
        pairs = torch.as_tensor(pairs).to(torch.int64)
        self.a, self.b = pairs[:, 0], pairs[:, 1]
        self.residual = residual.to(torch.float64)  # [n, M]
        require(self.residual.shape == (pairs.shape[0], self.m), "residual shape", tuple(residual.shape),
                f"[n={pairs.shape[0]}, M={self.m}]")

    @classmethod
    def from_nodes(cls, group: FiniteGroup, nodes: Tensor, *, pairs: Tensor | None = None, eta: float = 0.0,
                   act: str = "x2") -> ModifiedEnergy:
        """The residual of the ridge top layer fitted to frozen ``nodes [K_S, 2M]`` on ``pairs`` (all
        M² by default): ``R = Ỹ − F̃_S V_ridge``; at η = 0 the projection ``P^⊥_{F̃_S}Ỹ`` (SVD, cutoff
        1e-10 of the largest singular value)."""
        eta = check_number(eta, "eta", lo=0.0)
        pairs = all_pairs(group) if pairs is None else torch.as_tensor(pairs).to(torch.int64)
        m = group.order
        nodes = nodes.to(torch.float64)
        f = ACTS[act](nodes[:, :m][:, pairs[:, 0]] + nodes[:, m:][:, pairs[:, 1]]).T  # [n, K_S]
        y = centre_rows(F.one_hot(group.table[pairs[:, 0], pairs[:, 1]], m).to(torch.float64))  # Ỹ [n, M]
        if eta == 0:
            u, s, _ = torch.linalg.svd(centre_rows(f), full_matrices=False)
            u = u[:, s > 1e-10 * s.max()]
            res = y - u @ (u.T @ y)
        else:
            res = y - centre_rows(f) @ ridge_top(f, y, eta)
        return cls(group, pairs, res, act)

    @classmethod
    def from_irreps(cls, group: FiniteGroup, comps: list[int], act: str = "x2") -> ModifiedEnergy:
        """Theorem 7's form on the full table: ``R = Ỹ (I − Σ_{k∈S} P_k)``, the target without the
        learned components (``P_k`` the isotypic projectors, applied on the class axis)."""
        pairs = all_pairs(group)
        y = centre_rows(F.one_hot(group.table[pairs[:, 0], pairs[:, 1]], group.order).to(torch.float64))
        proj = isotypic_projectors(group)[list(comps)].sum(0)  # [M, M]
        return cls(group, pairs, y - y @ proj, act)

    def __call__(self, w: Tensor) -> Tensor:
        return self.value_and_grad(w, need_grad=False)[0]

    def value_and_grad(self, w: Tensor, need_grad: bool = True) -> tuple[Tensor, Tensor | None]:
        """``(E_S [starts], ∂E_S/∂w [starts, 2M])``: ``r = Rᵀσ(z)``, ``∂E_S/∂z = σ'(z) ∘ (R r)``."""
        w2 = w.reshape(-1, 2 * self.m)
        res = self.residual.to(w2.dtype)
        z = w2[:, : self.m][:, self.a] + w2[:, self.m:][:, self.b]  # [starts, n]
        r = ACTS[self.act](z) @ res  # [starts, M]
        e = 0.5 * r.pow(2).sum(1)
        if not need_grad:
            return e.reshape(w.shape[:-1]), None
        gz = _DERIVS[self.act](z) * (r @ res.T)  # [starts, n]
        gu = torch.zeros_like(w2[:, : self.m]).index_add_(1, self.a, gz)
        gv = torch.zeros_like(w2[:, : self.m]).index_add_(1, self.b, gz)
        return e.reshape(w.shape[:-1]), torch.cat([gu, gv], 1).reshape(w.shape)


@dataclass(frozen=True)
class StageThree:
    """Where the maxima of E_S land (``to_dict()`` is what ``grokscope li2 stage3 --json`` prints)."""

    group: str
    order: int
    act: str
    learned: tuple[str, ...]  # component labels of S
    per_irrep: int | None  # frozen nodes per learned component (None: 12·d_k²)
    n_nodes: int  # frozen nodes in all
    fraction: float  # training fraction the residual is fitted on (1: the full table)
    eta: float  # ridge η of the top layer fitted to the frozen nodes (0: the η → 0⁺ projection)
    starts: int
    seed: int
    steps: int
    converged: int  # starts with ‖∇⊥E_S‖/‖∇E_S‖ < tol at the end
    landed_in_learned: int  # starts whose maximum lies in a learned component (Theorem 7: 0)
    missing_reached: int  # missing non-trivial components some start reached
    missing_total: int  # missing non-trivial components
    residual_vs_theorem: float | None  # ‖R − Ỹ(I − P_S)‖/‖Ỹ(I − P_S)‖ (full table only)
    seconds: float
    maxima: tuple[Maximum, ...]  # classes of maxima, highest E_S first; `predicted` is Theorem 2's E*

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "maxima"}
        d["maxima"] = [{**m.to_dict(), "in_learned": m.label in self.learned} for m in self.maxima]
        return jsonable(d)


def stage_three(group: FiniteGroup, learned, *, per_irrep: int | None = None, starts: int = 2000, act: str = "x2",
                fraction: float = 1.0, eta: float = 0.0, seed: int = 0, lr: float = 0.5, max_steps: int = 400,
                tol: float = 1e-3) -> StageThree:
    """Freeze ``per_irrep`` nodes on each learned component, ascend E_S from ``starts`` random points
    on the sphere, and count which components the maxima land on. The frozen nodes are maxima of the
    σ = x² energy whatever ``act`` is (Theorem 7's setting); ``act`` is the activation of the
    features and of the new node.

    >>> from grokscope.groups import cyclic
    >>> r = stage_three(cyclic(9), [1, 2], starts=200)
    >>> r.landed_in_learned, sorted({m.label for m in r.maxima}), r.residual_vs_theorem < 1e-8
    (0, ['k=±3', 'k=±4'], True)
    """
    comps = resolve_components(group, learned)
    starts = check_int(starts, "starts", 1, 10**6)
    fraction = check_number(fraction, "fraction", lo=0.0, hi=1.0, lo_open=True)
    lr = check_number(lr, "lr", lo=0.0, hi=2.0, lo_open=True)
    max_steps = check_int(max_steps, "max_steps", 1)
    seed = check_seed(seed)
    t0 = time.perf_counter()
    nodes = learned_nodes(group, comps, per_irrep, seed)
    pairs = all_pairs(group) if fraction == 1.0 else sample_pairs(group, fraction, seed)
    energy = ModifiedEnergy.from_nodes(group, nodes, pairs=pairs, eta=eta, act=act)
    gap = None
    if fraction == 1.0:
        theory = ModifiedEnergy.from_irreps(group, comps, act).residual
        gap = float((energy.residual - theory).norm() / theory.norm().clamp_min(1e-300))
    w = random_sphere(starts, 2 * group.order, seed + 1, torch.float64)
    step = 0
    for step in range(1, max_steps + 1):
        w, rel = _step(w, energy.value_and_grad(w)[1], lr)
        if bool((rel < tol).all()):
            break
    e, g = energy.value_and_grad(w)
    g_tan = g - (g * w).sum(1, keepdim=True) * w
    converged = int((g_tan.norm(dim=1) < tol * g.norm(dim=1).clamp_min(1e-300)).sum())
    summary = _summarize(group, act, seed, lr, step, converged, tol, 0.0, w, e)
    table = irreps(group)
    labels = [table.component_label(c) for c in table.components]
    learned_labels = tuple(labels[c] for c in comps)
    in_s = torch.tensor([summary.component_labels[int(i)] in learned_labels for i in summary.labels])
    reached = {m.label for m in summary.maxima} - set(learned_labels)
    missing = [lab for i, lab in enumerate(labels) if i != 0 and i not in comps]
    return StageThree(group=group.name, order=group.order, act=act, learned=learned_labels, per_irrep=per_irrep,
                      n_nodes=nodes.shape[0],
                      fraction=fraction, eta=eta, starts=starts, seed=seed, steps=step, converged=converged,
                      landed_in_learned=int(in_s.sum()), missing_reached=len(reached & set(missing)),
                      missing_total=len(missing), residual_vs_theorem=gap, seconds=time.perf_counter() - t0,
                      maxima=summary.maxima)
