"""Fourier circuits over Z_p: the basis, spectra, key frequencies, neurons and their stars.

A network that has grokked modular addition computes with waves: its embedding holds
``cos(w_k x), sin(w_k x)`` for a few *key frequencies* ``w_k = 2 pi k / p``, each neuron
reads one frequency, and the logits of the neurons of frequency ``k`` form the wave
``cos(w_k (a + b - c))``, largest at ``c = a + b`` (Nanda et al. 2023, "Progress measures
for grokking via mechanistic interpretability", arXiv:2301.05217, §4; Pearce et al. 2023,
"Do machine learning models memorize or generalize?", PAIR explorable, "It's Full of
Stars"). This module finds all of that from the weights and activations, never assuming
which frequencies are used.

Conventions. The real Fourier basis of Z_p is the ``p x p`` orthonormal matrix whose
rows are: the constant ``1/sqrt(p)`` (component 0), then for ``k = 1 .. (p-1)//2`` the pair
``sqrt(2/p) cos(w_k x)`` (component ``2k-1``) and ``sqrt(2/p) sin(w_k x)`` (component ``2k``),
and, for even ``p`` only, the alternating ``(-1)^x / sqrt(p)`` (frequency ``p/2``). The
*energy* of frequency ``k`` is the sum of the squared coefficients of its components, so
energies add up to the squared norm (Parseval).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

__all__ = [
    "fourier_basis",
    "component_frequencies",
    "dft",
    "dft2",
    "frequency_energy",
    "key_frequencies",
    "NeuronFourier",
    "pair_neuron_weights",
    "neuron_fourier",
    "neuron_frequencies_2d",
    "frequency_group_logits",
    "WaveFit",
    "wave_fit",
    "trig_directions",
]

# A frequency is "key" when its energy is this many times the median frequency's energy:
# a random matrix has energies within a small factor of each other (chi-square with
# 2 * width degrees of freedom), while the frequencies of a grokked circuit sit orders of
# magnitude above the floor (Nanda et al. 2023, Fig. 3). 10x is our stated threshold.
KEY_RATIO = 10.0
# ... and holds at least this share of the non-constant energy, so that an exactly sparse
# spectrum (a construction: every other energy is 0, the median is 0) does not promote
# rounding noise to "key".
KEY_MIN_SHARE = 0.02


@functools.lru_cache(maxsize=32)
def fourier_basis(p: int, *, dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
    """The orthonormal real Fourier basis of Z_p, ``[p_component, p_x]`` (see module docstring).

    Cached per (p, dtype, device): analyses call it once per checkpoint; treat it as read-only.

    >>> B = fourier_basis(5)
    >>> torch.allclose(B @ B.T, torch.eye(5, dtype=B.dtype))
    True
    """
    x = torch.arange(p, dtype=torch.float64, device=device)
    k = torch.arange(1, (p - 1) // 2 + 1, dtype=torch.float64, device=device)
    angle = 2 * math.pi * k[:, None] * x[None, :] / p  # [K, p_x]
    pairs = math.sqrt(2.0 / p) * torch.stack([torch.cos(angle), torch.sin(angle)], 1).reshape(-1, p)  # cos, sin interleaved
    rows = [torch.full((1, p), 1.0 / math.sqrt(p), dtype=torch.float64, device=device), pairs]
    if p % 2 == 0:  # the Nyquist frequency p/2 has a cosine only
        rows.append((torch.cos(math.pi * x) / math.sqrt(p))[None])
    return torch.cat(rows).to(dtype)  # [p_component, p_x]


def component_frequencies(p: int) -> torch.Tensor:
    """The frequency ``k`` of each basis component, LongTensor ``[p]`` (0, 1, 1, 2, 2, ...).

    >>> component_frequencies(6).tolist()
    [0, 1, 1, 2, 2, 3]
    """
    return (torch.arange(p) + 1) // 2


def n_frequencies(p: int) -> int:
    """Number of distinct frequencies 0 .. p//2."""
    return p // 2 + 1


def dft(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Coefficients of ``x`` in the Fourier basis along ``dim`` (whose size is p).

    ``dft(x)[..., j] = sum_t basis[j, t] * x[..., t]``; the other axes are untouched.

    >>> x = torch.cos(2 * math.pi * 3 * torch.arange(11.0, dtype=torch.float64) / 11)
    >>> c = dft(x)
    >>> int(c.abs().argmax()), round(float(c[5]), 6)  # component 5 = cos of frequency 3
    (5, 2.345208)
    """
    p = x.shape[dim]
    basis = fourier_basis(p, dtype=x.dtype, device=x.device)
    moved = x.movedim(dim, -1)  # [..., p_x]
    return (moved @ basis.T).movedim(-1, dim)  # [..., p_component] moved back


def dft2(x: torch.Tensor, dims: tuple[int, int] = (-3, -2)) -> torch.Tensor:
    """2-D Fourier coefficients over two axes of size p (e.g. a neuron over the (a, b) grid)."""
    return dft(dft(x, dims[0]), dims[1])


def frequency_energy(coeffs: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Energy per frequency: squared coefficients summed over each frequency's components.

    The axis ``dim`` of size p (components) becomes an axis of size ``p//2 + 1``
    (frequencies 0 .. p//2).

    >>> e = frequency_energy(dft(torch.randn(3, 7, dtype=torch.float64)))
    >>> e.shape
    torch.Size([3, 4])
    """
    p = coeffs.shape[dim]
    freq = component_frequencies(p).to(coeffs.device)
    moved = coeffs.movedim(dim, -1).pow(2)  # [..., p_component]
    out = moved.new_zeros(*moved.shape[:-1], n_frequencies(p))
    out.index_add_(-1, freq, moved)
    return out.movedim(-1, dim)


def key_frequencies(
    energy: torch.Tensor, *, ratio: float = KEY_RATIO, min_share: float = KEY_MIN_SHARE
) -> torch.Tensor:
    """Which frequencies are *key*, found from an energy spectrum ``[..., n_freq]``.

    Rule (stated so it can be quoted): frequency ``k >= 1`` is key when its energy is at
    least ``ratio`` times the median energy of the frequencies ``1 .. p//2`` and at least
    ``min_share`` of their total. The constant (k = 0) is never key. Returns a bool mask
    of the same shape as ``energy``.

    >>> e = torch.tensor([9.0, 0.1, 5.0, 0.1, 0.2, 0.1, 3.0])
    >>> key_frequencies(e).nonzero().flatten().tolist()
    [2, 6]
    """
    rest = energy[..., 1:]
    median = rest.median(dim=-1, keepdim=True).values
    total = rest.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(energy.dtype).tiny)
    key = (rest >= ratio * median) & (rest >= min_share * total) & (rest > 0)
    return torch.cat([torch.zeros_like(key[..., :1]), key], dim=-1)


@dataclass(frozen=True)
class NeuronFourier:
    """Each neuron's frequency and its PAIR "star" coordinates (all ``[model, n_neurons]``).

    ``freq`` is the dominant non-constant frequency of the neuron's input weights over the
    token axis and ``frac`` the fraction of their variance (non-constant energy) it holds.
    ``in_cos, in_sin`` are the input weights' cos/sin coefficients at ``freq``;
    ``out_cos, out_sin`` the output weights' (to each class c) at the same ``freq``, and
    ``out_frac`` the fraction of the output weights' variance at that frequency.
    Plotting ``(in_cos, in_sin)`` of the neurons of one frequency shows the stars.
    """

    freq: torch.Tensor  # [model, n_neurons] long
    frac: torch.Tensor  # [model, n_neurons]
    in_cos: torch.Tensor  # [model, n_neurons]
    in_sin: torch.Tensor
    out_cos: torch.Tensor
    out_sin: torch.Tensor
    out_frac: torch.Tensor


def _at_frequency(coeffs: torch.Tensor, freq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin coefficients at ``freq`` from ``coeffs [model, p_component, n]``."""
    p = coeffs.shape[1]
    cos_idx = (2 * freq - 1).clamp(0, p - 1)  # [model, n]
    sin_idx = (2 * freq).clamp(0, p - 1)
    cos = coeffs.gather(1, cos_idx.unsqueeze(1)).squeeze(1)
    sin = coeffs.gather(1, sin_idx.unsqueeze(1)).squeeze(1)
    if p % 2 == 0:  # the Nyquist frequency has no sine
        sin = torch.where(freq == p // 2, torch.zeros_like(sin), sin)
    return cos, sin


def pair_neuron_weights(state: dict[str, torch.Tensor], cfg=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Effective ``(w_in [model, p, d_hidden], w_out [model, d_hidden, n_classes])`` of a PAIR MLP state.

    The model says what they are: ``PairMLPEnsemble(cfg).anatomy(state)``'s ``neuron_in`` and
    ``neuron_out`` (``W_E·W_in`` or ``W_in``; ``W_out·W_Eᵀ``, ``W_out·W_U`` or ``W_out``). ``cfg``
    (a ``PairMLPConfig``) defaults to the layout :func:`~grokscope.analysis.circular_construction`
    writes (factored, tied). For any other architecture use ``ensemble.anatomy(state)`` directly.
    """
    from grokscope.analysis._construct import construction_config
    from grokscope.models import PairMLPEnsemble

    if cfg is None:
        cfg = construction_config(state)
    first = next(iter(state.values()))
    ens = PairMLPEnsemble(cfg, n_models=first.shape[0], dtype=first.dtype)
    anatomy = ens.anatomy(state)
    return anatomy.neuron_in, anatomy.neuron_out


def neuron_fourier(w_in: torch.Tensor, w_out: torch.Tensor | None = None, freq: torch.Tensor | None = None) -> NeuronFourier:
    """Frequencies and stars of the neurons of a one-hidden-layer model.

    ``w_in [model, p, n_neurons]``: each neuron's input weight for each token (for the
    factored PAIR MLP, ``W_E @ W_in``); ``w_out [model, n_neurons, p]``: each neuron's
    effect on each class logit (``W_out @ W_U``). ``freq [model, n_neurons]`` (optional) reads
    the coordinates at given frequencies (e.g. from the activations, :func:`neuron_frequencies_2d`)
    instead of each input map's dominant one. Reference: Pearce et al. 2023, PAIR
    "It's Full of Stars"; the neuron-to-frequency clustering of Nanda et al. 2023, §4.2.

    >>> from grokscope.analysis._construct import circular_construction
    >>> w_in, w_out = pair_neuron_weights(circular_construction(p=13, n_neurons=5, freqs=(3,)))
    >>> nf = neuron_fourier(w_in, w_out)
    >>> nf.freq.tolist(), round(float(nf.frac.min()), 6)
    ([[3, 3, 3, 3, 3]], 1.0)
    """
    coeffs = dft(w_in, dim=1)  # [model, p_component, n]
    energy = frequency_energy(coeffs, dim=1)[:, 1:]  # [model, n_freq - 1, n]
    total = energy.sum(1).clamp_min(torch.finfo(energy.dtype).tiny)  # [model, n]
    best = energy.argmax(1) if freq is None else freq.to(coeffs.device).long() - 1  # [model, n]
    freq = best + 1
    frac = energy.gather(1, best.unsqueeze(1)).squeeze(1) / total
    in_cos, in_sin = _at_frequency(coeffs, freq)
    if w_out is None:
        zeros = torch.zeros_like(frac)
        return NeuronFourier(freq, frac, in_cos, in_sin, zeros, zeros, zeros)
    out_coeffs = dft(w_out.transpose(1, 2), dim=1)  # [model, p_component, n]
    out_energy = frequency_energy(out_coeffs, dim=1)[:, 1:]
    out_total = out_energy.sum(1).clamp_min(torch.finfo(out_energy.dtype).tiny)
    out_frac = out_energy.gather(1, best.unsqueeze(1)).squeeze(1) / out_total
    out_cos, out_sin = _at_frequency(out_coeffs, freq)
    return NeuronFourier(freq, frac, in_cos, in_sin, out_cos, out_sin, out_frac)


def neuron_frequencies_2d(acts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Frequency of each neuron from its activations over the (a, b) grid.

    ``acts [model, p, p, n_neurons]`` (``acts[m, a, b, i]``). A neuron of frequency k is a
    combination of ``cos/sin(w_k a)``, ``cos/sin(w_k b)`` and their products (Nanda et al.
    2023, §4.2), i.e. of the 2-D components with frequencies (k, 0), (0, k), (k, k). Returns
    ``(freq [model, n], frac [model, n], energy [model, n_freq, n_freq, n])`` where ``frac``
    is the share of the neuron's variance (everything but the (0, 0) component) in those
    components and ``energy`` the 2-D spectrum.
    """
    p = acts.shape[1]
    coeffs = dft2(acts, dims=(1, 2))  # [model, p_comp_a, p_comp_b, n]
    sq = coeffs.pow(2)
    freq_c = component_frequencies(p).to(acts.device)
    nf = n_frequencies(p)
    # Sum squared coefficients into (k_a, k_b) bins: first over a's components, then b's.
    by_a = sq.new_zeros(sq.shape[0], nf, p, sq.shape[-1]).index_add_(1, freq_c, sq)
    energy = by_a.new_zeros(sq.shape[0], nf, nf, sq.shape[-1]).index_add_(2, freq_c, by_a)
    k = torch.arange(1, nf, device=acts.device)
    per_freq = energy[:, k, 0] + energy[:, 0, k] + energy[:, k, k]  # [model, nf - 1, n]
    total = (energy.sum((1, 2)) - energy[:, 0, 0]).clamp_min(torch.finfo(acts.dtype).tiny)
    best = per_freq.argmax(1)  # [model, n]
    frac = per_freq.gather(1, best.unsqueeze(1)).squeeze(1) / total
    return best + 1, frac, energy


def frequency_group_logits(
    acts: torch.Tensor, w_out: torch.Tensor, neuron_freq: torch.Tensor, freqs: list[int]
) -> torch.Tensor:
    """The logits produced by the neurons of each frequency alone.

    ``acts [model, p, p, n]`` (hidden activations over the (a, b) grid), ``w_out
    [model, n, n_classes]`` (neuron -> logit), ``neuron_freq [model, n]``. Returns
    ``[model, len(freqs), p, p, n_classes]``; summed over groups (plus the neurons of other
    frequencies) they give the model's MLP logits. PAIR's per-frequency logit waves.
    """
    m, p = acts.shape[0], acts.shape[1]
    out = acts.new_zeros(m, len(freqs), p, p, w_out.shape[-1])
    flat = acts.reshape(m, p * p, -1)  # [model, p*p, n]
    for i in range(m):
        for j, k in enumerate(freqs):
            sel = (neuron_freq[i] == k).nonzero().flatten()  # only this group's neurons: cost ~ group size
            if len(sel):
                out[i, j] = (flat[i][:, sel] @ w_out[i][sel]).reshape(p, p, -1)
    return out


def trig_directions(p: int, freq: int, sign: int = 1, *, dtype=torch.float64) -> torch.Tensor:
    """Unit vectors ``cos/sin(w (a + sign*b - c))`` over the ``[p, p, p]`` grid, ``[2, p, p, p]``."""
    x = torch.arange(p, dtype=torch.float64)
    angle = 2 * math.pi * freq / p * (x[:, None, None] + sign * x[None, :, None] - x[None, None, :])
    dirs = torch.stack([torch.cos(angle), torch.sin(angle)])  # [2, p, p, p]
    return (dirs / dirs.flatten(1).norm(dim=1)[:, None, None, None]).to(dtype)


@dataclass(frozen=True)
class WaveFit:
    """How well ``A cos(w (a + sign*b - c) - phase)`` explains logits (``[...]`` each).

    ``r2`` is the fraction of the variance of the logits over c (each input's mean over
    classes removed: it does not change the softmax) explained by the wave.
    """

    amplitude: torch.Tensor
    phase: torch.Tensor
    r2: torch.Tensor


def wave_fit(logits: torch.Tensor, freq: int, sign: int = 1) -> WaveFit:
    """Fit ``cos(2 pi freq (a + sign*b - c) / p)`` to ``logits [..., p, p, p]`` by least squares.

    >>> p = 7; a = torch.arange(p, dtype=torch.float64)
    >>> L = 2 * torch.cos(2 * math.pi * 3 * (a[:, None, None] + a[None, :, None] - a) / p)
    >>> fit = wave_fit(L, 3)
    >>> round(float(fit.amplitude), 6), round(float(fit.r2), 6)
    (2.0, 1.0)
    """
    p = logits.shape[-1]
    centred = logits - logits.mean(-1, keepdim=True)  # per-input shift is softmax-invariant
    dirs = trig_directions(p, freq, sign, dtype=logits.dtype).to(logits.device)  # [2, p, p, p]
    flat = centred.flatten(-3)  # [..., p^3]
    coef = flat @ dirs.flatten(1).T  # [..., 2]: projections on the unit cos/sin waves
    total = flat.pow(2).sum(-1).clamp_min(torch.finfo(logits.dtype).tiny)
    r2 = coef.pow(2).sum(-1) / total
    # A unit wave is (cos * sqrt(2 / p^3)); convert the projection to a peak amplitude.
    scale = math.sqrt(2.0 / p**3)
    amplitude = coef.norm(dim=-1) * scale
    phase = torch.atan2(coef[..., 1], coef[..., 0])
    return WaveFit(amplitude, phase, r2)
