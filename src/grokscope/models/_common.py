"""What every architecture shares: parameter specs, seeded init, the ensemble/reference plumbing.

Each architecture is declared once as a list of :class:`ParamSpec` (name, shape, init std).
From that list

- the reference module registers parameters of ``shape`` under TransformerLens-style dotted
  names (``blocks.0.attn.W_Q``), and the ensemble registers ``[model, *shape]`` under the same
  names, so ``ens.state_dict()[name][i] == ens.member(i).state_dict()[name]``;
- :func:`draw_init` draws one model's initial weights from ``torch.Generator().manual_seed(seed)``
  in spec order. The reference and every ensemble member call the same function, so member *i*
  initialized with ``seeds[i]`` is bit-identical to a reference initialized with ``seeds[i]``.

Weights are drawn on the CPU in float32 and then cast, so a seed gives the same initial function
on every device and in both float32 and float64.

Dropout (``model.dropout``) lives in ``_dropout.py``: both base classes take it from there.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from grokscope.errors import AnalysisError, ConfigError
from grokscope.validate import check_choice, check_int, check_number, check_seed  # noqa: F401  (re-exported to the model files)

from ._dropout import _Dropout, _rates, check_dropout, dropout_mask

__all__ = [
    "ParamSpec", "ACTIVATIONS", "lookup", "record", "activation", "draw_init", "check_features", "EnsembleBase", "ReferenceBase",
    "check_dropout", "dropout_mask",
]


def _square(x: Tensor) -> Tensor:
    return x * x


# x2 is the quadratic activation of the exact Fourier solution (PAIR 2023, appendix A; Gromov 2023).
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu, "gelu": F.gelu, "x2": _square}


def activation(name: str) -> Callable[[Tensor], Tensor]:
    """The activation function called ``name`` (one of ``relu``, ``gelu``, ``x2``)."""
    if name not in ACTIVATIONS:
        raise ConfigError(f"model.act={name!r}: must be one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of one model: a random weight drawn from ``dist`` with ``std`` (times the init
    scale α), or, when ``std`` is None, a constant ``fill`` (biases 0, LayerNorm gains 1) that α
    leaves alone. ``dist``: ``"normal"`` N(0, std²); ``"uniform"`` on ``[-√3·std, √3·std)`` (torch's
    ``nn.Linear``/Xavier draws); ``"truncated"`` N(0, std²) cut at ±2·std (haiku's ``TruncatedNormal``,
    whose ``stddev`` is this ``std``: the draw's own std is 0.88·std)."""

    name: str
    shape: tuple[int, ...]
    std: float | None = None
    fill: float = 0.0
    dist: str = "normal"


def check_positive_int(value: object, what: str) -> int:
    return check_int(value, what, 1)


def check_scale(scale: float) -> float:
    """Omnigrok's init scale α: a finite number > 0."""
    return check_number(scale, "model.init_scale", lo=0.0, lo_open=True)


def draw_init(specs: Sequence[ParamSpec], seed: int, scale: float) -> dict[str, Tensor]:
    """One model's initial parameters (float64 CPU tensors), drawn in ``specs`` order.

    ``scale`` is Omnigrok's init-scale α (Liu et al. 2022, "Omnigrok: Grokking Beyond
    Algorithmic Data"): every random weight is multiplied by α; biases and gains are not.

    >>> w = draw_init([ParamSpec("W", (2, 3), std=0.5)], seed=0, scale=1.0)["W"]
    >>> tuple(w.shape)
    (2, 3)
    """
    gen = torch.Generator().manual_seed(check_seed(seed))
    scale = check_scale(scale)
    out = {}
    for s in specs:
        if s.std is None:
            out[s.name] = torch.full(s.shape, s.fill, dtype=torch.float64)
        elif s.dist == "uniform":  # float32 draw in [0, 1) -> [-1, 1), as in the Gaussian case below
            out[s.name] = torch.rand(s.shape, generator=gen).double().mul_(2).sub_(1) * (math.sqrt(3) * s.std * scale)
        elif s.dist == "truncated":  # inverse CDF of the normal restricted to [-2, 2], from a float32 uniform draw
            lo = torch.special.ndtr(torch.tensor(-2.0, dtype=torch.float64))
            u = lo + (1 - 2 * lo) * torch.rand(s.shape, generator=gen).double()
            out[s.name] = torch.special.ndtri(u) * (s.std * scale)
        else:
            # float32 draw so float32 and float64 models start from the same function.
            out[s.name] = torch.randn(s.shape, generator=gen).double() * (s.std * scale)
    return out


def _register(root: nn.Module, specs: Sequence[ParamSpec], lead: tuple[int, ...], dtype, device):
    """Register zero parameters under dotted names, creating containers on the way.

    A path part that is a digit lives in an ``nn.ModuleList`` so ``self.blocks[l].attn.W_Q`` reads
    naturally in forward code; any other part is a plain ``nn.Module`` attribute.
    """
    for s in specs:
        *path, leaf = s.name.split(".")
        mod = root
        for part, nxt in zip(path, path[1:] + [leaf]):
            if part.isdigit():
                idx = int(part)
                while len(mod) <= idx:
                    mod.append(nn.ModuleList() if nxt.isdigit() else nn.Module())
                mod = mod[idx]
            else:
                if part not in mod._modules:
                    mod.add_module(part, nn.ModuleList() if nxt.isdigit() else nn.Module())
                mod = mod._modules[part]
        mod.register_parameter(leaf, nn.Parameter(torch.zeros(lead + s.shape, dtype=dtype, device=device)))


def _check_dtype(dtype: torch.dtype) -> torch.dtype:
    if dtype not in (torch.float32, torch.float64):
        raise ConfigError(f"dtype={dtype}: must be torch.float32 or torch.float64")
    return dtype


def record(cache: dict[str, Tensor] | None, name: str, x: Tensor) -> Tensor:
    """Record activation ``x`` under ``name`` when caching (detached, like TransformerLens)."""
    if cache is not None:
        cache[name] = x.detach()
    return x


def check_token_values(tokens: Tensor, d_vocab: int) -> Tensor:
    """Integer tokens in ``[0, d_vocab)``. This matters beyond a clean message: the ensemble looks
    rows up in one flattened ``[model*vocab]`` table, where an out-of-range token would silently
    read another member's row. On an accelerator the check is asynchronous (no host sync)."""
    if tokens.dtype.is_floating_point or tokens.dtype.is_complex or tokens.dtype == torch.bool:
        raise ConfigError(f"tokens of dtype {tokens.dtype}: must be integer token ids (torch.long)")
    if tokens.numel() == 0:
        return tokens
    lo, hi = torch.aminmax(tokens)
    if tokens.device.type == "cpu":
        if lo < 0 or hi >= d_vocab:
            raise ConfigError(f"token ids span [{int(lo)}, {int(hi)}]: must lie in [0, {d_vocab})")
    else:
        torch._assert_async((lo >= 0) & (hi < d_vocab), f"token ids must lie in [0, {d_vocab})")
    return tokens


def check_features(x: Tensor, d_in: int, n_models: int | None) -> Tensor:
    """Real-valued inputs ``[batch, d_in]``, or ``[n_models, batch, d_in]`` for an ensemble."""
    if not x.dtype.is_floating_point:
        raise ConfigError(f"inputs of dtype {x.dtype}: must be real-valued features (a float tensor)")
    shapes = f"[batch, {d_in}]" if n_models is None else f"[{n_models}, batch, {d_in}] or [batch, {d_in}]"
    ok = x.shape[-1:] == (d_in,) and (x.dim() == 2 or (n_models is not None and x.dim() == 3 and x.shape[0] == n_models))
    if not ok:
        raise ConfigError(f"inputs of shape {tuple(x.shape)}: must be {shapes}")
    return x


class ReferenceBase(_Dropout, nn.Module):
    """One model, written plainly; subclasses set ``param_specs`` and implement ``_forward``."""

    # "tokens": integer ids [batch, cfg.n_ctx] below cfg.d_vocab; "features": real rows [batch, cfg.d_in].
    input_kind: str = "tokens"

    def __init__(self, cfg, dtype: torch.dtype = torch.float32, device=None):
        super().__init__()
        self.cfg = cfg
        self.specs = tuple(type(self).param_specs(cfg))
        self.dropout_rates = _rates(cfg, None)
        _register(self, self.specs, (), _check_dtype(dtype), device)

    @staticmethod
    def param_specs(cfg) -> list[ParamSpec]:  # pragma: no cover - abstract
        raise NotImplementedError

    def init_(self, seed: int, scale: float = 1.0):
        """Fill the weights from ``seed`` (std formulas in ``param_specs``, times α=``scale``)."""
        values = draw_init(self.specs, seed, scale)
        params = dict(self.named_parameters())
        with torch.no_grad():
            for name, v in values.items():
                params[name].copy_(v)
        return self

    def forward(self, tokens: Tensor) -> Tensor:
        """``tokens [batch, n_ctx]`` -> ``logits [batch, n_classes]``."""
        return self._forward(self._check_tokens(tokens), None)

    def run_with_cache(self, tokens: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Logits and a dict of every named activation (detached)."""
        cache: dict[str, Tensor] = {}
        logits = self._forward(self._check_tokens(tokens), cache)
        return logits, cache

    def _check_tokens(self, tokens: Tensor) -> Tensor:
        if self.input_kind == "features":
            return check_features(tokens, self.cfg.d_in, None)
        n_ctx = self.cfg.n_ctx
        if tokens.dim() != 2 or tokens.shape[-1] != n_ctx:
            raise ConfigError(f"tokens of shape {tuple(tokens.shape)}: must be [batch, {n_ctx}]")
        return check_token_values(tokens, self.cfg.d_vocab)


class EnsembleBase(_Dropout, nn.Module):
    """``n_models`` independent models whose parameters carry a leading ``model`` axis.

    Subclasses set ``reference_cls`` (whose ``param_specs`` declares the parameters) and implement
    ``_forward(tokens [model, batch, n_ctx] or [batch, n_ctx], cache, **kw)``; to take part in
    analyses and sweeps they also implement ``anatomy(state=None) -> Anatomy`` and the class method
    ``cost(cfg) -> ModelCost`` (see ``grokscope.models._anatomy``). A ``"features"`` architecture
    sets ``input_kind = "features"`` and reads ``[model, batch, d_in]`` or ``[batch, d_in]`` floats.
    """

    reference_cls: type[ReferenceBase]
    _model_axis = 1  # activations are [model, ...]: dropout draws one mask per member
    # What forward reads (one of grokscope.tasks.INPUT_KINDS); a task's input_kind must match.
    input_kind: str = "tokens"

    def __init__(self, cfg, n_models: int, dtype: torch.dtype = torch.float32, device=None):
        super().__init__()
        self.cfg = cfg
        self.n_models = check_positive_int(n_models, "n_members")
        self.specs = tuple(self.reference_cls.param_specs(cfg))
        self.dropout_rates = _rates(cfg, self.n_models)  # one per row (member), compacted with the rows
        _register(self, self.specs, (self.n_models,), _check_dtype(dtype), device)

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def init_(self, member_seeds: Sequence[int], scale: float | Sequence[float] | Tensor = 1.0):
        """Initialize member *i* exactly like ``reference.init_(member_seeds[i], scale[i])``.

        ``scale`` is Omnigrok's α (Liu et al. 2022): a float for all members or one per member.

        >>> from grokscope.models import PairMLPConfig, PairMLPEnsemble
        >>> ens = PairMLPEnsemble(PairMLPConfig(p=5, d_embed=4, d_hidden=3), n_models=2).init_([1, 2])
        >>> bool((ens.member(1).embed.W_E == ens.embed.W_E[1]).all())
        True
        """
        seeds = [check_seed(s) for s in member_seeds]
        if len(seeds) != self.n_models:
            raise ConfigError(f"member_seeds has {len(seeds)} entries: must have n_members={self.n_models}")
        scales = _per_member(scale, self.n_models)
        params = dict(self.named_parameters())
        with torch.no_grad():
            # Init is not the hot path; one generator per member keeps draws identical to the reference.
            for i, (seed, a) in enumerate(zip(seeds, scales)):
                for name, v in draw_init(self.specs, seed, a).items():
                    params[name][i].copy_(v)
        return self

    def member(self, i: int) -> ReferenceBase:
        """A reference model holding a copy of member ``i``'s weights."""
        if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= i < self.n_models:
            raise ConfigError(f"member {i!r}: must be an integer in [0, {self.n_models})")
        cfg = self.cfg
        if isinstance(getattr(cfg, "dropout", None), tuple):  # per-member rates: the member's own
            cfg = dataclasses.replace(cfg, dropout=self.dropout_rates[i])
        ref = self.reference_cls(cfg, dtype=self.dtype, device=self.device)
        ref.load_state_dict({k: v[i].detach().clone() for k, v in self.state_dict().items()})
        return ref

    @torch.no_grad()
    def select_members_(self, idx: Tensor):
        """Keep members ``idx`` (int64 row indices, increasing) and drop the others, in place.

        Ensembles keep per-member values in parameters (they register no per-member buffers).
        Each parameter keeps its object (optimizers and caches holding it stay valid) and gets the
        rows ``idx`` as new contiguous data; its gradient is dropped. Member ``j`` of the result is
        member ``idx[j]`` before, bit for bit (the training loop retires decided members this way).

        >>> from grokscope.models import PairMLPConfig, PairMLPEnsemble
        >>> ens = PairMLPEnsemble(PairMLPConfig(p=5, d_embed=4, d_hidden=3), n_models=3).init_([1, 2, 3])
        >>> w = ens.embed.W_E[2].clone()
        >>> ens.select_members_(torch.tensor([0, 2])).n_models, bool((ens.embed.W_E[1] == w).all())
        (2, True)
        """
        idx = torch.as_tensor(idx, dtype=torch.long).reshape(-1)
        n = self.n_models
        if idx.numel() == 0 or int(idx.min()) < 0 or int(idx.max()) >= n or bool((idx[1:] <= idx[:-1]).any()):
            raise ConfigError(f"select_members_: rows {idx.tolist()}: must be increasing, distinct, in [0, {n}), at least one")
        for p in self.parameters():
            p.data = p.data.index_select(0, idx.to(p.device))
            p.grad = None
        self.dropout_rates = [self.dropout_rates[j] for j in idx.tolist()]
        self.n_models = int(idx.numel())
        return self

    def anatomy(self, state=None):
        """What analyses need to know about this model (an ``Anatomy``); architectures override it."""
        raise AnalysisError(f"{type(self).__name__}: declares no anatomy(); analyses of its weights do not apply")

    @classmethod
    def cost(cls, cfg):
        """One member's size (a ``ModelCost``) for sweep packing; architectures override it."""
        raise ConfigError(f"{cls.__name__}: declares no cost(cfg); a sweep cannot size its ensembles without it")

    @classmethod
    def from_members(cls, members: Sequence[ReferenceBase]):
        """Stack reference models (same config and dtype) into one ensemble."""
        members = list(members)
        if not members:
            raise ConfigError("from_members got no models: need at least one")
        cfg = members[0].cfg
        for m in members:
            if not isinstance(m, cls.reference_cls) or m.cfg != cfg:
                raise ConfigError(f"from_members: every model must be a {cls.reference_cls.__name__} with config {cfg}")
        first = next(members[0].parameters())
        ens = cls(cfg, len(members), dtype=first.dtype, device=first.device)
        sds = [m.state_dict() for m in members]
        ens.load_state_dict({k: torch.stack([sd[k] for sd in sds]) for k in sds[0]})
        return ens

    def forward(self, tokens: Tensor, **kw) -> Tensor:
        """``tokens [model, batch, n_ctx]`` (or ``[batch, n_ctx]`` shared) -> ``[model, batch, n_classes]``."""
        return self._forward(self._check_tokens(tokens), None, **kw)

    def run_with_cache(self, tokens: Tensor, **kw) -> tuple[Tensor, dict[str, Tensor]]:
        """Logits and every named activation, each with the leading ``model`` axis (detached)."""
        cache: dict[str, Tensor] = {}
        logits = self._forward(self._check_tokens(tokens), cache, **kw)
        return logits, cache

    # The trainer validates a task's tokens once and then turns the per-call value check off:
    # on large ensembles that min/max pass over every token costs as much as a small matmul.
    check_token_range: bool = True

    def _check_tokens(self, tokens: Tensor) -> Tensor:
        if self.input_kind == "features":
            return check_features(tokens, self.cfg.d_in, self.n_models)
        n_ctx, m = self.cfg.n_ctx, self.n_models
        ok = tokens.shape[-1:] == (n_ctx,) and (tokens.dim() == 2 or (tokens.dim() == 3 and tokens.shape[0] == m))
        if not ok:
            raise ConfigError(f"tokens of shape {tuple(tokens.shape)}: must be [{m}, batch, {n_ctx}] or [batch, {n_ctx}]")
        return check_token_values(tokens, self.cfg.d_vocab) if self.check_token_range else tokens


def _per_member(scale, n: int) -> list[float]:
    if isinstance(scale, Tensor):
        scale = scale.detach().cpu().double().reshape(-1).tolist()
    if isinstance(scale, numbers.Real):
        return [check_scale(scale)] * n
    scale = list(scale)
    if len(scale) != n:
        raise ConfigError(f"model.init_scale has {len(scale)} entries: must be one number or n_members={n}")
    return [check_scale(s) for s in scale]


def lookup(table: Tensor, tokens: Tensor, shared: bool) -> Tensor:
    """Rows of a per-member table: ``table [model, vocab, *rest]`` at ``tokens [model, ...]``,
    or at ``tokens [...]`` shared by all members (``shared=True``) -> ``[model, ..., *rest]``.

    One ``F.embedding`` on the flattened ``[model*vocab, rest]`` table: its backward is about twice
    as fast on CPU as advanced indexing's ``index_put_`` accumulate (measured, torch 2.13).
    """
    m, v = table.shape[:2]
    if shared:
        tokens = tokens.expand(m, *tokens.shape)
    offset = torch.arange(m, device=tokens.device).view(-1, *[1] * (tokens.dim() - 1)) * v
    rows = F.embedding(tokens + offset, table.reshape(m * v, -1))  # [model, ..., prod(rest)]
    return rows.view(*tokens.shape, *table.shape[2:])
