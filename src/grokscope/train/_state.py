"""What a run must carry across a restart: one way into the store, one way out.

``RunState`` holds the step to run next, the ensemble (its parameters), the optimizer and its
state, each member's minibatch generator, the mask of members still being updated, the step at
which each diverged member was frozen, and the evaluation hooks (whose state they keep).
``to_resume()`` is the resume state the store keeps (written with the metrics of the same flush);
``RunState.from_resume(saved, ...)`` rebuilds a state from it, including resume states written by
grokscope 0.1.0, which kept the grokking bookkeeping under ``book``.

Resume state (version 2)::

    {"version": 2, "step": int, "params": {name: Tensor[model, ...]}, "opt": <optimizer state_dict>,
     "rng": [generator state, ...], "active": BoolTensor[model], "diverged_step": [int] * model,
     "hooks": {hook name: hook.state_dict()}}

Version 1 (0.1.0) had ``book = {"mem_step", "gen_step", "diverged_step"}`` instead of the last two.
A run with dropout (``model.dropout``) adds ``"dropout_rng": [generator state, ...]``, its members'
dropout-mask generators; a state without the key is a run without dropout.

Retirement (``_retire.py``) compacts the live state: ``model``, ``opt_state``, ``gens`` and ``active``
hold the live members only, row ``j`` being member ``rows[j]``; each retired member's weights,
optimizer state and generator are kept aside as they were at its ``retired_step``. The resume state
stays full width, as if the retired members had only been frozen in place (``active`` False), and
adds ``"retired_step": [int] * model`` (-1: live) when any member retired; loading it compacts again.
So a state without that key (version 2, and 0.1.0's) loads as "none retired", and grokscope
versions that do not know the key resume it with the retired members frozen in place (the
survivors' numbers unchanged; the retired members' later metrics evaluated instead of NaN).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from grokscope.errors import ConfigError

__all__ = ["RunState", "RESUME_VERSION"]

RESUME_VERSION = 2


@dataclass
class RunState:
    step: int  # the next step to evaluate/update (a resume re-does it)
    model: torch.nn.Module  # the ensemble of live members; its parameters are the trained weights
    opt: Any  # the batched optimizer (stateless: its state is `opt_state`)
    opt_state: Any
    gens: list[torch.Generator]  # one minibatch generator per live member
    active: torch.Tensor  # [rows] bool, on the model's device: live members still updated (not diverged)
    diverged_step: np.ndarray  # [model] int64: the update whose loss was non-finite, -1 never
    hooks: list  # EvalHook instances, called in order at each evaluation
    rows: np.ndarray = None  # [rows] int64: the member of each live row (all members until one retires)
    retired_step: np.ndarray = None  # [model] int64: the step each member retired at, -1 live
    dropout_gens: list[torch.Generator] | None = None  # one dropout-mask generator per live member (None: no dropout)
    _kept: dict = field(default_factory=dict)  # retired members' weights, opt state, rng (see retire)

    def __post_init__(self):
        n = len(self.diverged_step)
        if self.rows is None:
            self.rows = np.arange(n, dtype=np.int64)
        if self.retired_step is None:
            self.retired_step = np.full(n, -1, dtype=np.int64)

    @classmethod
    def new(cls, model, opt, gens: Sequence[torch.Generator], hooks: Sequence,
            dropout_gens: Sequence[torch.Generator] | None = None) -> "RunState":
        """A state at step 0: fresh optimizer state, every member active, hooks set up."""
        n = len(gens)
        names = [h.name for h in hooks]
        if len(set(names)) != len(names):
            raise ConfigError(f"hooks named {names}: each hook needs its own name (it keys the resume state)")
        for h in hooks:
            h.setup(n)
        params = dict(model.named_parameters())
        return cls(0, model, opt, opt.init(params), list(gens), torch.ones(n, dtype=torch.bool, device=model.device),
                   np.full(n, -1, dtype=np.int64), list(hooks),
                   dropout_gens=None if dropout_gens is None else list(dropout_gens))

    @functools.cached_property
    def params(self) -> dict[str, torch.Tensor]:
        """The ensemble's parameters by name (the same tensors for the whole run)."""
        return dict(self.model.named_parameters())

    @property
    def n_members(self) -> int:
        return len(self.retired_step)

    @property
    def any_retired(self) -> bool:
        return len(self.rows) < self.n_members

    def full_active(self) -> np.ndarray:
        """``[model]`` bool: members still updated (live and not diverged)."""
        out = np.zeros(self.n_members, dtype=bool)
        out[self.rows] = self.active.cpu().numpy()
        return out

    def to_members(self, values: np.ndarray) -> np.ndarray:
        """Per-row values ``[rows]`` placed at their members ``[model]`` (NaN for retired members)."""
        if not self.any_retired:
            return values
        out = np.full(self.n_members, np.nan)
        out[self.rows] = values
        return out

    # -- retirement ---------------------------------------------------------------------------
    @torch.no_grad()
    def retire(self, members: np.ndarray) -> torch.Tensor | None:
        """Retire the live ``members`` (a ``[model]`` bool mask) at this step: keep their weights,
        optimizer state and generator aside and drop their rows from the live state.

        Returns the live rows kept (int64 indices into the rows before), for the caller to drop
        the same rows elsewhere (``TrainData.select_members``), or None when nothing changed.
        """
        leaving = np.asarray(members, dtype=bool)[self.rows]  # [rows]
        if not leaving.any():
            return None
        if leaving.all():  # the loop stops instead when the last members are decided
            raise ValueError("RunState.retire: at least one member must stay live")
        out = torch.as_tensor(np.flatnonzero(leaving), device=self.active.device)
        keep = torch.as_tensor(np.flatnonzero(~leaving), device=self.active.device)
        kept = self._kept
        weights = {k: v.detach().index_select(0, out) for k, v in self.model.state_dict().items()}
        opt_out = self.opt.select_state(self.opt_state, out)
        if kept:
            weights = {k: torch.cat([kept["weights"][k], v]) for k, v in weights.items()}
            opt_out = self.opt.concat_states([kept["opt"], opt_out])
        kept.update(members=[*kept.get("members", []), *self.rows[leaving].tolist()], weights=weights,
                    opt=opt_out, rng=[*kept.get("rng", []), *(self.gens[i].get_state() for i in out.tolist())])
        if self.dropout_gens is not None:
            kept["dropout_rng"] = [*kept.get("dropout_rng", []), *(self.dropout_gens[i].get_state() for i in out.tolist())]
            self.dropout_gens = [self.dropout_gens[i] for i in keep.tolist()]
        self.retired_step[self.rows[leaving]] = self.step
        self.model.select_members_(keep)
        self.opt.retain_members(keep)
        self.opt_state = self.opt.select_state(self.opt_state, keep)
        self.active = self.active.index_select(0, keep)
        self.gens = [self.gens[i] for i in keep.tolist()]
        self.rows = self.rows[~leaving]
        return keep

    def _order(self) -> torch.Tensor:
        """Where each member sits in ``[live rows..., kept members...]``: puts a full-width state together."""
        return torch.as_tensor(np.argsort(np.concatenate([self.rows, self._kept["members"]]), kind="stable"))

    def weights(self) -> dict[str, torch.Tensor]:
        """A detached copy of every member's weights (``[model, ...]``): a checkpoint or the resume state.

        A retired member's row holds its weights at its retirement step."""
        live = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        if not self.any_retired:
            return live
        kept, order = self._kept["weights"], self._order()
        return {k: torch.cat([live[k], kept[k]]).index_select(0, order.to(kept[k].device)) for k in kept}

    def to_resume(self) -> dict[str, Any]:
        """The resume state of this moment (see the module docstring)."""
        opt_state, rng = self.opt_state, [g.get_state() for g in self.gens]
        drop = None if self.dropout_gens is None else [g.get_state() for g in self.dropout_gens]
        if self.any_retired:
            order = self._order()
            opt_state = self.opt.select_state(self.opt.concat_states([opt_state, self._kept["opt"]]), order)
            rng = [(rng + self._kept["rng"])[i] for i in order.tolist()]
            if drop is not None:
                drop = [(drop + self._kept["dropout_rng"])[i] for i in order.tolist()]
        out = {"version": RESUME_VERSION, "step": int(self.step), "params": self.weights(),
               "opt": self.opt.state_dict(opt_state), "rng": rng,
               "active": torch.as_tensor(self.full_active()), "diverged_step": self.diverged_step.tolist(),
               "hooks": {h.name: h.state_dict() for h in self.hooks}}
        if self.any_retired:
            out["retired_step"] = self.retired_step.tolist()
        if drop is not None:
            out["dropout_rng"] = drop
        return out

    @classmethod
    def from_resume(cls, saved: Mapping[str, Any], model, opt, gens: Sequence[torch.Generator],
                    hooks: Sequence, dropout_gens: Sequence[torch.Generator] | None = None) -> "RunState":
        """Load ``saved`` (a version 2 or a 0.1.0 resume state) into ``model``, ``gens`` and ``hooks``.

        When it records retired members, they are retired again: the state comes back compacted
        (the caller drops the same rows from its data: ``state.rows`` are the live members).
        """
        state = cls.new(model, opt, gens, hooks, dropout_gens)
        model.load_state_dict(saved["params"])
        state.opt_state = opt.load_state(saved["opt"])
        for g, st in zip(state.gens, saved["rng"]):
            g.set_state(st)
        for g, st in zip(state.dropout_gens or [], saved.get("dropout_rng", [])):
            g.set_state(st)
        state.active = saved["active"].to(state.active.device)
        state.step = int(saved["step"])
        if "book" in saved and "hooks" not in saved:  # written by grokscope 0.1.0
            book = saved["book"]
            state.diverged_step = np.asarray(book["diverged_step"], dtype=np.int64)
            hook_states = {"grokking": {"mem_step": book["mem_step"], "gen_step": book["gen_step"]}}
        else:
            state.diverged_step = np.asarray(saved["diverged_step"], dtype=np.int64)
            hook_states = saved["hooks"]
        for h in state.hooks:
            if h.name in hook_states:
                h.load_state_dict(hook_states[h.name])
            # a hook added on resume starts afresh: it has seen no evaluation before this step
        retired = np.asarray(saved.get("retired_step", [-1] * state.n_members), dtype=np.int64)
        for s in np.unique(retired[retired >= 0]):  # in the order they retired (the kept order)
            step, state.step = state.step, int(s)
            state.retire(retired == s)
            state.step = step
        return state
