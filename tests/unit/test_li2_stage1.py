"""Li2's Stage I (Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of
Grokking"): the ridge top layer, the back-propagated gradient G_F and its link to the energy, each
against a trusted reference — Tian's closed forms with explicit matrix inverses, torch autograd
of the mean-centred MSE written out with explicit X and P₁^⊥, and Tian's Lemma 1."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from grokscope.groups import dihedral, parse_group
from grokscope.li2 import (
    EmpiricalEnergy,
    Energy,
    all_pairs,
    backprop_gradient,
    hidden_features,
    li2_objective,
    ridge_gradient_step,
    ridge_top,
    sample_pairs,
    stage_one,
    stage_one_grid,
    train_ridge,
)

F64 = torch.float64
ACT = {"x2": lambda z: z * z, "relu": F.relu, "silu": F.silu}


def _setup(spec="cyclic:7", fraction=0.6, k=5, seed=0):
    g = parse_group(spec)
    pairs = sample_pairs(g, fraction, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    w = torch.randn(2, g.order, k, generator=gen, dtype=F64) / g.order ** 0.5
    return g, pairs, w[0], w[1]


def _explicit(g, pairs):
    """X [n, 2M], Y [n, M] and P₁^⊥ [n, n] as matrices."""
    n, m = pairs.shape[0], g.order
    x = torch.cat([F.one_hot(pairs[:, 0], m), F.one_hot(pairs[:, 1], m)], 1).to(F64)
    y = F.one_hot(g.table[pairs[:, 0], pairs[:, 1]], m).to(F64)
    p = torch.eye(n, dtype=F64) - torch.ones(n, n, dtype=F64) / n
    return x, y, p


@pytest.mark.parametrize("k", [4, 40])  # fewer and more hidden nodes than training rows (n = 29)
@pytest.mark.parametrize("eta", [1e-3, 0.5, 20.0])
def test_ridge_and_g_f_are_the_seeds_closed_forms(k, eta):
    g, pairs, w_a, w_b = _setup(k=k)
    x, y, p = _explicit(g, pairs)
    f = (x @ torch.cat([w_a, w_b])).pow(2)  # [n, K]
    ft, yt = p @ f, p @ y
    n = f.shape[0]
    v_seed = torch.linalg.inv(ft.T @ ft + eta * torch.eye(k, dtype=F64)) @ ft.T @ yt
    g_seed = (eta * torch.linalg.inv(ft @ ft.T + eta * torch.eye(n, dtype=F64)) @ yt @ yt.T @ ft
              @ torch.linalg.inv(ft.T @ ft + eta * torch.eye(k, dtype=F64)))
    g_f, v = backprop_gradient(f, y, eta)
    torch.testing.assert_close(ridge_top(f, y, eta), v_seed, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(v, v_seed, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(g_f, g_seed, rtol=1e-8, atol=1e-11)
    # and G_F = −∂J/∂F at V_ridge, J = ½‖P(Y − FV)‖² + η/2‖V‖², by autograd with F a leaf
    f_leaf = f.clone().requires_grad_(True)
    j = 0.5 * (p @ (y - f_leaf @ v_seed)).pow(2).sum() + 0.5 * eta * v_seed.pow(2).sum()
    (dj_df,) = torch.autograd.grad(j, f_leaf)
    torch.testing.assert_close(-dj_df, g_seed, rtol=1e-8, atol=1e-11)


@pytest.mark.parametrize("act", ["x2", "relu", "silu"])
@pytest.mark.parametrize("k", [3, 50])
def test_w_gradient_under_the_ridge_top_is_the_envelope_gradient(act, k):
    """∂J/∂W at V = V_ridge (fixed) = ∇_W min_V J (V_ridge differentiated through) = −Xᵀ(σ'(XW) ∘ G_F) + η_W W."""
    spec, eta, eta_w = "dihedral:4", 0.3, 0.05
    g, pairs, w_a, w_b = _setup(spec, 0.5, k, seed=2)
    a, b, c = pairs[:, 0], pairs[:, 1], g.table[pairs[:, 0], pairs[:, 1]]
    wa, wb = w_a.clone().requires_grad_(True), w_b.clone().requires_grad_(True)
    f = ACT[act](wa[a] + wb[b])
    y = F.one_hot(c, g.order).to(F64)
    v_live = ridge_top(f, y, eta)  # differentiable in W
    ga_env, gb_env = torch.autograd.grad(li2_objective(wa, wb, v_live, a, b, c, act, eta, eta_w), (wa, wb))
    v_fixed = v_live.detach()
    ga, gb = torch.autograd.grad(li2_objective(wa, wb, v_fixed, a, b, c, act, eta, eta_w), (wa, wb))
    torch.testing.assert_close(ga_env, ga, rtol=1e-7, atol=1e-10)
    torch.testing.assert_close(gb_env, gb, rtol=1e-7, atol=1e-10)
    # closed form through G_F, one training row at a time
    g_f, _ = backprop_gradient(f.detach(), y, eta)
    z = (w_a[a] + w_b[b]).requires_grad_(True)
    (dsig,) = torch.autograd.grad(ACT[act](z).sum(), z)  # σ'(z) elementwise
    ref_a, ref_b = eta_w * w_a.clone(), eta_w * w_b.clone()
    for i in range(len(a)):
        ref_a[a[i]] -= dsig[i] * g_f[i]
        ref_b[b[i]] -= dsig[i] * g_f[i]
    torch.testing.assert_close(ga, ref_a, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(gb, ref_b, rtol=1e-8, atol=1e-10)


def _energy_grad_reference(g, pairs, w, act):
    """∇Ê(w_j) for every node by autograd of ½‖(P₁^⊥Y)ᵀσ(Xw_j)‖² with explicit matrices: [K, 2M]."""
    x, y, p = _explicit(g, pairs)
    w = w.clone().requires_grad_(True)  # [2M, K]
    e = 0.5 * ((p @ y).T @ ACT[act](x @ w)).pow(2).sum()
    (grad,) = torch.autograd.grad(e, w)
    return grad.T


@pytest.mark.parametrize("act", ["x2", "silu"])
def test_eta_times_backprop_gradient_tends_to_the_energy_gradient(act):
    """η G_F → ỸỸᵀF as η → ∞, so η·(−∂J/∂w_j) → ∇Ê(w_j) node by node, with error O(1/η)."""
    g, pairs, w_a, w_b = _setup("cyclic:9", 0.5, 6, seed=3)
    energy = EmpiricalEnergy(g, pairs, act, rescale=False)
    ref = _energy_grad_reference(g, pairs, torch.cat([w_a, w_b]), act)
    _, closed = energy.value_and_grad(torch.cat([w_a, w_b]).T)
    torch.testing.assert_close(closed, ref, rtol=1e-10, atol=1e-12)
    errs = [stage_one(w_a, w_b, energy, eta).energy_rel_err for eta in (1e4, 1e5, 1e6)]
    assert errs[2] < 1e-4
    assert 8 < errs[0] / errs[1] < 12 and 8 < errs[1] / errs[2] < 12  # first order in 1/η


def test_lemma_1_predictions_at_the_li2_init():
    """No feature learning at η = 0 once the ridge interpolates (K ≥ n), but a nonzero G_F when it
    cannot (K < n); G_F → 0 like 1/η for large η; at large η G_F is parallel to ỸỸᵀF (Stage II)."""
    g = parse_group("cyclic:7")  # n = round(0.5·49) = 24 rows
    rows = stage_one_grid(g, fraction=0.5, hidden=(8, 64), etas=(0.0, 1e3, 1e4))
    by = {(r["k"], r["eta"]): r for r in rows}
    assert by[(64, 0.0)]["g_norm_rel"] < 1e-10 and by[(64, 0.0)]["train_loss"] < 1e-20
    assert by[(8, 0.0)]["g_norm_rel"] > 0.1
    for k in (8, 64):
        ratio = by[(k, 1e3)]["g_norm"] / by[(k, 1e4)]["g_norm"]
        assert 9 < ratio < 11
        assert by[(k, 1e4)]["cos_energy"] > 1 - 1e-6
        # Lemma 1's coefficient η/((Kc₁+η)(nc₂+η)) → 1/η: the prediction becomes exact
        assert by[(k, 1e4)]["lemma1_rel_err"] < 1e-2


@pytest.mark.parametrize("spec", ["cyclic:8", "product:2,3", "dihedral:3"])
@pytest.mark.parametrize("act", ["x2", "relu", "silu"])
def test_full_table_empirical_energy_is_the_stage_two_energy(spec, act):
    g = parse_group(spec)
    w = torch.randn(5, 2 * g.order, generator=torch.Generator().manual_seed(1), dtype=F64)
    e_full, grad_full = EmpiricalEnergy(g, all_pairs(g), act).value_and_grad(w)
    e_ref, grad_ref = Energy(g, act, method="direct", dtype=F64).value_and_grad(w)
    torch.testing.assert_close(e_full, e_ref, rtol=1e-11, atol=1e-11)
    torch.testing.assert_close(grad_full, grad_ref, rtol=1e-10, atol=1e-10)


def test_empirical_energy_on_a_subset_is_the_explicit_formula_and_its_scale():
    g = dihedral(5)
    pairs = sample_pairs(g, 0.3, seed=4)
    w = torch.randn(2 * g.order, 3, generator=torch.Generator().manual_seed(2), dtype=F64)
    x, y, p = _explicit(g, pairs)
    ref = 0.5 * ((p @ y).T @ (x @ w).pow(2)).pow(2).sum(0)
    raw = EmpiricalEnergy(g, pairs, rescale=False)(w.T)
    scaled = EmpiricalEnergy(g, pairs)(w.T)
    torch.testing.assert_close(raw, ref, rtol=1e-11, atol=1e-12)
    torch.testing.assert_close(scaled, ref * (g.order ** 2 / pairs.shape[0]) ** 2, rtol=1e-11, atol=1e-12)


def test_training_sets_are_nested_and_sized():
    g = parse_group("cyclic:11")
    small, big = sample_pairs(g, 0.2, 7), sample_pairs(g, 0.6, 7)
    assert small.shape[0] == round(0.2 * 121) and big.shape[0] == round(0.6 * 121)
    as_set = lambda t: {tuple(r) for r in t.tolist()}
    assert as_set(small) <= as_set(big) and len(as_set(big)) == big.shape[0]
    assert as_set(sample_pairs(g, 1.0, 3)) == as_set(all_pairs(g))


def test_one_training_step_is_gradient_descent_on_j_star():
    """``ridge_gradient_step``: W ← W − lr ∇J*(W), ∇ by autograd through V_ridge(W) (J* = min_V J)."""
    g, pairs, w_a, w_b = _setup("cyclic:7", 0.5, 6, seed=5)
    energy = EmpiricalEnergy(g, pairs, "silu", rescale=False)
    a, b, c = energy.a, energy.b, energy.c
    eta, eta_w, lr = 0.7, 0.02, 0.3
    wa, wb = w_a.clone().requires_grad_(True), w_b.clone().requires_grad_(True)
    _, f = hidden_features(wa, wb, a, b, "silu")
    v = ridge_top(f, F.one_hot(c, g.order).to(F64), eta)
    ga, gb = torch.autograd.grad(li2_objective(wa, wb, v, a, b, c, "silu", eta, eta_w), (wa, wb))
    new_a, new_b, v_step = ridge_gradient_step(w_a, w_b, energy, eta, eta_w, lr)
    torch.testing.assert_close(new_a, w_a - lr * ga, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(new_b, w_b - lr * gb, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(v_step, v.detach(), rtol=1e-10, atol=1e-12)


def test_no_feature_learning_at_eta_zero_once_the_ridge_interpolates():
    """Lemma 1 on a trained run: K ≥ n and η = 0 give G_F = 0 at every step, so W only decays,
    W_T = (1 − lr·η_W)^T W_0 exactly, and the held-out accuracy never moves."""
    g = parse_group("cyclic:7")
    w0 = torch.randn(2, 7, 40, generator=torch.Generator().manual_seed(0), dtype=F64) / 7 ** 0.5
    run, w_a, w_b = train_ridge(g, fraction=0.5, hidden=40, eta=0.0, eta_w=0.01, lr=0.1, steps=30, eval_every=10,
                                init=(w0[0], w0[1]))
    assert run.n_train == 24 <= run.hidden
    decay = (1 - 0.1 * 0.01) ** 30
    torch.testing.assert_close(w_a, decay * w0[0], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(w_b, decay * w0[1], rtol=1e-9, atol=1e-12)
    assert len({r["test_acc"] for r in run.records}) == 1 and all(r["g_node_rms"] < 1e-9 for r in run.records)


@pytest.mark.parametrize("k", [4, 40])
@pytest.mark.parametrize("eta", [0.0, 0.5])
def test_ridge_and_g_f_batched_over_models_are_the_members(k, eta):
    """A leading ``model`` axis: ``[model, n, K]`` features give each member's own V_ridge and G_F."""
    gen = torch.Generator().manual_seed(9)
    f = torch.randn(3, 29, k, generator=gen, dtype=F64)
    y = F.one_hot(torch.randint(0, 7, (3, 29), generator=gen), 7).to(F64)
    g_f, v = backprop_gradient(f, y, eta)
    for i in range(3):
        g_i, v_i = backprop_gradient(f[i], y[i], eta)
        torch.testing.assert_close(v[i], v_i, rtol=1e-9, atol=1e-11)
        torch.testing.assert_close(g_f[i], g_i, rtol=1e-9, atol=1e-11)
