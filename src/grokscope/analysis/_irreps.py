"""Which irreducible representations a network trained on group composition uses.

Chughtai, Chan & Nanda 2023 ("A toy model of universality", arXiv:2302.03025) ask whether
networks that grok composition in a finite group ``G`` learn the same circuits: they find that
the embeddings, hidden neurons and unembedding are each organised by a few irreps of ``G`` (for
S_n, among others the standard irrep and its sign-twisted version), and that the irreps chosen
vary from seed to seed. This generalizes the Fourier analyses of Z_p (``_fourier.py``) to
non-abelian groups. For a run on a task that names its group (``grokscope.tasks.composed_group``:
S_n with n <= 5, D_n) and a model whose anatomy gives an embedding or input map, per checkpoint
and member:

* **embedding shares** — the share of the embedding's squared norm in each real isotypic
  component of the regular representation (``grokscope.groups.irrep_shares``; rows = the
  elements' tokens ``0..|G|-1``; ``anatomy().embedding``, else the input map ``neuron_in``);
* **unembedding shares** — the same for the neurons' output map onto the logits
  (``anatomy().neuron_out`` read with rows = output classes = group elements; transformer:
  ``W_out·W_U`` of the last block);
* **irreps in use** — by the rule of ``grokscope.landscape_measured._irreps.irreps_in_use``
  (the fewest non-trivial components carrying >= 90% of the non-trivial energy), for both;
* **neuron purity** — for each hidden neuron, its input map's column (``neuron_in``) split into the
  same components with the trivial one (the column's mean, which tells no element apart) left out:
  purity is the largest share of the remaining energy and the neuron's irrep is that component
  (Chughtai et al. §5: neurons cluster by irrep). Per checkpoint the median purity and the number
  of neurons per irrep; at the last checkpoint every neuron's purity and irrep.

>>> import torch
>>> from grokscope.groups import parse_group, irreps
>>> g = parse_group("symmetric:3")
>>> r = irreps(g).irreps[2]                          # the 2-dimensional irrep of S_3
>>> emb = r.matrices.real.reshape(6, 4)[None]        # [model=1, |G|, 4]: a planted embedding
>>> u = irrep_usage(g, [0], [emb], [None], [emb])
>>> u.embedding_in_use, round(u.neuron_purity[0][0], 9)
([[['ρ2']]], 1.0)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from grokscope.analysis._measures import Measure
from grokscope.groups import FiniteGroup, irrep_shares
from grokscope.validate import require

__all__ = [
    "IRREPS_DEFINITION", "IRREPS_MEASURE", "IrrepUsage", "irrep_usage", "irreps_ready",
    "run_irrep_usage",
]

IRREPS_DEFINITION = (
    "Share of the embedding's and of the unembedding's energy in each real isotypic component of the group's "
    "regular representation per checkpoint and member, the irreps in use (the fewest non-trivial components "
    "carrying >= 90% of the non-trivial energy), and each hidden neuron's irrep purity (largest share of its "
    "input map's non-trivial energy) with its irrep: which irreps a network that composes group elements uses "
    "(Chughtai, Chan & Nanda 2023, \"A toy model of universality\")."
)


@dataclass(frozen=True)
class IrrepUsage:
    """The irreps a run's members use, per checkpoint (plain lists; ``[step][model]...`` order)."""

    group: str  # e.g. "S4"
    labels: list[str]  # one per real isotypic component, trivial first ("ρ0", "ρ1", ...)
    dims: list[int]  # d_k of each component's irrep
    kinds: list[str]  # "real", "complex" (a conjugate pair), "quaternionic"
    steps: list[int]
    embedding: list  # [n_steps][model][n_components] shares of the embedding, summing to 1
    embedding_in_use: list  # [n_steps][model] -> list of component labels
    unembedding: list | None  # [n_steps][model][n_components], None when the model has no output map
    unembedding_in_use: list | None  # [n_steps][model] -> list of labels
    purity_median: list | None  # [n_steps][model] median neuron purity (None: no input map)
    neurons_per_irrep: list | None  # [n_steps][model][n_components] neurons whose irrep is that component
    neuron_purity: list | None  # [model][d_hidden] at the last step (None for a neuron with no energy)
    neuron_irrep: list | None  # [model][d_hidden] component label at the last step (None likewise)

    def to_dict(self) -> dict:
        return asdict(self)


def _shares(group: FiniteGroup, weight: torch.Tensor | None):
    """``irrep_shares`` of the first ``|G|`` rows of ``weight [model, rows, d]`` (None passes through)."""
    return None if weight is None else irrep_shares(group, weight[:, : group.order].double())


def _neuron_purity(column_shares: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``[model, d, n_components]`` -> purity and component index ``[model, d]`` over the non-trivial
    components (renormalized); NaN purity and index -1 for a column with no non-trivial energy."""
    rest = column_shares[..., 1:]  # [model, d, c-1]
    total = rest.sum(-1)  # [model, d]
    frac = rest / total.clamp_min(1e-300)[..., None]
    purity, idx = frac.max(-1)
    ok = total > 1e-12
    return torch.where(ok, purity, torch.nan), torch.where(ok, idx + 1, -1)


def irrep_usage(group: FiniteGroup, steps, embeddings, unembeddings, neuron_ins) -> IrrepUsage:
    """The irreps used at each of ``steps``, from per-step weights (each ``[model, rows, d]`` or None).

    ``embeddings[i]``: rows = tokens (the first ``|G|`` are the elements); ``unembeddings[i]``:
    rows = output classes; ``neuron_ins[i]``: rows = input tokens, one column per hidden neuron.
    """
    # the node labels' rule, stated once (imported here: landscape_measured imports grokscope.analysis)
    from grokscope.landscape_measured._irreps import irreps_in_use

    n = len(steps)
    require(n > 0 and len(embeddings) == len(unembeddings) == len(neuron_ins) == n, "weights per step",
            (len(embeddings), len(unembeddings), len(neuron_ins)), f"{max(n, 1)} each (one per step)")
    require(all(e is not None for e in embeddings), "embeddings", "None", "a [model, rows, d] tensor at every step")
    emb_rows, emb_use, un_rows, un_use, med_rows, count_rows = [], [], [], [], [], []
    labels = dims = kinds = None
    purity = idx = None
    for emb, un, nin in zip(embeddings, unembeddings, neuron_ins):
        sh = _shares(group, emb)
        labels, dims, kinds = list(sh.labels), list(sh.dims), list(sh.kinds)
        emb_rows.append(sh.shares.tolist())
        emb_use.append([irreps_in_use(s.numpy(), labels) for s in sh.shares])
        su = _shares(group, un)
        un_rows.append(None if su is None else su.shares.tolist())
        un_use.append(None if su is None else [irreps_in_use(s.numpy(), labels) for s in su.shares])
        sn = _shares(group, nin)
        if sn is None:
            med_rows.append(None)
            count_rows.append(None)
            purity = idx = None
            continue
        purity, idx = _neuron_purity(sn.column_shares)  # [model, d]
        med_rows.append([float(np.nanmedian(p.numpy())) if bool(torch.isfinite(p).any()) else None for p in purity])
        count_rows.append([torch.bincount(i[i >= 0], minlength=len(labels)).tolist() for i in idx])
    has_un = any(r is not None for r in un_rows)
    has_nin = purity is not None
    return IrrepUsage(
        group=group.name, labels=labels, dims=dims, kinds=kinds, steps=[int(s) for s in steps],
        embedding=emb_rows, embedding_in_use=emb_use,
        unembedding=un_rows if has_un else None, unembedding_in_use=un_use if has_un else None,
        purity_median=med_rows if has_nin else None, neurons_per_irrep=count_rows if has_nin else None,
        neuron_purity=None if not has_nin else [[None if np.isnan(x) else x for x in p.tolist()] for p in purity],
        neuron_irrep=None if not has_nin else [[labels[i] if i >= 0 else None for i in row.tolist()] for row in idx],
    )


def _group_of(task):
    from grokscope.tasks import composed_group

    return composed_group(task)


def irreps_ready(task, anatomy) -> bool:
    """The analysis applies: the task names its group and the model an embedding or input map over its elements."""
    if anatomy is None or (anatomy.embedding is None and anatomy.neuron_in is None):
        return False
    group = _group_of(task)
    if group is None or anatomy.input_kind != "tokens":
        return False
    rows = (anatomy.embedding if anatomy.embedding is not None else anatomy.neuron_in).shape[1]
    return rows >= group.order


def run_irrep_usage(run, steps) -> IrrepUsage:
    """:func:`irrep_usage` of a stored run (``grokscope.analysis.RunData``) at its checkpoints ``steps``."""
    group = _group_of(run.task)
    embs, uns, nins = [], [], []
    for s in steps:
        a = run.anatomy(run.load(int(s)))
        embs.append(a.embedding if a.embedding is not None else a.neuron_in)
        out = a.neuron_out  # [model, d_hidden, n_classes]
        uns.append(None if out is None or out.shape[-1] != group.order else out.transpose(1, 2))
        nins.append(a.neuron_in)
    return irrep_usage(group, steps, embs, uns, nins)


def _compute(ctx) -> dict:
    return run_irrep_usage(ctx.run, ctx.steps).to_dict()


# joins grokscope.analysis.MEASURES in analyze_run's default (``_run_analysis.ALL_MEASURES``)
IRREPS_MEASURE = Measure("irreps", IRREPS_DEFINITION, irreps_ready, _compute)
