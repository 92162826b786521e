"""Li2 training the reference code's way: Adam on W, the top layer V at its ridge solution every step.

Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking", and
its code (facebookresearch/luckmatters, ``ssl/real-dataset/cogo/modular_addition_simple2.py``,
option ``set_weight_reg``): every forward pass replaces V by the ridge solution with regularizer
η, ``V = (FᵀF + ηI)⁻¹FᵀY``, and Adam (with L2 weight decay) trains W. Tian's η — the
coefficient whose value 0 stops feature learning in Lemma 1 and whose value 2e-4 groks in the
Figure 3 setting — is this ridge coefficient on V, not Adam's weight decay.

Here, every step (full batch, float64):

    V ← V_ridge(W) = (F̃ᵀF̃ + ηI)⁻¹F̃ᵀỸ           (``ridge_top``: rows centred, P₁^⊥, as in Stage I)
    g ← (2/n) ∂J/∂W |_V                          (J the mean-centred MSE of ``li2_objective``)
    W ← Adam(W, g, lr, weight_decay)             (``torch.optim.Adam``: L2 decay added to g)

The factor 2/n makes g the gradient of the per-sample mean squared error, the reference's loss
scale, so that Adam's weight decay (reference default 1e-4) weighs the same against it. Two
differences from the reference, on purpose: F and Y are centred over the rows (Tian's P₁^⊥;
the reference subtracts 1/M from the one-hot targets and leaves F uncentred) and V is solved
exactly rather than through an SVD. Held-out predictions use the intercept the centring implies,
``ŷ = ȳ + (σ(xW) − f̄)V``. Checkpoints of W are kept for :func:`network_stages`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from grokscope._json import jsonable
from grokscope.groups import FiniteGroup
from grokscope.validate import check_choice, check_int, check_number, check_seed

from ._empirical import _DERIVS, all_pairs, sample_pairs
from ._energy import ACTS
from ._stage1 import backprop_gradient, centre_rows, hidden_features

__all__ = ["AdamRun", "train_ridge_adam"]


@dataclass(frozen=True)
class AdamRun:
    """One run of :func:`train_ridge_adam` (``to_dict()`` for JSON, without the checkpoints)."""

    group: str
    order: int
    fraction: float
    n_train: int
    hidden: int
    act: str
    eta: float  # ridge coefficient on V (Tian's η)
    lr: float
    weight_decay: float  # Adam's L2 decay on W
    seed: int
    records: tuple[dict, ...]  # step, train/test accuracy and loss, ‖G_F‖/√K, cos(G_F, ỸỸᵀF), ‖W‖
    seconds: float
    checkpoints: tuple[tuple[int, Tensor, Tensor], ...] = field(repr=False, default=())  # (step, W_a, W_b)

    def to_dict(self) -> dict:
        return jsonable({k: v for k, v in self.__dict__.items() if k != "checkpoints"})


def _check_settings(act: str, eta: float, lr: float, weight_decay: float, steps: int, eval_every: int,
                    hidden: int) -> tuple[str, float, float, float, int, int, int]:
    """The training settings :func:`train_ridge_adam` and ``train_ridge_adam_ensemble`` share, checked
    once for both (one ``ConfigError`` line each) and returned in the order given."""
    return (check_choice(act, "act", tuple(ACTS)), check_number(eta, "eta", lo=0.0),
            check_number(lr, "lr", lo=0.0, lo_open=True), check_number(weight_decay, "weight_decay", lo=0.0),
            check_int(steps, "steps", 0), check_int(eval_every, "eval_every", 1), check_int(hidden, "hidden", 1))


def _accuracy(w_a, w_b, v, y_bar, f_bar, a, b, c, act) -> float:
    _, f = hidden_features(w_a, w_b, a, b, act)
    return float(((y_bar + (f - f_bar) @ v).argmax(1) == c).double().mean())


def train_ridge_adam(group: FiniteGroup, *, fraction: float = 0.4, hidden: int = 512, act: str = "x2",
                     eta: float = 2e-4, lr: float = 1e-3, weight_decay: float = 1e-4, steps: int = 1000,
                     eval_every: int = 50, seed: int = 0) -> AdamRun:
    """Train W with Adam under the ridge top layer; records and W checkpoints every ``eval_every`` steps.

    Defaults: Tian's Figure 3 setting (40% of the pairs, σ = x², η = 2e-4) with the reference
    code's ``hidden_size`` 512, Adam ``learning_rate`` 1e-3 and ``weight_decay`` 1e-4
    (``config/dyn_madd.yaml``). The init is the ``li2`` model's (W ~ N(0, 1/(3M)), ``nn.Linear``'s
    variance) from ``seed``, which also draws the training pairs.

    >>> from grokscope.groups import cyclic
    >>> run = train_ridge_adam(cyclic(7), fraction=0.6, hidden=16, steps=4, eval_every=2)
    >>> [r["step"] for r in run.records], len(run.checkpoints)
    ([0, 2, 4], 3)
    """
    from grokscope.models._li2 import Li2, Li2Config

    act, eta, lr, weight_decay, steps, eval_every, hidden = _check_settings(act, eta, lr, weight_decay, steps,
                                                                            eval_every, hidden)
    fraction = check_number(fraction, "fraction", lo=0.0, hi=1.0, lo_open=True)
    seed = check_seed(seed)
    m = group.order
    pairs = sample_pairs(group, fraction, seed)
    a, b = pairs[:, 0], pairs[:, 1]
    c = group.table[a, b]
    n = len(c)
    is_train = torch.zeros(m * m, dtype=torch.bool)
    is_train[a * m + b] = True
    test = all_pairs(group)[~is_train]
    ta, tb = test[:, 0], test[:, 1]
    tc = group.table[ta, tb]
    y = F.one_hot(c, m).to(torch.float64)  # [n, M]
    yt = centre_rows(y)
    net = Li2(Li2Config(p=m, d_hidden=hidden, act=act), dtype=torch.float64).init_(seed=seed)
    w = torch.cat([net.mlp.W_in_a.detach(), net.mlp.W_in_b.detach()], 0).clone()  # [2M, K]
    opt = torch.optim.Adam([w], lr=lr, weight_decay=weight_decay)
    records, checkpoints = [], []
    t0 = time.perf_counter()
    for step in range(steps + 1):
        w_a, w_b = w.detach()[:m], w.detach()[m:]
        z, f = hidden_features(w_a, w_b, a, b, act)  # [n, K]
        g_f, v = backprop_gradient(f, y, eta)  # [n, K], [K, M]
        if step % eval_every == 0 or step == steps:
            y_bar, f_bar = y.mean(0), f.mean(0)
            res = yt - centre_rows(f) @ v
            yyf = yt @ (yt.T @ f)
            cos = float((g_f * yyf).sum() / (g_f.norm() * yyf.norm()).clamp_min(1e-300))
            test_acc = _accuracy(w_a, w_b, v, y_bar, f_bar, ta, tb, tc, act) if len(tc) else float("nan")
            records.append({"step": step, "train_acc": float(((y_bar + (f - f_bar) @ v).argmax(1) == c).double().mean()),
                            "test_acc": test_acc, "train_loss": float(res.pow(2).sum() / n),
                            "g_node_rms": float(g_f.norm()) / hidden ** 0.5, "cos_energy": cos,
                            "w_norm": float(w.detach().norm())})
            checkpoints.append((step, w_a.clone(), w_b.clone()))
        if step == steps:
            break
        back = _DERIVS[act](z) * g_f  # −∂J/∂Z [n, K]
        grad = torch.cat([torch.zeros_like(w_a).index_add_(0, a, back),
                          torch.zeros_like(w_b).index_add_(0, b, back)], 0)
        w.grad = -(2.0 / n) * grad
        opt.step()
    return AdamRun(group=group.name, order=m, fraction=fraction, n_train=n, hidden=hidden, act=act, eta=eta, lr=lr,
                   weight_decay=weight_decay, seed=seed, records=tuple(records), seconds=time.perf_counter() - t0,
                   checkpoints=tuple(checkpoints))
