"""Sweep throughput: models/s packed into ensembles vs one at a time, fraction of matmul peak,
and an honest extrapolation of a full sweep (default: PAIR's sparse-parity sweep).

Everything is measured in this one run on this machine, so the ratios are comparable even
when other processes share the CPU; the absolute numbers are not (say so when quoting them).

    python benchmarks/bench_sweep.py                      # sweep-pair-parity, 60 timed steps
    python benchmarks/bench_sweep.py --quick              # smoke run (a few steps)
    python benchmarks/bench_sweep.py --spec my.toml --steps 200 --single 8

Method:
1. fp32 matmul peak: GFLOP/s of a 2048^3 matmul (best of a few), the ceiling for dense work.
2. For every model shape of the sweep, its first planned ensemble (as the sweep packs it) is
   trained for S steps, evaluated at steps 0, 1, ~S/6 and S; the time per step over the last
   interval (5/6 of the run, with one evaluation) is the step time without setup and warm-up.
3. The first `--single` members of the narrowest and the widest shape are trained as one
   ensemble and one at a time (ensembles of 1), same steps: the ratio is the packing speed-up.
4. Useful FLOPs per member-step = 6 x (train rows) x (matmul weights): forward 2 FLOPs per
   multiply-add per row, backward twice the forward (Kaplan et al. 2020's 6N per token).
   Padding rows and evaluation are not counted as useful.
5. Extrapolation of the full sweep: sum over shapes of (ensembles of that shape) x (measured
   time per step) x (the spec's step budget). It assumes the time per step is constant over
   training, which holds for full-batch training of fixed shapes; it ignores early stopping.
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import time
import tomllib
from pathlib import Path

import torch

from grokscope.sweep import load_spec, pack, parse_spec
from grokscope.sweep import _configs as C
from grokscope.sweep._presets import preset_path


def matmul_peak_gflops(n: int = 2048, reps: int = 5) -> float:
    a = torch.randn(n, n, generator=torch.Generator().manual_seed(0))
    b = torch.randn(n, n, generator=torch.Generator().manual_seed(1))
    a @ b                                                       # warm-up
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def with_steps(cfg: dict, steps: int, n_evals: int) -> dict:
    """``cfg`` with ``steps`` steps and ``n_evals`` evaluations, log-spaced, as timestamps.

    The sweep itself evaluates ~dense_until + n_log times (300 by default) over 20k steps, each
    about one forward pass over train and test rows: ~1% of the training time.
    """
    cfg = copy.deepcopy(cfg)
    C.set_key(cfg, C.STEPS_KEY, steps, "bench")
    for key, v in (("log.dense_until", 0), ("log.n_log", n_evals), ("log.n_checkpoints", 0)):
        C.set_key(cfg, key, v, "bench")
    return cfg


def per_step_seconds(cfg: dict, steps: int) -> float:
    """Seconds per step over the last evaluation interval (setup and the first steps' warm-up drop out)."""
    from grokscope.config import RunConfig
    from grokscope.train import train

    stamps: list[tuple[int, float]] = []
    # evaluations at steps 0, 1, ~steps/6 and steps: the last interval is most of the run, past warm-up
    train(RunConfig.from_dict(with_steps(cfg, steps, 3)), store=None,
                progress=lambda d: stamps.append((d["step"], time.perf_counter())))
    (s0, t0), (s1, t1) = stamps[-2], stamps[-1]
    return (t1 - t0) / (s1 - s0)


def matmul_weights_per_member(cfg: dict) -> int:
    """Weights in matrices (ndim >= 2 per member, so [model, a, b]) of the ensemble ``cfg`` builds."""
    from grokscope.config import RunConfig
    from grokscope.models import build_model

    rc = RunConfig.from_dict(subset(cfg, 1))
    model = build_model(rc, rc.build_task())
    return int(sum(p[0].numel() for p in model.parameters() if p.ndim >= 3))


def _get(cfg: dict, key: str):
    try:
        return C.get_key(cfg, key)
    except KeyError:
        return None


def subset(cfg: dict, k: int) -> dict:
    """The first k members of an ensemble config (per-member lists cut to k)."""
    cfg = copy.deepcopy(cfg)
    for key in (*C.LIST_KEYS, C.SEEDS_KEY):
        v = _get(cfg, key)
        if isinstance(v, list):
            C.set_key(cfg, key, v[:k], "bench")
    C.set_key(cfg, C.N_MEMBERS_KEY, k, "bench")
    return cfg


def train_rows(cfg: dict) -> float:
    """Mean training rows per member: train_count, or train_frac x the inputs (or the train pool)."""
    from grokscope.config import RunConfig

    count, frac = _get(cfg, "task.train_count"), _get(cfg, "task.train_frac")
    mean = lambda v: float(sum(v) / len(v)) if isinstance(v, list) else float(v)   # noqa: E731
    if count is not None:
        return mean(count)
    task = RunConfig.from_dict(subset(cfg, 1)).build_task()
    pool = getattr(task, "train_pool", None)
    n_avail = len(pool) if pool is not None else task.n_all
    return mean(frac if frac is not None else 1.0) * n_avail


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default="sweep-pair-parity")
    ap.add_argument("--steps", type=int, default=40, help="timed steps per measurement")
    ap.add_argument("--single", type=int, default=6, help="members run one at a time for the packing ratio")
    ap.add_argument("--quick", action="store_true", help="smoke run: 8 steps, 2 single members")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--no-malloc-tuning", action="store_true",
                    help="measure with glibc's default malloc (run_sweep tunes it; see grokscope/_malloc.py)")
    args = ap.parse_args(argv)
    if not args.no_malloc_tuning:
        from grokscope._malloc import tune_malloc

        print(f"# malloc tuned (heap only, no trim): {tune_malloc()}")
    else:
        print("# malloc: glibc defaults")
    if args.quick:
        args.steps, args.single = 12, 2
    if args.threads:
        torch.set_num_threads(args.threads)

    path = Path(args.spec) if Path(args.spec).exists() else preset_path(args.spec)
    raw = tomllib.loads(path.read_text())
    full = load_spec(path)
    budget = full.steps or C.get_key(full.base_config, C.STEPS_KEY)
    raw["steps"] = args.steps
    raw.setdefault("name", path.stem)
    spec = parse_spec(raw, spec_dir=path.parent)
    plans = pack(spec)
    print(f"# {full.describe()}")
    print(f"# {len(plans)} ensembles; torch threads {torch.get_num_threads()}; timed steps {args.steps}")
    peak = matmul_peak_gflops()
    print(f"fp32 matmul peak (2048^3): {peak:.1f} GFLOP/s")

    shapes: dict[str, list] = {}
    for p in plans:
        shapes.setdefault(repr(p.shared), []).append(p)
    print(f"\n{'shape':40s} {'ens':>4s} {'members':>7s} {'s/step':>9s} {'models/s':>9s} {'GFLOP/s':>8s} {'% peak':>7s}")
    total_s, total_flop = 0.0, 0.0
    widest = narrowest = None
    for label, ps in shapes.items():
        plan = ps[0]
        sec = per_step_seconds(plan.config, args.steps)
        mm = matmul_weights_per_member(plan.config)
        rows = train_rows(plan.config)
        flop_step = 6 * rows * mm * plan.n_members if mm else float("nan")
        gf = flop_step / sec / 1e9
        # models/s at the sweep's budget: members finishing `budget` steps per second
        print(f"{label[:40]:40s} {len(ps):4d} {plan.n_members:7d} {sec:9.4f} {plan.n_members / (sec * budget):9.4f} "
              f"{gf:8.2f} {100 * gf / peak:6.1f}%")
        total_s += sum(sec * q.n_members / plan.n_members for q in ps) * budget
        total_flop += sum(6 * train_rows(q.config) * (mm or 0) * q.n_members for q in ps) * budget
        if widest is None or (mm or 0) > widest[1]:
            widest = (plan, mm or 0)
        if narrowest is None or (mm or 0) < narrowest[1]:
            narrowest = (plan, mm or 0)

    for what, (plan, _) in (("narrowest", narrowest), ("widest", widest)):
        k = min(args.single, plan.n_members)
        t_ens = per_step_seconds(subset(plan.config, k), args.steps)
        t_one = sum(per_step_seconds(subset(_member(plan.config, j), 1), args.steps) for j in range(k))
        big = per_step_seconds(plan.config, args.steps)
        print(f"\npacking on the {what} shape {plan.shared}: {k} members one at a time {t_one * 1e3:.1f} ms/step, "
              f"as one ensemble {t_ens * 1e3:.1f} ms/step -> {t_one / t_ens:.1f}x; the full ensemble of "
              f"{plan.n_members}: {big * 1e3:.1f} ms/step -> {t_one / k * plan.n_members / big:.1f}x the one-at-a-time rate")

    print(f"\nextrapolated full sweep ({full.n_members} models x {budget} steps, no early stopping):")
    print(f"  at the measured ensemble speed: {total_s / 60:.1f} min ({full.n_members / total_s:.2f} models/s)")
    if total_flop:
        print(f"  lower bound at 100% of the measured matmul peak: {total_flop / (peak * 1e9) / 60:.1f} min "
              f"({total_flop:.3g} useful FLOPs)")
    print("  (measured while other processes may share the CPU; ratios above come from this one run)")


def _member(cfg: dict, j: int) -> dict:
    """Member j of an ensemble config moved to position 0 (so subset(.., 1) keeps it)."""
    cfg = copy.deepcopy(cfg)
    for key in (*C.LIST_KEYS, C.SEEDS_KEY):
        v = _get(cfg, key)
        if isinstance(v, list):
            C.set_key(cfg, key, [v[j]] + v[:j] + v[j + 1:], "bench")
    return cfg


if __name__ == "__main__":
    sys.exit(main())
