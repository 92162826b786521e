"""StableMax and float64 cross-entropy against their closed forms; the collapse metrics against
the float32 arithmetic they are defined by (Prieto et al. 2025, "Grokking at the Edge of Numerical
Stability")."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grokscope.train._collapse import CollapseHook, softmax_collapsed
from grokscope.train._losses import LOSSES, per_example_loss, stablemax_s

F64 = torch.float64


def _s(x: float) -> float:
    return x + 1 if x >= 0 else 1 / (1 - x)


def test_stablemax_loss_is_minus_log_of_s_over_its_sum_written_out_by_hand():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 4, generator=g, dtype=F64) * 3  # [model, batch, C], both signs
    labels = torch.randint(0, 4, (2, 5), generator=g)
    got = per_example_loss(logits, labels, "stablemax")
    for m in range(2):
        for b in range(5):
            s = [_s(float(v)) for v in logits[m, b]]
            want = -math.log(s[int(labels[m, b])] / sum(s))
            assert got[m, b].item() == pytest.approx(want, rel=1e-13, abs=1e-15)
    assert got.dtype == F64


def test_stablemax_s_is_continuous_at_zero_and_its_gradient_is_finite_on_both_sides():
    x = torch.tensor([-1e-12, 0.0, 1e-12, -50.0, 50.0], dtype=F64, requires_grad=True)
    torch.testing.assert_close(stablemax_s(x).detach(), torch.tensor([1 / (1 + 1e-12), 1.0, 1 + 1e-12, 1 / 51, 51.0], dtype=F64))
    stablemax_s(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([1 / (1 + 1e-12) ** 2, 1.0, 1.0, 1 / 51**2, 1.0], dtype=F64))
    logits = torch.randn(1, 3, 4, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: per_example_loss(z, torch.tensor([[0, 1, 3]]), "stablemax"), (logits,))


def test_ce64_is_torch_cross_entropy_in_float64_and_does_not_round_to_zero_where_float32_does():
    logits = torch.tensor([[[20.0, 0.0, 0.0], [1.0, 2.0, 3.0]]])  # float32, [1, 2, 3]
    labels = torch.tensor([[0, 1]])
    got = per_example_loss(logits, labels, "ce64")
    want = F.cross_entropy(logits[0].double(), labels[0], reduction="none")
    assert got.dtype == F64 and torch.equal(got[0], want)
    assert per_example_loss(logits, labels, "ce")[0, 0].item() == 0.0  # float32: 1 + 2e-9 rounds to 1
    assert got[0, 0].item() == pytest.approx(2 * math.exp(-20), rel=1e-6)
    logits.requires_grad_(True)
    per_example_loss(logits, labels, "ce64").sum().backward()
    assert logits.grad.dtype == torch.float32 and bool(logits.grad[0, 0, 1:].gt(0).all())


def test_the_loss_names_and_an_unknown_one():
    assert LOSSES == ("ce", "mse", "ce64", "stablemax")
    with pytest.raises(ValueError, match="must be one of ce, mse, ce64, stablemax"):
        per_example_loss(torch.zeros(1, 1, 2), torch.zeros(1, 1, dtype=torch.long), "hinge")


def test_softmax_collapse_is_the_float32_sum_of_exps_equal_to_one():
    # (a gap of 17 is left out: whether 1 + 2 exp(-17) rounds to 1 depends on the summation order)
    gaps = [30.0, 20.0, 16.0, 10.0, 0.0]
    logits = torch.tensor([[[g, 0.0, 0.0] for g in gaps]], dtype=F64)  # [1, 6, 3]
    want = [np.float32(1) + np.float32(2) * np.exp(np.float32(-g)) == np.float32(1) for g in gaps]
    assert softmax_collapsed(logits)[0].tolist() == [bool(w) for w in want]
    assert want[:2] == [True, True] and want[-2:] == [False, False]


def test_the_collapse_hook_counts_each_members_training_rows_and_ignores_padding():
    # member 0: rows 0-2 real (one collapsed with zero loss, one collapsed but wrong, one not), row 3 padding
    # member 1: all four real, none collapsed
    logits = torch.tensor([[[200.0, 0.0], [0.0, 200.0], [1.0, 0.0], [500.0, 0.0]],
                           [[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 0.5]]])
    labels = torch.tensor([[0, 0, 0, 0], [0, 1, 0, 1]])
    weights = torch.tensor([[1 / 3, 1 / 3, 1 / 3, 0.0], [0.25] * 4])
    data = SimpleNamespace(train_inputs=torch.zeros(2, 4, 1), train_labels=labels, train_weights=weights)
    ctx = SimpleNamespace(model=lambda x: logits, data=data, cfg=SimpleNamespace(train=SimpleNamespace(loss="ce")))
    out = CollapseHook()(0, {}, ctx)
    np.testing.assert_allclose(out["train_softmax_collapse"], [2 / 3, 0.0])
    np.testing.assert_allclose(out["train_zero_loss"], [1 / 3, 0.0])


def test_the_collapse_metrics_are_stored_with_a_runs_metrics_per_member():
    from grokscope.config import load_config
    from grokscope.train import train

    cfg = load_config(preset="pair-mod67", overrides=["task.p=7", "n_members=2", "train.steps=20", "threads=1",
                                                      "model.init_scale=[1.0, 30.0]", "log.n_checkpoints=0"])
    result = train(cfg, store=None, hooks=[CollapseHook()])
    for name in ("train_softmax_collapse", "train_zero_loss"):
        v = result.metrics[name]
        assert v.shape == (len(result.steps), 2) and bool(((v >= 0) & (v <= 1)).all())
    assert result.metrics["train_softmax_collapse"][-1, 1] >= result.metrics["train_softmax_collapse"][-1, 0]


def test_train_collapse_metrics_turns_the_hook_on_from_a_config():
    from grokscope.config import load_config
    from grokscope.train import train

    overrides = ["task.p=7", "n_members=2", "train.steps=20", "threads=1", "model.init_scale=[1.0, 30.0]",
                 "log.n_checkpoints=0"]
    by_hook = train(load_config(preset="pair-mod67", overrides=overrides), store=None, hooks=[CollapseHook()])
    by_cfg = train(load_config(preset="pair-mod67", overrides=overrides + ["train.collapse_metrics=true"]), store=None)
    assert "train_softmax_collapse" not in train(load_config(preset="pair-mod67", overrides=overrides)).metrics
    for name in ("train_softmax_collapse", "train_zero_loss"):
        np.testing.assert_array_equal(by_cfg.metrics[name], by_hook.metrics[name])
