"""Li2 (Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking").

Stage I: the ridge top layer V_ridge and the back-propagated gradient G_F it sends to the hidden
layer, with Tian's Lemma 1 and the identity ``η G_F → ỸỸᵀF`` that makes each node ascend its
own energy (:func:`stage_one`, :func:`backprop_gradient`, :func:`ridge_top`, :func:`li2_objective`);
training W by gradient descent under that top layer (:func:`train_ridge`).
Stage II: the energy ``E(w) = ½‖Ỹᵀσ(Xw)‖²`` (:class:`Energy`, :func:`energy_reference`), its
local maxima by batched projected gradient ascent on the sphere (:func:`ascend`), and Theorem 2's
predicted maxima (:func:`predicted_maximum`); the empirical energy Ê on a training subset
(:class:`EmpiricalEnergy`, :func:`sample_pairs`).
Theorem 4: which of E's maxima Ê keeps as the training fraction shrinks, and the critical
fraction against the group order (:func:`kept_maxima`, :func:`critical_fraction`, :func:`boundary`).
Stage III: Theorem 7's modified energy E_S with a set S of irreps learned by frozen nodes, and where
its maxima land (:class:`ModifiedEnergy`, :func:`stage_three`).
Trained networks: Adam on W under the ridge top layer, the reference code's protocol
(:func:`train_ridge_adam`; batched over members, :func:`train_ridge_adam_ensemble`), and each
checkpoint's nodes against Theorem 2's E*, their irrep purity and the stage by a stated rule
(:func:`node_energies`, :func:`network_stages`). Theorem 4 in trained networks: the fraction
p*(M) where half the seeds generalize, from a sweep over groups, fractions c·ln M/M and seeds,
fitted to c·ln M/M and a·M^-γ (:func:`trained_boundary`, :func:`trained_boundary_figure`).
The Li2 network itself is the architecture ``li2`` in ``grokscope.models``.
"""

from ._adam import AdamRun, train_ridge_adam
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
from ._constructions import (
    construction_losses,
    u_generator,
    y_k,
    z_f6,
    z_f46,
    z_memorize,
    z_nu,
    z_syn,
    z_xi,
)
from ._dynamics import Li2Run, ridge_gradient_step, train_ridge
from ._empirical import EmpiricalEnergy, all_pairs, sample_pairs
from ._energy import ACTS, Energy, energy_reference, predicted_maximum
from ._ensemble import EnsembleRun, Member, train_ridge_adam_ensemble
from ._factorize import SOLUTION_TYPES, Factorization, factorize, per_frequency
from ._nodes import STAGE_RULE, NetworkStages, network_stages, node_energies
from ._semiring import (
    FourierNet,
    direct_loss,
    loss_from_r,
    r_cross,
    r_self,
    tian_loss_terms,
)
from ._solutions import (
    TIAN_TABLE,
    CogoRun,
    SolutionTable,
    solution_table,
    summarize_solutions,
    train_cogo,
)
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
from ._stage3 import (
    ModifiedEnergy,
    StageThree,
    learned_nodes,
    resolve_components,
    stage_three,
)
from ._trained_boundary import (
    ENERGY_BOUNDARY,
    REFERENCE_MULTIPLIER,
    TrainedBoundary,
    crossing,
    default_hidden,
    trained_boundary,
)
from ._trained_boundary_figure import trained_boundary_figure

__all__ = [  # noqa: RUF022 (grouped by stage, as an API map)
    # CoGO (Tian 2024): the semi-ring of 2-layer x² nets, constructed optima, factorized solutions
    "FourierNet", "r_cross", "r_self", "loss_from_r", "tian_loss_terms", "direct_loss",
    "z_syn", "z_nu", "z_xi", "y_k", "z_f6", "z_f46", "z_memorize", "u_generator", "construction_losses",
    "factorize", "Factorization", "per_frequency", "SOLUTION_TYPES",
    "train_cogo", "CogoRun", "solution_table", "SolutionTable", "summarize_solutions", "TIAN_TABLE",
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
    # Stage III: Theorem 7's modified energy with a learned set S
    "stage_three", "StageThree", "ModifiedEnergy", "learned_nodes", "resolve_components",
    # trained networks: Adam under the ridge top layer; nodes, purity and stage per checkpoint
    "train_ridge_adam", "AdamRun", "network_stages", "NetworkStages", "node_energies", "STAGE_RULE",
    # the same, batched over an ensemble of members (own subset and init each), members leaving once decided
    "train_ridge_adam_ensemble", "Member", "EnsembleRun",
    # Theorem 4 in trained networks: p*(M) from a sweep over groups, fractions and seeds
    "trained_boundary", "TrainedBoundary", "trained_boundary_figure", "crossing", "default_hidden",
    "ENERGY_BOUNDARY", "REFERENCE_MULTIPLIER",
]
