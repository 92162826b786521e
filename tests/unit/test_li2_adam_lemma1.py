"""Lemma 1 under Adam: at η = 0 with K ≥ n the ridge top layer interpolates, G_F = 0, and
``train_ridge_adam`` moves W exactly as ``torch.optim.Adam`` does on the weight-decay gradient alone
(no feature learning); with K < n the least-squares residual is not 0 and W leaves that path."""

from __future__ import annotations

import torch

from grokscope.groups import cyclic
from grokscope.li2 import train_ridge_adam


def _relative_distance_from_pure_decay(hidden: int, steps: int, lr: float = 5e-3, wd: float = 1e-3):
    """``(‖W_T − W_T^decay‖/‖W_T^decay‖, ‖W_T^decay‖/‖W_0‖, run)``: the run against Adam fed only the decay term."""
    run = train_ridge_adam(cyclic(7), fraction=0.6, hidden=hidden, eta=0.0, lr=lr, weight_decay=wd, steps=steps,
                           eval_every=steps)  # n = 29 training pairs
    (_, a0, b0), (_, a1, b1) = run.checkpoints
    w0 = torch.cat([a0, b0])
    w = w0.clone().requires_grad_(True)
    opt = torch.optim.Adam([w], lr=lr, weight_decay=wd)
    for _ in range(steps):
        w.grad = torch.zeros_like(w)  # the loss gradient is G_F-borne: 0 when the ridge interpolates
        opt.step()
    decay = w.detach()
    return float((torch.cat([a1, b1]) - decay).norm() / decay.norm()), float(decay.norm() / w0.norm()), run


def test_eta_0_with_k_at_least_n_is_adam_on_weight_decay_alone():
    dist, shrink, run = _relative_distance_from_pure_decay(hidden=64, steps=100)  # K = 64 >= n = 29
    # Lemma 1 at η = 0: G_F = 0 up to round-off, which grows as W shrinks (V ∝ 1/‖W‖²): 2e-14 at step 0,
    # 1e-8 at step 100, against 4.5 per node with K < n below
    assert all(r["g_node_rms"] < 1e-7 for r in run.records)
    assert shrink < 0.3  # W moved a lot (Adam turns the decay into steps of ~lr per entry) ...
    assert dist < 1e-5  # ... and only by the decay: the G_F-borne gradient is round-off


def test_eta_0_with_k_below_n_learns_from_the_residual():
    dist, _, run = _relative_distance_from_pure_decay(hidden=16, steps=50)  # K = 16 < n = 29
    assert run.records[0]["g_node_rms"] > 1e-2 and dist > 0.1
