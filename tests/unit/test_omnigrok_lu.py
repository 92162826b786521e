"""Omnigrok's LU mechanism (grokscope.omnigrok), each piece against a trusted reference:
the fixed-norm projection against the target norms and a plain torch AdamW step; the landscape's
fixed norms against one-member reference models; L/U extraction and the error map on planted data;
the teacher against torch's own nn.Linear/Tanh stack; a student member against a plain torch
AdamW loop; the time law against a planted 1/γ law."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from grokscope.errors import ConfigError
from grokscope.models._feature_mlp import FeatureMLP, FeatureMLPConfig
from grokscope.omnigrok import (
    LandscapePoint,
    LandscapeSpec,
    TeacherStudentConfig,
    error_map,
    first_reach,
    goldilocks,
    landscape_config,
    lu_curves,
    make_teacher,
    run_teacher_student,
    time_law,
)
from grokscope.omnigrok._teacher_student import draw_omnigrok_init, mlp_specs
from grokscope.seeding import member_seed
from grokscope.train import adamw, fixed_norm
from grokscope.train._loop import INIT_STREAM


def test_projection_keeps_each_members_norm_and_the_adamw_direction():
    torch.manual_seed(0)
    m, targets = 3, torch.tensor([0.5, 2.0, 7.0], dtype=torch.float64)
    params = {"W": torch.randn(m, 4, 5, dtype=torch.float64), "b": torch.randn(m, 5, dtype=torch.float64)}
    grads = {k: torch.randn_like(v) for k, v in params.items()}
    start = {k: v.clone() for k, v in params.items()}
    opt = adamw(1e-2, weight_decay=0.0, project=fixed_norm(targets))
    opt.step(params, grads, opt.init(params))
    for i in range(m):
        flat = torch.cat([params["W"][i].reshape(-1), params["b"][i]])
        assert float(flat.norm()) == pytest.approx(float(targets[i]), rel=1e-12)
        # Reference: torch.optim.AdamW on member i alone, then rescaled by hand.
        ref = [start["W"][i].clone().requires_grad_(), start["b"][i].clone().requires_grad_()]
        ref[0].grad, ref[1].grad = grads["W"][i].clone(), grads["b"][i].clone()
        torch.optim.AdamW(ref, lr=1e-2, weight_decay=0.0).step()
        r = torch.cat([ref[0].detach().reshape(-1), ref[1].detach()])
        torch.testing.assert_close(flat, r * targets[i] / r.norm(), rtol=1e-12, atol=1e-12)


def test_landscape_fixes_each_member_at_its_reference_initial_norm():
    spec = LandscapeSpec(alphas=(0.3, 3.0), train_counts=(20, 40), n_seeds=2, steps=1, overrides=("model.width=6",))
    cfg = landscape_config(spec)
    assert cfg.n_members == 8 and len(cfg.optim.project_norm) == 8
    for i, (a, n, s) in enumerate(spec.grid()):
        assert cfg.model["init_scale"][i] == a and cfg.task["train_count"][i] == n and cfg.member_seeds[i] == s
        ref = FeatureMLP(FeatureMLPConfig(d_in=64, n_classes=10, width=6)).double().init_(member_seed(s, INIT_STREAM), a)
        norm = math.sqrt(sum(float(p.detach().pow(2).sum()) for p in ref.parameters()))
        assert cfg.optim.project_norm[i] == pytest.approx(norm, rel=1e-6)


def test_landscape_bad_input_is_one_config_error():
    with pytest.raises(ConfigError):
        LandscapeSpec(alphas=(0.0,))
    with pytest.raises(ConfigError):
        LandscapeSpec(n_seeds=0)
    with pytest.raises(ConfigError, match="train_count"):
        landscape_config(LandscapeSpec(alphas=(1.0,), train_counts=(5000,), n_seeds=1, overrides=("model.width=4",)))


def _point(a, n, s, norm, train_loss, test_loss, test_acc):
    return LandscapePoint(a, n, s, norm, train_loss, test_loss, 1.0, test_acc, test_loss, test_acc)


def test_lu_curves_on_a_planted_u_recover_the_goldilocks_norm():
    # Norm w = 10·α; planted train loss 1/w² (an L) and test loss (log w − log 10·α*)² + 0.1 + seed noise (a U).
    alphas, a_star = [0.1, 0.3, 1.0, 3.0, 10.0], 1.0
    pts = [_point(a, n, s, 10 * a, 1 / (10 * a) ** 2, math.log(a / a_star) ** 2 + 0.1 + 0.01 * (s - 1) + 0.001 * n,
                  1 - 0.1 * abs(math.log10(a)))
           for a in reversed(alphas) for n in (50, 100) for s in range(3)]
    curves = lu_curves(pts)
    assert [c.n_train for c in curves] == [50, 100]
    c = curves[0]
    np.testing.assert_allclose(c.norm, [1, 3, 10, 30, 100])  # ordered by norm
    np.testing.assert_allclose(c.train_loss, [1 / (10 * a) ** 2 for a in alphas])
    np.testing.assert_allclose(c.test_loss, [math.log(a) ** 2 + 0.1 + 0.05 for a in alphas])  # seed noise averages out
    np.testing.assert_allclose(c.test_loss_std, np.std([-0.01, 0.0, 0.01]))
    g = goldilocks(c)
    assert (g.alpha, g.norm, g.interior) == (1.0, 10.0, True)
    # A monotone test loss has its minimum at the end of the range: no zone seen.
    mono = [_point(a, 50, 0, 10 * a, 0.0, 1 / a, 0.5) for a in alphas]
    assert goldilocks(lu_curves(mono)[0]).interior is False
    emap = error_map(pts)
    assert emap.test_error.shape == (5, 2)
    np.testing.assert_allclose(emap.test_error[:, 0], [0.1 * abs(math.log10(a)) for a in alphas], atol=1e-12)


def _torch_mlp(params, i):
    """Member i as torch's own nn.Linear/Tanh stack (the reference)."""
    layers = []
    for k in range(3):
        W = params[f"W{k}"][i]
        lin = torch.nn.Linear(W.shape[0], W.shape[1]).to(W.dtype)
        with torch.no_grad():
            lin.weight.copy_(W.T)
            lin.bias.copy_(params[f"b_{k}"][i])
        layers += [lin] + ([torch.nn.Tanh()] if k < 2 else [])
    return torch.nn.Sequential(*layers)


def test_teacher_is_deterministic_from_its_seed_and_is_torchs_tanh_mlp():
    cfg = TeacherStudentConfig(width=16, dtype="float64")
    t1, t2 = make_teacher(cfg), make_teacher(cfg)
    for k in t1.params:
        assert torch.equal(t1.params[k], t2.params[k])
    assert torch.equal(t1.x_train, t2.x_train) and torch.equal(t1.y_test, t2.y_test)
    other = make_teacher(TeacherStudentConfig(width=16, dtype="float64", teacher_seed=1))
    assert not torch.equal(t1.params["W0"], other.params["W0"]) and not torch.equal(t1.x_train, other.x_train)
    assert t1.x_train.shape == (100, 5) and t1.y_train.shape == (100, 5) and not torch.equal(t1.x_train, t1.x_test)
    bound = 1 / math.sqrt(5)  # nn.Linear's default draw: U(±1/√fan_in), weights and biases
    assert float(t1.params["W0"].abs().max()) <= bound and float(t1.params["b_0"].abs().max()) <= bound
    with torch.no_grad():
        torch.testing.assert_close(_torch_mlp(t1.params, 0)(t1.x_train), t1.y_train, rtol=1e-12, atol=1e-12)


def test_student_member_equals_a_plain_torch_adamw_loop():
    cfg = TeacherStudentConfig(width=12, weight_decays=(0.1, 0.7), n_seeds=1, steps=6, eval_every=3, dtype="float64")
    r = run_teacher_student(cfg)
    teacher = make_teacher(cfg)
    init = draw_omnigrok_init(mlp_specs(5, 12, 5), member_seed(0, 1), cfg.student_alpha, True)
    net = _torch_mlp({k: v[None] for k, v in init.items()}, 0)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=0.7)
    losses = []
    for step in range(7):
        loss = (net(teacher.x_train) - teacher.y_train).pow(2).mean()
        if step % 3 == 0:
            losses.append(float(loss.detach()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(r.train_loss[:, 1], losses, rtol=1e-10)
    assert r.train_loss.shape == (3, 2) and list(r.weight_decay) == [0.1, 0.7]


def test_first_reach_and_time_law_recover_a_planted_inverse_law():
    steps = np.arange(0, 1001, 10)
    acc = np.stack([np.clip(steps / t, 0, 1) for t in (200.0, 400.0)], axis=1)  # reaches 1 at t
    np.testing.assert_array_equal(first_reach(steps, acc, 1.0), [200.0, 400.0])
    # Three students per γ, off the law by factors e^-0.1, 1, e^0.1: least squares on log t is exact.
    g = np.repeat([0.05, 0.1, 0.2, 0.4, 0.8], 3)
    t = 30.0 / g * np.exp(np.tile([-0.1, 0.0, 0.1], 5))
    f = time_law(g, t, n_boot=300, seed=0)
    assert f.params["g"].value == pytest.approx(1.0, abs=1e-9) and f.params["a"].value == pytest.approx(30.0, rel=1e-9)
    assert f.params["g"].lo < 1.0 < f.params["g"].hi
    with pytest.raises(ConfigError):
        time_law([0.1, 0.1], [5.0, np.nan], n_boot=0)


def test_landscape_preset_matches_omnigroks_landscape_notebook():
    # mnist/landscape/mnist-landscape.ipynb: MLP 2x200 ReLU, MSE, AdamW lr 1e-3 with no weight decay,
    # minibatches of 100, the norm held at its initial value by the runner (0 in the preset itself).
    from grokscope import load_config

    c = load_config(preset="omnigrok-digits-landscape")
    assert (c.model["arch"], c.model["width"], c.model["depth"], c.model["act"]) == ("feature_mlp", 200, 2, "relu")
    assert (c.train.loss, c.train.batch_size, c.optim.name, c.optim.lr, c.optim.weight_decay) == ("mse", 100, "adamw", 1e-3, 0.0)
    assert c.optim.project_norm == 0.0 and c.task["kind"] == "digits"
