"""A stored run as the analyses see it: task, model template, split masks and checkpoints.

>>> from grokscope.analysis import load_run                  # doctest: +SKIP
>>> run = load_run(Store("runs.db"), 1)                      # doctest: +SKIP
>>> run.steps[:3], run.train_mask.shape                      # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from grokscope.errors import AnalysisError, GrokscopeError

__all__ = ["RunData", "load_run", "run_split", "masks_from_split"]


@dataclass
class RunData:
    """What the analyses need from a run: task, a model template, split masks, checkpoints."""

    task: object
    model: torch.nn.Module  # an ensemble with n_members members (weights unused)
    steps: list[int]
    load: Callable[[int], dict]  # step -> state dict of [model, ...] tensors
    train_mask: torch.Tensor  # [model, n_all] bool
    test_mask: torch.Tensor  # [model, n_all] bool
    unseen_mask: torch.Tensor | None = None  # [model, n_all] bool, if the run keeps a third split
    label: str = ""

    @property
    def n_members(self) -> int:
        return int(self.train_mask.shape[0])

    def masks(self) -> dict[str, torch.Tensor]:
        """``{split: bool [model, n_all]}`` for the splits the run keeps (train, test, unseen)."""
        out = {"train": self.train_mask, "test": self.test_mask}
        if self.unseen_mask is not None:
            out["unseen"] = self.unseen_mask
        return out

    def anatomy(self, state: dict | None = None):
        """The model's ``Anatomy`` of a checkpoint ``state`` (``grokscope.models``), or None if it declares none."""
        try:
            return self.model.anatomy(state)
        except AnalysisError:
            return None


def masks_from_split(split, n_all: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``grokscope.tasks.Split`` -> train and test bool masks ``[model, n_all]`` (padding ignored)."""
    masks = split.masks(n_all)
    return masks["train"], masks["test"]


def run_split(cfg, task):
    """The members' split exactly as ``grokscope.train.train`` draws it (``grokscope.tasks.split_for_run``)."""
    from grokscope.tasks import split_for_run

    return split_for_run(task, cfg.task, cfg.seeds())


def load_run(store, run_id: int) -> RunData:
    """A stored run as :class:`RunData` (contract: docs/architecture.md).

    Rebuilds the task and ensemble from the stored config (``RunConfig.from_dict``,
    ``cfg.build_task()``, ``build_model``) and the split from the ``split`` artefact when
    the run has one (``Split.from_arrays``), else by re-drawing it as the trainer does
    (:func:`run_split`). Raises ``AnalysisError`` for a run without checkpoints, or whose
    checkpoints are not states of the model its config builds.
    """
    rec = store.get_run(run_id)
    steps = list(store.checkpoint_steps(run_id))
    label = f"run {rec.id}" + (f" ({rec.name})" if rec.name else "")
    if not steps:
        raise AnalysisError(f"run {run_id} has no weight checkpoints; train it with log.n_checkpoints > 0")
    from grokscope.config import RunConfig
    from grokscope.models import build_model
    from grokscope.tasks import Split

    try:
        cfg = RunConfig.from_dict(rec.config)
        task = cfg.build_task()
        model = build_model(cfg, task)
    except GrokscopeError as e:
        raise AnalysisError(f"run {run_id}: its config does not build a model ({e})") from e
    try:
        sp = Split.from_arrays(store.load_arrays(run_id, "split"))
    except (GrokscopeError, KeyError):
        sp = run_split(cfg, task)
    masks = sp.masks(task.n_all)
    first = store.load_checkpoint(run_id, steps[0])
    expected = {k: tuple(v.shape[1:]) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape[1:]) for k, v in first.items()}
    if found != expected:
        raise AnalysisError(f"run {run_id}: its checkpoints {found} do not match the model its config builds "
                            f"{expected}; was it stored by grokscope's trainer?")
    return RunData(task, model, steps, lambda s: store.load_checkpoint(run_id, s), masks["train"], masks["test"],
                   masks.get("unseen"), label)
