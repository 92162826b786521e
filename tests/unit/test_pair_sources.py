"""PAIR's notebooks (PAIR-code/ai-explorables, server-side/grokking) against what grokscope draws and
optimizes: haiku's initializers, and the cross-entropy averaged over the classes (``train.loss_scale``)."""

from __future__ import annotations

import math

import torch

from grokscope import load_config
from grokscope.models import PairMLP, PairMLPConfig
from grokscope.models._common import ParamSpec, draw_init
from grokscope.train import train


def test_truncated_draw_is_haikus_truncated_normal():
    w = draw_init([ParamSpec("W", (400, 500), std=0.5, dist="truncated")], seed=0, scale=1.0)["W"]
    assert float(w.abs().max()) <= 2 * 0.5  # cut at two stddevs
    # N(0, 1) restricted to [-2, 2] has std 0.8796 (haiku's VarianceScaling divides it out)
    assert abs(float(w.std()) - 0.5 * 0.87962566) < 0.005
    assert abs(float(w.mean())) < 0.005


def test_pair_init_has_the_notebooks_scales():
    cfg = PairMLPConfig(p=67, d_embed=500, d_hidden=24, init="pair")
    w = {k: v.detach() for k, v in PairMLP(cfg, dtype=torch.float64).init_(seed=0).named_parameters()}
    # VarianceScaling(2.0), fan_in = 67 rows: std sqrt(2/67); hk.Linear: TruncatedNormal(1/sqrt(fan_in)) -> 0.88/sqrt(fan_in)
    assert abs(float(w["embed.W_E"].std()) / math.sqrt(2 / 67) - 1) < 0.02
    assert abs(float(w["mlp.W_in"].std()) / (0.87962566 / math.sqrt(500)) - 1) < 0.05
    assert abs(float(w["mlp.W_out"].std()) / (0.87962566 / math.sqrt(24)) - 1) < 0.02


def test_loss_scale_scales_the_objective_not_the_metrics():
    # With plain SGD one update is -lr * scale * grad: scale 0.5 at lr 2e-2 equals scale 1 at lr 1e-2.
    base = ["train.steps=1", "n_members=2", "task.p=11", "optim.name=sgd", "optim.weight_decay=0",
            "optim.warmup_steps=0", "log.n_checkpoints=2", "dtype=float64"]
    a = train(load_config(preset="pair-mod67", overrides=base + ["optim.lr=2e-2", "train.loss_scale=0.5"]))
    b = train(load_config(preset="pair-mod67", overrides=base + ["optim.lr=1e-2"]))
    for k in ("train_loss", "test_loss"):
        torch.testing.assert_close(torch.as_tensor(a.metrics[k]), torch.as_tensor(b.metrics[k]), rtol=1e-12, atol=0)
