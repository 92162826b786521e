"""Sparse parity: how much of the first layer's weight mass sits on the relevant bits.

PAIR's "1s and 0s" figure (Pearce et al. 2023, "Do machine learning models memorize or
generalize?"): while a one-layer MLP memorizes 1,200 strings of 30 bits its input
weights are dense; as it generalizes, weight decay prunes the weights of the 27
distractor bits and the mass concentrates on the k = 3 bits whose parity is the label.
The fraction of mass on the relevant bits is a progress measure for that task: it starts
near chance, ``k / n_bits``, and ends near 1.

Mass is measured both ways, ``l1 = sum |w|`` and ``l2 = sum w^2`` over each bit's row of
``W_in`` (the norm that L1 resp. L2 weight decay shrinks).
"""

from __future__ import annotations

import numpy as np
import torch

from grokscope.errors import AnalysisError

__all__ = ["bit_mass", "relevant_fraction", "relevant_fraction_curves"]


def bit_mass(w_in: torch.Tensor, norm: str = "l1") -> torch.Tensor:
    """Weight mass of each input bit: ``w_in [..., n_bits, width]`` -> ``[..., n_bits]``."""
    if norm == "l1":
        return w_in.abs().sum(-1)
    if norm == "l2":
        return w_in.pow(2).sum(-1)
    raise AnalysisError(f"norm={norm!r}: must be 'l1' or 'l2'")


def relevant_fraction(w_in: torch.Tensor, positions, norm: str = "l1") -> torch.Tensor:
    """Fraction of the first-layer weight mass on the relevant bits ``positions``, ``[...]``.

    ``w_in [..., n_bits, width]`` (e.g. the input map ``anatomy.neuron_in`` of an ``MLPEnsemble``,
    ``[model, n_bits, width]``, or stacked checkpoints ``[step, model, n_bits, width]``).

    >>> w = torch.zeros(1, 6, 4); w[0, :2] = 1.0; w[0, 2:] = 0.5
    >>> relevant_fraction(w, [0, 1]).tolist()  # 2*4 / (2*4 + 4*2)
    [0.5]
    """
    n_bits = w_in.shape[-2]
    pos = sorted({int(i) for i in positions})
    if not pos or pos[0] < 0 or pos[-1] >= n_bits:
        raise AnalysisError(f"positions={list(positions)}: must be bit positions in [0, {n_bits - 1}]")
    mass = bit_mass(w_in, norm)  # [..., n_bits]
    total = mass.sum(-1).clamp_min(torch.finfo(mass.dtype).tiny)
    return mass[..., pos].sum(-1) / total


def relevant_fraction_curves(w_in_per_step: list[torch.Tensor], positions) -> dict[str, np.ndarray]:
    """Relevant-bit mass fractions over checkpoints: ``{"relevant_l1", "relevant_l2"}`` -> ``[n_steps, model]``.

    ``w_in_per_step``: the first-layer weights ``[model, n_bits, width]`` at each step.
    """
    stacked = torch.stack([w.double() for w in w_in_per_step])  # [n_steps, model, n_bits, width]
    return {f"relevant_{n}": relevant_fraction(stacked, positions, n).numpy() for n in ("l1", "l2")}
