"""Gradient transformations for ensembles, composed optax-style.

A transform is a pair of functions. ``init(params) -> state`` builds its state and
``update(updates, state, params) -> (updates, state)`` turns incoming gradients (or
the output of the previous transform) into outgoing updates. ``named_chain`` composes them,
so AdamW is literally ``named_chain(("adam", scale_by_adam()), ("weight_decay",
add_decayed_weights(wd)), ("lr", scale_by_lr(lr)))`` as in optax, and its state is keyed by
those names (``"adam.mu"``): adding a transform does not move the others' state.

Every transform here is *elementwise per ensemble member*, so a transform sees the
whole ensemble's parameters packed into one matrix ``[model, n_params]`` (each
member's tensors flattened and concatenated; ``Optimizer`` in ``_optim.py`` does the
packing). One matrix instead of a list of tensors means one kernel per operation
whatever the number of parameter tensors, and a per-member hyperparameter is just a
``[model, 1]`` column that broadcasts.

Two deliberate departures from optax, both for speed on tiny models that take
millions of steps (torch is not JAX: nothing compiles the allocations away):

* state tensors are updated **in place** and ``update`` returns the same dict;
* ``update`` may overwrite its ``updates`` argument and return it.

State is a flat ``dict[str, Tensor]`` so it can be saved and restored bit-exactly.
Counters are ``[model]`` int64 tensors, one per member, so a frozen member's count
(hence its bias correction and warmup) stays where it was.

Every hyperparameter may be a float or a ``[model]`` tensor of per-member values (a list
or numpy array of per-member values, as a config gives them, is accepted too). The learning
rate and the weight decay may also follow a schedule (``_hyper_schedule.py``), a factor of
each member's step count.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
from torch import Tensor

from grokscope.errors import ConfigError
from grokscope.train._hyper_schedule import Schedule, check_schedule, is_constant, lr_schedule_of, schedule_factor

State = dict[str, Tensor]


class Transform(NamedTuple):
    """An ``(init, update)`` pair; ``needs_params`` says whether ``update`` reads ``params``.

    A chain's ``names`` are its transforms' names in order (its state keys are ``"name.key"``).
    ``hypers`` are its per-member hyperparameters (``_Hyper``), which an ensemble that drops
    members (retirement) narrows with them (``_Hyper.select``).
    """

    init: Callable[[Tensor], State]  # params [model, n_params] -> state
    update: Callable[[Tensor, State, Tensor | None], tuple[Tensor, State]]
    needs_params: bool = False
    names: tuple[str, ...] = ()
    hypers: tuple = ()  # the _Hyper objects update reads


class _Hyper:
    """A hyperparameter given as a float or a ``[model]`` tensor of per-member values.

    ``at(like)`` returns the float, or the values as a ``[model, 1]`` column in
    ``like``'s dtype and device (cached, so the per-step cost is one dict lookup).
    """

    def __init__(self, name: str, value, lo: float, hi: float, lo_open=False, hi_open=False):
        if isinstance(value, (list, tuple)) or type(value).__module__ == "numpy":
            try:  # a config list of per-member values, or a numpy array/scalar
                value = torch.as_tensor(value, dtype=torch.float64)
            except (TypeError, ValueError, RuntimeError):
                raise ConfigError(f"{name}={value!r}: must be a float or one number per member") from None
        if isinstance(value, Tensor) and value.ndim == 0 and value.is_floating_point():
            value = value.item()
        if isinstance(value, Tensor):
            if value.ndim != 1 or value.is_complex() or value.dtype == torch.bool:
                raise ConfigError(f"{name}: tensor of shape {tuple(value.shape)}; must be a float or a 1-D [model] tensor")
            vals = value.detach().double().cpu()
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            vals = torch.tensor([float(value)], dtype=torch.float64)
        else:
            raise ConfigError(f"{name}={value!r}: must be a float or a 1-D [model] tensor")
        bad_lo = (vals <= lo) if lo_open else (vals < lo)
        bad_hi = (vals >= hi) if hi_open else (vals > hi)
        if not torch.isfinite(vals).all() or bad_lo.any() or bad_hi.any():
            interval = f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open or hi == float('inf') else ']'}"
            shown = value if not isinstance(value, Tensor) else value.tolist()
            raise ConfigError(f"{name}={shown}: every value must lie in {interval}")
        self.name = name
        self.value = float(value) if not isinstance(value, Tensor) else value.detach()
        self._cache: dict[tuple, Tensor] = {}

    @property
    def is_float(self) -> bool:
        return isinstance(self.value, float)

    def select(self, idx: Tensor) -> None:
        """Keep the per-member values of members ``idx`` (an ensemble that retired the others)."""
        if not self.is_float:
            self.value = self.value.index_select(0, idx.to(self.value.device))
            self._cache.clear()

    def at(self, like: Tensor, dtype: torch.dtype | None = None) -> float | Tensor:
        if self.is_float:
            return self.value
        dtype = like.dtype if dtype is None else dtype
        key = (dtype, like.device)
        col = self._cache.get(key)
        if col is None:
            if self.value.shape[0] != like.shape[0]:
                raise ConfigError(
                    f"{self.name}: {self.value.shape[0]} per-member values for an ensemble of "
                    f"{like.shape[0]} members; give one value per member or a float"
                )
            col = self.value.to(dtype=dtype, device=like.device).reshape(-1, 1)
            self._cache[key] = col
        return col


def _counter(params: Tensor) -> Tensor:
    return torch.zeros(params.shape[0], dtype=torch.int64, device=params.device)  # [model]


def named_chain(*named: tuple[str, Transform]) -> Transform:
    """Compose ``(name, transform)`` pairs left to right; state keys are ``"name.key"`` (optax's ``named_chain``).

    >>> t = named_chain(("adam", scale_by_adam()), ("lr", scale_by_lr(1e-3, warmup_steps=10)))
    >>> sorted(t.init(torch.zeros(2, 3)))
    ['adam.count', 'adam.mu', 'adam.nu', 'lr.count']
    """
    names = []
    for pair in named:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[1], Transform)):
            raise ConfigError(f"chain: {pair!r} is not a Transform; build one with grokscope.train transforms")
        name = pair[0]
        if not isinstance(name, str) or not name or "." in name or name in names:
            raise ConfigError(f"named_chain: name {name!r}: must be a non-empty string without '.', "
                              f"unique in the chain (have {names})")
        names.append(name)
    transforms = [t for _, t in named]

    def init(params: Tensor) -> State:
        state: State = {}
        for name, t in named:
            state.update({f"{name}.{k}": v for k, v in t.init(params).items()})
        return state

    # Tensors are updated in place, so each step only rebuilds small dicts of references:
    # (transform, [(its key, chained key), ...]) computed once per key set.
    plan: list = []

    def update(updates: Tensor, state: State, params: Tensor | None) -> tuple[Tensor, State]:
        if len(plan) != len(transforms) or any(full not in state for _, keys in plan for _, full in keys):
            plan[:] = [(t, [(k.split(".", 1)[1], k) for k in state if k.split(".", 1)[0] == name])
                       for name, t in named]
        for t, keys in plan:
            sub = {k: state[full] for k, full in keys}
            updates, sub = t.update(updates, sub, params)
            for k, full in keys:
                state[full] = sub[k]
        return updates, state

    return Transform(init, update, any(t.needs_params for t in transforms), tuple(names),
                     tuple(h for t in transforms for h in t.hypers))


def chain(*transforms: Transform) -> Transform:
    """Compose transforms left to right, named by position: state keys ``"0.mu"`` (optax's ``chain``).

    >>> t = chain(scale_by_adam(), scale_by_lr(1e-3, warmup_steps=10))
    >>> sorted(t.init(torch.zeros(2, 3)))
    ['0.count', '0.mu', '0.nu', '1.count']
    """
    for t in transforms:
        if not isinstance(t, Transform):
            raise ConfigError(f"chain: {t!r} is not a Transform; build one with grokscope.train transforms")
    return named_chain(*((str(i), t) for i, t in enumerate(transforms)))


def scale_by_adam(b1=0.9, b2=0.999, eps=1e-8) -> Transform:
    """Adam's normalisation: ``m̂ / (√v̂ + eps)`` with bias-corrected moments.

    Matches ``torch.optim.Adam`` (Kingma & Ba 2015, Algorithm 1): ``m ← b1·m + (1−b1)·g``,
    ``v ← b2·v + (1−b2)·g²``, ``m̂ = m / (1 − b1^t)``, ``v̂ = v / (1 − b2^t)`` with ``t``
    counted per member from 1.

    >>> t = scale_by_adam()
    >>> s = t.init(torch.zeros(1, 2))
    >>> u, s = t.update(torch.tensor([[2.0, -3.0]]), s, None)
    >>> u.round(decimals=6)  # the first Adam step is sign(g) up to eps
    tensor([[ 1., -1.]])
    """
    h_b1 = _Hyper("b1", b1, 0.0, 1.0, hi_open=True)
    h_b2 = _Hyper("b2", b2, 0.0, 1.0, hi_open=True)
    h_eps = _Hyper("eps", eps, 0.0, float("inf"))

    def init(params: Tensor) -> State:
        return {"count": _counter(params), "mu": torch.zeros_like(params), "nu": torch.zeros_like(params)}

    def update(g: Tensor, state: State, params: Tensor | None) -> tuple[Tensor, State]:
        mu, nu, count = state["mu"], state["nu"], state["count"]
        count.add_(1)
        b1_, b2_ = h_b1.at(g), h_b2.at(g)
        mu.lerp_(g, 1 - b1_)  # [model, n_params]; the same op torch.optim.Adam uses
        if h_b2.is_float:
            nu.mul_(b2_).addcmul_(g, g, value=1 - b2_)
        else:  # addcmul's value cannot be a tensor
            nu.mul_(b2_).addcmul_(g, g * (1 - b2_))
        # Bias corrections in float64, as torch does (in Python floats): in float32,
        # 1 - 0.999**t loses 4 significant digits to cancellation. Folding them into two
        # per-member scalars, m̂/(√v̂+eps) = (√bc2/bc1)·m/(√v + eps·√bc2), saves a pass over v.
        t = count.to(torch.float64).unsqueeze(1)  # [model, 1]
        bc1 = 1 - torch.pow(h_b1.at(g, torch.float64), t)
        bc2_sqrt = (1 - torch.pow(h_b2.at(g, torch.float64), t)).sqrt_()
        eps_hat = (bc2_sqrt * h_eps.at(g, torch.float64)).to(g.dtype)  # [model, 1]
        scale = (bc2_sqrt / bc1).to(g.dtype)  # [model, 1]
        # g is free now: reuse its storage for the update (no per-step allocation).
        torch.sqrt(nu, out=g).add_(eps_hat)
        torch.div(mu, g, out=g).mul_(scale)
        return g, state

    return Transform(init, update, hypers=(h_b1, h_b2, h_eps))


def trace(momentum, nesterov: bool = False) -> Transform:
    """Heavy-ball momentum with ``torch.optim.SGD`` semantics (dampening 0).

    ``buf ← momentum·buf + g``; the update is ``buf`` or, with Nesterov (Sutskever et al.
    2013), ``g + momentum·buf``. Starting from ``buf = 0`` gives torch's first step ``buf = g``.

    >>> t = trace(0.5)
    >>> s = t.init(torch.zeros(1, 1))
    >>> for _ in range(2): u, s = t.update(torch.ones(1, 1), s, None)
    >>> u
    tensor([[1.5000]])
    """
    h_m = _Hyper("momentum", momentum, 0.0, 1.0)
    if not isinstance(nesterov, bool):
        raise ConfigError(f"nesterov={nesterov!r}: must be True or False")

    def init(params: Tensor) -> State:
        return {"buf": torch.zeros_like(params)}

    def update(g: Tensor, state: State, params: Tensor | None) -> tuple[Tensor, State]:
        buf, m = state["buf"], h_m.at(g)
        buf.mul_(m).add_(g)
        if nesterov:
            if h_m.is_float:
                g.add_(buf, alpha=m)
            else:
                g.addcmul_(buf, m)
        else:
            g.copy_(buf)
        return g, state

    return Transform(init, update, hypers=(h_m,))


def add_decayed_weights(weight_decay, kind: str = "l2", schedule: Schedule | None = None) -> Transform:
    """Add the gradient of a weight penalty: ``wd·p`` (``"l2"``) or ``wd·sign(p)`` (``"l1"``).

    Placed after ``scale_by_adam`` it gives AdamW's decoupled decay (Loshchilov & Hutter
    2019): ``p ← p − lr·wd·p``. With ``"l1"`` the decoupled step is ``p ← p − lr·wd·sign(p)``,
    the L1 penalty used for sparse parity in PAIR's "Do Machine Learning Models Memorize or
    Generalize?" (2023). Placed before ``scale_by_adam`` it is coupled (torch.optim.Adam's
    ``weight_decay``). The L2 term ``wd·p`` is the gradient of ``wd/2·‖p‖²``, as in torch.
    ``schedule`` (a factor of the step, see ``_hyper_schedule.py``) makes it ``wd·schedule(t)``.

    >>> t = add_decayed_weights(0.1, kind="l1")
    >>> t.update(torch.zeros(1, 2), {}, torch.tensor([[3.0, -2.0]]))[0]
    tensor([[ 0.1000, -0.1000]])
    """
    if kind not in ("l2", "l1"):
        raise ConfigError(f"weight decay kind={kind!r}: must be 'l2' or 'l1'")
    h_wd = _Hyper("weight_decay", weight_decay, 0.0, float("inf"))
    schedule = None if is_constant(check_schedule(schedule, "wd_schedule")) else schedule
    off = h_wd.is_float and h_wd.value == 0.0

    def init(params: Tensor) -> State:
        return {"count": _counter(params)} if schedule is not None and not off else {}

    def update(g: Tensor, state: State, params: Tensor | None) -> tuple[Tensor, State]:
        if off:
            return g, state
        wd = h_wd.at(g)
        penalty_grad = params if kind == "l2" else params.sign()
        if schedule is not None:
            count = state["count"]
            g.addcmul_(penalty_grad, schedule_factor(schedule, count, g.dtype).mul_(wd))  # [model, 1] factor
            count.add_(1)
        elif h_wd.is_float:
            g.add_(penalty_grad, alpha=wd)
        else:
            g.addcmul_(penalty_grad, wd)
        return g, state

    # A zero float decay never reads the parameters: skip packing them every step.
    return Transform(init, update, needs_params=not off, hypers=(h_wd,))


def scale_by_lr(lr, warmup_steps: int = 0, schedule: Schedule | None = None) -> Transform:
    """Multiply by ``−lr·schedule(t)``, ``t`` = updates already applied (from 0).

    The default schedule is the linear warmup ``min(1, t/warmup_steps)`` of Nanda et al. (2023,
    "Progress measures for grokking via mechanistic interpretability"), ``LambdaLR(lambda t:
    min(t/10, 1))``: the very first step has learning rate 0, exactly as that scheduler gives;
    ``warmup_steps=0`` means none. Any other schedule (e.g. ``cosine_schedule``, which has its
    own warmup) is passed as ``schedule`` with ``warmup_steps=0``.

    >>> t = scale_by_lr(0.5, warmup_steps=2)
    >>> s = t.init(torch.zeros(1, 1))
    >>> [t.update(torch.ones(1, 1), s, None)[0].item() for _ in range(4)]
    [-0.0, -0.25, -0.5, -0.5]
    """
    h_lr = _Hyper("lr", lr, 0.0, float("inf"))
    schedule = lr_schedule_of(warmup_steps, schedule)

    def init(params: Tensor) -> State:
        return {"count": _counter(params)} if schedule is not None else {}

    def update(g: Tensor, state: State, params: Tensor | None) -> tuple[Tensor, State]:
        lr_ = h_lr.at(g)
        if schedule is None:
            return g.mul_(-lr_), state
        count = state["count"]
        g.mul_(schedule_factor(schedule, count, g.dtype).mul_(-lr_))  # [model, 1]
        count.add_(1)
        return g, state

    return Transform(init, update, hypers=(h_lr,))


def grokfast_ema(alpha, lamb) -> Transform:
    """Grokfast's slow-gradient amplifier (Lee et al. 2024, "Grokfast", Algorithm 2).

    ``h ← α·h + (1−α)·g``; ``g ← g + λ·h``. As in the authors' ``gradfilter_ema``, ``h``
    starts at the first gradient (not at zero), so the first step amplifies ``g`` by ``1+λ``.
    Put it first in the chain, where it filters raw gradients. The paper's modular
    arithmetic setting uses ``alpha=0.98, lamb=2.0``.

    >>> t = grokfast_ema(alpha=0.5, lamb=1.0)
    >>> s = t.init(torch.zeros(1, 1))
    >>> t.update(torch.ones(1, 1), s, None)[0], t.update(torch.zeros(1, 1), s, None)[0]
    (tensor([[2.]]), tensor([[0.5000]]))
    """
    h_alpha = _Hyper("grokfast alpha", alpha, 0.0, 1.0, hi_open=True)
    h_lamb = _Hyper("grokfast lamb", lamb, 0.0, float("inf"))

    def init(params: Tensor) -> State:
        return {"count": _counter(params), "ema": torch.zeros_like(params)}

    def update(g: Tensor, state: State, params: Tensor | None) -> tuple[Tensor, State]:
        ema, count = state["ema"], state["count"]
        a, lam = h_alpha.at(g), h_lamb.at(g)
        # weight 1 on a member's first step makes lerp return g exactly: h starts at g.
        first = (count == 0).unsqueeze(1)  # [model, 1]
        w = torch.where(first, torch.ones((), dtype=g.dtype, device=g.device), 1 - a)  # [model, 1]
        ema.lerp_(g, w)
        count.add_(1)
        if h_lamb.is_float:
            g.add_(ema, alpha=lam)
        else:
            g.addcmul_(ema, lam)
        return g, state

    return Transform(init, update, hypers=(h_alpha, h_lamb))


def clip_by_global_norm(max_norm) -> Transform:
    """Scale each member's gradient so its global 2-norm is at most ``max_norm``.

    Per member, exactly ``torch.nn.utils.clip_grad_norm_`` on that member's parameters:
    ``g ← g · min(1, max_norm / (‖g‖ + 1e-6))``. Members never share a norm, so one member's
    spike does not shrink the others' steps.

    >>> t = clip_by_global_norm(1.0)
    >>> t.update(torch.tensor([[3.0, 4.0], [0.3, 0.4]]), {}, None)[0]
    tensor([[0.6000, 0.8000],
            [0.3000, 0.4000]])
    """
    h_max = _Hyper("max_norm", max_norm, 0.0, float("inf"), lo_open=True)

    def init(params: Tensor) -> State:
        return {}

    def update(g: Tensor, state: State, params: Tensor | None) -> tuple[Tensor, State]:
        norm = torch.linalg.vector_norm(g, dim=1, keepdim=True)  # [model, 1]
        g.mul_((h_max.at(g) / (norm + 1e-6)).clamp_(max=1.0))  # 1e-6: torch's clip_grad_norm_
        return g, state

    return Transform(init, update, hypers=(h_max,))
