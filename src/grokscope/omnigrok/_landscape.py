"""The (α, N) landscape at fixed weight norm, trained as one ensemble.

Liu, Michaud & Tegmark (2022, "Omnigrok: Grokking Beyond Algorithmic Data", their
``mnist/landscape`` notebook) scan the init scale α (21 values in 10^[-1, 1]) against the training
set size N, and train every point at a **fixed weight norm**: the network is initialized, every
parameter is multiplied by α, and after each optimizer update all parameters are rescaled back to
that initial total norm (no weight decay, AdamW lr 1e-3, minibatches of 100, MSE on one-hot
targets, 10k steps). Each point gives a train and a test loss at a known norm: train loss against
norm is their "L" curve (high at small norm, near zero beyond), test loss their "U" curve (lowest in
a "Goldilocks zone" of norms, higher on both sides), and test error over (α, N) their contour map.

Here the whole grid is one grokscope run: member ``(α, N, seed)`` has ``model.init_scale = α``,
``task.train_count = N`` and ``optim.project_norm`` = its own initial norm (built exactly as the
training loop builds the ensemble, so the projection keeps the norm the member starts with). A
seed index ``s`` is the member's seed, shared by every (α, N) point: the same seed means the same
initial direction (scaled by α) and the same random order of images (the first N of it), as
Omnigrok keeps seed 1 fixed across α. Every number is recorded per member (``LandscapePoint``).

>>> spec = LandscapeSpec(alphas=(0.5, 2.0), train_counts=(50,), n_seeds=1, steps=5,
...                      overrides=("model.width=8", "log.n_log=2"))
>>> cfg = landscape_config(spec)
>>> cfg.n_members, cfg.model["init_scale"], cfg.task["train_count"]
(2, [0.5, 2.0], [50, 50])
>>> round(cfg.optim.project_norm[1] / cfg.optim.project_norm[0], 9)   # the norm scales with α
4.0
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from grokscope.config import RunConfig, load_config
from grokscope.models import build_model
from grokscope.seeding import member_seed
from grokscope.validate import check_int, check_number, require

__all__ = [
    "DEFAULT_ALPHAS",
    "DEFAULT_TRAIN_COUNTS",
    "Landscape",
    "LandscapePoint",
    "LandscapeSpec",
    "initial_norms",
    "landscape_config",
    "run_landscape",
]

# Omnigrok's mnist/landscape: alphas = 10**linspace(-1, 1, 21); 10 of them here to fit the CPU.
DEFAULT_ALPHAS = tuple(float(a) for a in np.round(10 ** np.linspace(-1, 1, 10), 6))
# Omnigrok: N log-spaced over 10..60,000 MNIST images; digits has 1,797, so 16..1,440 (at least
# 357 images left for testing).
DEFAULT_TRAIN_COUNTS = tuple(int(n) for n in np.unique(np.round(np.geomspace(16, 1440, 10)).astype(int)))


@dataclass(frozen=True)
class LandscapeSpec:
    """The grid and the base run config (a preset plus ``--set``-style overrides)."""

    alphas: tuple[float, ...] = DEFAULT_ALPHAS
    train_counts: tuple[int, ...] = DEFAULT_TRAIN_COUNTS
    n_seeds: int = 3  # seeds 0..n_seeds-1 per (α, N) point
    steps: int = 0  # 0: the preset's train.steps
    preset: str = "omnigrok-digits-landscape"
    overrides: tuple[str, ...] = ()  # e.g. ("threads=1", "dtype=float64")

    def __post_init__(self):
        require(len(self.alphas) >= 1, "alphas", self.alphas, "at least one init scale")
        for a in self.alphas:
            check_number(a, "alpha", lo=0.0, lo_open=True)
        require(len(self.train_counts) >= 1, "train_counts", self.train_counts, "at least one training-set size")
        for n in self.train_counts:
            check_int(n, "train_count", 1)
        check_int(self.n_seeds, "n_seeds", 1)
        check_int(self.steps, "steps", 0)

    def grid(self) -> list[tuple[float, int, int]]:
        """The members in order: ``(α, N, seed)``, α slowest, seed fastest."""
        return list(itertools.product(self.alphas, self.train_counts, range(self.n_seeds)))


def initial_norms(cfg: RunConfig) -> np.ndarray:
    """Each member's total parameter norm at initialization, ``[model]``, drawn as ``train`` draws it."""
    from grokscope.train._loop import (
        INIT_STREAM,  # the loop's init stream of a member's seed
    )

    model = build_model(cfg, cfg.build_task(), member_seeds=[member_seed(s, INIT_STREAM) for s in cfg.seeds()])
    m = cfg.n_members
    with torch.no_grad():
        sq = sum(p.detach().reshape(m, -1).double().pow(2).sum(1) for p in model.parameters())  # [model]
    return sq.sqrt().numpy()


def landscape_config(spec: LandscapeSpec) -> RunConfig:
    """The one run config of the whole grid: per-member α, N, seed and fixed norm (its initial norm)."""
    grid = spec.grid()
    overrides = [*spec.overrides, f"n_members={len(grid)}"] + ([f"train.steps={spec.steps}"] if spec.steps else [])
    base = load_config(preset=spec.preset, overrides=overrides)
    cfg = dataclasses.replace(
        base,
        member_seeds=[s for _, _, s in grid],
        model={**base.model, "init_scale": [float(a) for a, _, _ in grid]},
        task={**{k: v for k, v in base.task.items() if k not in ("train_frac", "train_count")},
              "train_count": [int(n) for _, n, _ in grid]},
    )
    cfg = RunConfig.from_dict(cfg.to_dict())  # validated (N above the data size is a one-line error)
    norms = initial_norms(cfg)
    return dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, project_norm=[float(x) for x in norms]))


@dataclass
class LandscapePoint:
    """One member: its grid point, its (fixed) norm and its losses and accuracies.

    ``final_*``: at the last step. ``best_test_*``: the best over the evaluated steps (Omnigrok's
    landscape notebook records the best over training, evaluated every 50 steps).
    """

    alpha: float
    n_train: int
    seed: int
    norm: float
    final_train_loss: float
    final_test_loss: float
    final_train_acc: float
    final_test_acc: float
    best_test_loss: float
    best_test_acc: float


@dataclass
class Landscape:
    """The measured grid (JSON-able: ``to_dict``)."""

    points: list[LandscapePoint]
    steps: int
    wall_seconds: float
    config: dict = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict:
        return {"points": [dataclasses.asdict(p) for p in self.points], "steps": self.steps,
                "wall_seconds": self.wall_seconds, "config": self.config}

    @classmethod
    def from_dict(cls, d: dict) -> Landscape:
        return cls([LandscapePoint(**p) for p in d["points"]], d["steps"], d["wall_seconds"], d.get("config", {}))

    def column(self, name: str) -> np.ndarray:
        """One field over all points, ``[n_points]``."""
        return np.array([getattr(p, name) for p in self.points], dtype=float)


def run_landscape(spec: LandscapeSpec, *, progress=None) -> Landscape:
    """Train the grid as one ensemble (``store=None``) and read every member's numbers."""
    from grokscope.train import train

    cfg = landscape_config(spec)
    cfg = dataclasses.replace(cfg, log=dataclasses.replace(cfg.log, n_checkpoints=0))
    t0 = time.perf_counter()
    res = train(cfg, store=None, progress=progress)
    wall = time.perf_counter() - t0
    met = res.metrics  # name -> [n_eval, model]
    points = []
    for i, (a, n, s) in enumerate(spec.grid()):
        test_loss, test_acc = met["test_loss"][:, i], met["test_acc"][:, i]
        points.append(LandscapePoint(
            alpha=float(a), n_train=int(n), seed=int(s), norm=float(met["weight_norm"][-1, i]),
            final_train_loss=float(met["train_loss"][-1, i]), final_test_loss=float(test_loss[-1]),
            final_train_acc=float(met["train_acc"][-1, i]), final_test_acc=float(test_acc[-1]),
            best_test_loss=float(np.nanmin(test_loss)) if np.isfinite(test_loss).any() else math.nan,
            best_test_acc=float(np.nanmax(test_acc)) if np.isfinite(test_acc).any() else math.nan))
    return Landscape(points, int(res.steps[-1]), wall, cfg.to_dict())
