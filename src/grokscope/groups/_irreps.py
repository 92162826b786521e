"""Irreducible representations of a finite group, computed numerically from its Cayley table.

Method (standard representation theory, e.g. Serre 1977, "Linear Representations of Finite
Groups", ch. 2 and 6; Steinberg 2009, "Representation Theory of Finite Groups"):

1. A random Hermitian element ``Z`` of the centre of the group algebra (a random combination of
   the class sums ``C_j`` and ``i(C_j − C_jᵀ)`` in the left regular representation ``L``) acts on
   each isotypic component of the regular representation as a scalar, distinct for distinct
   irreps with probability 1. Its eigenspaces are the isotypic components ``H_k``, of dimension
   ``d_k²`` (the regular representation holds ``m_k = d_k`` copies of irrep k).
2. Inside ``H_k`` a random Hermitian element of the commutant (the right regular representation)
   has ``d_k`` eigenvalues of multiplicity ``d_k``; one eigenspace is an irreducible left-invariant
   subspace with orthonormal basis ``V [order, d_k]``, and ``ρ_k(g) = Vᴴ L(g) V`` is a unitary irrep.
3. The Frobenius–Schur indicator ``ν_k = (1/|G|) Σ_g χ_k(g²)`` is +1 (real type), 0 (complex
   type: ``ρ_k`` and its conjugate are different irreps) or −1 (quaternionic).

Irreps are sorted by dimension, then by their characters on the conjugacy classes (the trivial
one first). For a product of cyclic groups each irrep is the character ``exp(2πi Σ k_i g_i/m_i)``
and is labelled by its frequency (``k=5`` for Z_M, ``k=(1,0,2)`` for products) and sorted by it:
for Z_M irrep k is the Fourier mode ``exp(2πi k g/M)``.

>>> from grokscope.groups import parse_group
>>> table = irreps(parse_group("symmetric:3"))
>>> [(r.dim, r.kind) for r in table.irreps]
[(1, 'real'), (1, 'real'), (2, 'real')]
>>> [r.label for r in irreps(parse_group("cyclic:4")).irreps]
['k=0', 'k=1', 'k=2', 'k=3']
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import Tensor

from ._cayley import FiniteGroup

__all__ = ["Irrep", "IrrepTable", "irreps"]

_TOL = 1e-6  # eigenvalue clusters and characters are compared at this tolerance (float64 work)


@dataclass(frozen=True, eq=False)
class Irrep:
    """One complex irreducible representation ``ρ`` of a group of order |G|."""

    index: int
    label: str  # "k=3" (cyclic), "k=(1,0)" (products), "ρ4" otherwise
    dim: int  # d_k
    multiplicity: int  # copies in the regular representation (= d_k)
    indicator: int  # Frobenius–Schur: +1 real, 0 complex, -1 quaternionic
    conjugate: int  # index of the irrep with the conjugate character (itself unless complex type)
    character: Tensor  # [order] complex128, χ(g) = tr ρ(g)
    matrices: Tensor  # [order, d, d] complex128, unitary, ρ(g)ρ(h) = ρ(g·h)

    @property
    def kind(self) -> str:
        return {1: "real", 0: "complex", -1: "quaternionic"}[self.indicator]

    @property
    def is_trivial(self) -> bool:
        return self.index == 0


@dataclass(frozen=True, eq=False)
class IrrepTable:
    """All irreps of ``group``; ``components`` groups them into the real isotypic components."""

    group: FiniteGroup
    irreps: tuple[Irrep, ...]
    classes: tuple[tuple[int, ...], ...]  # conjugacy classes, identity's first

    @property
    def components(self) -> tuple[tuple[int, ...], ...]:
        """Irrep indices per REAL isotypic component: ``(k,)`` for a real or quaternionic irrep,
        ``(k, k̄)`` for a complex pair (a real vector's projections on k and k̄ are conjugate)."""
        out = []
        for r in self.irreps:
            if r.conjugate == r.index:
                out.append((r.index,))
            elif r.index < r.conjugate:
                out.append((r.index, r.conjugate))
        return tuple(out)

    def component_label(self, comp: tuple[int, ...]) -> str:
        """``k=±3`` for a cyclic complex pair, ``ρ2+ρ3`` for another pair, an irrep's label otherwise."""
        first = self.irreps[comp[0]]
        if len(comp) == 1:
            return first.label
        if len(self.group.factors) == 1:
            return "k=±" + first.label[2:]
        return f"{first.label}+{self.irreps[comp[1]].label}"

    def character_table(self) -> Tensor:
        """``[n_irreps, n_classes]`` complex128: χ_k on a representative of each class."""
        reps = torch.tensor([c[0] for c in self.classes])
        return torch.stack([r.character[reps] for r in self.irreps])


def _clusters(values: Tensor, tol: float) -> list[list[int]]:
    """Indices of sorted real ``values`` split where consecutive gaps exceed ``tol``."""
    order = torch.argsort(values)
    groups, cur = [], [int(order[0])]  # indices, ascending by value
    for a, b in itertools.pairwise(order.tolist()):
        if float(values[b] - values[a]) > tol:
            groups.append(cur)
            cur = []
        cur.append(b)
    groups.append(cur)
    return groups


def _isotypic_bases(group: FiniteGroup, classes, gen: torch.Generator) -> list[Tensor] | None:
    """Orthonormal bases ``[order, d_k²]`` of the isotypic components, or None if the random
    central element happened to have near-equal eigenvalues (the caller retries)."""
    n = group.order
    z = torch.zeros(n, n, dtype=torch.complex128)
    for cls_ in classes:
        csum = torch.zeros(n, n, dtype=torch.float64)
        idx = torch.tensor(cls_)
        # sum_g in class of L(g): entry [g·h, h] += 1
        csum.index_put_((group.table[idx].reshape(-1), torch.arange(n).repeat(len(cls_))),
                        torch.ones(len(cls_) * n, dtype=torch.float64), accumulate=True)
        a, b = torch.randn(2, generator=gen, dtype=torch.float64)
        z += a * (csum + csum.T) + 1j * b * (csum - csum.T)
    vals, vecs = torch.linalg.eigh(z)
    scale = float(vals.abs().max()) + 1.0
    bases = []
    for c in _clusters(vals, 1e-5 * scale):
        d = math.isqrt(len(c))
        if d * d != len(c):
            return None
        bases.append(vecs[:, c])
    return bases


def _irrep_matrices(group: FiniteGroup, basis: Tensor, gen: torch.Generator) -> Tensor | None:
    """``ρ(g) [order, d, d]`` from one isotypic basis ``[order, d²]`` (None: retry)."""
    n, dd = basis.shape
    d = math.isqrt(dd)
    if d == 1:
        v = basis
    else:
        # T = Σ_h c_h R(h) with R(h) e_x = e_{x·h⁻¹}: T[y, x] = c[y⁻¹·x]; it commutes with every L(g)
        c = torch.randn(n, generator=gen, dtype=torch.float64) + 1j * torch.randn(n, generator=gen, dtype=torch.float64)
        t = c[group.table[group.inverse][:, torch.arange(n)]]  # [y, x]
        a = basis.conj().T @ t @ basis  # [d², d²]
        vals, vecs = torch.linalg.eigh((a + a.conj().T) / 2)
        if float(vals[d] - vals[d - 1]) < 1e-6 * (float(vals.abs().max()) + 1.0):
            return None
        v = basis @ vecs[:, :d]  # [order, d], an irreducible left-invariant subspace
    # ρ(g) = Vᴴ L(g) V with (L(g) V)[x] = V[g⁻¹·x]
    lv = v[group.table[group.inverse]]  # [g, x, d]
    return torch.einsum("xi,gxj->gij", v.conj(), lv)


def _label(group: FiniteGroup, chi: Tensor, index: int) -> tuple[str, tuple[int, ...]]:
    """A frequency label for products of cyclic groups, else ``ρ{index}`` (and a sort key)."""
    if not group.factors:
        return f"ρ{index}", ()
    ks, stride = [], 1
    for m in group.factors:
        angle = math.atan2(float(chi[stride].imag), float(chi[stride].real))
        ks.append(round(angle * m / (2 * math.pi)) % m)
        stride *= m
    if len(ks) == 1:
        return f"k={ks[0]}", tuple(ks)
    return "k=(" + ",".join(map(str, ks)) + ")", tuple(ks)


def _build(group: FiniteGroup, seed: int) -> IrrepTable | None:
    gen = torch.Generator().manual_seed(seed)
    classes = group.conjugacy_classes()
    bases = _isotypic_bases(group, classes, gen)
    if bases is None:
        return None
    found = []
    for basis in bases:
        mats = _irrep_matrices(group, basis, gen)
        if mats is None:
            return None
        found.append(mats)
    reps = torch.tensor([c[0] for c in classes])

    def key(mats: Tensor):
        chi = mats.diagonal(dim1=1, dim2=2).sum(-1)
        freq = _label(group, chi, 0)[1]
        return (mats.shape[1], freq, tuple(round(-float(x), 6) for x in chi[reps].real),
                tuple(round(-float(x), 6) for x in chi[reps].imag))

    found.sort(key=key)
    chars = torch.stack([m.diagonal(dim1=1, dim2=2).sum(-1) for m in found])  # [n_irreps, order]
    # conj_of[i] = j where χ_j = conj(χ_i): characters are orthonormal, so <χ_j, conj χ_i> is 0 or 1
    conj_of = ((chars.conj() @ chars.conj().T) / group.order).abs().argmax(1)
    nus = (chars[:, group.table.diagonal()].sum(1) / group.order).real  # Frobenius–Schur indicators
    out = []
    for i, (mats, chi) in enumerate(zip(found, chars)):
        out.append(Irrep(index=i, label=_label(group, chi, i)[0], dim=mats.shape[1], multiplicity=mats.shape[1],
                         indicator=round(float(nus[i])), conjugate=int(conj_of[i]), character=chi, matrices=mats))
    return IrrepTable(group=group, irreps=tuple(out), classes=tuple(tuple(c) for c in classes))


@lru_cache(maxsize=32)
def _cached(name: str, table_bytes: bytes, n: int, factors: tuple[int, ...], labels: tuple[str, ...]) -> IrrepTable:
    group = FiniteGroup(name=name, table=torch.frombuffer(bytearray(table_bytes), dtype=torch.int64).reshape(n, n),
                        labels=labels, factors=factors)
    for seed in range(8):  # a retry only when random coefficients nearly collide (probability ~0)
        table = _build(group, seed)
        if table is not None:
            return table
    raise RuntimeError(f"irreps of {name}: eigenvalue clusters never separated")  # an internal bug


def irreps(group: FiniteGroup) -> IrrepTable:
    """The irreducible representations of ``group`` (cached per Cayley table)."""
    return _cached(group.name, group.table.numpy().tobytes(), group.order, group.factors, group.labels)
