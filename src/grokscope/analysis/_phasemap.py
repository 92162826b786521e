"""Phase diagrams of a sweep: per member a phase, per point its distribution over seeds, 2-D maps.

The phases follow Liu et al. (2022, "Towards Understanding Grokking: An Effective Theory of
Representation Learning", and "Omnigrok: Grokking Beyond Algorithmic Data") and Pearce,
Ghandeharioun, Hussein, Thain, Wattenberg and Dixon (2023, "Do Machine Learning Models
Memorize or Generalize?", PAIR explorable, section "When Does Grokking Happen?"):
*comprehension* (train and test accuracy rise together), *grokking* (test accuracy rises long
after train), *memorization* (train only), *confusion* (neither). The trainer assigns them
(``phase`` in ``store.members``); a member that diverged counts as ``diverged`` whatever its
phase field says.

A map places two swept keys on the axes; each cell shows one small square per seed,
coloured by that seed's phase (so the number of seeds behind a cell is visible), and a
second panel shows the median steps to generalize over the seeds that did, annotated
with how many did. Points that differ in other swept keys are pooled unless fixed with
``where``.

>>> members = [{"values": {"wd": w, "frac": f}, "phase": ph, "gen_step": g, "diverged": False}
...            for w, f, ph, g in [(0.1, 0.3, "grokking", 900), (0.1, 0.3, "memorization", None),
...                                (1.0, 0.3, "comprehension", 200), (1.0, 0.5, "confusion", None)]]
>>> m = phase_map(members, "wd", "frac")
>>> m.counts[(0.1, 0.3)]
{'grokking': 1, 'memorization': 1}
>>> m.median_steps[(1.0, 0.3)]
200.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from grokscope.analysis._phases import PHASES  # the trainer's phase names: one source
from grokscope.errors import AnalysisError

__all__ = ["PHASES", "member_phase", "point_table", "PhaseMap", "phase_map", "plot_phase_map"]

# drawn in grokscope.plots; importable from here as before
from grokscope.plots._sweeps import plot_phase_map  # noqa: E402

# Colours as in PAIR's sweep figure: generalizing phases cool, failing ones warm, diverged black.
_GENERALIZED = ("comprehension", "grokking")


def member_phase(m: dict[str, Any]) -> str:
    """A member's phase for the maps: ``diverged`` wins; an unrecognised or missing phase reads ``unknown``."""
    if m.get("diverged"):
        return "diverged"
    ph = m.get("phase")
    return ph if ph in PHASES else "unknown"


def _steps(m: dict[str, Any]) -> float:
    g = m.get("gen_step")
    return float(g) if member_phase(m) in _GENERALIZED and g is not None else math.nan


def point_table(members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per sweep point: its values, seeds, phase counts, fraction generalized, median and IQR of gen_step.

    ``members`` are dicts with ``point``, ``values`` and the result fields, as
    ``grokscope.sweep.sweep_members`` returns them; members not trained yet are skipped.
    """
    by_point: dict[int, list[dict[str, Any]]] = {}
    for m in members:
        if m.get("run_id") is None and "phase" not in m:
            continue
        by_point.setdefault(m["point"], []).append(m)
    rows = []
    for p, ms in sorted(by_point.items()):
        phases = [member_phase(m) for m in ms]
        steps = np.array([_steps(m) for m in ms])
        ok = steps[np.isfinite(steps)]
        rows.append({
            "point": p, "values": ms[0]["values"], "n": len(ms),
            "counts": {ph: phases.count(ph) for ph in PHASES + ("unknown",) if ph in phases},
            "frac_generalized": float(np.isfinite(steps).mean()),
            "median_gen_step": float(np.median(ok)) if ok.size else math.nan,
            "iqr_gen_step": (float(np.percentile(ok, 25)), float(np.percentile(ok, 75))) if ok.size else (math.nan, math.nan),
            "median_mem_step": _median([m.get("mem_step") for m in ms]),
        })
    return rows


def _median(vals) -> float:
    v = [float(x) for x in vals if x is not None]
    return float(np.median(v)) if v else math.nan


@dataclass(frozen=True)
class PhaseMap:
    """Cells keyed by ``(x value, y value)``: the phases of their members, counts, median steps."""

    x_key: str
    y_key: str
    xs: list[Any]
    ys: list[Any]
    phases: dict[tuple, list[str]]          # per cell, one phase per member (sorted by PHASES order)
    counts: dict[tuple, dict[str, int]]
    median_steps: dict[tuple, float]        # median gen_step over members that generalized (nan if none)
    n_generalized: dict[tuple, int]
    pooled: list[str]                       # other swept keys pooled into the cells
    where: dict[str, Any]


def phase_map(members: list[dict[str, Any]], x_key: str, y_key: str, *, where: dict[str, Any] | None = None) -> PhaseMap:
    """Aggregate members into a 2-D map over two swept keys (see the module docstring)."""
    where = dict(where or {})
    members = [m for m in members if "phase" in m or m.get("diverged")]
    if not members:
        raise AnalysisError("phase map: no trained members yet; run or resume the sweep first")
    keys = list(members[0]["values"])
    for k in (x_key, y_key, *where):
        if k not in keys:
            raise AnalysisError(f"phase map key {k!r}: not a swept key (swept: {', '.join(keys)})")
    if x_key == y_key:
        raise AnalysisError(f"phase map: x and y are both {x_key!r}; pick two different swept keys")
    sel = [m for m in members if all(m["values"][k] == v for k, v in where.items())]
    if not sel:
        raise AnalysisError(f"phase map: no member has {where}")
    xs = sorted({m["values"][x_key] for m in sel})
    ys = sorted({m["values"][y_key] for m in sel})
    order = {ph: i for i, ph in enumerate(PHASES + ("unknown",))}
    cells: dict[tuple, list[dict[str, Any]]] = {}
    for m in sel:
        cells.setdefault((m["values"][x_key], m["values"][y_key]), []).append(m)
    phases, counts, med, ngen = {}, {}, {}, {}
    for c, ms in cells.items():
        ph = sorted((member_phase(m) for m in ms), key=order.get)
        phases[c] = ph
        counts[c] = {p: ph.count(p) for p in dict.fromkeys(ph)}
        st = np.array([_steps(m) for m in ms])
        ok = st[np.isfinite(st)]
        med[c] = float(np.median(ok)) if ok.size else math.nan
        ngen[c] = int(ok.size)
    pooled = [k for k in keys if k not in (x_key, y_key) and k not in where]
    return PhaseMap(x_key, y_key, xs, ys, phases, counts, med, ngen, pooled, where)
