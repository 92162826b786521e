"""The batched optimizer a run config asks for (``cfg.optim``), with per-member hyperparameters."""

from __future__ import annotations

import torch

from grokscope.config import RunConfig
from grokscope.errors import ConfigError
from grokscope.train._fused import FusedAdamW
from grokscope.train._optim import Optimizer, adam, adamw, sgd

__all__ = ["make_optimizer"]


def make_optimizer(cfg: RunConfig, dtype: torch.dtype, device) -> Optimizer | FusedAdamW:
    """The batched optimizer of ``cfg.optim``, with per-member lr / weight decay as ``[model]`` tensors."""
    o = cfg.optim

    def per_member(v):
        return torch.as_tensor(v, dtype=dtype, device=device) if isinstance(v, list) else float(v)

    lr, wd = per_member(o.lr), per_member(o.weight_decay)
    clip = o.clip_norm or None
    grokfast = (o.grokfast_alpha, o.grokfast_lambda) if o.grokfast_lambda > 0 else None
    if o.name == "adamw":
        return adamw(lr, wd, o.b1, o.b2, o.eps, o.decay, o.warmup_steps, grokfast, clip)
    if o.name == "adam":
        return adam(lr, wd, o.b1, o.b2, o.eps, o.decay, o.warmup_steps, grokfast, clip)
    if o.decay != "l2" or grokfast is not None:
        raise ConfigError("optim.name='sgd': supports L2 decay only and no grokfast filter")
    return sgd(lr, o.momentum, wd, o.nesterov, o.warmup_steps, clip)
