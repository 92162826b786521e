"""Figures of the measured exponents: F(S), F(N), F(D) as `grokscope landscape trap` draws them.

``landscape trap`` (``grokscope.theory``) plots the simulator's F/F0 against S, N and D on log-log
axes with the paper's slope dashed beside it. Here the same three panels are drawn from trained
networks: F is the Zipf-weighted mean test loss in bits, and F0 = 1 bit (chance), so F/F0 is the
loss in bits. Each panel shows every seed (small dots), the seed mean, the fitted ``a·x^-g + c``
and the quantization model's slope, for each α; ``theory={key: (x, F/F0)}`` overlays a simulator's
curve on a second x axis in the simulator's own units (``trap_overlay(study)`` builds it from a
trap study). A second figure plots the quanta learned against N and D. Figures are matplotlib ``Figure`` objects (no pyplot).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from grokscope.quanta._exponents import Exponents

__all__ = ["exponent_figure", "learned_count_figure", "save_exponents", "trap_overlay"]

_XLABEL = {"S": "training steps S", "N": "parameters N (one member)", "D": "training rows D (fixed data)"}


def _panel(ax, ex: Exponents, key: str, theory) -> None:
    fits = [f for f in ex.fits if f.key == key]
    for i, f in enumerate(fits):
        color = f"C{i}"
        px, py = np.asarray(f.points["x"]), np.asarray(f.points["loss"])
        ax.loglog(px, py, ".", ms=2, color=color, alpha=0.35)
        ax.loglog(f.x, f.mean_loss, "o", ms=4, color=color)
        if f.fit is not None:
            a, g, c = (f.fit["params"][k]["value"] for k in ("a", "g", "c"))
            xx = np.geomspace(min(f.x), max(f.x), 100)
            e = f.exponent
            ax.loglog(xx, a * xx ** -g + c, "-", color=color,
                      label=f"α={f.alpha:g}: g={g:.2f} [{e['lo']:.2f}, {e['hi']:.2f}], theory {f.predicted:.2f}")
            # the theory's slope for L - c, drawn through the fit at the geometric middle of the range
            xm = float(np.sqrt(xx[0] * xx[-1]))
            ym = a * xm ** -g
            ax.loglog(xx, ym * (xx / xm) ** -f.predicted + c, "--", color=color, lw=0.9)
        else:
            ax.plot([], [], "o", color=color, label=f"α={f.alpha:g}: no fit ({f.error})")
    if theory and key in theory:  # the simulator's own x units: a second x axis, the same F/F0 axis
        tx, ty = theory[key]
        top = ax.twiny()
        top.loglog(tx, ty, "k:", lw=1.2)
        top.set_xlabel(f"simulator {key} (its own units; dotted)", fontsize=8)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(xlabel=_XLABEL[key], ylabel="F / F0 = mean test loss Σ p_i L_i (bits)")
    ax.set_title(f"F({key}): fit a·{key}^-g + c (solid), theory slope (dashed)", fontsize=9)
    ax.legend(fontsize=6)


def exponent_figure(ex: Exponents, theory: dict[str, tuple] | None = None) -> Figure:
    """Three panels F(S), F(N), F(D) (the keys the result has), one colour per α."""
    keys = [k for k in ("S", "N", "D") if any(f.key == k for f in ex.fits)]
    fig = Figure(figsize=(5.2 * max(len(keys), 1), 4.4), layout="constrained")
    axes = fig.subplots(1, max(len(keys), 1), squeeze=False)[0]
    for ax, key in zip(axes, keys):
        _panel(ax, ex, key, theory)
    fig.suptitle("Multitask sparse parity (F0 = 1 bit, chance): measured loss beside the quantization model", fontsize=10)
    return fig


def learned_count_figure(ex: Exponents) -> Figure:
    """Quanta (subtasks) learned against N and against D (log x), labelled with the fitted n = a·x^b."""
    keys = [k for k in ("N", "D") if any(c.key == k for c in ex.learned)]
    fig = Figure(figsize=(5.2 * max(len(keys), 1), 4.2), layout="constrained")
    axes = fig.subplots(1, max(len(keys), 1), squeeze=False)[0]
    for ax, key in zip(axes, keys):
        for i, c in enumerate(cc for cc in ex.learned if cc.key == key):
            color = f"C{i}"
            for x, ns in zip(c.x, c.per_seed):
                ax.plot([x] * len(ns), ns, ".", ms=3, color=color, alpha=0.4)
            e = c.exponent
            lab = (f"α={c.alpha:g}: b={e['value']:.2f} [{e['lo']:.2f}, {e['hi']:.2f}], theory {c.predicted:.2f}"
                   if e else f"α={c.alpha:g}: {c.error}")
            ax.plot(c.x, c.mean_learned, "o-", ms=4, color=color, label=lab)
        ax.set_xscale("log")  # counts stay linear: they start at 0
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set(xlabel=_XLABEL[key], ylabel="subtasks learned (test loss < 0.1 bit)")
        ax.set_title(f"Quanta learned vs {key} (theory: n ∝ {key}^{'1' if key == 'N' else '1/(α+1)'})", fontsize=9)
        ax.legend(fontsize=6)
    return fig


def trap_overlay(study, mu: float = 0.5) -> dict[str, tuple]:
    """The semantic trap simulator's F(S) (median, at ``mu``), F(N) and F(D) from a ``trap`` study
    (``grokscope.theory``'s ``trap_study``), as ``theory=`` for :func:`exponent_figure`."""
    a = study.arrays
    return {"S": (a["S"], a[f"F_median_mu{mu}"]), "N": (a["N_grid"], a["F_N"]), "D": (a["D_grid"], a["F_D"])}


def save_exponents(ex: Exponents, out_dir: str | Path, theory: dict[str, tuple] | None = None) -> list[Path]:
    """Write ``exponents.json``, ``exponents_F.png`` and ``exponents_learned.png`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "exponents.json", out / "exponents_F.png", out / "exponents_learned.png"]
    paths[0].write_text(json.dumps(ex.to_dict(), indent=1))
    exponent_figure(ex, theory).savefig(paths[1], dpi=130)
    learned_count_figure(ex).savefig(paths[2], dpi=130)
    return paths
