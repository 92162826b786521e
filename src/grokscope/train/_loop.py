"""The training loop: one ensemble, one run in the store, resumable to the same numbers.

``train(cfg, store)`` builds the task, each member's split, the ensemble and the batched
optimizer, then steps all members at once. The loss is the sum over members of each member's
mean loss, so members never couple. Metrics are recorded on a schedule that is dense early and
log-spaced late (``eval_steps``): loss and accuracy of every split the run keeps (train, test,
unseen), of all inputs and of every group of rows the task names, from one forward pass, plus
``weight_norm`` and whatever the evaluation hooks return (``grokscope.train._hooks``; the first
hook is the grokking bookkeeping). A member whose loss goes non-finite is frozen and reported.
Dropout (``model.dropout``) acts in the update's forward pass only, with masks from each member's
own generator (stream 3 of its seed), saved with the run state.

The pieces, each in its own file: ``RunState`` (``_state.py``: what a restart must carry, one way
into the store and one way out), ``RunWriter`` (``_writer.py``: everything written to the store),
``TrainData`` (``_data.py``: batches and evaluation), ``per_example_loss`` (``_losses.py``),
the hooks (``_hooks.py``).

Durability: metrics, weight checkpoints and the resume state are written together in one store
transaction every ``log.flush_seconds``. A kill -9 loses at most the metrics since the last flush;
``train(cfg, store, resume=run_id)`` continues from that state and, with the same thread count,
reproduces the uninterrupted run's numbers exactly.

>>> from grokscope import load_config
>>> cfg = load_config(preset="pair-mod67", overrides=["train.steps=20", "n_members=2", "task.p=7"])
>>> result = train(cfg, store=None)
>>> len(result.members)
2
"""

from __future__ import annotations

import dataclasses
import signal
import threading
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Sequence

import numpy as np
import torch

from grokscope._denormal import flushing_denormals
from grokscope.config import RunConfig
from grokscope.errors import ConfigError
from grokscope.models import build_model
from grokscope.models._common import check_token_values
from grokscope.seeding import generator, member_seed
from grokscope.tasks import input_kind, split_for_run
from grokscope.train._checkpoint_plan import TransitionCheckpoints, checkpoint_steps, fit_checkpoints
from grokscope.train._data import TrainData
from grokscope.train._collapse import CollapseHook
from grokscope.train._hooks import EvalContext, EvalHook, GrokkingHook
from grokscope.train._losses import per_example_loss
from grokscope.train._make_optimizer import make_optimizer
from grokscope.train._retire import retire_hook
from grokscope.train._schedule import eval_steps
from grokscope.train._signals import SignalsHook
from grokscope.train._state import RunState
from grokscope.train._writer import RunWriter
from grokscope.validate import require

__all__ = ["train", "TrainResult", "make_optimizer", "METRICS"]

# The metrics every run has (a run with an unseen split or task groups has more; see the docstring).
METRICS = ("train_loss", "train_acc", "test_loss", "test_acc", "all_loss", "all_acc", "weight_norm")
# member m's streams of its seed (its split draws from stream 0); dropout masks only with model.dropout
INIT_STREAM, BATCH_STREAM, DROPOUT_STREAM = 1, 2, 3


@dataclass
class TrainResult:
    run_id: int | None
    steps: np.ndarray  # [n_eval] evaluated steps
    metrics: dict[str, np.ndarray]  # name -> [n_eval, model]
    members: list[dict[str, Any]]  # member, seed, mem_step, gen_step, delay, phase, diverged, ...
    summary: dict[str, Any] = field(default_factory=dict)


def train(cfg: RunConfig, store=None, *, resume: int | None = None,
          progress: Callable[[dict[str, Any]], None] | None = None,
          hooks: Sequence[EvalHook] = ()) -> TrainResult:
    """Train ``cfg.n_members`` models at once; store the run if ``store`` is given.

    ``resume=RUN`` continues an interrupted run from its last flush (``cfg`` must then be the
    run's stored config). ``progress`` is called at every evaluation with a dict of
    ``step``, ``steps_per_s``, ``train_acc``, ``test_acc`` (ensemble medians) and ``n_diverged``.
    ``hooks`` are called at every evaluation after the grokking bookkeeping (``EvalHook``); the
    values they return are stored as metrics. Resume a run with the hooks it was trained with.
    """
    if cfg.device != "cpu" and not torch.cuda.is_available():
        raise ConfigError(f"device={cfg.device!r}: CUDA is not available here; use device='cpu'")
    threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        with flushing_denormals(cfg.flush_denormal):
            return _train(cfg, store, resume, progress, list(hooks))
    finally:
        torch.set_num_threads(threads)


def _train(cfg: RunConfig, store, resume: int | None, progress, extra_hooks: list) -> TrainResult:
    run = ActiveRun(cfg, store, resume, progress, extra_hooks)
    stop = _StopOnSignal()
    try:
        while run.before_update():
            _update(run.state, run.data, run.cfg)
            run.state.step += 1
            if stop.requested:
                run.writer.flush(run.state)  # a clean point between updates: resume continues from here
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        raise  # status stays "running" and reads "interrupted" once this process has gone
    except BaseException:
        run.writer.failed()
        raise
    finally:
        stop.restore()
    return run.finish()


class ActiveRun:
    """One run being trained: built (or reopened to resume), then stepped by ``train`` alone or by
    ``train_stacked`` beside other runs (``grokscope.train._stack``). Per step, ``before_update()``
    flushes, evaluates and checkpoints; the caller then applies one update to ``state`` and advances
    ``state.step``. ``finish()`` writes the final checkpoint and the members' rows."""

    def __init__(self, cfg: RunConfig, store, resume: int | None, progress, extra_hooks: Sequence[EvalHook] = ()):
        cfg = _task_seed_from_run(cfg)  # before anything is built or stored
        task, seeds = cfg.build_task(), cfg.seeds()
        sp = split_for_run(task, cfg.task, seeds)  # member m's data: stream 0 of its seed
        model = build_model(cfg, task, member_seeds=[member_seed(s, INIT_STREAM) for s in seeds])
        data = _device_data(task, sp, model, cfg.train.pad_to)
        opt = make_optimizer(_relative_projection(cfg, model), model.dtype, model.device)
        # Minibatch sampling: one stream per member, so member i draws the same batches whatever the
        # ensemble around it (a sweep member equals its one-member run).
        gens = [generator(member_seed(s, BATCH_STREAM)) for s in seeds]
        drops = [generator(member_seed(s, DROPOUT_STREAM)) for s in seeds] if getattr(model, "has_dropout", False) else None
        self.retire = retire_hook(cfg.train)  # None unless a train.retire_* key turns the rule on
        measured = ([CollapseHook()] if cfg.train.collapse_metrics else []) + ([SignalsHook()] if cfg.train.signals else [])
        self.ckpts, transitions = _checkpoint_plan(cfg, model)
        hooks = [GrokkingHook(cfg.train.stop_after_grok), *([self.retire] if self.retire else []), *measured,
                 *transitions, *extra_hooks]

        writer = RunWriter(store, cfg.log.flush_seconds)
        state = RunState.new(model, opt, gens, hooks, drops)
        if resume is None:
            writer.create(cfg, seeds, sp)
        else:
            saved = writer.reopen(resume)
            if saved is not None:  # else killed before its first flush: start over (nothing was stored)
                state = RunState.from_resume(saved, model, opt, gens, hooks, drops)
                if state.any_retired:  # it comes back compacted: drop the retired members' data rows too
                    data.select_members(torch.as_tensor(state.rows, device=model.device))
        writer.running()
        self.cfg, self.seeds, self.sp, self.data, self.writer, self.state = cfg, seeds, sp, data, writer, state
        self.progress, self.total = progress, cfg.train.steps
        self.evals = set(eval_steps(self.total, dense_until=cfg.log.dense_until, n_log=cfg.log.n_log).tolist())
        self.t0, self.s0 = time.perf_counter(), state.step
        self.last_retired = np.full(cfg.n_members, -1, dtype=np.int64)  # members decided when the last ones were

    def before_update(self) -> bool:
        """Flush if due, evaluate and checkpoint at ``state.step``; False when the run ends here."""
        state, writer, step = self.state, self.writer, self.state.step
        if writer.due():
            writer.flush(state)  # state *before* evaluating/updating `step`: resume re-does this step
        stop_reasons, asked = [], False
        if step in self.evals:
            values, ctx = _evaluate(state, self.data, self.cfg)
            writer.metrics(step, values)
            stop_reasons = ctx.stop_reasons + _retire_requested(state, self.data, ctx, self.last_retired)
            asked = ctx.checkpoint_requested
            if self.progress is not None:
                rate = (step - self.s0) / max(time.perf_counter() - self.t0, 1e-9)
                self.progress(_progress_info(state, values, self.total, rate))
        if step in self.ckpts or asked:
            writer.checkpoint(step, state.weights())
        return not (step >= self.total or stop_reasons)

    def finish(self) -> TrainResult:
        """The final checkpoint and flush, the members' rows and the run's summary."""
        state, writer, cfg, data = self.state, self.writer, self.cfg, self.data
        if writer.last_checkpoint_step() != state.step:  # the final weights are always kept
            writer.checkpoint(state.step, state.weights())
        writer.flush(state)

        retired_step = np.where(self.last_retired >= 0, self.last_retired, state.retired_step)
        members = _member_rows(state, _context(state, data, cfg), self.seeds, self.sp)
        elapsed = time.perf_counter() - self.t0
        summary = {
            "final_step": state.step, "wall_seconds": elapsed, "steps_per_s": (state.step - self.s0) / max(elapsed, 1e-9),
            "n_grokked": sum(r.get("phase") == "grokking" for r in members),
            "n_diverged": sum(r["diverged"] for r in members),
            "phases": {p: sum(r.get("phase") == p for r in members) for p in {r.get("phase") for r in members}},
        }
        if self.retire is not None or (retired_step >= 0).any():
            for r, s in zip(members, retired_step.tolist()):
                r["retired_step"] = int(s) if s >= 0 else None
            # Steps each member held a row of the ensemble (the compute it cost), against the full budget.
            summary.update(n_retired=int((retired_step >= 0).sum()),
                           member_steps=int(np.where(retired_step >= 0, retired_step, state.step).sum()),
                           member_steps_budget=cfg.n_members * self.total)
        writer.finish(members, summary)
        steps, metrics = writer.result_metrics(cfg.n_members, (*data.metric_names(), "weight_norm"))
        return TrainResult(writer.run_id, steps, metrics, members, summary)


def _checkpoint_plan(cfg: RunConfig, model) -> tuple[set[int], list[TransitionCheckpoints]]:
    """The log-spaced checkpoint steps and the transition hook (if any), thinned to fit ``log.checkpoint_mib``."""
    per_member = sum(p[0].numel() * p.element_size() for p in model.state_dict().values())
    asked = cfg.log.transition_checkpoints if cfg.log.n_checkpoints > 0 else 0  # 0 checkpoints: no weights wanted
    n_log, n_extra = fit_checkpoints(cfg.log.n_checkpoints, asked,
                                     bytes_per_checkpoint=per_member * cfg.n_members, budget_mib=cfg.log.checkpoint_mib)
    ckpts = checkpoint_steps(cfg.train.steps, n_log)
    return ckpts, ([TransitionCheckpoints(n_extra, cfg.log.transition_delta, ckpts)] if n_extra > 0 else [])


def _task_seed_from_run(cfg: RunConfig) -> RunConfig:
    """A task with ``data_seed = "run"`` (sparse parity) draws its inputs from the run's seed: its
    ``seed`` option becomes ``cfg.seed`` here, before the run is stored, so the stored config names
    the inputs used (a resume or an analysis rebuilds them from it)."""
    if cfg.task.get("data_seed") != "run" or cfg.task.get("seed") == cfg.seed:
        return cfg
    return dataclasses.replace(cfg, task={**cfg.task, "seed": cfg.seed})


def _relative_projection(cfg: RunConfig, model) -> RunConfig:
    """``cfg`` with ``optim.project_norm_frac`` made absolute: each member's target is its fraction of
    the member's initial total norm, read off the model as built (a resume rebuilds the same one)."""
    frac = cfg.optim.project_norm_frac
    fracs = frac if isinstance(frac, list) else [frac] * cfg.n_members
    if not any(f > 0 for f in fracs):
        return cfg
    require(len(fracs) == cfg.n_members, "optim.project_norm_frac", frac,
            f"one number or a list of n_members={cfg.n_members} numbers")
    with torch.no_grad():
        norm = torch.linalg.vector_norm(torch.stack(
            [torch.linalg.vector_norm(p.reshape(p.shape[0], -1), dim=1) for p in model.parameters()]), dim=0)  # [model]
    targets = [f * n for f, n in zip(fracs, norm.double().tolist())]
    return dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, project_norm=targets, project_norm_frac=0.0))


def _device_data(task, sp, model, pad_to: int = 0) -> TrainData:
    """The task's rows on the model's device; token ids are range-checked here, once."""
    if input_kind(task) == "tokens":
        check_token_values(task.inputs, model.cfg.d_vocab)  # every batch is drawn from these rows
        model.check_token_range = False
    return TrainData(task, sp, model.device, model.dtype, pad_to)


def _update(state: RunState, data: TrainData, cfg: RunConfig) -> None:
    """One optimizer update of every live member; a member whose loss is not finite is frozen."""
    inputs, labels, weights = data.batch(cfg.train.batch_size, state.gens)
    if state.dropout_gens is None:
        logits = state.model(inputs)
    else:
        with state.model.train_dropout(state.dropout_gens):  # dropout in this forward pass only
            logits = state.model(inputs)
    member_loss = member_objective(logits, labels, weights, cfg.train)  # [model]
    freeze_nonfinite(state, member_loss)
    params = state.params
    for p in params.values():
        p.grad = None
    torch.where(state.active, member_loss, torch.zeros_like(member_loss)).sum().backward()
    state.opt_state = state.opt.step(params, None, state.opt_state, active=state.active)


def member_objective(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, train_cfg) -> torch.Tensor:
    """``[model]``: each member's training objective, ``train.loss_scale`` x its mean loss over the batch."""
    per_example = per_example_loss(logits, labels, train_cfg.loss)  # [model, batch]
    member_loss = (per_example * weights).sum(1)  # [model]: each member's mean loss
    if train_cfg.loss_scale != 1.0:
        member_loss = member_loss * train_cfg.loss_scale  # the objective (PAIR's class-averaged CE); metrics stay unscaled
    return member_loss


def freeze_nonfinite(state: RunState, member_loss: torch.Tensor) -> None:
    """Freeze (``state.active`` False) the live members whose loss ``[rows]`` is not finite, at this step."""
    finite = torch.isfinite(member_loss)
    if not bool(finite.all()):
        newly = state.active & ~finite  # [rows]
        state.diverged_step[state.rows[newly.cpu().numpy()]] = state.step
        state.active = state.active & finite


def _context(state: RunState, data: TrainData, cfg: RunConfig) -> EvalContext:
    return EvalContext(step=state.step, total=cfg.train.steps, active=state.full_active(),
                       diverged_step=state.diverged_step.copy(), model=state.model, data=data, cfg=cfg,
                       retired_step=state.retired_step.copy(), rows=state.rows.copy())


def _evaluate(state: RunState, data: TrainData, cfg: RunConfig) -> tuple[dict[str, np.ndarray], EvalContext]:
    """The built-in metrics (one forward pass over the live members), then each hook's, all ``[model]``
    (NaN for retired members); and the context carrying the hooks' requests."""
    m = data.evaluate(state.model, cfg.train.loss)
    params = state.params.values()
    m["weight_norm"] = torch.sqrt(sum(p.detach().pow(2).flatten(1).sum(1) for p in params))
    values = {k: state.to_members(v.detach().double().cpu().numpy()) for k, v in m.items()}
    ctx = _context(state, data, cfg)
    for hook in state.hooks:
        for name, v in (hook(state.step, MappingProxyType(values), ctx) or {}).items():
            if name in values:
                raise ConfigError(f"hook {hook.name!r} returned metric {name!r}: "
                                  "the run already has a metric of that name")
            v = np.asarray(v, dtype=np.float64)
            if state.any_retired and v.shape == state.rows.shape:  # values of ctx.model's rows
                v = state.to_members(v)
            values[name] = np.broadcast_to(v, (cfg.n_members,)).copy()
    return values, ctx


def _retire_requested(state: RunState, data: TrainData, ctx: EvalContext, last_retired: np.ndarray) -> list[str]:
    """Retire the live members the hooks asked to (``ctx.retire``): the run compacts (``RunState.retire``,
    ``TrainData.select_members``). When no member would be left the run stops here instead (nothing is
    left to train; a resume from the final state then re-decides them), and a stop reason is returned."""
    if ctx.retired is None:
        return []
    leaving = ctx.retired & (state.retired_step < 0)
    if not leaving.any():
        return []
    if not (state.retired_step < 0)[~leaving].any():
        last_retired[leaving] = state.step
        return ["every member is decided (retired)"]
    keep = state.retire(leaving)
    data.select_members(keep)
    return []


def _progress_info(state: RunState, values: dict[str, np.ndarray], total: int, rate: float) -> dict[str, Any]:
    return {"step": state.step, "total": total, "steps_per_s": rate, "n_diverged": int((state.diverged_step >= 0).sum()),
            "n_live": len(state.rows), "train_acc": _median(values["train_acc"]), "test_acc": _median(values["test_acc"])}


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


def _member_rows(state: RunState, ctx: EvalContext, seeds: list[int], sp) -> list[dict[str, Any]]:
    """One row per member: seed and sizes, each hook's fields (mem_step, gen_step, delay, phase), divergence."""
    rows = [{"member": i, "seed": s, "n_train": int(n)} for i, (s, n) in enumerate(zip(seeds, sp.n_train.tolist()))]
    if sp.has_unseen:
        for r, u in zip(rows, sp.n_unseen.tolist()):
            r["n_unseen"] = int(u)
    for hook in state.hooks:
        for r, extra in zip(rows, hook.member_fields(ctx) or []):
            r.update(extra)
    for r, d in zip(rows, state.diverged_step.tolist()):
        r["diverged"] = d >= 0
        r["diverged_step"] = int(d) if d >= 0 else None
    return rows
