"""A discrete label for the heuristic model a network implements, and its walk over training.

Gokhale 2023 ("The Semantic Landscape Paradigm for Neural Networks", §2.2-2.3) pictures
training as a walk on a graph whose nodes are *heuristic models*, the algorithms the
weights encode. For modular addition we can name the nodes (the algorithm of Nanda et al.
2023, "Progress measures for grokking via mechanistic interpretability", uses a few key
frequencies; memorization uses none) and so place every
checkpoint on the graph. Our label of a checkpoint is the pair

* ``freqs``: the frequencies *in use* — the frequencies whose wave
  ``cos/sin(w_k (a + s b - c))`` carries a key share of the logits' energy (the rule of
  :func:`grokscope.analysis._fourier.key_frequencies` applied to the energy of the logits
  in each frequency's waves: >= 10x the median frequency and >= 2% of the total) and
  explains >= 1% of the logits' variance (:func:`frequencies_in_use`);
* ``mem``: the fraction of training points *served by memorization* — answered correctly
  by the logits with the waves of the frequencies in use removed (the excluded logits of
  Nanda et al. 2023, made an accuracy). A lookup-table model has ``freqs = ()`` and
  ``mem = train accuracy``; a clean Fourier circuit has ``mem = 0``. (Why not "right under
  the full model, wrong under the restricted one": the restricted logits are a function of
  ``a + s b - c`` alone, so they are right on every input or on none.) For a discrete
  node ``mem`` is rounded to ``MEM_BIN``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from grokscope.analysis._fourier import key_frequencies
from grokscope.analysis._progress import diagonal_sums, wave_profile

__all__ = ["wave_energy", "frequencies_in_use", "HeuristicLabel", "heuristic_labels", "label_walk"]

# Resolution of the memorization fraction in a label: coarse enough that noise between
# neighbouring checkpoints does not make a new node at every step.
MEM_BIN = 0.1
# A frequency is in use only if its waves explain >= 1% of the logits' variance: random
# logits put ~2 / p^3 of their variance in any one frequency's waves, a grokked model most.
MIN_EXPLAINED = 0.01


def wave_energy(logits: torch.Tensor, sign: int = 1) -> torch.Tensor:
    """Energy of ``logits [B, p, p, p]`` in each frequency's waves ``cos/sin(w_k (a + s b - c))``.

    Returns ``[B, n_freq]`` (frequency 0, the constant, is set to 0). The waves of distinct
    frequencies are orthogonal, so these energies add up to the energy of the projection
    onto all of them.
    """
    bsz, p = logits.shape[0], logits.shape[1]
    T = diagonal_sums(logits, sign)  # [B, d]: the waves are functions of d = a + s b - c alone
    ks = torch.arange(1, (p - 1) // 2 + 1, dtype=torch.float64, device=logits.device)
    wd = 2 * math.pi * ks[:, None] * torch.arange(p, dtype=torch.float64, device=logits.device) / p  # [K, d]
    along_cos = T @ torch.cos(wd).to(logits.dtype).T  # [B, K]: <L, cos(w (a + s b - c))>
    along_sin = T @ torch.sin(wd).to(logits.dtype).T
    energy = (along_cos.pow(2) + along_sin.pow(2)) * (2.0 / p**3)  # squared norm of each wave: p^3 / 2
    out = energy.new_zeros(bsz, p // 2 + 1)  # frequency 0 and (even p) the Nyquist frequency stay 0
    out[:, 1 : len(ks) + 1] = energy
    return out


def frequencies_in_use(logits: torch.Tensor, sign: int = 1, *, min_explained: float = MIN_EXPLAINED) -> torch.Tensor:
    """Which frequencies the logits ``[B, p, p, p]`` use: bool ``[B, n_freq]``.

    Rule: the key-frequency rule on :func:`wave_energy` (>= 10x the median frequency, >= 2%
    of the wave energy) *and* the frequency's waves explain at least ``min_explained`` of
    the variance of the logits over classes (each input's mean removed). The second
    condition keeps the spectrum of an untrained network, whose waves carry a negligible
    share of its logits, from naming chance winners.
    """
    energy = wave_energy(logits, sign)  # [B, n_freq]
    total = (logits - logits.mean(-1, keepdim=True)).pow(2).flatten(1).sum(1)  # [B]
    return key_frequencies(energy) & (energy >= min_explained * total[:, None])


@dataclass(frozen=True)
class HeuristicLabel:
    """The node of one checkpoint: frequencies in use and the memorized fraction of training points."""

    freqs: tuple[int, ...]
    mem: float  # rounded to MEM_BIN

    def __str__(self) -> str:
        f = "{" + ",".join(map(str, self.freqs)) + "}" if self.freqs else "{}"
        return f"{f} mem={self.mem:.1f}"


def heuristic_labels(
    logits: torch.Tensor,
    labels: torch.Tensor,
    idx: torch.Tensor,
    train_mask: torch.Tensor,
    sign: int = 1,
) -> tuple[list[HeuristicLabel], np.ndarray]:
    """Label each model in ``logits [B, p, p, p]`` (see the module docstring).

    ``labels [n_all]`` and ``idx [n_all]`` (grid position ``a p + b`` of each task row),
    ``train_mask [B, n_all]``. Returns the labels and the unrounded memorized fractions ``[B]``.
    """
    bsz, p = logits.shape[0], logits.shape[1]
    in_use = frequencies_in_use(logits, sign)  # [B, n_freq] bool
    rows = logits.reshape(bsz, p * p, p)[:, idx]  # [B, n_all, C]
    d_rows = ((idx // p + sign * (idx % p))[:, None] - torch.arange(p, device=idx.device)) % p  # [n_all, C]
    out, fracs = [], np.zeros(bsz)
    for b in range(bsz):
        freqs = in_use[b].nonzero().flatten().tolist()
        train = train_mask[b].bool().nonzero().flatten()  # only training rows are scored
        lab = labels[train]
        # Excluded logits = logits minus their key-wave part, a function of d = a + s b - c.
        excl = rows[b, train] - wave_profile(logits[b : b + 1], freqs, sign)[0, d_rows[train]]  # [n_train, C]
        # Strictly greater than every other class: all-zero (fully Fourier) logits are ties, not hits.
        right = excl.gather(-1, lab[:, None]).squeeze(-1)
        others = excl.scatter(-1, lab[:, None], float("-inf")).amax(-1)
        tol = 1e-9 * logits[b].abs().amax().clamp_min(1e-300)  # rounding residue of the removed waves
        fracs[b] = float((right > others + tol).sum()) / max(len(train), 1)
        out.append(HeuristicLabel(tuple(freqs), round(round(fracs[b] / MEM_BIN) * MEM_BIN, 10)))
    return out, fracs


def label_walk(steps, labels: list[HeuristicLabel]) -> list[tuple[float, HeuristicLabel]]:
    """The walk on the graph of heuristic models: ``(step entered, label)`` at each change.

    >>> a, b = HeuristicLabel((), 1.0), HeuristicLabel((3, 7), 0.0)
    >>> [(s, str(l)) for s, l in label_walk([0, 10, 20, 30], [a, a, b, b])]
    [(0, '{} mem=1.0'), (20, '{3,7} mem=0.0')]
    """
    walk: list[tuple[float, HeuristicLabel]] = []
    for s, lab in zip(steps, labels):
        if not walk or walk[-1][1] != lab:
            walk.append((s, lab))
    return walk
