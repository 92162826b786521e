"""The measures of a run's analysis: small functions that each say which tasks and models they apply to.

A :class:`Measure` has a ``name``, a ``definition`` (what it is, citing the work it comes from),
``applies(task, anatomy) -> bool`` and ``compute(ctx) -> dict`` of plain numbers and lists.
``ctx`` (:class:`RunContext`) holds the run and the curves of its checkpoints, computed once in
one batched pass (``checkpoint_measures``) and shared by the measures that read them.
:func:`grokscope.analysis.analyze_run` runs every measure of :data:`MEASURES` that applies;
a new analysis is a new ``Measure`` here (or passed to ``analyze_run(measures=...)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from grokscope.analysis._checkpoints import Measures, checkpoint_measures, fourier_ready
from grokscope.analysis._construct import construction_accuracy
from grokscope.analysis._fallibility import transient_rise
from grokscope.analysis._heuristic import label_walk
from grokscope.analysis._progress import PHASE_RULE, grid_layout, progress_phases
from grokscope.analysis._run_data import RunData
from grokscope.analysis._snapshot import fourier_snapshot, parity_curves, parity_ready

__all__ = ["Measure", "RunContext", "MEASURES", "best_member"]


@dataclass(frozen=True)
class Measure:
    """One analysis of a run: what it is, when it applies, how it is computed (plain data out)."""

    name: str
    definition: str  # what the numbers mean and where the measure comes from (authors, title)
    applies: Callable[[object, object], bool]  # (task, anatomy or None) -> bool
    compute: Callable[["RunContext"], dict]  # -> {key: number | list | str | None}


def best_member(curves: dict[str, np.ndarray]) -> int:
    """The member with the highest test accuracy at the last checkpoint (0 when none is finite)."""
    acc = curves.get("test_acc", curves.get("train_acc"))
    return int(np.nanargmax(np.nan_to_num(acc[-1], nan=-1.0))) if acc is not None else 0


@dataclass
class RunContext:
    """What the measures read: the run, its last checkpoint's anatomy, and its curves (computed once)."""

    run: RunData
    anatomy: object  # grokscope.models.Anatomy of the last analysed checkpoint, or None
    steps: list[int]
    member: int | None = None  # whose snapshot is taken (default: the best member)
    _measures: Measures | None = field(default=None, repr=False)

    @property
    def measures(self) -> Measures:
        if self._measures is None:
            self._measures = checkpoint_measures(self.run, self.steps)
        return self._measures

    @property
    def curves(self) -> dict[str, np.ndarray]:
        return self.measures.curves

    @property
    def snapshot_member(self) -> int:
        return best_member(self.curves) if self.member is None else self.member


def _always(task, anatomy) -> bool:
    return True


def _phases(ctx: RunContext) -> dict:
    c = ctx.curves
    ph = progress_phases(ctx.measures.steps, c["train_acc"], c["test_loss"])
    return {"rule": PHASE_RULE, "mem_step": ph.mem_step, "clean_start": ph.clean_start, "clean_end": ph.clean_end}


def _rise(ctx: RunContext) -> dict:
    r = transient_rise(ctx.measures.steps, ctx.curves["test_loss"])
    return {k: getattr(r, k) for k in ("start_step", "peak_step", "end_step", "height", "ratio", "duration")}


def _key_freqs(ctx: RunContext) -> dict:
    return {"per_member": ctx.measures.key_freqs}


def _walk(ctx: RunContext) -> dict:
    meas = ctx.measures
    n_m = ctx.run.n_members
    walks = [[(int(s), lab) for s, lab in label_walk(meas.steps, [row[m] for row in meas.labels])] for m in range(n_m)]
    return {"labels": meas.labels, "walk": walks}


def _snapshot(ctx: RunContext) -> dict:
    return fourier_snapshot(ctx.run, ctx.steps[-1], member=ctx.snapshot_member)


def _parity(ctx: RunContext) -> dict:
    return parity_curves(ctx.run, ctx.steps)


def _applies_construction(task, anatomy) -> bool:
    return fourier_ready(task, anatomy) and grid_layout(task)[1] == 1  # the construction adds: a + b mod p


def _construction(ctx: RunContext) -> dict:
    p, n = ctx.run.task.fourier_p, ctx.anatomy.d_hidden
    return {"p": p, "n_neurons": n, "freq": 1,
            "accuracy": {act: construction_accuracy(p, n, act) for act in ("x2", "relu")}}


MEASURES: tuple[Measure, ...] = (
    Measure("phases", "Memorization, circuit formation and cleanup per member (Nanda et al. 2023, \"Progress "
            "measures for grokking via mechanistic interpretability\", §5.2): " + PHASE_RULE + ".",
            _always, _phases),
    Measure("test_loss_rise", "The transient rise of the test loss per member: its peak, the minimum before it, "
            "and the first return to that level (steps; height in nats).", _always, _rise),
    Measure("key_frequencies", "Each member's key frequencies: those whose waves cos/sin(w_k(a±b−c)) carry a "
            "key share of the last checkpoint's logits (Nanda et al. 2023, §4).", fourier_ready, _key_freqs),
    Measure("heuristic_walk", "The heuristic-model label at each checkpoint (frequencies in use, memorized "
            "fraction of training points) and its changes: the walk on the graph of heuristic models (Gokhale 2023, "
            "\"The semantic landscape paradigm for neural networks\", §2).", fourier_ready, _walk),
    Measure("fourier_snapshot", "The Fourier circuit of one member at the last checkpoint: embedding spectrum, "
            "neuron frequencies, the stars of Pearce et al. 2023 (\"Do machine learning models memorize or "
            "generalize?\", PAIR) and each frequency's logit wave (Nanda et al. 2023, §4).", fourier_ready, _snapshot),
    Measure("parity_relevant_bits", "Fraction of the input map's weight mass (L1, L2) on the relevant bits of a "
            "sparse-parity task, per checkpoint (Pearce et al. 2023, PAIR, \"1s and 0s\").", parity_ready, _parity),
    Measure("construction", "Accuracy on all p² pairs of PAIR's N-neuron circular construction with the run's "
            "width N (Pearce et al. 2023, appendix \"How the Circular Construction Works\"), for x² and ReLU.",
            _applies_construction, _construction),
)
