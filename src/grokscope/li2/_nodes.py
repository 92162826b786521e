"""The stages of a trained Li2 network, read off its hidden nodes checkpoint by checkpoint.

Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking": a
hidden node ``w_j = [W_a[:, j]; W_b[:, j]]`` has learned a feature when it sits at a local maximum
of the Stage II energy E, i.e. (Theorem 2, σ = x²) inside one irrep component with
``E(w_j/‖w_j‖) = E*`` of that irrep. Per node and checkpoint this module measures

- ``energy``: E of the node scaled to the unit sphere (full table, ``Energy``; this package's
  normalization, 4× Tian's), and ``e_star``: Theorem 2's E* of the node's component;
- ``purity``: the share of ``‖u‖² + ‖v‖²`` in its largest isotypic component (its ``label``);

and assigns each checkpoint a stage by one rule (``STAGE_RULE``):

- a node has **emerged** when ``purity ≥ 0.9`` and ``energy ≥ 0.9 E*`` (σ = x²; other σ have no
  E*, and purity alone decides);
- an irrep component is **learned** when at least ``min_nodes`` (2) nodes have emerged in it;
- **III** (interactive) once some component is learned: the top layer then fits that part of the
  target and, by Theorem 7, the other nodes ascend E_S, not E;
- otherwise **I** (lazy) while W has moved less than 10% from its init (``‖W_t − W_0‖/‖W_0‖ < 0.1``:
  the features are the random init, only the top layer fits), and **II** (independent feature
  learning) after that.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from grokscope._json import jsonable
from grokscope.groups import FiniteGroup, irrep_shares
from grokscope.validate import check_int, check_number

from ._energy import Energy, predicted_maximum

__all__ = ["STAGE_RULE", "NetworkStages", "network_stages", "node_energies"]

STAGE_RULE = ("node emerged: purity >= {purity} and E(w/|w|) >= {ratio} E* (sigma = x^2; purity alone otherwise); "
              "component learned: >= {min_nodes} emerged nodes in it; stage III if any component is learned, "
              "else I if |W_t - W_0|/|W_0| < {lazy}, else II")


def node_energies(group: FiniteGroup, w_a: Tensor, w_b: Tensor, act: str = "x2") -> dict:
    """Per hidden node of ``W_a, W_b [M, K]``: ``energy [K]`` (E at ``w_j/‖w_j‖``), ``e_star [K]``
    (Theorem 2's E* of its component; NaN unless σ = x²), ``ratio``, ``purity``, ``label`` (component
    index), ``norm``; plus ``labels``, ``dims``, ``kinds`` of the components.

    >>> import math
    >>> from grokscope.groups import cyclic
    >>> u = torch.cos(2 * math.pi * 2 * torch.arange(9.0) / 9).double()[:, None]
    >>> r = node_energies(cyclic(9), u, u)
    >>> round(float(r["energy"][0]), 6), float(r["e_star"][0]), r["labels"][int(r["label"][0])]
    (2.25, 2.25, 'k=±2')
    """
    w_a, w_b = w_a.detach().double(), w_b.detach().double()
    w = torch.cat([w_a, w_b], 0).T  # [K, 2M]
    norm = w.norm(dim=1)
    unit = w / norm.clamp_min(1e-300)[:, None]
    energy = Energy(group, act, dtype=torch.float64)(unit)
    sh = irrep_shares(group, torch.stack([w_a.T, w_b.T], -1))  # [K, components]
    purity, label = sh.shares.max(1)
    star = torch.tensor([(predicted_maximum(group.order, sh.dims[c], sh.kinds[c]) if act == "x2" else None) or float("nan")
                         for c in label.tolist()], dtype=torch.float64)
    return {"energy": energy, "e_star": star, "ratio": energy / star, "purity": purity, "label": label, "norm": norm,
            "labels": sh.labels, "dims": sh.dims, "kinds": sh.kinds}


@dataclass(frozen=True)
class NetworkStages:
    """Per checkpoint: stage, emerged nodes, learned components; per node at the last checkpoint."""

    group: str
    act: str
    rule: str
    rows: tuple[dict, ...]  # step, stage, moved, emerged, learned, E/E* (mean, max, top-10% mean), purity (+ records)
    final_nodes: tuple[dict, ...]  # label, energy, e_star, ratio, purity, norm per node, last checkpoint

    def to_dict(self) -> dict:
        return jsonable(self.__dict__)


def network_stages(group: FiniteGroup, checkpoints, *, act: str = "x2", records=(), purity: float = 0.9,
                   ratio: float = 0.9, min_nodes: int = 2, lazy: float = 0.1) -> NetworkStages:
    """Stage of each checkpoint ``(step, W_a, W_b)`` by :data:`STAGE_RULE`; ``records`` (dicts with
    ``step``) are merged into the rows of the same step (e.g. an ``AdamRun``'s accuracies)."""
    purity = check_number(purity, "purity", lo=0.0, hi=1.0)
    ratio = check_number(ratio, "ratio", lo=0.0)
    min_nodes = check_int(min_nodes, "min_nodes", 1)
    lazy = check_number(lazy, "lazy", lo=0.0)
    checkpoints = list(checkpoints)
    by_step = {r["step"]: r for r in records}
    w0 = torch.cat([checkpoints[0][1], checkpoints[0][2]], 0).double()
    rows, nodes = [], None
    for step, w_a, w_b in checkpoints:
        nodes = node_energies(group, w_a, w_b, act)
        ok = nodes["purity"] >= purity
        if act == "x2":
            ok &= nodes["ratio"] >= ratio
        counts = torch.bincount(nodes["label"][ok], minlength=len(nodes["labels"]))
        learned = [nodes["labels"][i] for i in range(len(counts)) if i != 0 and counts[i] >= min_nodes]
        moved = float((torch.cat([w_a, w_b], 0).double() - w0).norm() / w0.norm())
        stage = "III" if learned else ("I" if moved < lazy else "II")
        rows.append({**by_step.get(step, {}), "step": step, "stage": stage, "moved": moved,
                     "emerged": int(ok.sum()), "emerged_share": float(ok.double().mean()),
                     "learned": learned, "n_learned": len(learned), "n_components": len(nodes["labels"]) - 1,
                     "ratio_mean": float(nodes["ratio"].mean()), "ratio_max": float(nodes["ratio"].max()),
                     "ratio_top": float(nodes["ratio"].sort(descending=True).values[: max(1, len(ok) // 10)].mean()),
                     "energy_mean": float(nodes["energy"].mean()), "purity_mean": float(nodes["purity"].mean())})
    final = [{"label": nodes["labels"][int(c)], "energy": float(e), "e_star": float(s), "ratio": float(r),
              "purity": float(p), "norm": float(n)}
             for c, e, s, r, p, n in zip(nodes["label"], nodes["energy"], nodes["e_star"], nodes["ratio"],
                                         nodes["purity"], nodes["norm"])]
    return NetworkStages(group=group.name, act=act,
                         rule=STAGE_RULE.format(purity=purity, ratio=ratio, min_nodes=min_nodes, lazy=lazy),
                         rows=tuple(rows), final_nodes=tuple(final))
