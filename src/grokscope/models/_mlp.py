"""A plain MLP on bit strings, for (sparse) parity.

Sparse parity (Barak et al. 2022, "Hidden Progress in Deep Learning: SGD Learns Parities Near
the Computational Limit") and PAIR 2023's "1s and 0s" task: the label is the parity of a few of
``n_bits`` input bits. Tokens are the bits as integers 0/1, ``[batch, n_bits]``; the model turns
them into floats by ``encoding``:

- ``"01"``  (default): the bits themselves, as PAIR 2023 feeds them;
- ``"pm1"``: ``1 - 2·bit`` in {+1, -1}, Barak et al. 2022's convention, where parity is a product.

``depth`` hidden layers of ``width`` units, each ``act(x · W_in + b_in)``, then
``logits = x · W_U + b_U`` with ``n_classes`` outputs (2 for parity; PAIR uses one output column
with a sigmoid, which is the same model as two logits under cross-entropy up to a reparametrization).
PAIR gets its bias by fixing the last input column to 1; we hold biases as parameters instead
(``bias=True``), which is the same function class. ``depth=1, act="x2"`` is a two-layer quadratic net.

Init: weights std ``1/sqrt(fan_in)`` (LeCun et al. 1998), biases 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from grokscope.errors import ConfigError

from ._anatomy import Anatomy, ModelCost, WeightView, param_count, state_tensor
from ._common import (EnsembleBase, ParamSpec, ReferenceBase, activation, check_choice, check_dropout, check_positive_int,
                      record)
from ._registry import register_architecture

__all__ = ["MLPConfig", "MLP", "MLPEnsemble"]


@dataclass(frozen=True)
class MLPConfig:
    """Hyperparameters of the bit-string MLP.

    >>> MLPConfig(n_bits=10).n_ctx
    10
    """

    n_bits: int = 30  # PAIR 2023: "random sequences of thirty 1s and 0s"
    width: int = 64  # not stated by PAIR; small enough for large ensembles
    depth: int = 1  # PAIR 2023: "again a one-layer MLP"
    act: str = "relu"  # PAIR 2023
    n_classes: int = 2  # parity is 0 or 1
    encoding: str = "01"  # PAIR feeds 0/1; "pm1" is Barak et al. 2022's ±1
    bias: bool = True  # PAIR: "the last column of W_input is also fixed to 1 to provide a bias term"
    # Inverted dropout on the hidden activations while training only (Srivastava et al. 2014; one of
    # PAIR 2023's regularizers): a rate in [0, 1) or one per member; 0 = off (the published setups).
    dropout: float = 0.0

    def __post_init__(self):
        check_positive_int(self.n_bits, "model.n_bits")
        check_positive_int(self.width, "model.width")
        check_positive_int(self.depth, "model.depth")
        check_positive_int(self.n_classes, "model.n_classes")
        activation(self.act)
        check_choice(self.encoding, "model.encoding", ("01", "pm1"))
        if not isinstance(self.bias, bool):
            raise ConfigError(f"model.bias={self.bias!r}: must be true or false")
        object.__setattr__(self, "dropout", check_dropout(self.dropout))

    @property
    def n_ctx(self) -> int:
        return self.n_bits

    @property
    def d_vocab(self) -> int:
        return 2  # tokens are bits


def _specs(cfg: MLPConfig) -> list[ParamSpec]:
    specs = []
    d_in = cfg.n_bits
    for layer in range(cfg.depth):
        specs.append(ParamSpec(f"blocks.{layer}.mlp.W_in", (d_in, cfg.width), std=1 / math.sqrt(d_in)))
        if cfg.bias:
            specs.append(ParamSpec(f"blocks.{layer}.mlp.b_in", (cfg.width,)))
        d_in = cfg.width
    specs.append(ParamSpec("unembed.W_U", (d_in, cfg.n_classes), std=1 / math.sqrt(d_in)))
    if cfg.bias:
        specs.append(ParamSpec("unembed.b_U", (cfg.n_classes,)))
    return specs


def _encode(tokens: Tensor, encoding: str, dtype: torch.dtype) -> Tensor:
    bits = tokens.to(dtype)
    return bits if encoding == "01" else 1 - 2 * bits


class MLP(ReferenceBase):
    """One bit-string MLP: ``tokens [batch, n_bits]`` (0/1) -> ``logits [batch, n_classes]``.

    Cached: ``hook_input [batch, n_bits]`` (encoded floats), ``blocks.{l}.mlp.hook_pre`` and
    ``blocks.{l}.mlp.hook_post [batch, width]``, ``hook_logits``.

    >>> model = MLP(MLPConfig(n_bits=4, width=8)).init_(seed=0)
    >>> tuple(model(torch.tensor([[0, 1, 1, 0]])).shape)
    (1, 2)
    """

    param_specs = staticmethod(_specs)

    def _forward(self, tokens: Tensor, cache) -> Tensor:
        cfg = self.cfg
        x = record(cache, "hook_input", _encode(tokens, cfg.encoding, self.unembed.W_U.dtype))  # [batch, n_bits]
        for layer, block in enumerate(self.blocks):
            pre = x @ block.mlp.W_in  # [batch, width]
            if cfg.bias:
                pre = pre + block.mlp.b_in
            record(cache, f"blocks.{layer}.mlp.hook_pre", pre)
            x = self._drop(record(cache, f"blocks.{layer}.mlp.hook_post", activation(cfg.act)(pre)))
        logits = x @ self.unembed.W_U  # [batch, n_classes]
        if cfg.bias:
            logits = logits + self.unembed.b_U
        return record(cache, "hook_logits", logits)


def first_layer_anatomy(ens, state, arch: str, row_label: str) -> Anatomy:
    """The anatomy of an MLP whose analysed neurons are its first hidden layer (``blocks.0.mlp``):
    ``neuron_in = W_in [model, d_in, width]``; ``neuron_out = W_U`` with one hidden layer, None
    when deeper layers sit between; no token embedding. Shared by ``mlp`` and ``feature_mlp``."""
    state = ens.state_dict() if state is None else state
    w_in = state_tensor(state, "blocks.0.mlp.W_in", arch)  # [model, d_in, width]
    w_out = state_tensor(state, "unembed.W_U", arch) if ens.cfg.depth == 1 else None
    return Anatomy(
        arch=arch, input_kind=ens.input_kind, d_hidden=ens.cfg.width, embedding=None,
        neuron_in=w_in, neuron_out=w_out,
        views=(WeightView("input map W_in", w_in, row_label, "hidden unit"),),
        hook_names=("blocks.0.mlp.hook_post", "blocks.0.mlp.hook_pre"),
    )


class MLPEnsemble(EnsembleBase):
    """``n_models`` bit-string MLPs: ``tokens [model, batch, n_bits]`` or ``[batch, n_bits]`` ->
    ``logits [model, batch, n_classes]``, with :class:`MLP`'s parameter names and a ``model`` axis.

    >>> ens = MLPEnsemble(MLPConfig(n_bits=4, width=8), n_models=2).init_([0, 1])
    >>> tuple(ens(torch.tensor([[0, 1, 1, 0]])).shape)
    (2, 1, 2)
    """

    reference_cls = MLP
    input_kind = "tokens"  # bits as token ids 0/1

    def anatomy(self, state=None) -> Anatomy:
        """The first hidden layer's neurons: input map ``W_in [model, n_bits, width]`` over the bits
        and, when it is the only hidden layer, output map ``W_U [model, width, n_classes]`` (None
        when deeper layers sit between). No token embedding. From ``state`` or the current weights."""
        return first_layer_anatomy(self, state, "mlp", "input bit")

    @classmethod
    def cost(cls, cfg: MLPConfig) -> ModelCost:
        """Parameters; width ``width`` (the hidden layers); cached activations (input, hidden, logits)."""
        acts = cfg.n_bits + 2 * cfg.depth * cfg.width + cfg.n_classes
        return ModelCost(n_params=param_count(_specs(cfg)), width=cfg.width, activation_elements=acts)

    def _forward(self, tokens: Tensor, cache) -> Tensor:
        cfg = self.cfg
        x = _encode(tokens, cfg.encoding, self.dtype)  # [model, batch, n_bits] or [batch, n_bits]
        if cache is not None:
            record(cache, "hook_input", x.expand(self.n_models, *x.shape[-2:]))
        for layer, block in enumerate(self.blocks):
            # matmul broadcasts shared [batch, n_bits] inputs against [model, n_bits, width].
            pre = torch.matmul(x, block.mlp.W_in)  # [model, batch, width]
            if cfg.bias:
                pre = pre + block.mlp.b_in[:, None, :]
            record(cache, f"blocks.{layer}.mlp.hook_pre", pre)
            x = self._drop(record(cache, f"blocks.{layer}.mlp.hook_post", activation(cfg.act)(pre)))
        logits = torch.matmul(x, self.unembed.W_U)  # [model, batch, n_classes]
        if cfg.bias:
            logits = logits + self.unembed.b_U[:, None, :]
        return record(cache, "hook_logits", logits)


def _task_sizes(task) -> dict[str, int]:
    """``n_bits`` and ``n_classes`` from a task of bit strings (vocabulary 2)."""
    if task.vocab_size != 2:
        raise ConfigError(
            f"model.arch='mlp' with task {task.name}: reads bit strings (vocab 2), this task has vocab {task.vocab_size}"
        )
    return {"n_bits": task.n_ctx, "n_classes": task.n_classes}


register_architecture("mlp", MLPConfig, MLPEnsemble, MLP, _task_sizes)
