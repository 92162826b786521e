"""Tidy tables of a run or a sweep: one row per (run, member, step, metric, value), and one per member.

``metrics_frame`` is the long ("tidy", Wickham 2014) layout that pandas, polars, R and seaborn group
and plot without reshaping: columns ``run, member, step, metric, value``, sorted by run, metric,
member and step. Only measured values are rows: a NaN in the store means "not measured" (a metric
not logged at that step, or a retired member's metrics after its retirement step, see
docs/architecture.md) and is left out; whether a member diverged or was retired is in its member
row. A metric the run logged as one number for the whole ensemble (a length-1 array) has
``member`` ``<NA>``.

``members_frame`` has one row per member: ``run, member``, for a sweep ``sweep, point, seed_index``
(the sweep's seed index; the member's own seed is ``seed``), ``run_name, run_kind, run_status``,
the member's outcome fields as the trainer stored them (``seed, n_train, mem_step, gen_step,
delay, phase, diverged, ...``), and the run's whole config flattened to ``config.<dotted key>``,
where a key holding one value per member (``grokscope.config.PER_MEMBER_KEYS``, ``member_seeds``...)
holds this member's value. Each column has one type (integers ``Int64`` with ``<NA>``, floats,
booleans, strings); lists and tables are JSON text.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from grokscope.config import PER_MEMBER_KEYS
from grokscope.errors import ConfigError
from grokscope.export._target import Target, resolve_target
from grokscope.validate import check_choice

__all__ = ["TABLES", "frame", "member_config", "members_frame", "metrics_frame"]

TABLES = ("metrics", "members")
# Keys that may hold one list entry per member: the config's own list plus those the split and
# the optimizer check (docs/architecture.md, "Config").
_MEMBER_KEYS = frozenset(PER_MEMBER_KEYS) | {"member_seeds", "task.unseen_frac", "task.unseen_count", "optim.project_norm",
                                              "optim.project_norm_frac", "model.dropout"}


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def member_config(config: dict[str, Any], member: int, n_members: int) -> dict[str, Any]:
    """The run config flattened to dotted keys, per-member lists resolved to ``member``'s value.

    >>> member_config({"optim": {"lr": [0.1, 0.2]}, "seed": 3}, 1, 2)
    {'optim.lr': 0.2, 'seed': 3}
    """
    flat = _flatten(config)
    for key, value in flat.items():
        if key in _MEMBER_KEYS and isinstance(value, (list, tuple)) and len(value) == n_members:
            flat[key] = value[member]
    return flat


def _column(values: list[Any]) -> pd.Series | list:
    """One typed column from Python values: Int64, float64, boolean, text, or JSON text."""
    present = [v for v in values if v is not None]
    if not present:
        return pd.Series(values, dtype=object)
    if all(isinstance(v, (bool, np.bool_)) for v in present):
        return pd.Series(values, dtype="boolean")
    if all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) for v in present):
        if all(-(2**63) <= int(v) < 2**63 for v in present):
            return pd.Series([None if v is None else int(v) for v in values], dtype="Int64")
        return pd.Series([None if v is None else str(v) for v in values], dtype=object)  # beyond int64
    if all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in present):
        return pd.Series([np.nan if v is None else float(v) for v in values], dtype="float64")
    if all(isinstance(v, str) for v in present):
        return pd.Series(values, dtype=object)
    return pd.Series([None if v is None else json.dumps(v, sort_keys=True, default=str) for v in values], dtype=object)


def _records_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    keys: list[str] = []
    seen: set[str] = set()
    for r in rows:
        for k in r:
            if k not in seen:
                seen.add(k)
                keys.append(k)
    return pd.DataFrame({k: _column([r.get(k) for r in rows]) for k in keys})


def _as_target(store, target) -> Target:
    return target if isinstance(target, Target) else resolve_target(store, target)


def members_frame(store, target) -> pd.DataFrame:
    """One row per member of the run or sweep ``target`` (module docstring for the columns)."""
    t = _as_target(store, target)
    in_sweep = {(int(r["run_id"]), int(r["member"])): r for r in t.sweep_rows}
    rows = []
    for run_id in t.runs:
        rec = store.get_run(run_id)
        for m in store.members(run_id):
            i = int(m["member"])
            if t.kind == "sweep" and (run_id, i) not in in_sweep:
                continue  # a run of the sweep's ensemble holds only mapped members; never reached in practice
            row: dict[str, Any] = {"run": run_id, "member": i}
            if t.kind == "sweep":
                s = in_sweep[(run_id, i)]
                row.update(sweep=t.name, point=s["point"], seed_index=s["seed"])
            row.update(run_name=rec.name, run_kind=rec.kind, run_status=rec.status)
            row.update({k: v for k, v in m.items() if k != "member"})
            cfg = member_config(rec.config, i, rec.n_members)
            row.update({f"config.{k}": v for k, v in cfg.items()})
            rows.append(row)
    df = _records_frame(rows)
    return df.astype({"run": "int64", "member": "int64"}) if len(df) else df


def metrics_frame(store, target, names: Iterable[str] | None = None) -> pd.DataFrame:
    """Columns ``run, member, step, metric, value`` for the run or sweep ``target``.

    ``names`` keeps only those metrics; a name that no run of the target logged is a ``ConfigError``.
    """
    t = _as_target(store, target)
    per_run = [(run_id, *store.metrics(run_id)) for run_id in t.runs]
    logged = sorted({name for _, _, values in per_run for name in values})
    if names is not None:
        names = [names] if isinstance(names, str) else list(names)
        for nm in names:
            if nm not in logged:
                raise ConfigError(f"metric {nm!r}: not logged by {t.kind} {t.name}; logged: {', '.join(logged) or 'none'}")
        logged = sorted(set(names))
    code = {name: j for j, name in enumerate(logged)}
    cols: dict[str, list[np.ndarray]] = {"run": [], "member": [], "step": [], "metric": [], "value": []}
    for run_id, steps, values in per_run:
        n_members = store.get_run(run_id).n_members
        for name in sorted(set(values) & set(code)):
            block = values[name]  # [n_steps, width]: width = n_members, or 1 for a run-level scalar
            width = block.shape[1]
            member = np.repeat(np.arange(width, dtype=np.int64), len(steps))  # member-major, then step
            if width != n_members:
                member[:] = -1  # a run-level metric belongs to no one member: <NA> below
            step = np.tile(steps.astype(np.int64), width)
            value = block.T.reshape(-1)
            keep = ~np.isnan(value)
            n = int(keep.sum())
            cols["run"].append(np.full(n, run_id, dtype=np.int64))
            cols["member"].append(member[keep])
            cols["step"].append(step[keep])
            cols["metric"].append(np.full(n, code[name], dtype=np.int32))
            cols["value"].append(value[keep])
    cat = lambda parts, dtype: np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
    member = pd.array(cat(cols["member"], np.int64), dtype="Int64")
    member[member == -1] = pd.NA
    return pd.DataFrame({
        "run": cat(cols["run"], np.int64),
        "member": member,
        "step": cat(cols["step"], np.int64),
        "metric": pd.Categorical.from_codes(cat(cols["metric"], np.int32), categories=logged),
        "value": cat(cols["value"], np.float64),
    })


def frame(store, target, table: str = "metrics", names: Iterable[str] | None = None) -> pd.DataFrame:
    """``Store.frame``: the ``metrics`` (tidy) or ``members`` table of a run id or sweep name."""
    check_choice(table, "table", TABLES)
    if table == "members":
        if names is not None:
            raise ConfigError("names=: selects metrics; the members table has every member field")
        return members_frame(store, target)
    return metrics_frame(store, target, names)
