"""The Ray backend: workers train ensembles, the driver alone writes the store.

A worker trains its ensemble into a private throw-away store (a temporary SQLite file on
the worker's disk), exports the finished run (config, member results, metrics,
checkpoints, arrays, summary) as plain numpy/torch data and returns it. The driver
imports each returned run into the real store and maps it, so the store sees exactly
one writer, as SQLite on a shared filesystem requires, and a worker dying loses only its
own ensemble (it stays pending and is retrained on the next invocation).

Ray is an optional extra (``pip install 'grokscope[ray]'``).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from grokscope.errors import ConfigError
from grokscope.sweep._pack import run_name
from grokscope.sweep._train_plan import train_plan

__all__ = ["run_on_ray", "export_run", "import_run", "train_exported"]


def export_run(store, run_id: int) -> dict[str, Any]:
    """Everything a finished run holds, as picklable data."""
    rec = store.get_run(run_id)
    steps, metrics = store.metrics(run_id)
    ckpts = [(s, store.load_checkpoint(run_id, s)) for s in store.checkpoint_steps(run_id)]
    arrays = {n: store.load_arrays(run_id, n) for n in store.array_names(run_id)}
    return {"kind": rec.kind, "name": rec.name, "config": rec.config, "summary": rec.summary,
            "members": [{k: v for k, v in m.items() if k != "member"} for m in store.members(run_id)],
            "steps": steps, "metrics": metrics, "checkpoints": ckpts, "arrays": arrays}


def import_run(store, data: dict[str, Any], name: str | None = None) -> int:
    """Write an exported run into ``store`` (status ``finished`` last, so a kill leaves it unfinished)."""
    run_id = store.create_run(kind=data["kind"], config=data["config"], members=data["members"],
                              name=name if name is not None else data["name"])
    store.set_status(run_id, "running")
    metrics = [(int(s), {k: v[i] for k, v in data["metrics"].items()}) for i, s in enumerate(data["steps"])]
    store.flush(run_id, metrics=metrics, checkpoints=data["checkpoints"])
    for n, arrs in data["arrays"].items():
        store.save_arrays(run_id, n, arrs)
    if data["summary"] is not None:
        store.set_summary(run_id, data["summary"])
    store.set_status(run_id, "finished")
    return run_id


def train_exported(config: dict[str, Any], name: str, threads: int = 1) -> tuple[dict[str, Any], float]:
    """Train one ensemble in a private store and return (exported run, training seconds). Runs on a worker."""
    import torch

    from grokscope._malloc import tune_malloc
    from grokscope.store import Store

    torch.set_num_threads(threads)
    tune_malloc()
    with tempfile.TemporaryDirectory(prefix="grokscope-worker-") as d:
        store = Store(Path(d) / "worker.db")
        t0 = time.perf_counter()
        run_id = train_plan(config, store, name)
        seconds = time.perf_counter() - t0
        out = export_run(store, run_id)
        store.close()
    return out, seconds


def run_on_ray(plans, store, sweep_name: str, address: str | None, on_done: Callable, *, cpus_per_task: int = 1) -> None:
    """Submit every plan to Ray and import results as they complete (driver-side writes only)."""
    try:
        import ray
    except ImportError:
        raise ConfigError("backend='ray' needs Ray: pip install 'grokscope[ray]' (or pip install ray)") from None

    started_here = False
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
        started_here = True
    try:
        remote = ray.remote(num_cpus=cpus_per_task)(train_exported)
        futures = {remote.remote(p.config, run_name(sweep_name, p.index), cpus_per_task): p for p in plans}
        pending = list(futures)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                plan = futures[ref]
                data, seconds = ray.get(ref)
                run_id = import_run(store, data, name=run_name(sweep_name, plan.index))
                on_done(plan, run_id, seconds)
    finally:
        if started_here:
            ray.shutdown()
