"""Quanta discovery from gradients (QDG): cluster samples by the direction of the loss gradient on each.

Michaud et al. 2023 ("The Quantization Model of Neural Scaling", §5): if a network's performance is
made of discrete quanta, samples that need the same quantum should pull the parameters the same
way. QDG takes samples the model predicts well, computes the gradient of each one's loss with
respect to (a chosen set of) the parameters, and clusters the samples by the angle between those
gradients; the cluster sizes' rank-frequency law then estimates the quanta's use frequencies.

Steps (``qdg``):

1. **Selection.** The loss of every given sample (one batched forward pass); keep those below
   ``max_loss`` (default 0.1 bits, issue 10's "learned" rule; the seed: "10,000 tokens where the
   model got low loss"), then ``samples`` of them drawn without replacement from ``seed``.
2. **Per-sample gradients, each computed once**: ``torch.func.vmap(grad(loss))`` over a chunk of
   ``chunk`` samples at a time through ``functional_call`` (memory ``chunk x P`` plus activations),
   flattened over the chosen parameters and normalized to unit length: ``G [n, P]`` float32
   (``n·P·4`` bytes; 4 GB for 10,000 samples of 100k parameters); ``ce_gradient="stable"`` keeps a
   confident sample's cross-entropy gradient exact (``_grads.py``). The reference
   (ejmichaud/quantization-model, ``experiments/clustering-0``) recomputes every block of
   gradients for each block pair, about ``n / (2·250)`` times each (20 times for 10,000 samples).
3. **Cosine similarity** ``C = G Gᵀ`` ``[n, n]`` float32, in row blocks of the upper triangle,
   mirrored (half the FLOPs of a full product), clipped to [-1, 1].
4. **Spectral clustering** on the affinity ``1 - arccos(C)/π`` (``affinity="signed"``, the paper's)
   or ``1 - arccos(|C|)/π`` (``"abs"``: a gradient and its negative are alike, see ``_clusters``)
   for every ``k`` of ``clusters`` (``_clusters.spectral_sweep``: scikit-learn, one embedding for
   the whole sweep).
5. **Rank-frequency** of each ``k``'s cluster sizes with a fitted power law (``_rankfreq``), and,
   where ground-truth labels are given (a task's groups: the subtasks of multitask sparse parity),
   the adjusted Rand index between clusters and truth and the clusters' homogeneity (1 when each
   cluster lies inside one group, as when the clusters refine the groups).

A sample whose gradient has no direction (exactly zero: its float loss is 0, or no parameter
of the chosen set reaches it) gets the zero vector: cosine 0 with every sample, affinity 1/2;
``n_zero_gradients`` counts them. (With ``ce_gradient="stable"`` a very confident sample keeps its
direction even where its norm, ``1 − p_y`` times it, underflows to 0: it is not counted.)

Per-sample gradients and cosine similarities (steps 2 and 3, and the exact cross-entropy gradient of a
confident sample, ``ce_gradient="stable"``) are in ``_grads.py``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from grokscope._json import jsonable
from grokscope.errors import AnalysisError
from grokscope.quanta._clusters import (
    AFFINITIES,
    EIGEN_SOLVERS,
    adjusted_rand,
    angular_affinity,
    homogeneity,
    spectral_sweep,
)
from grokscope.quanta._grads import (
    CE_GRADIENTS,
    PerSampleGradients,
    cosine_similarity,
    per_sample_gradients,
    prepare_inputs,
    sample_losses,
    select_params,
)
from grokscope.quanta._rankfreq import RankFrequency, rank_frequency
from grokscope.validate import (
    check_choice,
    check_int,
    check_number,
    check_seed,
    require,
)

__all__ = [
    "ClusterResult",
    "PerSampleGradients",
    "QDGConfig",
    "QDGResult",
    "cosine_similarity",
    "per_sample_gradients",
    "qdg",
    "qdg_run",
    "select_params",
]

LOW_LOSS_NATS = 0.1 * math.log(2)  # 0.1 bits: issue 10's rule for a learned subtask, in nats


@dataclass(frozen=True)
class QDGConfig:
    """What QDG clusters and how; every field is checked when the config is built."""

    samples: int = 10_000  # Michaud et al. 2023 clustered 10,000 low-loss tokens (seed, "Automatic clustering")
    clusters: tuple[int, ...] = (10, 20, 50, 100)  # the sweep; the reference swept 10..1500 on 10,000 samples
    params: tuple[str, ...] | None = None  # parameter names or dotted prefixes ("blocks.0.mlp"); None: all
    max_loss: float | None = LOW_LOSS_NATS  # keep samples with loss below this (nats); None: every sample
    chunk: int = 128  # samples per vmap call: working set ~2 x chunk x P floats (fastest of 32/128/256 here)
    block: int = 1024  # rows of C per matrix product
    eigen_solver: str = "arpack"  # scikit-learn's default for SpectralClustering; "lobpcg" is faster on large n
    affinity: str = "signed"  # 1 - arccos(C)/pi as the paper (and the reference's notebooks); "abs": of |C|
    ce_gradient: str = "autograd"  # autograd of F.cross_entropy (as the reference); "stable": the same loss
    # written so that its gradient keeps its direction at any loss (module docstring)
    n_init: int = 10  # k-means restarts (scikit-learn's default; the reference used 30)
    n_boot: int = 1000  # bootstrap resamples of the rank-frequency exponent
    level: float = 0.95
    seed: int = 0  # sample draw, spectral embedding, k-means and bootstrap

    def __post_init__(self):
        samples = check_int(self.samples, "samples", 1)
        ks = self.clusters
        require(isinstance(ks, (list, tuple)) and len(ks) > 0, "clusters", ks, "a non-empty list of integers")
        ks = tuple(check_int(k, "clusters", 2, samples) for k in ks)
        object.__setattr__(self, "clusters", tuple(sorted(set(ks))))
        if self.params is not None:
            ps = (self.params,) if isinstance(self.params, str) else tuple(self.params)
            require(len(ps) > 0 and all(isinstance(p, str) and p for p in ps), "params", self.params,
                    "a list of parameter names or prefixes, or None for all")
            object.__setattr__(self, "params", ps)
        if self.max_loss is not None:
            check_number(self.max_loss, "max_loss", 0.0, lo_open=True)
        check_int(self.chunk, "chunk", 1)
        check_int(self.block, "block", 1)
        check_choice(self.eigen_solver, "eigen_solver", EIGEN_SOLVERS)
        check_choice(self.affinity, "affinity", AFFINITIES)
        check_choice(self.ce_gradient, "ce_gradient", CE_GRADIENTS)
        check_int(self.n_init, "n_init", 1)
        check_int(self.n_boot, "n_boot", 0)
        check_number(self.level, "level", 0.0, 1.0, lo_open=True, hi_open=True)
        check_seed(self.seed)




@dataclass
class ClusterResult:
    """One ``k`` of the sweep: each sample's cluster, the sizes' rank-frequency law, agreement with truth."""

    k: int
    labels: list[int]  # [n] cluster of each sample (in the order of QDGResult.rows)
    rank_frequency: RankFrequency
    ari: float | None  # adjusted Rand index against the truth labels (None without truth)
    # 1 - H(truth | cluster) / H(truth): 1 when every cluster lies inside one truth group, also when the
    # clusters are finer than the groups (where the ARI is low); None without truth
    homogeneity: float | None = None

    def to_dict(self) -> dict:
        return jsonable({"k": self.k, "ari": self.ari, "homogeneity": self.homogeneity,
                         "rank_frequency": self.rank_frequency.to_dict(), "labels": self.labels})


@dataclass
class QDGResult:
    """Everything QDG measured, as plain data (``to_dict`` / ``to_json``)."""

    definition: str
    n_samples: int
    n_candidates: int  # samples below max_loss before the draw
    n_params: int
    params: list[str]
    rows: list[int]  # the clustered samples: indices into the given inputs (task rows for a run)
    losses: list[float]  # their losses (nats)
    n_zero_gradients: int
    mean_cosine: float  # mean off-diagonal cosine similarity
    clusters: list[ClusterResult]
    config: dict
    seconds: dict[str, float] = field(default_factory=dict)
    truth: list[int] | None = None  # ground-truth label of each clustered sample (e.g. its subtask)
    source: str = ""  # what was clustered ("run 3 (name), member 0, step 2000")

    def to_dict(self) -> dict:
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def summary(self) -> dict:
        """The sweep without per-sample lists: k, ARI, homogeneity, exponent with interval, largest sizes."""
        return jsonable({"source": self.source, "n_samples": self.n_samples, "n_candidates": self.n_candidates,
                         "n_params": self.n_params, "n_zero_gradients": self.n_zero_gradients,
                         "mean_cosine": self.mean_cosine, "seconds": self.seconds,
                         "sweep": [{"k": c.k, "ari": c.ari, "homogeneity": c.homogeneity,
                                    "exponent": c.rank_frequency.exponent.to_dict(),
                                    "slope": c.rank_frequency.slope, "largest": c.rank_frequency.sizes[:5]}
                                   for c in self.clusters]})


def _draw(losses: torch.Tensor, cfg: QDGConfig) -> tuple[torch.Tensor, int]:
    ok = torch.isfinite(losses)
    if cfg.max_loss is not None:
        ok &= losses < cfg.max_loss
    cand = ok.nonzero().flatten()  # [n_candidates]
    gen = torch.Generator().manual_seed(cfg.seed)
    take = cand[torch.randperm(cand.numel(), generator=gen)[: cfg.samples]]
    return take.sort().values, int(cand.numel())


def qdg(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, cfg: QDGConfig = QDGConfig(), *,
        loss: str = "ce", truth=None, source: str = "") -> QDGResult:
    """Quanta discovery from gradients on ``inputs [n_all, ...]`` (see the module docstring).

    ``truth``: optional ground-truth labels ``[n_all]`` (ints; negative = none) for the adjusted Rand
    index of every ``k`` against them (over the clustered samples that have one).
    """
    t0 = time.perf_counter()
    labels = torch.as_tensor(labels, dtype=torch.long)
    losses = sample_losses(model, prepare_inputs(model, inputs), labels, loss, cfg.chunk)
    rows, n_cand = _draw(losses, cfg)
    if rows.numel() < cfg.clusters[-1]:
        rule = f"loss below {cfg.max_loss:.4g} nats" if cfg.max_loss is not None else "a finite loss"
        raise AnalysisError(f"{n_cand} of {losses.numel()} samples have {rule}: too few for {cfg.clusters[-1]} "
                            "clusters; ask for fewer clusters or raise max_loss (--max-loss-bits, --all-samples)")
    t1 = time.perf_counter()
    psg = per_sample_gradients(model, inputs[rows], labels[rows], params=cfg.params, loss=loss, chunk=cfg.chunk,
                               stable_ce=cfg.ce_gradient == "stable")
    t2 = time.perf_counter()
    n_zero = int((torch.linalg.vector_norm(psg.grads, dim=1) == 0).sum())  # rows without a direction
    C = cosine_similarity(psg.grads, cfg.block)  # [n, n]
    psg = psg._replace(grads=None)  # G [n, P] is the largest array: free it before clustering
    n = rows.numel()
    mean_cos = float((C.sum(dtype=torch.float64) - C.diagonal().sum(dtype=torch.float64)) / max(1, n * (n - 1)))
    t3 = time.perf_counter()
    A = angular_affinity(C, cfg.affinity)
    del C
    sweep, sk = spectral_sweep(A, cfg.clusters, eigen_solver=cfg.eigen_solver, seed=cfg.seed, n_init=cfg.n_init)
    del A
    t4 = time.perf_counter()
    tl = None
    if truth is not None:
        tl = np.asarray(torch.as_tensor(truth)[rows], dtype=np.int64)
    out = []
    for k, lab in sweep.items():
        ari = homog = None
        if tl is not None and (tl >= 0).any():
            known = tl >= 0  # [n]: samples with a truth label
            ari, homog = adjusted_rand(tl[known], lab[known]), homogeneity(tl[known], lab[known])
        rf = rank_frequency(lab, n_boot=cfg.n_boot, level=cfg.level, seed=cfg.seed)
        out.append(ClusterResult(k, lab.tolist(), rf, ari, homog))
    t5 = time.perf_counter()
    rule = f"loss < {cfg.max_loss:.4g} nats" if cfg.max_loss is not None else "any loss"
    how = ", stable cross-entropy gradient" if cfg.ce_gradient == "stable" and loss in ("ce", "ce64") else ""
    definition = (f"QDG (Michaud et al. 2023, §5): samples with {rule}, "
                  f"up to {cfg.samples} drawn from seed {cfg.seed}; per-sample gradients of the {loss} loss w.r.t. "
                  f"{len(psg.names)} parameter tensors{how}, unit-normalized; C = cosine similarity; "
                  f"spectral clustering (scikit-learn, {cfg.eigen_solver}, k-means n_init={cfg.n_init}) on "
                  f"1 - arccos({'|C|' if cfg.affinity == 'abs' else 'C'})/pi")
    cfg_d = {k: getattr(cfg, k) for k in cfg.__dataclass_fields__} | {"loss": loss}
    return QDGResult(
        definition=definition, n_samples=n, n_candidates=n_cand, n_params=sum(psg.sizes), params=psg.names,
        rows=rows.tolist(), losses=psg.losses.tolist(), n_zero_gradients=n_zero,
        mean_cosine=mean_cos, clusters=out, config=jsonable(cfg_d),
        seconds={"select_s": t1 - t0, "gradients_s": t2 - t1, "similarity_s": t3 - t2, **sk,
                 "rank_frequency_s": t5 - t4, "total_s": t5 - t0},
        truth=None if tl is None else tl.tolist(), source=source,
    )


def _group_labels(task) -> np.ndarray | None:
    """Each task row's group index (``[n_all]``, -1 outside every group), or None if groups overlap or none exist."""
    from grokscope.tasks import task_groups

    groups = task_groups(task)
    if not groups:
        return None
    out = np.full(task.n_all, -1, dtype=np.int64)
    for g, rows in enumerate(groups.values()):
        rows = np.asarray(rows, dtype=np.int64)
        if (out[rows] >= 0).any():
            return None
        out[rows] = g
    return out


def qdg_run(store, run_id: int, *, member: int = 0, step: int | None = None, cfg: QDGConfig = QDGConfig()) -> QDGResult:
    """QDG of member ``member`` of a stored run at checkpoint ``step`` (default: the last) on the task's rows.

    The task, model and loss come from the run's config (``grokscope.analysis.load_run``); the
    samples are the task's rows (all of them: train, test and any unseen rows); when the task's
    groups partition its rows (multitask sparse parity: one group per subtask) they are the truth
    labels of the adjusted Rand index.
    """
    from grokscope.analysis import load_run
    from grokscope.config import RunConfig

    run = load_run(store, run_id)
    check_int(member, "member", 0, run.n_members - 1)
    if step is None:
        step = run.steps[-1]
    require(step in run.steps, "step", step, f"a checkpoint step of run {run_id} "
            f"({len(run.steps)} from {run.steps[0]} to {run.steps[-1]}; see `grokscope show {run_id}`)")
    ens = run.model
    ens.load_state_dict(run.load(step))
    model = ens.member(member)
    select_params(model, cfg.params)  # unknown names fail before any work
    loss = RunConfig.from_dict(store.get_run(run_id).config).train.loss
    task = run.task
    return qdg(model, task.inputs, task.labels, cfg, loss=loss, truth=_group_labels(task),
               source=f"{run.label}, member {member}, step {step}, task {task.name}")
