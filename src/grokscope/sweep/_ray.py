"""The Ray backend: workers train ensembles, the driver alone writes the store.

A worker trains its ensemble into a private throw-away store (a temporary SQLite file on
the worker's disk), exports the finished run (config, member results, metrics,
checkpoints, arrays, summary) as plain numpy/torch data and returns it. The driver
imports each returned run into the real store and maps it, so the store sees exactly
one writer, as SQLite on a shared filesystem requires.

**A lost worker loses nothing.** A worker process or a whole node may die while it trains an
ensemble (Ray then fails that task with ``WorkerCrashedError``, ``NodeDiedError``,
``ObjectLostError``...). Ray's own task retries are off (``max_retries=0``) so that the
driver sees every loss: it resubmits the ensemble, which Ray schedules on whatever nodes
remain (or on the next node that joins), and counts the retry. Nothing of the lost attempt
reached the store, and exactly one attempt per ensemble is imported and mapped, so the store
ends with every member exactly once. Every wait is bounded: an ensemble lost more than
``max_retries`` times, or a cluster without a free CPU for ``no_worker_seconds``, stops the
sweep with one line; the ensembles finished so far are stored and a re-run continues.

Ray is an optional extra (``pip install 'grokscope[ray]'``); the test extra installs it too.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from grokscope.errors import ConfigError, GrokscopeError
from grokscope.sweep._pack import run_name
from grokscope.sweep._train_plan import train_plan

__all__ = ["run_on_ray", "export_run", "import_run", "train_exported", "is_lost_worker", "WorkersLostError",
           "MAX_RETRIES", "NO_WORKER_SECONDS", "POLL_SECONDS"]

# A private local instance binds to a loopback address: left to itself Ray picks the machine's
# routable address (it assumes other machines must reach the node), and 127.0.0.1 it replaces by
# that address too; 127.0.0.2 is loopback and is kept as given.
LOCAL_NODE_IP = "127.0.0.2"
MAX_RETRIES = 3            # resubmissions of one ensemble after lost workers, before the sweep gives up
NO_WORKER_SECONDS = 600.0  # how long the driver waits for a node with a free CPU (a worker to come back)
POLL_SECONDS = 1.0         # the longest single wait on Ray; the loop re-checks the cluster in between
GET_SECONDS = 600.0        # fetching one finished ensemble's data from its node


class WorkersLostError(GrokscopeError):
    """The Ray cluster lost the workers a sweep needs (too many times, or for too long)."""


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
    """Train one ensemble in a private store and return (exported run, training seconds). Runs on a worker.

    The private store lives in ``$TMPDIR/grokscope-worker-<pid>-*/``: the worker's pid in the
    name tells an operator (and the lost-worker tests) which process trains what.
    """
    import torch

    from grokscope._malloc import tune_malloc
    from grokscope.store import Store

    torch.set_num_threads(threads)
    tune_malloc()
    with tempfile.TemporaryDirectory(prefix=f"grokscope-worker-{os.getpid()}-") as d:
        store = Store(Path(d) / "worker.db")
        t0 = time.perf_counter()
        run_id = train_plan(config, store, name)
        seconds = time.perf_counter() - t0
        out = export_run(store, run_id)
        store.close()
    return out, seconds


def _lost_worker_types(ray) -> tuple[type, ...]:
    """Ray's errors for a task whose worker, node or result is gone (those present in this Ray version)."""
    names = ("WorkerCrashedError", "NodeDiedError", "LocalRayletDiedError", "ObjectLostError",
             "OwnerDiedError", "ObjectFetchTimedOutError", "RayActorError", "OutOfMemoryError",
             "RaySystemError", "GetTimeoutError")
    return tuple(t for t in (getattr(ray.exceptions, n, None) for n in names) if isinstance(t, type))


def is_lost_worker(err: BaseException, ray=None) -> bool:
    """Whether ``err`` (raised by ``ray.get``) means the attempt was lost, not that training failed.

    A ``RayTaskError`` is the task's own exception (a bad config, a bug): retrying would fail the
    same way, so it is not a lost worker unless its cause is one of Ray's system errors.
    """
    if ray is None:
        import ray
    lost = _lost_worker_types(ray)
    if isinstance(err, ray.exceptions.RayTaskError):
        return isinstance(getattr(err, "cause", None), lost)
    return isinstance(err, lost)


def _cluster_cpus(ray) -> float:
    """CPUs of the nodes alive now (0 while every worker is gone)."""
    try:
        return float(ray.cluster_resources().get("CPU", 0.0))
    except Exception:  # the GCS briefly unreachable: count as none, the caller waits (bounded)
        return 0.0


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Refuse at once a ``HOST:PORT`` where nothing listens (Ray itself would retry for minutes)."""
    host, sep, port = address.rpartition(":")
    if "://" in address or not sep or not port.isdigit():
        return                                   # "auto", "ray://...": Ray's own resolution
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as err:
        raise ConfigError(f"--address {address}: nothing answers there ({err.strerror or err}); start the head with "
                          f"`ray start --head --port {port}` or give its HOST:PORT") from None


def run_on_ray(plans, store, sweep_name: str, address: str | None, on_done: Callable, *, cpus_per_task: int = 1,
               on_retry: Callable | None = None, max_retries: int | None = None,
               no_worker_seconds: float | None = None) -> None:
    """Submit every plan to Ray and import results as they complete (driver-side writes only).

    A plan whose attempt is lost with its worker (``is_lost_worker``) is resubmitted, at most
    ``max_retries`` times (``MAX_RETRIES``), and ``on_retry(plan)`` is called for each
    resubmission. The sweep stops with ``WorkersLostError`` when an ensemble is lost once more,
    or when no node with ``cpus_per_task`` CPUs exists for ``no_worker_seconds``
    (``NO_WORKER_SECONDS``); a task's own exception propagates (a ``GrokscopeError`` as itself).
    """
    try:
        import ray
    except ImportError:
        raise ConfigError("backend='ray' needs Ray: pip install 'grokscope[ray]' (or pip install ray)") from None
    max_retries = MAX_RETRIES if max_retries is None else max_retries
    no_worker_seconds = NO_WORKER_SECONDS if no_worker_seconds is None else no_worker_seconds

    started_here = False
    if not ray.is_initialized():
        if address is None:   # a private local instance, on loopback only
            ray.init(include_dashboard=False, log_to_driver=False, _node_ip_address=LOCAL_NODE_IP)
        else:                 # an existing cluster: its nodes' settings are theirs
            _check_reachable(address)
            try:
                ray.init(address=address, log_to_driver=False)
            except ConnectionError as err:   # Ray itself gave up (after ~20 s of retries)
                raise ConfigError(
                    f"--address {address}: no Ray cluster answers there ({str(err).splitlines()[0]}); "
                    f"start one with `ray start --head`, "
                    f"and give this process the cluster's token (RAY_AUTH_MODE=token, RAY_AUTH_TOKEN_PATH)") from None
        started_here = True
    # Ray's own retries are off: the driver resubmits a lost ensemble itself, so it sees and counts every loss.
    remote = ray.remote(num_cpus=cpus_per_task, max_retries=0, retry_exceptions=False)(train_exported)
    attempts: dict[int, int] = {}
    futures: dict[Any, Any] = {}

    def submit(plan) -> None:
        attempts[plan.index] = attempts.get(plan.index, 0) + 1
        futures[remote.remote(plan.config, run_name(sweep_name, plan.index), cpus_per_task)] = plan

    done: set[int] = set()
    try:
        for p in plans:
            submit(p)
        starved_since = None
        while futures:
            ready, _ = ray.wait(list(futures), num_returns=1, timeout=POLL_SECONDS)
            if not ready:   # nothing finished: is anyone left to train?
                if _cluster_cpus(ray) >= cpus_per_task:
                    starved_since = None
                elif starved_since is None:
                    starved_since = time.monotonic()
                elif time.monotonic() - starved_since > no_worker_seconds:
                    raise WorkersLostError(
                        f"no Ray node with {cpus_per_task} CPU for {no_worker_seconds:g} s (every worker lost?); "
                        f"{len(done)} ensembles finished now are stored, re-run the sweep to continue")
                continue
            for ref in ready:
                plan = futures.pop(ref)
                try:
                    data, seconds = ray.get(ref, timeout=GET_SECONDS)
                except Exception as err:  # noqa: BLE001 - sorted below: a lost attempt or the task's own error
                    if not is_lost_worker(err, ray):
                        cause = getattr(err, "cause", None)
                        if isinstance(cause, GrokscopeError):
                            raise cause from None
                        raise
                    if attempts[plan.index] > max_retries:
                        raise WorkersLostError(
                            f"ensemble {plan.index} lost its Ray worker {attempts[plan.index]} times "
                            f"({type(err).__name__}); max_retries={max_retries}; finished ensembles are stored, "
                            f"re-run the sweep to continue") from None
                    if on_retry is not None:
                        on_retry(plan)
                    submit(plan)
                    continue
                if plan.index in done:   # cannot happen (one attempt in flight per plan); never map twice
                    continue
                run_id = import_run(store, data, name=run_name(sweep_name, plan.index))
                done.add(plan.index)
                on_done(plan, run_id, seconds)
    finally:
        for ref in futures:           # left in flight by an error: stop them, their results are not wanted
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - already finished or its node already gone
                pass
        if started_here:
            ray.shutdown()
