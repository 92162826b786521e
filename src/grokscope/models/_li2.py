"""The Li2 network: a 2-layer net on one-hot pairs with separate input weights for a and for b.

Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking" (Li2)::

    pre    = [e_a; e_b]ᵀ W = W_a[a] + W_b[b]       # W = [W_a; W_b], K hidden nodes
    logits = σ(pre) · V                            # σ in {x², ReLU, SiLU}

Parameter names: ``mlp.W_in_a``, ``mlp.W_in_b`` ``[p, d_hidden]`` (the paper's W, one block per
operand) and ``mlp.W_out`` ``[d_hidden, p]`` (the paper's V). Hidden node j's weight vector in
the paper, ``w_j = [u; v] ∈ R^{2p}``, is ``[W_in_a[:, j]; W_in_b[:, j]]``, the vector whose energy
``grokscope.li2.Energy`` evaluates.

Init: Gaussian with the variance of the reference code's ``torch.nn.Linear`` default
(uniform ±1/√fan_in, so std 1/√(3·fan_in): fan_in = p for each W block, d_hidden for V), times
Omnigrok's α; ``zero_init_out=True`` starts V at 0 (Li2's Stage I from a silent top layer).

The mean-centred MSE loss P₁^⊥(Y − σ(XW)V) with the ridge-regression top layer V_ridge solved each
step is trained by ``grokscope.li2.train_ridge`` (its own small full-batch loop, ``li2/_dynamics.py``),
not by the general trainer, which has no per-layer weight decay or ridge step (docs/li2.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from grokscope.errors import ConfigError
from grokscope.validate import check_bool, check_choice

from ._anatomy import Anatomy, OperandPairSizes, ModelCost, WeightView, param_count, state_tensor
from ._common import (
    EnsembleBase,
    ParamSpec,
    ReferenceBase,
    check_positive_int,
    lookup,
    record,
)
from ._registry import register_architecture

__all__ = ["LI2_ACTIVATIONS", "Li2", "Li2Config", "Li2Ensemble"]


def _square(x: Tensor) -> Tensor:
    return x * x


# Li2's activations: x² (the setting of its Theorems 2-7), ReLU and SiLU (its experiments).
LI2_ACTIVATIONS = {"x2": _square, "relu": F.relu, "silu": F.silu}


@dataclass(frozen=True)
class Li2Config(OperandPairSizes):
    """Hyperparameters of the Li2 network.

    >>> Li2Config(p=23, d_hidden=8).n_classes
    23
    """

    p: int = 71  # group order M: vocabulary and classes (Li2's Figure 3 uses M = 71)
    d_hidden: int = 512  # K hidden nodes: the reference code's hidden_size default
    act: str = "x2"  # σ(x) = x², the activation of Li2's theorems
    zero_init_out: bool = False  # V = 0 at init

    def __post_init__(self):
        check_positive_int(self.p, "model.p")
        check_positive_int(self.d_hidden, "model.d_hidden")
        check_choice(self.act, "model.act", tuple(LI2_ACTIVATIONS))
        check_bool(self.zero_init_out, "model.zero_init_out")


def _specs(cfg: Li2Config) -> list[ParamSpec]:
    p, k = cfg.p, cfg.d_hidden
    out = ParamSpec("mlp.W_out", (k, p)) if cfg.zero_init_out else ParamSpec("mlp.W_out", (k, p), std=1 / math.sqrt(3 * k))
    return [ParamSpec("mlp.W_in_a", (p, k), std=1 / math.sqrt(3 * p)),  # nn.Linear(M, K)'s variance
            ParamSpec("mlp.W_in_b", (p, k), std=1 / math.sqrt(3 * p)),
            out]


class Li2(ReferenceBase):
    """One Li2 network: ``tokens [batch, 2]`` (a, b) -> ``logits [batch, p]``.

    Cached: ``mlp.hook_pre``, ``mlp.hook_post`` ``[batch, d_hidden]``, ``hook_logits``.

    >>> model = Li2(Li2Config(p=7, d_hidden=5)).init_(seed=0)
    >>> tuple(model(torch.tensor([[1, 2], [3, 4]])).shape)
    (2, 7)
    """

    param_specs = staticmethod(_specs)

    def _forward(self, tokens: Tensor, cache) -> Tensor:
        pre = record(cache, "mlp.hook_pre", self.mlp.W_in_a[tokens[:, 0]] + self.mlp.W_in_b[tokens[:, 1]])  # [batch, K]
        post = record(cache, "mlp.hook_post", LI2_ACTIVATIONS[self.cfg.act](pre))
        return record(cache, "hook_logits", post @ self.mlp.W_out)  # [batch, p]


class Li2Ensemble(EnsembleBase):
    """``n_models`` Li2 networks: ``tokens [model, batch, 2]`` or ``[batch, 2]`` -> ``logits [model, batch, p]``.

    >>> ens = Li2Ensemble(Li2Config(p=7, d_hidden=5), n_models=3).init_([0, 1, 2])
    >>> tuple(ens(torch.tensor([[1, 2], [3, 4]])).shape)
    (3, 2, 7)
    """

    reference_cls = Li2
    input_kind = "tokens"

    def _forward(self, tokens: Tensor, cache) -> Tensor:
        shared = tokens.dim() == 2
        pre = lookup(self.mlp.W_in_a, tokens[..., 0], shared) + lookup(self.mlp.W_in_b, tokens[..., 1], shared)
        record(cache, "mlp.hook_pre", pre)  # [model, batch, K]
        post = record(cache, "mlp.hook_post", LI2_ACTIVATIONS[self.cfg.act](pre))
        return record(cache, "hook_logits", torch.bmm(post, self.mlp.W_out))  # [model, batch, p]

    def anatomy(self, state=None) -> Anatomy:
        """``neuron_in`` = ``W_in_a`` (operand a's map), ``neuron_out`` = ``W_out`` (V); the
        embedding of a token is its rows in both blocks, ``[W_in_a | W_in_b]`` ``[model, p, 2K]``."""
        state = self.state_dict() if state is None else state
        w_a = state_tensor(state, "mlp.W_in_a", "li2")  # [model, p, K]
        w_b = state_tensor(state, "mlp.W_in_b", "li2")
        w_out = state_tensor(state, "mlp.W_out", "li2")  # [model, K, p]
        views = (WeightView("input map W_a (operand a)", w_a, "input token", "hidden node"),
                 WeightView("input map W_b (operand b)", w_b, "input token", "hidden node"),
                 WeightView("output map Vᵀ", w_out.transpose(1, 2), "output class", "hidden node"))
        return Anatomy(arch="li2", input_kind=self.input_kind, d_hidden=self.cfg.d_hidden,
                       embedding=torch.cat([w_a, w_b], -1), neuron_in=w_a, neuron_out=w_out,
                       views=views, hook_names=("mlp.hook_post", "mlp.hook_pre"))

    @classmethod
    def cost(cls, cfg: Li2Config) -> ModelCost:
        """Parameters ``3pK``; width ``max(K, p)``; cached activations ``2K + p`` per example."""
        return ModelCost(n_params=param_count(_specs(cfg)), width=max(cfg.d_hidden, cfg.p),
                         activation_elements=2 * cfg.d_hidden + cfg.p)


def _task_sizes(task) -> dict[str, int]:
    """``p`` from a task of two operand tokens whose classes are its tokens (``a ∘ b`` in a group)."""
    if task.n_ctx != 2 or task.n_classes != task.vocab_size:
        raise ConfigError(f"model.arch='li2' with task {task.name}: needs two operand tokens and"
                          " n_classes == vocab_size (a group operation a∘b); use 'transformer'")
    return {"p": task.vocab_size}


register_architecture("li2", Li2Config, Li2Ensemble, Li2, _task_sizes)
