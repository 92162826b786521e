"""Li2 training with a ridge top layer: full-batch gradient descent on ``J*(W) = min_V J(W, V)``.

Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking": the
stages are read off the back-propagated gradient G_F while W trains under a top layer that is
always at its ridge solution (Stage I's V_ridge). This loop does exactly that, on its own (the
trainer in ``grokscope.train`` has one weight decay for all parameters and no solved layer):

    every step:  V ← V_ridge(W) = (F̃ᵀF̃ + ηI)⁻¹F̃ᵀỸ
                 W ← W − lr · (−Xᵀ(σ'(XW) ∘ G_F) + η_W W)      (= W − lr ∇_W J*(W), envelope theorem)

with the mean-centred MSE over the training rows and weight decay per layer (η on V, η_W on W);
plain gradient descent, so the run is the theory's gradient flow discretized. Every
``eval_every`` steps it records the Stage I quantities of :func:`stage_one`, the held-out
accuracy and the hidden nodes' irrep purity.

Held-out predictions use the intercept the centring implies: ``ŷ = ȳ + (σ(xW) − f̄)V`` with ȳ,
f̄ the training means of the targets and features.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from grokscope._json import jsonable
from grokscope.groups import FiniteGroup, irrep_shares
from grokscope.validate import check_choice, check_int, check_number, check_seed

from ._empirical import _DERIVS, EmpiricalEnergy, all_pairs, sample_pairs
from ._energy import ACTS
from ._stage1 import backprop_gradient, hidden_features, stage_one

__all__ = ["Li2Run", "ridge_gradient_step", "train_ridge"]


def ridge_gradient_step(w_a: Tensor, w_b: Tensor, energy: EmpiricalEnergy, eta: float, eta_w: float,
                        lr: float) -> tuple[Tensor, Tensor, Tensor]:
    """One step ``W ← W − lr ∇J*(W)``; returns ``(W_a, W_b, V_ridge)`` (V at the step's start)."""
    z, f = hidden_features(w_a, w_b, energy.a, energy.b, energy.act)  # [n, K]
    y = F.one_hot(energy.c, energy.m).to(f.dtype)
    g_f, v = backprop_gradient(f, y, eta)
    back = _DERIVS[energy.act](z) * g_f  # −∂J/∂Z
    new_a = w_a + lr * (torch.zeros_like(w_a).index_add_(0, energy.a, back) - eta_w * w_a)
    new_b = w_b + lr * (torch.zeros_like(w_b).index_add_(0, energy.b, back) - eta_w * w_b)
    return new_a, new_b, v


@dataclass(frozen=True)
class Li2Run:
    """One run of :func:`train_ridge`: the settings and one record per evaluation (``to_dict()`` for JSON)."""

    group: str
    order: int
    fraction: float
    n_train: int
    hidden: int
    act: str
    eta: float
    eta_w: float
    lr: float
    seed: int
    records: tuple[dict, ...]  # step, train/test accuracy, Stage I quantities, node purity, ‖W‖
    seconds: float

    def to_dict(self) -> dict:
        return jsonable(self.__dict__)


def _evaluate(group, energy, w_a, w_b, eta, test_pairs) -> dict:
    s = stage_one(w_a, w_b, energy, eta)
    _, f = hidden_features(w_a, w_b, energy.a, energy.b, energy.act)
    y = F.one_hot(energy.c, energy.m).to(f.dtype)
    _, v = backprop_gradient(f, y, eta)
    y_bar, f_bar = y.mean(0), f.mean(0)
    train_acc = float(((y_bar + (f - f_bar) @ v).argmax(1) == energy.c).double().mean())
    if len(test_pairs):
        ta, tb = test_pairs[:, 0], test_pairs[:, 1]
        _, ft = hidden_features(w_a, w_b, ta, tb, energy.act)
        test_acc = float(((y_bar + (ft - f_bar) @ v).argmax(1) == group.table[ta, tb]).double().mean())
    else:
        test_acc = float("nan")
    shares = irrep_shares(group, torch.stack([w_a.T, w_b.T], -1))  # per node: [K, components]
    return {"train_acc": train_acc, "test_acc": test_acc, "train_loss": s.train_loss,
            "g_node_rms": s.g_node_rms, "cos_energy": s.cos_energy, "gram_k_offdiag": s.gram_k_offdiag,
            "node_purity": float(shares.shares.max(1).values.mean()),
            "w_norm": float(torch.cat([w_a, w_b]).norm())}


def train_ridge(group: FiniteGroup, *, fraction: float = 0.6, hidden: int = 256, act: str = "x2", eta: float = 1.0,
                eta_w: float = 1e-3, lr: float = 0.05, steps: int = 1000, eval_every: int = 100, seed: int = 0,
                init: tuple[Tensor, Tensor] | None = None) -> tuple[Li2Run, Tensor, Tensor]:
    """Train W by gradient descent on ``J*`` (ridge V each step) from the Li2 init; ``(run, W_a, W_b)``.

    Defaults: σ = x² and the rest measured to grok Z_23 from 60% of the pairs in 1,000 steps
    (docs/li2.md); the init is the ``li2`` model's (W ~ N(0, 1/(3M)), the reference code's
    ``nn.Linear`` variance) from ``seed``, which also draws the training pairs.
    """
    from grokscope.models._li2 import Li2, Li2Config

    act = check_choice(act, "act", tuple(ACTS))
    eta = check_number(eta, "eta", lo=0.0)
    eta_w = check_number(eta_w, "eta_w", lo=0.0)
    lr = check_number(lr, "lr", lo=0.0, lo_open=True)
    steps = check_int(steps, "steps", 0)
    eval_every = check_int(eval_every, "eval_every", 1)
    hidden = check_int(hidden, "hidden", 1)
    seed = check_seed(seed)
    pairs = sample_pairs(group, fraction, seed)
    energy = EmpiricalEnergy(group, pairs, act, rescale=False)
    every = all_pairs(group)
    is_train = torch.zeros(group.order ** 2, dtype=torch.bool)
    is_train[pairs[:, 0] * group.order + pairs[:, 1]] = True
    test_pairs = every[~is_train]
    if init is None:
        net = Li2(Li2Config(p=group.order, d_hidden=hidden, act=act), dtype=torch.float64).init_(seed=seed)
        w_a, w_b = net.mlp.W_in_a.detach().clone(), net.mlp.W_in_b.detach().clone()
    else:
        w_a, w_b = (t.detach().to(torch.float64).clone() for t in init)
    t0 = time.perf_counter()
    records = []
    for step in range(steps + 1):
        if step % eval_every == 0 or step == steps:
            records.append({"step": step, **_evaluate(group, energy, w_a, w_b, eta, test_pairs)})
        if step < steps:
            w_a, w_b, _ = ridge_gradient_step(w_a, w_b, energy, eta, eta_w, lr)
    run = Li2Run(group=group.name, order=group.order, fraction=fraction, n_train=energy.n, hidden=hidden, act=act,
                 eta=eta, eta_w=eta_w, lr=lr, seed=seed, records=tuple(records), seconds=time.perf_counter() - t0)
    return run, w_a, w_b
