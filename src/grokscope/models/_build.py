"""From a run config and a task to an initialized ensemble.

The ``model`` section of a run config names the architecture in ``arch`` (one registered with
``grokscope.models.register_architecture``) and may set any field of that architecture's config
dataclass; sizes the task determines are taken from the task, whose ``input_kind`` (``"tokens"``
unless it says otherwise) must be what the architecture reads:

=============== ======================= ============================================================
``arch``        config                  from the task
=============== ======================= ============================================================
``pair_mlp``    :class:`PairMLPConfig`  ``p = vocab_size`` (needs ``n_ctx == 2``, ``n_classes == vocab_size``)
``transformer`` :class:`TransformerConfig` ``d_vocab``, ``n_ctx``, ``n_classes``
``mlp``         :class:`MLPConfig`      ``n_bits = n_ctx``, ``n_classes`` (needs ``vocab_size == 2``)
``feature_mlp`` :class:`FeatureMLPConfig` ``d_in``, ``n_classes`` (needs ``input_kind == "features"``)
``li2``         :class:`Li2Config`      ``p = vocab_size`` (two operand tokens, Tian 2024's Li2 model)
=============== ======================= ============================================================

``model.init_scale`` (Omnigrok's α, one float or one per member) is handed to ``init_``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import torch

from grokscope.errors import ConfigError

# Each architecture registers itself when its module is imported; this list is the registry's
# order (pair_mlp, transformer, mlp, feature_mlp, li2), so error messages list them the same way every time.
from . import _pair_mlp, _transformer, _mlp, _feature_mlp, _li2  # noqa: F401  (imported to register)
from ._common import EnsembleBase
from ._registry import ARCHS, check_input_kind, get_architecture

__all__ = ["ARCHS", "model_config", "build_model"]

_NOT_ARCH_FIELDS = ("arch", "init_scale")


def _task_sizes(arch: str, task) -> dict[str, int]:
    """The config fields ``task`` sets for architecture ``arch`` (its registered ``task_sizes``)."""
    return get_architecture(arch).task_sizes(task)


def model_config(arch: str, task, **options: Any):
    """The architecture's config with the task's sizes filled in and ``options`` applied.

    >>> from types import SimpleNamespace
    >>> task = SimpleNamespace(name="add97", vocab_size=97, n_ctx=2, n_classes=97)
    >>> model_config("pair_mlp", task, d_hidden=48).p
    97
    """
    entry = get_architecture(arch)
    check_input_kind(entry, task)
    cfg_cls = entry.config_cls
    sizes = entry.task_sizes(task)
    allowed = {f.name for f in dataclasses.fields(cfg_cls)} - set(sizes)
    for key in options:
        if key not in allowed:
            raise ConfigError(f"model.{key}: not a setting of arch {arch!r}; allowed: {', '.join(sorted(allowed))}")
    return cfg_cls(**sizes, **{k: v for k, v in options.items() if v is not None})


def _section(model) -> dict[str, Any]:
    if isinstance(model, Mapping):
        return dict(model)
    if dataclasses.is_dataclass(model):
        return dataclasses.asdict(model)
    return dict(vars(model))


def build_model(cfg, task, member_seeds: Sequence[int] | None = None) -> EnsembleBase:
    """An initialized ensemble of ``cfg.n_members`` models for ``task``.

    Reads ``cfg.model`` (a dict, dataclass or namespace: ``arch``, default ``"pair_mlp"``;
    ``init_scale``; architecture fields, where None means the default), ``cfg.n_members``,
    ``cfg.dtype`` (``"float32"``/``"float64"``), ``cfg.device``. Member *i* is initialized from
    ``member_seeds[i]``; without them, from ``cfg.member_seeds`` or else
    ``grokscope.seeding.member_seed(cfg.seed, i)``.

    >>> from types import SimpleNamespace
    >>> task = SimpleNamespace(name="add7", vocab_size=7, n_ctx=2, n_classes=7)
    >>> cfg = SimpleNamespace(model={"arch": "pair_mlp", "d_hidden": 8}, n_members=3, dtype="float64", device="cpu", seed=0)
    >>> ens = build_model(cfg, task)
    >>> (ens.n_models, ens.cfg.p, ens.dtype)
    (3, 7, torch.float64)
    """
    section = _section(cfg.model)
    arch = section.get("arch", "pair_mlp")
    # None means "the architecture's default", so a section may list every architecture's keys.
    options = {k: v for k, v in section.items() if k not in _NOT_ARCH_FIELDS and v is not None}
    model_cfg = model_config(arch, task, **options)
    dtype = {"float32": torch.float32, "float64": torch.float64}.get(str(cfg.dtype).replace("torch.", ""))
    if dtype is None:
        raise ConfigError(f"dtype={cfg.dtype!r}: must be float32 or float64")
    ens = get_architecture(arch).ensemble_cls(model_cfg, cfg.n_members, dtype=dtype, device=getattr(cfg, "device", None) or "cpu")
    if member_seeds is None:
        member_seeds = getattr(cfg, "member_seeds", None)
    if member_seeds is None:
        from grokscope.seeding import member_seed

        member_seeds = [member_seed(cfg.seed, i) for i in range(cfg.n_members)]
    scale = section.get("init_scale")
    return ens.init_(list(member_seeds), 1.0 if scale is None else scale)
