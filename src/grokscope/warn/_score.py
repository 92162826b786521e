"""Predictions per member, and the score of a predictor on members it never saw.

``predict(members, window, train=None)`` gives every member a :class:`Prediction`. With ``train``
(other members: another sweep) the predictor is fitted on them once (``fit_reference``, then
``predict_fitted``: what the live display of ``grokscope train --warn-from`` does); without it the
members are cross-fitted (``K_FOLDS`` folds by member, from a seed): each is predicted by a
predictor that never saw it.

``score(train, test, window)`` fits on ``train`` and scores on ``test`` (another sweep: other seeds,
other hyperparameters, another task), for the early-warning signals and for the baselines a skeptic
tries first (the training loss alone, the weight norm alone; ``FEATURE_SETS``):

- ``auc``: area under the ROC curve of the probability of generalizing within the budget, with a 90%
  bootstrap interval over the test members (NaN when the test members all have one outcome);
- ``lead_time``: over the test members that generalize and are flagged (p >= 0.5) at W, the median
  of ``gen_step - W``: the steps of warning the predictor gave;
- ``spearman``: the rank correlation between the predicted and the actual generalization step over
  the test members that generalize (NaN with fewer than 3).

Members that already generalized at W are left out (their outcome is known): ``n_known``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from grokscope.errors import ConfigError
from grokscope.warn._members import FEATURE_SETS, Member, feature_matrix
from grokscope.warn._predictor import LEVEL, N_BOOT, FittedPredictor, fit_predictor

__all__ = ["K_FOLDS", "Prediction", "Score", "check_window", "fit_reference", "predict", "predict_fitted", "score"]

K_FOLDS = 5  # cross-fitting folds when no training sweep is given (leave-one-out below 5 members)
N_BOOT_AUC = 200  # bootstrap resamples of the test members for the AUC interval


@dataclass
class Prediction:
    """One member's prediction at window W (``p``: probability of generalizing within its budget)."""

    label: str
    run_id: int
    member: int
    window: int
    budget: int
    known: bool  # already generalized at or before W: nothing to predict
    p: float
    p_lo: float
    p_hi: float
    step: float  # predicted generalization step (if it generalizes); NaN when unknown
    step_lo: float
    step_hi: float
    actual_gen_step: int | None  # from the store (None: never within the budget, or not yet)

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(self).items()}


@dataclass
class Score:
    """A predictor fitted on one set of members and scored on another (see the module docstring)."""

    features: str  # a FEATURE_SETS name
    window: int
    n_train: int
    n_test: int
    n_known: int  # test members already generalized at W (left out)
    n_test_pos: int
    auc: float
    auc_lo: float
    auc_hi: float
    accuracy: float  # at p >= 0.5
    lead_time: float  # median steps of warning over flagged test members that generalize
    n_flagged_pos: int
    spearman: float
    spearman_n: int

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(self).items()}


def check_window(members: list[Member], window: int, what: str, option: str = "--window") -> None:
    """One ConfigError line when W does not fit inside every member's run, or too few members
    (``option`` names W in the message)."""
    if window < 1:
        raise ConfigError(f"{option} {window}: must be a positive number of steps")
    if len(members) < 2:
        raise ConfigError(f"{what} has {len(members)} member(s): the predictor needs at least 2 "
                          "(train on another sweep with --train)")
    short = min(members, key=lambda m: int(m.steps[-1]) if len(m.steps) else 0)
    last = int(short.steps[-1]) if len(short.steps) else 0
    if window >= last:
        raise ConfigError(f"{option} {window}: longer than {what} ({short.label} ends at step {last}); "
                          f"use a window < {last}")


def _open(members: list[Member], window: int) -> list[Member]:
    """Members whose outcome is not known at W (not generalized at or before W)."""
    return [m for m in members if not (0 <= m.gen_step <= window)]


def _xy(members: list[Member], window: int, names) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = feature_matrix(members, window, names)
    y = np.array([m.generalizes for m in members], dtype=bool)
    steps = np.array([m.gen_step if m.generalizes else -1 for m in members], dtype=np.float64)
    return X, y, steps


def fit_reference(train: list[Member], window: int, *, features: str = "signals", n_boot: int = N_BOOT,
                  seed: int = 0) -> FittedPredictor:
    """The predictor fitted once on ``train`` (a reference sweep) at window ``W``, on its members not yet
    generalized at W; one ConfigError line when fewer than 2 are left. Predict with
    ``fit.predict(feature_matrix(members, W, FEATURE_SETS[features]))``."""
    fit_on = _open(train, window)
    if len(fit_on) < 2:
        raise ConfigError(f"the training members have {len(fit_on)} member(s) not yet generalized at step "
                          f"{window}: the predictor needs at least 2")
    return fit_predictor(*_xy(fit_on, window, FEATURE_SETS[features]), n_boot=n_boot, seed=seed)


def predict(members: list[Member], window: int, train: list[Member] | None = None, *,
            features: str = "signals", n_boot: int = N_BOOT, seed: int = 0) -> list[Prediction]:
    """A prediction for every member (see the module docstring)."""
    if train is not None:
        fit = fit_reference(train, window, features=features, n_boot=n_boot, seed=seed)
        return predict_fitted(fit, members, window, features=features)
    names = FEATURE_SETS[features]
    todo = _open(members, window)
    preds: dict[int, dict] = {}
    if todo:
        rng = np.random.default_rng(seed)
        k = min(K_FOLDS, len(todo))
        fold = rng.permutation(np.arange(len(todo)) % k)
        for f in range(k):
            held = [m for m, g in zip(todo, fold) if g == f]
            rest = [m for m, g in zip(todo, fold) if g != f]
            if len(rest) < 2:
                raise ConfigError(f"{len(todo)} member(s) are not yet generalized at step {window}: "
                                  "cross-fitting needs at least 3 (or train on another sweep with --train)")
            fit = fit_predictor(*_xy(rest, window, names), n_boot=n_boot, seed=seed + f)
            out = fit.predict(feature_matrix(held, window, names))
            preds.update({id(m): {k2: float(v[i]) for k2, v in out.items()} for i, m in enumerate(held)})
    return _assemble(members, preds, window)


def predict_fitted(fit: FittedPredictor, members: list[Member], window: int, *,
                   features: str = "signals") -> list[Prediction]:
    """A prediction for every member from an already fitted predictor (``fit_reference``)."""
    names = FEATURE_SETS[features]
    todo = _open(members, window)
    out = fit.predict(feature_matrix(todo, window, names)) if todo else {}
    return _assemble(members, {id(m): {k: float(v[i]) for k, v in out.items()} for i, m in enumerate(todo)}, window)


def _assemble(members: list[Member], preds: dict[int, dict], window: int) -> list[Prediction]:
    """Predictions in member order; members without one generalized by W (``known``)."""
    result = []
    for m in members:
        known = id(m) not in preds
        d = preds.get(id(m)) or {"p": 1.0, "p_lo": 1.0, "p_hi": 1.0, "step": float(m.gen_step),
                                 "step_lo": float(m.gen_step), "step_hi": float(m.gen_step)}
        d = {k: (max(v, window) if k.startswith("step") and np.isfinite(v) else v) for k, v in d.items()}
        result.append(Prediction(label=m.label, run_id=m.run_id, member=m.member, window=window, budget=m.budget,
                                 known=known, actual_gen_step=m.gen_step if m.gen_step >= 0 else None, **d))
    return result


def score(train: list[Member], test: list[Member], window: int, *, features: str = "signals",
          n_boot: int = N_BOOT, seed: int = 0) -> Score:
    """Fit on ``train``, score on ``test`` (see the module docstring)."""
    names = FEATURE_SETS[features]
    fit_on, held = _open(train, window), _open(test, window)
    if len(fit_on) < 2 or not held:
        raise ConfigError(f"window {window}: {len(fit_on)} training and {len(held)} test member(s) are not yet "
                          "generalized there; need at least 2 and 1")
    fit = fit_predictor(*_xy(fit_on, window, names), n_boot=n_boot, seed=seed)
    X, y, steps = _xy(held, window, names)
    out = fit.predict(X)
    p, s = out["p"], out["step"]
    auc, lo, hi = _auc(y, p, seed)
    flagged = y & (p >= 0.5)
    lead = float(np.median(steps[flagged] - window)) if flagged.any() else float("nan")
    rho = float(spearmanr(s[y], steps[y])[0]) if y.sum() >= 3 and np.ptp(s[y]) > 0 else float("nan")
    return Score(features=features, window=window, n_train=len(fit_on), n_test=len(held),
                 n_known=len(test) - len(held), n_test_pos=int(y.sum()), auc=auc, auc_lo=lo, auc_hi=hi,
                 accuracy=float(((p >= 0.5) == y).mean()), lead_time=lead, n_flagged_pos=int(flagged.sum()),
                 spearman=rho, spearman_n=int(y.sum()))


def _auc(y: np.ndarray, p: np.ndarray, seed: int) -> tuple[float, float, float]:
    """ROC AUC and its bootstrap interval over members (NaN when ``y`` has one class)."""
    if y.all() or not y.any():
        return float("nan"), float("nan"), float("nan")
    auc = float(roc_auc_score(y, p))
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(N_BOOT_AUC):
        idx = rng.integers(0, len(y), len(y))
        if y[idx].any() and not y[idx].all():
            boots.append(roc_auc_score(y[idx], p[idx]))
    lo, hi = np.percentile(boots, [(1 - LEVEL) / 2 * 100, (1 + LEVEL) / 2 * 100]) if boots else (np.nan, np.nan)
    return auc, float(lo), float(hi)
