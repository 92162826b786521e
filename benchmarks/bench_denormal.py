"""Training with and without flushing subnormal floats to zero (the config key ``flush_denormal``).

Weight decay shrinks unused weights and their gradients towards zero; once values fall below
1.2e-38 (float32) each operation on them takes the CPU's slow microcode path. ``train()`` sets
``torch.set_flush_denormal(cfg.flush_denormal)`` (default true) for the run. The setting is per
thread, and torch's worker threads copy it from the main thread when they are created, so it
must be made before the first parallel op of the process, as ``grokscope train`` does. This script trains
the same config both ways with ``grokscope train``, alternating, each run in a fresh process,
and prints steps/s, their ratio and whether the members' phases and steps agree (each op differs
from IEEE arithmetic only below 1.2e-38, but over a long run that can move a trajectory a little).

    .venv/bin/python benchmarks/bench_denormal.py                       # pair-mod67, 4000 steps
    .venv/bin/python benchmarks/bench_denormal.py --preset demo --steps 2000
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from grokscope import Store


def run_once(preset: str, steps: int, members: int, flush: bool, db: Path) -> tuple[float, list]:
    """One ``grokscope train`` in a fresh process (the setting must precede torch's thread pool)."""
    out = subprocess.run([sys.executable, "-m", "grokscope.cli", "train", "--preset", preset, "--quiet",
                          "--store", str(db), "--set", f"train.steps={steps}", "--set", f"n_members={members}",
                          "--set", f"flush_denormal={str(flush).lower()}", "--set", "train.stop_after_grok=false"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"grokscope train failed:\n{out.stderr}")
    store = Store(db)
    run = store.list_runs()[-1]
    return run.summary["steps_per_s"], [(m["phase"], m["mem_step"], m["gen_step"]) for m in store.members(run.id)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="pair-mod67")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--members", type=int, default=8)
    ap.add_argument("--reps", type=int, default=2, help="runs of each setting, alternating")
    args = ap.parse_args()
    rates: dict[bool, list[float]] = {False: [], True: []}
    members: dict[bool, list] = {}
    with tempfile.TemporaryDirectory() as d:
        for _ in range(args.reps):
            for flush in (False, True):
                rate, members[flush] = run_once(args.preset, args.steps, args.members, flush, Path(d) / "runs.db")
                rates[flush].append(rate)
    print(f"grokscope train --preset {args.preset}, {args.members} members, {args.steps} steps; "
          f"{args.reps} runs of each setting, alternating, each in a fresh process")
    for flush in (False, True):
        print(f"  flush_denormal={str(flush).lower():5}: {statistics.median(rates[flush]):7.1f} steps/s "
              f"(runs: {', '.join(f'{r:.1f}' for r in rates[flush])})")
    print(f"  speed-up: {statistics.median(rates[True]) / statistics.median(rates[False]):.2f}x")
    same = members[True] == members[False]
    print(f"  members' (phase, memorization step, generalization step) identical: {same}")
    if not same:
        for i, (a, b) in enumerate(zip(members[False], members[True])):
            print(f"    member {i}: IEEE {a}   flushed {b}")


if __name__ == "__main__":
    main()
