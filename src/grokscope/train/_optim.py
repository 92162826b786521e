"""Batched optimizers: a transform chain applied to a dict of ``[model, ...]`` parameters.

``Optimizer`` packs the ensemble's parameter tensors into one ``[model, n_params]``
matrix (see ``_transforms.py`` for why), runs the chain on it and writes the update
back with one ``torch._foreach_add_``, then applies the projection if there is one. Members
whose ``active`` flag is False (e.g. diverged ones) are left bit-for-bit unchanged, parameters
and optimizer state alike.

The state is keyed by the names of the transforms (``"adam.mu"``, ``"grokfast.ema"``, ``"lr.count"``).
grokscope 0.1.0 keyed it by chain position (``"0.mu"``); ``load_state`` still takes that form,
and the state answers to those keys too (deprecated), so stored runs resume unchanged.

>>> import torch
>>> params = {"W": torch.zeros(3, 2, 2)}                  # an ensemble of 3 members
>>> opt = adamw(lr=torch.tensor([0.1, 0.2, 0.0]), weight_decay=1.0)
>>> state = opt.init(params)
>>> state = opt.step(params, {"W": torch.ones(3, 2, 2)}, state)
>>> params["W"][:, 0, 0]                               # first Adam step is -lr·sign(g)
tensor([-0.1000, -0.2000,  0.0000])
"""

from __future__ import annotations

import torch
from torch import Tensor

from grokscope.errors import ConfigError
from grokscope.train._fused import MAX_GROUPS, FusedAdamW
from grokscope.train._layout import BatchedOptimizer, Layout, State, check_active
from grokscope.train._hyper_schedule import Schedule
from grokscope.train._projection import Projection
from grokscope.train._transforms import (
    Transform,
    add_decayed_weights,
    clip_by_global_norm,
    grokfast_ema,
    named_chain,
    scale_by_adam,
    scale_by_lr,
    trace,
)


class NamedState(dict):
    """An optimizer state (``dict[str, Tensor]`` keyed ``"name.key"``) that also answers to the
    position keys of grokscope 0.1.0 (``"0.mu"`` for ``"adam.mu"`` when Adam came first). Deprecated:
    read the named keys. Iteration, ``in`` and ``state_dict`` see the named keys only."""

    def __init__(self, state: State, legacy: dict[str, str]):
        super().__init__(state)
        self._legacy = legacy  # position key -> named key

    def __missing__(self, key):
        if key in self._legacy:
            return self[self._legacy[key]]
        raise KeyError(key)


class Optimizer(BatchedOptimizer):
    """Applies a ``Transform`` to an ensemble's parameter dict, in place.

    ``init(params) -> state``; ``step(params, grads, state, active=None) -> state``.
    ``state`` is a ``dict[str, Tensor]``: save it with the checkpoint and bring it back
    with ``load_state``. One ``Optimizer`` serves one parameter dict (it keeps packing
    buffers shaped for it); call ``init`` again for another.
    """

    def __init__(self, transform: Transform, project: Projection | None = None):
        self.transform = transform
        self.project = project
        self._layout: Layout | None = None
        self._legacy: dict[str, str] = {}

    def init(self, params: dict[str, Tensor]) -> State:
        """Record the layout of ``params`` (names, shapes) and return a fresh state."""
        self._layout = layout = Layout.of(params)
        m, dtype, device = layout.n_members, layout.dtype, layout.device
        # Packing buffers, allocated once. `_g` receives the gradients and is turned
        # into the update in place by the chain; `_p` receives the parameters for
        # transforms that read them (weight decay).
        self._g = torch.empty(m, layout.n_params, dtype=dtype, device=device)  # [model, n_params]
        self._p = torch.empty_like(self._g) if self.transform.needs_params else None
        self._g_views = layout.column_views(self._g)
        self._p_views = layout.column_views(self._p) if self._p is not None else None
        packed = torch.cat([p.detach().reshape(m, -1) for p in params.values()], dim=1)
        state = self.transform.init(packed)
        self._spec = {k: (v.shape, v.dtype) for k, v in state.items()}
        names = self.transform.names
        self._legacy = {f"{names.index(k.split('.', 1)[0])}.{k.split('.', 1)[1]}": k
                        for k in state if names and k.split(".", 1)[0] in names}
        self._legacy = {old: new for old, new in self._legacy.items() if old != new}
        return NamedState(state, self._legacy)

    @torch.no_grad()
    def step(self, params: dict[str, Tensor], grads: dict[str, Tensor | None] | None, state: State,
             active: Tensor | None = None) -> State:
        """Apply one update to ``params`` in place and return the (in-place updated) state.

        ``grads`` maps the same names to gradients (``None`` means "use ``p.grad``"; a
        missing gradient counts as zero). ``active [model] bool``: members with False
        keep their parameters and state exactly.
        """
        plist, glist = self._params_and_grads(params, grads)
        if any(g is None for g in glist):
            for view, g in zip(self._g_views, glist):
                view.zero_() if g is None else view.copy_(g)
        else:
            torch._foreach_copy_(self._g_views, glist)
        if self._p_views is not None:
            torch._foreach_copy_(self._p_views, plist)

        frozen = None
        if active is not None:
            check_active(active, self._layout.n_members)
            if not bool(active.all()):
                frozen = (~active).nonzero().squeeze(1).to(self._g.device)  # [n_frozen]
                saved_state = {k: v.index_select(0, frozen) for k, v in state.items()}
                saved_params = [p.index_select(0, frozen) for p in plist]

        updates, state = self.transform.update(self._g, state, self._p)
        if updates is self._g:
            torch._foreach_add_(plist, self._g_views)
        else:  # a transform returned a fresh tensor: view it like the parameters
            torch._foreach_add_(plist, self._layout.column_views(updates))

        self._project(plist, active)

        if frozen is not None:
            for k, v in saved_state.items():
                state[k].index_copy_(0, frozen, v)
            for p, v in zip(plist, saved_params):
                p.index_copy_(0, frozen, v)
        return state

    def per_member(self, state: State) -> State:
        """``state`` with a leading ``[model]`` axis on every tensor (it already has one here)."""
        return state

    def retain_members(self, idx: Tensor) -> None:
        """Serve members ``idx`` of the current ensemble only: smaller packing buffers, and the
        chain's and the projection's per-member hyperparameters narrowed to them."""
        self._layout = layout = self._layout.with_members(int(idx.numel()))
        self._g = torch.empty(layout.n_members, layout.n_params, dtype=layout.dtype, device=layout.device)
        self._p = torch.empty_like(self._g) if self.transform.needs_params else None
        self._g_views = layout.column_views(self._g)
        self._p_views = layout.column_views(self._p) if self._p is not None else None
        for h in {id(h): h for h in self.transform.hypers}.values():
            h.select(idx)
        self._retain_projection(idx)
        self._spec = {k: ((layout.n_members, *shape[1:]), dtype) for k, (shape, dtype) in self._spec.items()}

    def select_state(self, state: State, idx: Tensor) -> State:
        """Every state tensor is ``[model, ...]``: its rows ``idx``."""
        return NamedState({k: v.index_select(0, idx.to(v.device)) for k, v in state.items()}, self._legacy)

    def concat_states(self, states: list[State]) -> State:
        return NamedState({k: torch.cat([s[k] for s in states]) for k in states[0]}, self._legacy)

    def load_state(self, saved: dict[str, Tensor]) -> State:
        return NamedState(super().load_state(saved), self._legacy)

    def _convert_state(self, saved: dict[str, Tensor]) -> dict[str, Tensor]:
        """A state saved by grokscope 0.1.0, keyed by chain position (``"0.mu"``), keyed by name.

        The builders chain the same transforms in the same order as 0.1.0 did, so position
        ``i`` is the ``i``-th name; any other key set is returned as is (and refused by the check).
        """
        if self._legacy and saved and all(k in self._legacy for k in saved):
            return {self._legacy[k]: v for k, v in saved.items()}
        return saved


def _filters(clip_norm, grokfast) -> list[tuple[str, Transform]]:
    """Gradient filters that act on raw gradients: per-member clipping, then Grokfast."""
    return ([] if clip_norm is None else [("clip", clip_by_global_norm(clip_norm))]) + _grokfast_transform(grokfast)


def _grokfast_transform(grokfast) -> list[tuple[str, Transform]]:
    if grokfast is None:
        return []
    if isinstance(grokfast, dict):
        unknown = set(grokfast) - {"alpha", "lamb"}
        if unknown or len(grokfast) != 2:
            raise ConfigError(f"grokfast={grokfast!r}: must be None or {{'alpha': float, 'lamb': float}}")
        return [("grokfast", grokfast_ema(grokfast["alpha"], grokfast["lamb"]))]
    if isinstance(grokfast, tuple) and len(grokfast) == 2:
        return [("grokfast", grokfast_ema(*grokfast))]
    raise ConfigError(f"grokfast={grokfast!r}: must be None, (alpha, lamb) or {{'alpha': ..., 'lamb': ...}}")


def adamw(lr, weight_decay=0.01, b1=0.9, b2=0.999, eps=1e-8, decay: str = "l2", warmup_steps: int = 0,
          grokfast=None, clip_norm=None, fused: bool | None = None, *, lr_schedule: Schedule | None = None,
          wd_schedule: Schedule | None = None, project: Projection | None = None) -> Optimizer | FusedAdamW:
    """AdamW (Loshchilov & Hutter 2019) with decoupled L2 or L1 decay, schedules and optional Grokfast.

    Equals ``torch.optim.AdamW`` member by member: ``p ← p − lr·(m̂/(√v̂+eps) + wd·p)``.
    ``decay="l1"`` decays by ``lr·wd·sign(p)`` instead (decoupled, like AdamW's L2; PAIR 2023
    sparse parity). ``grokfast=(alpha, lamb)`` filters gradients first (Lee et al. 2024), after
    per-member clipping to ``clip_norm`` (``torch.nn.utils.clip_grad_norm_``) if given.
    Defaults: betas and eps are torch's and the paper's; weight_decay=0.01 is torch's.
    Any hyperparameter may be a ``[model]`` tensor.

    The learning rate at update ``t`` is ``lr·lr_schedule(t)`` (default: the linear warmup over
    ``warmup_steps``, as ``LambdaLR``), the weight decay ``weight_decay·wd_schedule(t)`` (default
    constant); see ``_hyper_schedule.py``. ``project`` (e.g. ``fixed_norm(target)``) maps each
    active member's parameters after every update.

    ``fused=None`` (the default) takes :class:`FusedAdamW`, one fused kernel per step, whenever
    it computes the same thing: L2 decay, no clipping or Grokfast, float betas and eps, at most
    ``MAX_GROUPS`` distinct per-member ``(lr, weight_decay)`` pairs (schedules and projections are
    fine: the kernel is handed each step's lr and decay, and the projection runs after it).
    ``fused=False`` always takes the transform chain; ``fused=True`` insists on the kernel. The two
    agree to rounding, not bit for bit, so a run resumes with the path it started with (the choice
    depends only on these arguments, and their state dicts differ).

    >>> opt = adamw(lr=1e-3, weight_decay=1.0, warmup_steps=10)   # Nanda et al. 2023
    >>> type(opt).__name__
    'FusedAdamW'
    >>> from grokscope.train import cosine_schedule
    >>> opt = adamw(lr=1e-3, grokfast=(0.98, 2.0), lr_schedule=cosine_schedule(1000, warmup_steps=10))
    >>> sorted(opt.init({"W": torch.zeros(2, 3)}))
    ['adam.count', 'adam.mu', 'adam.nu', 'grokfast.count', 'grokfast.ema', 'lr.count']
    """
    why_not = _why_not_fused(lr, weight_decay, b1, b2, eps, decay, grokfast, clip_norm)
    if fused is None:
        fused = why_not is None
    elif fused and why_not is not None:
        raise ConfigError(f"adamw(fused=True): {why_not}; use fused=None or False")
    if fused:
        return FusedAdamW(lr, weight_decay, b1, b2, eps, warmup_steps, lr_schedule=lr_schedule,
                          wd_schedule=wd_schedule, project=project)
    return Optimizer(named_chain(*_filters(clip_norm, grokfast), ("adam", scale_by_adam(b1, b2, eps)),
                                 ("weight_decay", add_decayed_weights(weight_decay, decay, wd_schedule)),
                                 ("lr", scale_by_lr(lr, warmup_steps, lr_schedule))), project)


def _why_not_fused(lr, weight_decay, b1, b2, eps, decay, grokfast, clip_norm) -> str | None:
    """Why ``FusedAdamW`` cannot compute this AdamW, or None if it can (or a value is bad: the builder reports it)."""
    if decay != "l2":
        return f"decay={decay!r} (the kernel decays by L2 only)"
    if grokfast is not None or clip_norm is not None:
        return "gradient filters (clip_norm, grokfast) run in the transform chain only"
    if any(isinstance(v, (Tensor, list, tuple)) or type(v).__module__ == "numpy" for v in (b1, b2, eps)):
        return "per-member b1, b2 or eps (the kernel takes one value of each)"
    try:
        n = FusedAdamW.n_groups(lr, weight_decay)
    except ConfigError:
        return None  # a bad value: the builder that follows says which, in one line
    if n > MAX_GROUPS:
        return f"{n} distinct (lr, weight_decay) pairs (the kernel path groups at most {MAX_GROUPS})"
    return None


def adam(lr, weight_decay=0.0, b1=0.9, b2=0.999, eps=1e-8, decay: str = "l2", warmup_steps: int = 0,
         grokfast=None, clip_norm=None, *, lr_schedule: Schedule | None = None,
         wd_schedule: Schedule | None = None, project: Projection | None = None) -> Optimizer:
    """Adam (Kingma & Ba 2015) with coupled decay: ``wd·p`` added to the gradient, as
    ``torch.optim.Adam(weight_decay=wd)``; ``decay="l1"`` adds ``wd·sign(p)``. Schedules and
    ``project`` as in :func:`adamw`.

    >>> opt = adam(lr=torch.tensor([1e-3, 3e-3]))               # two members, two lrs
    """
    return Optimizer(named_chain(*_filters(clip_norm, grokfast),
                                 ("weight_decay", add_decayed_weights(weight_decay, decay, wd_schedule)),
                                 ("adam", scale_by_adam(b1, b2, eps)),
                                 ("lr", scale_by_lr(lr, warmup_steps, lr_schedule))), project)


def sgd(lr, momentum=0.0, weight_decay=0.0, nesterov: bool = False, warmup_steps: int = 0,
        clip_norm=None, *, lr_schedule: Schedule | None = None, wd_schedule: Schedule | None = None,
        project: Projection | None = None) -> Optimizer:
    """SGD as ``torch.optim.SGD`` (coupled L2 decay, momentum without dampening, optional Nesterov).
    Schedules and ``project`` as in :func:`adamw`.

    >>> opt = sgd(lr=0.1, momentum=0.9, nesterov=True)
    """
    parts = [*_filters(clip_norm, None), ("weight_decay", add_decayed_weights(weight_decay, "l2", wd_schedule))]
    if isinstance(momentum, Tensor) or momentum != 0.0:
        parts.append(("momentum", trace(momentum, nesterov)))
    elif nesterov:
        raise ConfigError("sgd: nesterov=True needs momentum > 0")
    return Optimizer(named_chain(*parts, ("lr", scale_by_lr(lr, warmup_steps, lr_schedule))), project)
