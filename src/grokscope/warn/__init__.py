"""Early warning: will a member grok within its budget, and when? From the signals of its first W steps.

The signals are computed while training (``train.signals = true``; ``grokscope.train._signals``) and
stored as metrics per member. This package reads them back (``load_members``), turns the
evaluations at steps <= W into stated features (``FEATURES``, ``FEATURE_SETS``), fits small,
well-understood models (logistic and ridge regression, ``fit_predictor``), predicts per member with
bootstrap intervals (``predict``), and scores a predictor trained on one sweep on another it never
saw, beside the baselines (``score``). ``LiveWarning`` is the same prediction made while a run trains
(an evaluation hook; ``grokscope train --warn-from REF``). See docs/early-warning.md.

>>> from grokscope.warn import load_members, predict, score       # doctest: +SKIP
>>> train, test = load_members(store, "3"), load_members(store, "4")  # doctest: +SKIP
>>> score(train, test, window=500).auc                               # doctest: +SKIP
"""

from grokscope.warn._live import LiveWarning
from grokscope.warn._members import (
    FEATURE_SETS,
    FEATURES,
    Member,
    feature_matrix,
    feature_row,
    load_members,
)
from grokscope.warn._predictor import FittedPredictor, fit_predictor
from grokscope.warn._score import (
    K_FOLDS,
    Prediction,
    Score,
    check_window,
    fit_reference,
    predict,
    predict_fitted,
    score,
)

__all__ = [
    "FEATURES",
    "FEATURE_SETS",
    "K_FOLDS",
    "FittedPredictor",
    "LiveWarning",
    "Member",
    "Prediction",
    "Score",
    "check_window",
    "feature_matrix",
    "feature_row",
    "fit_predictor",
    "fit_reference",
    "load_members",
    "predict",
    "predict_fitted",
    "score",
]
