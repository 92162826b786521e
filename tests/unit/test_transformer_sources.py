"""The transformer's published variants against torch's own modules and the papers' formulas.

- grokfast (Lee et al. 2024, ironjr/grokfast ``main.py``): a block written here from
  ``nn.MultiheadAttention``, ``nn.LayerNorm``, ``nn.Linear`` and ``nn.GELU`` in that code's order
  (the residual stream continues from ``ln_1``'s output), loaded with our weights, gives our logits.
- openai/grok's fixed sinusoidal positions against the formula evaluated one element at a time.
- The torch-default initializations draw within the bounds torch's own modules use.
- ``unembed="vocab"``: logits over every token, the answer being a token id.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from grokscope.errors import ConfigError
from grokscope.models import Transformer, TransformerConfig, TransformerEnsemble
from grokscope.tasks import make_task

F64 = torch.float64


class _TorchBlock(nn.Module):
    """A pre-LayerNorm causal block as grokfast's ``Block`` computes it, batch first."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        T = x.shape[1]
        mask = torch.triu(torch.full((T, T), float("-inf"), dtype=x.dtype), diagonal=1)
        x = self.ln_1(x)
        a, _ = self.attn(x, x, x, attn_mask=mask, need_weights=False)
        x = x + a
        return x + self.mlp(self.ln_2(x))


class _TorchDecoder(nn.Module):
    def __init__(self, d: int, layers: int, heads: int, vocab: int, n_ctx: int):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(n_ctx, d)
        self.layers = nn.ModuleList(_TorchBlock(d, heads) for _ in range(layers))
        self.ln_f, self.head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)

    def forward(self, tokens):  # [batch, T] -> [batch, vocab] at the last position
        h = self.tok(tokens) + self.pos(torch.arange(tokens.shape[1]))
        for layer in self.layers:
            h = layer(h)
        return self.head(self.ln_f(h))[:, -1]


def _load_into_torch(ref: Transformer, cfg: TransformerConfig) -> _TorchDecoder:
    """Our weights (TransformerLens layout) in torch's module layouts."""
    H, E, D = cfg.n_heads, cfg.d_head, cfg.d_model
    net = _TorchDecoder(D, cfg.n_layers, H, cfg.d_vocab, cfg.n_ctx).double()
    w = {k: v.detach() for k, v in ref.state_dict().items()}
    heads_out = lambda W: W.permute(0, 2, 1).reshape(H * E, D)  # [head, d_model, d_head] -> [head*d_head, d_model]
    with torch.no_grad():
        net.tok.weight.copy_(w["embed.W_E"])
        net.pos.weight.copy_(w["pos_embed.W_pos"])
        for l, blk in enumerate(net.layers):
            b = f"blocks.{l}."
            blk.ln_1.weight.copy_(w[b + "ln1.w"]), blk.ln_1.bias.copy_(w[b + "ln1.b"])
            blk.ln_2.weight.copy_(w[b + "ln2.w"]), blk.ln_2.bias.copy_(w[b + "ln2.b"])
            blk.attn.in_proj_weight.copy_(torch.cat([heads_out(w[b + f"attn.W_{x}"]) for x in "QKV"]))
            blk.attn.in_proj_bias.copy_(torch.cat([w[b + f"attn.b_{x}"].reshape(H * E) for x in "QKV"]))
            blk.attn.out_proj.weight.copy_(w[b + "attn.W_O"].reshape(H * E, D).T)
            blk.attn.out_proj.bias.copy_(w[b + "attn.b_O"])
            blk.mlp[0].weight.copy_(w[b + "mlp.W_in"].T), blk.mlp[0].bias.copy_(w[b + "mlp.b_in"])
            blk.mlp[2].weight.copy_(w[b + "mlp.W_out"].T), blk.mlp[2].bias.copy_(w[b + "mlp.b_out"])
        net.ln_f.weight.copy_(w["ln_final.w"]), net.ln_f.bias.copy_(w["ln_final.b"])
        net.head.weight.copy_(w["unembed.W_U"].T)
    return net.eval()


def _grokfast_cfg(task, **kw) -> TransformerConfig:
    return TransformerConfig(d_vocab=task.vocab_size, n_ctx=task.n_ctx, n_classes=task.n_classes, d_model=16,
                             n_heads=4, d_head=4, d_mlp=64, n_layers=2, act="gelu", norm="pre_overwrite",
                             attn_bias=True, init="torch-mha", unembed="vocab", **kw)


def test_grokfast_block_equals_torchs_modules_in_the_reference_codes_order():
    task = make_task("mul", p=11, eq_token=True, op_token=True, b_nonzero=True)  # "x ∘ y =", 0 < y < p
    cfg = _grokfast_cfg(task)
    ref = Transformer(cfg, dtype=F64).init_(seed=3)
    with torch.no_grad():  # biases are zero at init: make them matter before comparing
        for name, p in ref.named_parameters():
            if name.rsplit(".", 1)[-1] in ("b_Q", "b_K", "b_V", "b_O", "b", "w"):
                p.add_(0.1 * torch.randn_like(p))
    net = _load_into_torch(ref, cfg)
    x = task.inputs
    torch.testing.assert_close(ref(x), net(x), rtol=1e-10, atol=1e-10)
    ens = TransformerEnsemble(cfg, 2, dtype=F64)
    ens.load_state_dict({k: torch.stack([v, v]) for k, v in ref.state_dict().items()})
    torch.testing.assert_close(ens(x)[1], net(x), rtol=1e-10, atol=1e-10)  # the ensemble's fast path too


def test_sinusoidal_positions_are_openai_groks_formula():
    cfg = TransformerConfig(d_vocab=9, n_ctx=5, n_classes=7, d_model=10, n_heads=2, d_head=5, d_mlp=8, pos="sinusoidal")
    ref = Transformer(cfg, dtype=F64).init_(seed=0)
    assert not any("W_pos" in k for k in ref.state_dict())  # fixed, not trained
    _, cache = ref.run_with_cache(torch.tensor([[1, 2, 3, 4, 5]]))
    want = torch.tensor([[math.sin(t / 10000 ** (i / 10)) if i % 2 == 0 else math.cos(t / 10000 ** ((i - 1) / 10))
                          for i in range(10)] for t in range(5)], dtype=F64)
    torch.testing.assert_close(cache["hook_pos_embed"][0], want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("init", ["torch-mha", "torch-linear"])
def test_torch_initializations_use_torchs_bounds(init):
    D, H, M, V = 64, 4, 256, 50
    cfg = TransformerConfig(d_vocab=V, n_ctx=4, n_classes=V, d_model=D, n_heads=H, d_head=D // H, d_mlp=M, n_layers=1,
                            norm="pre", attn_bias=True, init=init)
    w = {k: v.detach() for k, v in Transformer(cfg, dtype=F64).init_(seed=1).state_dict().items()}
    mha = nn.MultiheadAttention(D, H)
    xavier = math.sqrt(6 / sum(mha.in_proj_weight.shape))  # nn.init.xavier_uniform_'s bound
    linear = lambda fan_in: 1 / math.sqrt(fan_in)  # nn.Linear.reset_parameters' bound
    bounds = {"blocks.0.attn.W_Q": xavier if init == "torch-mha" else linear(D), "blocks.0.attn.W_O": linear(D),
              "blocks.0.mlp.W_in": linear(D), "blocks.0.mlp.b_in": linear(D), "blocks.0.mlp.W_out": linear(M),
              "unembed.W_U": linear(D)}
    for name, bound in bounds.items():
        t = w[name].abs()
        assert float(t.max()) <= bound and float(t.max()) > 0.9 * bound, name  # uniform up to the bound
    assert abs(float(w["embed.W_E"].std()) - 1.0) < 0.05  # nn.Embedding: N(0, 1)
    zero = init == "torch-mha"  # nn.MultiheadAttention zeroes its in_proj and out_proj biases
    assert bool((w["blocks.0.attn.b_Q"] == 0).all()) == zero and bool((w["blocks.0.attn.b_O"] == 0).all()) == zero


def test_vocab_unembedding_gives_logits_for_every_token():
    task = make_task("mul", p=7, eq_token=True, op_token=True)
    cfg = _grokfast_cfg(task)
    assert cfg.n_classes == task.vocab_size == 9
    assert Transformer(cfg, dtype=F64).init_(seed=0)(task.inputs).shape == (task.n_all, 9)
    with pytest.raises(ConfigError, match="model.pos='fixed'"):
        _grokfast_cfg(task, pos="fixed")
