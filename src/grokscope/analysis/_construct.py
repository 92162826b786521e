"""Constructed solutions of modular addition: the N-neuron circular construction.

PAIR's Appendix A (Pearce et al. 2023, "Do machine learning models memorize or
generalize?", "How the Circular Construction Works"): embed each number on a circle,
``W_E[x] = (cos(w x), sin(w x))`` with ``w = 2 pi / p``; neuron ``i`` reads the direction
at angle ``i * 2 pi / N`` and writes back the direction at twice that angle;
``logits = act(E[a] W_in + E[b] W_in) W_out W_E^T``. With ``act(x) = x^2`` the logits are
exactly

    logit_c(a, b) = N cos^2(w (a - b) / 2) cos(w (a + b - c))        (N not in {1, 2, 4})

so ``argmax_c = a + b mod p`` whenever ``cos(w (a - b) / 2) != 0`` — always for odd p
(for even p the pairs with ``a - b = p/2`` give all-zero logits). With ReLU the waves do
not cancel exactly and some inputs are answered wrongly; :func:`relu_errors` lists them.

The weights come as a one-member state dict of ``grokscope.models.PairMLPEnsemble`` with
``factored=True, output="tied"`` (PAIR's appendix model: ``embed.W_E [1, p, d_embed]``,
``mlp.W_in [1, d_embed, d_hidden]``, ``mlp.W_out [1, d_hidden, d_embed]``, logits read by
``W_E^T``); :func:`construction_ensemble` loads it, so a construction is an ordinary
ensemble member and every analysis and figure applies to it. ``freqs=(k1, k2, ...)`` builds one
N-neuron circle per frequency in its own 2-D block of the embedding (``d_embed = 2 K``):
a hand-built multi-frequency Fourier model with known answers, used to test the analyses.
"""

from __future__ import annotations

import math

import torch

from grokscope.errors import AnalysisError

__all__ = [
    "circular_construction",
    "construction_logits",
    "construction_accuracy",
    "accuracy_grid",
    "relu_errors",
    "construction_ensemble",
    "construction_config",
]

_ACTS = {"relu": torch.relu, "x2": lambda x: x * x}


def _check(p: int, n_neurons: int, activation: str, freqs: tuple[int, ...]) -> None:
    if not isinstance(p, int) or p < 3:
        raise AnalysisError(f"p={p!r}: the construction needs an integer modulus >= 3")
    if not isinstance(n_neurons, int) or n_neurons < 1:
        raise AnalysisError(f"n_neurons={n_neurons!r}: must be an integer >= 1")
    if activation not in _ACTS:
        raise AnalysisError(f"activation={activation!r}: must be one of {', '.join(_ACTS)}")
    for k in freqs:
        if not isinstance(k, int) or not 1 <= k <= (p - 1) // 2:
            raise AnalysisError(f"freqs={list(freqs)}: each must be an integer in [1, {(p - 1) // 2}]")


def circular_construction(
    p: int,
    n_neurons: int,
    *,
    freqs: tuple[int, ...] = (1,),
    activation: str = "x2",
    dtype: torch.dtype = torch.float64,
) -> dict[str, torch.Tensor]:
    """Weights of the N-neuron circular construction, as a one-member PAIR-MLP state dict.

    ``activation`` is only checked here (the weights do not depend on it); pass the same
    name to :func:`construction_logits` or :func:`construction_ensemble`.

    >>> w = circular_construction(p=67, n_neurons=5)
    >>> {k: tuple(v.shape) for k, v in w.items()}
    {'embed.W_E': (1, 67, 2), 'mlp.W_in': (1, 2, 5), 'mlp.W_out': (1, 5, 2)}
    """
    freqs = tuple(freqs)
    _check(p, n_neurons, activation, freqs)
    n_f = len(freqs)
    x = torch.arange(p, dtype=torch.float64)
    theta = 2 * math.pi * torch.arange(n_neurons, dtype=torch.float64) / n_neurons  # neuron angles
    w_e = torch.zeros(p, 2 * n_f, dtype=torch.float64)
    w_in = torch.zeros(2 * n_f, n_f * n_neurons, dtype=torch.float64)
    w_out = torch.zeros(n_f * n_neurons, 2 * n_f, dtype=torch.float64)
    for j, k in enumerate(freqs):
        rows, cols = slice(2 * j, 2 * j + 2), slice(j * n_neurons, (j + 1) * n_neurons)
        w_e[:, rows] = torch.stack([torch.cos(2 * math.pi * k * x / p), torch.sin(2 * math.pi * k * x / p)], 1)
        w_in[rows, cols] = torch.stack([torch.cos(theta), torch.sin(theta)])  # in-proj at angle i 2pi/N
        # out-proj rotates twice as fast: after squaring, neuron i carries angle 2 i 2pi/N.
        w_out[cols, rows] = torch.stack([torch.cos(2 * theta), torch.sin(2 * theta)], 1)
    weights = {"embed.W_E": w_e, "mlp.W_in": w_in, "mlp.W_out": w_out}
    return {k: v.unsqueeze(0).to(dtype) for k, v in weights.items()}


def construction_logits(weights: dict[str, torch.Tensor], activation: str = "x2") -> torch.Tensor:
    """Logits of a factored PAIR MLP on every pair: ``[model, p, p, n_classes]`` (``[m, a, b, c]``).

    ``act(W_E[a] W_in + W_E[b] W_in) W_out W_E^T``: the tied PAIR forward pass written out,
    with no biases, so that constructions are checked independently of the models package.
    """
    if activation not in _ACTS:
        raise AnalysisError(f"activation={activation!r}: must be one of {', '.join(_ACTS)}")
    w_e = weights["embed.W_E"]  # [model, p, d_embed]
    pre = w_e @ weights["mlp.W_in"]  # [model, p, d_hidden]: each token's input to each neuron
    hidden = _ACTS[activation](pre[:, :, None, :] + pre[:, None, :, :])  # [model, p, p, d_hidden]
    w_logit = weights["mlp.W_out"] @ w_e.transpose(1, 2)  # [model, d_hidden, n_classes]
    return torch.einsum("mabn,mnc->mabc", hidden, w_logit)


def construction_accuracy(p: int, n_neurons: int, activation: str = "x2", freq: int = 1) -> float:
    """Fraction of the p^2 pairs whose argmax logit is ``(a + b) mod p``.

    A pair counts as correct only when the right class's logit beats every other by more
    than 1e-9 of the logit scale, so exact ties (all-zero logits) count as errors.

    >>> construction_accuracy(67, 5, "x2"), construction_accuracy(67, 4, "x2") < 1
    (1.0, True)
    """
    return float(_correct(p, n_neurons, activation, freq).double().mean())


def _correct(p: int, n_neurons: int, activation: str, freq: int) -> torch.Tensor:
    w = circular_construction(p, n_neurons, freqs=(freq,), activation=activation)
    logits = construction_logits(w, activation)[0]  # [p, p, p]
    a = torch.arange(p)
    target = (a[:, None] + a[None, :]) % p  # [p, p]
    right = logits.gather(-1, target.unsqueeze(-1)).squeeze(-1)  # [p, p]
    others = logits.scatter(-1, target.unsqueeze(-1), float("-inf")).amax(-1)
    tol = 1e-9 * logits.abs().amax().clamp_min(1e-300)
    return right > others + tol  # [p, p] bool


def accuracy_grid(ps: list[int], ns: list[int], activation: str = "x2") -> torch.Tensor:
    """Accuracy on all p^2 pairs for each modulus (rows) and neuron count (columns), ``[len(ps), len(ns)]``."""
    out = torch.empty(len(ps), len(ns), dtype=torch.float64)
    for i, p in enumerate(ps):
        for j, n in enumerate(ns):
            out[i, j] = construction_accuracy(p, n, activation)
    return out


def relu_errors(p: int, n_neurons: int, freq: int = 1) -> list[tuple[int, int, int, int]]:
    """Where the ReLU construction errs: ``(a, b, predicted, true)`` for each wrong pair.

    >>> len(relu_errors(67, 5)), len(relu_errors(67, 6))  # N = 6: the 3rd harmonic survives
    (0, 3618)
    """
    w = circular_construction(p, n_neurons, freqs=(freq,), activation="relu")
    logits = construction_logits(w, "relu")[0]  # [p, p, p]
    wrong = ~_correct(p, n_neurons, "relu", freq)
    pred = logits.argmax(-1)
    return [(a, b, int(pred[a, b]), (a + b) % p) for a, b in wrong.nonzero().tolist()]


def construction_config(weights: dict[str, torch.Tensor], activation: str = "x2"):
    """The ``PairMLPConfig`` of weights built by :func:`circular_construction` (factored, tied, no bias).

    The construction writes one known architecture, so its sizes are read from its own tensors.

    >>> construction_config(circular_construction(13, 5, freqs=(2, 3)))
    PairMLPConfig(p=13, d_embed=4, d_hidden=10, act='x2', factored=True, output='tied', bias=False, init='grokscope', dropout=0.0)
    """
    from grokscope.models import PairMLPConfig

    _, p, d_embed = weights["embed.W_E"].shape
    return PairMLPConfig(p=int(p), d_embed=int(d_embed), d_hidden=int(weights["mlp.W_in"].shape[-1]),
                         act=activation, factored=True, output="tied", bias=False)


def construction_ensemble(
    p: int,
    n_neurons: int,
    *,
    freqs: tuple[int, ...] = (1,),
    activation: str = "x2",
    dtype: torch.dtype = torch.float64,
):
    """The construction as a one-member ``grokscope.models.PairMLPEnsemble`` (tied, factored, no bias).

    Stack it with trained members through ``state_dict()`` / ``from_members`` to compare
    them under the same analyses.

    >>> ens = construction_ensemble(67, 5)
    >>> a = torch.arange(67)
    >>> pairs = torch.stack(torch.meshgrid(a, a, indexing="ij"), -1).reshape(-1, 2)
    >>> bool((ens(pairs)[0].argmax(-1) == pairs.sum(1) % 67).all())
    True
    """
    from grokscope.models import PairMLPEnsemble

    weights = circular_construction(p, n_neurons, freqs=freqs, activation=activation, dtype=dtype)
    cfg = construction_config(weights, activation)
    ens = PairMLPEnsemble(cfg, n_models=1, dtype=dtype)
    ens.load_state_dict(weights)
    return ens
