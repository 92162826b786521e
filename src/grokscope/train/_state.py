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
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from grokscope.errors import ConfigError

__all__ = ["RunState", "RESUME_VERSION"]

RESUME_VERSION = 2


@dataclass
class RunState:
    step: int  # the next step to evaluate/update (a resume re-does it)
    model: torch.nn.Module  # the ensemble; its parameters are the trained weights
    opt: Any  # the batched optimizer (stateless: its state is `opt_state`)
    opt_state: Any
    gens: list[torch.Generator]  # one minibatch generator per member
    active: torch.Tensor  # [model] bool, on the model's device: members still updated
    diverged_step: np.ndarray  # [model] int64: the update whose loss was non-finite, -1 never
    hooks: list  # EvalHook instances, called in order at each evaluation

    @classmethod
    def new(cls, model, opt, gens: Sequence[torch.Generator], hooks: Sequence) -> "RunState":
        """A state at step 0: fresh optimizer state, every member active, hooks set up."""
        n = len(gens)
        names = [h.name for h in hooks]
        if len(set(names)) != len(names):
            raise ConfigError(f"hooks named {names}: each hook needs its own name (it keys the resume state)")
        for h in hooks:
            h.setup(n)
        params = dict(model.named_parameters())
        return cls(0, model, opt, opt.init(params), list(gens), torch.ones(n, dtype=torch.bool, device=model.device),
                   np.full(n, -1, dtype=np.int64), list(hooks))

    @functools.cached_property
    def params(self) -> dict[str, torch.Tensor]:
        """The ensemble's parameters by name (the same tensors for the whole run)."""
        return dict(self.model.named_parameters())

    def weights(self) -> dict[str, torch.Tensor]:
        """A detached copy of the ensemble's state dict (for a checkpoint or the resume state)."""
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def to_resume(self) -> dict[str, Any]:
        """The resume state of this moment (see the module docstring)."""
        return {"version": RESUME_VERSION, "step": int(self.step), "params": self.weights(),
                "opt": self.opt.state_dict(self.opt_state), "rng": [g.get_state() for g in self.gens],
                "active": self.active.cpu(), "diverged_step": self.diverged_step.tolist(),
                "hooks": {h.name: h.state_dict() for h in self.hooks}}

    @classmethod
    def from_resume(cls, saved: Mapping[str, Any], model, opt, gens: Sequence[torch.Generator],
                    hooks: Sequence) -> "RunState":
        """Load ``saved`` (a version 2 or a 0.1.0 resume state) into ``model``, ``gens`` and ``hooks``."""
        state = cls.new(model, opt, gens, hooks)
        model.load_state_dict(saved["params"])
        state.opt_state = opt.load_state(saved["opt"])
        for g, st in zip(state.gens, saved["rng"]):
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
        return state
