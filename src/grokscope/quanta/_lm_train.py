"""Train a family of byte-level LMs of several widths on the standard library's source, and store it.

Every width trains as one :class:`LMEnsemble` of ``members`` seeds (same shape, different init)
on the **same** batches: random windows of ``n_ctx + 1`` tokens of the training stream, drawn
from ``seed`` (so the sizes differ only in their width and init). The loss is the next-token
cross-entropy at every position, summed over members (each member's mean: members never
couple). AdamW with a linear warmup and then a **constant** learning rate, so that every
evaluation point of a run is a fair "trained on D = S·batch·n_ctx tokens" point for L(D) and
L(S) (a decaying schedule would make the intermediate points worse than a run stopped there).
Gradients are clipped to a global norm per member.

Evaluation (:func:`eval_windows`): ``eval_windows`` windows at random starts of the held-out
stream (from ``seed``), each scored at its last ``n_ctx/2`` positions, so every scored token is
predicted from at least ``n_ctx/2`` tokens of context. The learning curve reads the first
``curve_windows`` of them at ``eval_points`` log-spaced steps; at the end every member's loss on
every scored token is kept (``tokens.npz``), the input of the per-token analysis.

Results go to a directory (not the run store: an LM family is not a task run):
``family.json`` (config, corpus identity, each width's parameters and learning curves, timings),
``tokens.npz`` (per-token losses ``[width, member, window, position]`` float32, nats; the windows'
starts) and ``lm_d{width}.pt`` (each ensemble's state dict).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from grokscope.quanta._lm import LMEnsemble, lm_config, n_non_embedding, n_params
from grokscope.quanta._lm_corpus import Corpus
from grokscope.seeding import member_seed
from grokscope.validate import check_int, check_number, check_seed, require

__all__ = ["Family", "FamilyConfig", "eval_windows", "load_family", "train_family", "window_losses"]

DATA_STREAM, EVAL_STREAM = 1, 2  # seed streams: training batches, held-out evaluation windows


@dataclass(frozen=True)
class FamilyConfig:
    """The family; every field is checked when the config is built. Defaults fit ~5 CPU-minutes."""

    widths: tuple[int, ...] = (16, 32, 48, 64, 96)  # d_model; N (non-embedding) 6k..223k, ~1.5 decades
    n_layers: int = 2
    n_ctx: int = 64  # bytes of context: enough for a line of code and its indentation
    members: int = 2  # seeds per width (one ensemble each)
    steps: int = 1000
    batch: int = 32  # windows per step: 2,048 predicted tokens
    lr: float = 3e-3  # small models tolerate a large Adam step (Kaplan et al. 2020, Eq. D.1: larger for smaller N)
    warmup: int = 50
    weight_decay: float = 0.0  # the runs see each token about once: nothing to regularize
    clip: float = 1.0  # per-member global gradient norm (GPT-2/3 practice)
    eval_points: int = 12  # log-spaced evaluation steps of the learning curves
    eval_windows: int = 1024  # held-out windows scored at the end (x n_ctx/2 tokens each)
    curve_windows: int = 128  # the first ones of those, scored at every evaluation point
    held_out_frac: float = 0.1
    seed: int = 0

    def __post_init__(self):
        ws = self.widths
        require(isinstance(ws, (list, tuple)) and len(ws) > 0, "widths", ws, "a non-empty list of widths")
        ws = tuple(check_int(w, "widths", 1) for w in ws)
        for w in ws:
            require(w % 16 == 0, "widths", w, "multiples of 16 (heads of 16 dimensions)")
        object.__setattr__(self, "widths", tuple(sorted(set(ws))))
        check_int(self.n_layers, "n_layers", 1)
        check_int(self.n_ctx, "n_ctx", 4)
        require(self.n_ctx % 2 == 0, "n_ctx", self.n_ctx, "even (the last n_ctx/2 positions are scored)")
        check_int(self.members, "members", 1)
        check_int(self.steps, "steps", 1)
        check_int(self.batch, "batch", 1)
        check_number(self.lr, "lr", 0.0, lo_open=True)
        check_int(self.warmup, "warmup", 0)
        check_number(self.weight_decay, "weight_decay", 0.0)
        check_number(self.clip, "clip", 0.0, lo_open=True)
        check_int(self.eval_points, "eval_points", 1)
        check_int(self.eval_windows, "eval_windows", 1)
        check_int(self.curve_windows, "curve_windows", 1, self.eval_windows)
        check_number(self.held_out_frac, "held_out_frac", 0.0, 1.0, lo_open=True, hi_open=True)
        check_seed(self.seed)


def eval_windows(corpus: Corpus, cfg: FamilyConfig) -> torch.Tensor:
    """Starts ``[eval_windows]`` of the held-out windows (``n_ctx + 1`` tokens each), from ``seed``.

    Starts are ``>= n_ctx``, so the ``n_ctx`` tokens before any scored token exist (QDG reads them).
    """
    n, T = corpus.held_out.numel(), cfg.n_ctx
    require(n >= 2 * T + 2, "held_out_frac", cfg.held_out_frac, f"large enough to hold a window ({n} held-out tokens)")
    gen = torch.Generator().manual_seed(member_seed(cfg.seed, EVAL_STREAM))
    return torch.randint(T, n - T - 1 + 1, (cfg.eval_windows,), generator=gen)


def _windows(stream: torch.Tensor, starts: torch.Tensor, T: int) -> torch.Tensor:
    return stream[starts[:, None] + torch.arange(T + 1)].long()  # [n, T + 1] token ids


@torch.no_grad()
def window_losses(ens: LMEnsemble, windows: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """Per-token loss (nats) ``[model, n, n_ctx/2]`` at the scored (last half) positions of ``windows [n, T + 1]``."""
    T = windows.shape[1] - 1
    out = []
    for i in range(0, windows.shape[0], chunk):
        w = windows[i : i + chunk]
        logits = ens(w[:, :-1])[:, :, T // 2 :]  # [model, b, T/2, vocab]
        y = w[None, :, T // 2 + 1 :].expand(logits.shape[0], -1, -1)
        out.append(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none").view(y.shape))
    return torch.cat(out, dim=1)


def _eval_steps(cfg: FamilyConfig) -> list[int]:
    s = np.unique(np.round(np.geomspace(min(10, cfg.steps), cfg.steps, cfg.eval_points)).astype(int))
    return sorted(set(s.tolist()) | {cfg.steps})


def _clip_per_member(ens: LMEnsemble, max_norm: float) -> torch.Tensor:
    grads = [p.grad for p in ens.parameters()]
    norms = torch.stack([g.reshape(g.shape[0], -1).pow(2).sum(1) for g in grads]).sum(0).sqrt()  # [model]
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *[1] * (g.dim() - 1)))
    return norms


@dataclass
class WidthResult:
    """One width: its size, its members' learning curves and final held-out losses."""

    d_model: int
    n_params: int
    n_non_embedding: int
    member_seeds: list[int]
    steps: list[int]  # evaluation steps
    tokens: list[int]  # training tokens seen at each (steps x batch x n_ctx)
    curve: list[list[float]]  # [member][point] mean held-out loss (nats) on the curve windows
    final_loss: list[float]  # [member] mean held-out loss (nats) over every scored token
    train_loss: list[float]  # [member] mean training loss over the last 10% of steps
    seconds: float  # wall-clock training time (on a shared machine: depends on the other jobs)
    cpu_seconds: float  # CPU time of this process while training (all threads)
    flops: float  # 6 · n_params · tokens, per member (Kaplan et al. 2020's C)


def _train_width(d: int, corpus: Corpus, cfg: FamilyConfig, windows: torch.Tensor, log) -> tuple[WidthResult, dict]:
    mcfg = lm_config(d, cfg.n_layers, cfg.n_ctx)
    seeds = [member_seed(member_seed(cfg.seed, d), i) for i in range(cfg.members)]
    ens = LMEnsemble(mcfg, cfg.members).init_(seeds)
    ens.check_token_range = False  # byte tokens are < 256 by construction
    opt = torch.optim.AdamW(ens.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(member_seed(cfg.seed, DATA_STREAM))  # the same batches for every width
    n_train, T, M = corpus.train.numel(), cfg.n_ctx, cfg.members
    evals, curve, train_tail = _eval_steps(cfg), [], []
    curve_w = windows[: cfg.curve_windows]
    t0, c0 = time.perf_counter(), time.process_time()
    for step in range(1, cfg.steps + 1):
        for g in opt.param_groups:
            g["lr"] = cfg.lr * min(1.0, step / cfg.warmup) if cfg.warmup else cfg.lr
        starts = torch.randint(0, n_train - T - 1 + 1, (cfg.batch,), generator=gen)
        w = _windows(corpus.train, starts, T)  # [batch, T + 1]
        logits = ens(w[:, :-1])  # [model, batch, T, vocab]
        y = w[None, :, 1:].expand(M, -1, -1)
        per = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none").view(M, -1)
        loss = per.mean(1)  # [model]
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        _clip_per_member(ens, cfg.clip)
        opt.step()
        if step > 0.9 * cfg.steps:
            train_tail.append(loss.detach())
        if step in evals:
            curve.append(window_losses(ens, curve_w).mean(dim=(1, 2)))  # [model]
            log(f"d_model={d}: step {step}/{cfg.steps}, held-out loss "
                f"{', '.join(f'{v / math.log(2):.3f}' for v in curve[-1].tolist())} bits/byte")
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    per_token = window_losses(ens, windows)  # [model, n, T/2]
    tok = [s * cfg.batch * T for s in evals]
    res = WidthResult(
        d_model=d, n_params=n_params(mcfg), n_non_embedding=n_non_embedding(mcfg), member_seeds=seeds, steps=evals,
        tokens=tok, curve=torch.stack(curve, 1).tolist(), final_loss=per_token.mean(dim=(1, 2)).tolist(),
        train_loss=torch.stack(train_tail).mean(0).tolist(), seconds=seconds, cpu_seconds=cpu_seconds,
        flops=6.0 * n_params(mcfg) * cfg.steps * cfg.batch * T)
    return res, {"per_token": per_token.float().numpy(), "state": ens.state_dict()}


def train_family(cfg: FamilyConfig, out: str | Path, *, corpus: Corpus | None = None, log=None) -> dict:
    """Train every width of ``cfg`` and write ``family.json``, ``tokens.npz``, ``lm_d{width}.pt`` to ``out``.

    Returns the ``family.json`` content. ``corpus`` defaults to :meth:`Corpus.stdlib`; ``log`` gets progress lines.
    """
    log = log or (lambda s: None)
    t0 = time.perf_counter()
    corpus = corpus or Corpus.stdlib(held_out_frac=cfg.held_out_frac)
    require(corpus.train.numel() > cfg.n_ctx + 1, "corpus", corpus.info.get("n_train_tokens"),
            f"more than n_ctx + 1 = {cfg.n_ctx + 1} training tokens")
    starts = eval_windows(corpus, cfg)
    windows = _windows(corpus.held_out, starts, cfg.n_ctx)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_corpus = time.perf_counter() - t0
    widths, per_token = [], []
    for d in cfg.widths:
        res, extra = _train_width(d, corpus, cfg, windows, log)
        torch.save(extra["state"], out / f"lm_d{d}.pt")
        widths.append(asdict(res))
        per_token.append(extra["per_token"])
    np.savez_compressed(out / "tokens.npz", losses=np.stack(per_token), starts=starts.numpy(),
                        widths=np.array(cfg.widths), n_non_embedding=np.array([w["n_non_embedding"] for w in widths]))
    family = {
        "config": asdict(cfg), "corpus": corpus.info, "widths": widths,
        "definition": ("byte-level causal transformers (pre-LN, GELU, d_mlp = 4 d_model, heads of 16) trained on "
                       "the next-byte loss at every position; held-out loss = mean over the last n_ctx/2 positions "
                       "of eval_windows random held-out windows; N = non-embedding parameters (Kaplan et al. 2020)"),
        "torch_version": torch.__version__, "threads": torch.get_num_threads(),
        "seconds": {"corpus_s": t_corpus, "train_s": sum(w["seconds"] for w in widths),
                    "total_s": time.perf_counter() - t0},
    }
    (out / "family.json").write_text(json.dumps(family, indent=1))
    return family


@dataclass
class Family:
    """A trained family read back from its directory."""

    path: Path
    info: dict  # family.json
    losses: np.ndarray = field(repr=False)  # [width, member, window, n_ctx/2] nats
    starts: np.ndarray = field(repr=False)  # [window]

    @property
    def cfg(self) -> FamilyConfig:
        c = dict(self.info["config"])
        c["widths"] = tuple(c["widths"])
        return FamilyConfig(**c)

    def ensemble(self, d: int) -> LMEnsemble:
        cfg = self.cfg
        ens = LMEnsemble(lm_config(d, cfg.n_layers, cfg.n_ctx), cfg.members)
        ens.load_state_dict(torch.load(self.path / f"lm_d{d}.pt", weights_only=True))
        return ens


def load_family(path: str | Path) -> Family:
    """The family stored in ``path`` by :func:`train_family` (one ConfigError line if it is not one)."""
    from grokscope.errors import ConfigError

    path = Path(path)
    if not (path / "family.json").is_file() or not (path / "tokens.npz").is_file():
        raise ConfigError(f"family={str(path)!r}: must be a directory written by `grokscope quanta lm-train` "
                          "(family.json and tokens.npz)")
    info = json.loads((path / "family.json").read_text())
    z = np.load(path / "tokens.npz")
    return Family(path, info, z["losses"], z["starts"])
