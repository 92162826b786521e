"""Li2 (Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking").

Stage I: the ridge top layer V_ridge and the back-propagated gradient G_F it sends to the hidden
layer, with the seed's Lemma 1 and the identity ``η G_F → ỸỸᵀF`` that makes each node ascend its
own energy (:func:`stage_one`, :func:`backprop_gradient`, :func:`ridge_top`, :func:`li2_objective`);
training W by gradient descent under that top layer (:func:`train_ridge`).
Stage II: the energy ``E(w) = ½‖Ỹᵀσ(Xw)‖²`` (:class:`Energy`, :func:`energy_reference`), its
local maxima by batched projected gradient ascent on the sphere (:func:`ascend`), and Theorem 2's
predicted maxima (:func:`predicted_maximum`); the empirical energy Ê on a training subset
(:class:`EmpiricalEnergy`, :func:`sample_pairs`).
Theorem 4: which of E's maxima Ê keeps as the training fraction shrinks, and the critical
fraction against the group order (:func:`kept_maxima`, :func:`critical_fraction`, :func:`boundary`).
The Li2 network itself is the architecture ``li2`` in ``grokscope.models``.
"""

from ._ascent import NORMALIZATION, AscentResult, Maximum, ascend, random_sphere
from ._boundary import (
    LN_OVER_M,
    BoundaryResult,
    KeptMaxima,
    boundary,
    component_maxima,
    critical_fraction,
    kept_maxima,
)
from ._dynamics import Li2Run, ridge_gradient_step, train_ridge
from ._empirical import EmpiricalEnergy, all_pairs, sample_pairs
from ._energy import ACTS, Energy, energy_reference, predicted_maximum
from ._stage1 import (
    StageOne,
    backprop_gradient,
    centre_rows,
    hidden_features,
    li2_objective,
    ridge_top,
    stage_one,
    stage_one_grid,
)

__all__ = [  # noqa: RUF022 (grouped by stage, as an API map)
    # Stage I: ridge top layer, back-propagated gradient, Lemma 1
    "StageOne", "stage_one", "stage_one_grid", "backprop_gradient", "ridge_top", "li2_objective",
    "hidden_features", "centre_rows",
    # Li2 training under the ridge top layer (full batch, weight decay per layer)
    "train_ridge", "ridge_gradient_step", "Li2Run",
    # Stage II: the energy and Theorem 2
    "ACTS", "Energy", "energy_reference", "predicted_maximum", "NORMALIZATION",
    # its local maxima from many starts
    "ascend", "AscentResult", "Maximum", "random_sphere",
    # the empirical energy on a training subset
    "EmpiricalEnergy", "sample_pairs", "all_pairs",
    # Theorem 4: the maxima Ê keeps and the memorization-generalization boundary
    "kept_maxima", "KeptMaxima", "component_maxima", "critical_fraction", "boundary", "BoundaryResult", "LN_OVER_M",
]
