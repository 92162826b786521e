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


def masks_from_split(split, n_all: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``grokscope.tasks.Split`` -> bool masks ``[model, n_all]`` (padding ignored)."""
    def to_mask(idx, mask):
        out = torch.zeros(idx.shape[0], n_all, dtype=torch.bool)
        rows = torch.arange(idx.shape[0])[:, None].expand_as(idx)
        out[rows[mask], idx[mask]] = True
        return out

    return to_mask(split.train_idx, split.train_mask), to_mask(split.test_idx, split.test_mask)


def run_split(cfg, task):
    """The members' train/test split exactly as ``grokscope.train.train`` draws it.

    Mirrors the trainer: ``task.train_frac`` / ``task.train_count`` (default: the whole
    train pool for pooled tasks, else 30%), member *i*'s data stream ``member_seed(seeds[i], 0)``.
    """
    from grokscope.seeding import member_seed
    from grokscope.tasks import split

    frac, count = cfg.task.get("train_frac"), cfg.task.get("train_count")
    if frac is None and count is None:
        frac = 1.0 if getattr(task, "train_pool", None) is not None else 0.3
    return split(task, cfg.n_members, frac=frac, count=count, seeds=[member_seed(s, 0) for s in cfg.seeds()])


def load_run(store, run_id: int) -> RunData:
    """A stored run as :class:`RunData` (contract: docs/architecture.md).

    Rebuilds the task and ensemble from the stored config (``RunConfig.from_dict``,
    ``cfg.build_task()``, ``build_model``) and the split from the ``split`` artefact when
    the run has one (``store.save_arrays(run, "split", {"train_idx", "train_mask",
    "test_idx", "test_mask"})``), else by re-drawing it as the trainer does (:func:`run_split`).
    """
    rec = store.get_run(run_id)
    steps = list(store.checkpoint_steps(run_id))
    label = f"run {rec.id}" + (f" ({rec.name})" if rec.name else "")
    if not steps:
        raise AnalysisError(f"run {run_id} has no weight checkpoints; train it with log.n_checkpoints > 0")
    from grokscope.config import RunConfig
    from grokscope.models import build_model
    from grokscope.tasks import Split

    cfg = RunConfig.from_dict(rec.config)
    task = cfg.build_task()
    model = build_model(cfg, task)
    try:
        arr = {k: torch.as_tensor(v) for k, v in store.load_arrays(run_id, "split").items()}
        sp = Split(arr["train_idx"].long(), arr["train_mask"].bool(), arr["test_idx"].long(), arr["test_mask"].bool(),
                   arr["train_mask"].sum(1), arr["test_mask"].sum(1))
    except (GrokscopeError, KeyError):
        sp = run_split(cfg, task)
    train, test = masks_from_split(sp, task.n_all)
    first = store.load_checkpoint(run_id, steps[0])
    expected = {k: tuple(v.shape[1:]) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape[1:]) for k, v in first.items()}
    if found != expected:
        raise AnalysisError(f"run {run_id}: its checkpoints {found} do not match the model its config builds "
                            f"{expected}; was it stored by grokscope's trainer?")
    return RunData(task, model, steps, lambda s: store.load_checkpoint(run_id, s), train, test, None, label)
