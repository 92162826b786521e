"""The empirical energy Ê on a training subset of the group table (Li2, Theorem 4's object).

Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking":
with n training pairs ``S ⊂ G × G`` instead of all M², the energy that governs Stage II is the
same formula on the training rows only,

    Ê(w) = ½ ‖Ỹ_Sᵀ σ(X_S w)‖²,   X_S [n, 2M] rows [e_a; e_b],   Ỹ_S = P₁^⊥ Y_S,  P₁^⊥ = I_n − 11ᵀ/n,

where the centring is over the n training rows (Tian's P₁^⊥; the reference code instead
subtracts 1/M from every one-hot target, which is the same thing only on the full table, where
every class appears M times). Theorem 4: with ``n ≳ d_k² M log(M/δ)`` random pairs, Ê keeps the
local maxima of E (w.p. 1 − δ); with fewer, its maxima are no longer single irreps (memorization).

Scale: ``Ê`` is a sum over n rows squared, so it shrinks like (n/M²)². ``rescale=True`` (the
default) multiplies by ``(M²/n)²`` so that on the full table Ê is exactly ``Energy`` (and values
stay comparable across n); ``rescale=False`` is the raw ½‖Ỹ_Sᵀσ(X_S w)‖², the quantity whose
gradient is the backpropagated gradient of Stage I (see ``_stage1``). Ascent does not care.

The value and gradient are in closed form, batched over ``[starts, 2M]``, O(starts·n) per call:
``r = Ỹ_Sᵀ f`` is a scatter of ``f = σ(u_a + v_b)`` over the target classes minus ``ȳ Σ_i f_i``,
and ``∂Ê/∂z_i = σ'(z_i) (r_{c_i} − ȳ·r)``, scattered back over a_i (for u) and b_i (for v).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from grokscope.groups import FiniteGroup
from grokscope.validate import (
    check_bool,
    check_choice,
    check_number,
    check_seed,
    require,
)

from ._energy import ACTS

__all__ = ["EmpiricalEnergy", "all_pairs", "sample_pairs"]


def _d_square(z: Tensor) -> Tensor:
    return 2.0 * z


def _d_relu(z: Tensor) -> Tensor:
    return (z > 0).to(z.dtype)


def _d_silu(z: Tensor) -> Tensor:
    s = torch.sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


_DERIVS = {"x2": _d_square, "relu": _d_relu, "silu": _d_silu}


def all_pairs(group: FiniteGroup) -> Tensor:
    """``[M², 2]`` int64: every pair (a, b), a-major (row ``a·M + b``)."""
    m = group.order
    a, b = torch.meshgrid(torch.arange(m), torch.arange(m), indexing="ij")
    return torch.stack([a.reshape(-1), b.reshape(-1)], 1)


def sample_pairs(group: FiniteGroup, fraction: float, seed: int) -> Tensor:
    """``[n, 2]``: ``n = round(fraction · M²)`` pairs drawn without replacement, from ``seed`` alone
    (at least 2 rows: the centring needs two). Sorted a-major, so the subset, not the draw order, matters.

    >>> from grokscope.groups import cyclic
    >>> sample_pairs(cyclic(5), 0.2, seed=0).shape
    torch.Size([5, 2])
    """
    fraction = check_number(fraction, "fraction", lo=0.0, hi=1.0, lo_open=True)
    gen = torch.Generator().manual_seed(check_seed(seed))
    total = group.order ** 2
    n = max(2, round(fraction * total))
    idx = torch.randperm(total, generator=gen)[:n].sort().values
    return all_pairs(group)[idx]


class EmpiricalEnergy:
    """``Ê`` and its gradient on the training pairs ``pairs [n, 2]``: ``w [starts, 2M] -> Ê [starts]``.

    >>> from grokscope.groups import cyclic
    >>> from grokscope.li2 import Energy
    >>> g = cyclic(7)
    >>> w = torch.randn(3, 14, dtype=torch.float64)
    >>> bool(torch.allclose(EmpiricalEnergy(g, all_pairs(g))(w), Energy(g, dtype=torch.float64)(w)))
    True
    """

    def __init__(self, group: FiniteGroup, pairs: Tensor, act: str = "x2", *, rescale: bool = True):
        self.group, self.act = group, check_choice(act, "act", tuple(ACTS))
        m = group.order
        pairs = torch.as_tensor(pairs)
        require(pairs.dim() == 2 and pairs.shape[1] == 2 and pairs.shape[0] >= 2 and not pairs.is_floating_point(),
                "pairs shape", tuple(pairs.shape), "[n >= 2, 2] integer element ids (a, b)")
        pairs = pairs.to(torch.int64)
        require(bool(((pairs >= 0) & (pairs < m)).all()), "pairs", "out of range", f"element ids in [0, {m})")
        self.m, self.n = m, pairs.shape[0]
        self.a, self.b = pairs[:, 0], pairs[:, 1]  # [n]
        self.c = group.table[self.a, self.b]  # [n] target classes a·b
        self.y_bar = torch.bincount(self.c, minlength=m).to(torch.float64) / self.n  # [M] class frequencies
        self.scale = (m * m / self.n) ** 2 if check_bool(rescale, "rescale") else 1.0

    @property
    def pairs(self) -> Tensor:
        return torch.stack([self.a, self.b], 1)

    def targets(self, dtype=torch.float64) -> Tensor:
        """``Ỹ_S [n, M]``: one-hot targets, each column centred over the n rows."""
        y = F.one_hot(self.c, self.m).to(dtype)
        return y - y.mean(0, keepdim=True)

    def inputs(self, dtype=torch.float64) -> Tensor:
        """``X_S [n, 2M]``: rows ``[e_a; e_b]``."""
        return torch.cat([F.one_hot(self.a, self.m), F.one_hot(self.b, self.m)], 1).to(dtype)

    def _project(self, f: Tensor) -> Tensor:
        """``Ỹ_Sᵀ f [starts, M]`` for ``f [starts, n]``."""
        yt_f = torch.zeros(f.shape[0], self.m, dtype=f.dtype).index_add_(1, self.c, f)  # Yᵀf
        return yt_f - self.y_bar.to(f.dtype)[None, :] * f.sum(1, keepdim=True)

    def __call__(self, w: Tensor) -> Tensor:
        return self.value_and_grad(w, need_grad=False)[0]

    def value_and_grad(self, w: Tensor, need_grad: bool = True) -> tuple[Tensor, Tensor | None]:
        """``(Ê [starts], ∂Ê/∂w [starts, 2M])`` in closed form (see the module docstring)."""
        lead = w.shape[:-1]
        w2 = w.reshape(-1, 2 * self.m)
        u, v = w2[:, : self.m], w2[:, self.m:]
        z = u[:, self.a] + v[:, self.b]  # [starts, n] pre-activations
        r = self._project(ACTS[self.act](z))  # [starts, M]
        e = (0.5 * self.scale) * r.pow(2).sum(1)
        if not need_grad:
            return e.reshape(lead), None
        back = r[:, self.c] - (r * self.y_bar.to(r.dtype)).sum(1, keepdim=True)  # [starts, n]: (Ỹ_S r)_i
        gz = self.scale * _DERIVS[self.act](z) * back
        gu = torch.zeros_like(u).index_add_(1, self.a, gz)
        gv = torch.zeros_like(v).index_add_(1, self.b, gz)
        return e.reshape(lead), torch.cat([gu, gv], 1).reshape(*lead, 2 * self.m)
