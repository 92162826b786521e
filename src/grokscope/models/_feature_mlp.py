"""Omnigrok's MLP on real-valued inputs (images, feature vectors).

Liu, Michaud & Tegmark (2022, "Omnigrok: Grokking Beyond Algorithmic Data") make an MLP grok on
MNIST by training it from a large initialization: the model is built with torch's default
``nn.Linear`` initialization and then **every parameter, biases included, is multiplied by the
init scale α** (their ``p.data = initialization_scale * p.data``; α = 8 in their MNIST run). Their
network (``mnist/grokking``) has ``depth = 3`` linear layers, i.e. two hidden layers of width 200
with ReLU, and 10 outputs.

This architecture is that network on ``features [batch, d_in]`` rows:
``depth`` hidden layers ``act(x · W_in + b_in)`` of ``width`` units, then ``logits = x · W_U + b_U``.

Initialization, per layer with fan-in ``n``: weights and biases uniform in ``[-1/√n, 1/√n]``,
which is what ``nn.Linear.reset_parameters`` draws (Kaiming-uniform with ``a = √5`` gives that
bound for the weights; the bias bound is ``1/√n`` too), then times α (``model.init_scale``).
``scale_biases = True`` (the default, Omnigrok's recipe) scales the biases by α as well;
``false`` leaves them at their default draw, as grokscope's other architectures do with their
(zero) biases. Draws are made in float32 from the member's generator, weights then bias, layer by
layer, and cast, so a seed gives the same function in float32 and float64 (not torch's global-RNG
stream: the distribution is torch's, the numbers are grokscope's).

>>> import torch
>>> ens = FeatureMLPEnsemble(FeatureMLPConfig(d_in=4, n_classes=3, width=5), n_models=2).init_([0, 1], scale=[1.0, 8.0])
>>> tuple(ens(torch.zeros(7, 4)).shape)
(2, 7, 3)
>>> bool(ens.blocks[0].mlp.b_in[1].abs().max() > 1.0)   # α = 8 scaled the bias out of [-1/2, 1/2]
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from grokscope.errors import ConfigError
from grokscope.validate import check_bool

from ._anatomy import Anatomy, ModelCost, param_count
from ._common import (
    EnsembleBase,
    ParamSpec,
    ReferenceBase,
    _per_member,
    activation,
    check_dropout,
    check_positive_int,
    check_scale,
    check_seed,
    record,
)
from ._mlp import first_layer_anatomy
from ._registry import register_architecture

__all__ = ["FeatureMLPConfig", "FeatureMLP", "FeatureMLPEnsemble"]


@dataclass(frozen=True)
class FeatureMLPConfig:
    """Hyperparameters of the MLP on features (``d_in`` and ``n_classes`` come from the task).

    >>> FeatureMLPConfig(d_in=64, n_classes=10).width
    200
    """

    d_in: int = 64  # set by the task (digits: 8x8 pixels)
    n_classes: int = 10  # set by the task
    width: int = 200  # Omnigrok, mnist/grokking: width = 200
    depth: int = 2  # hidden layers; Omnigrok's depth = 3 counts the 3 nn.Linear modules
    act: str = "relu"  # Omnigrok: ReLU
    scale_biases: bool = True  # Omnigrok multiplies every parameter by α, biases included
    # Inverted dropout on the hidden activations while training only (Srivastava et al. 2014; one of
    # PAIR 2023's regularizers): a rate in [0, 1) or one per member; 0 = off (the published setups).
    dropout: float = 0.0

    def __post_init__(self):
        check_positive_int(self.d_in, "model.d_in")
        check_positive_int(self.n_classes, "model.n_classes")
        check_positive_int(self.width, "model.width")
        check_positive_int(self.depth, "model.depth")
        activation(self.act)
        object.__setattr__(self, "dropout", check_dropout(self.dropout))
        check_bool(self.scale_biases, "model.scale_biases")


def _specs(cfg: FeatureMLPConfig) -> list[ParamSpec]:
    """Weights then bias, layer by layer (nn.Linear's order); ``std`` is the uniform draw's std."""
    specs, d_in = [], cfg.d_in
    for layer in range(cfg.depth):
        std = 1 / math.sqrt(3 * d_in)  # U(-1/√n, 1/√n) has std 1/√(3n)
        specs += [ParamSpec(f"blocks.{layer}.mlp.W_in", (d_in, cfg.width), std=std),
                  ParamSpec(f"blocks.{layer}.mlp.b_in", (cfg.width,), std=std)]
        d_in = cfg.width
    std = 1 / math.sqrt(3 * d_in)
    return specs + [ParamSpec("unembed.W_U", (d_in, cfg.n_classes), std=std), ParamSpec("unembed.b_U", (cfg.n_classes,), std=std)]


def draw_omnigrok_init(specs: Sequence[ParamSpec], seed: int, scale: float, scale_biases: bool) -> dict[str, Tensor]:
    """One member's initial parameters (float64 CPU): ``nn.Linear``'s uniform draw, times α.

    Every spec here is a uniform draw with bound ``√3·std`` (= ``1/√fan_in``). Weights are
    multiplied by ``scale``; biases (names ``b_*``) too when ``scale_biases``.

    >>> p = draw_omnigrok_init(_specs(FeatureMLPConfig(d_in=4, n_classes=2, width=3, depth=1)), 0, 2.0, True)
    >>> float(p["blocks.0.mlp.W_in"].abs().max()) <= 2.0 * 0.5
    True
    """
    gen = torch.Generator().manual_seed(check_seed(seed))
    scale = check_scale(scale)
    out = {}
    for s in specs:
        bound = math.sqrt(3) * s.std
        u = torch.rand(s.shape, generator=gen).double().mul_(2).sub_(1)  # float32 draw in [0, 1) -> [-1, 1)
        is_bias = s.name.rsplit(".", 1)[-1].startswith("b_")
        out[s.name] = u * (bound * (scale if (scale_biases or not is_bias) else 1.0))
    return out


class FeatureMLP(ReferenceBase):
    """One MLP: ``features [batch, d_in]`` -> ``logits [batch, n_classes]``.

    Cached: ``hook_input [batch, d_in]``, ``blocks.{l}.mlp.hook_pre`` and
    ``blocks.{l}.mlp.hook_post [batch, width]``, ``hook_logits``.
    """

    input_kind = "features"
    param_specs = staticmethod(_specs)

    def init_(self, seed: int, scale: float = 1.0):
        """Omnigrok's init: torch's default draw, every parameter times α = ``scale`` (see the module)."""
        values = draw_omnigrok_init(self.specs, seed, scale, self.cfg.scale_biases)
        params = dict(self.named_parameters())
        with torch.no_grad():
            for name, v in values.items():
                params[name].copy_(v)
        return self

    def _forward(self, x: Tensor, cache) -> Tensor:
        x = record(cache, "hook_input", x.to(self.unembed.W_U.dtype))  # [batch, d_in]
        for layer, block in enumerate(self.blocks):
            pre = record(cache, f"blocks.{layer}.mlp.hook_pre", x @ block.mlp.W_in + block.mlp.b_in)  # [batch, width]
            x = self._drop(record(cache, f"blocks.{layer}.mlp.hook_post", activation(self.cfg.act)(pre)))
        return record(cache, "hook_logits", x @ self.unembed.W_U + self.unembed.b_U)  # [batch, n_classes]


class FeatureMLPEnsemble(EnsembleBase):
    """``n_models`` MLPs: ``features [model, batch, d_in]`` or ``[batch, d_in]`` (shared) ->
    ``logits [model, batch, n_classes]``, with :class:`FeatureMLP`'s names and a ``model`` axis."""

    reference_cls = FeatureMLP
    input_kind = "features"

    def init_(self, member_seeds: Sequence[int], scale: float | Sequence[float] | Tensor = 1.0):
        """Member *i* exactly as ``FeatureMLP(cfg).init_(member_seeds[i], scale[i])``."""
        seeds = [check_seed(s) for s in member_seeds]
        if len(seeds) != self.n_models:
            raise ConfigError(f"member_seeds has {len(seeds)} entries: must have n_members={self.n_models}")
        params = dict(self.named_parameters())
        with torch.no_grad():
            for i, (seed, a) in enumerate(zip(seeds, _per_member(scale, self.n_models))):
                for name, v in draw_omnigrok_init(self.specs, seed, a, self.cfg.scale_biases).items():
                    params[name][i].copy_(v)
        return self

    def anatomy(self, state=None) -> Anatomy:
        """The first hidden layer's neurons: input map ``W_in [model, d_in, width]`` over the input
        features and, with one hidden layer, output map ``W_U [model, width, n_classes]`` (None when
        deeper layers sit between). No token embedding. From ``state`` or the current weights."""
        return first_layer_anatomy(self, state, "feature_mlp", "input feature")

    @classmethod
    def cost(cls, cfg: FeatureMLPConfig) -> ModelCost:
        """Parameters; the widest row (input, hidden or logits); cached activations per example."""
        acts = cfg.d_in + 2 * cfg.depth * cfg.width + cfg.n_classes
        return ModelCost(n_params=param_count(_specs(cfg)), width=max(cfg.d_in, cfg.width, cfg.n_classes),
                         activation_elements=acts)

    def _forward(self, x: Tensor, cache) -> Tensor:
        x = x.to(self.dtype)  # [model, batch, d_in] or [batch, d_in]
        if cache is not None:
            record(cache, "hook_input", x.expand(self.n_models, *x.shape[-2:]))
        for layer, block in enumerate(self.blocks):
            # matmul broadcasts shared [batch, d_in] inputs against [model, d_in, width].
            pre = torch.matmul(x, block.mlp.W_in) + block.mlp.b_in[:, None, :]  # [model, batch, width]
            record(cache, f"blocks.{layer}.mlp.hook_pre", pre)
            x = self._drop(record(cache, f"blocks.{layer}.mlp.hook_post", activation(self.cfg.act)(pre)))
        logits = torch.matmul(x, self.unembed.W_U) + self.unembed.b_U[:, None, :]  # [model, batch, n_classes]
        return record(cache, "hook_logits", logits)


def _task_sizes(task) -> dict[str, int]:
    """``d_in`` and ``n_classes`` from a task of real-valued rows."""
    d_in = getattr(task, "d_in", None)
    if not isinstance(d_in, int) or d_in < 1:
        raise ConfigError(f"model.arch='feature_mlp' with task {task.name}: needs the task's d_in (features per row), got {d_in!r}")
    return {"d_in": d_in, "n_classes": task.n_classes}


register_architecture("feature_mlp", FeatureMLPConfig, FeatureMLPEnsemble, FeatureMLP, _task_sizes)
