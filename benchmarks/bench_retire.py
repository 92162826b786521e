"""Retirement: an ensemble of PAIR MLPs whose members mostly decide early, with and without retiring them.

    python benchmarks/bench_retire.py                   # 48 members, 2,000 steps, two pairs (~2 minutes)
    python benchmarks/bench_retire.py --members 128 --steps 3000 --window 100

The same config (a + b mod 23, half the pairs for training, PAIR MLPs with 64 hidden neurons,
full-batch AdamW, lr 1e-2, per-member weight decay spread over [0.3, 3], Nanda et al. 2023's decay
and what makes small-data runs grok, Power et al. 2022) is trained twice in this process, one
thread each: once with ``train.retire_window`` (a member retires once its test accuracy has held
>= 99% for that many steps, or it diverged) and once without. Printed, from this one run:

- wall time and steps/s of each, and their ratio (the speed-up retirement gives this ensemble);
- member-steps spent (the sum over members of the steps each held a row of the ensemble) against
  the full budget (members x steps): the fraction of the training FLOPs spent, since every
  member-step of a fixed-shape full-batch model costs the same FLOPs (6 x rows x weights);
- that the survivors' numbers are unchanged: the two runs' metrics agree exactly for every member
  up to its retirement step (same thread count, same code).

The ratios hold on this machine under its load at the time; absolute times do not transfer.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from grokscope.config import load_config
from grokscope.train import train


def _config(members: int, steps: int, window: int):
    wd = np.round(np.geomspace(0.3, 3.0, members), 4).tolist()
    return load_config(overrides=[
        "task.p=23", "task.train_frac=0.5", "model.arch=pair_mlp", "model.d_embed=16", "model.d_hidden=64",
        "optim.lr=1e-2", f"optim.weight_decay={wd}", "train.batch_size=0", f"train.steps={steps}",
        f"n_members={members}", "seed=0", "threads=1", f"train.retire_window={window}",
        "log.n_checkpoints=2", "log.dense_until=100", "log.n_log=200", "log.flush_seconds=1e9",
    ])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=48)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--window", type=int, default=100)
    ap.add_argument("--reps", type=int, default=2, help="alternating pairs of runs; the fastest of each is kept")
    a = ap.parse_args()
    torch.set_num_threads(1)
    train(_config(4, 50, 0), store=None)  # warm-up: allocator, thread pool, first-call paths
    results: dict[str, list] = {"retire": [], "full budget": []}
    for _ in range(a.reps):  # alternating, so load that drifts during the run hits both alike
        for name, window in (("full budget", 0), ("retire", a.window)):
            t0 = time.perf_counter()
            res = train(_config(a.members, a.steps, window), store=None)
            results[name].append((time.perf_counter() - t0, res))
    t_ret, ret = min(results["retire"], key=lambda x: x[0])
    t_full, full = min(results["full budget"], key=lambda x: x[0])
    s = ret.summary
    retired = [m["retired_step"] for m in ret.members if m["retired_step"] is not None]
    frac = s["member_steps"] / s["member_steps_budget"]
    print(f"{a.members} PAIR MLPs (a + b mod 23), {a.steps} full-batch steps, retire_window={a.window}, 1 thread, "
          f"fastest of {a.reps} alternating runs each")
    print(f"  retired: {len(retired)}/{a.members} members, at steps {min(retired, default=None)}..{max(retired, default=None)} "
          f"(median {int(np.median(retired)) if retired else None}); phases {s['phases']}")
    print(f"  with retirement   : {t_ret:7.1f} s, {s['final_step'] / t_ret:7.1f} steps/s, final step {s['final_step']}")
    print(f"  full budget       : {t_full:7.1f} s, {full.summary['final_step'] / t_full:7.1f} steps/s")
    print(f"  speed-up (wall time full / retire)      : {t_full / t_ret:.2f}x")
    print(f"  member-steps spent / full budget        : {s['member_steps']:,} / {s['member_steps_budget']:,} "
          f"= {frac:.3f} of the training FLOPs (ideal speed-up {1 / frac:.2f}x)")
    # Nothing changes for anyone by retirement: metrics equal up to each member's retirement step.
    n_same = 0
    for m in ret.members:
        upto = s["final_step"] if m["retired_step"] is None else m["retired_step"]
        n = int(np.searchsorted(ret.steps, upto, side="right"))
        n_same += all(np.array_equal(ret.metrics[k][:n, m["member"]], full.metrics[k][:n, m["member"]], equal_nan=True)
                      for k in ("train_loss", "test_loss", "train_acc", "test_acc"))
    print(f"  members whose metrics equal the full run's up to their retirement: {n_same}/{a.members}")


if __name__ == "__main__":
    main()
