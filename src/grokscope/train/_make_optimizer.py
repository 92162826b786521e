"""The batched optimizer a run config asks for (``cfg.optim``), with per-member hyperparameters.

``make_optimizer`` reads the ``[optim]`` section (and ``train.steps``, which the cosine schedules
end at) and builds one of ``adamw``, ``adam``, ``sgd`` with its lr and weight-decay schedules and
its projection. A config written before schedules and projections existed has none of those keys;
their defaults (constant after the warmup, no projection) build exactly the optimizer it had.

>>> from grokscope.config import load_config
>>> cfg = load_config(overrides=["optim.lr_schedule=cosine", "optim.grokfast_lambda=2.0", "train.steps=100"])
>>> sorted(make_optimizer(cfg, torch.float32, "cpu").init({"W": torch.zeros(2, 3)}))
['adam.count', 'adam.mu', 'adam.nu', 'grokfast.count', 'grokfast.ema', 'lr.count']
"""

from __future__ import annotations

import torch

from grokscope.config import RunConfig
from grokscope.errors import ConfigError
from grokscope.train._filters import grokfast_ma, normalize_grad, orthogonal_grad, with_filters
from grokscope.train._fused import FusedAdamW
from grokscope.train._hyper_schedule import Schedule, cosine_schedule, warmup_schedule
from grokscope.train._optim import Optimizer, adam, adamw, sgd
from grokscope.train._projection import Projection, fixed_norm
from grokscope.train._transforms import Transform
from grokscope.validate import require

__all__ = ["make_optimizer", "lr_schedule", "wd_schedule", "projection", "gradient_filters"]


def make_optimizer(cfg: RunConfig, dtype: torch.dtype, device) -> Optimizer | FusedAdamW:
    """The batched optimizer of ``cfg.optim``, with per-member lr / weight decay as ``[model]`` tensors."""
    o = cfg.optim

    def per_member(v):
        return torch.as_tensor(v, dtype=dtype, device=device) if isinstance(v, list) else float(v)

    lr, wd = per_member(o.lr), per_member(o.weight_decay)
    clip = o.clip_norm or None
    lamb = _checked_per_member(cfg, "grokfast_lambda")
    grokfast = (o.grokfast_alpha, per_member(lamb)) if _any_on(lamb) else None
    extra = dict(lr_schedule=lr_schedule(cfg), wd_schedule=wd_schedule(cfg), project=projection(cfg, dtype, device))
    filters = gradient_filters(cfg, dtype, device)  # ⊥Grad, Grokfast-MA, normalization: before everything else
    # The warmup lives in the lr schedule, so every builder gets warmup_steps=0.
    if o.name == "adamw":
        fused = False if filters else None  # filters run in the transform chain only
        return with_filters(adamw(lr, wd, o.b1, o.b2, o.eps, o.decay, 0, grokfast, clip, fused, **extra), filters)
    if o.name == "adam":
        return with_filters(adam(lr, wd, o.b1, o.b2, o.eps, o.decay, 0, grokfast, clip, **extra), filters)
    if o.decay != "l2" or grokfast is not None:
        raise ConfigError("optim.name='sgd': supports L2 decay only and no grokfast filter")
    return with_filters(sgd(lr, o.momentum, wd, o.nesterov, 0, clip, **extra), filters)


def _checked_per_member(cfg: RunConfig, key: str):
    """``cfg.optim.<key>``: a float, or a list that must hold one value per member."""
    value = getattr(cfg.optim, key)
    if isinstance(value, list):
        require(len(value) == cfg.n_members, f"optim.{key}", value,
                f"one number or a list of n_members={cfg.n_members} numbers")
    return value


def _any_on(value) -> bool:
    return any(v > 0 for v in (value if isinstance(value, list) else [value]))


def gradient_filters(cfg: RunConfig, dtype: torch.dtype, device) -> list[tuple[str, Transform]]:
    """The filters ``cfg.optim`` turns on, in the order they run on the raw gradient (``_filters.py``):
    ``"ortho"`` (⊥Grad), ``"ma"`` (Grokfast-MA), ``"normalize"``. A list value is one per member."""
    o = cfg.optim

    def value(key):
        v = _checked_per_member(cfg, key)
        return torch.as_tensor(v, dtype=dtype, device=device) if isinstance(v, list) else float(v)

    filters = []
    if _any_on(o.ortho_grad):
        filters.append(("ortho", orthogonal_grad(value("ortho_grad"), o.ortho_grad_renorm)))
    if _any_on(o.grokfast_ma_lambda):
        filters.append(("ma", grokfast_ma(o.grokfast_ma_window, value("grokfast_ma_lambda"))))
    if _any_on(o.normalize_grad):
        filters.append(("normalize", normalize_grad(value("normalize_grad"))))
    return filters


# The [optim] values are checked by OptimConfig when the config is loaded; what is checked here
# spans sections (train.steps, n_members).


def lr_schedule(cfg: RunConfig) -> Schedule:
    """The lr factor of ``cfg``: linear warmup over ``optim.warmup_steps``, then constant or cosine."""
    o = cfg.optim
    if o.lr_schedule == "constant":
        return warmup_schedule(o.warmup_steps)
    require(o.warmup_steps < cfg.train.steps, "optim.warmup_steps", o.warmup_steps,
            f"< train.steps={cfg.train.steps} for optim.lr_schedule='cosine' (the decay needs steps after the warmup)")
    return cosine_schedule(cfg.train.steps, o.warmup_steps, o.final_lr_frac)


def wd_schedule(cfg: RunConfig) -> Schedule | None:
    """The weight-decay factor of ``cfg``: None (constant) or a cosine over ``train.steps``."""
    o = cfg.optim
    return None if o.wd_schedule == "constant" else cosine_schedule(cfg.train.steps, 0, o.final_wd_frac)


def projection(cfg: RunConfig, dtype: torch.dtype, device) -> Projection | None:
    """The projection after each update: ``fixed_norm(optim.project_norm)``, or None when it is 0."""
    target = cfg.optim.project_norm
    values = target if isinstance(target, list) else [target]
    if isinstance(target, list):
        require(len(target) == cfg.n_members, "optim.project_norm", target,
                f"one number or a list of n_members={cfg.n_members} numbers")
    if not any(v > 0 for v in values):
        return None
    return fixed_norm(torch.as_tensor(target, dtype=dtype, device=device) if isinstance(target, list) else float(target))
