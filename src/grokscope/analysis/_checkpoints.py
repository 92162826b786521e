"""Curves over a run's checkpoints, computed on every input in one batched pass.

A set of checkpoints *is* an ensemble: the ``n_checkpoints x n_members`` states are stacked
into one ensemble of the run's architecture and evaluated in chunks on every input (the full
``(a, b)`` grid for modular ``a +- b`` tasks). From each chunk's logits come the losses and
accuracies of every split and group, fallibility per split (Gokhale 2023, "The semantic
landscape paradigm for neural networks", eq. 2) and the weight norm; on Fourier tasks also
the restricted and excluded losses and Gini coefficients (Nanda et al. 2023, "Progress
measures for grokking via mechanistic interpretability", §5) and the heuristic-model label.
What the model is (its embedding, its neuron-logit map, its width) comes from its
``anatomy`` (``grokscope.models.Anatomy``), never from parameter names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from grokscope.analysis._heuristic import frequencies_in_use, heuristic_labels
from grokscope.analysis._progress import (
    cross_entropy, excluded_logits, grid_layout, restricted_logits, sum_squared_weights, wave_profile, weight_ginis,
)
from grokscope.analysis._run_data import RunData
from grokscope.errors import AnalysisError
from grokscope.tasks import task_groups

__all__ = ["Measures", "checkpoint_measures", "eval_inputs", "stack_states", "fourier_ready"]

# Elements (float32) of one chunk's logits + hidden activations: ~250 MB keeps the
# working set in memory next to other jobs while batching several checkpoints per call.
_CHUNK_ELEMS = 3e7


@dataclass
class Measures:
    """Curves over checkpoints: every array is ``[n_steps, model]`` unless noted."""

    steps: np.ndarray
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    key_freqs: list[list[int]] = field(default_factory=list)  # per member, from the last checkpoint
    labels: list[list[str]] = field(default_factory=list)  # [n_steps][model] heuristic-model labels


def eval_inputs(task) -> tuple[torch.Tensor, torch.Tensor | None, int | None]:
    """Inputs to evaluate: the full (a, b) grid for Fourier tasks, else the task's inputs.

    Returns ``(inputs [n_eval, ...], idx [n_all] row -> eval position or None, sign)``.
    """
    try:
        idx, sign = grid_layout(task)
    except AnalysisError:
        return task.inputs, None, None
    p = task.fourier_p
    a = torch.arange(p)
    grid = torch.stack(torch.meshgrid(a, a, indexing="ij"), -1).reshape(-1, 2)  # [p*p, 2]
    if task.n_ctx == 3:  # "a b =" context: append the "=" token of the task
        grid = torch.cat([grid, task.inputs[:1, 2:].expand(p * p, 1)], 1)
    return grid, idx, sign


def fourier_ready(task, anatomy) -> bool:
    """Whether the Fourier measures apply: a modular ``a +- b`` task with ``n_classes == p`` and a
    model whose anatomy has a neuron-logit map and an embedding (or input map)."""
    try:
        grid_layout(task)
    except AnalysisError:
        return False
    return (anatomy is not None and task.n_classes == task.fourier_p and anatomy.neuron_out is not None
            and (anatomy.embedding is not None or anatomy.neuron_in is not None))


def stack_states(model, states: list[dict], pool: dict | None = None):
    """One ensemble holding every member of every state dict (``len(states) * n_members`` models).

    ``pool`` (size -> ensemble) reuses the ensembles of earlier chunks instead of allocating new ones.
    """
    n = sum(next(iter(s.values())).shape[0] for s in states)
    ens = pool.get(n) if pool is not None else None
    if ens is None:
        ens = type(model)(model.cfg, n_models=n, dtype=next(model.parameters()).dtype)
        if pool is not None:
            pool[n] = ens
    with torch.no_grad():
        for name, param in ens.named_parameters():
            param.copy_(torch.cat([s[name] for s in states]))
    return ens


def _forward(ens, inputs: torch.Tensor) -> torch.Tensor:
    if inputs.is_floating_point():  # real-valued features: in the model's dtype
        inputs = inputs.to(next(ens.parameters()).dtype)
    with torch.no_grad():
        return ens(inputs)  # [model, n_eval, n_classes]


def _member_blocks(x: torch.Tensor, n_members: int) -> torch.Tensor:
    return x.reshape(-1, n_members, *x.shape[1:])


def _groups(task) -> dict[str, torch.Tensor]:
    """The task's named row groups as bool masks ``[n_all]`` (none for tasks without groups)."""
    out = {}
    for name, rows in task_groups(task).items():
        m = torch.zeros(task.n_all, dtype=torch.bool)
        m[rows] = True
        out[name] = m
    return out


def checkpoint_measures(run: RunData, steps: list[int] | None = None, *, mode: str = "wave") -> Measures:
    """All progress measures at ``steps`` (default: every checkpoint) of ``run``.

    Every task: loss and accuracy of every split the run keeps (``{split}_{loss,acc}``, and
    ``{split}_{loss,acc}/{group}`` per task group), fallibility per split (sum of
    ``-log p(label)`` over the split's inputs, ``F_{split}``, and ``F_all``) and the sum of
    squared weights. Fourier tasks (:func:`fourier_ready`) add the restricted loss (all inputs)
    and excluded loss (train inputs) with each member's key frequencies found at the last
    step, the Gini of the embedding and of the neuron-logit map, and the heuristic-model label.
    """
    steps = list(run.steps if steps is None else steps)
    task, n_m = run.task, run.n_members
    tokens, idx, sign = eval_inputs(task)
    labels = task.labels
    anatomy0 = run.anatomy(run.load(steps[-1]))
    fourier = idx is not None and fourier_ready(task, anatomy0)
    width = anatomy0.d_hidden if anatomy0 is not None else task.n_classes
    n_eval, n_cls = tokens.shape[0], task.n_classes
    # Per model: float64 logits for the losses, plus the forward's hidden activations.
    per_model = n_eval * (2 * n_cls + 3 * width)
    chunk = max(1, int(_CHUNK_ELEMS // (per_model * n_m)))  # checkpoints per forward
    p = task.fourier_p if fourier else None
    outside = out_labels = None
    if idx is not None:
        q = task.fourier_p
        d_rows = ((idx // q + sign * (idx % q))[:, None] - torch.arange(n_cls)) % q  # [n_all, C]: d = a + s b - c
        # Fallibility sums over *all possible* inputs (Gokhale 2023, eq. 2): on the grid, pairs
        # outside the task were never trained or tested on, so they form the unseen split.
        seen = torch.zeros(q * q, dtype=torch.bool)
        seen[idx] = True
        if not bool(seen.all()) and run.unseen_mask is None:
            outside = (~seen).nonzero().flatten()  # [n_out]
            out_labels = (outside // q + sign * (outside % q)) % q
    # Key frequencies per member come from the last analysed checkpoint (Nanda et al. fix
    # them from the trained model and track their components backwards in time).
    key: list[list[int]] = [[] for _ in range(n_m)]
    if fourier:
        last = _forward(stack_states(run.model, [run.load(steps[-1])]), tokens)  # [M, p*p, C]
        mask = frequencies_in_use(last.double().reshape(n_m, p, p, n_cls), sign)
        key = [mask[m].nonzero().flatten().tolist() for m in range(n_m)]

    out: dict[str, list[np.ndarray]] = {}
    names: list[list[str]] = []
    pool: dict = {}
    add = lambda k, v: out.setdefault(k, []).append(np.asarray(v, dtype=float).reshape(-1, n_m))  # noqa: E731
    splits, groups = run.masks(), _groups(task)
    for i in range(0, len(steps), chunk):
        states = [run.load(s) for s in steps[i : i + chunk]]
        n_c = len(states)
        grid_logits = _forward(stack_states(run.model, states, pool), tokens).double()  # [n_c * M, n_eval, C]
        rows = grid_logits[:, idx] if idx is not None else grid_logits  # [n_c * M, n_all, C]
        rep = lambda m: m.repeat(n_c, 1).double()  # noqa: E731  masks [M, n_all] -> [n_c * M, n_all]
        # One log-softmax serves losses and fallibility: for one-hot truth KL = -log p(label).
        nll = -torch.log_softmax(rows, -1).gather(-1, labels.expand(rows.shape[0], -1)[..., None])[..., 0]
        hit = (rows.argmax(-1) == labels).double()  # [n_c * M, n_all]
        for name, mask in splits.items():
            w = rep(mask)
            add(f"F_{name}", (nll * w).sum(-1))
            add(f"{name}_loss", (nll * w).sum(-1) / w.sum(-1))
            add(f"{name}_acc", (hit * w).sum(-1) / w.sum(-1))
            for g, rows_g in groups.items():
                wg = w * rows_g.double()
                add(f"{name}_loss/{g}", (nll * wg).sum(-1) / wg.sum(-1))
                add(f"{name}_acc/{g}", (hit * wg).sum(-1) / wg.sum(-1))
        f_all = nll.sum(-1)
        if outside is not None:  # grid pairs that are no task row (mirror pairs of an unordered task)
            out_nll = -torch.log_softmax(grid_logits[:, outside], -1).gather(
                -1, out_labels.expand(rows.shape[0], -1)[..., None])[..., 0]
            add("F_unseen", out_nll.sum(-1))
            f_all = f_all + out_nll.sum(-1)
        add("F_all", f_all)
        add("sum_sq_weights", torch.stack([sum_squared_weights(s) for s in states]))
        if not fourier:
            continue
        L = _member_blocks(grid_logits.reshape(-1, p, p, n_cls), n_m)  # [n_c, M, p, p, C]
        restricted = torch.empty(n_c, n_m, dtype=torch.float64)
        excluded = torch.empty(n_c, n_m, dtype=torch.float64)
        rows_m = rows.reshape(n_c, n_m, *rows.shape[1:])  # [n_c, M, n_all, C]
        for m in range(n_m):
            if mode == "wave":  # the key part is a function of d = a + s b - c: gather, do not build p^3
                r = wave_profile(L[:, m], key[m], sign)[:, d_rows]  # [n_c, n_all, C]
                e = rows_m[:, m] - r
            else:
                r = restricted_logits(L[:, m], key[m], sign, mode).reshape(n_c, p * p, n_cls)[:, idx]
                e = excluded_logits(L[:, m], key[m], sign, mode).reshape(n_c, p * p, n_cls)[:, idx]
            restricted[:, m] = cross_entropy(r, labels)
            excluded[:, m] = cross_entropy(e, labels, run.train_mask[m].expand(n_c, -1))
        add("restricted_loss", restricted)
        add("excluded_loss", excluded)
        ginis = [weight_ginis(run.model.anatomy(s), p) for s in states]
        add("gini_embed", torch.stack([g[0] for g in ginis]))
        add("gini_logit_map", torch.stack([g[1] for g in ginis]))
        labs, mem = heuristic_labels(grid_logits.reshape(-1, p, p, n_cls), labels, idx, rep(run.train_mask), sign)
        add("mem_frac", mem)
        names.extend([[str(labs[c * n_m + m]) for m in range(n_m)] for c in range(n_c)])
    curves = {k: np.concatenate(v) for k, v in out.items()}
    return Measures(np.asarray(steps, dtype=float), curves, key, names)
