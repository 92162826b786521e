"""The trained members a landscape measurement reads: curves over checkpoints and a node label at each.

Each stored run (one ensemble) is read once with :func:`grokscope.analysis.checkpoint_measures`,
which evaluates every checkpoint on every input and gives, per member, the fallibility of every
split the run keeps (``F_train``, ``F_test``, ``F_unseen``, ``F_all``: sums over the split's inputs
of ``-log p(label)``, Gokhale 2023, "The semantic landscape paradigm for neural networks", Eq. 2),
the losses and accuracies, and the heuristic-model label of each checkpoint.

Labels (the nodes of the graph):

* modular ``a ± b`` tasks read by a Fourier-ready model: the heuristic-walk label of
  :mod:`grokscope.analysis._heuristic`, the frequencies in use and the memorized fraction of the
  training points (``{3,7} mem=0.1``); coarse: how many frequencies (``2f mem=0.1``);
* group composition (``S_n``, ``D_n``) read by a model with an embedding: the irreps carrying 90%
  of the embedding's non-trivial energy and the memorized fraction (``{ρ2} mem=0.0``,
  :mod:`grokscope.landscape_measured._irreps`); coarse: how many irreps (``1ρ mem=0.0``);
* sparse parity read through an input map: the bits in use, those whose L1 weight mass (row of
  ``W_in``) is at least ``BIT_FACTOR`` times the median bit's (``bits{0,1,2}``); coarse: how many
  bits in use and how many of them relevant (``3b/3r``).

Other tasks have no labels, and reading them raises ``AnalysisError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from grokscope.errors import AnalysisError
from grokscope.landscape_measured._irreps import group_labels
from grokscope.tasks import composed_group
from grokscope.landscape_measured._walks import Walk

__all__ = ["BIT_FACTOR", "MemberRecord", "coarse_label", "load_members", "parity_label"]

# A bit is "in use" when its weight mass is >= 4x the median bit's: at initialization all bits carry
# about the same mass; weight decay prunes the distractor bits of a sparse-parity task (Pearce et al.
# 2023, PAIR, "1s and 0s"), so the relevant ones stand out by a large factor once it generalizes.
BIT_FACTOR = 4.0


@dataclass
class MemberRecord:
    """One trained member: its checkpoint steps, a node label and the curves at each (``[n_steps]``)."""

    run_id: int
    member: int
    values: dict  # the swept values of a sweep member ({} for a run read on its own)
    steps: np.ndarray  # [n_steps]
    labels: list[str]  # [n_steps] heuristic-model labels
    curves: dict[str, np.ndarray]  # F_train, F_test, F_unseen (if kept), F_all, test_loss, train_acc, ...
    n_split: dict[str, int]  # inputs per split (train, test, unseen)
    mem_step: float = float("nan")  # the trainer's memorization / generalization steps (NaN: never)
    gen_step: float = float("nan")
    task: str = ""
    coarse_labels: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"run {self.run_id} member {self.member}"

    @property
    def data_size(self) -> float:
        return float(self.n_split.get("train", float("nan")))

    def walk(self, coarse: bool = False) -> Walk:
        """The member's walk: labels at its checkpoints, F = ``F_all`` (nats, summed over every input)."""
        extra = {f"{k}_per_input": self.curves[k] / max(self.n_split[k[2:]], 1)
                 for k in ("F_train", "F_test", "F_unseen") if k in self.curves and k[2:] in self.n_split}
        return Walk(self.name, self.steps, tuple(self.coarse_labels if coarse else self.labels), self.curves["F_all"],
                    self.data_size, extra)


def coarse_label(label: str) -> str:
    """``{3,7} mem=0.1`` -> ``2f mem=0.1``; ``{ρ2,ρ3} mem=0.0`` -> ``2ρ mem=0.0``; ``bits{0,4}`` -> ``2b``
    (how many, not which).

    >>> coarse_label("{3,7} mem=0.1"), coarse_label("{} mem=1.0"), coarse_label("bits{0,4}/2r")
    ('2f mem=0.1', '0f mem=1.0', '2b/2r')
    >>> coarse_label("{ρ2,ρ3} mem=0.0")
    '2ρ mem=0.0'
    """
    m = re.fullmatch(r"\{([\d,]*)\} (mem=.*)", label)
    if m:
        return f"{len([f for f in m.group(1).split(',') if f])}f {m.group(2)}"
    m = re.fullmatch(r"\{([^}]*)\} (mem=.*)", label)
    if m:
        return f"{len([f for f in m.group(1).split(',') if f])}ρ {m.group(2)}"
    m = re.fullmatch(r"bits\{([\d,]*)\}/(\d+)r", label)
    if m:
        return f"{len([f for f in m.group(1).split(',') if f])}b/{m.group(2)}r"
    return label


def parity_label(mass: np.ndarray, positions) -> str:
    """Label of one input map's bit masses ``[n_bits]``: the bits in use and how many are relevant.

    >>> parity_label(np.array([9.0, 8.0, 1.0, 1.0, 1.2, 0.9]), [0, 1, 2])
    'bits{0,1}/2r'
    """
    med = float(np.median(mass))
    used = [int(i) for i in np.nonzero(mass >= BIT_FACTOR * med)[0]] if med > 0 else []
    rel = len(set(used) & {int(p) for p in positions})
    return "bits{" + ",".join(map(str, used)) + f"}}/{rel}r"


def _labels(run, meas) -> list[list[str]]:
    """``[n_steps][model]`` labels of a run (Fourier, group or parity), or AnalysisError naming what is missing."""
    if meas.labels:
        return meas.labels
    from grokscope.analysis._snapshot import parity_ready
    from grokscope.analysis._sparsity import bit_mass

    last = run.anatomy(run.load(int(meas.steps[-1])))
    group = composed_group(run.task)
    if group is not None and last is not None and (last.embedding is not None or last.neuron_in is not None):
        return group_labels(run, meas.steps, group)
    if not parity_ready(run.task, last):
        raise AnalysisError(f"{run.label}: task {run.task.name} has no heuristic-model labels; the landscape needs a "
                            "modular a±b task read by a model with an embedding and a neuron-logit map (frequencies "
                            "in use, memorized fraction), a group-composition task read by a model with an embedding "
                            "(irreps in use) or a sparse-parity task read through an input map (bits)")
    maps = [run.anatomy(run.load(int(s))) for s in meas.steps]
    pos = run.task.positions
    return [[parity_label(bit_mass(a.neuron_in.double())[m].numpy(), pos) for m in range(run.n_members)] for a in maps]


def _read_run(store, run_id: int, members: list[int], values: dict[int, dict]) -> list[MemberRecord]:
    from grokscope.analysis import checkpoint_measures, load_run

    run = load_run(store, run_id)
    if len(run.steps) < 2:
        raise AnalysisError(f"run {run_id} has {len(run.steps)} weight checkpoint(s); a walk needs at least 2 "
                            "(train with log.n_checkpoints >= 2)")
    meas = checkpoint_measures(run)
    labels = _labels(run, meas)
    info = {int(m["member"]): m for m in store.members(run_id)}
    masks = run.masks()
    out = []
    for m in members:
        res = info.get(m, {})
        out.append(MemberRecord(
            run_id, m, values.get(m, {}), np.asarray(meas.steps, dtype=float), [row[m] for row in labels],
            {k: np.asarray(v[:, m], dtype=float) for k, v in meas.curves.items()},
            {k: int(v[m].sum()) for k, v in masks.items()},
            float(res["mem_step"]) if res.get("mem_step") is not None else float("nan"),
            float(res["gen_step"]) if res.get("gen_step") is not None and not res.get("diverged") else float("nan"),
            run.task.name, [coarse_label(row[m]) for row in labels]))
    return out


def load_members(store, source: str | int, *, run: bool = False) -> list[MemberRecord]:
    """The trained members of sweep ``source`` (name or id), or of run ``source`` when ``run``.

    Raises ``AnalysisError`` (one line) for fewer than 2 trained members, a run without
    checkpoints, or a task without heuristic-model labels.
    """
    from grokscope.sweep import sweep_members

    if run:
        try:
            run_id = int(source)
        except (TypeError, ValueError):
            raise AnalysisError(f"--run {source!r}: a run id must be an integer (see `grokscope runs`)") from None
        rec = store.get_run(run_id)
        if rec.kind == "simulation":
            raise AnalysisError(f"run {run_id} is a simulation ({rec.name}); give a trained run")
        by_run = {run_id: (list(range(rec.n_members)), {})}
        what = f"run {run_id}"
    else:
        trained = [m for m in sweep_members(store, source) if m["run_id"] is not None]
        by_run = {}
        for m in trained:
            ms, vals = by_run.setdefault(int(m["run_id"]), ([], {}))
            ms.append(int(m["member"]))
            vals[int(m["member"])] = m["values"]
        what = f"sweep {source!r}"
    n = sum(len(ms) for ms, _ in by_run.values())
    if n < 2:
        raise AnalysisError(f"{what} has {n} trained member(s); the landscape is measured across members, "
                            "so it needs at least 2 (more seeds or points)")
    out: list[MemberRecord] = []
    for run_id, (ms, vals) in sorted(by_run.items()):
        out.extend(_read_run(store, run_id, sorted(ms), vals))
    return out
