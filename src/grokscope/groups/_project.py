"""Projection of weights indexed by group elements onto the real isotypic components.

A weight or embedding ``W [model, |G|, d]`` (rows = group elements) is, column by column, a real
function on G. The isotypic projector of irrep k in the regular representation is
``P_k = (d_k/|G|) Σ_g conj(χ_k(g)) L(g)``, i.e. ``P_k[h, h'] = (d_k/|G|) conj(χ_k(h·h'⁻¹))``
(Serre 1977, "Linear Representations of Finite Groups", Thm. 8); the projectors are orthogonal,
sum to the identity, and for a complex pair ``P_k + P_k̄`` is real. The share of a column's
energy in component c is ``‖P_c x‖² / ‖x‖²``; for Z_M this is the Fourier power at ``±k``,
which generalizes the Fourier analyses to non-abelian groups (the universality question of
Chughtai, Chan & Nanda 2023, "A toy model of universality").

>>> from grokscope.groups import parse_group
>>> import torch, math
>>> g = parse_group("cyclic:8")
>>> x = torch.cos(2 * math.pi * 3 * torch.arange(8.0) / 8)[None, :, None]  # [model=1, |G|, d=1]
>>> p = irrep_shares(g, x)
>>> p.labels[int(p.shares[0].argmax())], round(float(p.shares[0].max()), 6)
('k=±3', 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from grokscope.validate import require

from ._cayley import FiniteGroup
from ._irreps import irreps

__all__ = ["IrrepShares", "irrep_shares", "isotypic_projectors"]


def isotypic_projectors(group: FiniteGroup) -> Tensor:
    """``[n_components, |G|, |G|]`` float64: the real isotypic projectors, in ``irreps(group).components`` order."""
    table = irreps(group)
    n = group.order
    diff = group.table[:, group.inverse]  # [h, h'] -> id of h·h'⁻¹
    out = torch.zeros(len(table.components), n, n, dtype=torch.float64)
    for c, comp in enumerate(table.components):
        for k in comp:
            r = table.irreps[k]
            out[c] += (r.dim / n) * r.character.conj()[diff].real
    return out


@dataclass(frozen=True)
class IrrepShares:
    """Energy shares per real isotypic component."""

    labels: tuple[str, ...]  # one per component: "k=0", "k=±3", "ρ2", ...
    dims: tuple[int, ...]  # d_k of the component's irrep
    kinds: tuple[str, ...]  # "real", "complex" (a conjugate pair), "quaternionic"
    shares: Tensor  # [model, n_components] of the whole weight, summing to 1 over components
    column_shares: Tensor  # [model, d, n_components] per column (per hidden node), each summing to 1

    def to_dict(self) -> dict:
        return {"labels": list(self.labels), "dims": list(self.dims), "kinds": list(self.kinds),
                "shares": self.shares.tolist()}


def _fourier_matrix(group: FiniteGroup) -> Tensor:
    """``[|G|, Σ_k d_k²]`` complex128: column block k holds ``ρ_k(g)`` flattened, so ``x @ F`` is every ``x̂_k``."""
    return torch.cat([r.matrices.reshape(group.order, -1) for r in irreps(group).irreps], 1)


def irrep_shares(group: FiniteGroup, weight: Tensor, *, axis: int = -2) -> IrrepShares:
    """Share of ``weight``'s squared norm in each real isotypic component, along the element axis.

    ``weight`` is ``[model, |G|, d]`` (or ``[|G|, d]``, read as one model); ``axis`` is the
    element axis (default the rows). By Plancherel ``‖P_k x‖² = (d_k/|G|) ‖x̂_k‖_F²`` with
    ``x̂_k = Σ_g x_g ρ_k(g)``, so one product with the Fourier matrix gives every share (no
    ``|G|×|G|`` projector per component). Columns of zero norm get zero shares.
    """
    w = torch.as_tensor(weight).detach().to(torch.float64)
    if w.dim() == 2:
        w = w[None]
    if w.dim() == 3:
        w = w.movedim(axis if axis >= 0 else w.dim() + axis, 1)
    require(w.dim() == 3 and w.shape[1] == group.order, "weight shape", tuple(w.shape),
            f"[model, {group.order}, d] with rows indexed by the elements of {group.name}")
    table = irreps(group)
    hat = torch.einsum("mgd,gk->mdk", w.to(torch.complex128), _fourier_matrix(group))  # [model, d, Σd²]
    power = hat.real.pow(2) + hat.imag.pow(2)
    sizes = [r.dim ** 2 for r in table.irreps]
    per_irrep = torch.stack([blk.sum(-1) * (r.dim / group.order)
                             for blk, r in zip(power.split(sizes, -1), table.irreps)], -1)  # [model, d, n_irreps]
    comps = table.components
    energy = torch.stack([per_irrep[..., list(c)].sum(-1) for c in comps], -1)  # [model, d, c]
    total_col = energy.sum(-1, keepdim=True)  # [model, d, 1]
    column = torch.where(total_col > 0, energy / total_col.clamp_min(1e-300), torch.zeros_like(energy))
    col_energy = energy.sum(1)  # [model, c]
    shares = col_energy / col_energy.sum(-1, keepdim=True).clamp_min(1e-300)
    return IrrepShares(labels=tuple(table.component_label(c) for c in comps),
                       dims=tuple(table.irreps[c[0]].dim for c in comps),
                       kinds=tuple("complex" if len(c) == 2 else table.irreps[c[0]].kind for c in comps),
                       shares=shares, column_shares=column)
