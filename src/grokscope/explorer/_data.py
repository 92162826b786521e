"""What the explorer's endpoints return: runs, sweeps, curves, frames and analyses read from the store.

Only reads: every function takes a ``Store`` and calls its read methods (``list_runs``,
``get_run``, ``members``, ``metrics``, ``checkpoint_steps``, ``load_checkpoint``) or the analysis
and sweep readers built on them. A run may be training while the page reads it: each request
reads the checkpoint steps committed so far, and cached results are keyed by those steps, so a
new checkpoint makes a new entry instead of serving a stale one.

Small things go to the page as JSON; arrays (curves, weights) in the binary format of
``_binary.py``. Numbers in JSON are ``jsonable`` (NaN becomes null).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from grokscope._json import jsonable
from grokscope.analysis import (
    THRESHOLD,
    analyze_run_data,
    first_step_at_or_above,
    load_run,
    phase_map,
    point_table,
)
from grokscope.errors import ConfigError, GrokscopeError
from grokscope.explorer._binary import encode_arrays
from grokscope.explorer._frames import member_frames, member_run

__all__ = [
    "Cache",
    "run_analysis",
    "run_frames",
    "run_meta",
    "run_metrics",
    "runs_index",
    "sweep_data",
    "sweep_map",
]


class Cache:
    """A small thread-safe LRU of computed payloads (the page asks for the same member again)."""

    def __init__(self, size: int = 32):
        self.size, self._items, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key, compute: Callable[[], Any]):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()  # outside the lock: two pages may compute at once, the later one wins
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


def _task_summary(config: dict) -> str:
    t, m = config.get("task", {}), config.get("model", {})
    task = " ".join(f"{k}={t[k]}" for k in ("kind", "op", "p", "group", "n_bits", "k") if k in t)
    return f"{task}; {m.get('arch', '?')}"


def runs_index(store) -> dict:
    """Every run and sweep in the store, for the start page's tables."""
    from grokscope.sweep import list_sweeps

    runs = [{"id": r.id, "name": r.name, "kind": r.kind, "status": r.status, "n_members": r.n_members,
             "task": _task_summary(r.config), "created": r.created, "updated": r.updated}
            for r in store.list_runs()]
    sweeps = [{"id": s.id, "name": s.name, "keys": s.keys, "n_points": s.n_points, "n_members": s.n_members,
               "members_done": s.members_done, "status": s.status} for s in list_sweeps(store)]
    return {"runs": runs, "sweeps": sweeps, "store": str(store.path)}


def _members(store, run_id: int, steps: np.ndarray, metrics: dict) -> list[dict]:
    """The members' fields, with memorization/generalization steps from the curves where the run has none."""
    out = []
    rows = store.members(run_id)
    fallback = {}
    for split, key in (("train_acc", "mem_step"), ("test_acc", "gen_step")):
        if split in metrics and len(steps):
            fallback[key] = first_step_at_or_above(steps, metrics[split], THRESHOLD)
    for m in rows:
        i = m["member"]
        d = {k: m.get(k) for k in ("member", "seed", "n_train", "mem_step", "gen_step", "delay", "phase", "diverged",
                                   "retired_step")}
        for key, first in fallback.items():
            if d.get(key) is None and key not in m and first[i] >= 0:
                d[key] = int(first[i])
        out.append(d)
    return out


def run_meta(store, run_id: int) -> dict:
    """A run's record, members, checkpoint steps and metric names (JSON)."""
    rec = store.get_run(run_id)
    steps, metrics = store.metrics(run_id)
    return jsonable({
        "id": rec.id, "name": rec.name, "kind": rec.kind, "status": rec.status, "n_members": rec.n_members,
        "task": _task_summary(rec.config), "config": rec.config, "updated": rec.updated,
        "members": _members(store, run_id, steps, metrics),
        "checkpoint_steps": store.checkpoint_steps(run_id),
        "metrics": sorted(metrics), "threshold": THRESHOLD,
    })


def run_metrics(store, run_id: int) -> bytes:
    """Every logged metric of the run, ``[n_steps, model]`` each, and the steps (binary)."""
    steps, metrics = store.metrics(run_id)
    return encode_arrays({"steps": steps, **metrics}, meta={"run": int(run_id), "names": sorted(metrics)})


def _check_member(store, run_id: int, member: int) -> int:
    n = store.get_run(run_id).n_members
    if not 0 <= member < n:
        raise ConfigError(f"member {member}: run {run_id} has members 0..{n - 1}")
    return member


def run_frames(store, run_id: int, member: int, cache: Cache) -> bytes:
    """Every view of one member at every checkpoint stored so far (binary; ``_frames.py``)."""
    _check_member(store, run_id, member)
    steps = tuple(store.checkpoint_steps(run_id))
    if not steps:
        return encode_arrays({}, meta={"member": member, "steps": [], "views": [], "fourier": None,
                                       "note": f"run {run_id} has no weight checkpoints yet"})

    def compute() -> bytes:
        run = load_run(store, run_id)
        meta, arrays = member_frames(run, list(steps), member)
        return encode_arrays(arrays, meta=jsonable(meta))

    return cache.get(("frames", store.path, run_id, member, steps), compute)


def run_analysis(store, run_id: int, member: int, cache: Cache) -> bytes:
    """One member's ``RunAnalysis`` over the run's checkpoints: curves ``[n_steps, 1]`` as arrays, labels
    and results as JSON. Per member: the page shows one member, and the cost grows with the members analysed."""
    _check_member(store, run_id, member)
    steps = tuple(store.checkpoint_steps(run_id))

    def compute() -> bytes:
        if not steps:
            return encode_arrays({}, meta={"steps": [], "note": "no weight checkpoints yet"})
        try:
            ra = analyze_run_data(member_run(load_run(store, run_id), member), run_id=run_id, steps=list(steps))
        except GrokscopeError as e:  # e.g. checkpoints no model of this config reads: say so, draw the rest
            return encode_arrays({}, meta={"steps": list(steps), "note": str(e)})
        curves = {k: ra.curve(k) for k in ra.curves}
        results = dict(ra.results)
        results.pop("fourier_snapshot", None)  # the frames carry each step's version of it
        walk = results.get("heuristic_walk")
        meta = {"member": member, "steps": ra.steps, "labels": walk["labels"] if walk else None, "results": results,
                "definitions": ra.definitions, "curves": sorted(curves), "seconds": ra.seconds}
        parity = results.pop("parity_relevant_bits", None)
        if parity:
            curves.update({f"relevant bits ({k})": np.asarray(v, dtype=float) for k, v in parity.items()})
            meta["curves"] = sorted(curves)
        return encode_arrays(curves, meta=jsonable(meta))

    return cache.get(("analysis", store.path, run_id, member, steps), compute)


def sweep_data(store, name: str) -> dict:
    """A sweep's keys, members (values, phase, run, member) and per-point table (JSON)."""
    from grokscope.sweep import get_sweep, sweep_members

    sw = get_sweep(store, name)
    members = sweep_members(store, sw.id)
    keep = ("point", "seed", "values", "run_id", "member", "phase", "mem_step", "gen_step", "diverged")
    return jsonable({"id": sw.id, "name": sw.name, "keys": sw.keys, "status": sw.status,
                     "n_points": sw.n_points, "n_members": sw.n_members,
                     "members": [{k: m.get(k) for k in keep} for m in members],
                     "points": point_table(members)})


def sweep_map(store, name: str, x: str, y: str) -> dict:
    """The phase map over swept keys ``x`` and ``y`` (``analysis.phase_map``), cells as lists (JSON)."""
    from grokscope.sweep import get_sweep, sweep_members

    members = sweep_members(store, get_sweep(store, name).id)
    pm = phase_map(members, x, y)
    cells = [{"x": cx, "y": cy, "phases": pm.phases[(cx, cy)], "counts": pm.counts[(cx, cy)],
              "median_steps": pm.median_steps[(cx, cy)], "n_generalized": pm.n_generalized[(cx, cy)]}
             for (cx, cy) in pm.phases]
    return jsonable({"x": x, "y": y, "xs": pm.xs, "ys": pm.ys, "cells": cells, "pooled": pm.pooled})
