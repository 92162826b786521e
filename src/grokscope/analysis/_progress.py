"""Progress measures for grokking (Nanda et al. 2023), on logits over the full (a, b) grid.

Nanda, Chan, Lieberum, Smith, Steinhardt 2023, "Progress measures for grokking via
mechanistic interpretability" (arXiv:2301.05217, §5) track, over training:

* **restricted loss**: the loss when the logits keep only their key-frequency part, i.e.
  are projected onto the waves ``cos/sin(w_k (a + b - c))`` of the key frequencies (the
  constant is kept too; it does not change the softmax). It falls as the Fourier circuit
  forms, before the test loss does;
* **excluded loss**: the loss *on the training data* when exactly those components are
  removed. While the model memorizes it equals the training loss; as the circuit takes
  over the training points it rises;
* the **Gini coefficient** of the Fourier-component norms of the embedding and of the
  neurons (sparsity in the Fourier basis), and the **sum of squared weights**.

Two projections are offered (``mode``). ``"wave"`` (default) uses the ``2K`` directions
``cos/sin(w_k (a + s b - c))`` of the whole ``[p, p, p]`` logit tensor, as stated above.
``"per_output"`` is the variant of Nanda et al.'s code: for every class c separately the
map ``(a, b) -> logit_c`` is projected onto ``1, cos/sin(w_k (a + s b))`` (``2K + 1``
directions per class). It contains the waves and also keeps a class-dependent mix of
them; use it to compare with published curves. ``s = +1`` for addition, ``-1`` for
subtraction (found from the task's labels).

All functions take a batch axis first — members of an ensemble, checkpoints, or both
flattened (a set of checkpoints *is* an ensemble) — and are vectorized over it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from grokscope.analysis._fourier import dft, dft2
from grokscope.analysis._phases import THRESHOLD, first_step_at_or_above
from grokscope.errors import AnalysisError

__all__ = [
    "grid_layout",
    "diagonal_sums",
    "wave_profile",
    "restricted_logits",
    "excluded_logits",
    "cross_entropy",
    "accuracy",
    "gini",
    "embedding_gini",
    "neuron_gini",
    "logit_map_gini",
    "sum_squared_weights",
    "weight_ginis",
    "Phases",
    "PHASE_RULE",
    "progress_phases",
]


def grid_layout(task) -> tuple[torch.Tensor, int]:
    """Where each task row sits on the ``p x p`` grid, and the sign s of ``c = a + s b``.

    Returns ``(idx [n_all], s)`` with ``idx = a * p + b``. Raises ``AnalysisError`` when the
    task has no Fourier structure (``fourier_p is None``) or its labels are not ``a +- b mod p``
    (the waves ``cos(w (a + s b - c))`` describe only those).
    """
    p = getattr(task, "fourier_p", None)
    name = getattr(task, "name", type(task).__name__)
    if p is None:
        raise AnalysisError(f"task {name}: has no Fourier structure (fourier_p is None); Fourier analyses need a modular task")
    ca, cb = getattr(task, "operand_columns", (0, 1))  # a modular task names them; (0, 1) otherwise
    a, b = task.inputs[:, ca].long(), task.inputs[:, cb].long()
    for s in (1, -1):
        if bool(((a + s * b) % p == task.labels).all()):
            return a * p + b, s
    raise AnalysisError(f"task {name}: labels are not (a + b) or (a - b) mod {p}; the key-frequency waves need one of those ops")


def _sum_waves(p: int, freqs: list[int], sign: int, dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
    """``cos/sin(w_k (a + s b))`` over the flattened grid, ``[K, p*p]`` each (not normalized)."""
    x = torch.arange(p, dtype=torch.float64, device=device)
    ab = (x[:, None] + sign * x[None, :]).flatten()  # [p*p]
    w = 2 * math.pi * torch.as_tensor(freqs, dtype=torch.float64, device=device) / p  # [K]
    angle = w[:, None] * ab[None, :]  # [K, p*p]
    return torch.cos(angle).to(dtype), torch.sin(angle).to(dtype)


@functools.lru_cache(maxsize=8)
def diagonal_index(p: int, sign: int = 1, device=None) -> torch.Tensor:
    """``(a + s b - c) mod p`` over the ``[p, p, p]`` grid, flattened to ``[p^3]`` (cached; read-only)."""
    x = torch.arange(p, device=device)
    return ((x[:, None, None] + sign * x[None, :, None] - x[None, None, :]) % p).flatten()


def diagonal_sums(logits: torch.Tensor, sign: int = 1) -> torch.Tensor:
    """``T[d] = sum of logits[a, b, c] over a + s b - c = d (mod p)``, ``[B, p, p, p] -> [B, p]``.

    Every wave ``cos/sin(w (a + s b - c))`` is a function of d alone, so its inner product with
    the logits is ``sum_d T[d] cos/sin(w d)``: O(p^3) additions instead of a p^3-long product
    per frequency.
    """
    bsz, p = logits.shape[0], logits.shape[1]
    d = diagonal_index(p, sign, logits.device)
    return logits.new_zeros(bsz, p).index_add_(1, d, logits.reshape(bsz, -1))


def wave_profile(logits: torch.Tensor, freqs: list[int], sign: int = 1) -> torch.Tensor:
    """The projection of ``logits [B, p, p, p]`` onto the key waves, as a function of d: ``[B, p]``.

    The projection at cell (a, b, c) is ``profile[a + s b - c mod p]``; so restricted logits of
    the task rows are a gather, and excluded ones a gather and a subtraction.
    """
    p = logits.shape[1]
    if not freqs:
        return logits.new_zeros(logits.shape[0], p)
    # With T the diagonal sums, <L, cos(w d)> = sum_d T[d] cos(w d), and ||cos(w d)||^2 = p^3 / 2.
    w = 2 * math.pi * torch.as_tensor(freqs, dtype=torch.float64, device=logits.device) / p
    wd = w[:, None] * torch.arange(p, dtype=torch.float64, device=logits.device)  # [K, d]
    cos_d, sin_d = torch.cos(wd).to(logits.dtype), torch.sin(wd).to(logits.dtype)
    T = diagonal_sums(logits, sign)  # [B, d]
    coef_c, coef_s = T @ cos_d.T * (2.0 / p**3), T @ sin_d.T * (2.0 / p**3)  # [B, K]
    return coef_c @ cos_d + coef_s @ sin_d


def _key_part(logits: torch.Tensor, freqs: list[int], sign: int, mode: str) -> torch.Tensor:
    """The component of ``logits [B, p, p, C]`` spanned by the key-frequency directions."""
    if mode not in ("wave", "per_output"):
        raise AnalysisError(f"mode={mode!r}: must be 'wave' or 'per_output'")
    bsz, p, _, n_cls = logits.shape
    if n_cls != p:
        raise AnalysisError(f"logits have {n_cls} classes for a {p} x {p} grid; the waves need n_classes == p")
    for k in freqs:
        if not 1 <= int(k) <= (p - 1) // 2:
            raise AnalysisError(f"key frequency {k}: must be in [1, {(p - 1) // 2}] for p={p}")
    if not freqs:
        return torch.zeros_like(logits)
    if mode == "wave":
        R = wave_profile(logits, freqs, sign)  # [B, d]: the key part as a function of d
        return R[:, diagonal_index(p, sign, logits.device)].reshape(logits.shape)
    flat = logits.reshape(bsz, p * p, n_cls)  # [B, p*p, c]
    cos_ab, sin_ab = _sum_waves(p, list(freqs), sign, logits.dtype, logits.device)  # [K, p*p]
    # Per-class coefficients on the (a, b) waves; ||cos(w (a + s b))||^2 = p^2 / 2.
    A = torch.einsum("kx,bxc->bkc", cos_ab, flat) * (2.0 / p**2)  # [B, K, c]
    Bc = torch.einsum("kx,bxc->bkc", sin_ab, flat) * (2.0 / p**2)
    part = torch.einsum("kx,bkc->bxc", cos_ab, A) + torch.einsum("kx,bkc->bxc", sin_ab, Bc)
    return part.reshape(bsz, p, p, n_cls)


def restricted_logits(logits: torch.Tensor, freqs: list[int], sign: int = 1, mode: str = "wave") -> torch.Tensor:
    """Keep only the key-frequency part of ``logits [B, p, p, p]`` (plus each class's mean).

    >>> p = 7; x = torch.arange(p, dtype=torch.float64)
    >>> wave = torch.cos(2 * math.pi * 2 * (x[:, None, None] + x[None, :, None] - x) / p)
    >>> float((restricted_logits(wave[None], [2]) - wave).abs().max()) < 1e-12
    True
    """
    part = _key_part(logits, freqs, sign, mode)
    if mode == "per_output":  # the constant direction of each class's (a, b) map
        part = part + logits.mean((1, 2), keepdim=True)
    return part


def excluded_logits(logits: torch.Tensor, freqs: list[int], sign: int = 1, mode: str = "wave") -> torch.Tensor:
    """``logits [B, p, p, p]`` with their key-frequency components removed."""
    return logits - _key_part(logits, freqs, sign, mode)


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean cross-entropy per batch row, ``logits [B, n, C]``, ``labels [n]``, ``mask [B, n]`` -> ``[B]``.

    Computed in float64: float32 ``log_softmax`` saturates for confident models (its
    smallest non-zero loss is ~1.2e-7), which flattens the late curves (Nanda et al. note
    the same). Rows with ``mask`` False are ignored; an all-False row gives NaN.
    """
    logp = F.log_softmax(logits.double(), dim=-1)  # [B, n, C]
    nll = -logp.gather(-1, labels.expand(logits.shape[0], -1).unsqueeze(-1)).squeeze(-1)  # [B, n]
    if mask is None:
        return nll.mean(-1)
    m = mask.to(nll.dtype)
    return (nll * m).sum(-1) / m.sum(-1)


def accuracy(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Fraction of (masked) rows whose argmax is the label, ``[B]``."""
    hit = (logits.argmax(-1) == labels).double()  # [B, n]
    if mask is None:
        return hit.mean(-1)
    m = mask.double()
    return (hit * m).sum(-1) / m.sum(-1)


def gini(x: torch.Tensor) -> torch.Tensor:
    """Gini coefficient of non-negative values along the last axis: 0 when all equal, 1 - 1/n when one holds everything.

    ``G = sum_i (2 i - n - 1) x_(i) / (n sum_i x_i)`` with ``x_(i)`` sorted ascending, i = 1..n.

    >>> gini(torch.tensor([1.0, 1.0, 1.0, 1.0])).item(), gini(torch.tensor([0.0, 0.0, 0.0, 4.0])).item()
    (0.0, 0.75)
    """
    n = x.shape[-1]
    srt = x.sort(dim=-1).values
    i = torch.arange(1, n + 1, dtype=x.dtype, device=x.device)
    total = srt.sum(-1).clamp_min(torch.finfo(x.dtype).tiny)
    return ((2 * i - n - 1) * srt).sum(-1) / (n * total)


def embedding_gini(w_e: torch.Tensor) -> torch.Tensor:
    """Gini of the norms of the embedding's Fourier components, ``w_e [B, p, d]`` -> ``[B]``.

    Each of the p components (constant, cos/sin per frequency) has a norm over the d
    embedding dimensions (Nanda et al. 2023, Fig. 7, "Gini coefficient of the norms of the
    Fourier components of W_E").
    """
    return gini(dft(w_e, dim=1).norm(dim=-1))


def logit_map_gini(w_l: torch.Tensor) -> torch.Tensor:
    """Gini of the norms of the neuron-logit map's Fourier components, ``w_l [B, n, p]`` -> ``[B]``.

    ``w_l`` maps each neuron to the logits (``W_out @ W_U`` in the transformer); its p
    components over the class axis have a norm over neurons (Nanda et al. 2023, Fig. 7,
    the Gini of ``W_L``). Cheap enough to track at every checkpoint.
    """
    return gini(dft(w_l, dim=2).norm(dim=1))


def neuron_gini(acts: torch.Tensor) -> torch.Tensor:
    """Gini of the norms of the neurons' 2-D Fourier components, ``acts [B, p, p, n]`` -> ``[B]``.

    Each of the p^2 components over (a, b) has a norm over the neurons. Costs two p x p
    transforms per neuron (~3 GFLOP for the p = 113, 512-neuron model): use it on a few
    checkpoints, :func:`logit_map_gini` on all.
    """
    coeffs = dft2(acts, dims=(1, 2))  # [B, p, p, n]
    return gini(coeffs.norm(dim=-1).flatten(1))


def sum_squared_weights(state: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum of squared parameters per member of a ``[model, ...]`` state dict, ``[model]``."""
    # vector_norm accumulates in float64 without a float64 copy of every parameter.
    norms = [torch.linalg.vector_norm(v.flatten(1), dim=1, dtype=torch.float64) for v in state.values() if v.is_floating_point()]
    return torch.stack(norms).pow(2).sum(0)


def weight_ginis(anatomy, p: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(embedding Gini, neuron-logit-map Gini) per member, ``[model]`` each, from a model's ``Anatomy``.

    The embedding is ``anatomy.embedding`` rows ``0..p-1`` (the numbers; the input map
    ``anatomy.neuron_in`` when the model has no embedding), the neuron-logit map
    ``anatomy.neuron_out`` (``W_L = W_out·W_U`` of the last block of a transformer; ``W_out·W_Eᵀ``
    for a tied PAIR MLP): the model says which (``grokscope.models.Anatomy``).
    """
    w_e = anatomy.embedding if anatomy.embedding is not None else anatomy.neuron_in
    if w_e is None or anatomy.neuron_out is None:
        raise AnalysisError(f"model {anatomy.arch}: has no embedding or neuron-logit map; the Fourier Gini needs both")
    return embedding_gini(w_e[:, :p].double()), logit_map_gini(anatomy.neuron_out.double())


# --- the three phases -------------------------------------------------------------------

# Memorization is complete when training accuracy reaches grokscope's one threshold
# (``grokscope.analysis._phases.THRESHOLD``, 99%): Nanda et al. 2023 call the first phase done
# once the training loss is near its floor; the accuracy cut is ours, the same as the trainer's.
MEM_ACC = THRESHOLD  # kept as a name for code that imported it
# The model grokked when its log test loss fell by at least log(10) from its peak after
# memorization; cleanup runs from 10% to 90% of that fall (in log loss).
MIN_LOG_DROP = math.log(10.0)
CLEAN_LO, CLEAN_HI = 0.1, 0.9
PHASE_RULE = (
    f"memorization ends at the first checkpoint with train accuracy >= {THRESHOLD:.0%}; the run grokked if its log test "
    "loss then fell by >= log 10 from its post-memorization peak to its last value; cleanup spans 10% to 90% "
    "of that fall (in log loss); circuit formation lies between memorization and cleanup"
)


@dataclass(frozen=True)
class Phases:
    """Phase boundaries per member (``[model]`` arrays of steps, NaN when not reached).

    memorization: ``[first step, mem_step)``; circuit formation: ``[mem_step,
    clean_start)``; cleanup: ``[clean_start, clean_end)``; afterwards the circuit is clean.
    """

    mem_step: np.ndarray
    clean_start: np.ndarray
    clean_end: np.ndarray

    def labels(self, steps: np.ndarray) -> np.ndarray:
        """The phase name at each step, ``[n_steps, model]`` strings."""
        s = np.asarray(steps, dtype=float)[:, None]
        out = np.full((s.shape[0], self.mem_step.shape[0]), "memorization", dtype=object)
        for bound, name in ((self.mem_step, "circuit formation"), (self.clean_start, "cleanup"), (self.clean_end, "clean")):
            out[np.isfinite(bound)[None, :] & (s >= bound[None, :])] = name
        return out


def progress_phases(steps: np.ndarray, train_acc: np.ndarray, test_loss: np.ndarray) -> Phases:
    """Detect memorization, circuit formation and cleanup (Nanda et al. 2023, §5.2) per member.

    The rule. ``mem_step``: first step with training accuracy >= 99%. Let ``l`` be the log
    test loss, ``l_peak`` its maximum from ``mem_step`` on and ``l_end`` its last value.
    If ``l_peak - l_end >= log 10`` the model grokked, and cleanup starts at the first step
    after the peak where ``l <= l_peak - 0.1 (l_peak - l_end)`` and ends at the first step
    where ``l <= l_end + 0.1 (l_peak - l_end)``; otherwise there is no cleanup (NaN).
    ``train_acc``, ``test_loss``: ``[n_steps, model]`` (or ``[n_steps]``).

    >>> steps = np.arange(8) * 100
    >>> acc = np.array([0.1, 0.6, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    >>> loss = np.array([4.6, 6.0, 9.0, 9.0, 8.0, 0.5, 1e-3, 1e-3])
    >>> ph = progress_phases(steps, acc, loss)
    >>> ph.mem_step.tolist(), ph.clean_start.tolist(), ph.clean_end.tolist()
    ([200.0], [500.0], [600.0])
    """
    steps = np.asarray(steps, dtype=float)
    acc = np.asarray(train_acc, dtype=float).reshape(len(steps), -1)
    loss = np.asarray(test_loss, dtype=float).reshape(len(steps), -1)
    n_models = acc.shape[1]
    mem, start, end = (np.full(n_models, np.nan) for _ in range(3))
    first = first_step_at_or_above(np.arange(len(steps)), acc, THRESHOLD)  # [model] index, -1 if never
    for m in range(n_models):
        if first[m] < 0:
            continue
        i_mem = int(first[m])
        mem[m] = steps[i_mem]
        ell = np.log(np.clip(loss[i_mem:, m], 1e-300, None))
        if not np.isfinite(ell).all():
            continue
        i_peak = int(np.argmax(ell))
        drop = ell[i_peak] - ell[-1]
        if drop < MIN_LOG_DROP:
            continue
        after = ell[i_peak:]
        i_start = i_peak + int(np.argmax(after <= ell[i_peak] - CLEAN_LO * drop))
        i_end = i_peak + int(np.argmax(after <= ell[-1] + (1 - CLEAN_HI) * drop))
        start[m], end[m] = steps[i_mem + i_start], steps[i_mem + i_end]
    return Phases(mem, start, end)
