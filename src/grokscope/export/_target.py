"""What an export reads: one run, or every run a sweep trained, resolved before anything is written.

A target is a run id (an integer, or a string of digits as the command line passes it) or a sweep
name; ``sweep:NAME_OR_ID`` names a sweep explicitly (for a sweep whose name is all digits). An
unknown target is one ``ConfigError`` line naming what the store holds.

This module reads the store through its public methods and the sweep tables through
``grokscope.sweep._tables`` only, so that ``Store.frame`` can delegate here without an import cycle.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

from grokscope.errors import ConfigError, StoreError
from grokscope.sweep import _tables

__all__ = ["Target", "resolve_target"]


@dataclass(frozen=True)
class Target:
    """A resolved export target.

    ``kind`` is ``"run"`` or ``"sweep"``; ``label`` is a directory-safe name (``run-3``,
    ``sweep-pair-parity``); ``runs`` are the run ids whose members are exported; for a sweep,
    ``sweep_rows`` are its trained members (``grokscope.sweep.sweep_members`` rows whose run is set).
    """

    kind: str
    name: str
    label: str
    runs: tuple[int, ...]
    sweep_rows: tuple[dict[str, Any], ...] = field(default=(), repr=False)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _run(store, run_id: int) -> Target:
    try:
        store.get_run(run_id)
    except StoreError:
        ids = [r.id for r in store.list_runs()]
        have = f"runs {ids[0]}..{ids[-1]}" if ids else "no runs"
        raise ConfigError(f"run {run_id} not found in {store.path} ({have}); see `grokscope runs`") from None
    return Target(kind="run", name=str(run_id), label=f"run-{run_id}", runs=(run_id,))


def _sweep(store, name: str) -> Target:
    try:
        sw = _tables.get_sweep(store, name) if _tables.has_tables(store) else None
    except StoreError:
        sw = None
    if sw is None:
        known = ", ".join(s.name for s in _tables.list_sweeps(store)) or "none"
        raise ConfigError(f"{name!r} is neither a run id nor a sweep in {store.path} (sweeps: {known}); "
                          f"see `grokscope runs` and `grokscope sweeps`")
    rows = tuple(r for r in _tables.sweep_members(store, sw.id) if r["run_id"] is not None)
    if not rows:
        raise ConfigError(f"sweep {sw.name!r} has no trained members yet; run `grokscope sweep` first")
    runs = tuple(sorted({int(r["run_id"]) for r in rows}))
    return Target(kind="sweep", name=sw.name, label=f"sweep-{_safe(sw.name)}", runs=runs, sweep_rows=rows)


def resolve_target(store, target: int | str) -> Target:
    """A run id or a sweep name as a :class:`Target`; ``ConfigError`` if the store has neither."""
    if isinstance(target, numbers.Integral) and not isinstance(target, bool):
        return _run(store, int(target))
    if isinstance(target, str) and target.strip():
        text = target.strip()
        if text.startswith("sweep:"):
            return _sweep(store, text[len("sweep:"):])
        if text.isdigit():
            return _run(store, int(text))
        return _sweep(store, text)
    raise ConfigError(f"export target {target!r}: must be a run id (an integer) or a sweep name")
