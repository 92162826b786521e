"""Node labels for group tasks: the irreps the embedding uses, and the memorized fraction.

For a task that composes a finite group (``S_n``, ``D_n``: ``grokscope.tasks`` group tasks, whose
label of ``(a, b)`` is the id of ``a·b``), a checkpoint's heuristic model is named like the modular
one (``{1,6,13} mem=0.0``), with irreducible representations in place of frequencies:

* **irreps in use** — the embedding ``[model, |G|, d]`` (``anatomy().embedding``, else the input
  map ``neuron_in``; rows = group elements) is split into the real isotypic components of the
  regular representation (``grokscope.groups.irrep_shares``). The trivial component (a column's
  mean over the elements) tells no element apart and is left out. The label names the fewest
  components, in decreasing share of the remaining energy, that together carry at least
  ``IRREP_ENERGY`` (90%) of it. Chughtai, Chan & Nanda 2023 ("A toy model of universality") find
  that networks which grok group composition embed the elements through a few irreps; an
  embedding that is not organised by irreps spreads its energy roughly as ``d_k²``, so the rule
  names most components. A planted embedding built from irreps S is labelled S.
* **mem** — the fraction of the member's training pairs answered correctly by the logits with the
  part explained by the irreps in use removed. A circuit of Chughtai et al. gives logits that are a
  function of ``g = a·b·c⁻¹`` (a sum of characters ``χ_ρ(a·b·c⁻¹)``); that part is the mean of the
  logits over each fibre ``{(a, b, c): a·b·c⁻¹ = g}`` projected onto the irreps in use. This is
  the modular label's rule (Nanda et al.'s excluded logits, made an accuracy: ``grokscope.analysis.
  _heuristic``) with the waves of ``a + b - c`` replaced by the irreps' functions of ``a·b·c⁻¹``.
  Rounded to ``MEM_BIN`` (0.1).

>>> import torch
>>> from grokscope.groups import parse_group, irreps
>>> g = parse_group("dihedral:5")
>>> r = irreps(g).irreps[2]                                     # a 2-dimensional irrep of D_5
>>> emb = torch.cat([r.matrices.real.reshape(10, 4), r.matrices.imag.reshape(10, 4)], 1)[None]  # [1, |G|, 8]
>>> irreps_in_use(irrep_shares(g, emb).shares[0].numpy(), irrep_shares(g, emb).labels)
['ρ2']
"""

from __future__ import annotations

import numpy as np
import torch

from grokscope.analysis._heuristic import MEM_BIN
from grokscope.groups import FiniteGroup, irrep_shares, isotypic_projectors

__all__ = ["IRREP_ENERGY", "group_labels", "irrep_label", "irreps_in_use", "memorized_fraction"]

IRREP_ENERGY = 0.9  # the label's irreps carry >= 90% of the embedding's non-trivial energy


def irreps_in_use(shares: np.ndarray, labels, energy: float = IRREP_ENERGY) -> list[str]:
    """The component labels the rule names from ``shares [n_components]`` (component 0 trivial).

    >>> irreps_in_use(np.array([0.5, 0.05, 0.3, 0.15]), ["ρ0", "ρ1", "ρ2", "ρ3"])
    ['ρ2', 'ρ3']
    """
    rest = np.asarray(shares, dtype=np.float64)[1:]
    total = rest.sum()
    if not total > 0:
        return []
    order = np.argsort(-rest, kind="stable")
    cum = np.cumsum(rest[order]) / total
    k = int(np.searchsorted(cum, energy - 1e-12)) + 1  # the fewest reaching `energy`
    return [labels[1 + int(i)] for i in sorted(order[:k].tolist())]


def irrep_label(names: list[str], mem: float) -> str:
    """``{ρ2,ρ3} mem=0.1``: the modular label's format (``grokscope.analysis._heuristic``)."""
    return "{" + ",".join(names) + "}" + f" mem={round(round(mem / MEM_BIN) * MEM_BIN, 10):.1f}"


def memorized_fraction(logits: torch.Tensor, group: FiniteGroup, inputs: torch.Tensor, labels: torch.Tensor,
                       train_mask: torch.Tensor, components: list[int], projectors: torch.Tensor | None = None) -> float:
    """Training accuracy of ``logits [n_all, C]`` minus their part in ``components`` as functions of a·b·c⁻¹.

    Strictly greater than every other class counts as right (ties of all-removed logits do not).
    ``projectors``: ``isotypic_projectors(group)``, when the caller already has them."""
    t, inv = group.table, group.inverse
    n = group.order
    g = t[t[inputs[:, 0], inputs[:, 1]][:, None], inv[torch.arange(n)][None, :]]  # [n_all, C]: a·b·c⁻¹
    x = logits.double()
    fibre = torch.zeros(n, dtype=torch.float64).index_add_(0, g.reshape(-1), x.reshape(-1))
    fibre = fibre / torch.bincount(g.reshape(-1), minlength=n).clamp_min(1).double()  # [|G|] mean per fibre
    if components:
        proj = (isotypic_projectors(group) if projectors is None else projectors)[components].sum(0)  # [|G|, |G|]
        x = x - (proj @ fibre)[g]
    train = train_mask.bool()
    lab = labels[train]
    ex = x[train]
    right = ex.gather(-1, lab[:, None]).squeeze(-1)
    others = ex.scatter(-1, lab[:, None], float("-inf")).amax(-1)
    tol = 1e-9 * logits.double().abs().amax().clamp_min(1e-300)
    return float((right > others + tol).sum()) / max(int(train.sum()), 1)


def group_labels(run, steps, group: FiniteGroup) -> list[list[str]]:
    """``[n_steps][model]`` labels of a stored run (``grokscope.analysis.RunData``) of a group task."""
    from grokscope.analysis._checkpoints import _forward, stack_states

    task, n_m, n = run.task, run.n_members, group.order
    projectors = isotypic_projectors(group)
    out = []
    for s in steps:
        state = run.load(int(s))
        anat = run.anatomy(state)
        emb = anat.embedding if anat.embedding is not None else anat.neuron_in
        sh = irrep_shares(group, emb[:, :n].double())  # rows 0..|G|-1 are the elements' tokens
        logits = _forward(stack_states(run.model, [state]), task.inputs)  # [model, n_all, C]
        row = []
        for m in range(n_m):
            names = irreps_in_use(sh.shares[m].numpy(), sh.labels)
            comps = [sh.labels.index(x) for x in names]
            mem = memorized_fraction(logits[m], group, task.inputs, task.labels, run.train_mask[m], comps, projectors)
            row.append(irrep_label(names, mem))
        out.append(row)
    return out
