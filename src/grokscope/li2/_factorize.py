"""Factorize a network's per-frequency solutions into CoGO's forms (order 2 × order 2 or 3).

Tian 2024, "Composing Global Optimizers to Reasoning Tasks via Algebraic Objects in Neural Nets",
Table 2 (Tian's table for d = 23, 71, 127): the nodes of a trained network are grouped by the
frequency k where their input weight ``z[a, k, j]`` is largest (|z| above ``threshold``, the
reference code's 0.05); the group of q nodes at k is the per-frequency solution ``F [3, q]``
(rows a, b, c at frequency k). Order 4 and 6 solutions are factorized as ``F = X ⊗ Y`` with X of
order 2 (the same construction as the reference code ``factorize_sol.py``):

- every split of the q nodes into two halves of q/2, paired column by column, is tried; the
  pair ratios ``R[p, j] = F[p, second_j] / F[p, first_j]`` must be the same for every j; a node's
  sign symmetry ``(a, b, c) → (−a, −b, c)`` (the network is unchanged) is taken out pair by pair;
- the error is ``‖R − mean_j R‖_F`` (scale-free in each row, so independent of the Fourier
  normalization), minimized over splits; the solution is *non-factorable* when it exceeds
  ``0.1·√(3q)`` (the reference code's rule). Splits within twice the best error are equally good
  (pairing syn's nodes with a cyclic shift is exact too, so the split is not unique): among them
  the first type in ``SOLUTION_TYPES`` order is taken (the reference takes the first split found);
- ``X = [1, mean_j R]``, ``Y = F[:, first] / F[:, first_0]`` (first column ones); each column of
  X and Y divided by the cube root of its a·b·c product (an invariant of a node under its
  rescaling (s a, s b, c/s²), 1 for every constructed form), then named with tolerance 0.1:

  order-2 factor: ``xi`` if c = ±i; ``nu_i`` if c = 1 and a = ±i (Tian's z_{ν=i});
  ``nu`` if a + b = 0; else ``other``. Order-3 factor (columns sorted so Im c₁ > 0 and a-row
  signs so Re a < 0): ``syn`` if columns 1 and 2 are within 0.1·√3 (norm over the three rows)
  of ``ω₃·1`` and ``ω̄₃·1``; ``syn_ab`` if the c row alone is ``[1, ω₃, ω̄₃]`` (0.1 per entry).

Solution types, Tian's table columns: ``nu_i*xi`` (order 4), ``nu_i*syn_ab`` (order 6, the
order-2 factor nu_i and the order-3 factor syn or syn_ab) and ``nu*syn`` (order 6); every other
factorable solution is ``other``.
"""

from __future__ import annotations

import cmath
import itertools
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from grokscope._json import jsonable

from ._semiring import FourierNet

__all__ = ["SOLUTION_TYPES", "Factorization", "factorize", "per_frequency"]

SOLUTION_TYPES = ("nu_i*xi", "nu_i*syn_ab", "nu*syn", "other")
_TOL = 0.1  # the reference code's tolerance on normalized factor entries
_W3 = cmath.exp(2j * math.pi / 3)


@dataclass(frozen=True)
class Factorization:
    """One per-frequency solution ``F = X ⊗ Y`` (``to_dict()`` for JSON)."""

    k: int  # frequency
    order: int  # q, nodes at this frequency
    error: float  # ‖R − mean R‖_F (the reference code's factorization error)
    factorable: bool  # error <= 0.1·√(3q)
    kind: str  # one of SOLUTION_TYPES when factorable, else "non-factorable"
    factors: tuple[str, str]  # names of the order-2 and the order-q/2 factor
    x: list  # X [3, 2] normalized, as [re, im] pairs
    y: list  # Y [3, q/2] normalized

    def to_dict(self) -> dict:
        return jsonable(self.__dict__)


def per_frequency(net: FourierNet, threshold: float = 0.05) -> dict[int, Tensor]:
    """``{k: F [3, q_k]}`` for k = 1 … (d−1)/2: the nodes whose largest |z[a, k', j]| (k' ≤ (d−1)/2)
    is at k and above ``threshold``; F holds their (a, b, c) coefficients at k."""
    half = (net.d - 1) // 2
    mag = net.z[0, :half + 1].abs()  # [half+1, q]
    best, where = mag.max(0)
    keep = best > threshold
    return {k: net.z[:, k, (keep & (where == k)).nonzero().squeeze(1)] for k in range(1, half + 1)}


def _splits(q: int) -> Tensor:
    """Every ordered split of q nodes into (first half, second half) pairs: ``[n_splits, q]``."""
    h = q // 2
    out = []
    for first in itertools.combinations(range(q), h):
        rest = [j for j in range(q) if j not in first]
        for second in itertools.permutations(rest):
            out.append(list(first) + list(second))
    return torch.tensor(out)


def _ratios(f: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Every split: ``(error [P], ratios [P, 3, h], first-half columns [P, 3, h])``."""
    q = f.shape[1]
    h = q // 2
    perms = _splits(q)  # [P, q]
    g = f[:, perms]  # [3, P, q]
    r = g[:, :, h:] / g[:, :, :h]  # [3, P, h]
    # sign symmetry per pair: flip (a, b) ratios of pair j when that brings them nearer pair 0's
    ref = r[:2, :, :1]
    keep = (r[:2] - ref).abs().pow(2).sum(0)
    flip = (-r[:2] - ref).abs().pow(2).sum(0)
    sign = torch.where(flip < keep, -1.0, 1.0).to(r.dtype)  # [P, h]
    r = torch.cat([r[:2] * sign, r[2:]])
    err = (r - r.mean(2, keepdim=True)).abs().pow(2).sum((0, 2)).sqrt()  # [P]
    err = torch.nan_to_num(err, nan=math.inf, posinf=math.inf)  # a zero coefficient: no ratio
    return err, r.permute(1, 0, 2), g[:, :, :h].permute(1, 0, 2)


def _normalize(cols: Tensor) -> Tensor:
    """Each column divided by the cube root of its a·b·c product."""
    return cols / cols.prod(0, keepdim=True).pow(1 / 3)


def _near(x: complex, y: complex) -> bool:
    return abs(x - y) < _TOL


def _name2(x: Tensor) -> str:
    a, b, c = (complex(v) for v in x[:, 1])
    if _near(c, 1j) or _near(c, -1j):
        return "xi"
    if _near(c, 1) and (_near(a, 1j) or _near(a, -1j)):
        return "nu_i"
    if abs(a + b) < _TOL:
        return "nu"
    return "other"


def _name3(y: Tensor) -> str:
    y = y.clone()
    if y[2, 1].imag < y[2, 2].imag:
        y = y[:, [0, 2, 1]]
    for j in (1, 2):
        if y[0, j].real > 0:
            y[:2, j] = -y[:2, j]
    w3 = torch.tensor(_W3, dtype=y.dtype)
    col_tol = _TOL * math.sqrt(3)  # the reference's tolerance on a whole column
    if float((y[:, 1] - w3).abs().norm()) < col_tol and float((y[:, 2] - w3.conj()).abs().norm()) < col_tol:
        return "syn"
    if _near(complex(y[2, 1]), _W3) and _near(complex(y[2, 2]), _W3.conjugate()):
        return "syn_ab"
    return "other"


def _kind(order: int, first: str, second: str) -> str:
    if order == 4 and {first, second} == {"nu_i", "xi"}:
        return "nu_i*xi"
    if order == 6 and first == "nu_i" and second in ("syn", "syn_ab"):
        return "nu_i*syn_ab"
    if order == 6 and first in ("nu", "nu_i") and second == "syn":
        return "nu*syn"
    return "other"


def _pairs(t: Tensor) -> list:
    return [[[float(v.real), float(v.imag)] for v in row] for row in t]


def factorize(f: Tensor, k: int = 0) -> Factorization:
    """Factorize one order-4 or order-6 per-frequency solution ``F [3, q]`` (complex).

    >>> from grokscope.li2._constructions import z_nu, z_xi
    >>> sol = (z_nu(7, 1j) * z_xi(7)).z[:, 1]          # z_{ν=i} * z_ξ at frequency 1
    >>> fz = factorize(sol, k=1)
    >>> fz.kind, fz.factorable, fz.error < 1e-12
    ('nu_i*xi', True, True)
    """
    q = f.shape[1]
    if q not in (4, 6):
        raise ValueError(f"factorize: order {q}, only 4 and 6 are factorized")
    f = f.to(torch.complex128)
    errs, rs, firsts = _ratios(f)
    # near-ties (within 2x the best error) are equally good factorizations: syn's nodes are the
    # characters of Z_3, so pairing them with a cyclic shift is exact too; take the first in the
    # order of SOLUTION_TYPES, then the smallest error
    best = []
    for i in (errs <= max(2 * float(errs.min()), 1e-9)).nonzero().squeeze(1).tolist():
        x = _normalize(torch.stack([torch.ones(3, dtype=f.dtype), rs[i].mean(1)], 1))  # [3, 2]
        y = _normalize(firsts[i] / firsts[i][:, :1])  # [3, q/2]
        name_x = _name2(x)
        name_y = _name2(y) if q == 4 else _name3(y)
        if q == 4 and name_x != "nu_i" and name_y == "nu_i":
            name_x, name_y, x, y = name_y, name_x, y, x
        kind = _kind(q, name_x, name_y)
        best.append((SOLUTION_TYPES.index(kind), float(errs[i]), name_x, name_y, x, y))
    rank, err, name_x, name_y, x, y = min(best, key=lambda t: t[:2])
    ok = float(err) <= 0.1 * math.sqrt(3 * q)
    kind = SOLUTION_TYPES[rank] if ok else "non-factorable"
    return Factorization(k=k, order=q, error=float(err), factorable=ok, kind=kind, factors=(name_x, name_y),
                         x=_pairs(x), y=_pairs(y))
