"""What MKL's reproducibility mode costs a training step (grokscope/_mkl.py: ``MKL_CBWR=AUTO``).

grokscope sets ``MKL_CBWR=AUTO`` on import so a member's bits do not depend on where it sits in
its ensemble, and keeps a value the user set. This script trains the same configs with MKL's
default (no ``MKL_CBWR``: reproducibility off, kernels chosen by memory alignment), with ``AUTO`` and
with ``AUTO,STRICT``, alternating, each run in a fresh process (MKL reads the variable once, at its
first call, so the child removes it after importing grokscope for the default), one thread, and
prints the median seconds per run and the ratios to the default.

    .venv/bin/python benchmarks/bench_mkl_cbwr.py [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

CASES = {  # name: (preset, overrides); small enough for a few seconds each
    "pair-mod67, 32 members, 400 steps": ("pair-mod67", ["n_members=32", "train.steps=400"]),
    "nanda-p113, 1 member, 30 steps": ("nanda-p113", ["n_members=1", "train.steps=30"]),
    "pair-mod67-notebook (float64), 8 members, 200 steps": ("pair-mod67-notebook", ["n_members=8", "train.steps=200"]),
}
MODES = ("default", "AUTO", "AUTO,STRICT")
CHILD = """
import os, sys, time, torch
torch.set_num_threads(1)
from grokscope import load_config, train
if os.environ.get("MKL_CBWR") == "default":
    del os.environ["MKL_CBWR"]  # before MKL's first call: MKL's own default
cfg = load_config(preset=sys.argv[1], overrides=[*sys.argv[2:], "log.n_checkpoints=0"])
t = time.perf_counter(); train(cfg); print(time.perf_counter() - t)
"""


def run_once(preset: str, overrides: list[str], mode: str) -> float:
    env = {**os.environ, "MKL_CBWR": mode, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, preset, *overrides], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"training failed:\n{out.stderr}")
    return float(out.stdout.split()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3, help="runs of each setting, alternating")
    args = ap.parse_args()
    print(f"seconds per run, median of {args.reps} (alternating, fresh processes, one thread)")
    for name, (preset, overrides) in CASES.items():
        t: dict[str, list[float]] = {mode: [] for mode in MODES}
        for _ in range(args.reps):
            for mode in MODES:
                t[mode].append(run_once(preset, overrides, mode))
        med = {mode: statistics.median(v) for mode, v in t.items()}
        print(f"  {name}: " + "  ".join(f"{mode} {med[mode]:.2f} s ({med[mode] / med['default']:.2f}x)" for mode in MODES))


if __name__ == "__main__":
    main()
