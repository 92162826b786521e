"""Metrics that explain why a run stops learning: Softmax Collapse and exactly-zero losses.

Prieto et al. (2025, "Grokking at the Edge of Numerical Stability") show that without
regularization a model that has fit its training set keeps scaling its logits up until, in
floating point, ``Σ_j exp(x_j − max x)`` rounds to exactly 1: the other classes' terms are
absorbed, the loss of that example is exactly 0 and so is its gradient. They call it Softmax
Collapse (SC) and find that it stops grokking. :class:`CollapseHook` reports, at every evaluation
and per member, over the member's **training** examples:

- ``train_softmax_collapse``: the fraction whose softmax has collapsed in float32, i.e. whose sum
  of exponentials of the max-shifted logits equals the top one (1) exactly (the authors' logger
  computes the same in the training precision);
- ``train_zero_loss``: the fraction whose per-example loss (``train.loss``, in the run's dtype and
  as training computes it) is exactly 0.

Both cost one extra forward pass over the training rows per evaluation.

>>> import torch
>>> logits = torch.tensor([[[100.0, 0.0], [1.0, 0.0]]])       # [model, batch, C]: the first collapses
>>> softmax_collapsed(logits).tolist()
[[True, False]]
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch

from grokscope.train._hooks import EvalContext, HookBase
from grokscope.train._losses import per_example_loss

__all__ = ["CollapseHook", "softmax_collapsed", "COLLAPSE_METRICS"]

COLLAPSE_METRICS = ("train_softmax_collapse", "train_zero_loss")


def softmax_collapsed(logits: torch.Tensor) -> torch.Tensor:
    """``[..., C] -> [...]`` bool: ``Σ_j exp(x_j − max x) == 1`` exactly, computed in float32."""
    x = logits.detach().float()
    return torch.exp(x - x.amax(-1, keepdim=True)).sum(-1) == 1.0


class CollapseHook(HookBase):
    """Per member: the fraction of its training rows with a collapsed softmax / an exactly-zero loss.

    Pass it to ``train(cfg, hooks=[CollapseHook()])``. It reads ``ctx.model`` and ``ctx.data``
    (the live members' rows once some have retired) and returns values for those rows.
    """

    name = "collapse"

    @torch.no_grad()
    def __call__(self, step: int, metrics: Mapping[str, np.ndarray], ctx: EvalContext) -> dict[str, np.ndarray]:
        data = ctx.data
        inputs, labels, weights = data.train_inputs, data.train_labels, data.train_weights  # [model, n_train_max, ...]
        logits = ctx.model(inputs)  # [model, n_train_max, C]
        zero = per_example_loss(logits, labels, ctx.cfg.train.loss) == 0  # [model, n_train_max]
        on = (weights > 0).double()  # padding rows do not count
        n = on.sum(1).clamp(min=1)  # [model]
        return {"train_softmax_collapse": ((softmax_collapsed(logits).double() * on).sum(1) / n).cpu().numpy(),
                "train_zero_loss": ((zero.double() * on).sum(1) / n).cpu().numpy()}
