"""Hyperparameter schedules: the factor by which the learning rate (or weight decay) is scaled at a step.

A schedule is a callable of ``t``, the number of updates a member has already applied (0 for its
first update), returning a factor that multiplies the base value: ``lr_t = lr · schedule(t)``. The
base may be a float or a ``[model]`` tensor of per-member values, so one schedule serves a whole
ensemble whose members differ in lr (a factor composes with a per-member base; a value would not).
This is ``torch.optim.lr_scheduler.LambdaLR``'s convention (its lambda returns a factor, evaluated
at the number of ``scheduler.step()`` calls so far) and optax's (hyperparameters are callables of
the step count).

Each schedule takes ``t`` either as a Python number (the fused AdamW path, which hands the kernel
a float lr per step) and returns a float, or as a float64 tensor of per-member counts (the
transform chain, which keeps a ``[model]`` counter so a frozen member's schedule stays where it
was) and returns a tensor of the same shape. A custom schedule must accept both.

>>> s = cosine_schedule(total_steps=110, warmup_steps=10, final_frac=0.1)
>>> [round(s(t), 4) for t in (0, 5, 10, 60, 110, 200)]
[0.0, 0.5, 1.0, 0.55, 0.1, 0.1]
>>> import torch
>>> s(torch.tensor([0.0, 60.0], dtype=torch.float64))
tensor([0.0000, 0.5500], dtype=torch.float64)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Union

import torch
from torch import Tensor

from grokscope.errors import ConfigError
from grokscope.validate import check_int, check_number, require

__all__ = ["Schedule", "constant_schedule", "warmup_schedule", "cosine_schedule", "is_constant", "check_schedule",
           "schedule_factor", "lr_schedule_of"]

# t (updates applied: an int, or a float64 [model] tensor) -> factor (float, or tensor like t)
Schedule = Callable[[Union[int, float, Tensor]], Union[float, Tensor]]


@dataclass(frozen=True)
class Constant:
    """Factor 1 at every step."""

    def __call__(self, t):
        return torch.ones_like(t) if isinstance(t, Tensor) else 1.0


@dataclass(frozen=True)
class LinearWarmup:
    """``min(1, t / steps)``: Nanda et al. (2023, "Progress measures for grokking via mechanistic
    interpretability") ``LambdaLR(lambda t: min(t/10, 1))``; the first update has factor 0."""

    steps: int

    def __call__(self, t):
        frac = t / self.steps
        return frac.clamp(max=1.0) if isinstance(frac, Tensor) else min(1.0, frac)


@dataclass(frozen=True)
class WarmupCosine:
    """Linear warmup to 1 over ``warmup_steps``, then half a cosine down to ``final_frac`` at ``total_steps``
    (Loshchilov & Hutter 2017, "SGDR: Stochastic gradient descent with warm restarts", one cycle);
    ``final_frac`` after it."""

    total_steps: int
    warmup_steps: int
    final_frac: float

    def __call__(self, t):
        w, span, f = self.warmup_steps, self.total_steps - self.warmup_steps, self.final_frac
        if isinstance(t, Tensor):
            progress = ((t - w) / span).clamp(0.0, 1.0)
            down = f + (1.0 - f) * 0.5 * (1.0 + torch.cos(math.pi * progress))
            return torch.where(t < w, t / max(w, 1), down)
        if t < w:
            return t / w
        progress = min(1.0, (t - w) / span)
        return f + (1.0 - f) * 0.5 * (1.0 + math.cos(math.pi * progress))


def constant_schedule() -> Schedule:
    """The factor 1: the hyperparameter as given, from the first update on.

    >>> constant_schedule()(7)
    1.0
    """
    return Constant()


def warmup_schedule(warmup_steps: int) -> Schedule:
    """Linear warmup ``min(1, t / warmup_steps)`` (0 steps: the constant 1), then constant.

    >>> [warmup_schedule(4)(t) for t in range(6)]
    [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """
    warmup_steps = check_int(warmup_steps, "warmup_steps", 0)
    return LinearWarmup(warmup_steps) if warmup_steps else Constant()


def cosine_schedule(total_steps: int, warmup_steps: int = 0, final_frac: float = 0.0) -> Schedule:
    """Linear warmup over ``warmup_steps`` (as :func:`warmup_schedule`), then cosine decay from 1 at
    ``t = warmup_steps`` to ``final_frac`` at ``t = total_steps``; ``final_frac`` after that.

    ``t`` counts updates applied, so a run of ``total_steps`` updates makes its last one at
    ``t = total_steps - 1``, just above ``final_frac``, as ``LambdaLR`` with the same lambda does.
    """
    warmup_steps = check_int(warmup_steps, "warmup_steps", 0)
    total_steps = check_int(total_steps, "total_steps", warmup_steps + 1)
    final_frac = check_number(final_frac, "final_frac", 0.0, 1.0)
    return WarmupCosine(total_steps, warmup_steps, final_frac)


def is_constant(schedule: Schedule | None) -> bool:
    """Whether ``schedule`` is the constant 1 (``None`` counts as constant): nothing to count or scale."""
    return schedule is None or isinstance(schedule, Constant)


def check_schedule(schedule, key: str) -> Schedule | None:
    """``schedule`` if it is None or callable, else one ``ConfigError`` line naming ``key``."""
    require(schedule is None or callable(schedule), key, schedule,
            "None or a callable of the step (e.g. grokscope.train.cosine_schedule(...))")
    return schedule


def schedule_factor(schedule: Schedule, count: Tensor, dtype: torch.dtype) -> Tensor:
    """``schedule`` at each member's count, as a ``[model, 1]`` column in ``dtype``.

    Evaluated in float64 and rounded once: for the linear warmup this equals computing
    ``count / warmup_steps`` in ``dtype`` directly (a single correctly rounded division survives
    double rounding to float32), so runs made before schedules existed reproduce bit for bit.
    """
    factor = torch.as_tensor(schedule(count.to(torch.float64)), dtype=torch.float64, device=count.device)
    if factor.shape != count.shape:  # a custom schedule that returned one number
        factor = factor.expand(count.shape).clone()
    return factor.to(dtype).unsqueeze(1)  # [model, 1], a fresh tensor the caller may scale in place


def lr_schedule_of(warmup_steps, schedule: Schedule | None) -> Schedule | None:
    """The lr schedule of ``warmup_steps`` or ``schedule`` (one of them), None when constant."""
    schedule = check_schedule(schedule, "lr_schedule")
    warm = warmup_schedule(warmup_steps)  # checks warmup_steps
    if schedule is not None and not is_constant(warm):
        raise ConfigError(f"warmup_steps={warmup_steps} with lr_schedule={schedule!r}: give the warmup "
                          "inside the schedule (e.g. cosine_schedule(..., warmup_steps=...)) and warmup_steps=0")
    schedule = warm if schedule is None else schedule
    return None if is_constant(schedule) else schedule
