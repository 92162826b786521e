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

# Colours as in PAIR's sweep figure: generalizing phases cool, failing ones warm, diverged black.
_COLORS = {"comprehension": "#2c7fb8", "grokking": "#7fcdbb", "memorization": "#fdae61",
           "confusion": "#d7191c", "diverged": "#000000", "unknown": "#bdbdbd"}
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


def _ticklabel(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def plot_phase_map(pm: PhaseMap, path, *, title: str | None = None):
    """Write the two-panel phase map PNG to ``path`` and return the figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm, to_rgb
    from matplotlib.patches import Patch

    nx, ny = len(pm.xs), len(pm.ys)
    n_max = max(len(v) for v in pm.phases.values())
    s = math.ceil(math.sqrt(n_max))                      # s x s squares per cell, one per member
    pad = 1                                              # a white gutter between cells
    size = s + pad
    img = np.ones((ny * size, nx * size, 3))
    for (xv, yv), ph in pm.phases.items():
        i, j = pm.xs.index(xv), pm.ys.index(yv)
        for k, p in enumerate(ph):
            r, c = divmod(k, s)
            img[j * size + r, i * size + c] = to_rgb(_COLORS[p])
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(5 + 0.9 * nx * 2, 1.5 + 0.7 * ny), constrained_layout=True)
    a0.imshow(img, origin="lower", interpolation="nearest", extent=(0, nx * size, 0, ny * size))
    centers = lambda n: [k * size + s / 2 for k in range(n)]   # noqa: E731
    a0.set_xticks(centers(nx), [_ticklabel(v) for v in pm.xs], rotation=45)
    a0.set_yticks(centers(ny), [_ticklabel(v) for v in pm.ys])
    a0.set(xlabel=pm.x_key, ylabel=pm.y_key, title=f"phase of each seed (up to {n_max} per cell)")
    present = [p for p in PHASES + ("unknown",) if any(p in v for v in pm.phases.values())]
    a0.legend(handles=[Patch(color=_COLORS[p], label=p) for p in present], fontsize=7,
              loc="upper left", bbox_to_anchor=(1.0, 1.0))

    grid = np.full((ny, nx), np.nan)
    for (xv, yv), v in pm.median_steps.items():
        grid[pm.ys.index(yv), pm.xs.index(xv)] = v
    fin = grid[np.isfinite(grid)]
    norm = LogNorm(vmin=max(fin.min(), 1), vmax=max(fin.max(), fin.min() + 1)) if fin.size else None
    im = a1.imshow(np.ma.masked_invalid(grid), origin="lower", cmap="viridis", norm=norm, aspect="auto")
    for (xv, yv), ph in pm.phases.items():
        i, j = pm.xs.index(xv), pm.ys.index(yv)
        a1.text(i, j, f"{pm.n_generalized[(xv, yv)]}/{len(ph)}", ha="center", va="center", fontsize=7,
                color="w" if np.isfinite(grid[j, i]) else "k")
    a1.set_xticks(range(nx), [_ticklabel(v) for v in pm.xs], rotation=45)
    a1.set_yticks(range(ny), [_ticklabel(v) for v in pm.ys])
    a1.set(xlabel=pm.x_key, ylabel=pm.y_key, title="median steps to generalize (generalized/seeds)")
    if fin.size:
        fig.colorbar(im, ax=a1, label="steps to generalize (median over seeds that did)")
    sub = []
    if pm.where:
        sub.append("fixed " + ", ".join(f"{k}={v}" for k, v in pm.where.items()))
    if pm.pooled:
        sub.append("pooled over " + ", ".join(pm.pooled))
    fig.suptitle(title or f"Phase diagram over {pm.x_key} x {pm.y_key}" + (f" ({'; '.join(sub)})" if sub else ""),
                 fontsize=10)
    fig.savefig(path, dpi=130)
    return fig
