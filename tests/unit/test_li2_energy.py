"""Li2's Stage II energy E(w) = ½‖Ỹᵀσ(Xw)‖² (Tian 2025, "Provable Scaling Laws of Feature Emergence
from Learning Dynamics of Grokking"): every fast path against the definition with explicit X and Ỹ,
closed-form values of single-frequency vectors, and Theorem 2 / Corollary 2 on the maxima that
projected gradient ascent finds (under our normalization, 4x Tian's E*)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from grokscope.errors import ConfigError
from grokscope.groups import cyclic, parse_group
from grokscope.li2 import Energy, ascend, energy_reference, predicted_maximum

F64 = torch.float64


@pytest.mark.parametrize("spec", ["cyclic:7", "cyclic:8", "product:2,3,4", "dihedral:4", "symmetric:3"])
@pytest.mark.parametrize("act", ["x2", "relu", "silu"])
def test_every_evaluation_of_e_and_its_gradient_is_the_definition(spec, act):
    g = parse_group(spec)
    w = torch.randn(6, 2 * g.order, generator=torch.Generator().manual_seed(3), dtype=F64, requires_grad=True)
    ref = energy_reference(g, w, act)
    (ref_grad,) = torch.autograd.grad(ref.sum(), w)
    methods = ["direct", "fourier"] if act == "x2" else ["direct"]
    for method in methods:
        e, grad = Energy(g, act, method=method, dtype=F64).value_and_grad(w.detach())
        torch.testing.assert_close(e, ref.detach(), rtol=1e-11, atol=1e-11)
        torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-10)


def test_the_reference_is_the_seeds_formula_with_the_row_centring_projector():
    """Ỹ = P₁^⊥ Y with P₁^⊥ = I − 11ᵀ/n over the n = M² rows, written as the matrix itself."""
    g = cyclic(5)
    n, m = 25, 5
    a, b = torch.arange(n) // m, torch.arange(n) % m
    x = torch.cat([torch.eye(m, dtype=F64)[a], torch.eye(m, dtype=F64)[b]], 1)
    y = torch.eye(m, dtype=F64)[(a + b) % m]
    p_perp = torch.eye(n, dtype=F64) - torch.ones(n, n, dtype=F64) / n
    w = torch.randn(2 * m, generator=torch.Generator().manual_seed(0), dtype=F64)
    want = 0.5 * ((p_perp @ y).T @ (x @ w) ** 2).pow(2).sum()
    torch.testing.assert_close(energy_reference(g, w), want, rtol=1e-13, atol=0)


@pytest.mark.parametrize("m,k", [(7, 1), (7, 3), (9, 2), (10, 3)])
def test_a_single_frequency_on_both_operands_has_e_equal_m_over_4(m, k):
    """u = cos(kωa + φ)/‖·‖·√½, v likewise with another phase: E = M/4 (Tian's M/16 times 4)."""
    om = 2 * math.pi / m
    u = torch.cos(k * om * torch.arange(m, dtype=F64) + 0.4)
    v = torch.cos(k * om * torch.arange(m, dtype=F64) - 1.1)
    w = torch.cat([u / u.norm(), v / v.norm()]) / math.sqrt(2)
    assert abs(float(energy_reference(cyclic(m), w)) - m / 4) < 1e-12
    assert predicted_maximum(m, 1, "complex") == m / 4 and predicted_maximum(m, 1, "complex", seed_normalization=True) == m / 16


def test_the_alternating_vector_of_even_m_has_e_equal_m_over_2():
    m = 10
    alt = (-1.0) ** torch.arange(m, dtype=F64)
    w = torch.cat([alt, alt]) / math.sqrt(2 * m)
    assert abs(float(energy_reference(cyclic(m), w)) - m / 2) < 1e-12  # Tian's M/8 times 4


def _check_theorem_2(result, m: int):
    assert sum(mx.count for mx in result.maxima) == result.starts and result.converged == result.starts
    for mx in result.maxima:
        assert mx.purity_min > 0.999  # every maximum lies in one irrep (or complex pair): "single frequency"
        assert mx.predicted is not None and abs(mx.energy_min / mx.predicted - 1) < 1e-4
        assert abs(mx.energy_max / mx.predicted - 1) < 1e-4
        assert mx.predicted_seed == mx.predicted / 4


def test_corollary_2_odd_m_every_maximum_is_single_frequency_at_m_over_4():
    m = 15
    r = ascend(cyclic(m), starts=600, seed=1)
    _check_theorem_2(r, m)
    assert {mx.label for mx in r.maxima} == {f"k=±{k}" for k in range(1, 8)}  # every frequency is reached
    assert all(mx.kind == "complex" and mx.predicted == m / 4 for mx in r.maxima)


def test_corollary_2_even_m_the_alternating_vector_is_the_maximum_at_m_over_2():
    m = 10
    r = ascend(cyclic(m), starts=600, seed=2)
    _check_theorem_2(r, m)
    top = r.maxima[0]
    assert (top.label, top.kind, top.predicted) == ("k=5", "real", m / 2)
    assert {mx.label for mx in r.maxima[1:]} == {f"k=±{k}" for k in range(1, 5)}


@pytest.mark.parametrize("spec,want", [
    ("symmetric:3", {("ρ1", 1): 3.0, ("ρ2", 2): 1.5}),  # M/(2 d_k): Tian's M/(8 d_k) times 4
    ("dihedral:5", {("ρ1", 1): 5.0, ("ρ2", 2): 2.5, ("ρ3", 2): 2.5}),
    ("symmetric:4", {("ρ1", 1): 12.0, ("ρ2", 2): 6.0, ("ρ3", 3): 4.0, ("ρ4", 3): 4.0}),
])
def test_theorem_2_non_abelian_groups_have_maxima_m_over_2_dk_in_each_real_irrep(spec, want):
    g = parse_group(spec)
    r = ascend(g, starts=800, seed=0)
    _check_theorem_2(r, g.order)
    assert {(mx.label, mx.dim): mx.predicted for mx in r.maxima} == want


def test_ascent_is_reproducible_from_its_seed_and_serializes():
    g = cyclic(11)
    a, b = ascend(g, starts=50, seed=7), ascend(g, starts=50, seed=7)
    assert torch.equal(a.w, b.w) and a.maxima == b.maxima
    assert not torch.equal(a.w, ascend(g, starts=50, seed=8).w)
    d = json.loads(json.dumps(a.to_dict()))
    assert d["group"] == "Z_11" and sum(m["count"] for m in d["maxima"]) == 50 and "4x Tian's" in d["normalization"]


@pytest.mark.parametrize("kwargs,match", [(dict(act="tanh"), "act='tanh'"), (dict(starts=0), "starts=0"),
                                          (dict(lr=0.0), "lr=0.0"), (dict(max_steps=0), "max_steps=0")])
def test_bad_ascent_settings_are_one_line(kwargs, match):
    with pytest.raises(ConfigError) as err:
        ascend(cyclic(5), **kwargs)
    assert match in str(err.value) and "\n" not in str(err.value)
