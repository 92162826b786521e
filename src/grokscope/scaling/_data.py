"""The points a scaling law is fitted to: columns of a CSV file, or the members of a stored sweep.

Every user mistake is one ``ConfigError`` line naming the value: a missing file or column (with
the columns there are), a cell that is not a number (with its row), a sweep key that is not swept,
a sweep that varies another key not fixed by ``where``, a metric no run logged.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from grokscope.errors import ConfigError, StoreError

__all__ = ["LAW_NAMES", "SweepPoints", "load_csv", "sweep_points"]

# Short names on the command line -> laws of grokscope.fit ("chinchilla" is fit_chinchilla's L(N, D)).
LAW_NAMES = {"power": "power_law", "offset": "power_law_offset", "broken": "broken_power_law",
             "chinchilla": "chinchilla"}


def load_csv(path: str | Path, columns: list[str]) -> dict[str, np.ndarray]:
    """The named columns of a CSV file with a header row, as float arrays ``[n_rows]``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"CSV file {str(path)!r}: not found")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        for c in columns:
            if c not in header:
                have = ", ".join(repr(h) for h in header) or "none"
                raise ConfigError(f"column {c!r}: not in {path.name} (columns: {have})")
        values: dict[str, list[float]] = {c: [] for c in columns}
        for row_no, row in enumerate(reader, start=2):            # row 1 is the header
            for c in columns:
                cell = (row.get(c) or "").strip()
                try:
                    values[c].append(float(cell))
                except ValueError:
                    raise ConfigError(f"column {c!r}, row {row_no} of {path.name}: {cell!r} is not a number") from None
    if not values[columns[0]]:
        raise ConfigError(f"CSV file {path.name}: no data rows")
    return {c: np.asarray(v, dtype=float) for c, v in values.items()}


@dataclass(frozen=True)
class SweepPoints:
    """One point per trained sweep member: the swept values of ``keys``, the final ``metric``, the seed."""

    sweep: str
    keys: list[str]
    metric: str
    values: dict[str, np.ndarray]   # key -> [n_members] swept value
    loss: np.ndarray                # [n_members] the metric's last finite value
    seeds: np.ndarray               # [n_members] the sweep's seed index (bootstrap groups)


def _final(values: np.ndarray) -> float:
    """The last finite value of one member's curve (a retired member's later values are NaN)."""
    ok = np.flatnonzero(np.isfinite(values))
    return float(values[ok[-1]]) if ok.size else math.nan


def sweep_points(store, sweep: str, keys: list[str], metric: str = "test_loss",
                 where: dict[str, Any] | None = None) -> SweepPoints:
    """The final ``metric`` of every trained member of ``sweep`` against its swept ``keys``.

    Other keys the sweep varies must be fixed by ``where`` (``{key: value}``), as for
    ``grokscope critical``. Raises ``ConfigError`` (one line) on any mistake; reads only.
    """
    from grokscope.sweep import sweep_members

    members = [m for m in sweep_members(store, sweep) if m["run_id"] is not None]
    if not members:
        raise ConfigError(f"sweep {sweep!r}: no trained members yet; run `grokscope sweep` first")
    swept = list(members[0]["values"])
    for k in keys:
        if k not in swept:
            raise ConfigError(f"key {k!r}: not swept by {sweep!r} (swept: {', '.join(swept)})")
    where = dict(where or {})
    for k in where:
        if k not in swept:
            raise ConfigError(f"--where {k!r}: not swept by {sweep!r} (swept: {', '.join(swept)})")
    others = [k for k in swept if k not in keys and k not in where]
    varying = [k for k in others if len({json.dumps(m["values"][k]) for m in members}) > 1]
    if varying:
        raise ConfigError(f"sweep {sweep!r} also varies {', '.join(varying)}; fix each with --where KEY=VALUE")
    sel = [m for m in members if all(m["values"][k] == v for k, v in where.items())]
    if not sel:
        raise ConfigError(f"--where {where}: no member of sweep {sweep!r} has these values")
    values = {}
    for k in keys:
        raw = [m["values"][k] for m in sel]
        bad = [v for v in raw if isinstance(v, bool) or not isinstance(v, (int, float))]
        if bad:
            raise ConfigError(f"key {k!r}={bad[0]!r}: a fit needs numeric values of the swept key")
        values[k] = np.asarray(raw, dtype=float)
    curves: dict[int, np.ndarray] = {}
    loss = []
    for m in sel:
        if m["run_id"] not in curves:
            try:
                curves[m["run_id"]] = store.metrics(m["run_id"], names=[metric])[1][metric]   # [n_steps, model]
            except StoreError as e:      # names the metrics the run logged
                raise ConfigError(f"--metric {metric!r}: {e}") from None
        loss.append(_final(curves[m["run_id"]][:, m["member"]]))
    return SweepPoints(sweep=sweep, keys=list(keys), metric=metric, values=values, loss=np.asarray(loss),
                       seeds=np.asarray([m["seed"] for m in sel]))
