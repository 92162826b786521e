"""Gradient filters and controls that act on each member's raw gradient, before the optimizer.

Three transforms (``_transforms.py``'s ``(init, update)`` pairs on the packed ``[model, n_params]``
gradient), each with per-member hyperparameters (a float, or a ``[model]`` tensor / list), so one
ensemble can hold a baseline and several treatments side by side:

- :func:`grokfast_ma`: Grokfast-MA (Lee et al. 2024, "Grokfast: Accelerated Grokking by Amplifying
  Slow Gradients", Algorithm 1): ``g ← g + λ·mean(last w gradients)``, the current one included.
  As the authors' ``gradfilter_ma`` with its default ``warmup=True``, a member's gradient is left
  alone until its window is full (``w`` gradients seen); their defaults are ``w = 100, λ = 5``.
- :func:`orthogonal_grad`: ⊥Grad (Prieto et al. 2025, "Grokking at the Edge of Numerical
  Stability"): ``g⊥ = g − (θᵀg / θᵀθ)·θ``, the gradient without its component along the member's
  weights θ, which only scales the logits up ("naive loss minimization"). The paper defines it on
  the whole parameter vector, and so does this transform (per member); the authors' ``OrthoGrad``
  projects each parameter tensor separately and then rescales ``g⊥`` to ``‖g‖`` (``renorm=True``,
  the default here too). ``strength`` removes that fraction of the component (1 = ⊥Grad, 0 = off).
- :func:`normalize_grad`: ``g ← c·g/‖g‖`` per member (0 = off), a control that fixes the
  gradient's size so a filter's effect on the step size can be told apart from its direction.

All three keep their state (if any) as ``[model, ...]`` tensors keyed by name in a
``named_chain``, so ensemble compaction indexes it like any other state. :func:`with_filters`
puts a list of them in front of a built optimizer's chain, leaving the optimizer's state keys
(``"adam.mu"``...) unchanged.

>>> t = normalize_grad(torch.tensor([1.0, 0.0]))      # member 0 normalized, member 1 left alone
>>> t.update(torch.tensor([[3.0, 4.0], [3.0, 4.0]]), {}, None)[0]
tensor([[0.6000, 0.8000],
        [3.0000, 4.0000]])
"""

from __future__ import annotations

import torch
from torch import Tensor

from grokscope.errors import ConfigError
from grokscope.train._optim import Optimizer
from grokscope.train._transforms import State, Transform, _Hyper, named_chain
from grokscope.validate import check_bool, check_int

__all__ = ["grokfast_ma", "orthogonal_grad", "normalize_grad", "with_filters", "prepend"]

_TINY = 1e-30  # the authors' OrthoGrad guard against 0/0 (representable in float32)


def _off(h: _Hyper) -> bool:
    return h.is_float and h.value == 0.0


def grokfast_ma(window: int, lamb, warmup: bool = True) -> Transform:
    """Grokfast-MA: ``g ← g + λ·(Σ of the last w gradients)/w``, per member (see the module docstring).

    State: ``buf [model, w, n_params]`` (a ring of the last ``w`` gradients), ``sum [model, n_params]``
    (their running sum, recomputed exactly from ``buf`` each time a member's ring wraps, so rounding
    cannot accumulate) and ``count [model]``. ``warmup=False`` filters from the first step with the
    mean over the gradients seen so far.

    >>> t = grokfast_ma(window=2, lamb=1.0)
    >>> s = t.init(torch.zeros(1, 1))
    >>> [t.update(torch.tensor([[x]]), s, None)[0].item() for x in (1.0, 3.0, 5.0)]  # 1; 3 + 2; 5 + 4
    [1.0, 5.0, 9.0]
    """
    w = check_int(window, "optim.grokfast_ma_window", 1)
    warmup = check_bool(warmup, "grokfast_ma warmup")
    h_lamb = _Hyper("optim.grokfast_ma_lambda", lamb, 0.0, float("inf"))

    def init(params: Tensor) -> State:
        m, n = params.shape
        return {"buf": params.new_zeros(m, w, n), "sum": torch.zeros_like(params),
                "count": torch.zeros(m, dtype=torch.int64, device=params.device)}

    def update(g: Tensor, state: State, params: Tensor | None) -> tuple[Tensor, State]:
        buf, total, count = state["buf"], state["sum"], state["count"]
        rows = torch.arange(g.shape[0], device=g.device)
        slot = count % w  # [model]: where each member's newest gradient goes
        total.sub_(buf[rows, slot]).add_(g)  # the slot holds the gradient w steps back (0 until the ring is full)
        buf[rows, slot] = g
        count.add_(1)
        wrapped = slot == w - 1  # [model]: a full window just completed; refresh its sum exactly
        if bool(wrapped.any()):
            idx = wrapped.nonzero().squeeze(1)
            total.index_copy_(0, idx, buf.index_select(0, idx).sum(1))
        if _off(h_lamb):
            return g, state
        seen = count.clamp(max=w).unsqueeze(1).to(g.dtype)  # [model, 1]
        factor = h_lamb.at(g) / seen  # [model, 1]
        if warmup:
            factor = torch.where(count.unsqueeze(1) >= w, factor, torch.zeros_like(factor))
        g.addcmul_(total, factor)
        return g, state

    return Transform(init, update, hypers=(h_lamb,))


def orthogonal_grad(strength=1.0, renorm: bool = True) -> Transform:
    """⊥Grad: remove ``strength`` × the gradient's component along each member's weights.

    ``g⊥ = g − s·(θᵀg / (θᵀθ + 1e-30))·θ`` on the member's packed parameter vector θ; with
    ``renorm`` (the authors' code) ``g⊥`` is rescaled to ``‖g‖``. A member with ``s = 0`` keeps its
    gradient bit for bit. No state.

    >>> t = orthogonal_grad(renorm=False)
    >>> t.update(torch.tensor([[1.0, 1.0]]), {}, torch.tensor([[2.0, 0.0]]))[0]
    tensor([[0., 1.]])
    """
    h_s = _Hyper("optim.ortho_grad", strength, 0.0, 1.0)
    renorm = check_bool(renorm, "optim.ortho_grad_renorm")

    def init(params: Tensor) -> State:
        return {}

    def update(g: Tensor, state: State, params: Tensor | None) -> tuple[Tensor, State]:
        if _off(h_s):
            return g, state
        s = h_s.at(g)
        coef = (params * g).sum(1, keepdim=True) / ((params * params).sum(1, keepdim=True) + _TINY)  # [model, 1]
        g_norm = torch.linalg.vector_norm(g, dim=1, keepdim=True) if renorm else None  # [model, 1]
        g.sub_(params * (coef * s))
        if renorm:
            scale = g_norm / (torch.linalg.vector_norm(g, dim=1, keepdim=True) + _TINY)
            if not h_s.is_float:  # members with s = 0 are left exactly as they were
                scale = torch.where(s > 0, scale, torch.ones_like(scale))
            g.mul_(scale)
        return g, state

    return Transform(init, update, needs_params=not _off(h_s), hypers=(h_s,))


def normalize_grad(norm) -> Transform:
    """Rescale each member's gradient to 2-norm ``norm`` (0 = leave it; a zero gradient stays zero). No state."""
    h_c = _Hyper("optim.normalize_grad", norm, 0.0, float("inf"))

    def init(params: Tensor) -> State:
        return {}

    def update(g: Tensor, state: State, params: Tensor | None) -> tuple[Tensor, State]:
        if _off(h_c):
            return g, state
        c = h_c.at(g)
        c = torch.full((g.shape[0], 1), c, dtype=g.dtype, device=g.device) if isinstance(c, float) else c
        n = torch.linalg.vector_norm(g, dim=1, keepdim=True)  # [model, 1]
        g.mul_(torch.where((c > 0) & (n > 0), c / n.clamp(min=torch.finfo(g.dtype).tiny), torch.ones_like(n)))
        return g, state

    return Transform(init, update, hypers=(h_c,))


def prepend(first: Transform, then: Transform) -> Transform:
    """Run ``first`` and then ``then``, each on its own keys of one flat state (keys must not clash).

    Unlike nesting in a ``named_chain``, the keys of ``then`` stay as they were (``"adam.mu"``).
    """
    first_names = set(first.names)
    clash = first_names & set(then.names)
    if clash:
        raise ConfigError(f"filters {sorted(clash)}: a transform of that name is already in the chain")

    def split(state: State) -> tuple[State, State]:
        a = {k: v for k, v in state.items() if k.split(".", 1)[0] in first_names}
        return a, {k: v for k, v in state.items() if k not in a}

    def init(params: Tensor) -> State:
        return {**first.init(params), **then.init(params)}

    def update(g: Tensor, state: State, params: Tensor | None) -> tuple[Tensor, State]:
        a, b = split(state)
        g, a = first.update(g, a, params)
        g, b = then.update(g, b, params)
        state.update(a)
        state.update(b)
        return g, state

    return Transform(init, update, first.needs_params or then.needs_params, (*first.names, *then.names),
                     (*first.hypers, *then.hypers))


def with_filters(opt, filters: list[tuple[str, Transform]]):
    """``opt`` (a chain ``Optimizer``) with ``filters`` run first on the raw gradients; ``opt`` itself if none."""
    if not filters:
        return opt
    if not isinstance(opt, Optimizer):
        raise ConfigError(f"gradient filters need the transform-chain optimizer, got {type(opt).__name__}")
    return Optimizer(prepend(named_chain(*filters), opt.transform), opt.project)
