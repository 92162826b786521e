"""Projections: a map applied to each member's parameters after every optimizer update.

An optimizer's update moves the parameters; a projection then puts them back on a constraint set
(optax's ``projections``, projected gradient descent). Both batched optimizers (the transform
chain and the fused AdamW kernel) take one as ``project=``; it is called with the parameter
tensors ``[model, ...]`` (in the order of the parameter dict) and the ``active [model]`` mask, and
changes active members in place. Inactive (diverged) members are left bit for bit as they are.

A projection is any callable ``project(params: list[Tensor], active: Tensor | None) -> None``
(``active=None``: every member is active). The first one is Omnigrok's fixed-norm training.

>>> import torch
>>> params = [torch.full((2, 3), 1.0), torch.full((2, 1), 1.0)]    # two members, 4 parameters each
>>> fixed_norm(torch.tensor([1.0, 4.0]))(params, None)
>>> [round(float(torch.cat([p[m] for p in params]).norm()), 6) for m in range(2)]
[1.0, 4.0]
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from grokscope.train._transforms import _Hyper

__all__ = ["Projection", "fixed_norm"]

Projection = Callable[[list[Tensor], "Tensor | None"], None]


class FixedNorm:
    """Rescale each member's parameters, all tensors together, to total L2 norm ``target``.

    Liu, Michaud & Tegmark (2023, "Omnigrok: Grokking beyond algorithmic data") train at a fixed
    weight norm by rescaling all weights to the chosen norm after every update; the norm is the
    control parameter of their grokking phase diagrams. A member whose target is 0, whose norm is
    0 or not finite, or that is inactive is left unchanged.
    """

    def __init__(self, target):
        self.target = _Hyper("project_norm", target, 0.0, float("inf"))

    @torch.no_grad()
    def __call__(self, params: list[Tensor], active: Tensor | None) -> None:
        m = params[0].shape[0]
        norm = torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(p.reshape(m, -1), dim=1) for p in params]), dim=0)  # [model]
        target = self.target.at(norm.unsqueeze(1))
        target = torch.full_like(norm, target) if isinstance(target, float) else target.view(m)  # [model]
        ok = (target > 0) & (norm > 0) & torch.isfinite(norm)
        if active is not None:
            ok &= active.to(ok.device)
        # x * 1.0 == x exactly, so members left out keep their bits.
        scale = torch.where(ok, target / norm, torch.ones_like(norm))  # [model]
        for p in params:
            p.mul_(scale.view(m, *[1] * (p.ndim - 1)))

    def __repr__(self) -> str:
        v = self.target.value
        return f"fixed_norm({v if isinstance(v, float) else v.tolist()})"


def fixed_norm(target) -> Projection:
    """Omnigrok's projection: each member's parameters rescaled to total norm ``target`` after each update.

    ``target`` is a float or a ``[model]`` tensor (or list) of per-member norms; 0 leaves a member free.
    """
    return FixedNorm(target)
