"""Will a member generalize within its budget, and when? Two small, well-understood models.

From the features of a member at window W (``_members.FEATURES``, steps <= W only):

- **whether**: logistic regression (scikit-learn, L2, C = 1) on the standardized features, the label
  being "test accuracy reaches 99% by the end of the budget";
- **when**: ridge regression (alpha = 1) of ``log10 gen_step`` on the same features, fitted on the
  members that generalized;
- **uncertainty**: both refitted on ``n_boot`` bootstrap resamples of the training members (an
  explicit seed); the interval is the 5th-95th percentile of the refits' predictions (90%).

Missing features (a signal that does not apply, e.g. Fourier Gini on parity) are imputed with the
training median; a feature missing for every training member is dropped (with none left, the
models are the constant and the median below). Members already
generalized at W are not fitted on or predicted (the answer is known). When every training member
has the same outcome the classifier is the constant ``(n_pos + 1/2) / (n + 1)``; with fewer than
3 generalizing members the step model is their median.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(60, 2)); y = X[:, 0] > 0; steps = np.where(y, 10 ** (3 - 0.3 * X[:, 0]), -1)
>>> fit = fit_predictor(X, y, steps, n_boot=10, seed=0)
>>> p = fit.predict(np.array([[2.0, 0.0], [-2.0, 0.0]]))
>>> bool(p["p"][0] > 0.9 and p["p"][1] < 0.1)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

__all__ = ["ALPHA_RIDGE", "C_LOGISTIC", "LEVEL", "N_BOOT", "FittedPredictor", "fit_predictor"]

C_LOGISTIC = 1.0  # inverse L2 strength: scikit-learn's default, on standardized features
ALPHA_RIDGE = 1.0  # ridge strength: scikit-learn's default, on standardized features
N_BOOT = 100  # bootstrap refits for the intervals
LEVEL = 0.90  # the intervals' coverage (5th-95th percentile)


class _Constant:
    """A classifier for a training set with one outcome: a constant probability."""

    def __init__(self, p: float):
        self.p = p

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.tile([1 - self.p, self.p], (len(X), 1))


class _Median:
    def __init__(self, v: float):
        self.v = v

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.full(len(X), self.v)


def _fit_once(X: np.ndarray, y: np.ndarray, log_steps: np.ndarray):
    n_pos = int(y.sum())
    if 0 < n_pos < len(y) and X.shape[1]:
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=C_LOGISTIC, max_iter=1000))
        clf.fit(X, y)
    else:
        clf = _Constant((n_pos + 0.5) / (len(y) + 1))
    if n_pos >= 3 and X.shape[1]:
        reg = make_pipeline(StandardScaler(), Ridge(alpha=ALPHA_RIDGE))
        reg.fit(X[y], log_steps[y])
    else:
        reg = _Median(float(np.median(log_steps[y])) if n_pos else float("nan"))
    return clf, reg


@dataclass
class FittedPredictor:
    """The fitted models and their bootstrap refits; ``predict(X)`` gives estimates and 90% intervals."""

    clf: object
    reg: object
    boots: list = field(default_factory=list)
    n_train: int = 0
    n_pos: int = 0
    keep: np.ndarray | None = None  # [n_features] bool: features observed for some training member
    fill: np.ndarray | None = None  # [n_kept] training medians, imputed where a feature is missing

    def _prepare(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)[:, self.keep]
        return np.where(np.isfinite(X), X, self.fill)

    def predict(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """``X [n, n_features]`` -> ``p``, ``p_lo``, ``p_hi`` (probability of generalizing) and
        ``step``, ``step_lo``, ``step_hi`` (predicted generalization step, if it generalizes)."""
        X = self._prepare(X)
        p = self.clf.predict_proba(X)[:, 1]
        s = _steps(self.reg.predict(X))
        q = [(1 - LEVEL) / 2 * 100, (1 + LEVEL) / 2 * 100]
        if self.boots:
            bp = np.stack([c.predict_proba(X)[:, 1] for c, _ in self.boots])  # [n_boot, n]
            bs = np.stack([_steps(r.predict(X)) for _, r in self.boots])
            p_lo, p_hi = np.percentile(bp, q, axis=0)
            with np.errstate(invalid="ignore"):
                s_lo, s_hi = np.nanpercentile(bs, q, axis=0) if np.isfinite(bs).any() else (s * np.nan, s * np.nan)
        else:
            p_lo = p_hi = p
            s_lo = s_hi = s
        return {"p": p, "p_lo": p_lo, "p_hi": p_hi, "step": s, "step_lo": s_lo, "step_hi": s_hi}


def _steps(log10_steps: np.ndarray) -> np.ndarray:
    """Steps from predicted log10 steps, clipped to [1, 1e12] (a linear model extrapolates without bound)."""
    return 10.0 ** np.clip(log10_steps, 0.0, 12.0)


def fit_predictor(X: np.ndarray, y: np.ndarray, gen_steps: np.ndarray, *, n_boot: int = N_BOOT,
                  seed: int = 0) -> FittedPredictor:
    """Fit on ``X [n, n_features]``, ``y [n]`` (generalizes within budget) and ``gen_steps [n]``
    (the generalization step where ``y``; ignored elsewhere); ``n_boot`` refits from ``seed``."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=bool)
    keep = np.isfinite(X).any(0)
    with np.errstate(all="ignore"):
        fill = np.array([np.nanmedian(c) for c in X[:, keep].T])
    X = np.where(np.isfinite(X[:, keep]), X[:, keep], fill)
    log_steps = np.log10(np.maximum(np.asarray(gen_steps, dtype=np.float64), 1.0))
    clf, reg = _fit_once(X, y, log_steps)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        boots.append(_fit_once(X[idx], y[idx], log_steps[idx]))
    return FittedPredictor(clf, reg, boots, n_train=len(y), n_pos=int(y.sum()), keep=keep, fill=fill)
