"""A small causal transformer language model: next-token logits at every position, as an ensemble.

The parameters are exactly those of ``grokscope.models.Transformer`` with a GPT-2-like config
(:func:`lm_config`: pre-LayerNorm, GELU, learned positions, ``d_mlp = 4·d_model``, ``d_head = 16``,
logits over the whole byte vocabulary), declared by that module's parameter specs and drawn by
its seeded init. What differs is the output: the grokscope ``Transformer`` reads the answer at
the last position; a language model is trained on the next-token loss at **every** position.

- :class:`LM`: one model written plainly (every position, explicit softmax attention); the
  reference that the ensemble is checked against member by member.
- :class:`LMEnsemble`: ``n_models`` members of one shape with a leading ``model`` axis; tokens
  ``[batch, T]`` (shared by the members) or ``[model, batch, T]`` -> logits ``[model, batch, T, 256]``.
  It reuses ``models._transformer``'s batched pieces (per-member LayerNorm, projections, linear
  maps) and torch's fused causal attention.
- A member's state dict loads into ``grokscope.models.Transformer(cfg)`` unchanged; that model's
  logits on a window are the LM's logits at the window's last position, which is what QDG clusters
  (one sample = one predicted token with its context).

>>> cfg = lm_config(d_model=16, n_layers=1, n_ctx=8)
>>> ens = LMEnsemble(cfg, n_models=2).init_([0, 1])
>>> tuple(ens(torch.zeros(3, 8, dtype=torch.long)).shape)
(2, 3, 8, 256)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from grokscope.errors import ConfigError
from grokscope.models import TransformerConfig
from grokscope.models._common import (
    EnsembleBase,
    ReferenceBase,
    check_token_values,
    lookup,
)
from grokscope.models._transformer import _linear, _ln, _proj, _specs
from grokscope.quanta._lm_corpus import VOCAB
from grokscope.validate import check_int

__all__ = ["LM", "LMEnsemble", "lm_config", "n_non_embedding", "n_params"]

D_HEAD = 16  # small models: heads of 16 dimensions (d_model 32 -> 2 heads); GPT-2 uses 64 at d_model >= 768


def lm_config(d_model: int, n_layers: int = 2, n_ctx: int = 64, *, d_head: int = D_HEAD) -> TransformerConfig:
    """A GPT-2-like byte-level LM config (Radford et al. 2019: pre-LN, GELU, 4x MLP, learned positions)."""
    d_model = check_int(d_model, "d_model", 1)
    check_int(n_layers, "n_layers", 1)
    check_int(n_ctx, "n_ctx", 2)
    if d_model % d_head:
        raise ConfigError(f"d_model={d_model}: must be a multiple of d_head={d_head}")
    return TransformerConfig(d_vocab=VOCAB, n_ctx=n_ctx, n_classes=VOCAB, d_model=d_model, n_heads=d_model // d_head,
                             d_head=d_head, d_mlp=4 * d_model, n_layers=n_layers, act="gelu", norm="pre",
                             pos="learned", unembed="vocab")


def n_params(cfg: TransformerConfig) -> int:
    """Every parameter of one model."""
    return sum(math.prod(s.shape) for s in _specs(cfg))


def n_non_embedding(cfg: TransformerConfig) -> int:
    """Parameters other than W_E, W_pos and W_U: Kaplan et al. 2020's N, the x of L(N)."""
    skip = ("embed.W_E", "pos_embed.W_pos", "unembed.W_U")
    return sum(math.prod(s.shape) for s in _specs(cfg) if s.name not in skip)


def _check_cfg(cfg: TransformerConfig) -> None:
    if cfg.norm != "pre" or cfg.pos != "learned" or cfg.attn_bias or not cfg.mlp_bias or cfg.n_classes != cfg.d_vocab:
        raise ConfigError("the LM needs a pre-LN transformer with learned positions, MLP biases, no attention "
                          "biases and logits over the vocabulary: build its config with lm_config(...)")


class LM(ReferenceBase):
    """One LM computed plainly: ``tokens [batch, T]`` (T <= n_ctx) -> ``logits [batch, T, d_vocab]``.

    >>> tuple(LM(lm_config(16, 1, n_ctx=8)).init_(0)(torch.zeros(2, 5, dtype=torch.long)).shape)
    (2, 5, 256)
    """

    param_specs = staticmethod(_specs)

    def __init__(self, cfg: TransformerConfig, dtype: torch.dtype = torch.float32, device=None):
        _check_cfg(cfg)
        super().__init__(cfg, dtype, device)

    def _check_tokens(self, tokens: Tensor) -> Tensor:
        if tokens.dim() != 2 or not 1 <= tokens.shape[1] <= self.cfg.n_ctx:
            raise ConfigError(f"tokens of shape {tuple(tokens.shape)}: must be [batch, T] with 1 <= T <= {self.cfg.n_ctx}")
        return check_token_values(tokens, self.cfg.d_vocab)

    def _forward(self, tokens: Tensor, cache) -> Tensor:
        cfg = self.cfg
        T = tokens.shape[1]
        ln = lambda x, p: F.layer_norm(x, (cfg.d_model,), p.w, p.b, cfg.ln_eps)
        x = self.embed.W_E[tokens] + self.pos_embed.W_pos[:T]  # [batch, pos, d_model]
        causal = torch.ones(T, T, dtype=torch.bool, device=tokens.device).tril()  # [q, k]
        for blk in self.blocks:
            h = ln(x, blk.ln1)
            q, k, v = (torch.einsum("bpd,hde->bphe", h, getattr(blk.attn, f"W_{w}")) for w in "QKV")
            scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(cfg.d_head)  # [batch, head, q, k]
            pattern = scores.masked_fill(~causal, float("-inf")).softmax(dim=-1)
            z = torch.einsum("bhqk,bkhe->bqhe", pattern, v)  # [batch, pos, head, d_head]
            x = x + torch.einsum("bqhe,hed->bqd", z, blk.attn.W_O)
            h = ln(x, blk.ln2)
            x = x + F.gelu(h @ blk.mlp.W_in + blk.mlp.b_in) @ blk.mlp.W_out + blk.mlp.b_out
        return ln(x, self.ln_final) @ self.unembed.W_U  # [batch, pos, d_vocab]


class LMEnsemble(EnsembleBase):
    """``n_models`` LMs of one shape; parameters ``[model, ...]`` under ``Transformer``'s names.

    ``forward(tokens)``: ``[batch, T]`` or ``[model, batch, T]`` (T <= n_ctx) -> ``[model, batch, T, d_vocab]``.
    """

    reference_cls = LM

    def __init__(self, cfg: TransformerConfig, n_models: int, dtype: torch.dtype = torch.float32, device=None):
        _check_cfg(cfg)
        super().__init__(cfg, n_models, dtype, device)

    def _check_tokens(self, tokens: Tensor) -> Tensor:
        m, n_ctx = self.n_models, self.cfg.n_ctx
        ok = tokens.dim() == 2 or (tokens.dim() == 3 and tokens.shape[0] == m)
        if not ok or not 1 <= tokens.shape[-1] <= n_ctx:
            raise ConfigError(f"tokens of shape {tuple(tokens.shape)}: must be [{m}, batch, T] or [batch, T], T <= {n_ctx}")
        return check_token_values(tokens, self.cfg.d_vocab) if self.check_token_range else tokens

    def _forward(self, tokens: Tensor, cache) -> Tensor:
        cfg, m = self.cfg, self.n_models
        T, eps = tokens.shape[-1], cfg.ln_eps
        x = lookup(self.embed.W_E, tokens, tokens.dim() == 2) + self.pos_embed.W_pos[:, None, :T]  # [model, batch, pos, d_model]
        b = x.shape[1]
        for blk in self.blocks:
            h = _ln(x, blk.ln1, eps)
            q, k, v = (_proj(h, getattr(blk.attn, f"W_{w}")).transpose(2, 3) for w in "QKV")  # [model, batch, head, pos, d_head]
            z = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # [model, batch, head, pos, d_head]
            z = z.transpose(2, 3).reshape(m, b * T, cfg.n_heads * cfg.d_head)
            w_o = blk.attn.W_O.reshape(m, cfg.n_heads * cfg.d_head, cfg.d_model)
            x = x + torch.bmm(z, w_o).view(m, b, T, cfg.d_model)
            h = _ln(x, blk.ln2, eps)
            x = x + _linear(F.gelu(_linear(h, blk.mlp.W_in, blk.mlp.b_in)), blk.mlp.W_out, blk.mlp.b_out)
        x = _ln(x, self.ln_final, eps)
        return torch.bmm(x.reshape(m, b * T, cfg.d_model), self.unembed.W_U).view(m, b, T, cfg.d_vocab)
