"""What an analysis needs to know about a model, told by the model.

An ensemble's ``anatomy(state)`` names, from a checkpoint ``state`` (``[model, ...]`` tensors, as
stored) or from its current weights, the few matrices analyses read: the token embedding, each
hidden neuron's input map over the tokens and output map onto the logits, the weight matrices a
figure draws, and the activations to cache. Its class method ``cost(cfg)`` says how big one member
is, for packing sweep members into ensembles. Analysis, report and sweep code read these instead of
parameter names, so a new architecture is one file and one ``register_architecture`` call
(TransformerLens's ``model.W_in``/``W_U`` properties are the model for this: analysis code there
never parses state-dict keys).

>>> import torch
>>> from grokscope.models import PairMLPConfig, PairMLPEnsemble
>>> ens = PairMLPEnsemble(PairMLPConfig(p=7, d_embed=4, d_hidden=5), n_models=2).init_([0, 1])
>>> a = ens.anatomy()
>>> (a.arch, a.input_kind, a.d_hidden, tuple(a.neuron_in.shape), tuple(a.neuron_out.shape))
('pair_mlp', 'tokens', 5, (2, 7, 5), (2, 5, 7))
>>> PairMLPEnsemble.cost(PairMLPConfig(p=7, d_embed=4, d_hidden=5))
ModelCost(n_params=68, width=7, activation_elements=29)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from torch import Tensor

from grokscope.errors import AnalysisError

__all__ = ["WeightView", "Anatomy", "ModelCost", "OperandPairSizes", "param_count", "state_tensor"]


class OperandPairSizes:
    """Sizes of a model reading two operand tokens ``a, b`` in ``[0, p)`` and predicting one of ``p``
    classes (the PAIR MLP, Li2): mixed into its config dataclass, which has a field ``p``."""

    @property
    def n_ctx(self) -> int:
        return 2  # the two operands a, b

    @property
    def n_classes(self) -> int:
        return self.p

    @property
    def d_vocab(self) -> int:
        return self.p


@dataclass(frozen=True)
class WeightView:
    """One weight matrix a figure may draw (a heatmap per member)."""

    title: str  # e.g. "input map W_E·W_in"
    weight: Tensor  # [model, rows, cols]
    row_label: str  # e.g. "input token"
    col_label: str  # e.g. "hidden unit"


@dataclass(frozen=True)
class Anatomy:
    """What an analysis needs to know about a model, from the model (every tensor ``[model, ...]``).

    ``neuron_in [model, n_inputs, d_hidden]`` is each analysed hidden neuron's input weight for each
    input token of ONE operand position (PAIR MLP: ``W_E·W_in``, or ``W_in`` when not factored;
    transformer: ``W_E·W_in`` of the last block, the direct path; parity MLP: the first layer's
    ``W_in`` over bits). ``neuron_out [model, d_hidden, n_classes]`` is each neuron's direct effect
    on each logit (``W_out·W_U``, ``W_out·W_Eᵀ`` when tied, ``W_out`` when collapsed; transformer:
    the last block's ``W_out·W_U``). Either is None where the architecture has no such map.
    ``embedding`` is the token lookup table: ``W_E``, or for a PAIR MLP without one its input
    table ``W_in`` (so it equals ``neuron_in`` there); None for models that embed no tokens.
    ``hook_names[0]`` is the analysed neurons' post-activation as ``run_with_cache`` names it, and
    ``hook_names[1]``, when given, their pre-activation (the neuron-frequency rule of the analyses reads it).
    """

    arch: str  # the registry name ("pair_mlp", "transformer", "mlp", ...)
    input_kind: str  # "tokens" (LongTensor ids) or "features" (real-valued rows)
    d_hidden: int  # hidden neurons analysed (the last MLP layer's for transformers)
    embedding: Tensor | None  # [model, n_tokens, d_embed] token embedding rows; None if none
    neuron_in: Tensor | None  # [model, n_inputs, d_hidden]
    neuron_out: Tensor | None  # [model, d_hidden, n_classes]
    views: tuple[WeightView, ...]  # the weight matrices figures draw (heatmaps), in display order
    hook_names: tuple[str, ...]  # activation names run_with_cache returns, to cache for analyses


@dataclass(frozen=True)
class ModelCost:
    """How big one member is, per example where it depends on the batch (what sweep packing needs).

    ``width``: the widest activation row of one example (packing keeps members x rows x width under
    a budget); ``activation_elements``: elements of the activations ``run_with_cache`` records for
    one example (every named activation of a full forward pass).
    """

    n_params: int
    width: int
    activation_elements: int


def param_count(specs: Sequence) -> int:
    """Parameters of one member declared by ``ParamSpec``s: the sum of their shapes' products.

    >>> from grokscope.models import ParamSpec
    >>> param_count([ParamSpec("W", (3, 4)), ParamSpec("b", (4,))])
    16
    """
    return sum(math.prod(s.shape) for s in specs)


def state_tensor(state: Mapping[str, Tensor], name: str, arch: str) -> Tensor:
    """``state[name]`` (detached), or a one-line ``AnalysisError`` naming what is missing."""
    if name not in state:
        raise AnalysisError(f"checkpoint without {name!r}: not a state of model.arch={arch!r} with this config")
    return state[name].detach()
