"""Speed of quanta discovery from gradients (QDG), measured in one run.

    OMP_NUM_THREADS=2 nice -n 10 .venv/bin/python benchmarks/bench_qdg.py     # ~5 min on 2 cores

Prints:

1. **The target** (issue 10: <= 2 minutes on this CPU): QDG of 10,000 samples of a ~100k-parameter
   model — a one-hidden-layer ``feature_mlp`` of width 640 on multitask sparse parity with the
   reference's defaults (100 subtasks, n = 50 bits, k = 3; 98,242 parameters) — from the samples to
   the clusters of a sweep over k = 10, 20, 50, 100 with their rank-frequency fits, split by step.
2. **Against the reference's scheme** (ejmichaud/quantization-model, ``experiments/clustering-0/
   compute_similarity_full_more.py``): the similarity matrix of ``--n-compare`` samples in blocks of
   250, where every block pair recomputes the second block's gradients one sample at a time with
   autograd, so each gradient is computed about (n/250 + 3)/2 times. Beside it, the same one-at-a-time
   gradients computed once, and ours (vmap, once). Ratios hold on a loaded machine; absolute times
   do not (the machine is shared).
3. **The stable cross-entropy gradient** (``ce_gradient="stable"``, docs/qdg.md) against autograd of
   ``F.cross_entropy``: the per-sample gradients of ``--n-stable`` samples of the same model, each way.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from grokscope.models import FeatureMLP, FeatureMLPConfig
from grokscope.quanta._qdg import (
    QDGConfig,
    cosine_similarity,
    per_sample_gradients,
    qdg,
)
from grokscope.tasks import make_task

BLOCK = 250  # the reference's block_len


def _setup(n: int):
    task = make_task("multitask_parity", n_tasks=100, n=50, k=3, alpha=0.5, n_train=n, n_test_per_task=1, seed=0)
    model = FeatureMLP(FeatureMLPConfig(d_in=task.d_in, n_classes=2, width=640, depth=1)).init_(0)
    return task.inputs[:n], task.labels[:n], model


def bench_target(n: int, solver: str) -> None:
    x, y, model = _setup(n)
    n_params = sum(p.numel() for p in model.parameters())
    cfg = QDGConfig(samples=n, clusters=(10, 20, 50, 100), max_loss=None, eigen_solver=solver, n_boot=200)
    r = qdg(model, x, y, cfg)
    s = r.seconds
    other = s["total_s"] - s["gradients_s"] - s["similarity_s"] - s["embedding_s"] - s["kmeans_s"]
    print(f"QDG of {r.n_samples:,} samples x {n_params:,} parameters, k = 10, 20, 50, 100 ({solver}): "
          f"{s['total_s']:.1f} s (target <= 120 s)")
    print(f"  gradients {s['gradients_s']:.1f} s | similarity {s['similarity_s']:.1f} s | spectral embedding "
          f"{s['embedding_s']:.1f} s | k-means {s['kmeans_s']:.1f} s | selection, affinity, fits {other:.1f} s")


def _one_at_a_time(model, x, y) -> torch.Tensor:
    """The reference's gradients: one forward and backward per sample, flattened, unit norm."""
    params = list(model.parameters())
    rows = []
    for i in range(x.shape[0]):
        loss = F.cross_entropy(model(x[i : i + 1]), y[i : i + 1])
        rows.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)]))
    return F.normalize(torch.stack(rows), dim=1)


def reference_similarity(model, x, y) -> tuple[torch.Tensor, int]:
    """The reference's loop: for block i, its gradients; for every block j >= i, recompute block j's."""
    n = x.shape[0]
    C = torch.zeros(n, n)
    computed = 0
    for i in range(0, n, BLOCK):
        Gi = _one_at_a_time(model, x[i : i + BLOCK], y[i : i + BLOCK])
        computed += Gi.shape[0]
        for j in range(i, n, BLOCK):
            Gj = _one_at_a_time(model, x[j : j + BLOCK], y[j : j + BLOCK])
            computed += Gj.shape[0]
            C[i : i + BLOCK, j : j + BLOCK] = Gi @ Gj.T
            C[j : j + BLOCK, i : i + BLOCK] = (Gi @ Gj.T).T
    return C, computed


def bench_compare(n: int) -> None:
    x, y, model = _setup(n)
    t0 = time.perf_counter()
    C_ref, computed = reference_similarity(model, x, y)
    t1 = time.perf_counter()
    C_once = cosine_similarity(_one_at_a_time(model, x, y), BLOCK)
    t2 = time.perf_counter()
    C_ours = cosine_similarity(per_sample_gradients(model, x, y).grads, 1024)
    t3 = time.perf_counter()
    err = max(float((C_ref.clamp(-1, 1) - C_ours).abs().max()), float((C_once - C_ours).abs().max()))
    ref, once, ours = t1 - t0, t2 - t1, t3 - t2
    print(f"similarity matrix of {n:,} samples (max |difference| between the three: {err:.1e}):")
    print(f"  reference scheme (autograd per sample, blocks of {BLOCK} recomputed; {computed / n:.1f} gradients "
          f"per sample): {ref:.1f} s")
    print(f"  autograd per sample, each once, blocked product: {once:.1f} s ({ref / once:.1f}x faster than the reference)")
    print(f"  ours (vmap, each once, blocked product):         {ours:.1f} s ({ref / ours:.1f}x faster than the "
          f"reference, {once / ours:.1f}x than once-per-sample autograd)")


def bench_stable(n: int) -> None:
    x, y, model = _setup(n)
    per_sample_gradients(model, x[:128], y[:128], stable_ce=True)  # warm-up
    t0 = time.perf_counter()
    plain = per_sample_gradients(model, x, y).grads
    t1 = time.perf_counter()
    stable = per_sample_gradients(model, x, y, stable_ce=True).grads
    t2 = time.perf_counter()
    err = float((plain - stable).abs().max())  # an untrained model: no sample is confident, the two agree
    print(f"per-sample gradients of {n:,} samples: autograd of F.cross_entropy {t1 - t0:.1f} s, stable "
          f"{t2 - t1:.1f} s ({(t2 - t1) / (t1 - t0):.2f}x; max |difference| of the unit rows {err:.1e})")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000, help="samples of the target run")
    ap.add_argument("--n-compare", type=int, default=2_000, help="samples of the comparison with the reference")
    ap.add_argument("--solver", default="lobpcg", help="eigen solver of the target run (arpack or lobpcg)")
    ap.add_argument("--n-stable", type=int, default=2_000, help="samples of the stable-gradient timing (0: skip)")
    ap.add_argument("--only-stable", action="store_true", help="run only the stable-gradient timing")
    args = ap.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")
    if args.n_stable:
        bench_stable(args.n_stable)
    if not args.only_stable:
        bench_compare(args.n_compare)
        bench_target(args.n, args.solver)
