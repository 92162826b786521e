"""Reusable figure pieces: learning curves over an ensemble and weight heatmaps.

They live in ``grokscope.plots``, the layer that draws and computes nothing: the analysis figures
(``_analysis.py``) and the report pages (``grokscope.report``) are built from them.

Figures are built with ``matplotlib.figure.Figure`` directly, never through
``pyplot``: no global figure registry to leak memory in long sweeps, no backend
switch that would surprise a notebook user, and rendering is Agg (headless) by
construction. Each function draws on an ``Axes`` the caller owns, so analysis and
sweep modules compose them into their own figures.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["DPI", "COLUMN_WIDTH_IN", "DIVERGED_COLOR", "new_figure", "member_colors", "plot_curves", "mark_steps",
           "plot_heatmap", "color_limit"]

DPI = 160  # print quality (journals ask for >= 150 dpi at column width)
COLUMN_WIDTH_IN = 3.4  # one column of a two-column paper (NeurIPS/ICML), in inches
DIVERGED_COLOR = "0.6"


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float | None = None, height: float = 2.8):
    """A headless figure with a grid of axes: ``(fig, axes[nrows, ncols])``.

    >>> fig, axes = new_figure(2)
    >>> axes.shape
    (1, 2)
    """
    from matplotlib.figure import Figure  # here, not at import: the trainer imports this package, never draws

    width = width if width is not None else COLUMN_WIDTH_IN * ncols
    fig = Figure(figsize=(width, height * nrows), dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def member_colors(n: int, diverged: Sequence[bool] | None = None) -> list:
    """One color per member (viridis by index, so neighbouring seeds are told apart); grey if diverged."""
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    colors = [cmap(i / max(n - 1, 1) * 0.9) for i in range(n)]
    if diverged is not None:
        colors = [DIVERGED_COLOR if d else c for c, d in zip(colors, diverged)]
    return colors


def plot_curves(
    ax,
    steps: np.ndarray,
    values: np.ndarray,
    *,
    colors: Sequence | None = None,
    logx: bool = True,
    logy: bool = False,
    median: bool = True,
    xlabel: str = "training step (optimizer updates)",
    ylabel: str = "",
    title: str = "",
    scale: float = 1.0,
):
    """Draw one curve per ensemble member (``values [n_steps, model]``) against ``steps``.

    Thin translucent lines show every member and a thick black line their median, so
    both the typical trajectory and the seed-to-seed spread are visible. On a log
    x-axis step 0 is left out (log 0 is undefined); non-finite values (a diverged
    member) are gaps, not zeros. ``scale`` multiplies values (100 for percent).
    Returns the median line (or None).

    >>> fig, axes = new_figure()
    >>> steps = np.array([0, 10, 100, 1000])
    >>> line = plot_curves(axes[0, 0], steps, np.ones((4, 3)), ylabel="accuracy")
    """
    steps = np.asarray(steps, dtype=float)
    values = np.asarray(values, dtype=float).reshape(len(steps), -1) * scale  # [n_steps, model]
    keep = steps > 0 if logx else np.ones(len(steps), dtype=bool)
    if logy:
        keep_vals = np.where(values > 0, values, np.nan)
    else:
        keep_vals = values
    x, y = steps[keep], np.where(np.isfinite(keep_vals), keep_vals, np.nan)[keep]
    n = y.shape[1]
    colors = list(colors) if colors is not None else member_colors(n)
    alpha = 0.9 if n <= 4 else max(0.15, 1.5 / np.sqrt(n))  # many members: let density show
    width = 1.2 if n <= 4 else 0.7
    for i in range(n):
        ax.plot(x, y[:, i], color=colors[i], lw=width, alpha=alpha)
    line = None
    if median and n > 1 and len(x):
        with np.errstate(all="ignore"):
            finite_rows = np.isfinite(y).any(axis=1)
            med = np.full(len(x), np.nan)
            med[finite_rows] = np.nanmedian(y[finite_rows], axis=1)
        (line,) = ax.plot(x, med, color="black", lw=1.8, label=f"median of {n}")
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize="medium")
    ax.grid(True, which="major", alpha=0.3)
    return line


def mark_steps(ax, steps: Sequence[float | None], labels: Sequence[str], colors: Sequence[str] = ("C1", "C3")):
    """Vertical dotted lines at characteristic steps (e.g. median memorization / generalization)."""
    for step, label, color in zip(steps, labels, colors):
        if step is not None and np.isfinite(step) and step > 0:
            ax.axvline(step, color=color, ls=":", lw=1.3, label=label)


def plot_heatmap(
    ax, matrix, *, title: str = "", xlabel: str = "", ylabel: str = "", symmetric: bool = True, lim: float | None = None
):
    """A 2-D weight matrix as an image (rows top to bottom), diverging colors centred on 0.

    ``lim`` fixes the color range to ``[-lim, lim]`` (share it across panels to compare
    them); by default it is :func:`color_limit` of the matrix. Returns the image, for
    ``fig.colorbar(image, ax=ax)``.

    >>> fig, axes = new_figure()
    >>> image = plot_heatmap(axes[0, 0], np.eye(5), xlabel="hidden unit", ylabel="token")
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"plot_heatmap needs a 2-D matrix, got shape {m.shape}")
    lim = color_limit([m]) if lim is None else lim
    kw = {"cmap": "RdBu_r", "vmin": -lim, "vmax": lim} if symmetric else {"cmap": "viridis"}
    image = ax.imshow(m, aspect="auto", interpolation="nearest", **kw)
    from matplotlib.ticker import MaxNLocator

    for axis in (ax.xaxis, ax.yaxis):  # rows and columns are indices: integer ticks only
        axis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize="medium")
    return image


def color_limit(matrices) -> float:
    """A symmetric color limit for weight heatmaps: the 99th percentile of |w| over all of them.

    The percentile, not the max, so that one outlier weight does not wash out the structure.
    """
    finite = np.concatenate([np.abs(np.asarray(m, dtype=float)).ravel() for m in matrices])
    finite = finite[np.isfinite(finite)]
    lim = float(np.percentile(finite, 99)) if finite.size else 1.0
    return lim if lim > 0 else 1.0
