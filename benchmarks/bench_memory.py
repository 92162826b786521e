"""Peak resident memory of training: every preset, the 512-member PAIR ensemble, and three runs in one process.

Issue 14's goal: one member of ``nanda-p113`` (230k parameters) stays at or under 1 GB of peak
resident memory at any run length, and a process that trains several runs does not accumulate.
Each case runs in a fresh Python process that does what ``grokscope train`` does (``tune_malloc``,
a store on disk) and reports its own peak RSS (``VmHWM`` of /proc/self/status),
its RSS once torch and grokscope are imported, and its training speed.

    .venv/bin/python benchmarks/bench_memory.py                  # every preset, 200 steps each
    .venv/bin/python benchmarks/bench_memory.py --steps 800 --cases nanda-p113
    .venv/bin/python benchmarks/bench_memory.py --no-malloc-tuning

Cases: each bundled run preset (``grokscope presets``) at its own member count; ``pair-mod67 x512``
(PAIR's MLP, 512 members); ``nanda-p113 x3 runs`` (train fractions 0.7, 0.5 and 0.3 trained one
after another in one process, the pattern that reached 5.4 GB before the fix).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
REPEAT_FRACS = (0.7, 0.5, 0.3)


def _vm_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(case: dict) -> dict:
    """Train ``case`` in this (fresh) process; measurements of this process."""
    if case["tune"]:
        from grokscope._malloc import tune_malloc

        tune_malloc()
    import torch

    from grokscope import Store, load_config, train

    torch.set_num_threads(case["threads"])
    rss_import = _vm_rss_mb()
    runs = case.get("fracs") or [None]
    steps = 0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        store = Store(Path(d) / "runs.db")
        for frac in runs:
            over = [f"train.steps={case['steps']}", f"threads={case['threads']}", *case["overrides"]]
            if frac is not None:
                over.append(f"task.train_frac={frac}")
            cfg = load_config(preset=case["preset"], overrides=over)
            train(cfg, store=store)
            steps += case["steps"]
        store.close()
    wall = time.perf_counter() - t0
    n_params = sum(p.numel() for p in _model(cfg).parameters()) // cfg.n_members
    return {"rss_import_mb": rss_import, "peak_mb": _vm_hwm_mb(),
            "steps_per_s": steps / wall, "params_per_member": n_params, "members": cfg.n_members}


def _vm_hwm_mb() -> float:
    """This process's peak RSS (VmHWM). Not getrusage's ru_maxrss: Linux carries a forking parent's
    RSS into an exec'd child's ru_maxrss, which would hide any peak below the parent's size."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def _model(cfg):
    from grokscope.models import build_model

    return build_model(cfg, cfg.build_task(), member_seeds=cfg.seeds())


def cases(args) -> list[dict]:
    from grokscope.config import list_presets

    base = {"steps": args.steps, "threads": args.threads, "tune": not args.no_malloc_tuning, "overrides": []}
    out = [{**base, "name": p, "preset": p} for p in list_presets()]
    out.append({**base, "name": "pair-mod67 x512", "preset": "pair-mod67", "overrides": ["n_members=512"]})
    out.append({**base, "name": "nanda-p113 x3 runs", "preset": "nanda-p113", "fracs": list(REPEAT_FRACS),
                "steps": args.repeat_steps})
    return [c for c in out if not args.cases or c["name"] in args.cases or c["preset"] in args.cases]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200, help="training steps per run (default 200)")
    ap.add_argument("--repeat-steps", type=int, default=100, help="steps of each of the three runs in one process")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--cases", nargs="*", help="case or preset names (default: all)")
    ap.add_argument("--no-malloc-tuning", action="store_true", help="glibc's default malloc (the CLI tunes it)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    env = {**os.environ, "PYTHONPATH": str(_ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    print(f"# peak RSS per case, each in a fresh process (VmHWM); malloc tuned: {not args.no_malloc_tuning}; "
          f"torch threads {args.threads}")
    header = ("case", "members", "params/member", "steps", "RSS after import MB", "peak RSS MB", "peak - import MB",
              "steps/s")
    rows = []
    for case in cases(args):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--child", json.dumps(case)], capture_output=True,
                             text=True, check=False, env=env)
        if out.returncode != 0:
            print(f"{case['name']}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        steps = case["steps"] * len(case.get("fracs") or [None])
        rows.append((case["name"], r["members"], r["params_per_member"], steps, f"{r['rss_import_mb']:.0f}",
                     f"{r['peak_mb']:.0f}", f"{r['peak_mb'] - r['rss_import_mb']:.0f}", f"{r['steps_per_s']:.1f}"))
        print(f"#   {case['name']}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in (header, ["-" * w for w in widths], *rows):
        print("  ".join(str(x).rjust(w) for x, w in zip(row, widths)))


if __name__ == "__main__":
    main()
