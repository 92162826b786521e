"""Figures of the LU mechanism, drawn on a matplotlib ``Figure`` (never pyplot).

``lu_figure``: train ("L") and test ("U") loss against the fixed weight norm, one line per
training-set size. ``contour_figure``: test error over (α, N). ``time_law_figure``: teacher–student
time to generalize against weight decay with the fitted power law.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from grokscope.plots import new_figure
from grokscope.plots._base import member_colors

__all__ = ["contour_figure", "lu_figure", "time_law_figure"]


def lu_figure(curves: Sequence, *, title: str = ""):
    """Two panels sharing the norm axis (log): train loss (L) and test loss (U) per N (mean ± std over seeds)."""
    fig, axes = new_figure(2, width=7.0, height=3.0)
    colors = member_colors(len(curves))
    for c, col in zip(curves, colors):
        for ax, y, s in ((axes[0, 0], c.train_loss, c.train_loss_std), (axes[0, 1], c.test_loss, c.test_loss_std)):
            ax.plot(c.norm, y, "o-", ms=2.5, lw=1, color=col, label=f"N = {c.n_train}")
            ax.fill_between(c.norm, np.maximum(y - s, 1e-12), y + s, color=col, alpha=0.15, lw=0)
    for ax, name in ((axes[0, 0], "train loss (L)"), (axes[0, 1], f"test loss (U), {curves[0].which if curves else ''}")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("weight norm (fixed during training)")
        ax.set_ylabel(name + " (MSE per output)")
    axes[0, 1].legend(fontsize=5, ncol=2)
    fig.suptitle(title or "Loss against the fixed weight norm (Omnigrok's L and U curves)", fontsize=8)
    return fig


def contour_figure(emap, *, title: str = ""):
    """Filled contours of test error over log α (x) and log N (y)."""
    fig, axes = new_figure(1, width=4.0, height=3.2)
    ax = axes[0, 0]
    X, Y = np.meshgrid(emap.alphas, emap.train_counts, indexing="ij")
    cs = ax.contourf(X, Y, emap.test_error, levels=np.linspace(0, 1, 11), cmap="viridis_r")
    ax.contour(X, Y, emap.test_error, levels=[0.1, 0.2, 0.5], colors="w", linewidths=0.6)
    fig.colorbar(cs, ax=ax, label=f"test error (1 − accuracy, {emap.which})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("init scale α (norm fixed at α × initial)")
    ax.set_ylabel("training-set size N")
    ax.set_title(title or "Test error over (α, N) at fixed norm", fontsize=8)
    return fig


def time_law_figure(weight_decay, t, fit=None, *, level: float = 0.9, title: str = ""):
    """Time to generalize against weight decay (log-log) with the fitted ``a·γ^-g`` line."""
    fig, axes = new_figure(1, width=3.6, height=3.0)
    ax = axes[0, 0]
    g, t = np.asarray(weight_decay, float), np.asarray(t, float)
    ok = np.isfinite(t)
    ax.plot(g[ok], t[ok], "o", ms=3, label="students")
    if fit is not None:
        xs = np.geomspace(g[ok].min(), g[ok].max(), 50)
        a, e = fit.params["a"], fit.params["g"]
        ax.plot(xs, a.value * xs ** -e.value, "-", lw=1,
                label=f"fit t ∝ γ^-{e.value:.2f} [{e.lo:.2f}, {e.hi:.2f}]")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("weight decay γ")
    ax.set_ylabel(f"steps to test accuracy ≥ {level:g}")
    ax.legend(fontsize=6)
    ax.set_title(title or "Teacher–student: time to generalize vs weight decay", fontsize=8)
    return fig
