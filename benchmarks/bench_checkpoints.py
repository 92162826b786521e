"""The cost of the default checkpoints (100 log-spaced + up to 50 at transitions) against the old 24, in one run.

    python benchmarks/bench_checkpoints.py                          # demo preset, 8 members, 3,000 steps
    python benchmarks/bench_checkpoints.py --preset nanda-p113 --members 1 --steps 1000

The same config is trained into a fresh store on disk twice per repetition, alternating: with
``log.n_checkpoints=24 log.transition_checkpoints=0`` (grokscope before 0.3) and with the defaults.
Printed: checkpoints kept, wall time per run (the fastest of ``--reps``) and their ratio, and the
store's bytes per run. Ratios hold on this machine under its load at the time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from grokscope.config import load_config
from grokscope.store import Store
from grokscope.train import train

SETTINGS = {"24 log-spaced (old default)": ["log.n_checkpoints=24", "log.transition_checkpoints=0"],
            "defaults (100 + transitions)": []}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--members", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--reps", type=int, default=2)
    a = ap.parse_args()
    base = [f"n_members={a.members}", f"train.steps={a.steps}", "train.stop_after_grok=false", "threads=1"]
    best: dict[str, float] = {}
    kept: dict[str, int] = {}
    size: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(a.reps):
            for label, more in SETTINGS.items():
                path = Path(tmp) / f"{rep}-{len(more)}.db"
                store = Store(path)
                cfg = load_config(preset=a.preset, overrides=[*base, *more])
                t0 = time.perf_counter()
                res = train(cfg, store)
                dt = time.perf_counter() - t0
                kept[label] = len(store.checkpoint_steps(res.run_id))
                store.close()
                size[label] = sum(p.stat().st_size for p in Path(tmp).glob(f"{rep}-{len(more)}.db*"))
                best[label] = min(best.get(label, float("inf")), dt)
    print(f"{a.preset}, {a.members} members, {a.steps} steps, one thread, fastest of {a.reps}:")
    for label in SETTINGS:
        print(f"  {label:30s} {kept[label]:4d} checkpoints  {best[label]:7.2f} s  store {size[label] / 2**20:7.2f} MiB")
    old, new = SETTINGS
    print(f"  time ratio defaults / old: {best[new] / best[old]:.3f}")


if __name__ == "__main__":
    main()
