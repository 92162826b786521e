"""Hooks called at each evaluation: the door through which bookkeeping and online signals enter the loop.

At every evaluated step the loop computes the built-in metrics (``{split}_{loss,acc}``, their
per-group forms, ``weight_norm``) in one forward pass, then calls each hook in order with them:

    values = hook(step, metrics, ctx)     # {name: ndarray [model]} (or None)

The values a hook returns are stored with the run's metrics, under the names it gives (a later
hook sees them in ``metrics``). Through ``ctx`` a hook reads the run (``ctx.model``, ``ctx.data``,
``ctx.cfg``, ``ctx.active``, ``ctx.diverged_step``) and may ask the loop to stop
(``ctx.request_stop(reason)``, honoured after this evaluation's checkpoint), to keep this step's
weights (``ctx.request_checkpoint()``, see ``_checkpoint_plan.py``) or to retire members
(``ctx.retire(mask)``: they leave the ensemble after this evaluation, their weights kept as they
are now, their later metrics NaN; not "diverged"; see ``_retire.py``).

Every ``[model]`` array a hook sees or returns is indexed by member, all ``cfg.n_members`` of them
(a retired member's metrics are NaN). ``ctx.model`` holds the live members only once some have
retired: its row ``j`` is member ``ctx.rows[j]``; a hook computing from it may return values for
those rows (``[len(ctx.rows)]``), which the loop places at their members (NaN for the others).
A hook's own per-member state goes into the run's resume state through ``state_dict()`` and
comes back through ``load_state_dict()``, so a resumed run's hooks continue where they were.
At the end ``member_fields(ctx)`` adds per-member fields to the run's member rows.

The first hook is :class:`GrokkingHook`: the memorization and generalization steps (first
crossings of 99% train and test accuracy, ``grokscope.analysis._phases``) and
``train.stop_after_grok``. The unseen split is never read by it: it neither stops nor selects,
and a hook that stops or retires members must not read ``unseen_*`` metrics either (they exist
to measure what training and selection never saw).

>>> import numpy as np
>>> hook = GrokkingHook(stop_after_grok=False); hook.setup(2)
>>> ctx = EvalContext(step=40, total=100, active=np.array([True, True]), diverged_step=np.array([-1, -1]))
>>> hook(40, {"train_acc": np.array([1.0, 0.5]), "test_acc": np.array([0.2, np.nan])}, ctx)
{}
>>> hook.state_dict()["mem_step"].tolist(), hook.member_fields(ctx)[1]["phase"]
([40, -1], 'confusion')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, runtime_checkable

import numpy as np

from grokscope.analysis._phases import grokking_fields, update_first_crossing
from grokscope.analysis._relapse import Relapses
from grokscope.train._decided import STOP_AFTER_GROK

__all__ = ["EvalHook", "EvalContext", "HookBase", "GrokkingHook"]


@dataclass
class EvalContext:
    """What a hook may read at an evaluation, and its two requests to the loop."""

    step: int
    total: int  # the run's last step (train.steps)
    active: np.ndarray  # [model] bool: members still being updated (a copy)
    diverged_step: np.ndarray  # [model] int: the update at which a member's loss went non-finite, -1 never
    model: Any = None  # the ensemble (read it; do not update it)
    data: Any = None  # the run's TrainData (inputs, labels, split weights, groups)
    cfg: Any = None  # the RunConfig
    stop_reasons: list[str] = field(default_factory=list)
    retired: np.ndarray | None = None  # [model] bool, members a hook asked to retire
    # [model] int: the step at which each member retired, -1 while it is live (None: none ever did)
    retired_step: np.ndarray | None = None
    rows: np.ndarray | None = None  # the member of each row of ``model`` (None: row i is member i)
    checkpoint_requested: bool = False  # a hook asked for the weights at this step (``request_checkpoint``)

    def live_mask(self) -> np.ndarray:
        """``[model]`` bool: members not retired (diverged members are live until they retire)."""
        if self.retired_step is None:
            return np.ones(self.active.shape, dtype=bool)
        return np.asarray(self.retired_step) < 0

    def request_stop(self, reason: str) -> None:
        """Stop training after this evaluation (its metrics and checkpoint are kept)."""
        self.stop_reasons.append(str(reason))

    def request_checkpoint(self) -> None:
        """Keep a weight checkpoint at this evaluation's step (besides the run's scheduled ones)."""
        self.checkpoint_requested = True

    def retire(self, members: np.ndarray) -> None:
        """Freeze ``members`` (a bool mask ``[model]``) from the next update on."""
        mask = np.asarray(members, dtype=bool).reshape(-1)
        if mask.shape != self.active.shape:
            raise ValueError(f"retire: mask has {mask.shape[0]} entries; the run has {self.active.shape[0]} members")
        self.retired = mask if self.retired is None else (self.retired | mask)


@runtime_checkable
class EvalHook(Protocol):
    """The structural type of an evaluation hook (see the module docstring)."""

    name: str  # unique in a run: its key in the resume state

    def setup(self, n_members: int) -> None: ...

    def __call__(self, step: int, metrics: Mapping[str, np.ndarray],
                 ctx: EvalContext) -> Mapping[str, np.ndarray] | None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...

    def member_fields(self, ctx: EvalContext) -> list[dict[str, Any]]: ...


class HookBase:
    """Defaults for a hook with no state and no member fields: subclass it and write ``__call__``.

    >>> class TestLossGap(HookBase):
    ...     name = "loss_gap"
    ...     def __call__(self, step, metrics, ctx):
    ...         return {"loss_gap": metrics["test_loss"] - metrics["train_loss"]}
    >>> isinstance(TestLossGap(), EvalHook)
    True
    """

    name = "hook"

    def setup(self, n_members: int) -> None:
        pass

    def __call__(self, step: int, metrics: Mapping[str, np.ndarray], ctx: EvalContext) -> Mapping[str, np.ndarray]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        pass

    def member_fields(self, ctx: EvalContext) -> list[dict[str, Any]]:
        return []


class GrokkingHook(HookBase):
    """Memorization / generalization steps per member, and ``stop_after_grok``.

    ``mem_step`` / ``gen_step``: the first evaluated step at which train / test accuracy reach
    ``THRESHOLD`` (99%); -1 until then. After ``gen_step`` it follows un-grokking (falls back below
    90% test accuracy, recoveries: ``grokscope.analysis._relapse``). With ``stop_after_grok``, training stops once every
    live member is decided by :data:`~grokscope.train._decided.STOP_AFTER_GROK`: it has generalized
    and trained 25% past its generalization step.
    """

    name = "grokking"
    OVERSHOOT = 1 + STOP_AFTER_GROK.frac  # keep training 25% past the latest generalization step

    def __init__(self, stop_after_grok: bool = False):
        self.stop_after_grok = bool(stop_after_grok)
        self.mem_step = np.zeros(0, dtype=np.int64)
        self.gen_step = np.zeros(0, dtype=np.int64)
        self.relapses = Relapses(0)

    def setup(self, n_members: int) -> None:
        self.mem_step = np.full(n_members, -1, dtype=np.int64)
        self.gen_step = np.full(n_members, -1, dtype=np.int64)
        self.relapses = Relapses(n_members)

    def __call__(self, step: int, metrics: Mapping[str, np.ndarray], ctx: EvalContext) -> dict[str, np.ndarray]:
        update_first_crossing(self.mem_step, step, metrics["train_acc"])
        update_first_crossing(self.gen_step, step, metrics["test_acc"])
        self.relapses.update(step, metrics["test_acc"], self.gen_step)
        if self.stop_after_grok and self._all_grokked(step, ctx.active):
            ctx.request_stop("every live member generalized (train.stop_after_grok)")
        return {}

    def _all_grokked(self, step: int, live: np.ndarray) -> bool:
        """Every live (not diverged, not retired) member decided by the stop rule, and one at least."""
        none = np.full(live.shape, -1, dtype=np.int64)
        decided = STOP_AFTER_GROK.decided(step, self.gen_step, none, none)
        return bool(live.any() and decided[live].all())

    def state_dict(self) -> dict[str, Any]:
        return {"mem_step": self.mem_step.copy(), "gen_step": self.gen_step.copy(), **self.relapses.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.mem_step = np.asarray(state["mem_step"], dtype=np.int64).copy()
        self.gen_step = np.asarray(state["gen_step"], dtype=np.int64).copy()
        self.relapses.load_state_dict(dict(state), len(self.gen_step))  # older states have no relapse keys

    def member_fields(self, ctx: EvalContext) -> list[dict[str, Any]]:
        return [{**grokking_fields(int(m), int(g), diverged=bool(d >= 0)), **rel}
                for m, g, d, rel in zip(self.mem_step, self.gen_step, ctx.diverged_step,
                                        self.relapses.fields(self.gen_step))]
