"""Figures of a landscape measurement, each on its own matplotlib ``Figure`` (never pyplot).

* :func:`plot_graph`: the empirical graph of heuristic models (nodes at their mean step and mean F,
  edges by how often the hop was seen), the dwell-time distributions of networks and simulator,
  and their walk statistics side by side;
* :func:`plot_arrhenius`: log waiting time against the barrier dF with the fitted line (Eq. 3);
* :func:`plot_eq2`: F_train, F_test, F_unseen per input over training (Eq. 2);
* :func:`plot_theory`: t_g against D - D_c from the simulator and from the trained sweep.
"""

from __future__ import annotations

import re

import numpy as np

from grokscope.plots import new_figure

__all__ = ["plot_arrhenius", "plot_eq2", "plot_graph", "plot_theory"]

_STATS = ("uphill_fraction", "revisit_fraction", "end_at_lowest_F", "dwell_cv")


def _n_used(label: str) -> int:
    """How many frequencies / irreps / bits a label says are in use (0 for unparsed labels)."""
    m = re.match(r"(?:bits)?\{([^}]*)\}", label)
    if m:
        return len([x for x in m.group(1).split(",") if x])
    m = re.match(r"(\d+)[fbρ]", label)
    return int(m.group(1)) if m else 0


def _ccdf(ax, values, label, color):
    v = np.sort(np.asarray(values, dtype=float))
    v = v[np.isfinite(v) & (v > 0)]
    if v.size:
        ax.step(v / v.mean(), 1.0 - np.arange(v.size) / v.size, where="post", label=label, color=color)


def plot_graph(graph, sim_graph=None, title: str = ""):
    """Three panels: the graph over (step, F), dwell CCDFs, walk statistics (networks vs simulator)."""
    fig, axes = new_figure(3, width=11.5, height=3.6)
    ax = axes[0, 0]
    pos = {n.label: (max(n.t_mean, 1.0), n.F_mean) for n in graph.nodes}
    top = max((e.count for e in graph.edges), default=1)
    for e in graph.edges:
        (x0, y0), (x1, y1) = pos[e.src], pos[e.dst]
        ax.plot([x0, x1], [y0, y1], color="0.4", lw=0.4 + 2.0 * e.count / top, alpha=0.25 + 0.6 * e.count / top,
                zorder=1)
    used = np.array([_n_used(n.label) for n in graph.nodes])
    sc = ax.scatter([pos[n.label][0] for n in graph.nodes], [pos[n.label][1] for n in graph.nodes],
                    s=[8 + 4 * np.sqrt(n.n_obs) for n in graph.nodes], c=used, cmap="viridis", zorder=2,
                    edgecolors="k", linewidths=0.3)
    fig.colorbar(sc, ax=ax, label="frequencies / irreps / bits in use")
    ax.set(xscale="log", yscale="log", xlabel="mean training step in the node",
           ylabel="F_all of the node's states (nats)",
           title=f"{len(graph.nodes)} heuristic models, {len(graph.edges)} observed hops")
    ax = axes[0, 1]
    _ccdf(ax, [t["wait"] for t in graph.transitions], "networks", "C0")
    if sim_graph is not None:
        _ccdf(ax, [t["wait"] for t in sim_graph.transitions], "simulator (Arrhenius)", "C3")
    grid = np.linspace(0, 6, 50)
    ax.plot(grid, np.exp(-grid), "k:", lw=1, label="exponential")
    ax.set(yscale="log", xlabel="dwell before a hop / its mean", ylabel="fraction of dwells longer",
           title="Dwell times (between checkpoints)")
    ax.legend(fontsize=7)
    ax = axes[0, 2]
    x = np.arange(len(_STATS))
    ax.bar(x - 0.2, [graph.stats[k] for k in _STATS], 0.4, label="networks", color="C0")
    if sim_graph is not None:
        ax.bar(x + 0.2, [sim_graph.stats[k] for k in _STATS], 0.4, label="simulator", color="C3")
    ax.set_xticks(x, ["uphill\nhops", "revisits", "end at\nlowest F", "dwell\nCV"], fontsize=8)
    ax.set(ylabel="fraction (CV: sd / mean)", title="Walk statistics")
    ax.legend(fontsize=7)
    fig.suptitle(title or "The empirical graph of heuristic models (Gokhale 2023, §2.3)", fontsize=10)
    return fig


def plot_arrhenius(test, title: str = ""):
    """log t against dF per member (colour: data size) with the pooled fit; the within-size fit beside it."""
    fig, axes = new_figure(2, width=8.0, height=3.4)
    col = "dF" if test.barrier == "all" else "dF_test"
    rows = [r for r in test.rows if np.isfinite(r[col]) and np.isfinite(r["wait"]) and r["wait"] > 0]
    dF = np.array([r[col] for r in rows])
    t = np.array([r["wait"] for r in rows])
    D = np.array([r["data_size"] for r in rows])
    for ax, f, centred in ((axes[0, 0], test.pooled, False), (axes[0, 1], test.within, True)):
        x, y = dF.copy(), t.copy()
        if centred and rows:
            for d in np.unique(D):
                g = D == d
                x[g] = x[g] - x[g].mean()
                y[g] = np.exp(np.log(y[g]) - np.log(y[g]).mean())
        if rows:
            sc = ax.scatter(x, y, c=D, cmap="viridis", s=18, edgecolors="k", linewidths=0.3)
        if f is not None and rows:
            xx = np.linspace(x.min(), x.max(), 50)
            b = f.params["beta"]
            ax.plot(xx, f.predict(xx), "C3-", label=f"β = {float(b):.3g} [{b.lo:.3g}, {b.hi:.3g}]")
            ax.legend(fontsize=7)
        ax.set(yscale="log", xlabel=("dF − mean at its D" if centred else f"dF = F_{test.barrier}(top) − F_{test.barrier}(foot)") + " (nats)",
               ylabel="wait / geometric mean at its D" if centred else f"wait ({test.wait}, steps)",
               title="within data sizes" if centred else "pooled")
    if rows:
        fig.colorbar(sc, ax=axes[0, 1], label="training points")
    fig.suptitle(title or "Arrhenius test of Eq. 3: t = τ0 exp(β ΔF)", fontsize=10)
    return fig


def plot_eq2(res, title: str = ""):
    """Per-input F of the train, test and unseen splits over training; the unseen - test gap."""
    fig, axes = new_figure(2, width=8.0, height=3.4)
    colors = {"train": ("C0", "-"), "test": ("C1", "-"), "unseen": ("C3", "--")}
    for r in res.members:
        for s, (c, ls) in colors.items():
            axes[0, 0].plot(np.maximum(r["steps"], 1), r[f"f_{s}"], color=c, ls=ls, lw=0.5, alpha=0.3)
        axes[0, 1].plot(np.maximum(r["steps"], 1), r["f_unseen"] - r["f_test"], color="0.3", lw=0.5, alpha=0.5)
    if res.members and all(len(r["steps"]) == len(res.members[0]["steps"]) for r in res.members):
        steps = np.maximum(res.members[0]["steps"], 1)  # same checkpoints everywhere: draw the medians
        for s, (c, ls) in colors.items():
            med = np.nanmedian([r[f"f_{s}"] for r in res.members], axis=0)
            axes[0, 0].plot(steps, med, color=c, ls=ls, lw=2.0, label=f"F_{s} / n_{s} (median)")
    else:
        for s, (c, ls) in colors.items():
            axes[0, 0].plot([], [], color=c, ls=ls, label=f"F_{s} / n_{s}")
    axes[0, 0].set(xscale="log", yscale="log", xlabel="training step", ylabel="fallibility per input (nats)",
                   title=f"Eq. 2 over training, {len(res.members)} members")
    axes[0, 0].legend(fontsize=7)
    axes[0, 1].axhline(0, color="k", lw=0.8, ls=":")
    axes[0, 1].set(xscale="log", xlabel="training step", ylabel="F_unseen/n − F_test/n (nats)",
                   title="never-seen vs test inputs")
    fig.suptitle(title or "F = F_train + F_test + F_unseen with a real unseen split (Gokhale 2023, Eq. 2)", fontsize=10)
    return fig


def plot_theory(cmp, title: str = ""):
    """t_g against D − D_c: simulator (left) and trained sweep (right), each with a ν = 1 guide."""
    fig, axes = new_figure(2, width=8.0, height=3.4)
    ax = axes[0, 0]
    ok = np.isfinite(cmp.sim_t)
    ax.plot(cmp.sim_delta[ok], cmp.sim_t[ok], "o-", color="C3", ms=3, label=f"simulator, ν = {cmp.sim_nu['nu']:.2f} (all), {cmp.sim_nu['nu_from']:.2f} (δ ≥ {cmp.sim_nu['fit_from']:g})")
    if ok.any():
        x0, y0 = cmp.sim_delta[ok][-1], cmp.sim_t[ok][-1]
        ax.plot(cmp.sim_delta[ok], y0 * x0 / cmp.sim_delta[ok], "k:", label="ν = 1")
    ax.set(xscale="log", yscale="log", xlabel="D − D_c (mean degree of the model graph)",
           ylabel="t_g (mean first passage, 1/R0)", title=f"grokscope landscape grokking (run {cmp.theory_run})")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    ax.scatter(cmp.meas_delta, cmp.meas_t, s=12, color="C0", alpha=0.6, label="members")
    fin = np.isfinite(cmp.median_t)
    nu = cmp.critical.get("nu")
    ax.plot(cmp.sizes_delta[fin], cmp.median_t[fin], "s-", color="C0", ms=4,
            label="median over seeds" + (f", ν = {nu:.2f}" if nu is not None and np.isfinite(nu) else ""))
    if fin.any():
        x0, y0 = cmp.sizes_delta[fin][-1], cmp.median_t[fin][-1]
        ax.plot(cmp.sizes_delta[fin], y0 * x0 / cmp.sizes_delta[fin], "k:", label="ν = 1")
    ax.set(xscale="log", yscale="log", xlabel=f"{cmp.key} − D_c ({cmp.d_c_kind}: {cmp.d_c:.3g})",
           ylabel="steps to generalize", title="grokscope critical (trained sweep)")
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())  # a narrow decade: minor labels would overlap
    ax.legend(fontsize=7)
    fig.suptitle(title or "Grokking time above the critical data size: theory beside measurement", fontsize=10)
    return fig
