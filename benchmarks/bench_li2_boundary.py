"""Speed of the trained-boundary sweep (Li2, Theorem 4 in trained networks), measured in one run.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_li2_boundary.py           # the full sweep, ~20 min
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_li2_boundary.py --workers 2   # two groups at once
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_li2_boundary.py --quick               # ratios only, ~1 min

Prints, on one thread (issue 11's goal: the sweep of >= 6 M x 8 fractions x 5 seeds in <= 20 minutes):

- per member-step, one ensemble of 5 members (``train_ridge_adam_ensemble``, float32 and float64)
  against 5 separate ``train_ridge_adam`` runs (float64) on the same members, Z_43 at p = 3 ln M/M;
- the full sweep of ``grokscope li2 trained-boundary`` with its defaults (``--workers``: groups trained
  at once, one process and one thread each): wall time, CPU time, load average, and the member-steps
  saved by letting generalized members leave against the full budget.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import torch

from grokscope.groups import cyclic
from grokscope.li2 import (
    Member,
    default_hidden,
    train_ridge_adam,
    train_ridge_adam_ensemble,
    trained_boundary,
)

_GROUPS = ["cyclic:23", "cyclic:31", "cyclic:43", "cyclic:59", "cyclic:83", "cyclic:127",
           "dihedral:11", "dihedral:15", "dihedral:20", "dihedral:26", "dihedral:35", "dihedral:48"]
_COEFS = [2.0, 2.3, 2.65, 3.0, 3.4, 3.85, 4.4, 5.2]


def bench_ratios(steps: int = 100) -> None:
    g = cyclic(43)
    p, k = 3.0 * math.log(43) / 43, default_hidden(43)
    members = [Member(p, s) for s in range(5)]
    kw = {"hidden": k, "lr": 0.1, "steps": steps, "eval_every": 50}
    t = {}
    for name, dt in (("ensemble float32", torch.float32), ("ensemble float64", torch.float64)):
        t0 = time.perf_counter()
        train_ridge_adam_ensemble(g, members, dtype=dt, **kw)
        t[name] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for m in members:
        train_ridge_adam(g, fraction=m.fraction, seed=m.seed, **kw)
    t["5 x train_ridge_adam (float64)"] = time.perf_counter() - t0
    base = t["5 x train_ridge_adam (float64)"]
    print(f"Z_43, p = 3 ln M/M (n = {round(p * 43 * 43)}), K = {k}, 5 members x {steps} steps, "
          f"{torch.get_num_threads()} thread(s):")
    for name, s in t.items():
        print(f"  {name:>32}: {1000 * s / (5 * steps):7.3f} ms per member-step ({base / s:.2f}x the separate runs)")


def bench_sweep(workers: int) -> None:
    r = trained_boundary(_GROUPS, _COEFS, [0, 1, 2, 3, 4], threads=1, workers=workers)
    d = r.to_dict()
    print(f"full sweep: {len(_GROUPS)} groups x {len(_COEFS)} fractions x 5 seeds = {len(d['members'])} members, "
          f"{d['settings']['steps']} steps budget: {d['seconds']:.0f} s wall, {d['cpu_seconds']:.0f} s CPU on {workers} worker(s) of 1 thread "
          f"(goal <= 1200 s), "
          f"load average at the end {os.getloadavg()}")
    print(f"  member-steps {d['member_steps']:,} of {d['member_steps_full']:,} at the full budget: "
          f"{100 * d['member_steps_saved']:.1f}% saved by leaving early; {d['undecided']} undecided members")
    for g in d["groups"]:
        print(f"  {g['group']:>6} M = {g['M']:>3}: {g['seconds']:7.1f} s wall, {g['cpu_seconds']:7.1f} s CPU, "
              f"{g['member_steps']:,} member-steps")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only the per-member-step ratios")
    ap.add_argument("--workers", type=int, default=1, help="groups trained at once in the full sweep")
    args = ap.parse_args()
    torch.set_num_threads(1)
    bench_ratios()
    if not args.quick:
        bench_sweep(args.workers)
