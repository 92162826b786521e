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
]
