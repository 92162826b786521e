"""CoGO's constructed global optima of the centred MSE on Z_d, built in the semi-ring.

Tian 2024, "Composing Global Optimizers to Reasoning Tasks via Algebraic Objects in Neural Nets"
(Tian's slides "Composing Global Solutions from Partial Ones", "Optimal solutions can be
constructed"). Partial solutions (templates on every nonzero frequency k, with z[p, −k] =
conj z[p, k] so the weights are real, and no DC input component):

- ``z_syn(d)``: order 3, every row ``[1, ω₃, ω₃²]`` (ω₃ = e^{2πi/3}); kills every cross term
  r_{k1k2k}, (k1, k2) ≠ (k, k), and the constant term (R_c ∩ R_n), not the shifted ones (R_*).
- ``z_nu(d, ν)``: order 2, rows ``a = [1, ν]``, ``b = [1, −ν]``, ``c = [1, −ν⁻²]``; kills
  r_{p,k,k,k} (R_*). ``z_nu(d, 1j)`` is Tian's ``z_{ν=i}``.
- ``z_xi(d, ξ)``: order 2, ``a = [1, ξ]``, ``b = [1, 1/(γξ)]``, ``c = [1, γ]`` with γ = ±i; kills
  r_{−k,−k,k}, the one cross term ``z_{ν=i}`` leaves.
- ``y_k(d, k)`` (Tian's ``y_k``): one node, 1 on frequencies ±k, 0 elsewhere.

Global optima (each checked to reach loss 0 on all d² pairs by the tests, in weight space):

- ``z_F6 = 6^{-1/3} Σ_k syn * z_nu(ν) * y_k`` (order 6 per frequency, 3(d−1) nodes);
- ``z_F4/6 = 6^{-1/3} ẑ_F6^{(k0)} + 4^{-1/3} Σ_{k≠k0} z_nu(i) * z_xi(ξ) * y_k``: each order-4 term
  leaves a constant output on its frequency (r_{p,k,−k,k} ≠ 0), which ``ẑ_F6^{(k0)}`` cancels:
  its six nodes also write ``t_k·[1, …, 1]`` to every other output frequency k, which only the
  constant term sees (Σ_j z_a z_b over syn*nu vanishes off (k0, k0));
- ``z_M = d^{-2/3} z_a * z_b`` with ``z_a = Σ_j u_a^j``, ``z_b = Σ_j u_b^j``, ``u_a`` one node with
  ``(z_a, z_b, z_c)[k] = (e^{−iωk}, 1, e^{iωk})`` and ``u_b`` with ``(1, e^{−iωk}, e^{iωk})``
  (perfect memorization: d² nodes, node (j1, j2) reads a = j1, b = j2 and writes j1 + j2).
"""

from __future__ import annotations

import cmath
import math

import torch

from grokscope.validate import check_int, require

from ._semiring import FourierNet, _shift_sums, direct_loss, r_self

__all__ = ["construction_losses", "u_generator", "y_k", "z_f6", "z_f46", "z_memorize", "z_nu", "z_syn", "z_xi"]

OMEGA3 = cmath.exp(2j * math.pi / 3)


def _odd(d: int) -> int:
    d = check_int(d, "d", 3)
    require(d % 2 == 1, "d", d, "an odd modulus (every nonzero frequency then pairs with its conjugate)")
    return d


def _template(d: int, rows: list[list[complex]]) -> FourierNet:
    """Rows ``[3][q]`` on every positive frequency, their conjugates on the negative ones, 0 at DC."""
    d = _odd(d)
    r = torch.tensor(rows, dtype=torch.complex128)  # [3, q]
    z = torch.zeros(3, d, r.shape[1], dtype=torch.complex128)
    half = (d - 1) // 2
    z[:, 1:half + 1] = r[:, None]
    z[:, half + 1:] = r.conj()[:, None]
    return FourierNet(z)


def z_syn(d: int) -> FourierNet:
    """Order 3: every row ``[1, ω₃, ω₃²]`` on every frequency."""
    row = [1, OMEGA3, OMEGA3 ** 2]
    return _template(d, [row, row, row])


def z_nu(d: int, v: complex = 1j) -> FourierNet:
    """Order 2: ``a = [1, ν]``, ``b = [1, −ν]``, ``c = [1, −ν⁻²]``."""
    require(v != 0, "nu", v, "a nonzero complex number")
    return _template(d, [[1, v], [1, -v], [1, -1 / v ** 2]])


def z_xi(d: int, x: complex = cmath.exp(0.25j * math.pi), sign: int = 1) -> FourierNet:
    """Order 2: ``a = [1, ξ]``, ``b = [1, 1/(γξ)]``, ``c = [1, γ]``, ``γ = sign·i``."""
    require(x != 0, "xi", x, "a nonzero complex number")
    require(sign in (1, -1), "sign", sign, "1 or -1")
    g = sign * 1j
    return _template(d, [[1, x], [1, 1 / (g * x)], [1, g]])


def y_k(d: int, k: int) -> FourierNet:
    """Tian's ``y_k``: one node, 1 on frequencies ±k and 0 elsewhere."""
    d = _odd(d)
    k = check_int(k, "k", 1, (d - 1) // 2)
    z = torch.zeros(3, d, 1, dtype=torch.complex128)
    z[:, k] = z[:, d - k] = 1
    return FourierNet(z)


def _sum(nets: list[FourierNet]) -> FourierNet:
    out = nets[0]
    for n in nets[1:]:
        out = out + n
    return out


def z_f6(d: int, v: complex = 1j) -> FourierNet:
    """``6^{-1/3} Σ_k syn * z_nu(ν) * y_k``: order 6 on every frequency."""
    base = z_syn(d) * z_nu(d, v)
    return _sum([base * y_k(d, k) for k in range(1, (d - 1) // 2 + 1)]).scaled(6 ** (-1 / 3))


def z_f46(d: int, k0: int = 1, v: complex = 1j, x: complex = cmath.exp(0.25j * math.pi)) -> FourierNet:
    """``6^{-1/3} ẑ_F6^{(k0)} + 4^{-1/3} Σ_{k≠k0} z_nu(i) * z_xi(ξ) * y_k``: order 4 except at k0."""
    d = _odd(d)
    check_int(k0, "k0", 1, (d - 1) // 2)
    require(abs(abs(v) - 1) < 1e-12, "nu", v, "|ν| = 1 (then ẑ_F6's offset touches only the constant term)")
    f4_terms = _sum([z_nu(d, 1j) * z_xi(d, x) * y_k(d, k) for k in range(1, (d - 1) // 2 + 1) if k != k0])
    c6 = 6 ** (-1 / 3)
    f4 = f4_terms.scaled(4 ** (-1 / 3))
    hat = z_syn(d) * z_nu(d, v) * y_k(d, k0)  # [3, d, 6]
    # constant output the order-4 terms leave on each frequency k: ½ Σ_p S_p[m=0, k]; an output
    # weight t_k on all six ẑ nodes adds ½ c6³ t_k Σ_p Σ_k' Σ_j |z_p[k', j]|² there, and nothing else
    left = 0.5 * _shift_sums(r_self(f4))[:, 0].sum(0)  # [d]
    power = 0.5 * c6 ** 3 * float((hat.z[:2].abs() ** 2).sum())
    z = hat.z.clone()
    others = [k for k in range(1, d) if k not in (k0, d - k0)]
    z[2, others] = (-left[others] / power)[:, None].expand(-1, z.shape[2])
    return FourierNet(z).scaled(c6) + f4


def u_generator(d: int, operand: str) -> FourierNet:
    """``u_a`` (operand "a") or ``u_b``: one node reading operand shifted by 1, writing the shift."""
    d = _odd(d)
    require(operand in ("a", "b"), "operand", operand, "'a' or 'b'")
    k = torch.arange(d, dtype=torch.float64)
    shift = torch.exp(-2j * math.pi * k / d)
    z = torch.ones(3, d, 1, dtype=torch.complex128)
    z[0 if operand == "a" else 1, :, 0] = shift
    z[2, :, 0] = shift.conj()
    return FourierNet(z)


def z_memorize(d: int) -> FourierNet:
    """``d^{-2/3} z_a * z_b``, ``z_a = Σ_{j<d} u_a^j``: perfect memorization with d² nodes."""
    d = _odd(d)
    ua, ub = u_generator(d, "a"), u_generator(d, "b")
    za = _sum([ua ** j for j in range(d)])
    zb = _sum([ub ** j for j in range(d)])
    return (za * zb).scaled(d ** (-2 / 3))


def construction_losses(d: int, memorize: bool = True) -> dict[str, dict]:
    """Each constructed optimum on Z_d: its hidden nodes and centred MSE over all d² pairs, run in
    weight space (float64); ``z_F4`` alone (without ẑ_F6's offset) shows what the order-6 term fixes."""
    d = _odd(d)
    nets = {"z_F6": z_f6(d), "z_F4/6": z_f46(d),
            "z_F4 alone": _sum([z_nu(d, 1j) * z_xi(d) * y_k(d, k) for k in range(1, (d - 1) // 2 + 1)]).scaled(4 ** (-1 / 3))}
    if memorize:
        nets["z_M"] = z_memorize(d)
    return {name: {"nodes": net.q, "loss": direct_loss(*net.weights())} for name, net in nets.items()}
