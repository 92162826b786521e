"""Shared benchmark helpers: allocator settings, the machine's matmul peak, timing, tables.

Every benchmark prints ratios measured in one run (never compared across runs or machines).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Callable, Sequence

import torch

# glibc's malloc hands big blocks (a [model, batch, d] activation is megabytes) to mmap and
# returns freed heap tops to the OS, so a training loop that frees and re-allocates the same
# tensors every step pays page faults on each one. Keeping them in the heap avoids that:
#   MALLOC_MMAP_MAX_=0                  never use mmap for allocations
#   MALLOC_TRIM_THRESHOLD_=17179869184  never give freed heap memory back (16 GiB)
# glibc reads these only at process start, so `tune_malloc()` re-executes the script with them.
MALLOC_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(16 * 2**30)}


def tune_malloc(enabled: bool = True) -> bool:
    """Re-exec this process with ``MALLOC_ENV`` unless it is already set; returns whether it is set."""
    if all(os.environ.get(k) == v for k, v in MALLOC_ENV.items()):
        return True
    if not enabled or sys.platform != "linux":
        return False
    env = {**os.environ, **MALLOC_ENV}
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, *sys.argv], env)
    raise AssertionError("unreachable")  # pragma: no cover


def matmul_peak_gflops(n: int = 2048, reps: int = 5, dtype: torch.dtype = torch.float32) -> float:
    """The best fp32 GFLOP/s of an ``n x n @ n x n`` matmul (2·n³ FLOPs), measured now."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen, dtype=dtype)
    b = torch.randn(n, n, generator=gen, dtype=dtype)
    out = torch.empty(n, n, dtype=dtype)
    torch.mm(a, b, out=out)  # warm-up: thread pool and caches
    best = min(_time_once(lambda: torch.mm(a, b, out=out)) for _ in range(reps))
    return 2 * n**3 / best / 1e9


def _time_once(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def time_steps(steps: dict[str, Callable[[], object]], warmup: int, target_s: float, min_steps: int = 1,
               max_steps: int = 1000, reps: int = 3) -> dict[str, float]:
    """Median seconds per call of each function, timed in interleaved blocks after ``warmup`` calls.

    Interleaving (a block of each, ``reps`` times) makes a ratio between two of them robust to
    load that drifts during the run, as on a machine shared with other jobs. Each block lasts
    about ``target_s / reps`` seconds, judged from the last warm-up call.
    """
    n_calls = {}
    for name, step in steps.items():
        t_one = 0.0
        for _ in range(max(warmup, 1)):
            t_one = _time_once(step)
        n_calls[name] = int(min(max_steps, max(min_steps, target_s / reps / max(t_one, 1e-9))))
    per_step: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(reps):
        for name, step in steps.items():
            n = n_calls[name]
            t0 = time.perf_counter()
            for _ in range(n):
                step()
            per_step[name].append((time.perf_counter() - t0) / n)
    return {name: statistics.median(v) for name, v in per_step.items()}


def mem_available_bytes() -> int | None:
    """``MemAvailable`` from /proc/meminfo, or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain fixed-width table on stdout (readable in logs, diffable in docs)."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for k, r in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
        if k == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(c: object) -> str:
    if isinstance(c, float):
        return f"{c:.3g}" if abs(c) < 1e5 else f"{c:.3e}"
    return str(c)


def timed_sweep(spec_path, store) -> tuple[float, float, int]:
    """Run the sweep spec at ``spec_path`` into ``store`` (it must complete): wall seconds, this
    process's CPU seconds, and the member-steps its runs trained (the sum of their summaries'
    ``member_steps``: each member's steps until it retired, or the budget)."""
    from grokscope.sweep import load_spec, run_sweep

    t0, c0 = time.perf_counter(), time.process_time()
    rep = run_sweep(load_spec(spec_path), store, progress=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert rep.complete
    member_steps = sum(store.get_run(r.id).summary.get("member_steps", 0) for r in store.list_runs())
    return wall, cpu, member_steps
