"""Li2 (Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking").

Stage II so far: the energy ``E(w) = ½‖Ỹᵀσ(Xw)‖²`` (:class:`Energy`, :func:`energy_reference`),
its local maxima by batched projected gradient ascent on the sphere (:func:`ascend`), and
Theorem 2's predicted maxima (:func:`predicted_maximum`). The Li2 network itself is the
architecture ``li2`` in ``grokscope.models``.
"""

from ._ascent import NORMALIZATION, AscentResult, Maximum, ascend, random_sphere
from ._energy import ACTS, Energy, energy_reference, predicted_maximum

__all__ = [
    # Stage II: the energy and Theorem 2
    "ACTS", "Energy", "energy_reference", "predicted_maximum", "NORMALIZATION",
    # its local maxima from many starts
    "ascend", "AscentResult", "Maximum", "random_sphere",
]
