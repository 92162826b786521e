"""The quantization model of neural scaling (Michaud et al. 2023) measured on trained networks.

Emergence per quantum (``_emergence``): on multitask sparse parity, the step at which each
subtask is learned against its frequency p_i (theory: slope -1), the number learned, and the
mean loss as the frequency-weighted sum of the per-subtask drops (``_figures``). Quanta discovery
from gradients (``_qdg``, ``_clusters``, ``_rankfreq``): per-sample gradients computed once, their
cosine similarities, spectral clustering, and the rank-frequency law of the cluster sizes.

>>> from grokscope.quanta import learned_steps
>>> import numpy as np
>>> learned_steps(np.array([0, 5]), np.array([[1.0], [0.01]])).tolist()
[5]
"""

from grokscope.quanta._emergence import (
    LEARNED_BITS,
    Emergence,
    MemberEmergence,
    emergence,
    emergence_from_metrics,
    learned_steps,
)
from grokscope.quanta._exponent_figures import (
    exponent_figure,
    learned_count_figure,
    save_exponents,
    trap_overlay,
)
from grokscope.quanta._exponents import (
    ExponentFit,
    Exponents,
    LearnedCount,
    exponents,
    exponents_from_points,
    predicted_exponent,
)
from grokscope.quanta._figures import (
    decomposition_figure,
    learned_step_figure,
    save_emergence,
)
from grokscope.quanta._lm import LM, LMEnsemble, lm_config, n_non_embedding, n_params
from grokscope.quanta._lm_corpus import Corpus
from grokscope.quanta._lm_figures import family_figure, token_curves_figure
from grokscope.quanta._lm_qdg import LMQDG, lm_qdg
from grokscope.quanta._lm_scaling import family_fits
from grokscope.quanta._lm_tokens import TokenCurves, classify_curves, token_curves
from grokscope.quanta._lm_train import Family, FamilyConfig, load_family, train_family
from grokscope.quanta._qdg import (
    QDGConfig,
    QDGResult,
    per_sample_gradients,
    qdg,
    qdg_run,
)
from grokscope.quanta._rankfreq import rank_frequency, rank_frequency_figure

__all__ = [
    "Exponents", "ExponentFit", "LearnedCount", "exponents", "exponents_from_points", "predicted_exponent",
    "exponent_figure", "learned_count_figure", "save_exponents", "trap_overlay",
    "Emergence",
    "MemberEmergence",
    "emergence",
    "emergence_from_metrics",
    "learned_steps",
    "LEARNED_BITS",
    "decomposition_figure",
    "learned_step_figure",
    "save_emergence",
    "QDGConfig",
    "QDGResult",
    "per_sample_gradients",
    "qdg",
    "qdg_run",
    "rank_frequency",
    "rank_frequency_figure",
    # a family of byte-level LMs on the stdlib's source (issue 10)
    "Corpus", "LM", "LMEnsemble", "lm_config", "n_params", "n_non_embedding", "FamilyConfig", "Family",
    "train_family", "load_family", "family_fits", "TokenCurves", "classify_curves", "token_curves", "LMQDG",
    "lm_qdg", "family_figure", "token_curves_figure",
]
