"""Retiring stalled members: the same adaptive sweep with and without ``train.retire_stall_window``.

    python benchmarks/bench_stall.py                       # the parity sweep's width-16 shape (225 members), ~8 min
    python benchmarks/bench_stall.py --spec FILE --window 2000 --reps 2

One sweep spec (default ``benchmarks/sweep-pair-parity-w16-retire.toml``: decided members retire),
run into fresh stores in this process, one thread, alternating: as written (``retire``), and with
``train.retire_stall_window = --window`` added (``stall``: members that never memorized and whose
train accuracy has not risen by more than 0.01 for that many steps retire too). Printed: wall and
this process's CPU time of each and their ratio (the fastest of ``--reps``), member-steps trained,
and how many members' (phase, memorization step, generalization step) differ between the two
(members the stall rule retires early can only differ if they would have memorized later). Ratios
hold on this machine under its load at the time; absolute times do not transfer.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from grokscope.store import Store
from grokscope.sweep import load_spec, sweep_members

from _common import timed_sweep  # benchmarks/_common.py (the script's folder is on sys.path)

NAME = "bench-stall"


def _spec(path: Path, src: str, window: int) -> Path:
    lines = [ln for ln in Path(src).read_text().splitlines() if not ln.strip().startswith("name")]
    text = "\n".join([f'name = "{NAME}"', *lines]) + "\n"
    if window:
        text = text.replace("[set]\n", f'[set]\n"train.retire_stall_window" = {window}\n"threads" = 1\n', 1)
    else:
        text = text.replace("[set]\n", '[set]\n"threads" = 1\n', 1)
    path.write_text(text)
    return path


def _run(tmp: Path, tag: str, src: str, window: int) -> tuple[float, float, dict, int]:
    d = tmp / tag
    d.mkdir()
    store = Store(d / "runs.db")
    wall, cpu, member_steps = timed_sweep(_spec(d / "spec.toml", src, window), store)
    fields = {(m["point"], m["seed"]): (m.get("phase"), m.get("mem_step"), m.get("gen_step"))
              for m in sweep_members(store, NAME)}
    store.close()
    return wall, cpu, fields, member_steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="benchmarks/sweep-pair-parity-w16-retire.toml")
    ap.add_argument("--window", type=int, default=2000, help="train.retire_stall_window of the stall mode")
    ap.add_argument("--reps", type=int, default=1, help="alternating pairs; the fastest of each is kept")
    a = ap.parse_args()
    torch.set_num_threads(1)
    wall: dict[str, list[float]] = {"retire": [], "stall": []}
    cpu: dict[str, list[float]] = {"retire": [], "stall": []}
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.reps):
            for mode, window in (("retire", 0), ("stall", a.window)):
                w, c, fields, ms = _run(Path(tmp), f"{mode}-{r}", a.spec, window)
                wall[mode].append(w)
                cpu[mode].append(c)
                out[mode] = (fields, ms)
    spec = load_spec(a.spec)
    budget = spec.n_members * spec.base_config["train"]["steps"]
    differ = sum(out["retire"][0][k] != out["stall"][0][k] for k in out["retire"][0])
    print(f"{a.spec}: {spec.n_members} members, {spec.base_config['train']['steps']} steps, one thread; "
          f"stall window {a.window}; members whose (phase, mem step, gen step) differ: {differ}")
    for mode in ("retire", "stall"):
        ms = out[mode][1]
        print(f"  {mode:6s} {min(wall[mode]):7.1f} s wall, {min(cpu[mode]):7.1f} s CPU  member-steps {ms:,} "
              f"({ms / budget:.3f} of the full budget)")
    print(f"  stall / retire speed-up: wall time {min(wall['retire']) / min(wall['stall']):.2f}x, "
          f"CPU time {min(cpu['retire']) / min(cpu['stall']):.2f}x")


if __name__ == "__main__":
    main()
