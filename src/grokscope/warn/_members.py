"""The members a prediction is about, read from the store, and their features at a window W.

A *member* here is one trained model: its evaluated steps, its stored metrics (the early-warning
signals of ``grokscope.train._signals`` among them), its budget (``train.steps``) and its outcome,
the generalization step of ``grokscope.analysis._phases`` (first evaluated step with test accuracy
>= 99%; -1 never). ``load_members(store, "12")`` reads run 12's members; any other string names a
sweep (``grokscope sweeps``), whose members may span several runs.

Features are read from the evaluations at steps ``<= W`` only (nothing later is looked at), each
defined in :data:`FEATURES`. The baselines a skeptic tries first use a subset: :data:`FEATURE_SETS`
(the training loss alone, the weight norm alone, and, read from the run's setup before any training,
the training fraction alone or with the weight decay and learning rate).

>>> import numpy as np
>>> m = Member("toy", 0, 0, np.array([0, 10, 20]), {"train_loss": np.array([4.0, 2.0, 1.0])}, -1, 100)
>>> float(m.at("train_loss", 15)), bool(feature_row(m, 20, ("loss_drop",))[0] == np.log(1.0) - np.log(2.0))
(2.0, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grokscope.errors import ConfigError
from grokscope.train._signals import SIGNAL_METRICS

__all__ = ["FEATURES", "FEATURE_SETS", "READ", "REQUIRED", "Member", "feature_matrix", "feature_row", "load_members"]

# The signal whose absence means "this run was trained without train.signals".
REQUIRED = "sig_loss_mobility"
_FLOOR = 1e-30  # ln of an exactly-zero loss
# The metrics a member's features and outcome are read from.
READ = ("train_loss", "weight_norm", "test_acc", *SIGNAL_METRICS)


@dataclass
class Member:
    """One trained model and what the store says about it (``metrics[name]: [n_evals]``)."""

    source: str  # "run 3" or the sweep's name
    run_id: int
    member: int
    steps: np.ndarray  # [n_evals] evaluated steps
    metrics: dict[str, np.ndarray]
    gen_step: int  # first evaluated step with test accuracy >= 99%; -1 never (within the budget)
    budget: int  # train.steps of its run
    # Known before training: train_frac (training rows / all rows of the task), weight_decay, lr
    setup: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"run {self.run_id} member {self.member}"

    @property
    def generalizes(self) -> bool:
        return 0 <= self.gen_step <= self.budget

    def at(self, name: str, window: int) -> float:
        """``name`` at the last evaluation at or before step ``window`` (NaN if none)."""
        k = int(np.searchsorted(self.steps, window, side="right")) - 1
        v = self.metrics.get(name)
        return float(v[k]) if v is not None and k >= 0 else float("nan")


def _log(x: float) -> float:
    return float(np.log(max(x, _FLOOR))) if np.isfinite(x) else float("nan")


# name -> (definition, function of (member, W)). Every value reads evaluations at steps <= W only.
FEATURES: dict[str, tuple[str, Any]] = {
    "loss_log": ("ln train_loss at W", lambda m, w: _log(m.at("train_loss", w))),
    "loss_drop": ("ln train_loss(W) - ln train_loss(W/2)", lambda m, w: _log(m.at("train_loss", w)) - _log(m.at("train_loss", w // 2))),
    "wnorm_log": ("ln weight_norm at W", lambda m, w: _log(m.at("weight_norm", w))),
    "wnorm_slope": ("slope of ln weight_norm per 1k steps over the last 32 evaluations <= W", lambda m, w: m.at("sig_wnorm_slope", w)),
    "hjorth_activity": ("log10 Hjorth activity of detrended ln train_loss at W", lambda m, w: _log(m.at("sig_loss_activity", w)) / np.log(10)),
    "hjorth_mobility": ("Hjorth mobility at W", lambda m, w: m.at("sig_loss_mobility", w)),
    "hjorth_complexity": ("Hjorth complexity at W", lambda m, w: m.at("sig_loss_complexity", w)),
    "fourier_gini": ("Gini of the embedding's Fourier-frequency norms at W", lambda m, w: m.at("sig_fourier_gini", w)),
    "fourier_gini_rise": ("fourier_gini(W) - fourier_gini(W/2)", lambda m, w: m.at("sig_fourier_gini", w) - m.at("sig_fourier_gini", w // 2)),
    "restricted_gap": ("ln restricted-loss proxy - ln train_loss at W", lambda m, w: _log(m.at("sig_restricted_loss", w)) - _log(m.at("train_loss", w))),
    "slow_grad_log": ("ln norm of the slow (EMA) gradient at W", lambda m, w: _log(m.at("sig_slow_grad_norm", w))),
    "softmax_collapse": ("fraction of training rows with a collapsed float32 softmax at W", lambda m, w: m.at("train_softmax_collapse", w)),
    "loss_spikes": ("slingshot loss spikes counted up to W", lambda m, w: m.at("sig_loss_spikes", w)),
    "norm_cycles": ("last-layer norm cycles counted up to W", lambda m, w: m.at("sig_norm_cycles", w)),
}
_SIGNALS = tuple(FEATURES)  # everything measured while training, up to W

# The run's setup, known before step 0 (no signal at all): what a skeptic predicts from first.
FEATURES.update({
    "train_frac": ("ln of the training fraction (training rows / all rows of the task)",
                   lambda m, w: _log(m.setup.get("train_frac", float("nan")))),
    "weight_decay": ("log10 weight decay (optim.weight_decay of the member)",
                     lambda m, w: _log(m.setup.get("weight_decay", float("nan"))) / np.log(10)),
    "lr": ("log10 learning rate (optim.lr of the member)", lambda m, w: _log(m.setup.get("lr", float("nan"))) / np.log(10)),
})

FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "signals": _SIGNALS,  # every signal
    "train_loss": ("loss_log", "loss_drop"),  # baseline: the training loss alone
    "weight_norm": ("wnorm_log", "wnorm_slope"),  # baseline: the weight norm alone
    "train_frac": ("train_frac",),  # baseline: the training fraction alone (no training at all)
    "setup": ("train_frac", "weight_decay", "lr"),  # baseline: the member's hyperparameters alone
}


def feature_row(m: Member, window: int, names: tuple[str, ...]) -> np.ndarray:
    """``[len(names)]`` features of one member at window ``W`` (NaN where a signal does not apply)."""
    return np.array([FEATURES[n][1](m, window) for n in names], dtype=np.float64)


def feature_matrix(members: list[Member], window: int, names: tuple[str, ...]) -> np.ndarray:
    """``[n_members, len(names)]``."""
    return np.stack([feature_row(m, window, names) for m in members]) if members else np.zeros((0, len(names)))


def load_members(store, target: str | int) -> list[Member]:
    """The members of run ``target`` (an integer) or of the sweep named ``target``, with their signals.

    ConfigError (one line) when a run was trained without ``train.signals``."""
    t = str(target).strip()
    if t.isdigit():
        return _run_members(store, int(t), source=f"run {t}")
    from grokscope.sweep import sweep_members

    rows = [r for r in sweep_members(store, t) if r.get("run_id") is not None]
    out, cache = [], {}
    for r in rows:
        rid = int(r["run_id"])
        if rid not in cache:
            cache[rid] = {m.member: m for m in _run_members(store, rid, source=t)}
        out.append(cache[rid][int(r["member"])])
    return out


def _run_members(store, run_id: int, source: str) -> list[Member]:
    rec = store.get_run(run_id)
    steps, metrics = store.metrics(run_id)
    if REQUIRED not in metrics:
        raise ConfigError(f"run {run_id} has no early-warning signals (metric {REQUIRED!r} missing): "
                          "train it with --set train.signals=true")
    budget = int((rec.config.get("train") or {}).get("steps", int(steps[-1]) if len(steps) else 0))
    n_all, optim = _n_rows(rec.config), rec.config.get("optim") or {}
    out = []
    for row in store.members(run_id):
        i = int(row["member"])
        gen = row.get("gen_step")
        setup = {"weight_decay": _per_member(optim.get("weight_decay"), i), "lr": _per_member(optim.get("lr"), i),
                 "train_frac": float(row["n_train"]) / n_all if row.get("n_train") is not None and n_all else float("nan")}
        out.append(Member(source=source, run_id=run_id, member=i, steps=np.asarray(steps),
                          metrics={k: np.asarray(metrics[k][:, i], dtype=np.float64) for k in READ if k in metrics},
                          gen_step=-1 if gen is None else int(gen), budget=budget, setup=setup))
    return out


def _per_member(value, i: int) -> float:
    """A config value that may be one per member (a list) or shared; NaN when absent."""
    if isinstance(value, (list, tuple)):
        value = value[i] if i < len(value) else None
    return float(value) if isinstance(value, (int, float)) else float("nan")


def _n_rows(config: dict) -> int:
    """How many rows the run's task has (NaN-safe: 0 when its config does not build)."""
    from grokscope.config import RunConfig
    from grokscope.errors import GrokscopeError

    try:
        return int(RunConfig.from_dict(config).build_task().n_all)
    except GrokscopeError:
        return 0
