"""A hand-built, perfectly modular multitask-parity network, alone and blended with a trained one: does QDG
recover its subtasks? (issue 10, docs/qdg.md "A hand-built modular network")

    python experiments/qdg-modularity/handmade.py DB RUN --variant on|zero [--lams 0,1,3,10,30]

One JSON line per blend weight λ: the modularity measures and QDG's ARIs of ``modularity.py``.

Per subtask i (control bit c_i, s_i = the sum of its k = 3 bits, G = 10, A = 20), neurons gated by c_i:

- ``zero``: ``relu(s_i − t + G c_i − G)`` for t = 0, 1, 2, margin weights 1, −2, 2: their sum is
  parity(s_i) for s_i in 0..3; a row with s_i = 0 has no active neuron (a zero hidden vector);
- ``on``: ``relu(s_i + 1 + G c_i − G)``, ``relu(s_i − 1 + …)``, ``relu(s_i − 2 + …)`` and the gate
  ``relu(G c_i − G + 1)`` = c_i, weights 1, −2, 2, −1: the same parity, and every row of subtask i
  has active neurons of its own.

The margin is ``A (Σ_i parity_i − 1/2)`` (weights ± A/2 per class, output bias for −A/2). The blend
appends the trained member's hidden neurons with its output weights and bias times λ: both margins
are right, so the network stays correct while its modularity falls as λ grows.
"""

from __future__ import annotations

import argparse
import json

import torch

from grokscope.analysis import load_run
from grokscope.models import FeatureMLP, FeatureMLPConfig
from grokscope.store import Store
from modularity import aris, measures  # this folder's script

G, A = 10.0, 20.0
OFFSETS = {"zero": ([0.0, 1.0, 2.0], [1.0, -2.0, 2.0]),
           "on": ([-1.0, 1.0, 2.0, None], [1.0, -2.0, 2.0, -1.0])}  # None: the gate neuron


def build(task, trained, lam: float, variant: str) -> FeatureMLP:
    """The construction of ``variant``, blended with ``trained``'s neurons at weight ``lam`` (0: alone)."""
    T, n = task.n_tasks, task.n
    offs, coef = OFFSETS[variant]
    mlp = trained.blocks[0].mlp
    Wt, bt = mlp.W_in.detach(), mlp.b_in.detach()  # [d_in, w], [w]
    Ut, cU = trained.unembed.W_U.detach(), trained.unembed.b_U.detach()  # [w, 2], [2]
    wm = len(offs) * T
    width = wm + (Wt.shape[1] if lam > 0 else 0)
    W, b, U = torch.zeros(T + n, width), torch.zeros(width), torch.zeros(width, 2)
    for i, subset in enumerate(task.subsets):
        for t, (off, c) in enumerate(zip(offs, coef)):
            j = len(offs) * i + t
            W[i, j] = G
            if off is None:  # the gate: relu(G c_i − G + 1) = c_i
                b[j] = 1.0 - G
            else:
                W[[T + bit for bit in subset], j] = 1.0
                b[j] = -G - off
            U[j, 1], U[j, 0] = A / 2 * c, -A / 2 * c
    bU = torch.tensor([A / 4, -A / 4])  # the margin's −A/2
    if lam > 0:
        W[:, wm:], b[wm:], U[wm:] = Wt, bt, lam * Ut
        bU = bU + lam * cU
    m = FeatureMLP(FeatureMLPConfig(d_in=T + n, n_classes=2, width=width, depth=1))
    with torch.no_grad():
        m.blocks[0].mlp.W_in.copy_(W)
        m.blocks[0].mlp.b_in.copy_(b)
        m.unembed.W_U.copy_(U)
        m.unembed.b_U.copy_(bU)
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db")
    ap.add_argument("run", type=int, help="a stored multitask-parity feature_mlp run (its member 0, last step)")
    ap.add_argument("--variant", default="on", choices=sorted(OFFSETS))
    ap.add_argument("--lams", default="0,1,3,10,30")
    args = ap.parse_args()
    run = load_run(Store(args.db), args.run)
    run.model.load_state_dict(run.load(run.steps[-1]))
    trained = run.model.member(0)
    for lam in (float(x) for x in args.lams.split(",")):
        out = {"variant": args.variant, "lam": lam}
        out |= measures(build(run.task, trained, lam, args.variant), run.task)
        model = build(run.task, trained, lam, args.variant)
        with torch.no_grad():
            _, cache = model.run_with_cache(run.task.inputs)
        keep = (cache["blocks.0.mlp.hook_post"].abs().sum(1) > 0).numpy()  # rows with a nonzero hidden vector
        out["rows_zero_hidden"] = int((~keep).sum())
        out["ari"] = aris(model, run.task, keep=keep)
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
