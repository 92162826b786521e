"""The figure of a scaling-law fit, drawn from a ``ScalingFit`` (drawing only; nothing is fitted here).

One-variable laws: the points and the fitted law on log-log axes. Chinchilla's L(N, D): the
fitted against the measured loss (points on the diagonal fit), and the runs in the (C, N) plane
coloured by loss, with the compute-optimal frontier N_opt(C) = G (C/6)^a and its bootstrap band,
and, when FLOP budgets were given, the IsoFLOP profiles' minima and their power law (Approach 2).
Built on ``matplotlib.figure.Figure`` (never pyplot), through ``grokscope.plots.new_figure``.
"""

from __future__ import annotations

import numpy as np

from grokscope.fit import ChinchillaFit, allocation_exponents
from grokscope.plots import new_figure

__all__ = ["fit_figure"]


def _params_text(params, keys=None) -> str:
    return ", ".join(f"{k} = {float(v):.4g}" for k, v in params.items() if keys is None or k in keys)


def _one_variable(sf):
    f = sf.fit
    fig, axes = new_figure(1, width=4.6, height=3.4)
    ax = axes[0, 0]
    ax.scatter(f.x, f.y, s=14, color="C0", alpha=0.7, label=f"measured ({f.n_points} points)")
    xs = np.geomspace(f.x.min(), f.x.max(), 200)
    ax.plot(xs, f.predict(xs), color="C3", lw=1.6, label=f"{f.law}: {_params_text(f.params)}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(sf.names["n"])
    ax.set_ylabel(sf.names["loss"])
    ax.legend(fontsize=7)
    ax.set_title(f"{sf.law} law fitted to {sf.source}", fontsize=9)
    return fig


def _chinchilla(sf):
    f: ChinchillaFit = sf.fit
    fig, axes = new_figure(2, width=9.0, height=3.6)
    ax = axes[0, 0]
    pred = f.predict(f.n, f.d)
    sc = ax.scatter(pred, f.loss, c=np.log10(f.d), s=12, cmap="viridis")
    lim = [min(pred.min(), f.loss.min()), max(pred.max(), f.loss.max())]
    ax.plot(lim, lim, color="0.3", lw=1, ls="--", label="fitted = measured")
    ax.set_xlabel("fitted loss E + A/N^α + B/D^β")
    ax.set_ylabel(f"measured {sf.names['loss']}")
    fig.colorbar(sc, ax=ax, label="log10 D (training tokens)")
    ax.legend(fontsize=7)
    ax.set_title(f"{_params_text(f.params)}\nHuber δ = {f.delta:g} on log L, {f.n_points} points", fontsize=8)

    ax = axes[0, 1]
    c = 6.0 * f.n * f.d
    sc = ax.scatter(c, f.n, c=f.loss, s=12, cmap="magma_r")
    fig.colorbar(sc, ax=ax, label=f"measured {sf.names['loss']}")
    cs = np.geomspace(c.min(), c.max(), 100)
    al = sf.allocation
    ax.plot(cs, al.n_opt(cs), color="C0", lw=1.6, label=f"N_opt ∝ C^{float(al.a):.3f}")
    if f.boot is not None and len(f.boot) > 1:
        _, A, B, a_, b_ = f.boot.T
        ea, _, G = allocation_exponents(A, B, a_, b_)
        curves = G[:, None] * (cs[None, :] / 6.0) ** ea[:, None]                      # [n_boot, 100]
        lo, hi = np.nanquantile(curves, [(1 - f.level) / 2, (1 + f.level) / 2], axis=0)
        ax.fill_between(cs, lo, hi, color="C0", alpha=0.2, label=f"{round(100 * f.level)}% bootstrap band")
    if sf.isoflop is not None:                  # Approach 2: each budget's parabola minimum, and its power law
        iso = sf.isoflop
        ax.scatter(iso.budgets, iso.n_opt, marker="D", s=28, color="C2", edgecolors="k", zorder=3,
                   label=f"IsoFLOP minima: N_opt ∝ C^{float(iso.a):.3f}")
        ax.plot(cs, iso.n_fit.predict(cs), color="C2", lw=1.2, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training compute C = 6 N D (FLOP)")
    ax.set_ylabel(sf.names["n"])
    ax.legend(fontsize=7)
    ax.set_title(f"compute-optimal frontier: a = {float(al.a):.3f}, b = {float(al.b):.3f}", fontsize=8)
    fig.suptitle(f"Chinchilla's L(N, D) fitted to {sf.source} (Hoffmann et al. 2022, Approach 3)", fontsize=9)
    return fig


def fit_figure(sf):
    """A ``matplotlib.figure.Figure`` of the fit (save it with ``fig.savefig(path)``)."""
    return _chinchilla(sf) if isinstance(sf.fit, ChinchillaFit) else _one_variable(sf)
