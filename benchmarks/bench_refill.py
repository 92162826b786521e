"""Refill (continuous batching): the same adaptive sweep with and without queued ensembles joining the stack.

    python benchmarks/bench_refill.py                          # 192 members, cap 48, unit 12, 3,000 steps (~5 minutes)
    python benchmarks/bench_refill.py --members 96 --steps 2000 --reps 1
    python benchmarks/bench_refill.py --spec benchmarks/sweep-pair-parity-w16-retire.toml --unit 16   # ~10 min


One sweep spec, run twice into fresh stores in this process (one thread each, alternating):

- ``retire``: members retire once decided (test accuracy >= 99% held for ``--window`` steps and
  past 1.25x their generalization step, or diverged); the sweep's ensembles of ``--cap`` members
  train one after another, each shrinking as its members retire;
- ``refill``: the same rule, ensembles of ``--unit`` members stacked up to ``--cap`` rows; a queued
  ensemble joins as soon as retired members free its rows (``refill = unit`` in the spec).

``--spec FILE`` runs that sweep spec instead (as written, and with ``refill = unit`` added; its
``max_ensemble`` or the packer's activation cap is the stack's rows). By default the task is a + b mod 23 on half the pairs with PAIR MLPs of 64 neurons (full batch, AdamW lr 1e-2),
and 8 weight decays spread over [0.03, 3] so that some members decide within a few hundred steps and
some never do. Printed: wall time and this process's CPU time of each mode and their ratios (on a shared machine
the CPU time is what other jobs distort least), member-steps trained (equal in both:
the same members retire at the same steps, checked), and members finished per second.
The ratio holds on this machine under its load at the time; absolute times do not transfer.
"""

from __future__ import annotations

import argparse
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import torch

from grokscope.store import Store
from grokscope.sweep import load_spec, sweep_members

from _common import timed_sweep  # benchmarks/_common.py (the script's folder is on sys.path)


def _spec(path: Path, members: int, steps: int, window: int, cap: int, unit: int, batch_size: int) -> Path:
    # 8 weight decays x members/8 seeds, point-major: every ensemble of either mode holds <= 8 distinct
    # (lr, weight decay) pairs, so both take FusedAdamW (with more, an ensemble takes the transform
    # chain, whose numbers differ by rounding: the modes would then not be comparable member by member).
    seeds = members // 8
    wd = np.round(np.geomspace(0.03, 3.0, 8), 4).tolist()
    path.write_text(textwrap.dedent(f"""
        name = "bench-refill"
        seeds = {seeds}
        steps = {steps}
        max_ensemble = {cap}
        {f"refill = {unit}" if unit else ""}
        [set]
        "threads" = 1
        "task.kind" = "add"
        "task.p" = 23
        "task.train_frac" = 0.5
        "model.arch" = "pair_mlp"
        "model.d_embed" = 16
        "model.d_hidden" = 64
        "optim.lr" = 1e-2
        "train.batch_size" = {batch_size}
        "train.retire_window" = {window}
        "train.retire_frac" = 0.25
        "log.n_checkpoints" = 2
        "log.dense_until" = 100
        "log.n_log" = 100
        "log.flush_seconds" = 30
        [grid]
        "optim.weight_decay" = {wd}
    """))
    return path


def _from_file(path: Path, src: str, unit: int) -> Path:
    lines = [ln for ln in Path(src).read_text().splitlines() if not ln.strip().startswith(("name", "refill"))]
    top = ['name = "bench-refill"', *([f"refill = {unit}"] if unit else [])]
    path.write_text("\n".join([*top, *lines]) + "\n")
    return path


def _run(tmp: Path, tag: str, spec_file: str | None = None, **kw) -> tuple[float, float, dict, int]:
    d = tmp / tag
    d.mkdir()
    store = Store(d / "runs.db")
    path = _from_file(d / "spec.toml", spec_file, kw["unit"]) if spec_file else _spec(d / "spec.toml", **kw)
    wall, cpu, member_steps = timed_sweep(path, store)
    retired = {(m["point"], m["seed"]): store.members(m["run_id"])[m["member"]].get("retired_step")
               for m in sweep_members(store, "bench-refill")}
    return wall, cpu, retired, member_steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=192)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--window", type=int, default=100)
    ap.add_argument("--cap", type=int, default=48, help="max_ensemble: the stack's rows")
    ap.add_argument("--unit", type=int, default=12, help="refill: the size of each queued ensemble")
    ap.add_argument("--reps", type=int, default=1, help="alternating pairs; the fastest of each is kept")
    ap.add_argument("--batch-size", type=int, default=0, help="0: full batch; else minibatches of this many pairs")
    ap.add_argument("--spec", default=None, help="run this sweep spec (with and without refill) instead")
    a = ap.parse_args()
    torch.set_num_threads(1)
    times: dict[str, list[float]] = {"retire": [], "refill": []}
    cpus: dict[str, list[float]] = {"retire": [], "refill": []}
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.reps):
            for mode, unit in (("retire", 0), ("refill", a.unit)):
                wall, cpu, retired, member_steps = _run(Path(tmp), f"{mode}-{r}", a.spec, members=a.members, steps=a.steps,
                                                   window=a.window, cap=a.cap, unit=unit, batch_size=a.batch_size)
                times[mode].append(wall)
                cpus[mode].append(cpu)
                out[mode] = (retired, member_steps)
    same = out["retire"][0] == out["refill"][0]
    if a.spec:
        spec = load_spec(a.spec)
        a.members, a.steps, a.cap = spec.n_members, spec.base_config["train"]["steps"], spec.max_ensemble
    budget = a.members * a.steps
    n_retired = sum(v is not None for v in out["refill"][0].values())
    print(f"{a.spec or 'a + b mod 23'} (batch {a.batch_size or 'full'}): {a.members} members, {a.steps} steps, stack of <= {a.cap} rows, "
          f"refill unit {a.unit}, one thread; {n_retired} members retired; "
          f"same retirement steps in both modes: {same}")
    for mode in ("retire", "refill"):
        t, c, ms = min(times[mode]), min(cpus[mode]), out[mode][1]
        print(f"  {mode:7s} {t:7.1f} s wall, {c:7.1f} s CPU  member-steps {ms:,} ({ms / budget:.3f} of the full "
              f"budget)  {a.members / t:.2f} members/s")
    print(f"  refill / retire speed-up: wall time {min(times['retire']) / min(times['refill']):.2f}x, "
          f"CPU time {min(cpus['retire']) / min(cpus['refill']):.2f}x (CPU time is what a loaded machine distorts least)")


if __name__ == "__main__":
    main()
