"""Several runs trained as one stacked ensemble, refilled as members retire (continuous batching).

``train_stacked(jobs, store, capacity=R)`` trains runs of one model shape (same architecture,
model config, dtype, loss and batch width; the per-member keys may differ) as if they were one
ensemble of at most ``R`` rows. Each run stays an ordinary run in the store, with its own
config, writer, evaluations, checkpoints, hooks, retirement and resume state, and its own
step: runs that started at different times sit in one stack at different steps. Only the update
is shared: each step, the live rows of every run go through **one** forward and backward pass
(their parameters concatenated along the ``model`` axis), and each run's optimizer then steps
its own rows with their slice of the gradient. When a run's members retire, its rows leave the
stack; a queued run joins as soon as its members fit (``rows live + its n_members <= R``).

Nothing changes for a member by being stacked: every row's forward, backward and optimizer
update are computed independently of the other rows (the batched kernels work row by row),
so a member's numbers equal those of its run trained alone, bit for bit, provided the runs'
full batches have one width (``train.pad_to``; a refilling sweep sets it). A stacked run killed
at any instant resumes from its own last flush (``train(cfg, store, resume=run)`` or another
``train_stacked``) to the same numbers.

>>> from grokscope import load_config
>>> cfgs = [load_config(preset="pair-mod67", overrides=["train.steps=20", "n_members=2", "task.p=7", f"seed={s}"])
...         for s in (0, 1, 2)]
>>> [len(r.members) for r in train_stacked([StackJob(c) for c in cfgs], None, capacity=4)]
[2, 2, 2]
"""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch

from grokscope._denormal import flushing_denormals
from grokscope.config import RunConfig
from grokscope.errors import ConfigError
from grokscope.train._loop import (ActiveRun, TrainResult, _StopOnSignal, freeze_nonfinite,
                                   member_objective)
from grokscope.validate import check_int

__all__ = ["train_stacked", "StackJob"]


@dataclass
class StackJob:
    """One run for :func:`train_stacked`: its config, the run to resume (None: a new run), and
    callbacks ``on_start(job)`` when it joins the stack and ``on_done(job, result)`` as soon as it
    has finished (before later runs go on)."""

    cfg: RunConfig
    resume: int | None = None
    on_done: Callable[["StackJob", TrainResult], None] | None = None
    on_start: Callable[["StackJob"], None] | None = None
    tag: Any = None  # the caller's (e.g. the sweep's ensemble plan)


def train_stacked(jobs: Sequence[StackJob], store=None, *, capacity: int,
                  progress: Callable[[dict[str, Any]], None] | None = None) -> list[TrainResult]:
    """Train ``jobs`` (in order of admission) stacked up to ``capacity`` rows; their results in job order.

    A job larger than ``capacity`` runs alone when the stack is empty. ``progress`` is called at
    every evaluation of every run (as ``train``'s is). Threads and subnormal flushing follow the
    first job's config for the whole call.
    """
    check_int(capacity, "capacity", 1)
    jobs = list(jobs)
    if not jobs:
        return []
    first = jobs[0].cfg
    if first.device != "cpu" and not torch.cuda.is_available():
        raise ConfigError(f"device={first.device!r}: CUDA is not available here; use device='cpu'")
    threads = torch.get_num_threads()
    if first.threads:
        torch.set_num_threads(first.threads)
    try:
        with flushing_denormals(first.flush_denormal):
            return _train_stacked(jobs, store, capacity, progress)
    finally:
        torch.set_num_threads(threads)


def _train_stacked(jobs: list[StackJob], store, capacity: int, progress) -> list[TrainResult]:
    queue = deque(enumerate(jobs))
    live: list[tuple[int, ActiveRun]] = []
    results: dict[int, TrainResult] = {}
    stack = None  # the module the stacked update runs through (a copy of the first run's ensemble)
    stop = _StopOnSignal()
    try:
        while live or queue:
            while queue and (not live or _rows(live) + queue[0][1].cfg.n_members <= capacity):
                i, job = queue.popleft()
                if job.on_start is not None:
                    job.on_start(job)
                run = ActiveRun(job.cfg, store, job.resume, progress)
                stack = stack if stack is not None else _stack_module(run)
                _check_compatible(live[0][1] if live else None, run, job)
                live.append((i, run))
            for entry in list(live):  # flush, evaluate, checkpoint each run at its own step
                i, run = entry
                if not run.before_update():
                    live.remove(entry)
                    results[i] = run.finish()
                    if jobs[i].on_done is not None:
                        jobs[i].on_done(jobs[i], results[i])
            if not live:
                continue
            _update_stacked([run for _, run in live], stack)
            for _, run in live:
                run.state.step += 1
            if stop.requested:
                for _, run in live:
                    run.writer.flush(run.state)  # a clean point between updates: each resumes from here
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        raise
    except BaseException:
        for _, run in live:
            run.writer.failed()
        raise
    finally:
        stop.restore()
    return [results[i] for i in range(len(jobs))]


def _rows(live) -> int:
    return sum(len(run.state.rows) for _, run in live)


def _stack_module(run: ActiveRun) -> torch.nn.Module:
    """A copy of the run's ensemble whose parameters are replaced by the stacked rows each step."""
    stack = copy.deepcopy(run.state.model)
    for p in stack.parameters():
        p.requires_grad_(True)
    return stack


def _check_compatible(ref: ActiveRun | None, run: ActiveRun, job: StackJob) -> None:
    """Runs share a stack only if one forward pass serves them all: same model config, dtype, device,
    loss and loss scale. (The batch width is checked at each step.)"""
    if ref is None:
        return
    a, b = ref.cfg, run.cfg
    same = (ref.state.model.cfg == run.state.model.cfg and type(ref.state.model) is type(run.state.model)
            and a.dtype == b.dtype and a.device == b.device and a.train.loss == b.train.loss
            and a.train.loss_scale == b.train.loss_scale and a.train.batch_size == b.train.batch_size
            and (ref.state.dropout_gens is None) == (run.state.dropout_gens is None))
    if not same:
        raise ConfigError(f"train_stacked: run {run.cfg.name!r} cannot share a stack with {ref.cfg.name!r}: "
                          "model config, dtype, device, loss, loss_scale and batch_size must be equal")


def _update_stacked(runs: list[ActiveRun], stack: torch.nn.Module) -> None:
    """One optimizer update of every live row of every run, through one forward and backward pass."""
    batches = [run.data.batch(run.cfg.train.batch_size, run.state.gens) for run in runs]
    widths = {tuple(b[0].shape[1:]) for b in batches}
    if len(widths) > 1:
        raise ConfigError(f"train_stacked: the runs' batches have different shapes {sorted(widths)}; "
                          "give them one full-batch width with train.pad_to")
    inputs, labels, weights = _cat_batches(stack, batches)  # [rows, batch, n_ctx | d_in], [rows, batch] x 2
    sizes = [len(run.state.rows) for run in runs]
    params = dict(stack.named_parameters())
    with torch.no_grad():
        for name, p in params.items():
            p.data = torch.cat([run.state.params[name].detach() for run in runs])
            p.grad = None
    stack.n_models = sum(sizes)
    stack.dropout_rates = [r for run in runs for r in run.state.model.dropout_rates]
    if runs[0].state.dropout_gens is None:
        logits = stack(inputs)
    else:
        with stack.train_dropout([g for run in runs for g in run.state.dropout_gens]):
            logits = stack(inputs)
    member_loss = member_objective(logits, labels, weights, runs[0].cfg.train)  # [rows]
    bounds = torch.tensor([0, *sizes]).cumsum(0).tolist()
    if not bool(torch.isfinite(member_loss).all()):  # one check for the stack; per run only when needed
        for run, a, b in zip(runs, bounds[:-1], bounds[1:]):
            freeze_nonfinite(run.state, member_loss[a:b])
    active = torch.cat([run.state.active for run in runs])
    torch.where(active, member_loss, torch.zeros_like(member_loss)).sum().backward()
    for run, a, b in zip(runs, bounds[:-1], bounds[1:]):
        own = run.state.params
        for name, p in own.items():
            p.grad = params[name].grad[a:b]
        run.state.opt_state = run.state.opt.step(own, None, run.state.opt_state, active=run.state.active)


def _cat_batches(stack: torch.nn.Module, batches: list[tuple[torch.Tensor, ...]]) -> tuple[torch.Tensor, ...]:
    """The runs' batches concatenated along ``model``. Full batches are the same tensors step after step
    (until a run joins, leaves or compacts), so their concatenation is kept and reused while they are."""
    parts = tuple(t for b in batches for t in b)
    cached = getattr(stack, "_stacked_batch", None)
    if cached is not None and len(cached[0]) == len(parts) and all(a is b for a, b in zip(cached[0], parts)):
        return cached[1]
    out = tuple(torch.cat([b[k] for b in batches]) for k in range(3))
    stack._stacked_batch = (parts, out)  # holding `parts` keeps their ids from being reused
    return out
