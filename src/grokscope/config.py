"""Typed, validated run configs: TOML files, presets and ``--set key=value`` overrides.

A run config has five sections and a few top-level keys::

    name = "pair-mod67"; seed = 0; n_members = 8; dtype = "float32"; device = "cpu"
    [task]   kind, its options (see grokscope.tasks.make_task), train_frac | train_count,
             and optionally unseen_frac | unseen_count (a third split, never trained on)
    [model]  arch, its options (see grokscope.models), init_scale
    [train]  steps, batch_size, loss, loss_scale, stop_after_grok, retire_window, retire_frac,
             retire_stall_window, retire_stall_gain, pad_to, collapse_metrics, signals
    [optim]  name, lr, weight_decay, decay, betas, warmup, grokfast, clipping
    [log]    metric schedule, checkpoints, flush interval

The ``task`` and ``model`` sections are checked by building the task and the model config
(their dataclasses hold the typed, commented defaults); the other sections are the dataclasses
below. Keys listed in ``PER_MEMBER_KEYS`` may hold one value per member, so a sweep over them
runs as one ensemble.

>>> cfg = load_config(preset="pair-mod67", overrides=["optim.lr=3e-3", "n_members=4"])
>>> cfg.optim.lr, cfg.n_members, cfg.task["p"]
(0.003, 4, 67)
>>> load_config(overrides=["optim.lr=fast"])
Traceback (most recent call last):
...
grokscope.errors.ConfigError: optim.lr='fast': expected a number or a list of numbers (one per member)
"""

from __future__ import annotations

import copy
import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

from grokscope.errors import ConfigError
from grokscope.validate import check_choice, require

__all__ = [
    "RunConfig", "TrainConfig", "OptimConfig", "LogConfig", "load_config", "list_presets",
    "PER_MEMBER_KEYS", "parse_override",
]

# One value per member is allowed for these keys (docs/architecture.md, "Config").
PER_MEMBER_KEYS = ("task.train_frac", "task.train_count", "optim.lr", "optim.weight_decay", "model.init_scale")
# Belong to the split (grokscope.tasks.split_for_run), not to the task constructor.
_SPLIT_KEYS = ("train_frac", "train_count", "unseen_frac", "unseen_count")
Num = float | list[float]


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 10_000  # optimizer updates; Nanda et al. 2023 train 40k full-batch steps
    batch_size: int = 0  # 0 = full batch (Nanda 2023, PAIR 2023); Power et al. 2022 use 512
    # "ce" cross-entropy (Power, Nanda, PAIR), "mse" on one-hot targets (Omnigrok, Li2), "ce64"
    # (cross-entropy in float64) or "stablemax" (Prieto et al. 2025): grokscope.train._losses
    loss: str = "ce"
    # The training objective is loss_scale x each member's mean loss. PAIR's notebooks (PAIR-code/
    # ai-explorables, server-side/grokking) average the cross-entropy over the classes too, i.e.
    # loss_scale = 1/67 for p = 67: Adam is scale-free except for its eps, which then weighs 67x more.
    # Stored train/test losses are always the unscaled mean loss.
    loss_scale: float = 1.0
    # Stop once every live member has generalized and trained 25% past its generalization step
    # (saves time in demos; off for published setups, whose budget is part of the setup).
    stop_after_grok: bool = False
    # Retirement (grokscope.train._retire): a member whose outcome is decided (test accuracy >= 99%
    # held for retire_window steps and until (1 + retire_frac) x its generalization step, or diverged)
    # leaves the ensemble, which trains on without it. Both 0 = off (the default): a published
    # setup's budget is part of the setup, and runs with the rule off store what they always did.
    retire_window: int = 0
    retire_frac: float = 0.0
    # Stalled members retire too when retire_stall_window > 0 (grokscope.train._decided): never
    # memorized (train accuracy never >= 99%), and no rise of train accuracy by more than
    # retire_stall_gain for retire_stall_window steps. A prediction, not an observation: such a member
    # reads as "confusion". Off by default; docs/sweeps.md measures it on PAIR's parity sweep.
    retire_stall_window: int = 0
    retire_stall_gain: float = 0.01
    # Log, per member, the fraction of training samples whose float32 softmax has collapsed and the
    # fraction with exactly zero loss (train_softmax_collapse, train_zero_loss; Prieto et al. 2025).
    collapse_metrics: bool = False
    # Log the early-warning signals per member at every evaluation (grokscope.train._signals): Hjorth
    # parameters of the training loss (Notsawo et al. 2023), weight-norm slope, Fourier Gini of the
    # embedding, a restricted-loss proxy (Nanda et al. 2023), grokfast's slow-gradient norm (Lee et al.
    # 2024), the slingshot counts (Thilak et al. 2022). Off by default: published setups log what they did.
    signals: bool = False
    # Full batch: pad each member's training rows (weight 0) to at least this many, 0 = to the
    # ensemble's largest training split. A refilling sweep (grokscope.sweep, ``refill``) sets it to
    # the largest split of the shape, so a member computes the same bits whichever ensembles it is
    # stacked with; padding changes a member's numbers by rounding only (the sums run over more zeros).
    pad_to: int = 0

    def __post_init__(self):
        from grokscope.validate import check_number

        _check(self.steps >= 1, "train.steps", self.steps, "an integer >= 1")
        _check(self.batch_size >= 0, "train.batch_size", self.batch_size, "0 (full batch) or a positive integer")
        from grokscope.train._losses import LOSSES  # the losses are defined once, there

        check_choice(self.loss, "train.loss", LOSSES)
        _check(self.retire_window >= 0, "train.retire_window", self.retire_window, "an integer >= 0 (0 = off)")
        _check(self.pad_to >= 0, "train.pad_to", self.pad_to, "an integer >= 0 (0 = the largest training split)")
        check_number(self.retire_frac, "train.retire_frac", lo=0.0)
        _check(self.retire_stall_window >= 0, "train.retire_stall_window", self.retire_stall_window,
               "an integer >= 0 (0 = off)")
        check_number(self.retire_stall_gain, "train.retire_stall_gain", lo=0.0, hi=1.0)
        check_number(self.loss_scale, "train.loss_scale", lo=0.0, lo_open=True)


@dataclass(frozen=True)
class OptimConfig:
    name: str = "adamw"  # "adamw" | "adam" | "sgd"
    lr: Num = 1e-3  # Nanda et al. 2023; may be one value per member
    weight_decay: Num = 1.0  # Nanda et al. 2023 (decoupled, AdamW); may be one value per member
    decay: str = "l2"  # "l2" or "l1" (PAIR 2023 uses L1 on sparse parity)
    b1: float = 0.9  # Nanda 2023, Power 2022
    b2: float = 0.98  # Nanda 2023, Power 2022 (not torch's 0.999)
    eps: float = 1e-8
    momentum: float = 0.0  # SGD only
    nesterov: bool = False  # SGD only
    warmup_steps: int = 10  # linear warmup, Nanda et al. 2023
    grokfast_alpha: float = 0.0  # EMA gradient filter, Lee et al. 2024 (0 = off; paper: 0.98)
    grokfast_lambda: Num = 0.0  # amplification of the slow gradient (paper: 2.0); may be one value per member
    clip_norm: float = 0.0  # per-member gradient-norm clip (0 = off)
    # The lr after the warmup: "constant" (Nanda et al. 2023), or "cosine": half a cosine from lr at
    # the end of the warmup to final_lr_frac·lr at train.steps (Loshchilov & Hutter 2017, "SGDR").
    lr_schedule: str = "constant"
    final_lr_frac: float = 0.0  # cosine only: the last lr as a fraction of lr
    # The weight decay over training: "constant", or "cosine" from weight_decay at step 0 to
    # final_wd_frac·weight_decay at train.steps (no warmup: decoupled decay already scales with the lr).
    wd_schedule: str = "constant"
    final_wd_frac: float = 0.0  # cosine only
    # After every update, rescale each member's parameters to this total L2 norm (Liu, Michaud &
    # Tegmark 2023, "Omnigrok: Grokking beyond algorithmic data"); 0 = off; may be one value per member.
    project_norm: Num = 0.0
    # The same projection with a relative target: this fraction of each member's initial total norm
    # (Omnigrok's modular-addition run keeps the transformer at 0.8x its initial norm); 0 = off;
    # may be one value per member; not together with project_norm.
    project_norm_frac: Num = 0.0
    # Gradient filters run on each member's raw gradient before the optimizer, in this order
    # (grokscope.train._filters): ⊥Grad, Grokfast-MA, normalization; then clip_norm and the EMA.
    # Grokfast-MA (Lee et al. 2024, "Grokfast"): g + λ·(mean of the last w gradients), once w are seen.
    grokfast_ma_window: int = 0  # w; 0 = off (paper: 100)
    grokfast_ma_lambda: Num = 0.0  # λ (paper: 5.0); may be one value per member
    # ⊥Grad (Prieto et al. 2025, "Grokking at the edge of numerical stability"): remove this fraction
    # of the gradient's component along the member's weights (1 = ⊥Grad, 0 = off); may be per member.
    ortho_grad: Num = 0.0
    ortho_grad_renorm: bool = True  # rescale the projected gradient to the gradient's norm (the authors' code)
    normalize_grad: Num = 0.0  # rescale each member's gradient to this 2-norm (0 = off); may be per member

    def __post_init__(self):
        from grokscope.validate import check_choice, check_number

        check_choice(self.lr_schedule, "optim.lr_schedule", ("constant", "cosine"))
        check_choice(self.wd_schedule, "optim.wd_schedule", ("constant", "cosine"))
        check_number(self.final_lr_frac, "optim.final_lr_frac", 0.0, 1.0)
        check_number(self.final_wd_frac, "optim.final_wd_frac", 0.0, 1.0)
        for v in self.project_norm if isinstance(self.project_norm, list) else [self.project_norm]:
            check_number(v, "optim.project_norm", 0.0)
        fracs = self.project_norm_frac if isinstance(self.project_norm_frac, list) else [self.project_norm_frac]
        for v in fracs:
            check_number(v, "optim.project_norm_frac", 0.0)  # > 0 where set; 0 leaves that member free
        norms = self.project_norm if isinstance(self.project_norm, list) else [self.project_norm]
        _check(not (any(v > 0 for v in fracs) and any(v > 0 for v in norms)), "optim.project_norm_frac",
               self.project_norm_frac, "0 while optim.project_norm is set (one target: absolute or relative)")
        _check(self.name in ("adamw", "adam", "sgd"), "optim.name", self.name, "'adamw', 'adam' or 'sgd'")
        _check(self.decay in ("l2", "l1"), "optim.decay", self.decay, "'l2' or 'l1'")
        for key in ("lr", "weight_decay"):
            values = getattr(self, key) if isinstance(getattr(self, key), list) else [getattr(self, key)]
            bound = "> 0" if key == "lr" else ">= 0"
            for v in values:
                _check(v > 0 if key == "lr" else v >= 0, f"optim.{key}", getattr(self, key), f"numbers {bound}")
        _check(0 <= self.b1 < 1 and 0 <= self.b2 < 1, "optim.b1/b2", (self.b1, self.b2), "values in [0, 1)")
        _check(self.eps > 0, "optim.eps", self.eps, "a number > 0")
        _check(0 <= self.momentum < 1, "optim.momentum", self.momentum, "a value in [0, 1)")
        _check(self.warmup_steps >= 0, "optim.warmup_steps", self.warmup_steps, "an integer >= 0")
        _check(0 <= self.grokfast_alpha < 1, "optim.grokfast_alpha", self.grokfast_alpha, "a value in [0, 1)")
        _check(self.clip_norm >= 0, "optim.clip_norm", self.clip_norm, "a number >= 0 (0 = off)")
        _check(self.grokfast_ma_window >= 0, "optim.grokfast_ma_window", self.grokfast_ma_window, "an integer >= 0 (0 = off)")
        for key, hi in (("grokfast_lambda", None), ("grokfast_ma_lambda", None), ("ortho_grad", 1.0), ("normalize_grad", None)):
            value = getattr(self, key)
            for v in value if isinstance(value, list) else [value]:
                check_number(v, f"optim.{key}", 0.0, hi)
        ma_on = any(v > 0 for v in (self.grokfast_ma_lambda if isinstance(self.grokfast_ma_lambda, list) else [self.grokfast_ma_lambda]))
        _check(not ma_on or self.grokfast_ma_window >= 1, "optim.grokfast_ma_lambda", self.grokfast_ma_lambda,
               "0 while optim.grokfast_ma_window=0 (set the window, e.g. 100)")


@dataclass(frozen=True)
class LogConfig:
    dense_until: int = 100  # log every step up to here: memorization can happen in tens of steps
    n_log: int = 200  # log-spaced evaluation points after that (grokking is a log-time phenomenon)
    # Weight checkpoints, log-spaced over training (step 0 and the last included): 100 are dense
    # enough to scrub through in the explorer (issue 12; before grokscope 0.3 the default was 24).
    n_checkpoints: int = 100
    # At most this many MiB of checkpoints per run (float bytes of every member's weights): a large
    # ensemble keeps fewer, evenly log-spaced (train/_checkpoint_plan.py); 0 = no limit.
    checkpoint_mib: float = 256.0
    # Extra checkpoints where a transition happens: at an evaluation where some member's train or
    # test accuracy moved by >= transition_delta since the last checkpoint, at most this many per run
    # (none when n_checkpoints = 0: such a run keeps only its final weights).
    transition_checkpoints: int = 50
    transition_delta: float = 0.05
    flush_seconds: float = 5.0  # a kill -9 loses at most this much wall-clock of metrics

    def __post_init__(self):
        _check(self.dense_until >= 0, "log.dense_until", self.dense_until, "an integer >= 0")
        _check(self.n_log >= 2, "log.n_log", self.n_log, "an integer >= 2")
        _check(self.n_checkpoints >= 0, "log.n_checkpoints", self.n_checkpoints, "an integer >= 0")
        _check(self.checkpoint_mib >= 0, "log.checkpoint_mib", self.checkpoint_mib, "a number >= 0 (0 = no limit)")
        _check(self.transition_checkpoints >= 0, "log.transition_checkpoints", self.transition_checkpoints,
               "an integer >= 0 (0 = none)")
        _check(0 < self.transition_delta <= 1, "log.transition_delta", self.transition_delta, "a number in (0, 1]")
        _check(self.flush_seconds > 0, "log.flush_seconds", self.flush_seconds, "a number > 0")


@dataclass(frozen=True)
class RunConfig:
    name: str = "run"
    seed: int = 0  # member i draws from member_seed(seed, i) unless member_seeds is given
    n_members: int = 8
    member_seeds: list[int] | None = None
    dtype: str = "float32"  # "float32" | "float64"
    device: str = "cpu"  # "cpu" | "cuda" (when present)
    # torch intra-op threads while training; 0 keeps torch's default (one per core). Tiny models
    # run faster on one thread (measured: the demo at 385 vs 50 steps/s on a busy 2-core machine),
    # and results are reproducible for a given thread count.
    threads: int = 0
    # Flush subnormal floats to zero while training (x86 FTZ/DAZ, torch.set_flush_denormal).
    # Weight decay drives weights and gradients below 1e-38, where each float op takes a slow
    # microcode path: measured 2.9x faster training of pair-mod67 (docs/performance.md). Each op
    # differs from IEEE arithmetic only below 1.2e-38 (float32), but over a long run that can move
    # a member's steps a little (2 of 54 in docs/sweeps.md, by ~2%); false gives exact IEEE.
    flush_denormal: bool = True
    # PAIR 2023: a + b mod 67; the training fraction is ours (PAIR does not state it).
    task: dict = field(default_factory=lambda: {"kind": "modular", "op": "add", "p": 67, "train_frac": 0.3})
    model: dict = field(default_factory=lambda: {"arch": "pair_mlp"})
    train: TrainConfig = field(default_factory=TrainConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def __post_init__(self):
        _check(self.n_members >= 1, "n_members", self.n_members, "an integer >= 1")
        _check(self.seed >= 0, "seed", self.seed, "an integer >= 0")
        _check(self.threads >= 0, "threads", self.threads, "an integer >= 0 (0 = torch's default)")
        _check(self.dtype in ("float32", "float64"), "dtype", self.dtype, "'float32' or 'float64'")
        _check(self.device == "cpu" or self.device.startswith("cuda"), "device", self.device, "'cpu' or 'cuda[:N]'")
        if self.member_seeds is not None:
            _check(len(self.member_seeds) == self.n_members and all(s >= 0 for s in self.member_seeds),
                   "member_seeds", self.member_seeds, f"{self.n_members} integers >= 0 (one per member)")
        for key in PER_MEMBER_KEYS:
            section, name = key.split(".")
            value = getattr(self, section).get(name) if section in ("task", "model") else getattr(getattr(self, section), name)
            if isinstance(value, list):
                _check(len(value) == self.n_members, key, value, f"one value or a list of n_members={self.n_members} values")
        if "train_frac" in self.task and "train_count" in self.task:
            raise ConfigError("task.train_frac and task.train_count: set one of them, not both")
        if "unseen_frac" in self.task and "unseen_count" in self.task:
            raise ConfigError("task.unseen_frac and task.unseen_count: set one of them, not both")

    # -- building blocks ------------------------------------------------------------------
    def build_task(self):
        """The task this config trains on (validated by the task's own constructor)."""
        from grokscope.tasks import make_task

        opts = {k: v for k, v in self.task.items() if k not in _SPLIT_KEYS}
        return make_task(opts.pop("kind", "modular"), **opts)

    def seeds(self) -> list[int]:
        """One seed per member: ``member_seeds`` or ``member_seed(seed, i)``."""
        from grokscope.seeding import member_seed

        return list(self.member_seeds) if self.member_seeds is not None else [member_seed(self.seed, i) for i in range(self.n_members)]

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        """Build and validate from a (possibly partial) nested dict; unknown keys are errors."""
        if not isinstance(d, dict):
            raise ConfigError(f"config must be a table of sections, got {type(d).__name__}")
        base = cls().to_dict()
        for key, value in d.items():
            if key not in base:
                raise ConfigError(f"{key}: unknown config key; allowed: {', '.join(base)}")
            if key in ("task", "model"):
                _check(isinstance(value, dict), key, value, "a table")
                base[key] = dict(value)  # a section given whole replaces the default (kinds differ)
            elif key in ("train", "optim", "log"):
                _check(isinstance(value, dict), key, value, "a table")
                for sub, v in value.items():
                    if sub not in base[key]:
                        raise ConfigError(f"{key}.{sub}: unknown config key; allowed: {', '.join(base[key])}")
                    base[key][sub] = v
            else:
                base[key] = value
        hints = {s: typing.get_type_hints(c) for s, c in (("", cls), ("train", TrainConfig), ("optim", OptimConfig), ("log", LogConfig))}
        top = {k: _coerce(k, v, hints[""][k]) for k, v in base.items() if k not in ("task", "model", "train", "optim", "log")}
        sections = {s: c(**{k: _coerce(f"{s}.{k}", v, hints[s][k]) for k, v in base[s].items()})
                    for s, c in (("train", TrainConfig), ("optim", OptimConfig), ("log", LogConfig))}
        cfg = cls(**top, task=base["task"], model=base["model"], **sections)
        task, model = cfg._validate_task_and_model()
        # Store every default explicitly: a stored run must not change meaning if a default does.
        return dataclasses.replace(cfg, task=task, model=model)

    def _validate_task_and_model(self) -> tuple[dict, dict]:
        """Check the task and model sections; return them resolved (every option, defaults included)."""
        for key in _SPLIT_KEYS:
            if key in self.task:
                kind = float if key.endswith("_frac") else int
                _coerce(f"task.{key}", self.task[key], kind | list[kind])
        task = self.build_task()
        from grokscope.models import model_config
        from grokscope.models._build import _task_sizes
        from grokscope.tasks import split_for_run

        if any(k in self.task for k in _SPLIT_KEYS):  # range checks live in split()
            split_for_run(task, self.task, list(range(self.n_members)))

        arch = self.model.get("arch", "pair_mlp")
        opts = {k: v for k, v in self.model.items() if k not in ("arch", "init_scale")}
        mcfg = model_config(arch, task, **opts)
        if "init_scale" in self.model:
            _coerce("model.init_scale", self.model["init_scale"], Num)

        def plain(v):
            return list(v) if isinstance(v, tuple) else v

        task_opts = {f.name: plain(getattr(task, f.name)) for f in dataclasses.fields(task) if f.init}
        split_opts = {k: self.task[k] for k in _SPLIT_KEYS if k in self.task}
        sizes = _task_sizes(arch, task)  # set by the task, not by the config
        model = {"arch": arch, **{k: plain(v) for k, v in dataclasses.asdict(mcfg).items() if k not in sizes},
                 "init_scale": self.model.get("init_scale", 1.0)}
        return {"kind": self.task.get("kind", "modular"), **task_opts, **split_opts}, model


_check = require  # the one rule for "{key}={value!r}: must be {allowed}" (grokscope.validate)


def _coerce(key: str, value: Any, tp: Any) -> Any:
    """``value`` checked against the annotation ``tp`` (int, float, bool, str, list[...], unions)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            try:
                return _coerce(key, value, option)
            except ConfigError:
                continue
        raise ConfigError(f"{key}={value!r}: expected {_describe(tp)}")
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}={value!r}: expected {_describe(tp)}")
        (inner,) = typing.get_args(tp)
        return [_coerce(key, v, inner) for v in value]
    if tp is type(None):
        if value is not None:
            raise ConfigError(f"{key}={value!r}: expected nothing")
        return None
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, tp)
    if not ok:
        raise ConfigError(f"{key}={value!r}: expected {_describe(tp)}")
    return value


def _describe(tp: Any) -> str:
    if tp == Num:
        return "a number or a list of numbers (one per member)"
    if typing.get_origin(tp) is list:
        return f"a list of {_describe(typing.get_args(tp)[0])}s"
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if args:
        return " or ".join(_describe(a) for a in args) + (" or nothing" if len(args) < len(typing.get_args(tp)) else "")
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(tp, str(tp))


# -- files, presets, overrides -------------------------------------------------------------
def list_presets() -> list[str]:
    """Names of the bundled presets (``grokscope/presets/*.toml``)."""
    return sorted(p.name[:-5] for p in resources.files("grokscope.presets").iterdir()
                  if p.name.endswith(".toml") and not p.name.startswith("sweep-"))


def _read_toml(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: malformed TOML ({e})") from None


def parse_override(item: str) -> tuple[str, Any]:
    """``"optim.lr=3e-3"`` -> ``("optim.lr", 0.003)``; the value is a TOML literal or a bare string."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. optim.lr=1e-3")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key, value


def _apply(d: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    defaults = RunConfig().to_dict()
    if len(parts) == 1:
        if parts[0] not in defaults or isinstance(defaults[parts[0]], dict):
            raise ConfigError(f"--set {key}: unknown key; top-level keys: "
                              + ", ".join(k for k, v in defaults.items() if not isinstance(v, dict)))
        d[parts[0]] = value
        return
    if len(parts) != 2 or parts[0] not in ("task", "model", "train", "optim", "log"):
        raise ConfigError(f"--set {key}: unknown key; use section.name with section in task, model, train, optim, log")
    section, name = parts
    sec = d.setdefault(section, copy.deepcopy(defaults[section]))
    if section in ("train", "optim", "log") and name not in defaults[section]:
        raise ConfigError(f"--set {key}: unknown key; allowed: {', '.join(f'{section}.{k}' for k in defaults[section])}")
    if (section, name) in (("task", "kind"), ("model", "arch")) and sec.get(name) != value:
        keep = _SPLIT_KEYS if section == "task" else ("init_scale",)
        for k in [k for k in sec if k not in keep]:
            del sec[k]  # another kind/arch has other options: start its section afresh
    sec[name] = value


def load_config(path: str | Path | None = None, *, preset: str | None = None,
                overrides: Sequence[str] = ()) -> RunConfig:
    """Defaults, then a preset or a TOML file, then ``--set`` overrides; validated.

    Errors (``ConfigError``, one line): unknown preset, missing or malformed file, unknown key,
    a value of the wrong type or out of range, a task/model option the kind/arch does not allow.
    """
    if path is not None and preset is not None:
        raise ConfigError("give a config file or a preset, not both")
    d: dict[str, Any] = {}
    if preset is not None:
        names = list_presets()
        if preset not in names:
            raise ConfigError(f"preset {preset!r}: unknown; available: {', '.join(names)}")
        d = _read_toml(resources.files("grokscope.presets").joinpath(f"{preset}.toml").read_text(), f"preset {preset}")
    elif path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"{path}: no such config file")
        d = _read_toml(p.read_text(), str(path))
    for item in overrides:
        key, value = parse_override(item)
        _apply(d, key, value)
    return RunConfig.from_dict(d)
