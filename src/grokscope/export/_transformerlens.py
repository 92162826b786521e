"""One transformer member as a TransformerLens ``HookedTransformer``: its config arguments and state dict.

TransformerLens is not imported: the export is plain data (a dict of ``HookedTransformerConfig``
keyword arguments and a dict of tensors), which TransformerLens 2.x/3.x loads with

>>> cfg = HookedTransformerConfig(**exported.config_kwargs())     # doctest: +SKIP
>>> model = HookedTransformer(cfg)                                # doctest: +SKIP
>>> model.load_state_dict(exported.state_dict, strict=False)     # only its buffers are not given  # doctest: +SKIP

The mapping (TransformerLens's ``components``: ``Embed``, ``PosEmbed``, ``Attention``, ``MLP``,
``LayerNorm``, ``Unembed``; and Nanda's grokking model in its ``demos/Grokking_Demo.ipynb``:
``normalization_type=None, d_vocab=p+1, d_vocab_out=p, n_ctx=3``):

- ``embed.W_E [d_vocab, d_model]``, ``unembed.W_U [d_model, d_vocab_out]`` (``d_vocab_out`` =
  ``n_classes``, which is ``d_vocab`` with ``unembed="vocab"``): grokscope's, same names and layout;
- ``pos_embed.W_pos [n_ctx, d_model]``: grokscope's, or the fixed table it adds (``pos="sinusoidal"``);
- per block ``L``: ``blocks.L.attn.W_Q/W_K/W_V [n_heads, d_model, d_head]``, ``attn.W_O [n_heads,
  d_head, d_model]``, ``mlp.W_in [d_model, d_mlp]``, ``mlp.W_out [d_mlp, d_model]``, and with
  ``norm="pre"`` ``ln1.w/b``, ``ln2.w/b`` (and ``ln_final.w/b``) ``[d_model]``: grokscope's, same layout;
- biases ``attn.b_Q/b_K/b_V [n_heads, d_head]``, ``attn.b_O [d_model]``, ``mlp.b_in [d_mlp]``,
  ``mlp.b_out [d_model]``, ``unembed.b_U [d_vocab_out]``: grokscope's where the model has them
  (``attn_bias``, ``mlp_bias``), zeros where it has none.

Both divide attention scores by ``sqrt(d_head)``, mask causally, and compute LayerNorm with the
biased variance and ``eps`` inside the square root; ``act="relu"|"gelu"`` are TransformerLens's
``"relu"``/``"gelu"`` (exact erf GELU). TransformerLens returns logits at every position
``[batch, pos, d_vocab_out]``; grokscope's are the last position's. Not expressible, so refused
with a ``ConfigError``: ``norm="post"`` (LayerNorm after each residual add, Power et al. 2022) and
``norm="pre_overwrite"`` (grokfast's block, whose residual stream continues from the first
LayerNorm's output): TransformerLens normalizes only the input of each sublayer; and ``act="x2"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from grokscope.errors import ConfigError, GrokscopeError

__all__ = ["ACT_FNS", "TransformerLensExport", "hooked_transformer_config", "transformerlens_export"]

# grokscope activation -> TransformerLens act_fn (both F.relu / F.gelu).
ACT_FNS = {"relu": "relu", "gelu": "gelu"}
_DTYPES = {"float32": torch.float32, "float64": torch.float64}
# grokscope norm -> TransformerLens normalization_type (LayerNorm before each sublayer and at the end).
_NORMS = {"none": None, "pre": "LN"}


@dataclass
class TransformerLensExport:
    """``config``: ``HookedTransformerConfig`` keyword arguments, JSON-able (``dtype`` as text);
    ``state_dict``: TransformerLens key -> tensor; ``source``: run, member, step, task."""

    config: dict[str, Any]
    state_dict: dict[str, torch.Tensor] = field(repr=False)
    source: dict[str, Any]

    def config_kwargs(self) -> dict[str, Any]:
        """``config`` with ``dtype`` as a ``torch.dtype``, ready for ``HookedTransformerConfig(**...)``."""
        return {**self.config, "dtype": _DTYPES[self.config["dtype"]]}


def hooked_transformer_config(cfg, dtype: str = "float32", name: str = "grokscope") -> dict[str, Any]:
    """``HookedTransformerConfig`` arguments for a grokscope ``TransformerConfig``.

    >>> from grokscope.models import TransformerConfig
    >>> kw = hooked_transformer_config(TransformerConfig.nanda2023(p=113))
    >>> kw["d_vocab"], kw["d_vocab_out"], kw["n_ctx"], kw["normalization_type"]
    (114, 113, 3, None)
    """
    if cfg.norm not in _NORMS:
        why = {"post": " (LayerNorm after each residual add, Power 2022)",
               "pre_overwrite": " (the residual stream continues from ln1's output, grokfast)"}.get(cfg.norm, "")
        raise ConfigError(f"model.norm={cfg.norm!r}{why} has no HookedTransformer equivalent; "
                          f"TransformerLens exports need norm 'none' or 'pre'")
    if cfg.act not in ACT_FNS:
        raise ConfigError(f"model.act={cfg.act!r} has no TransformerLens act_fn; exportable: {', '.join(ACT_FNS)}")
    return {
        "model_name": name,
        "n_layers": cfg.n_layers,
        "d_model": cfg.d_model,
        "n_heads": cfg.n_heads,
        "d_head": cfg.d_head,
        "d_mlp": cfg.d_mlp,
        "d_vocab": cfg.d_vocab,
        "d_vocab_out": cfg.n_classes,
        "n_ctx": cfg.n_ctx,
        "act_fn": ACT_FNS[cfg.act],
        "normalization_type": _NORMS[cfg.norm],
        "eps": float(cfg.ln_eps),
        "positional_embedding_type": "standard",
        "attention_dir": "causal",
        "attn_only": False,
        "use_attn_scale": True,  # scores / sqrt(d_head), as grokscope
        "default_prepend_bos": False,  # inputs are token ids "a b =", no BOS
        "init_weights": False,  # every parameter comes from the state dict
        "dtype": dtype,
    }


def _tl_state(ref) -> dict[str, torch.Tensor]:
    """A reference ``Transformer``'s weights under TransformerLens's keys: its own parameters, the
    position table it adds (``hook_pos_embed``: learned ``W_pos`` or fixed sinusoids) as ``W_pos``,
    and zeros for every bias it does not have."""
    cfg = ref.cfg
    out = {k: v.detach().clone().contiguous() for k, v in ref.state_dict().items()}
    like = out["embed.W_E"]
    if "pos_embed.W_pos" not in out:  # fixed positions: read what the model adds at each position
        with torch.no_grad():
            _, cache = ref.run_with_cache(torch.zeros(1, cfg.n_ctx, dtype=torch.long, device=like.device))
        out["pos_embed.W_pos"] = cache["hook_pos_embed"][0].detach().clone().contiguous()  # [n_ctx, d_model]
    zeros = {"unembed.b_U": (cfg.n_classes,)}
    for l in range(cfg.n_layers):
        b = f"blocks.{l}."
        zeros.update({b + f"attn.b_{w}": (cfg.n_heads, cfg.d_head) for w in ("Q", "K", "V")})
        zeros.update({b + "attn.b_O": (cfg.d_model,), b + "mlp.b_in": (cfg.d_mlp,), b + "mlp.b_out": (cfg.d_model,)})
    for key, shape in zeros.items():
        if key not in out:
            out[key] = torch.zeros(shape, dtype=like.dtype, device=like.device)
    return out


def _resolve(store, run_id: int):
    """The run's record, its TransformerConfig and dtype; ConfigError if it is not a transformer run."""
    rec = store.get_run(run_id)
    arch = (rec.config.get("model") or {}).get("arch", "pair_mlp")
    if arch != "transformer":
        raise ConfigError(f"run {run_id} is a {arch!r} model; only transformer runs export to TransformerLens")
    from grokscope.config import RunConfig
    from grokscope.models import model_config

    try:
        cfg = RunConfig.from_dict(rec.config)
        task = cfg.build_task()
    except GrokscopeError as e:
        raise ConfigError(f"run {run_id}: its stored config does not build its task ({e})") from e
    options = {k: v for k, v in cfg.model.items() if k not in ("arch", "init_scale") and v is not None}
    return rec, model_config("transformer", task, **options), cfg.dtype, task


def check_transformerlens(store, run_id: int, member: int | None, step: int | None) -> tuple[int, int]:
    """Validate an export request before anything is read or written; returns ``(member, step)``."""
    rec, model_cfg, dtype, _ = _resolve(store, run_id)
    hooked_transformer_config(model_cfg, dtype)  # refuses norm="post", act="x2"
    member = 0 if member is None else member
    if isinstance(member, bool) or not isinstance(member, int) or not 0 <= member < rec.n_members:
        raise ConfigError(f"--member {member!r}: run {run_id} has members 0..{rec.n_members - 1}")
    steps = store.checkpoint_steps(run_id)
    if not steps:
        raise ConfigError(f"run {run_id} has no weight checkpoints; train it with log.n_checkpoints > 0")
    if step is None:
        step = steps[-1]
    if step not in steps:
        shown = ", ".join(map(str, steps[:10])) + (f" ... {steps[-1]}" if len(steps) > 10 else "")
        raise ConfigError(f"--step {step}: run {run_id} has checkpoints at steps {shown}")
    return member, step


def transformerlens_export(store, run_id: int, member: int | None = None, step: int | None = None) -> TransformerLensExport:
    """Member ``member`` (default 0) of transformer run ``run_id`` at checkpoint ``step`` (default:
    the last) in TransformerLens's layout (module docstring)."""
    member, step = check_transformerlens(store, run_id, member, step)
    rec, model_cfg, dtype, task = _resolve(store, run_id)
    from grokscope.models import Transformer

    ref = Transformer(model_cfg, dtype=_DTYPES[dtype])
    ckpt = store.load_checkpoint(run_id, step)
    try:
        ref.load_state_dict({k: v[member] for k, v in ckpt.items()})  # strict: names and shapes checked
    except RuntimeError as e:
        raise ConfigError(f"run {run_id}: checkpoint {step} is not a state of the transformer its config builds ({e})") from e
    name = f"grokscope-run{run_id}-member{member}-step{step}"
    return TransformerLensExport(
        config=hooked_transformer_config(model_cfg, dtype, name),
        state_dict=_tl_state(ref),
        source={"run": run_id, "run_name": rec.name, "member": member, "step": step, "task": task.describe(),
                "logits": "TransformerLens gives [batch, pos, d_vocab_out]; grokscope's are the last position's"},
    )
