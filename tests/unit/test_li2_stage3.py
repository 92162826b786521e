"""Li2 Stage III (Theorem 7): the modified energy E_S with a learned set S of irreps, checked against
its closed form and the definition, and where its maxima land (none in S)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grokscope.errors import ConfigError
from grokscope.groups import cyclic, irreps, parse_group
from grokscope.li2 import ModifiedEnergy, learned_nodes, resolve_components, stage_three
from grokscope.li2._empirical import all_pairs


def _closed_form_cyclic(m: int, learned: set[int], w: np.ndarray) -> np.ndarray:
    """Theorem 7's E_S for Z_M and σ = x² by an explicit DFT: (2/M) Σ_{k ∉ ±S, k ≠ 0} |U_k|² |V_k|²."""
    g = np.arange(m)
    out = np.zeros(w.shape[0])
    for k in range(1, m):
        if min(k, m - k) in learned:
            continue
        basis = np.exp(-2j * math.pi * k * g / m)
        out += np.abs(w[:, :m] @ basis) ** 2 * np.abs(w[:, m:] @ basis) ** 2
    return 2.0 / m * out


def test_theorem_form_matches_the_dft_closed_form_on_z11():
    g = cyclic(11)
    comps = resolve_components(g, [1, 4])
    e = ModifiedEnergy.from_irreps(g, comps)
    w = torch.randn(20, 22, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    np.testing.assert_allclose(e(w).numpy(), _closed_form_cyclic(11, {1, 4}, w.numpy()), rtol=1e-10)


@pytest.mark.parametrize("act", ["x2", "relu", "silu"])
def test_value_and_gradient_equal_the_definition_by_autograd_one_sample_at_a_time(act):
    g = parse_group("dihedral:3")
    m = g.order
    pairs = all_pairs(g)[::2]  # a subset of rows
    res = torch.randn(len(pairs), m, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    e = ModifiedEnergy(g, pairs, res, act)
    x = torch.cat([F.one_hot(pairs[:, 0], m), F.one_hot(pairs[:, 1], m)], 1).double()  # [n, 2M]
    sigma = {"x2": lambda z: z * z, "relu": torch.relu, "silu": F.silu}[act]
    w = torch.randn(5, 2 * m, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    val, grad = e.value_and_grad(w)
    for i in range(5):
        wi = w[i].clone().requires_grad_(True)
        ref = 0.5 * (res.T @ sigma(x @ wi)).pow(2).sum()
        (gi,) = torch.autograd.grad(ref, wi)
        assert torch.allclose(val[i], ref.detach(), rtol=1e-12)
        assert torch.allclose(grad[i], gi, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("spec,learned", [("cyclic:15", [1, 4, 7]), ("dihedral:5", ["ρ2"]), ("symmetric:4", ["ρ3"])])
def test_frozen_nodes_leave_exactly_the_missing_irreps_of_the_target(spec, learned):
    """Theorem 7's G_F structure: the ridge residual of nodes learned on S is Ỹ(I − P_S)."""
    g = parse_group(spec)
    comps = resolve_components(g, learned)
    got = ModifiedEnergy.from_nodes(g, learned_nodes(g, comps, seed=3)).residual
    want = ModifiedEnergy.from_irreps(g, comps).residual
    assert float((got - want).norm() / want.norm()) < 1e-6
    # and the target has lost a real part: the learned components' share of ‖Ỹ‖² is Σ_{k∈S} d_k² / (M − 1)
    table = irreps(g)
    dims = [table.irreps[table.components[c][0]].dim ** 2 * len(table.components[c]) for c in comps]
    y_norm2 = g.order * (g.order - 1)  # ‖Ỹ‖² = M²(1 − 1/M)
    assert math.isclose(1 - float(want.pow(2).sum()) / y_norm2, sum(dims) / (g.order - 1), rel_tol=1e-9)


def test_a_thin_ridge_on_the_nodes_tends_to_the_projection():
    g = cyclic(9)
    comps = resolve_components(g, [2])
    nodes = learned_nodes(g, comps, seed=0)
    want = ModifiedEnergy.from_irreps(g, comps).residual
    errs = [float((ModifiedEnergy.from_nodes(g, nodes, eta=eta).residual - want).norm()) for eta in (1e-2, 1e-4)]
    assert errs[1] < errs[0] / 50  # the ridge residual is O(η) away from P^⊥Ỹ


@pytest.mark.parametrize("spec,learned,expect", [
    ("cyclic:15", [1, 2, 3], {"k=±4": 3.75, "k=±5": 3.75, "k=±6": 3.75, "k=±7": 3.75}),
    ("dihedral:5", ["ρ2"], {"ρ1": 5.0, "ρ3": 2.5}),
    ("symmetric:4", ["ρ2"], {"ρ1": 12.0, "ρ3": 4.0, "ρ4": 4.0}),
])
def test_maxima_of_e_s_land_only_on_missing_irreps_at_theorem_2_energies(spec, learned, expect):
    r = stage_three(parse_group(spec), learned, starts=300, seed=0)
    assert r.landed_in_learned == 0 and r.converged == 300
    assert {m.label: round(m.energy, 4) for m in r.maxima} == expect  # Theorem 2's E* (this normalization)
    assert sum(m.count for m in r.maxima) == 300 and r.missing_reached == r.missing_total == len(expect)
    assert r.residual_vs_theorem < 1e-6


def test_without_the_learned_nodes_the_same_starts_do_reach_s():
    """The count above can fail: plain E (S empty) sends a share of the same starts into S."""
    g = cyclic(15)
    comps = resolve_components(g, [1, 2, 3])
    from grokscope.li2 import ascend, random_sphere

    r = ascend(g, starts=300, seed=1, dtype=torch.float64, w0=random_sphere(300, 30, 1, torch.float64))
    in_s = sum(m.count for m in r.maxima if m.label in {"k=±1", "k=±2", "k=±3"})
    assert 0.2 < in_s / 300 < 0.6  # 3 of 7 frequencies
    assert len(comps) == 3


def test_bad_learned_sets_are_one_line_errors():
    with pytest.raises(ConfigError, match="non-trivial"):
        resolve_components(cyclic(9), [0])
    with pytest.raises(ConfigError, match="ρ1, ρ2, ρ3"):
        resolve_components(parse_group("dihedral:5"), ["3"])
    with pytest.raises(ConfigError, match="ρ7"):
        resolve_components(parse_group("symmetric:3"), ["ρ7"])
