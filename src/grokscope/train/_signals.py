"""Early-warning signals, computed online at every evaluation and stored as metrics per member.

``train.signals = true`` adds the :class:`SignalsHook` (name ``"signals"``). At every evaluated step
it returns, per member (``[model]``, NaN where a signal does not apply or has too little history):

- ``sig_loss_activity``, ``sig_loss_mobility``, ``sig_loss_complexity``: the Hjorth parameters
  (Hjorth 1970) of ``ln train_loss`` over the last ``HJORTH_WINDOW`` evaluations, linearly detrended
  (least squares against the evaluation index), with unit spacing in the evaluation index. The
  evaluation schedule is dense (every step) up to ``log.dense_until`` and log-spaced after, so late in
  a run the window is uniform in log-time. This is the "spectral signature" of the training loss that
  Notsawo et al. (2023, "Predicting grokking long before it happens") read by eye.
- ``sig_wnorm_slope``: the least-squares slope of ``ln weight_norm`` against the step, over the same
  window, per 1,000 steps (a relative rate: 0.1 = +10% per 1k steps).
- ``sig_fourier_gini``: the Gini coefficient of the embedding's norm per nonzero Fourier frequency
  (``ens.anatomy().embedding`` over the task's ``fourier_p`` residues): 0 when every frequency is
  used equally, ``1 - 1/K`` when one of K frequencies carries everything (Nanda et al. 2023 find a
  few key frequencies in grokked models). Only for token tasks with ``fourier_p``.
- ``sig_restricted_loss``: a cheap proxy of Nanda et al. (2023)'s restricted loss. Their restricted
  loss keeps, in the logits, only the key frequencies' terms ``cos(w(a+b-c))``; the proxy keeps,
  along the class axis ``c`` only, the constant and the ``RESTRICT_K`` frequencies of largest logit
  energy (chosen per member, from its own training logits) and reports the mean cross-entropy of the
  restricted logits on the member's *training* rows (no test label is read). A memorizing network
  loses most of its fit when restricted; a Fourier circuit keeps it. Only when ``n_classes ==
  fourier_p``.
- ``sig_slow_grad_norm``: the L2 norm (over all parameters) of grokfast's slow gradient, the EMA
  ``h ← α·h + (1−α)·g`` of the raw gradients of every update (Lee et al. 2024; ``h`` starts at the first
  gradient, as their ``gradfilter_ema``), with ``α = optim.grokfast_alpha`` when set, else 0.98 (the
  paper's). It is accumulated by a post-accumulate-grad hook on the parameters: one ``lerp_`` per
  parameter per update. It sees every backward pass through the parameters, so a hook that
  back-propagates through the model at evaluations would be counted too (none does).
- ``train_softmax_collapse``: the Softmax-Collapse fraction of ``grokscope.train._collapse``
  (Prieto et al. 2025), from the same forward pass, unless ``train.collapse_metrics`` already adds it
  (which then counts every training row).

The last two read one forward pass over each member's first ``SIGNAL_ROWS`` training rows: a fixed
random subset (splits are drawn in random order), the whole split when it is no larger; this
bounds their cost at one small forward pass per evaluation.
- ``sig_last_norm``: the Frobenius norm of the last layer's map onto the logits
  (``anatomy().neuron_out``); ``sig_loss_spikes`` and ``sig_norm_cycles``: the slingshot effect
  (Thilak et al. 2022), counted so far by the rules of :func:`loss_spikes` and :func:`norm_cycles`.

Cost: one forward pass over the training rows per evaluation, an O(window) computation on the
history, and the EMA update per step (``benchmarks/bench_signals.py`` measures the fraction).

>>> import numpy as np
>>> x = np.sin(2 * np.pi * np.arange(4000) / 20)              # a sinusoid, 20 samples per period
>>> [round(float(v), 3) for v in hjorth(x)]                    # var = 1/2, 2 sin(pi/20) = 0.3129, 1
[0.5, 0.313, 1.0]
>>> float(gini(np.array([0.0, 0.0, 0.0, 1.0]))), float(gini(np.ones(4)))
(0.75, 0.0)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from grokscope.analysis._fourier import (
    component_frequencies,
    dft,
    fourier_basis,
    frequency_energy,
)
from grokscope.train._collapse import softmax_collapsed
from grokscope.train._hooks import EvalContext, HookBase

__all__ = [
    "CYCLE_REL",
    "HJORTH_WINDOW",
    "RESTRICT_K",
    "SIGNAL_METRICS",
    "SIGNAL_ROWS",
    "SLOW_ALPHA",
    "SPIKE_FACTOR",
    "SPIKE_LOOKBACK",
    "SignalsHook",
    "detrend",
    "gini",
    "hjorth",
    "loss_spikes",
    "norm_cycles",
]

HJORTH_WINDOW = 32  # evaluations: 32 dense steps early; a factor ~2.3 in time on the default log grid
RESTRICT_K = 5  # key frequencies kept: Nanda et al. 2023 find 5 in their p=113 transformer
SIGNAL_ROWS = 256  # training rows per member read by the forward pass (our choice: bounds its cost)
SPIKE_FACTOR = 10.0  # a slingshot spike: the loss jumps >= 10x above its recent minimum (Thilak et al.'s span decades)
SPIKE_LOOKBACK = 16  # evaluations over which that recent minimum is taken
CYCLE_REL = 0.10  # a norm cycle: a rise of >= 10% from a trough, then a fall of >= 10% from the peak
SLOW_ALPHA = 0.98  # grokfast's EMA factor (Lee et al. 2024, modular arithmetic)
LOSS_FLOOR = 1e-30  # ln of an exactly-zero loss (Softmax Collapse) is read as ln(1e-30)

SIGNAL_METRICS = ("sig_loss_activity", "sig_loss_mobility", "sig_loss_complexity", "sig_wnorm_slope",
                  "sig_fourier_gini", "sig_restricted_loss", "sig_slow_grad_norm", "sig_last_norm",
                  "sig_loss_spikes", "sig_norm_cycles", "train_softmax_collapse")


def detrend(x: np.ndarray) -> np.ndarray:
    """``x [..., n]`` minus its least-squares line against ``0..n-1`` along the last axis."""
    n = x.shape[-1]
    t = np.arange(n, dtype=np.float64) - (n - 1) / 2
    slope = (x * t).sum(-1, keepdims=True) / max((t * t).sum(), 1e-300)
    return x - x.mean(-1, keepdims=True) - slope * t


def hjorth(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hjorth's activity, mobility and complexity of ``x [..., n]`` (n >= 3) along its last axis.

    activity = var(x); mobility = sqrt(var(Δx) / var(x)); complexity = mobility(Δx) / mobility(x),
    with first differences Δ and population variances (Hjorth 1970, "EEG analysis based on time
    domain properties"). Closed forms: a sampled sinusoid ``A sin(ωn)`` has A²/2, 2 sin(ω/2), 1;
    white noise of variance σ² has σ², √2, √(3/2).
    """
    x = np.asarray(x, dtype=np.float64)
    d1 = np.diff(x, axis=-1)
    d2 = np.diff(d1, axis=-1)
    v0, v1, v2 = x.var(-1), d1.var(-1), d2.var(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mobility = np.sqrt(v1 / v0)
        complexity = np.sqrt(v2 / v1) / mobility
    return v0, mobility, complexity


def gini(x: np.ndarray) -> np.ndarray:
    """Gini coefficient of nonnegative ``x [..., n]`` along its last axis: 0 equal, 1 - 1/n one-hot."""
    s = np.sort(np.asarray(x, dtype=np.float64), axis=-1)
    n = s.shape[-1]
    i = np.arange(1, n + 1, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return ((2 * i - n - 1) * s).sum(-1) / (n * s.sum(-1))


def loss_spikes(loss: np.ndarray, factor: float = SPIKE_FACTOR, lookback: int = SPIKE_LOOKBACK) -> np.ndarray:
    """Indices where a loss spike starts, in ``loss [n]`` (one member's evaluated training losses).

    Rule: evaluation k is *in a spike* when ``loss[k] >= factor · min(loss[k-lookback:k])``; a spike
    *starts* at k when k is in a spike and k-1 is not. Spikes shorter than the spacing of the
    evaluations are not seen.
    """
    loss = np.asarray(loss, dtype=np.float64)
    starts, inside = [], False
    for k in range(1, len(loss)):
        low = np.nanmin(loss[max(0, k - lookback):k]) if np.isfinite(loss[max(0, k - lookback):k]).any() else np.nan
        now = bool(np.isfinite(loss[k]) and np.isfinite(low) and loss[k] >= factor * max(low, LOSS_FLOOR))
        if now and not inside:
            starts.append(k)
        inside = now
    return np.asarray(starts, dtype=np.int64)


def norm_cycles(norm: np.ndarray, rel: float = CYCLE_REL) -> int:
    """Completed cycles of ``norm [n]``: a rise by a factor >= 1+rel from the running trough, then a
    fall by a factor >= 1+rel from the running peak (hysteresis, so noise below ``rel`` is ignored)."""
    cycles, rising, lo, hi = 0, False, np.inf, -np.inf
    for v in np.asarray(norm, dtype=np.float64):
        if not np.isfinite(v):
            continue
        if not rising:
            lo = min(lo, v)
            if v >= lo * (1 + rel):
                rising, hi = True, v
        else:
            hi = max(hi, v)
            if v * (1 + rel) <= hi:
                cycles, rising, lo = cycles + 1, False, v
    return cycles


class SignalsHook(HookBase):
    """The early-warning signals of the module docstring, per member, at every evaluation."""

    name = "signals"

    def __init__(self):
        self.n = 0
        self.steps: list[int] = []
        self.hist: dict[str, list[np.ndarray]] = {"train_loss": [], "weight_norm": [], "sig_last_norm": []}
        self.ema: dict[str, torch.Tensor] = {}  # parameter name -> [n_members, ...], full width
        self.count: dict[str, torch.Tensor] = {}  # parameter name -> [n_members] updates seen
        self._hooked: set[int] = set()
        self._rows_next: torch.Tensor | None = None  # the rows the next updates' gradients belong to
        # the slingshot detectors, online (the same rules as loss_spikes / norm_cycles, per member)
        self.online: dict[str, np.ndarray] = {}

    def setup(self, n_members: int) -> None:
        self.n = n_members
        self.online = {"spikes": np.zeros(n_members), "inside": np.zeros(n_members, dtype=bool),
                       "cycles": np.zeros(n_members), "rising": np.zeros(n_members, dtype=bool),
                       "lo": np.full(n_members, np.inf), "hi": np.full(n_members, -np.inf),
                       "seen": np.zeros(n_members, dtype=bool)}

    # -- the slow gradient: accumulated at every update ---------------------------------------
    def _attach(self, ctx: EvalContext) -> None:
        alpha = float(getattr(ctx.cfg.optim, "grokfast_alpha", 0.0) or 0.0) if ctx.cfg is not None else 0.0
        self.alpha = alpha if alpha > 0 else SLOW_ALPHA
        for name, p in ctx.model.named_parameters():
            if id(p) in self._hooked or not p.requires_grad:
                continue
            if name not in self.ema:
                self.ema[name] = torch.zeros((self.n, *p.shape[1:]), dtype=p.dtype, device=p.device)
                self.count[name] = torch.zeros(self.n, dtype=torch.long, device=p.device)
            p.register_post_accumulate_grad_hook(self._grad_hook(name))
            self._hooked.add(id(p))

    def _grad_hook(self, name: str):
        def hook(p: torch.Tensor) -> None:
            g, ema, count, rows = p.grad, self.ema[name], self.count[name], self._rows_next
            if g is None or rows is None or g.shape[0] != rows.numel():
                return  # rows changed in a way this hook cannot map; skip until the next evaluation
            with torch.no_grad():
                first = (count[rows] == 0).reshape(-1, *[1] * (g.dim() - 1))
                w = torch.where(first, torch.ones((), dtype=g.dtype), torch.full((), 1 - self.alpha, dtype=g.dtype))
                if rows.numel() == self.n:
                    ema.lerp_(g, w)
                else:
                    ema[rows] = ema[rows].lerp(g, w)
                count[rows] += 1
        return hook

    # -- the evaluation ---------------------------------------------------------------------
    @torch.no_grad()
    def __call__(self, step: int, metrics: Mapping[str, np.ndarray], ctx: EvalContext) -> dict[str, np.ndarray]:
        rows = np.arange(self.n) if ctx.rows is None else np.asarray(ctx.rows)
        self._attach(ctx)
        out = {k: np.full(self.n, np.nan) for k in SIGNAL_METRICS}
        anatomy = ctx.model.anatomy()
        if anatomy.neuron_out is not None:
            out["sig_last_norm"][rows] = anatomy.neuron_out.detach().double().flatten(1).norm(dim=1).cpu().numpy()
        out.update(self._slingshot(np.asarray(metrics["train_loss"], dtype=np.float64), out["sig_last_norm"]))
        self._record(step, metrics, out["sig_last_norm"])
        out.update(self._from_history())
        out.update(self._train_pass(ctx, rows, metrics))
        if ctx.data is not None and ctx.data.input_kind == "tokens" and getattr(ctx.data.task, "fourier_p", None):
            out["sig_fourier_gini"][rows] = self._fourier_gini(anatomy, int(ctx.data.task.fourier_p))
        slow = torch.sqrt(sum(e.double().pow(2).flatten(1).sum(1) for e in self.ema.values()))  # [n_members]
        seen = torch.stack(list(self.count.values())).amax(0).cpu().numpy()  # [n_members]
        out["sig_slow_grad_norm"] = np.where((seen > 0) & ctx.live_mask(), slow.cpu().numpy(), np.nan)
        if "train_softmax_collapse" in metrics:  # train.collapse_metrics already stores it
            del out["train_softmax_collapse"]
        for v in out.values():
            v[~ctx.live_mask()] = np.nan  # a retired member's later metrics are NaN
        retired = ctx.retired[rows] if ctx.retired is not None else np.zeros(len(rows), dtype=bool)
        self._rows_next = torch.as_tensor(rows[~retired] if (~retired).any() else rows)
        return out

    def _record(self, step: int, metrics: Mapping[str, np.ndarray], last_norm: np.ndarray) -> None:
        self.steps.append(int(step))
        self.hist["train_loss"].append(np.asarray(metrics["train_loss"], dtype=np.float64).copy())
        self.hist["weight_norm"].append(np.asarray(metrics["weight_norm"], dtype=np.float64).copy())
        self.hist["sig_last_norm"].append(last_norm.copy())
        keep = max(HJORTH_WINDOW, SPIKE_LOOKBACK)  # all the online rules read; the resume state stays small
        self.steps = self.steps[-keep:]
        self.hist = {k: v[-keep:] for k, v in self.hist.items()}

    def _slingshot(self, loss: np.ndarray, last: np.ndarray) -> dict[str, np.ndarray]:
        """One evaluation of the rules of :func:`loss_spikes` and :func:`norm_cycles`, for every member at once."""
        o = self.online
        past = self.hist["train_loss"][-SPIKE_LOOKBACK:]
        if past:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: retired or diverged members
                low = np.nanmin(np.stack(past), axis=0)  # [model]
            now = np.isfinite(loss) & np.isfinite(low) & (loss >= SPIKE_FACTOR * np.maximum(low, LOSS_FLOOR))
            o["spikes"] += now & ~o["inside"]
            o["inside"] = now
        ok = np.isfinite(last)
        v = np.where(ok, last, 0.0)
        falling = ok & ~o["rising"]
        o["lo"] = np.where(falling, np.minimum(o["lo"], v), o["lo"])
        up = falling & (v >= o["lo"] * (1 + CYCLE_REL))
        rising = ok & o["rising"]
        o["hi"] = np.where(rising, np.maximum(o["hi"], v), np.where(up, v, o["hi"]))
        down = rising & (v * (1 + CYCLE_REL) <= o["hi"])
        o["cycles"] += down
        o["lo"] = np.where(down, v, o["lo"])
        o["rising"] = (o["rising"] | up) & ~down
        o["seen"] = o["seen"] | ok
        return {"sig_loss_spikes": o["spikes"].copy(), "sig_norm_cycles": np.where(o["seen"], o["cycles"], np.nan)}

    def _from_history(self) -> dict[str, np.ndarray]:
        """Hjorth and the weight-norm slope from the last ``HJORTH_WINDOW`` evaluations."""
        loss = np.stack(self.hist["train_loss"][-HJORTH_WINDOW:])  # [w, model]
        wn = np.stack(self.hist["weight_norm"][-HJORTH_WINDOW:])
        steps = np.asarray(self.steps[-HJORTH_WINDOW:], dtype=np.float64)
        out = {k: np.full(self.n, np.nan) for k in ("sig_loss_activity", "sig_loss_mobility", "sig_loss_complexity",
                                                    "sig_wnorm_slope")}
        w = min(HJORTH_WINDOW, len(steps))
        if w >= 8:
            x = np.log(np.maximum(loss[-w:], LOSS_FLOOR)).T  # [model, w]
            a, m, c = hjorth(detrend(x))
            out.update(sig_loss_activity=a, sig_loss_mobility=m, sig_loss_complexity=c)
            t = steps[-w:] - steps[-w:].mean()
            y = np.log(wn[-w:]).T  # [model, w]
            out["sig_wnorm_slope"] = 1000.0 * ((y - y.mean(1, keepdims=True)) * t).sum(1) / max((t * t).sum(), 1e-300)
        return out

    def _train_pass(self, ctx: EvalContext, rows: np.ndarray, metrics) -> dict[str, np.ndarray]:
        """Softmax collapse and the restricted-loss proxy, from one forward pass over ``SIGNAL_ROWS`` training rows."""
        data = ctx.data
        r = slice(0, SIGNAL_ROWS)
        logits = ctx.model(data.train_inputs[:, r])  # [model, rows, C]
        labels, on = data.train_labels[:, r], (data.train_weights[:, r] > 0).double()  # [model, rows]
        n = on.sum(1).clamp(min=1)
        out = {k: np.full(self.n, np.nan) for k in ("train_softmax_collapse", "sig_restricted_loss")}
        if "train_softmax_collapse" not in metrics:
            out["train_softmax_collapse"][rows] = ((softmax_collapsed(logits).double() * on).sum(1) / n).cpu().numpy()
        p = getattr(data.task, "fourier_p", None)
        if p and logits.shape[-1] == p:
            out["sig_restricted_loss"][rows] = self._restricted_loss(logits, labels, on, int(p)).cpu().numpy()
        return out

    @staticmethod
    def _restricted_loss(logits: torch.Tensor, labels: torch.Tensor, on: torch.Tensor, p: int) -> torch.Tensor:
        """Mean CE of the logits restricted, along the class axis, to the constant and the K top frequencies."""
        x = logits.detach().float()  # [model, batch, p]
        basis = fourier_basis(p, dtype=x.dtype, device=x.device)  # [p_component, p], orthonormal
        coeffs = x @ basis.T  # [model, batch, p_component]
        comp = (coeffs.pow(2) * on.unsqueeze(-1).to(x.dtype)).sum(1)  # [model, p_component]
        freq = component_frequencies(p).to(x.device)  # [p_component]
        energy = comp.new_zeros(comp.shape[0], p // 2 + 1).index_add_(1, freq, comp)  # [model, n_freq]
        energy[:, 0] = -1.0  # the constant is always kept, not counted among the K
        keep = energy.topk(min(RESTRICT_K, energy.shape[1] - 1), dim=1).indices  # [model, k]
        mask = (freq[None, :, None] == keep[:, None, :]).any(-1) | (freq == 0)[None]  # [model, p_component]
        restricted = (coeffs * mask.unsqueeze(1).to(x.dtype)) @ basis  # [model, batch, p]
        ce = torch.nn.functional.cross_entropy(restricted.reshape(-1, p), labels.reshape(-1), reduction="none")
        return (ce.view_as(on).double() * on).sum(1) / on.sum(1).clamp(min=1)  # [model]

    @staticmethod
    def _fourier_gini(anatomy, p: int) -> np.ndarray:
        emb = anatomy.embedding
        if emb is None or emb.shape[1] < p:
            return np.full(anatomy.embedding.shape[0] if emb is not None else 0, np.nan)
        energy = frequency_energy(dft(emb[:, :p, :].detach().double(), dim=1), dim=1).sum(-1)  # [model, n_freq]
        return gini(energy[:, 1:].sqrt().cpu().numpy())  # nonzero frequencies only

    # -- resume -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"steps": list(self.steps)}
        out.update({f"online.{k}": v.copy() for k, v in self.online.items()})
        for k, v in self.hist.items():
            out[f"hist.{k}"] = np.stack(v) if v else np.zeros((0, self.n))
        for k, v in self.ema.items():
            out[f"ema.{k}"] = v.detach().clone()
            out[f"count.{k}"] = self.count[k].clone()
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.steps = [int(s) for s in state["steps"]]
        self.online = {k[7:]: np.asarray(v).copy() for k, v in state.items() if k.startswith("online.")}
        for k in self.hist:
            self.hist[k] = list(np.asarray(state[f"hist.{k}"], dtype=np.float64))
        self.ema = {k[4:]: torch.as_tensor(v).clone() for k, v in state.items() if k.startswith("ema.")}
        self.count = {k[6:]: torch.as_tensor(v).clone() for k, v in state.items() if k.startswith("count.")}
