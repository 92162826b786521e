"""The figures of a sweep: the critical data size (two panels) and the phase map (two panels).

Drawn from the result objects ``grokscope.analysis.critical_data_size`` and ``phase_map`` return
(``CriticalResult``, ``PhaseMap``), reading their fields only; built on ``matplotlib.figure.Figure``
(no pyplot, no global backend switch), like every figure of ``grokscope.plots``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from grokscope.analysis._phases import PHASES  # the trainer's phase names: one source

__all__ = ["plot_critical", "plot_phase_map", "PHASE_COLORS"]

PHASE_COLORS = {"comprehension": "#2c7fb8", "grokking": "#7fcdbb", "memorization": "#fdae61",
           "confusion": "#d7191c", "diverged": "#000000", "unknown": "#bdbdbd"}

def plot_critical(res, path, *, xlabel: str = "training set size D", title: str | None = None):
    """Two panels of a ``CriticalResult``: fraction generalizing vs D with the threshold D_c; times vs D
    with both laws and the fitted D_c.

    Writes a PNG to ``path`` and returns the matplotlib figure.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax0, ax1 = fig.subplots(1, 2)
    p = res.n_gen / res.n
    ax0.plot(res.sizes, p, "o-", color="k", label="fraction of seeds generalizing")
    ax0.axhline(0.5, color="0.6", lw=0.8, ls=":")
    if np.isfinite(res.d_c_threshold):
        ax0.axvline(res.d_c_threshold, color="C3", label=f"threshold D_c = {res.d_c_threshold:.4g}")
        lo, hi = res.d_c_threshold_ci
        if np.isfinite(lo):
            ax0.axvspan(lo, hi, color="C3", alpha=0.15, label=f"{round(100 * res.ci_level)}% CI (bootstrap over seeds)")
    ax0.set(xlabel=xlabel, ylabel=f"P(generalize within {res.budget or 'budget'} steps)", ylim=(-0.03, 1.03))
    ax0.legend(fontsize=8, loc="lower right")

    fin = np.isfinite(res.member_t)
    # show D_c, but not a stretch of empty axis when the fit puts it far below the data
    lo_x = max(min(res.sizes.min(), res.d_c_fit if np.isfinite(res.d_c_fit) else np.inf), res.sizes.min() - 0.5 * np.ptp(res.sizes))
    ax1.set_xlim(lo_x - 0.05 * np.ptp(res.sizes), res.sizes.max() + 0.05 * np.ptp(res.sizes))
    ax1.scatter(res.member_x[fin], res.member_t[fin], s=8, color="0.6", alpha=0.6, label="members")
    okm = np.isfinite(res.t_median)
    ax1.plot(res.sizes[okm], res.t_median[okm], "ko", label="median over seeds")
    if res.fits:
        lo_x = res.fits["shifted_power"].params["D_c"]
        xs = np.linspace(max(lo_x, res.sizes[okm].min()) + 1e-6 * np.ptp(res.sizes), res.sizes.max(), 300)
        xs = np.unique(np.concatenate([np.geomspace(1e-3, 1, 60) * (res.sizes[okm].min() - lo_x) + lo_x, xs]))
        sp, sp1, po = res.fits["shifted_power"], res.fits["shifted_power_nu1"], res.fits["power_offset"]
        ax1.plot(xs, sp.predict(xs), "C0", label=f"A(D-D_c)^-ν: ν={res.nu:.2f} [{res.nu_ci[0]:.2f}, {res.nu_ci[1]:.2f}]")
        ax1.plot(xs, sp1.predict(xs), "C0--", lw=1, label=f"same with ν = 1 (Gokhale 2023), D_c={sp1.params['D_c']:.4g}")
        ax1.plot(xs, po.predict(xs), "C2", label=f"aD^-γ+b: γ={res.gamma:.2f} [{res.gamma_ci[0]:.2f}, {res.gamma_ci[1]:.2f}]")
        ax1.axvline(res.d_c_fit, color="C3", label=f"fitted D_c = {res.d_c_fit:.4g}")
        lo, hi = res.d_c_fit_ci
        if np.isfinite(lo):
            ax1.axvspan(lo, hi, color="C3", alpha=0.15)
        if res.comparison is not None:
            ax1.set_title(f"best by AIC: {res.comparison.best} (ΔAIC {res.comparison.delta_aic:.1f})", fontsize=9)
    ax1.set_yscale("log")
    if fin.any():   # fits run to infinity at D_c: bound the axis by the data, not by the curves
        ax1.set_ylim(res.member_t[fin].min() / 3, res.member_t[fin].max() * 3)
    ax1.set(xlabel=xlabel, ylabel="steps to generalize")
    ax1.legend(fontsize=7, loc="upper right")
    fig.suptitle(title or "Critical data size: fraction generalizing (left) and time to generalize (right)", fontsize=11)
    fig.savefig(path, dpi=130)
    return fig


def _ticklabel(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def plot_phase_map(pm, path, *, title: str | None = None):
    """Write the two-panel phase map of a ``PhaseMap`` as a PNG to ``path`` and return the figure."""
    from matplotlib.figure import Figure
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
            img[j * size + r, i * size + c] = to_rgb(PHASE_COLORS[p])
    fig = Figure(figsize=(5 + 0.9 * nx * 2, 1.5 + 0.7 * ny), layout="constrained")
    a0, a1 = fig.subplots(1, 2)
    a0.imshow(img, origin="lower", interpolation="nearest", extent=(0, nx * size, 0, ny * size))
    centers = lambda n: [k * size + s / 2 for k in range(n)]   # noqa: E731
    a0.set_xticks(centers(nx), [_ticklabel(v) for v in pm.xs], rotation=45)
    a0.set_yticks(centers(ny), [_ticklabel(v) for v in pm.ys])
    a0.set(xlabel=pm.x_key, ylabel=pm.y_key, title=f"phase of each seed (up to {n_max} per cell)")
    present = [p for p in PHASES + ("unknown",) if any(p in v for v in pm.phases.values())]
    a0.legend(handles=[Patch(color=PHASE_COLORS[p], label=p) for p in present], fontsize=7,
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
