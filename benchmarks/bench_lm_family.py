"""Speed of the LM family (issue 10: the family trains in <= 20 minutes on this CPU), measured in one run.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_lm_family.py              # ~6 CPU-min
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_lm_family.py --steps 100  # ~1 CPU-min

Prints:

1. **The family** (``FamilyConfig()``'s widths and members, ``--steps`` steps each; the default is
   the full family of ``grokscope quanta lm-train``): each width's training seconds, tokens per
   second and share of the total, the total against the 20-minute goal, and (with fewer steps)
   the total projected to 1,000 steps. The CPU time is printed beside the wall time: on the shared
   machine the wall time depends on the other jobs, the CPU time much less.
2. **Ensemble against separate models**: ``--compare-steps`` steps of one ensemble of two
   members against two one-member ensembles, per width (the ratio is what training seeds as one
   ensemble buys on this CPU).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
import torch.nn.functional as F

from grokscope.quanta._lm import LMEnsemble, lm_config
from grokscope.quanta._lm_train import FamilyConfig, train_family

GOAL_S = 20 * 60


def bench_family(steps: int) -> None:
    cfg = FamilyConfig(steps=steps)
    c0, t0 = time.process_time(), time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        fam = train_family(cfg, out)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    train = fam["seconds"]["train_s"]
    tokens = steps * cfg.batch * cfg.n_ctx * cfg.members
    print(f"family: widths {list(cfg.widths)}, {cfg.members} members each, {steps} steps of {cfg.batch * cfg.n_ctx} "
          f"tokens, torch threads {torch.get_num_threads()}")
    cpu_train = sum(w["cpu_seconds"] for w in fam["widths"])
    print(f"{'d_model':>7} {'wall s':>8} {'CPU s':>8} {'tokens/CPU s':>12} {'CPU share':>9}")
    for w in fam["widths"]:
        c = w["cpu_seconds"]
        print(f"{w['d_model']:>7} {w['seconds']:>8.1f} {c:>8.1f} {tokens / c:>12,.0f} {c / cpu_train:>9.1%}")
    print(f"total: {wall:.1f} s wall ({cpu:.1f} s CPU), of which training {train:.1f} s and corpus "
          f"{fam['seconds']['corpus_s']:.1f} s; {wall / GOAL_S:.2f} x the 20-minute goal")
    if steps != 1000:
        proj = fam["seconds"]["total_s"] - train + train * 1000 / steps
        proj_cpu = cpu - cpu_train + cpu_train * 1000 / steps
        print(f"projected to 1000 steps: {proj:.0f} s wall = {proj / GOAL_S:.2f} x the goal at this load; "
              f"{proj_cpu:.0f} s CPU = {proj_cpu / GOAL_S:.2f} x the goal on an idle core")


def _steps(ens: LMEnsemble, tok: torch.Tensor, n: int) -> float:
    opt = torch.optim.AdamW(ens.parameters(), lr=1e-3)
    M = ens.n_models
    t0 = 0.0
    for s in range(n + 2):
        if s == 2:  # two warm-up steps
            t0 = time.perf_counter()
        logits = ens(tok[:, :-1])
        y = tok[None, :, 1:].expand(M, -1, -1)
        loss = F.cross_entropy(logits.reshape(-1, 256), y.reshape(-1)) * M
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def bench_ensemble(steps: int) -> None:
    cfg = FamilyConfig()
    tok = torch.randint(0, 256, (cfg.batch, cfg.n_ctx + 1), generator=torch.Generator().manual_seed(0))
    print(f"ensemble of 2 against 2 single models, {steps} steps:")
    for d in cfg.widths:
        mcfg = lm_config(d, cfg.n_layers, cfg.n_ctx)
        both = _steps(LMEnsemble(mcfg, 2).init_([0, 1]), tok, steps)
        apart = sum(_steps(LMEnsemble(mcfg, 1).init_([s]), tok, steps) for s in (0, 1))
        print(f"  d_model={d:>3}: ensemble {both:.2f} s, separate {apart:.2f} s, ratio {apart / both:.2f}x")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--compare-steps", type=int, default=20)
    a = ap.parse_args()
    bench_family(a.steps)
    bench_ensemble(a.compare_steps)
