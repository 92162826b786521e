"""Are QDG's clusters the subtasks, or finer? (issue 10, docs/qdg.md "The clusters are input classes")

    python experiments/qdg-modularity/classes.py DB RUN [--step S] [--tag T]

Prints one JSON line for member 0 of a stored run of a ``feature_mlp`` on ``multitask_parity``.
A row of subtask i is fixed, for a network that ignores the bits outside S_i, by its **input
class**: the subtask and the pattern of its k bits in S_i (``T · 2^k`` classes). For each of four
parameter sets (all, ``unembed`` (``W_U`` and ``b_U``), ``unembed.W_U``, ``blocks.0.mlp``) QDG
(``grokscope.quanta.qdg`` with ``max_loss=None, affinity="abs", ce_gradient="stable"``: what
``grokscope quanta qdg RUN --all-samples --affinity abs --ce-gradient stable`` computes) clusters
all task rows at k = T and k = T · 2^k, and the line gives, at each k:

- ``ari_subtask`` and ``ari_class``: the adjusted Rand index against the subtasks and the classes;
- ``homogeneity``: scikit-learn's homogeneity of the clusters with respect to the subtasks (1 when
  no cluster holds rows of two subtasks, whatever the number of clusters);

and the mean angle in degrees, ``arccos |cos|``, between the per-sample gradients of two rows of one
class, of one subtask but different classes, and of different subtasks (``angle_class``,
``angle_subtask``, ``angle_between``).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch
from sklearn.metrics import adjusted_rand_score, homogeneity_score

from grokscope.analysis import load_run
from grokscope.config import RunConfig
from grokscope.quanta import QDGConfig, per_sample_gradients, qdg
from grokscope.store import Store

PARAMS = {"all": None, "unembed": ("unembed",), "unembed.W_U": ("unembed.W_U",), "blocks.0.mlp": ("blocks.0.mlp",)}


def input_classes(task) -> np.ndarray:
    """Each task row's class ``[n_all]``: ``subtask · 2^k + pattern`` of its bits in its subset S_i."""
    T, k = task.n_tasks, len(task.subsets[0])
    bits = task.inputs[:, T:].long()  # [n_all, n]
    S = torch.tensor(task.subsets)[task.subtask]  # [n_all, k]
    pattern = (torch.gather(bits, 1, S) * 2 ** torch.arange(k)).sum(1)  # [n_all]
    return (task.subtask * 2**k + pattern).numpy()


def mean_angles(model, task, params, loss: str, cls: np.ndarray) -> dict:
    """Mean angle (degrees) between per-sample gradients within a class, within a subtask across classes,
    and between subtasks."""
    g = per_sample_gradients(model, task.inputs, task.labels, params=params, loss=loss, stable_ce=True).grads
    theta = torch.rad2deg(torch.arccos((g.double() @ g.double().T).abs().clamp(max=1.0)))  # [n, n], unit rows
    sub, cl = task.subtask, torch.as_tensor(cls)
    same_sub, same_cls = sub[:, None] == sub[None, :], cl[:, None] == cl[None, :]
    off = ~torch.eye(len(sub), dtype=torch.bool)
    mean = lambda mask: round(float(theta[mask].mean()), 2)
    return {"angle_class": mean(same_cls & off), "angle_subtask": mean(same_sub & ~same_cls),
            "angle_between": mean(~same_sub)}


def measure(model, task, loss: str) -> dict:
    sub, cls = task.subtask.numpy(), input_classes(task)
    T, n_cls = task.n_tasks, task.n_tasks * 2 ** len(task.subsets[0])
    out = {}
    for name, params in PARAMS.items():
        cfg = QDGConfig(clusters=(T, n_cls), params=params, max_loss=None, affinity="abs", ce_gradient="stable",
                        n_boot=0)
        r = qdg(model, task.inputs, task.labels, cfg, loss=loss, truth=cls)
        rows = np.asarray(r.rows)
        res = {}
        for c in r.clusters:
            lab = np.asarray(c.labels)
            res[str(c.k)] = {"ari_subtask": round(adjusted_rand_score(sub[rows], lab), 3),
                             "ari_class": round(c.ari, 3),
                             "homogeneity": round(homogeneity_score(sub[rows], lab), 3)}
        res |= mean_angles(model, task, params, loss, cls)
        out[name] = res
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db")
    ap.add_argument("run", type=int)
    ap.add_argument("--step", type=int, default=None, help="checkpoint step (default: the last)")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    store = Store(args.db)
    run = load_run(store, args.run)
    step = args.step if args.step is not None else run.steps[-1]
    run.model.load_state_dict(run.load(step))
    loss = RunConfig.from_dict(store.get_run(args.run).config).train.loss
    out = {"tag": args.tag, "db": args.db, "run": args.run, "step": step, "width": run.model.cfg.width,
           "n_classes": int(input_classes(run.task).max()) + 1}
    out |= measure(run.model.member(0).float(), run.task, loss)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
