"""What every batched optimizer shares: the layout of the parameter dict it serves, and its state API.

An optimizer serves one dict of ``[model, ...]`` tensors (same member count, dtype and device):
``Layout.of(params)`` records its names and shapes at ``init`` and ``params_of`` checks each
step's dict against them, so a mismatch is one clear error instead of a silent mis-update.
``BatchedOptimizer`` holds what ``Optimizer`` (the transform chain) and ``FusedAdamW`` do alike:
gathering parameters and gradients, the projection slot after the update (``project``, see
``_projection.py``), ``update``, ``state_dict`` and ``load_state``.

>>> import torch
>>> lay = Layout.of({"W": torch.zeros(3, 2, 2), "b": torch.zeros(3, 2)})
>>> lay.n_members, lay.n_params
(3, 6)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from grokscope.errors import ConfigError
from grokscope.train._transforms import State, _Hyper


@dataclass(frozen=True)
class Layout:
    entries: tuple[tuple[str, torch.Size], ...]  # (name, [model, ...] shape), in the dict's order
    n_members: int
    dtype: torch.dtype
    device: torch.device

    @property
    def n_params(self) -> int:
        """Parameters per member."""
        return sum(shape[1:].numel() for _, shape in self.entries)

    @property
    def sizes(self) -> list[int]:
        """Each tensor's parameters per member, in order."""
        return [shape[1:].numel() for _, shape in self.entries]

    @classmethod
    def of(cls, params: dict[str, Tensor], who: str = "optimizer") -> "Layout":
        if not params:
            raise ConfigError(f"{who} init: the parameter dict is empty; pass the ensemble's parameters")
        first = next(iter(params.values()))
        n, dtype, device = first.shape[0] if first.ndim else 0, first.dtype, first.device
        for name, p in params.items():
            if p.ndim == 0 or p.shape[0] != n or p.dtype != dtype or p.device != device:
                raise ConfigError(
                    f"parameter {name!r} is {tuple(p.shape)} {p.dtype} on {p.device}; every parameter must be "
                    f"[model={n}, ...] {dtype} on {device}"
                )
        return cls(tuple((name, p.shape) for name, p in params.items()), n, dtype, device)

    def with_members(self, n: int) -> "Layout":
        """The same parameters for an ensemble of ``n`` members (after members retired)."""
        return Layout(tuple((name, torch.Size((n, *shape[1:]))) for name, shape in self.entries), n,
                      self.dtype, self.device)

    def params_of(self, params: dict[str, Tensor]) -> list[Tensor]:
        """``params`` as a list in init's order, after checking names and shapes."""
        if len(params) != len(self.entries) or any(
                name not in params or params[name].shape != shape for name, shape in self.entries):
            raise ConfigError(
                f"optimizer step: parameters {[(n, tuple(p.shape)) for n, p in params.items()]} differ from "
                f"those given to init {[(n, tuple(s)) for n, s in self.entries]}"
            )
        return [params[name] for name, _ in self.entries]

    def column_views(self, buf: Tensor) -> list[Tensor]:
        """Each parameter's column block of a packed ``[model, n_params]`` buffer, in its own shape."""
        views, start = [], 0
        for (_, shape), n in zip(self.entries, self.sizes):
            views.append(buf[:, start:start + n].view(shape))
            start += n
        return views

    def block_views(self, flat: Tensor) -> list[Tensor]:
        """Each parameter's contiguous ``[model, ...]`` block of a flat parameter-major vector."""
        views, start = [], 0
        for _, shape in self.entries:
            views.append(flat[start:start + shape.numel()].view(shape))
            start += shape.numel()
        return views


def check_active(active: Tensor, n_members: int) -> None:
    if active.shape != (n_members,) or active.dtype != torch.bool:
        raise ConfigError(f"active: {tuple(active.shape)} {active.dtype}; must be a [model={n_members}] bool tensor")


def restore_state(saved: dict[str, Tensor], spec: dict[str, tuple] | None, device) -> State:
    """A state to continue from: ``saved`` cloned (to ``device``), checked against ``spec`` if known.

    ``spec`` maps each key to the ``(shape, dtype)`` this optimizer's ``init`` made.
    """
    if spec is not None:
        if set(saved) != set(spec):
            raise ConfigError(
                f"optimizer state has keys {sorted(saved)}; this optimizer expects {sorted(spec)} "
                "(was the checkpoint made with a different optimizer config?)")
        for k, (shape, dtype) in spec.items():
            if saved[k].shape != shape or saved[k].dtype != dtype:
                raise ConfigError(
                    f"optimizer state {k!r} is {tuple(saved[k].shape)} {saved[k].dtype}; expected "
                    f"{tuple(shape)} {dtype} (different ensemble size or parameters?)")
    return {k: v.detach().clone().to(device) if device is not None else v.detach().clone() for k, v in saved.items()}


class BatchedOptimizer:
    """The part of the optimizer interface that does not depend on how the update is computed.

    Subclasses set ``_layout`` and ``_spec`` (each state key's ``(shape, dtype)``) in ``init`` and
    implement ``step(params, grads, state, active=None) -> state``, ending it with
    ``self._project(plist, active)``: ``project``, when set, maps the active members' parameters
    after each update (e.g. ``fixed_norm``); it has no state.
    """

    _layout: Layout | None = None
    _spec: dict[str, tuple] | None = None
    project = None  # Projection | None: called as project(params [model, ...] list, active) after each update

    # -- members leaving the ensemble (retirement, ``_state.py``) ------------------------------
    # A state is per member along its member axis; these three operations let the run drop members
    # (their rows leave every tensor) and put a full-width state back together for the resume state.
    def retain_members(self, idx: Tensor) -> None:
        """Serve only members ``idx`` (int64, increasing) of the current ensemble from now on: the
        layout, buffers and per-member hyperparameters shrink with them (``select_state`` the state)."""
        raise NotImplementedError(f"{type(self).__name__} cannot drop members")

    def select_state(self, state: State, idx: Tensor) -> State:
        """The state of members ``idx`` (new tensors, in the layout of ``len(idx)`` members)."""
        raise NotImplementedError(f"{type(self).__name__} cannot drop members")

    def concat_states(self, states: list[State]) -> State:
        """States of disjoint member sets stacked along the member axis, in order."""
        raise NotImplementedError(f"{type(self).__name__} cannot drop members")

    def _retain_projection(self, idx: Tensor) -> None:
        """Narrow the projection's per-member values: its ``select_members(idx)`` if it has one, else
        every ``_Hyper`` attribute (``fixed_norm``'s targets)."""
        if self.project is None:
            return
        if hasattr(self.project, "select_members"):
            self.project.select_members(idx)
            return
        for v in vars(self.project).values() if hasattr(self.project, "__dict__") else ():
            if isinstance(v, _Hyper):
                v.select(idx)

    def _project(self, plist: list[Tensor], active: Tensor | None) -> None:
        if self.project is not None:
            self.project(plist, active)

    def _params_and_grads(self, params: dict[str, Tensor],
                          grads: dict[str, Tensor | None] | None) -> tuple[list[Tensor], list[Tensor | None]]:
        """``params`` and their gradients in init's order (``grads=None``: each ``p.grad``; absent: None)."""
        if self._layout is None:
            raise ConfigError("optimizer step before init: call state = opt.init(params) first")
        plist = self._layout.params_of(params)
        glist = [p.grad for p in plist] if grads is None else [grads.get(name) for name, _ in self._layout.entries]
        return plist, glist

    def update(self, grads: dict[str, Tensor | None], state: State, params: dict[str, Tensor],
               active: Tensor | None = None) -> tuple[dict[str, Tensor], State]:
        """The architecture contract's spelling of ``step``: returns ``(params, state)`` (updated in place)."""
        return params, self.step(params, grads, state, active)

    def state_dict(self, state: State) -> dict[str, Tensor]:
        """A detached copy of ``state`` to store in a checkpoint (tensors only)."""
        return {k: v.detach().clone() for k, v in state.items()}

    def load_state(self, saved: dict[str, Tensor]) -> State:
        """A state to continue from, restored bit-exactly from ``state_dict``'s output.

        After ``init`` the keys, shapes and dtypes are checked against this optimizer's.
        """
        device = self._layout.device if self._layout is not None else None
        return restore_state(self._convert_state(saved), self._spec, device)

    def _convert_state(self, saved: dict[str, Tensor]) -> dict[str, Tensor]:
        """Hook: bring a state saved in another supported format into this optimizer's (default: as is)."""
        return saved
