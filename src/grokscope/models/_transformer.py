"""Decoder-only transformer for ``a b =`` sequences, answer read at the last position.

Nanda et al. 2023 ("Progress measures for grokking via mechanistic interpretability"): one layer,
d_model 128, 4 heads of d_head 32, d_mlp 512, ReLU, learned positional embedding, causal attention,
no LayerNorm, MLP biases, no attention biases; tokens ``a b =`` (vocab p+1), logits at the last
position. Power et al. 2022 ("Grokking: Generalization Beyond Overfitting"): two layers, width 128,
4 heads; their code (openai/grok, ``DecoderBlock``) applies LayerNorm *after* each residual add
(``norm="post"``), has no biases (``mlp_bias=False``) and uses fixed sinusoidal positions
(``pos="sinusoidal"``). Lee et al. 2024 ("Grokfast"; ironjr/grokfast ``main.py``): two pre-LayerNorm
layers whose block overwrites the residual stream with its first LayerNorm's output
(``norm="pre_overwrite"``: ``x = ln_1(x); x = x + attn(x); x = x + mlp(ln_2(x))``), attention and
MLP biases (``attn_bias``), GELU, torch's default initialization of ``nn.MultiheadAttention``
(``init="torch-mha"``), logits over the whole vocabulary (``unembed="vocab"``).

Weights use TransformerLens names; per block ``attn.W_Q/W_K/W_V [n_heads, d_model, d_head]``,
``attn.W_O [n_heads, d_head, d_model]``, ``mlp.W_in [d_model, d_mlp]``, ``mlp.b_in``, ``mlp.W_out``,
``mlp.b_out``, and ``ln1``/``ln2`` (``w``, ``b``) when ``norm != "none"`` (plus ``ln_final`` for "pre").

Init (``init="nanda"``, the default) follows Nanda et al. 2023's code: std ``1/sqrt(d_model)`` for
W_E, W_pos, W_Q, W_K, W_V, W_O, W_in and W_out (sic: not fan-in ``1/sqrt(d_mlp)`` for W_out),
``1/sqrt(d_vocab)`` for W_U, zero biases. ``init="torch-linear"`` draws what torch's modules draw
when every projection is an ``nn.Linear`` (openai/grok): embeddings N(0, 1) (``nn.Embedding``),
weights and biases U(±1/sqrt(fan_in)); ``"torch-mha"`` differs in attention, drawn as
``nn.MultiheadAttention`` draws it (ironjr/grokfast): W_Q, W_K, W_V Xavier-uniform over the packed
``[3·d_model, d_model]`` input projection, its biases and W_O's bias zero.

The ensemble's fast path (``last_only=True``, the default) is exact, not approximate: since only the
last position's logits are read, the last layer computes queries, attention output, MLP and
unembedding at that position only (keys/values everywhere); and, when layer 0 reads the raw
embedding (``norm != "pre"``), its queries/keys/values are looked up from per-token tables
``W_E·W_Q`` etc. (``d_vocab`` rows) instead of being projected once per example.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from grokscope.errors import ConfigError
from grokscope.validate import check_bool

from ._anatomy import Anatomy, ModelCost, WeightView, param_count, state_tensor
from ._common import (EnsembleBase, ParamSpec, ReferenceBase, activation, check_choice, check_dropout,
                      check_positive_int, lookup, record)
from ._registry import register_architecture

__all__ = ["TransformerConfig", "Transformer", "TransformerEnsemble"]

_NORMS = ("none", "pre", "post", "pre_overwrite")
_PRE = ("pre", "pre_overwrite")  # LayerNorm before attention and MLP, and a final one before W_U
_POS = ("learned", "sinusoidal")
_INITS = ("nanda", "torch-linear", "torch-mha")
_UNEMBED = ("classes", "vocab")


@dataclass(frozen=True)
class TransformerConfig:
    """Transformer hyperparameters; defaults are Nanda et al. 2023's p=113 model.

    >>> TransformerConfig.power2022(p=97).n_layers
    2
    """

    d_vocab: int = 114  # Nanda 2023: the numbers 0..112 and the "=" token
    n_ctx: int = 3  # "a b ="
    n_classes: int = 113  # the answer c in [0, p)
    d_model: int = 128  # Nanda 2023, Power 2022
    n_heads: int = 4  # Nanda 2023, Power 2022
    d_head: int = 32  # Nanda 2023: d_model / n_heads
    d_mlp: int = 512  # Nanda 2023: 4 * d_model
    n_layers: int = 1  # Nanda 2023 (Power 2022: 2)
    act: str = "relu"  # Nanda 2023
    norm: str = "none"  # Nanda 2023 has no LayerNorm; Power 2022's code is "post"; grokfast's "pre_overwrite"
    ln_eps: float = 1e-5  # torch.nn.LayerNorm's default, which openai/grok uses
    pos: str = "learned"  # Nanda 2023, grokfast; openai/grok (Power 2022) uses fixed "sinusoidal" positions
    attn_bias: bool = False  # Nanda 2023 has none; nn.MultiheadAttention (grokfast) has b_Q, b_K, b_V, b_O
    mlp_bias: bool = True  # Nanda 2023; openai/grok's FFN has none
    init: str = "nanda"  # Nanda 2023's code; "torch-linear" (openai/grok), "torch-mha" (grokfast): see above
    # "classes": logits for the task's classes (Nanda 2023); "vocab": for every token, as a language
    # model's head (openai/grok, grokfast), the non-answer tokens being wrong answers.
    unembed: str = "classes"
    # Inverted dropout on each block's attention and MLP outputs (before they join the residual
    # stream), while training only, as GPT-2's resid_pdrop (Radford et al. 2019); a rate in [0, 1)
    # or one per member; 0 = off (Nanda 2023, Power 2022 and grokfast use none).
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("d_vocab", "n_ctx", "n_classes", "d_model", "n_heads", "d_head", "d_mlp", "n_layers"):
            check_positive_int(getattr(self, name), f"model.{name}")
        activation(self.act)
        check_choice(self.norm, "model.norm", _NORMS)
        check_choice(self.pos, "model.pos", _POS)
        check_choice(self.init, "model.init", _INITS)
        check_choice(self.unembed, "model.unembed", _UNEMBED)
        check_bool(self.attn_bias, "model.attn_bias")
        check_bool(self.mlp_bias, "model.mlp_bias")
        object.__setattr__(self, "dropout", check_dropout(self.dropout))
        if not (isinstance(self.ln_eps, (int, float)) and self.ln_eps > 0):
            raise ConfigError(f"model.ln_eps={self.ln_eps!r}: must be a number > 0")
        if self.unembed == "vocab" and self.n_classes != self.d_vocab:
            if self.n_classes > self.d_vocab:
                raise ConfigError(f"model.unembed='vocab': the task's {self.n_classes} classes must be tokens "
                                  f"(at most d_vocab={self.d_vocab})")
            object.__setattr__(self, "n_classes", self.d_vocab)  # class c is token c; the others never the answer

    @classmethod
    def nanda2023(cls, p: int = 113) -> "TransformerConfig":
        """Nanda et al. 2023's one-layer model for ``a + b mod p``."""
        return cls(d_vocab=p + 1, n_classes=p)

    @classmethod
    def power2022(cls, p: int = 97) -> "TransformerConfig":
        """Power et al. 2022's two-layer model (post-LayerNorm; learned, not sinusoidal, positions)."""
        return cls(d_vocab=p + 1, n_classes=p, n_layers=2, norm="post")


def _init_stds(cfg: TransformerConfig) -> dict[str, tuple[float | None, bool]]:
    """``{role: (std, uniform)}`` of each kind of parameter under ``cfg.init`` (std None: zeros)."""
    D, M, HE = cfg.d_model, cfg.d_mlp, cfg.n_heads * cfg.d_head
    if cfg.init == "nanda":  # randn / sqrt(d_model) for every matrix but W_U; zero biases
        std = 1 / math.sqrt(D)
        return {"W_E": (std, False), "W_pos": (std, False), "W_QKV": (std, False), "W_O": (std, False),
                "b_QKV": (None, False), "b_O": (None, False), "W_in": (std, False), "b_in": (None, False),
                "W_out": (std, False), "b_out": (None, False), "W_U": (1 / math.sqrt(cfg.d_vocab), False)}
    lin = lambda fan_in: (1 / math.sqrt(3 * fan_in), True)  # nn.Linear: U(±1/sqrt(fan_in)), std = bound/sqrt(3)
    out = {"W_E": (1.0, False), "W_pos": (1.0, False), "W_QKV": lin(D), "b_QKV": lin(D), "W_O": lin(HE),
           "b_O": lin(HE), "W_in": lin(D), "b_in": lin(D), "W_out": lin(M), "b_out": lin(M), "W_U": lin(D)}
    if cfg.init == "torch-mha":  # Xavier-uniform over the packed [3·D, D] in_proj; zero in_proj and out biases
        out.update(W_QKV=(math.sqrt(6 / (D + 3 * HE)) / math.sqrt(3), True), b_QKV=(None, False), b_O=(None, False))
    return out


def _specs(cfg: TransformerConfig) -> list[ParamSpec]:
    D, H, E, M = cfg.d_model, cfg.n_heads, cfg.d_head, cfg.d_mlp
    init = _init_stds(cfg)

    def spec(name: str, shape: tuple[int, ...], role: str) -> ParamSpec:
        std, uniform = init[role]
        return ParamSpec(name, shape, std, dist="uniform" if uniform else "normal")

    specs = [spec("embed.W_E", (cfg.d_vocab, D), "W_E")]
    if cfg.pos == "learned":
        specs.append(spec("pos_embed.W_pos", (cfg.n_ctx, D), "W_pos"))
    for l in range(cfg.n_layers):
        b = f"blocks.{l}."
        if cfg.norm != "none":
            specs += [ParamSpec(b + "ln1.w", (D,), fill=1.0), ParamSpec(b + "ln1.b", (D,))]
        specs += [spec(b + f"attn.{w}", (H, D, E), "W_QKV") for w in ("W_Q", "W_K", "W_V")]
        if cfg.attn_bias:
            specs += [spec(b + f"attn.{w}", (H, E), "b_QKV") for w in ("b_Q", "b_K", "b_V")]
        specs.append(spec(b + "attn.W_O", (H, E, D), "W_O"))
        if cfg.attn_bias:
            specs.append(spec(b + "attn.b_O", (D,), "b_O"))
        if cfg.norm != "none":
            specs += [ParamSpec(b + "ln2.w", (D,), fill=1.0), ParamSpec(b + "ln2.b", (D,))]
        specs.append(spec(b + "mlp.W_in", (D, M), "W_in"))
        if cfg.mlp_bias:
            specs.append(spec(b + "mlp.b_in", (M,), "b_in"))
        specs.append(spec(b + "mlp.W_out", (M, D), "W_out"))
        if cfg.mlp_bias:
            specs.append(spec(b + "mlp.b_out", (D,), "b_out"))
    if cfg.norm in _PRE:
        specs += [ParamSpec("ln_final.w", (D,), fill=1.0), ParamSpec("ln_final.b", (D,))]
    specs.append(spec("unembed.W_U", (D, cfg.n_classes), "W_U"))
    return specs


@functools.lru_cache(maxsize=8)
def _sinusoid(n_ctx: int, d_model: int) -> Tensor:
    """openai/grok's fixed positions ``[n_ctx, d_model]`` (float64): ``sin(pos / 10000^(i/d))`` at
    even ``i``, ``cos(pos / 10000^((i-1)/d))`` at odd ``i`` (Vaswani et al. 2017)."""
    pos = torch.arange(n_ctx, dtype=torch.float64)[:, None]
    i = torch.arange(d_model)
    angle = pos / 10000 ** ((i - i % 2).double() / d_model)  # [n_ctx, d_model]
    return torch.where(i % 2 == 0, angle.sin(), angle.cos())


def _positions(module, first: int, T: int) -> Tensor:
    """Position embeddings of positions ``first..T-1``: ``[(model,) T-first, d_model]``, learned or fixed."""
    if module.cfg.pos == "learned":
        return module.pos_embed.W_pos[..., first:T, :]
    W_E = module.embed.W_E
    return _sinusoid(module.cfg.n_ctx, module.cfg.d_model)[first:T].to(W_E.dtype).to(W_E.device)


def _bias(module, name: str) -> Tensor | None:
    return getattr(module, name, None)


class Transformer(ReferenceBase):
    """One transformer, computed plainly at every position: ``tokens [batch, n_ctx]`` ->
    ``logits [batch, n_classes]`` (the last position's).

    Cached (TransformerLens names and layouts): ``hook_embed``, ``hook_pos_embed``,
    ``blocks.{l}.hook_resid_pre`` ``[batch, pos, d_model]``; ``blocks.{l}.attn.hook_q/hook_k/hook_v``
    and ``hook_z [batch, pos, head, d_head]``; ``blocks.{l}.attn.hook_pattern [batch, head, q, k]``;
    ``blocks.{l}.hook_attn_out``, ``hook_resid_mid``, ``mlp.hook_pre``/``hook_post [batch, pos, d_mlp]``,
    ``hook_mlp_out``, ``hook_resid_post``; ``hook_resid_final [batch, d_model]`` (last position, after
    ``ln_final``); ``hook_logits``.

    >>> cfg = TransformerConfig(d_vocab=8, n_classes=7, d_model=16, n_heads=2, d_head=8, d_mlp=32)
    >>> tuple(Transformer(cfg).init_(seed=0)(torch.tensor([[1, 2, 7]])).shape)
    (1, 7)
    """

    param_specs = staticmethod(_specs)

    def _ln(self, x: Tensor, ln) -> Tensor:
        return F.layer_norm(x, (self.cfg.d_model,), ln.w, ln.b, self.cfg.ln_eps)

    def _forward(self, tokens: Tensor, cache) -> Tensor:
        cfg = self.cfg
        T = tokens.shape[1]
        embed = record(cache, "hook_embed", self.embed.W_E[tokens])  # [batch, pos, d_model]
        pos = record(cache, "hook_pos_embed", _positions(self, 0, T).expand_as(embed))
        x = embed + pos
        causal = torch.ones(T, T, dtype=torch.bool, device=tokens.device).tril()  # [q, k]
        pre_ln = cfg.norm in _PRE
        for l, blk in enumerate(self.blocks):
            b = f"blocks.{l}."
            record(cache, b + "hook_resid_pre", x)
            h = self._ln(x, blk.ln1) if pre_ln else x
            if cfg.norm == "pre_overwrite":
                x = h  # grokfast's Block: the residual stream continues from ln_1's output
            qkv = []
            for w in ("Q", "K", "V"):
                t = torch.einsum("bpd,hde->bphe", h, getattr(blk.attn, f"W_{w}"))  # [batch, pos, head, d_head]
                bias = _bias(blk.attn, f"b_{w}")
                qkv.append(record(cache, b + f"attn.hook_{w.lower()}", t if bias is None else t + bias))
            q, k, v = qkv
            scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(cfg.d_head)
            scores = scores.masked_fill(~causal, float("-inf"))  # no attending to later positions
            pattern = record(cache, b + "attn.hook_pattern", scores.softmax(dim=-1))  # [batch, head, q, k]
            z = record(cache, b + "attn.hook_z", torch.einsum("bhqk,bkhe->bqhe", pattern, v))
            attn_out = torch.einsum("bqhe,hed->bqd", z, blk.attn.W_O)
            b_O = _bias(blk.attn, "b_O")
            x = x + record(cache, b + "hook_attn_out", self._drop(attn_out if b_O is None else attn_out + b_O))
            if cfg.norm == "post":
                x = self._ln(x, blk.ln1)
            record(cache, b + "hook_resid_mid", x)
            h = self._ln(x, blk.ln2) if pre_ln else x
            b_in, b_out = _bias(blk.mlp, "b_in"), _bias(blk.mlp, "b_out")
            pre = h @ blk.mlp.W_in
            pre = record(cache, b + "mlp.hook_pre", pre if b_in is None else pre + b_in)  # [batch, pos, d_mlp]
            post = record(cache, b + "mlp.hook_post", activation(cfg.act)(pre))
            out = post @ blk.mlp.W_out
            x = x + record(cache, b + "hook_mlp_out", self._drop(out if b_out is None else out + b_out))
            if cfg.norm == "post":
                x = self._ln(x, blk.ln2)
            record(cache, b + "hook_resid_post", x)
        if pre_ln:
            x = self._ln(x, self.ln_final)
        final = record(cache, "hook_resid_final", x[:, -1])  # [batch, d_model]: the answer is read here
        return record(cache, "hook_logits", final @ self.unembed.W_U)


def _ln(x: Tensor, ln, eps: float) -> Tensor:
    """LayerNorm with per-member gain/bias ``[model, d_model]`` over ``x [model, ..., d_model]``."""
    shape = (ln.w.shape[0],) + (1,) * (x.dim() - 2) + (ln.w.shape[1],)
    return F.layer_norm(x, x.shape[-1:], None, None, eps) * ln.w.view(shape) + ln.b.view(shape)


def _proj(x: Tensor, W: Tensor) -> Tensor:
    """Per-head projection: ``x [model, batch, pos, d_model]``, ``W [model, head, d_model, d_head]``
    -> ``[model, batch, pos, head, d_head]``, as one bmm per member over all heads."""
    m, b, t, d = x.shape
    h, e = W.shape[1], W.shape[3]
    w = W.permute(0, 2, 1, 3).reshape(m, d, h * e)  # [model, d_model, head*d_head]
    return torch.bmm(x.reshape(m, b * t, d), w).view(m, b, t, h, e)


def _linear(x: Tensor, W: Tensor, bias: Tensor | None) -> Tensor:
    """``x [model, batch, pos, d_in] · W [model, d_in, d_out] (+ bias [model, d_out])``."""
    m, b, t, d = x.shape
    flat = x.reshape(m, b * t, d)
    out = torch.bmm(flat, W) if bias is None else torch.baddbmm(bias[:, None, :], flat, W)  # [model, batch*pos, d_out]
    return out.view(m, b, t, -1)


def _attention(q: Tensor, k: Tensor, v: Tensor, q_start: int) -> tuple[Tensor, Tensor]:
    """Causal attention for queries at positions ``q_start..``; ``q [model, batch, q, head, d_head]``,
    ``k, v [model, batch, k, head, d_head]`` -> ``pattern [model, batch, head, q, k]``, ``z [model, batch, q, head, d_head]``."""
    n_q, T, d_head = q.shape[2], k.shape[2], q.shape[-1]
    causal = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()[q_start:]  # [q, k]
    if n_q * T <= 64:
        # Short contexts ("a b =" has 3): broadcast-multiply-sum is several times faster on CPU than
        # model*batch*head matmuls of 3x32 matrices (profiled; see benchmarks/bench_models.py).
        scores = (q.unsqueeze(3) * k.unsqueeze(2)).sum(-1) / math.sqrt(d_head)  # [model, batch, q, k, head]
        scores = scores.masked_fill(~causal[:, :, None], float("-inf"))
        pattern = scores.softmax(dim=3)
        z = (pattern.unsqueeze(-1) * v.unsqueeze(2)).sum(3)  # [model, batch, q, head, d_head]
        return pattern.permute(0, 1, 4, 2, 3), z
    scores = torch.einsum("mbqhe,mbkhe->mbhqk", q, k) / math.sqrt(d_head)  # [model, batch, head, q, k]
    pattern = scores.masked_fill(~causal, float("-inf")).softmax(dim=-1)
    return pattern, torch.einsum("mbhqk,mbkhe->mbqhe", pattern, v)


class TransformerEnsemble(EnsembleBase):
    """``n_models`` transformers with :class:`Transformer`'s parameter names and a leading ``model`` axis.

    ``forward(tokens, last_only=True)``: ``tokens [model, batch, n_ctx]`` or ``[batch, n_ctx]``
    -> ``logits [model, batch, n_classes]``. ``last_only=False`` computes every position (the
    straightforward path); ``run_with_cache`` uses it by default so every activation has its full
    shape. With ``last_only=True`` the last layer's activations downstream of its queries
    (``hook_q``, ``hook_pattern``'s q axis, ``hook_z``, ``hook_attn_out``, ``hook_resid_mid``, MLP,
    ``hook_resid_post``) have a position axis of length 1; everything else is as in the full path.

    >>> cfg = TransformerConfig(d_vocab=8, n_classes=7, d_model=16, n_heads=2, d_head=8, d_mlp=32)
    >>> ens = TransformerEnsemble(cfg, n_models=2).init_([0, 1])
    >>> tuple(ens(torch.tensor([[1, 2, 7]])).shape)
    (2, 1, 7)
    """

    reference_cls = Transformer
    input_kind = "tokens"

    def anatomy(self, state=None) -> Anatomy:
        """The last block's MLP neurons: input map ``W_E·W_in`` (the direct path from the token
        embedding, ``[model, d_vocab, d_mlp]``), output map ``W_out·W_U`` ``[model, d_mlp, n_classes]``
        (LayerNorm, where there is one, is not folded in); the embedding ``W_E`` (every token, "="
        included). From ``state`` or the current weights, in the state's dtype."""
        cfg = self.cfg
        state = self.state_dict() if state is None else state

        def get(name: str) -> Tensor:
            return state_tensor(state, name, "transformer")

        b = f"blocks.{cfg.n_layers - 1}."
        w_e = get("embed.W_E")  # [model, d_vocab, d_model]
        return Anatomy(
            arch="transformer", input_kind=self.input_kind, d_hidden=cfg.d_mlp, embedding=w_e,
            neuron_in=w_e @ get(b + "mlp.W_in"),  # [model, d_vocab, d_mlp]
            neuron_out=get(b + "mlp.W_out") @ get("unembed.W_U"),  # [model, d_mlp, n_classes]
            views=(WeightView("embedding W_E", w_e, "input token", "residual-stream dimension"),),
            hook_names=(b + "mlp.hook_post", b + "mlp.hook_pre"),
        )

    @classmethod
    def cost(cls, cfg: TransformerConfig) -> ModelCost:
        """Parameters; width ``max(d_mlp, n_classes)``; the activations of the full (every position) path."""
        T, D, H, E, M = cfg.n_ctx, cfg.d_model, cfg.n_heads, cfg.d_head, cfg.d_mlp
        # per block: resid_pre, attn_out, resid_mid, mlp_out, resid_post; q, k, v, z; pattern; MLP pre, post
        block = 5 * T * D + 4 * T * H * E + H * T * T + 2 * T * M
        acts = 2 * T * D + cfg.n_layers * block + D + cfg.n_classes  # + embed, pos_embed; resid_final, logits
        return ModelCost(n_params=param_count(_specs(cfg)), width=max(M, cfg.n_classes), activation_elements=acts)

    def run_with_cache(self, tokens: Tensor, last_only: bool = False):
        return super().run_with_cache(tokens, last_only=last_only)

    def _forward(self, tokens: Tensor, cache, last_only: bool = True) -> Tensor:
        cfg = self.cfg
        shared = tokens.dim() == 2
        T = tokens.shape[-1]
        tables = last_only and cfg.norm not in _PRE
        # With tables and a single layer, only the last position's residual is ever read.
        first = T - 1 if (tables and cfg.n_layers == 1 and cache is None) else 0
        embed = record(cache, "hook_embed", lookup(self.embed.W_E, tokens[..., first:], shared))  # [model, batch, pos, d_model]
        pos = record(cache, "hook_pos_embed", _positions(self, first, T).unsqueeze(-3).expand_as(embed))
        x = embed + pos
        for l in range(cfg.n_layers):
            last = last_only and l == cfg.n_layers - 1
            x = self._block(l, x, tokens, shared, last, tables and l == 0, cache)
        if cfg.norm in _PRE:
            x = _ln(x, self.ln_final, cfg.ln_eps)
        final = record(cache, "hook_resid_final", x[:, :, -1])  # [model, batch, d_model]
        return record(cache, "hook_logits", torch.bmm(final, self.unembed.W_U))  # [model, batch, n_classes]

    def _qkv_from_tables(self, W: Tensor, tokens: Tensor, shared: bool, first: int) -> Tensor:
        """Layer-0 ``(W_E[tok] + W_pos[pos]) · W`` for positions ``first..`` via per-token tables."""
        tab = torch.einsum("mvd,mhde->mvhe", self.embed.W_E, W)  # [model, d_vocab, head, d_head]
        positions = _positions(self, first, tokens.shape[-1]).expand(W.shape[0], -1, -1)  # [model, pos, d_model]
        pos = torch.einsum("mtd,mhde->mthe", positions, W)
        return lookup(tab, tokens[..., first:], shared) + pos[:, None]  # [model, batch, pos, head, d_head]

    def _block(self, l: int, x: Tensor, tokens: Tensor, shared: bool, last: bool, tables: bool, cache) -> Tensor:
        cfg, blk, b = self.cfg, self.blocks[l], f"blocks.{l}."
        m, n_b, T = x.shape[0], x.shape[1], tokens.shape[-1]
        n_q = 1 if last else T  # query positions computed: the last one only, in the last layer's fast path
        record(cache, b + "hook_resid_pre", x)
        if tables:
            q = self._qkv_from_tables(blk.attn.W_Q, tokens, shared, T - n_q)
            k = self._qkv_from_tables(blk.attn.W_K, tokens, shared, 0)
            v = self._qkv_from_tables(blk.attn.W_V, tokens, shared, 0)
        else:
            h = _ln(x, blk.ln1, cfg.ln_eps) if cfg.norm in _PRE else x
            if cfg.norm == "pre_overwrite":
                x = h  # grokfast's Block: the residual stream continues from ln_1's output
            q = _proj(h[:, :, T - n_q :], blk.attn.W_Q)  # [model, batch, q, head, d_head]
            k = _proj(h, blk.attn.W_K)  # [model, batch, pos, head, d_head]
            v = _proj(h, blk.attn.W_V)
        if cfg.attn_bias:  # b_Q, b_K, b_V [model, head, d_head]
            q, k, v = (t + getattr(blk.attn, f"b_{w}")[:, None, None] for t, w in ((q, "Q"), (k, "K"), (v, "V")))
        record(cache, b + "attn.hook_q", q)
        record(cache, b + "attn.hook_k", k)
        record(cache, b + "attn.hook_v", v)
        pattern, z = _attention(q, k, v, T - n_q)
        record(cache, b + "attn.hook_pattern", pattern)  # [model, batch, head, q, k]
        record(cache, b + "attn.hook_z", z)  # [model, batch, q, head, d_head]
        w_o = blk.attn.W_O.reshape(m, cfg.n_heads * cfg.d_head, cfg.d_model)  # [model, head*d_head, d_model]
        flat_z = z.reshape(m, n_b * n_q, -1)
        attn_out = (torch.bmm(flat_z, w_o) if not cfg.attn_bias else
                    torch.baddbmm(blk.attn.b_O[:, None, :], flat_z, w_o)).view(m, n_b, n_q, cfg.d_model)
        # Dropout masks span every position (as the reference's), of which the computed ones are used.
        attn_out = record(cache, b + "hook_attn_out", self._drop(attn_out, full=(n_b, T, cfg.d_model)))
        x = x[:, :, -n_q:] + attn_out  # [model, batch, q, d_model]
        if cfg.norm == "post":
            x = _ln(x, blk.ln1, cfg.ln_eps)
        record(cache, b + "hook_resid_mid", x)
        h = _ln(x, blk.ln2, cfg.ln_eps) if cfg.norm in _PRE else x
        pre = record(cache, b + "mlp.hook_pre", _linear(h, blk.mlp.W_in, _bias(blk.mlp, "b_in")))  # [model, batch, q, d_mlp]
        post = record(cache, b + "mlp.hook_post", activation(cfg.act)(pre))
        mlp_out = self._drop(_linear(post, blk.mlp.W_out, _bias(blk.mlp, "b_out")), full=(n_b, T, cfg.d_model))
        x = x + record(cache, b + "hook_mlp_out", mlp_out)
        if cfg.norm == "post":
            x = _ln(x, blk.ln2, cfg.ln_eps)
        return record(cache, b + "hook_resid_post", x)


def _task_sizes(task) -> dict[str, int]:
    """Vocabulary, context and classes straight from the task: any token task fits."""
    return {"d_vocab": task.vocab_size, "n_ctx": task.n_ctx, "n_classes": task.n_classes}


register_architecture("transformer", TransformerConfig, TransformerEnsemble, Transformer, _task_sizes)
