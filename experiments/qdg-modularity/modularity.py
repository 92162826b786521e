"""How modular is a trained multitask-parity network, and does QDG recover its subtasks? (issue 10, docs/qdg.md
"Modularity and the clusters")

    python experiments/qdg-modularity/modularity.py measure DB RUN [--step S | --init] [--diag] [--control] [--tag T]
    python experiments/qdg-modularity/modularity.py corr RESULTS.jsonl

``measure`` prints one JSON line for member 0 of a stored run of a one-hidden-layer ``feature_mlp`` on
``multitask_parity``: the modularity measures below, the subtasks learned (test loss < 0.1 bit), and
QDG's adjusted Rand index against the subtasks for three parameter sets (all, ``unembed.W_U``,
``blocks.0.mlp``), at k = 5, 10 and the number of subtasks, with ``--all-samples --affinity abs
--ce-gradient stable`` (what ``grokscope quanta qdg`` computes with those options). ``--diag`` adds
the k = 10 clusters against the (subtask, label) groups and against the label, and prints (to stderr)
how many rows of each group fall in each cluster at k = 10 and 5; ``--control`` the
clusters of the control-bit rows of ``W_in`` alone (they separate the subtasks by construction,
even untrained: a control, not evidence). ``corr`` prints Spearman's ρ between each measure and
the ARI at k = the number of subtasks over the lines of networks that learned every subtask.

Modularity (h = relu(x W_in + b_in) ``[n, width]``, margin ``z_1 − z_0 = h·w + const`` with
``w = W_U[:, 1] − W_U[:, 0]``): the usage ``a[i, j]`` of neuron j by subtask i (mean over its rows) is

- ``M_abl``: ``|w_j| · mean |h_j − mean_i h_j|``, the margin's change when neuron j is mean-ablated
  within subtask i;
- ``M_act``: ``|w_j| · mean |h_j|``;
- ``M_delta``: ``|w_j| · mean 1[pre_j > 0]``, the back-propagated signal;

``p_i = a[i] / Σ_j a[i, j]``, ``q[i, j] = p_i[j] / Σ_i' p_i'[j]``, ``E_i = Σ_j p_i[j] q[i, j]``,
``M = (mean_i E_i − 1/T) / (1 − 1/T)``: 1 when every neuron serves one subtask, 0 when all use the
neurons alike. ``private90``: per row, the share of its squared back-propagated signal
``Σ_j w_j² 1[pre_j > 0]`` on neurons private to its subtask (``q ≥ 0.9`` in the ``M_delta`` usage),
averaged over rows.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np
import torch
from sklearn.cluster import SpectralClustering
from sklearn.metrics import adjusted_rand_score

from grokscope.analysis import load_run
from grokscope.config import RunConfig
from grokscope.quanta import QDGConfig, per_sample_gradients, qdg
from grokscope.store import Store
from grokscope.train import per_example_loss

PARAMS = {"all": None, "unembed.W_U": ("unembed.W_U",), "blocks.0.mlp": ("blocks.0.mlp",)}


def modularity(a: torch.Tensor) -> float:
    """``a [T, width] >= 0`` (usage of each neuron by each subtask) -> M in [0, 1] (module docstring)."""
    T = a.shape[0]
    p = a / a.sum(1, keepdim=True)  # [T, width]
    q = p / p.sum(0, keepdim=True).clamp_min(1e-300)  # [T, width]
    return float(((p * q).sum(1).mean() - 1 / T) / (1 - 1 / T))


def usages(h: torch.Tensor, pre: torch.Tensor, w: torch.Tensor, sub: torch.Tensor) -> dict[str, torch.Tensor]:
    """The three usages ``[T, width]`` from the hidden activations ``h``, pre-activations ``pre`` ``[n, width]``."""
    T = int(sub.max()) + 1
    rows = [sub == i for i in range(T)]
    return {"M_abl": torch.stack([((h[r] - h[r].mean(0)).abs() * w).mean(0) for r in rows]),
            "M_act": torch.stack([(h[r].abs() * w).mean(0) for r in rows]),
            "M_delta": torch.stack([((pre[r] > 0).double() * w).mean(0) for r in rows])}


def private_share(pre: torch.Tensor, w: torch.Tensor, sub: torch.Tensor, a: torch.Tensor, thr: float = 0.9) -> float:
    """Mean over rows of the share of ``Σ_j w_j² 1[pre_j > 0]`` on neurons private to the row's subtask,
    privacy read from ``a [T, width]``, the ``M_delta`` usage of :func:`usages`."""
    d2 = (pre > 0).double() * w**2  # [n, width]
    p = a / a.sum(1, keepdim=True)
    q = p / p.sum(0, keepdim=True).clamp_min(1e-300)  # [T, width]
    own = (q >= thr).double()[sub]  # [n, width]
    return float(((d2 * own).sum(1) / d2.sum(1).clamp_min(1e-300)).mean())


def measures(model, task) -> dict:
    """Modularity of a one-hidden-layer feature_mlp (float64) on all task rows, and the subtasks it learned."""
    sub, lab = task.subtask, task.labels
    with torch.no_grad():
        logits, cache = model.double().run_with_cache(task.inputs.double())
    h, pre = cache["blocks.0.mlp.hook_post"], cache["blocks.0.mlp.hook_pre"]  # [n, width]
    W_U = model.unembed.W_U.detach()  # [width, 2]
    w = (W_U[:, 1] - W_U[:, 0]).abs()  # [width]
    loss = per_example_loss(logits.unsqueeze(0), lab.reshape(1, -1), "ce")[0]  # [n] nats
    test = torch.zeros(task.n_all, dtype=torch.bool)
    test[task.test_pool] = True
    bits = [float(loss[test & (sub == i)].mean() / math.log(2)) for i in range(task.n_tasks)]
    out = {"learned": sum(b < 0.1 for b in bits), "test_bits": [round(b, 4) for b in bits],
           "max_loss_bits": float(loss.max() / math.log(2)),
           "accuracy": float(((logits[:, 1] > logits[:, 0]).long() == lab).double().mean())}
    use = usages(h, pre, w, sub)
    out |= {name: round(modularity(a), 3) for name, a in use.items()}
    out["private90"] = round(private_share(pre, w, sub, use["M_delta"]), 3)
    return out


def aris(model, task, loss: str = "ce", diag: bool = False, keep: np.ndarray | None = None) -> dict:
    """QDG's ARI against the subtasks (all rows, abs affinity, stable CE gradient) for the three parameter sets;
    with ``keep`` (bool ``[n_all]``) also the ARI over the kept rows only (``"{k}_kept"``) and QDG's count of
    samples without a gradient direction (``zero_gradients``)."""
    sub, lab = task.subtask.numpy(), task.labels.numpy()
    ks = tuple(sorted({5, 10, task.n_tasks}))
    out = {}
    for name, params in PARAMS.items():
        cfg = QDGConfig(clusters=ks, params=params, max_loss=None, affinity="abs", ce_gradient="stable", n_boot=20)
        r = qdg(model.float(), task.inputs, task.labels, cfg, loss=loss, truth=sub)
        res = {str(c.k): round(c.ari, 3) for c in r.clusters}
        if keep is not None:
            kept = keep[np.asarray(r.rows)]
            res["zero_gradients"] = r.n_zero_gradients
            res |= {f"{c.k}_kept": round(adjusted_rand_score(sub[np.asarray(r.rows)][kept], np.asarray(c.labels)[kept]), 3)
                    for c in r.clusters}
        res |= within_between(model, task, params, loss)
        if diag:
            rows, lab10 = np.asarray(r.rows), np.asarray(next(c for c in r.clusters if c.k == 10).labels)
            res["k10_vs_subtask_label"] = round(adjusted_rand_score((sub * 2 + lab)[rows], lab10), 3)
            res["k10_vs_label"] = round(adjusted_rand_score(lab[rows], lab10), 3)
            lab5 = np.asarray(next(c for c in r.clusters if c.k == 5).labels)
            for k, labels, truth, cols in ((10, lab10, (sub * 2 + lab)[rows], "(subtask, label): s0y0 s0y1 s1y0 ..."),
                                           (5, lab5, sub[rows], "subtask")):
                table = np.zeros((k, int(truth.max()) + 1), dtype=int)
                np.add.at(table, (labels, truth), 1)
                print(f"# {name}: rows in each of the k = {k} clusters (rows) by {cols} (columns)\n{table}",
                      file=sys.stderr)
        out[name] = res
    return out


def within_between(model, task, params, loss: str = "ce") -> dict:
    """Mean |cos| of the per-sample gradients (stable CE) between rows of one subtask and of different ones."""
    g = per_sample_gradients(model.float(), task.inputs, task.labels, params=params, loss=loss, stable_ce=True).grads
    g = g / g.norm(dim=1, keepdim=True).clamp_min(1e-30)
    C = (g @ g.T).abs().double()  # [n, n]
    sub = task.subtask
    same = sub[:, None] == sub[None, :]
    off = ~torch.eye(len(sub), dtype=torch.bool)
    return {"cos_within": round(float(C[same & off].mean()), 3), "cos_between": round(float(C[~same].mean()), 3)}


def control(model, task, loss: str = "ce") -> dict:
    """ARI of the clusters of the control-bit rows of ``W_in`` alone (separate by construction)."""
    T, width = task.n_tasks, model.blocks[0].mlp.W_in.shape[1]
    g = per_sample_gradients(model.float(), task.inputs, task.labels, params=["blocks.0.mlp.W_in"], loss=loss,
                             stable_ce=True).grads[:, : T * width]  # [n, T*width]: rows 0..T-1 of W_in
    g = g / g.norm(dim=1, keepdim=True).clamp_min(1e-30)
    A = 1 - np.arccos(np.clip(np.abs((g @ g.T).double().numpy()), 0, 1)) / math.pi
    sub = task.subtask.numpy()
    return {str(k): round(adjusted_rand_score(sub, SpectralClustering(k, affinity="precomputed", random_state=0)
                                              .fit_predict(A)), 3) for k in (5, 10)}


def measure(args) -> None:
    store = Store(args.db)
    run = load_run(store, args.run)
    cfg = RunConfig.from_dict(store.get_run(args.run).config)
    step = run.steps[0] if args.init else (args.step if args.step is not None else run.steps[-1])
    run.model.load_state_dict(run.load(step))
    member = lambda: run.model.member(0)  # a fresh copy each time: measures() casts to float64
    out = {"tag": args.tag, "db": args.db, "run": args.run, "step": step, "width": run.model.cfg.width}
    out |= measures(member(), run.task)
    out["ari"] = aris(member(), run.task, cfg.train.loss, args.diag)
    if args.control:
        out["control_W_in_control_rows"] = control(member(), run.task, cfg.train.loss)
    print(json.dumps(out), flush=True)


def corr(args) -> None:
    from scipy.stats import spearmanr

    rows = [json.loads(line) for line in open(args.results) if line.strip()]
    rows = [d for d in rows if d["learned"] == len(d["test_bits"]) and "lam" not in d]
    print(len(rows), "networks that learned every subtask:", ", ".join(str(d.get("tag") or d["run"]) for d in rows))
    for m in ("M_abl", "M_act", "M_delta", "private90"):
        for name in PARAMS:
            r = spearmanr([d[m] for d in rows], [d["ari"][name][str(len(d["test_bits"]))] for d in rows])
            print(f"{m} vs ARI({name}): rho = {r.statistic:.2f}, p = {r.pvalue:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure", help="modularity and QDG's ARIs of a stored run (one JSON line)")
    m.add_argument("db")
    m.add_argument("run", type=int)
    m.add_argument("--step", type=int, default=None, help="checkpoint step (default: the last)")
    m.add_argument("--init", action="store_true", help="the run's first checkpoint (untrained)")
    m.add_argument("--diag", action="store_true", help="k = 10 against (subtask, label) and against the label")
    m.add_argument("--control", action="store_true", help="the control-bit rows of W_in alone")
    m.add_argument("--tag", default="")
    c = sub.add_parser("corr", help="Spearman's rho between the measures and the ARIs")
    c.add_argument("results", help="JSON lines written by `measure`")
    args = ap.parse_args()
    {"measure": measure, "corr": corr}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
