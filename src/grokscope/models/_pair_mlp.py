"""The PAIR one-hidden-layer MLP for binary operations ``a ∘ b`` (inputs ``a b``).

PAIR (Pearce, Ghandeharioun et al. 2023, "Do Machine Learning Models Memorize or Generalize?")::

    hidden = act(a_onehot · W_input + b_onehot · W_input)          # shared input map for a and b
    logits = hidden · W_output

and the variants of its "Which Model Constraints Work Best?" section, where one or both matrices
are factored through an embedding ``W_E`` (their ``W_embed``):

- input  ``factored=True``:  ``W_input  = W_E · W_in``   (``W_E [p, d_embed]``, ``W_in [d_embed, d_hidden]``)
  input  ``factored=False``: ``W_input  = W_in``          (``W_in [p, d_hidden]``)
- output ``"tied"``:      ``W_output = W_out · W_E^T``  (``W_out [d_hidden, d_embed]``; needs n_classes == p)
  output ``"untied"``:    ``W_output = W_out · W_U``    (``W_U [d_embed, p]``)
  output ``"collapsed"``: ``W_output = W_out``          (``W_out [d_hidden, p]``)

PAIR reports the fully collapsed model does not generalize even with weight decay; at least one
side must be factored. Its appendix construction is ``factored=True, output="tied"`` (our default).

Init (std before the α multiplier), ``init="grokscope"`` (the default, our choice): a lookup table
read by a one-hot token (``W_E``, collapsed ``W_in``) has std ``1/sqrt(row width)`` so each row has
expected squared norm 1, the convention of Nanda et al. 2023's ``W_E``; every matrix contracting a
dense vector has std ``1/sqrt(fan_in)`` (LeCun et al. 1998). ``init="pair"``: what PAIR's notebooks
(PAIR-code/ai-explorables ``server-side/grokking``, haiku) draw: tables (``W_E``, collapsed ``W_in``,
``W_U``) from ``VarianceScaling(2)`` (truncated normal, std ``sqrt(2/fan_in)`` with haiku's fan-in,
the table's first dimension: ``p`` for ``W_E``), the ``hk.Linear`` layers (``W_in``, ``W_out``) from
haiku's default ``TruncatedNormal(1/sqrt(fan_in))``. Biases start at 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from grokscope.errors import ConfigError

from ._anatomy import Anatomy, OperandPairSizes, ModelCost, WeightView, param_count, state_tensor
from ._common import (
    EnsembleBase,
    ParamSpec,
    ReferenceBase,
    activation,
    check_choice,
    check_dropout,
    check_positive_int,
    lookup,
    record,
)
from ._registry import register_architecture

__all__ = ["PairMLPConfig", "PairMLP", "PairMLPEnsemble"]

_OUTPUTS = ("tied", "untied", "collapsed")
# haiku's VarianceScaling divides its truncated normal's stddev by this, the std of N(0, 1) cut at ±2
_TRUNC_STD = 0.87962566103423978
_ONEHOT_MAX_P = 256  # measured: below this, one-hot bmm trains faster than embedding lookups on CPU


@dataclass(frozen=True)
class PairMLPConfig(OperandPairSizes):
    """Hyperparameters of the PAIR MLP.

    >>> PairMLPConfig().n_classes
    67
    """

    p: int = 67  # PAIR 2023 trains a + b mod 67; also the vocabulary and the number of classes
    d_embed: int = 32  # not stated by PAIR; its 20-parameter construction uses 2, 32 leaves room
    d_hidden: int = 24  # PAIR 2023: "a one-layer MLP with 24 neurons"
    act: str = "relu"  # PAIR 2023 uses ReLU; "x2" is the exact Fourier solution's activation
    factored: bool = True  # W_input = W_E · W_in (PAIR's appendix model)
    output: str = "tied"  # W_output = W_out · W_E^T (PAIR's appendix model)
    bias: bool = False  # PAIR's model has no biases; True adds mlp.b_in [d_hidden]
    init: str = "grokscope"  # our draws; "pair": PAIR's notebooks' haiku initializers (see the module)
    # Inverted dropout on the hidden activations while training only (Srivastava et al. 2014; one of
    # PAIR 2023's regularizers): a rate in [0, 1) or one per member; 0 = off (the published setups).
    dropout: float = 0.0

    def __post_init__(self):
        check_positive_int(self.p, "model.p")
        check_positive_int(self.d_embed, "model.d_embed")
        check_positive_int(self.d_hidden, "model.d_hidden")
        activation(self.act)
        check_choice(self.output, "model.output", _OUTPUTS)
        check_choice(self.init, "model.init", ("grokscope", "pair"))
        object.__setattr__(self, "dropout", check_dropout(self.dropout))
        for name in ("factored", "bias"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"model.{name}={getattr(self, name)!r}: must be true or false")

    @property
    def has_embed(self) -> bool:
        return self.factored or self.output == "tied"


def _specs(cfg: PairMLPConfig) -> list[ParamSpec]:
    p, e, h = cfg.p, cfg.d_embed, cfg.d_hidden
    if cfg.init == "pair":  # haiku: VarianceScaling(2) for tables, TruncatedNormal(1/sqrt(fan_in)) for hk.Linear
        table = lambda name, shape: ParamSpec(name, shape, std=math.sqrt(2 / shape[0]) / _TRUNC_STD, dist="truncated")
        dense = lambda name, shape: ParamSpec(name, shape, std=1 / math.sqrt(shape[0]), dist="truncated")
    else:
        table = lambda name, shape: ParamSpec(name, shape, std=1 / math.sqrt(shape[1]))  # lookup: row norm ~1
        dense = lambda name, shape: ParamSpec(name, shape, std=1 / math.sqrt(shape[0]))  # fan-in
    specs = []
    if cfg.has_embed:
        specs.append(table("embed.W_E", (p, e)))
    specs.append(dense("mlp.W_in", (e, h)) if cfg.factored else table("mlp.W_in", (p, h)))
    if cfg.bias:
        specs.append(ParamSpec("mlp.b_in", (h,)))
    specs.append(dense("mlp.W_out", (h, p) if cfg.output == "collapsed" else (h, e)))
    if cfg.output == "untied":
        specs.append(table("unembed.W_U", (e, p)) if cfg.init == "pair" else dense("unembed.W_U", (e, p)))
    return specs


class PairMLP(ReferenceBase):
    """One PAIR MLP: ``tokens [batch, 2]`` (a, b) -> ``logits [batch, p]``.

    Cached activations: ``hook_embed [batch, 2, d_embed]`` (factored input only),
    ``mlp.hook_pre``/``mlp.hook_post [batch, d_hidden]``, ``hook_resid_final [batch, d_embed]``
    (factored output only: the vector that ``W_E^T``/``W_U`` reads), ``hook_logits``.

    >>> model = PairMLP(PairMLPConfig(p=7, d_embed=4, d_hidden=5)).init_(seed=0)
    >>> tuple(model(torch.tensor([[1, 2], [3, 4]])).shape)
    (2, 7)
    """

    param_specs = staticmethod(_specs)

    def _forward(self, tokens: Tensor, cache) -> Tensor:
        cfg = self.cfg
        if cfg.factored:
            emb = record(cache, "hook_embed", self.embed.W_E[tokens])  # [batch, 2, d_embed]
            pre = emb[:, 0] @ self.mlp.W_in + emb[:, 1] @ self.mlp.W_in  # [batch, d_hidden]
        else:
            pre = self.mlp.W_in[tokens[:, 0]] + self.mlp.W_in[tokens[:, 1]]  # [batch, d_hidden]
        if cfg.bias:
            pre = pre + self.mlp.b_in
        record(cache, "mlp.hook_pre", pre)
        post = self._drop(record(cache, "mlp.hook_post", activation(cfg.act)(pre)))  # [batch, d_hidden]
        if cfg.output == "collapsed":
            logits = post @ self.mlp.W_out  # [batch, p]
        else:
            resid = record(cache, "hook_resid_final", post @ self.mlp.W_out)  # [batch, d_embed]
            unembed = self.embed.W_E.T if cfg.output == "tied" else self.unembed.W_U  # [d_embed, p]
            logits = resid @ unembed
        return record(cache, "hook_logits", logits)


class PairMLPEnsemble(EnsembleBase):
    """``n_models`` PAIR MLPs computed together: ``tokens [model, batch, 2]`` or ``[batch, 2]`` ->
    ``logits [model, batch, p]``. Parameters are ``[model, ...]`` with :class:`PairMLP`'s names.

    >>> ens = PairMLPEnsemble(PairMLPConfig(p=7, d_embed=4, d_hidden=5), n_models=3).init_([0, 1, 2])
    >>> tuple(ens(torch.tensor([[1, 2], [3, 4]])).shape)
    (3, 2, 7)
    """

    reference_cls = PairMLP
    input_kind = "tokens"

    def anatomy(self, state=None) -> Anatomy:
        """The input map ``W_E·W_in`` (``W_in`` unfactored) ``[model, p, d_hidden]``, the output map
        ``W_out·W_Eᵀ`` / ``W_out·W_U`` / ``W_out`` ``[model, d_hidden, p]``, and ``W_E`` as the
        embedding (the input table ``W_in`` when there is no ``W_E``), from ``state`` or the current
        weights (products in the state's dtype: hand a float64 state for float64 maps)."""
        cfg = self.cfg
        state = self.state_dict() if state is None else state

        def get(name: str) -> Tensor:
            return state_tensor(state, name, "pair_mlp")

        w_e = get("embed.W_E") if cfg.has_embed else None  # [model, p, d_embed]
        w_in = w_e @ get("mlp.W_in") if cfg.factored else get("mlp.W_in")  # [model, p, d_hidden]
        w_out = get("mlp.W_out")
        if cfg.output == "untied":
            w_out, title = w_out @ get("unembed.W_U"), "output map (W_out·W_U)ᵀ"  # [model, d_hidden, p]
        elif cfg.output == "tied":
            w_out, title = w_out @ w_e.transpose(1, 2), "output map (W_out·W_Eᵀ)ᵀ"
        else:
            title = "output map W_outᵀ"
        views = (
            WeightView("input map W_E·W_in" if cfg.factored else "input map W_in", w_in, "input token", "hidden unit"),
            WeightView(title, w_out.transpose(1, 2), "output class", "hidden unit"),  # [model, p, d_hidden]
        )
        return Anatomy(
            arch="pair_mlp", input_kind=self.input_kind, d_hidden=cfg.d_hidden,
            embedding=w_in if w_e is None else w_e, neuron_in=w_in, neuron_out=w_out,
            views=views, hook_names=("mlp.hook_post", "mlp.hook_pre"),
        )

    @classmethod
    def cost(cls, cfg: PairMLPConfig) -> ModelCost:
        """Parameters; width ``max(d_hidden, p)`` (hidden layer or logits); cached activations."""
        p, e, h = cfg.p, cfg.d_embed, cfg.d_hidden
        acts = (2 * e if cfg.factored else 0) + 2 * h + (0 if cfg.output == "collapsed" else e) + p
        return ModelCost(n_params=param_count(_specs(cfg)), width=max(h, p), activation_elements=acts)

    def _forward(self, tokens: Tensor, cache) -> Tensor:
        cfg = self.cfg
        shared = tokens.dim() == 2
        if cfg.factored:
            if cache is not None:
                record(cache, "hook_embed", lookup(self.embed.W_E, tokens, shared))  # [model, batch, 2, d_embed]
            # W_E·W_in once per vocabulary row instead of once per example: p rows << batch.
            table = torch.bmm(self.embed.W_E, self.mlp.W_in)  # [model, p, d_hidden]
        else:
            table = self.mlp.W_in  # [model, p, d_hidden]
        if not shared and cfg.p <= _ONEHOT_MAX_P:
            # one-hot(a) + one-hot(b) times the table, as PAIR writes the model: for small p one
            # bmm (and one in backward) beats two embedding lookups, whose backward sorts indices.
            x = torch.zeros(*tokens.shape[:2], cfg.p, dtype=table.dtype, device=table.device)  # [model, batch, p]
            x.scatter_(2, tokens[..., :1], 1.0)
            x.scatter_add_(2, tokens[..., 1:], torch.ones_like(x[..., :1]))
            pre = torch.bmm(x, table)  # [model, batch, d_hidden]
        else:
            pre = lookup(table, tokens[..., 0], shared) + lookup(table, tokens[..., 1], shared)  # [model, batch, d_hidden]
        if cfg.bias:
            pre = pre + self.mlp.b_in[:, None, :]
        record(cache, "mlp.hook_pre", pre)
        post = self._drop(record(cache, "mlp.hook_post", activation(cfg.act)(pre)))  # [model, batch, d_hidden]
        if cfg.output == "collapsed":
            logits = torch.bmm(post, self.mlp.W_out)  # [model, batch, p]
        else:
            unembed = self.embed.W_E.transpose(1, 2) if cfg.output == "tied" else self.unembed.W_U  # [model, d_embed, p]
            if cache is None:
                # W_out·unembed once per member: d_hidden·p per example instead of d_embed·(d_hidden + p).
                logits = torch.bmm(post, torch.bmm(self.mlp.W_out, unembed))  # [model, batch, p]
            else:
                resid = record(cache, "hook_resid_final", torch.bmm(post, self.mlp.W_out))  # [model, batch, d_embed]
                logits = torch.bmm(resid, unembed)
        return record(cache, "hook_logits", logits)


def _task_sizes(task) -> dict[str, int]:
    """``p`` from a task of two operand tokens whose classes are its tokens (``a ∘ b`` mod p)."""
    if task.n_ctx != 2 or task.n_classes != task.vocab_size:
        raise ConfigError(
            f"model.arch='pair_mlp' with task {task.name}: needs two operand tokens"
            " and n_classes == vocab_size; use 'transformer'"
        )
    return {"p": task.vocab_size}


register_architecture("pair_mlp", PairMLPConfig, PairMLPEnsemble, PairMLP, _task_sizes)
