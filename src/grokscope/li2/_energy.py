"""The energy of Li2's Stage II: ``E(w) = ½‖Ỹᵀ σ(X w)‖²`` for one hidden node ``w = [u; v]``.

Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking",
Theorem 1: once the back-propagated gradient is ``G_F ∝ η Ỹ Ỹᵀ F``, each hidden node's input
weights ``w ∈ R^{2|G|}`` follow gradient ascent of this energy (a nonlinear CCA of X and Ỹ).

Normalization (stated once, used everywhere here):

- ``X [n, 2M]``: the rows ``[e_a; e_b]`` of ALL ``n = M²`` pairs of a group of order M, one-hot
  with entries 1 (no 1/√2); ``X w = u_a + v_b`` with ``u`` the weights on a, ``v`` those on b;
- ``Ỹ = P₁^⊥ Y`` with ``Y [n, M]`` the one-hot targets ``a·b`` and ``P₁^⊥ = I − 11ᵀ/n``;
- ``w`` on the unit sphere ``‖u‖² + ‖v‖² = 1``.

With σ(x) = x², ``(Yᵀσ(Xw))_c = ‖u‖² + ‖v‖² + 2(u⋆v)(c)`` where ``(u⋆v)(c) = Σ_a u_a v_{a⁻¹c}``;
the terms ``u_a² + v_b²`` are the same for every class and vanish under the centring, so

    E(w) = 2 ‖P₁^⊥ (u⋆v)‖² = (2/M) Σ_{k≠0} d_k ‖û_k v̂_k‖_F²,   û_k = Σ_a u_a ρ_k(a)

(Plancherel on G). This module evaluates it that way for σ = x² (an FFT for products of cyclic
groups, irrep matrices otherwise) and from the definition for any σ, batched over ``[starts, 2M]``.
Under this normalization the maxima are 4× Tian's numbers (see ``predicted_maximum``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from grokscope.groups import FiniteGroup, irreps
from grokscope.validate import check_choice, require

__all__ = ["ACTS", "Energy", "energy_reference", "predicted_maximum"]


def _square(x: Tensor) -> Tensor:
    return x * x


ACTS: dict[str, Callable[[Tensor], Tensor]] = {"x2": _square, "relu": F.relu, "silu": F.silu}


def energy_reference(group: FiniteGroup, w: Tensor, act: str = "x2") -> Tensor:
    """``E(w) [...]`` from the definition with explicit ``X [M², 2M]`` and ``Ỹ [M², M]`` (small M only).

    >>> from grokscope.groups import parse_group
    >>> g = parse_group("cyclic:5")
    >>> u = torch.cos(2 * torch.pi * torch.arange(5.0) / 5)
    >>> w = torch.cat([u, u]) / torch.cat([u, u]).norm()
    >>> round(float(energy_reference(g, w.double())), 6)  # M/4 for a single frequency
    1.25
    """
    check_choice(act, "act", tuple(ACTS))
    m = group.order
    a, b = torch.meshgrid(torch.arange(m), torch.arange(m), indexing="ij")
    a, b = a.reshape(-1), b.reshape(-1)
    x = torch.cat([F.one_hot(a, m), F.one_hot(b, m)], 1).to(w.dtype)  # [M², 2M]
    y = F.one_hot(group.table[a, b], m).to(w.dtype)  # [M², M]
    y_tilde = y - y.mean(0, keepdim=True)  # P₁^⊥ Y
    f = ACTS[act](w @ x.T)  # [..., M²]
    return 0.5 * (f @ y_tilde).pow(2).sum(-1)


class Energy:
    """``E`` and its gradient for one group and activation, batched: ``w [starts, 2M] -> E [starts]``.

    ``method``: ``"fourier"`` (σ = x² only: FFT for products of cyclic groups, irrep matrices
    otherwise), ``"direct"`` (any σ, from the definition in slabs of starts) or ``"auto"``.
    """

    def __init__(self, group: FiniteGroup, act: str = "x2", *, method: str = "auto", dtype=torch.float32):
        self.group, self.act = group, check_choice(act, "act", tuple(ACTS))
        method = check_choice(method, "method", ("auto", "fourier", "direct"))
        if method == "auto":
            method = "fourier" if act == "x2" else "direct"
        require(method == "direct" or act == "x2", "method", method, "'direct' unless act is 'x2'")
        self.method, self.dtype, self.m = method, dtype, group.order
        if method == "fourier" and group.factors:
            self._shape = tuple(reversed(group.factors))  # first factor fastest = last axis
            self._dims = tuple(range(-len(self._shape), 0))
            self._weight = self._half_spectrum_weight()
        elif method == "fourier":
            self._blocks = self._irrep_blocks()
        if method == "direct":
            # v_perm[:, a, c] = v[:, a⁻¹·c]: the b that pairs with a to give class c
            self._partner = group.table[group.inverse]  # [a, c] -> id of a⁻¹·c

    def _irrep_blocks(self) -> list[tuple[int, float, Tensor]]:
        """Per dimension d: (d, weight·d, real matrix [M, 2·n_d·d²]) of the non-trivial irreps,
        one of each complex pair with weight 2 (``‖û_k̄ v̂_k̄‖ = ‖û_k v̂_k‖`` for real u, v)."""
        table = irreps(self.group)
        out = []
        by_dim: dict[tuple[int, int], list[Tensor]] = {}
        for comp in table.components:
            r = table.irreps[comp[0]]
            if r.is_trivial:
                continue
            by_dim.setdefault((r.dim, len(comp)), []).append(r.matrices)
        for (d, weight), mats in sorted(by_dim.items()):
            stack = torch.stack(mats, 1).reshape(self.m, -1)  # [M, n_d·d·d] complex
            out.append((d, float(weight * d), torch.cat([stack.real, stack.imag], 1).to(self.dtype)))
        return out

    def __call__(self, w: Tensor) -> Tensor:
        """``E [starts]`` for ``w [starts, 2M]`` (any norm: E is evaluated where w is)."""
        u, v = w[..., : self.m], w[..., self.m:]
        if self.method == "direct":
            return self._direct(u, v)
        if self.group.factors:
            return self._fft(u, v)
        return self._irrep(u, v)

    def value_and_grad(self, w: Tensor) -> tuple[Tensor, Tensor]:
        """``(E [starts], ∂E/∂w [starts, 2M])``: in closed form for the FFT path, else by autograd
        (the starts never interact)."""
        if self.method == "fourier" and self.group.factors:
            return self._fft_value_and_grad(w)
        with torch.enable_grad():
            w = w.detach().requires_grad_(True)
            e = self(w)
            (g,) = torch.autograd.grad(e.sum(), w)
        return e.detach(), g

    def _half_spectrum_weight(self) -> Tensor:
        """Weights of the ``rfftn`` half spectrum: 2 for bins standing for a conjugate pair, 1 for
        self-conjugate bins (last-axis frequency 0 or m/2), 0 for the trivial irrep (centring)."""
        last = self._shape[-1]
        n_half = last // 2 + 1
        wt = torch.full((*self._shape[:-1], n_half), 2.0, dtype=torch.float64)
        wt[..., 0] = 1.0
        if last % 2 == 0:
            wt[..., -1] = 1.0
        wt.reshape(-1)[0] = 0.0
        return wt

    def _fft(self, u: Tensor, v: Tensor) -> Tensor:
        return self._fft_value_and_grad(torch.cat([u, v], -1), need_grad=False)[0]

    def _fft_value_and_grad(self, w: Tensor, need_grad: bool = True) -> tuple[Tensor, Tensor | None]:
        """``E = (2/M) Σ_{k≠0} |U_k|²|V_k|²`` and ``∂E/∂u = 4·ifft(|V|² U)`` (trivial bin dropped), likewise v."""
        lead = w.shape[:-1]
        u, v = w[..., : self.m].reshape(*lead, *self._shape), w[..., self.m:].reshape(*lead, *self._shape)
        uh, vh = torch.fft.rfftn(u, dim=self._dims), torch.fft.rfftn(v, dim=self._dims)
        pu, pv = uh.real.pow(2) + uh.imag.pow(2), vh.real.pow(2) + vh.imag.pow(2)
        wt = self._weight.to(pu.dtype)
        e = (2.0 / self.m) * (wt * pu * pv).flatten(-len(self._shape)).sum(-1)
        if not need_grad:
            return e, None
        mask = (wt > 0).to(pu.dtype)
        gu = 4.0 * torch.fft.irfftn(mask * pv * uh, s=self._shape, dim=self._dims)
        gv = 4.0 * torch.fft.irfftn(mask * pu * vh, s=self._shape, dim=self._dims)
        return e, torch.cat([gu.reshape(*lead, self.m), gv.reshape(*lead, self.m)], -1)

    def _irrep(self, u: Tensor, v: Tensor) -> Tensor:
        total = torch.zeros(u.shape[:-1], dtype=u.dtype, device=u.device)
        for d, weight, mats in self._blocks:
            half = mats.shape[1] // 2
            mats = mats.to(u.dtype)
            uh, vh = u @ mats, v @ mats  # [..., 2·n_d·d²]
            uc = torch.complex(uh[..., :half], uh[..., half:]).reshape(*u.shape[:-1], -1, d, d)
            vc = torch.complex(vh[..., :half], vh[..., half:]).reshape(*u.shape[:-1], -1, d, d)
            prod = uc * vc if d == 1 else uc @ vc  # [..., n_d, d, d]
            total = total + weight * prod.abs().pow(2).sum((-1, -2, -3))
        return (2.0 / self.m) * total

    def _direct(self, u: Tensor, v: Tensor, slab: int = 2**24) -> Tensor:
        """From the definition: ``(Yᵀσ(Xw))_c = Σ_a σ(u_a + v_{a⁻¹c})``, centred over c."""
        lead = u.shape[:-1]
        u2, v2 = u.reshape(-1, self.m), v.reshape(-1, self.m)
        per = max(1, slab // (self.m * self.m))
        out = []
        for s in range(0, u2.shape[0], per):
            pre = u2[s:s + per, :, None] + v2[s:s + per][:, self._partner]  # [starts, a, c]
            col = ACTS[self.act](pre).sum(1)  # [starts, c]: Yᵀσ(Xw)
            col = col - col.mean(-1, keepdim=True)  # Ỹᵀσ(Xw): P₁^⊥ on rows = centring over classes
            out.append(0.5 * col.pow(2).sum(-1))
        return torch.cat(out).reshape(lead)


def predicted_maximum(m: int, dim: int, kind: str, *, seed_normalization: bool = False) -> float | None:
    """Theorem 2's ``E*`` for an irrep of dimension ``dim`` and type ``kind`` of a group of order m.

    Tian states ``M/(8 d_k)`` (real irrep) and ``M/(16 d_k)`` (complex pair); under this
    module's normalization (one-hot entries 1, ``‖w‖ = 1``) the same maxima are 4× larger:
    ``M/(2 d_k)`` and ``M/(4 d_k)`` (for Z_M: ``M/4`` per frequency, ``M/2`` for ``k = M/2``).
    The factor 4 is exactly inputs ``[e_a; e_b]/√2`` (unit-norm rows) or σ(x) = x²/2. None for
    quaternionic irreps, which Theorem 2 does not cover.

    >>> predicted_maximum(71, 1, "complex"), predicted_maximum(71, 1, "complex", seed_normalization=True)
    (17.75, 4.4375)
    """
    base = {"real": 2.0, "complex": 4.0}.get(kind)
    if base is None:
        return None
    return m / (base * dim) / (4.0 if seed_normalization else 1.0)

