"""The semi-ring of 2-layer x² networks on Z_d and its ring homomorphisms r_{k1k2k} (CoGO).

Tian 2024, "Composing Global Optimizers to Reasoning Tasks via Algebraic Objects in Neural Nets"
(Tian's slides "Nice algebraic structures exist for the solutions"). The network is the Li2
one (``models/_li2.py``): ``o(a, b) = Σ_j V[j] (W_a[a, j] + W_b[b, j])²``, with q hidden nodes.
It is held here in the Fourier domain, ``z [3, d, q]`` complex (rows p = a, b, c; frequency k;
node j)::

    z[a, k, j] = (1/d) Σ_m W_a[m, j] e^{-2πi km/d}      (same for b)
    z[c, k, j] = 2 Σ_m V[j, m] e^{+2πi km/d}

With this scaling the centred MSE over all d² pairs, ``(1/d²) Σ_ab ‖P₁^⊥(o(a,b) − e_{a+b})‖²``
(the reference code's ``loss_func=mse``), is exactly ``(1/d) Σ_{k≠0} Σ_{k1,k2} |c_k[k1,k2]|²`` with

    c_k[k1, k2] = r_{k1k2k} + ½ δ_{k2,0} A_k[k1] + ½ δ_{k1,0} B_k[k2] − δ_{k1,k} δ_{k2,k}
    r_{k1k2k}   = Σ_j z[a,k1,j] z[b,k2,j] z[c,k,j],   r_{p,k1,k2,k} = Σ_j z[p,k1,j] z[p,k2,j] z[c,k,j]
    A_k[m]      = Σ_{k'} r_{a,k',m−k',k}  (B_k with p = b)

(derived by Parseval over the output and over (a, b); :func:`loss_from_r`). When no node has a
DC input component (``z[a|b, 0, :] = 0``) this is Tian's per-frequency loss,
``(1/d) Σ_{k≠0} (ℓ_k + 1)`` with ``ℓ_k = −2 Re r_kkk + Σ|r_{k1k2k}|² + ¼|Σ_p Σ_{k'} r_{p,k',−k',k}|²
+ ¼ Σ_{m≠0} Σ_p |Σ_{k'} r_{p,k',m−k',k}|²`` (:func:`tian_loss_terms`); the global optimum is
``r_kkk = 1`` with every other term 0.

Ring operations (:class:`FourierNet`): ``z1 + z2`` concatenates hidden nodes; ``z1 * z2`` is the
Kronecker product along the hidden dimension, frequency by frequency
(``z[p, k, (j1, j2)] = z1[p, k, j1] z2[p, k, j2]``), so every r above is additive under + and
multiplicative under *: r(z1 + z2) = r(z1) + r(z2), r(z1 * z2) = r(z1) r(z2), r(1) = 1 where
``1`` is one node with ``z = 1`` everywhere (weights ``d·e_0``, ``d·e_0``, ``½e_0``).
A scalar in front of a network multiplies each of its three layers (``z.scaled(c)``), so every r
is multiplied by c³: Tian's ``6^{-1/3} z`` has r_kkk(z)/6 and ``d^{-2/3} z`` has r/d². Products and sums of real networks are real (Hermitian z).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from grokscope.validate import check_int, require

__all__ = ["FourierNet", "direct_loss", "loss_from_r", "r_cross", "r_self", "tian_loss_terms"]


@dataclass(frozen=True)
class FourierNet:
    """A 2-layer x² network on Z_d in the Fourier domain: ``z [3, d, q]`` complex128 (rows a, b, c).

    >>> one = FourierNet.one(5)
    >>> net = FourierNet.from_weights(*FourierNet.one(5).weights())
    >>> bool(torch.allclose(net.z, one.z))
    True
    """

    z: Tensor  # [3, d, q] complex

    @property
    def d(self) -> int:
        return self.z.shape[1]

    @property
    def q(self) -> int:
        return self.z.shape[2]

    @classmethod
    def one(cls, d: int) -> FourierNet:
        """The multiplicative identity: one node with every Fourier coefficient 1."""
        check_int(d, "d", 2)
        return cls(torch.ones(3, d, 1, dtype=torch.complex128))

    @classmethod
    def from_weights(cls, w_a: Tensor, w_b: Tensor, v: Tensor) -> FourierNet:
        """From Li2 weights ``W_in_a, W_in_b [d, q]`` and ``W_out [q, d]`` (one model)."""
        d = w_a.shape[0]
        require(w_a.shape == w_b.shape and v.shape == (w_a.shape[1], d), "weights",
                (tuple(w_a.shape), tuple(w_b.shape), tuple(v.shape)), "W_a, W_b [d, q] and V [q, d]")
        w_a, w_b, v = (t.detach().to(torch.float64) for t in (w_a, w_b, v))
        z_a = torch.fft.fft(w_a, dim=0) / d  # [d, q]
        z_b = torch.fft.fft(w_b, dim=0) / d
        z_c = 2 * d * torch.fft.ifft(v.T, dim=0)  # 2 Σ_m V[j, m] e^{+iωkm}
        return cls(torch.stack([z_a, z_b, z_c]))

    def weights(self) -> tuple[Tensor, Tensor, Tensor]:
        """Real Li2 weights ``(W_a [d, q], W_b [d, q], V [q, d])`` float64 (z must be Hermitian)."""
        d = self.d
        w_a = d * torch.fft.ifft(self.z[0], dim=0)
        w_b = d * torch.fft.ifft(self.z[1], dim=0)
        v = torch.fft.fft(self.z[2], dim=0) / (2 * d)
        scale = max(1.0, float(self.z.abs().max()))
        for t in (w_a, w_b, v):
            require(float(t.imag.abs().max()) <= 1e-9 * scale * d, "z", "not Hermitian",
                    "z[p, -k] = conj(z[p, k]) (a real network)")
        return w_a.real, w_b.real, v.T.real.contiguous()

    def __add__(self, other: FourierNet) -> FourierNet:
        require(self.d == other.d, "d", (self.d, other.d), "networks on the same Z_d")
        return FourierNet(torch.cat([self.z, other.z], dim=2))

    def __mul__(self, other: FourierNet) -> FourierNet:
        require(self.d == other.d, "d", (self.d, other.d), "networks on the same Z_d")
        prod = self.z[:, :, :, None] * other.z[:, :, None, :]  # [3, d, q1, q2]
        return FourierNet(prod.reshape(3, self.d, self.q * other.q))

    def scaled(self, c: float) -> FourierNet:
        """Each of the three layers times the real number ``c``, so every r_{...} times c³ (Tian's ``6^{-1/3} z``)."""
        return FourierNet(self.z * float(c))

    def __pow__(self, n: int) -> FourierNet:
        check_int(n, "power", 0)
        out = FourierNet.one(self.d)
        for _ in range(n):
            out = out * self
        return out


def r_cross(net: FourierNet) -> Tensor:
    """``r[k1, k2, k] = Σ_j z[a,k1,j] z[b,k2,j] z[c,k,j]``  ``[d, d, d]``."""
    z = net.z
    return torch.einsum("xj,yj,kj->xyk", z[0], z[1], z[2])


def r_self(net: FourierNet) -> Tensor:
    """``r[p, k1, k2, k] = Σ_j z[p,k1,j] z[p,k2,j] z[c,k,j]`` for p = a, b  ``[2, d, d, d]``."""
    z = net.z
    return torch.einsum("pxj,pyj,kj->pxyk", z[:2], z[:2], z[2])


def _shift_sums(r_p: Tensor) -> Tensor:
    """``S[p, m, k] = Σ_{k'} r_p[k', m−k', k]``  ``[2, d, d]`` from ``r_p [2, d, d, d]``."""
    d = r_p.shape[1]
    k1 = torch.arange(d)
    out = torch.zeros(2, d, d, dtype=r_p.dtype)
    for m in range(d):
        out[:, m] = r_p[:, k1, (m - k1) % d].sum(1)
    return out


def loss_from_r(net: FourierNet) -> float:
    """The centred MSE over all d² pairs computed from the r's alone (the module docstring's sum)."""
    d = net.d
    c = r_cross(net).clone()  # [k1, k2, k]
    s = _shift_sums(r_self(net))  # [p, m, k]
    c[:, 0, :] += 0.5 * s[0]
    c[0, :, :] += 0.5 * s[1]
    idx = torch.arange(d)
    c[idx, idx, idx] -= 1
    return float((c[:, :, 1:].abs() ** 2).sum() / d)


def tian_loss_terms(net: FourierNet) -> dict[str, Tensor]:
    """Tian's ℓ_k by its four terms, each ``[d]`` over output frequency k (k = 0 left at 0).

    ``ell = −2 Re r_kkk + Σ|r_{k1k2k}|² + ¼|Σ_p S_p[0]|² + ¼ Σ_{m≠0} Σ_p |S_p[m]|²``; the loss is
    ``(1/d) Σ_{k≠0} (ell_k + 1)`` when no node has a DC input component.
    """
    d = net.d
    r = r_cross(net)
    s = _shift_sums(r_self(net))  # [p, m, k]
    idx = torch.arange(d)
    out = {"r_kkk": r[idx, idx, idx],
           "cross": (r.abs() ** 2).sum((0, 1)),
           "constant": 0.25 * s[:, 0].sum(0).abs() ** 2,
           "shifted": 0.25 * (s[:, 1:].abs() ** 2).sum((0, 1))}
    out["ell"] = -2 * out["r_kkk"].real + out["cross"] + out["constant"] + out["shifted"]
    for v in out.values():
        v[0] = 0
    return out


def direct_loss(w_a: Tensor, w_b: Tensor, v: Tensor, chunk: int = 4096) -> float:
    """The centred MSE ``(1/d²) Σ_ab ‖P₁^⊥(o(a,b) − e_{a+b})‖²`` of one network, by running it on all pairs."""
    d = w_a.shape[0]
    a_all = torch.arange(d).repeat_interleave(d)
    b_all = torch.arange(d).repeat(d)
    total = 0.0
    for start in range(0, d * d, chunk):
        a, b = a_all[start:start + chunk], b_all[start:start + chunk]
        o = (w_a[a] + w_b[b]) ** 2 @ v  # [rows, q] @ [q, d]
        err = o - torch.nn.functional.one_hot((a + b) % d, d).to(o.dtype)
        err = err - err.mean(1, keepdim=True)
        total += float((err ** 2).sum())
    return total / (d * d)
