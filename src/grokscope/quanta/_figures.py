"""Figures of the emergence analysis, drawn from an :class:`~grokscope.quanta.Emergence` only.

- :func:`decomposition_figure`: the smooth mean loss ``Σ_i p_i L_i(t)`` as a stack of the
  frequency-weighted per-subtask losses beneath it (each band drops sharply when its subtask is
  learned), next to the per-subtask curves themselves; Michaud et al. 2023's Figure 2 (bottom) view.
- :func:`learned_step_figure`: the step each subtask is learned against its frequency ``p_i``,
  log-log, with the fitted slope and its interval and the theory's slope -1.

Figures are ``matplotlib.figure.Figure`` objects (no pyplot); :func:`save_emergence` writes
``emergence.json`` and both PNGs to a folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grokscope.plots import new_figure

__all__ = ["decomposition_figure", "learned_step_figure", "save_emergence"]


def _positive_steps(em) -> tuple[np.ndarray, np.ndarray]:
    steps = np.asarray(em.steps)
    keep = steps > 0  # log-time axis
    return steps[keep], keep


def decomposition_figure(em, member: int = 0):
    """Left: the stacked bands ``p_i L_i(t)`` (bits) summing to the mean loss; right: each ``L_i(t)``."""
    import matplotlib

    steps, keep = _positive_steps(em)
    L = np.asarray(em.loss_bits[member], dtype=float)[keep]  # [n_eval, n_tasks]
    p = np.asarray(em.probs)
    cmap = matplotlib.colormaps["viridis"]
    colors = [cmap(0.9 * i / max(len(p) - 1, 1)) for i in range(len(p))]
    fig, axes = new_figure(2, width=7.2, height=3.0)
    ax = axes[0, 0]
    ax.stackplot(steps, (L * p).T, colors=colors, linewidth=0)
    ax.plot(steps, L @ p, color="k", lw=1.2, label=r"mean loss $\sum_i p_i L_i$")
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("test loss (bits)")
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title("mean loss = frequency-weighted subtask losses", fontsize=8)
    ax = axes[0, 1]
    for i in range(len(p)):
        ax.plot(steps, L[:, i], color=colors[i], lw=0.6)
    ax.axhline(em.threshold_bits, color="0.5", ls=":", lw=0.8, label=f"learned: < {em.threshold_bits:g} bit")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("subtask test loss (bits)")
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title(f"{len(p)} subtasks, $p_i \\propto i^{{-{em.zipf_exponent:g}}}$ (dark: frequent)", fontsize=8)
    fig.suptitle(f"Emergence per quantum, member {member} (paper α = {em.alpha:g})", fontsize=9)
    return fig


def learned_step_figure(em):
    """Learned step against ``p_i`` for every member (log-log), the pooled fit and the slope -1."""
    from grokscope.plots import member_colors

    fig, axes = new_figure(1, width=3.6, height=3.0)
    ax = axes[0, 0]
    p = np.asarray(em.probs)
    colors = member_colors(len(em.members))
    for m, c in zip(em.members, colors):
        s = np.array([np.nan if v is None else v for v in m.learned_step], dtype=float)
        ok = np.isfinite(s) & (s > 0)
        ax.scatter(p[ok], s[ok], s=9, color=c, label=f"member {m.member}" if len(em.members) <= 6 else None)
    fit, slope = em.pooled_fit, em.pooled_slope
    if fit is not None:
        a = fit["params"]["a"]["value"]
        lo, hi = fit["x_range"]
        x = np.geomspace(lo, hi, 50)
        ax.plot(x, a * x ** slope["value"], "k-", lw=1,
                label=f"fit: slope {slope['value']:.2f} [{slope['lo']:.2f}, {slope['hi']:.2f}]")
        ax.plot(x, a * x ** slope["value"] * (x / x[-1]) ** (em.theory_slope - slope["value"]), "k--", lw=0.8,
                label="theory: slope -1")
    ax.set_xscale("log")
    ax.set_yscale("log")
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())  # a narrow p range crowds the minor labels
    ax.set_xlabel(r"subtask frequency $p_i$")
    ax.set_ylabel("step learned")
    ax.legend(fontsize=6)
    ax.set_title(f"learned: {em.split} loss < {em.threshold_bits:g} bit", fontsize=8)
    return fig


def save_emergence(em, out_dir, member: int = 0) -> list[Path]:
    """Write ``emergence.json``, ``emergence_decomposition.png`` and ``emergence_learned_step.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "emergence.json", out / "emergence_decomposition.png", out / "emergence_learned_step.png"]
    paths[0].write_text(em.to_json())
    decomposition_figure(em, member).savefig(paths[1])
    learned_step_figure(em).savefig(paths[2])
    return paths
