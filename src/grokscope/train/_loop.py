"""The training loop: one ensemble, one run in the store, resumable to the same numbers.

``train(cfg, store)`` builds the task, each member's split, the ensemble and the batched
optimizer, then steps all members at once. The loss is the sum over members of each member's
mean loss, so members never couple. Metrics are recorded on a schedule that is dense early and
log-spaced late (``eval_steps``), on the train split, the test split and all inputs.

Durability: metrics, weight checkpoints and a resume state (parameters, optimizer state, RNG,
per-member bookkeeping) are written together in one store transaction every
``log.flush_seconds``. A kill -9 loses at most the metrics since the last flush;
``train(cfg, store, resume=run_id)`` continues from that state and, with the same thread count,
reproduces the uninterrupted run's numbers exactly.

>>> from grokscope import load_config
>>> cfg = load_config(preset="pair-mod67", overrides=["train.steps=20", "n_members=2", "task.p=7"])
>>> result = train(cfg, store=None)
>>> len(result.members)
2
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from grokscope.analysis._phases import delay_ratio, phase
from grokscope.config import RunConfig
from grokscope.errors import ConfigError
from grokscope.models import build_model
from grokscope.models._common import check_token_values
from grokscope.seeding import generator, member_seed
from grokscope.tasks import split
from grokscope.train._data import TrainData
from grokscope.train._make_optimizer import make_optimizer
from grokscope.train._schedule import eval_steps

__all__ = ["train", "TrainResult", "make_optimizer", "checkpoint_steps", "METRICS"]

METRICS = ("train_loss", "train_acc", "test_loss", "test_acc", "all_loss", "all_acc", "weight_norm")


@dataclass
class TrainResult:
    run_id: int | None
    steps: np.ndarray  # [n_eval] evaluated steps
    metrics: dict[str, np.ndarray]  # name -> [n_eval, model]
    members: list[dict[str, Any]]  # member, seed, mem_step, gen_step, delay, phase, diverged, ...
    summary: dict[str, Any] = field(default_factory=dict)


def checkpoint_steps(total: int, n: int) -> set[int]:
    """``n`` weight checkpoints, log-spaced over ``[0, total]`` with 0 and ``total`` included."""
    if n <= 0:
        return set()
    if n == 1:
        return {total}
    pts = np.unique(np.round(np.geomspace(1, max(total, 1), n - 1)).astype(int))
    return {0, total, *pts.tolist()}


def _member_loss(logits: torch.Tensor, labels: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-example loss ``[model, batch]`` from ``logits [model, batch, C]`` and ``labels [model, batch]``."""
    if kind == "ce":
        # the 2-D [model*batch, C] layout is contiguous: ~25% faster than class-dim-1 on CPU
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="none").view(labels.shape)
    # Omnigrok / Li2: squared error to the one-hot target, averaged over classes (torch's MSELoss).
    target = F.one_hot(labels, logits.shape[-1]).to(logits.dtype)
    return (logits - target).pow(2).mean(-1)


def train(cfg: RunConfig, store=None, *, resume: int | None = None,
          progress: Callable[[dict[str, Any]], None] | None = None) -> TrainResult:
    """Train ``cfg.n_members`` models at once; store the run if ``store`` is given.

    ``resume=RUN`` continues an interrupted run from its last flush (``cfg`` must then be the
    run's stored config). ``progress`` is called at every evaluation with a dict of
    ``step``, ``steps_per_s``, ``train_acc``, ``test_acc`` (ensemble medians) and ``n_diverged``.
    """
    if cfg.device != "cpu" and not torch.cuda.is_available():
        raise ConfigError(f"device={cfg.device!r}: CUDA is not available here; use device='cpu'")
    threads, flushing = torch.get_num_threads(), _flushes_denormals()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.set_flush_denormal(cfg.flush_denormal)  # a no-op (returns False) on CPUs without FTZ/DAZ
    try:
        return _train(cfg, store, resume, progress)
    finally:
        torch.set_num_threads(threads)
        torch.set_flush_denormal(flushing)


def _flushes_denormals() -> bool:
    """Whether this thread flushes subnormal floats to zero now (torch has no getter for it)."""
    return float(torch.tensor([1e-39], dtype=torch.float32).mul_(2.0)) == 0.0


def _train(cfg: RunConfig, store, resume: int | None, progress) -> TrainResult:
    task = cfg.build_task()
    seeds = cfg.seeds()
    M = cfg.n_members
    frac = cfg.task.get("train_frac")
    count = cfg.task.get("train_count")
    if frac is None and count is None:
        frac = 1.0 if getattr(task, "train_pool", None) is not None else 0.3
    # Data and initialization draw from separate streams of each member's seed.
    sp = split(task, M, frac=frac, count=count, seeds=[member_seed(s, 0) for s in seeds])
    model = build_model(cfg, task, member_seeds=[member_seed(s, 1) for s in seeds])
    dtype, device = model.dtype, model.device
    check_token_values(task.inputs, model.cfg.d_vocab)  # once: every batch is drawn from these rows
    model.check_token_range = False
    data = TrainData(task, sp, device, dtype)
    params = dict(model.named_parameters())
    opt = make_optimizer(cfg, dtype, device)
    state = opt.init(params)
    # Minibatch sampling: one stream per member, so member i draws the same batches whatever the
    # ensemble around it (a sweep member equals its one-member run).
    gens = [generator(member_seed(s, 2)) for s in seeds]

    total = cfg.train.steps
    evals = set(eval_steps(total, dense_until=cfg.log.dense_until, n_log=cfg.log.n_log).tolist())
    ckpts = checkpoint_steps(total, cfg.log.n_checkpoints)
    book = {"mem_step": np.full(M, -1), "gen_step": np.full(M, -1), "diverged_step": np.full(M, -1)}
    active = torch.ones(M, dtype=torch.bool, device=device)
    start = 0

    run_id = resume
    if store is not None and resume is None:
        run_id = store.create_run(kind="train", config=cfg.to_dict(), name=cfg.name,
                                  members=[{"seed": s, "n_train": int(n)} for s, n in zip(seeds, sp.n_train.tolist())])
        # The split travels with the run, so analyses never have to re-derive it.
        store.save_arrays(run_id, "split", {k: getattr(sp, k).numpy() for k in ("train_idx", "train_mask", "test_idx", "test_mask")})
    if resume is not None:
        saved = store.load_resume(resume)
        if saved is None:
            start = 0  # killed before its first flush: start over (nothing was stored)
        else:
            start = int(saved["step"])
            model.load_state_dict(saved["params"])
            state = opt.load_state(saved["opt"])
            for g, st in zip(gens, saved["rng"]):
                g.set_state(st)
            active = saved["active"].to(device)
            book = {k: np.asarray(v) for k, v in saved["book"].items()}
        if start > 0:  # no resume state means nothing was flushed: nothing to drop
            store.truncate_after(resume, start - 1)
    if store is not None:
        store.set_status(run_id, "running")

    log_steps: list[int] = []
    log_vals: dict[str, list[np.ndarray]] = {k: [] for k in METRICS}
    pending_metrics: list[tuple[int, dict[str, np.ndarray]]] = []
    pending_ckpts: list[tuple[int, dict[str, torch.Tensor]]] = []
    last_flush = time.monotonic()
    t0, s0 = time.perf_counter(), start

    def flush(step: int) -> None:
        nonlocal last_flush, pending_metrics, pending_ckpts
        if store is None:
            return
        resume_state = {"step": step, "params": {k: v.detach().clone() for k, v in model.state_dict().items()},
                        "opt": opt.state_dict(state), "rng": [g.get_state() for g in gens], "active": active.cpu(),
                        "book": {k: v.tolist() for k, v in book.items()}}
        store.flush(run_id, metrics=pending_metrics, checkpoints=pending_ckpts, resume=resume_state)
        pending_metrics, pending_ckpts = [], []
        last_flush = time.monotonic()

    step = start
    stop = _StopOnSignal()
    try:
        for step in range(start, total + 1):
            if time.monotonic() - last_flush >= cfg.log.flush_seconds:
                flush(step)  # state *before* evaluating/updating `step`: resume re-does this step
            if step in evals:
                m = data.evaluate(model, cfg.train.loss)
                m["weight_norm"] = torch.sqrt(sum(p.detach().pow(2).flatten(1).sum(1) for p in params.values()))
                vals = {k: v.detach().double().cpu().numpy() for k, v in m.items()}
                _bookkeep(book, vals, step)
                pending_metrics.append((step, vals))
                log_steps.append(step)
                for k in METRICS:
                    log_vals[k].append(vals[k])
                if progress is not None:
                    rate = (step - s0) / max(time.perf_counter() - t0, 1e-9)
                    progress({"step": step, "total": total, "steps_per_s": rate, "n_diverged": int((~active).sum()),
                              "train_acc": _median(vals["train_acc"]), "test_acc": _median(vals["test_acc"])})
            if step in ckpts:
                pending_ckpts.append((step, {k: v.detach().clone() for k, v in model.state_dict().items()}))
            if step == total or (cfg.train.stop_after_grok and step in evals and _all_grokked(book, step)):
                break
            # -- one update of every live member --------------------------------------------
            tokens, labels, weights = data.batch(cfg.train.batch_size, gens)
            per_example = _member_loss(model(tokens), labels, cfg.train.loss)  # [model, batch]
            member_loss = (per_example * weights).sum(1)  # [model]: each member's mean loss
            finite = torch.isfinite(member_loss)
            if not bool(finite.all()):
                newly = active & ~finite
                book["diverged_step"][newly.cpu().numpy()] = step
                active = active & finite
            for p in params.values():
                p.grad = None
            torch.where(active, member_loss, torch.zeros_like(member_loss)).sum().backward()
            state = opt.step(params, None, state, active=active)
            if stop.requested:
                flush(step + 1)  # a clean point between updates: resume continues from here
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        raise  # status stays "running" and reads "interrupted" once this process has gone
    except BaseException:
        if store is not None:
            store.set_status(run_id, "failed")
        raise
    finally:
        stop.restore()
    if not pending_ckpts or pending_ckpts[-1][0] != step:  # the final weights are always kept
        pending_ckpts.append((step, {k: v.detach().clone() for k, v in model.state_dict().items()}))
    flush(step)

    steps_arr = np.asarray(log_steps)
    metrics = {k: np.stack(v) if v else np.zeros((0, M)) for k, v in log_vals.items()}
    members = _member_rows(book, seeds, sp.n_train.tolist())
    elapsed = time.perf_counter() - t0
    summary = {
        "final_step": step, "wall_seconds": elapsed, "steps_per_s": (step - s0) / max(elapsed, 1e-9),
        "n_grokked": sum(r["phase"] == "grokking" for r in members),
        "n_diverged": sum(r["diverged"] for r in members),
        "phases": {p: sum(r["phase"] == p for r in members) for p in {r["phase"] for r in members}},
    }
    if store is not None:
        store.update_members(run_id, members)
        store.set_summary(run_id, summary)
        store.set_status(run_id, "finished")
    return TrainResult(run_id, steps_arr, metrics, members, summary)


class _StopOnSignal:
    """Ctrl-C sets a flag that the loop checks between updates, so it stops at a clean point."""

    def __init__(self):
        self.requested = False
        self._old = None
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame):
        if self.requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            self._old = None


def _median(x: np.ndarray) -> float:
    """Median over live members; NaN (not a warning) when every value is NaN (e.g. no test set)."""
    return float(np.nanmedian(x)) if np.isfinite(x).any() else float("nan")


def _bookkeep(book: dict[str, np.ndarray], vals: dict[str, np.ndarray], step: int) -> None:
    """First crossings of 99% train / test accuracy (see grokscope.analysis._phases)."""
    for key, metric in (("mem_step", "train_acc"), ("gen_step", "test_acc")):
        hit = (np.nan_to_num(vals[metric], nan=-1.0) >= 0.99) & (book[key] < 0)
        book[key][hit] = step


def _all_grokked(book: dict[str, np.ndarray], step: int) -> bool:
    live = book["diverged_step"] < 0
    gen = book["gen_step"][live]
    return bool(live.any() and (gen >= 0).all() and step >= 1.25 * gen.max())


def _member_rows(book: dict[str, np.ndarray], seeds: list[int], n_train: list[int]) -> list[dict[str, Any]]:
    rows = []
    for i, seed in enumerate(seeds):
        mem = int(book["mem_step"][i]) if book["mem_step"][i] >= 0 else None
        gen = int(book["gen_step"][i]) if book["gen_step"][i] >= 0 else None
        div = bool(book["diverged_step"][i] >= 0)
        rows.append({"member": i, "seed": seed, "n_train": n_train[i], "mem_step": mem, "gen_step": gen,
                     "delay": delay_ratio(mem, gen), "phase": phase(mem, gen, diverged=div), "diverged": div,
                     "diverged_step": int(book["diverged_step"][i]) if div else None})
    return rows
