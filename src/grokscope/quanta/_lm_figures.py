"""Figures of an LM family, drawn from its stored data on matplotlib ``Figure`` objects (never pyplot).

- :func:`family_figure`: held-out loss against N (every member, the fitted L(N)) and against D
  (every width's learning curves, the fitted L(D) of the largest);
- :func:`token_curves_figure`: example per-token curves against N, monogenic beside polygenic,
  over the family's mean curve.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["family_figure", "token_curves_figure"]


def _law(ax, fit: dict, x, color="k", label_x="N") -> None:
    if "error" in fit:
        return
    p = {k: v["value"] for k, v in fit["params"].items()}
    xs = np.geomspace(min(x), max(x), 100)
    g = fit["params"]["g"]
    ci = f" [{g['lo']:.2f}, {g['hi']:.2f}]" if g.get("lo") is not None else ""
    ax.plot(xs, p["a"] * xs ** -p["g"] + p["c"], "-", color=color, lw=1,
            label=f"{p['a']:.3g}·{label_x}^-{p['g']:.3f}{ci} + {p['c']:.3f}")


def family_figure(family: dict, fits: dict):
    """Loss (bits/byte) against N and against D, with the power-law-with-offset fits."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), layout="constrained")
    a1, a2 = fig.subplots(1, 2)
    ln2 = math.log(2)
    N = [w["n_non_embedding"] for w in family["widths"]]
    for w in family["widths"]:
        a1.plot([w["n_non_embedding"]] * len(w["final_loss"]), np.array(w["final_loss"]) / ln2, "o", color="C0", ms=4)
    _law(a1, fits["L(N)"], N)
    a1.set_xscale("log")
    a1.set_xlabel("non-embedding parameters N")
    a1.set_ylabel("held-out loss (bits/byte)")
    a1.set_title("final loss of every member against N", fontsize=9)
    if a1.get_legend_handles_labels()[0]:
        a1.legend(fontsize=8)
    for i, w in enumerate(family["widths"]):
        for j, c in enumerate(w["curve"]):
            a2.plot(w["tokens"], np.array(c) / ln2, "-", color=f"C{i}", lw=1, alpha=0.8,
                    label=f"d_model={w['d_model']}" if j == 0 else None)
    big = next(w for w in family["widths"] if w["d_model"] == fits["width"])
    _law(a2, fits["L(D)"], [t for t, s in zip(big["tokens"], big["steps"]) if s >= family["config"]["warmup"]],
         label_x="D")
    a2.set_xscale("log")
    a2.set_yscale("log")
    a2.set_xlabel("training tokens D (bytes)")
    a2.set_ylabel("held-out loss (bits/byte)")
    a2.set_title(f"learning curves; fit: L(D) of d_model={fits['width']}", fontsize=9)
    a2.legend(fontsize=7)
    c = family["corpus"]
    fig.suptitle(f"Byte-level transformer LMs on Python {c['python_version']}'s stdlib ({c['n_files']} files, "
                 f"{c['n_bytes'] / 1e6:.1f} MB); lines: a·x^-g + c, 95% bootstrap on g", fontsize=10)
    return fig


def token_curves_figure(tc, n: int = 6):
    """``n`` example curves of each label (``TokenCurves.examples``) against N, over the mean curve."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    N = tc.n_non_embedding
    for ax, lab in zip(axes, ("monogenic", "polygenic")):
        for e in tc.examples.get(lab, [])[:n]:
            ax.plot(N, e["curve_bits"], "o-", ms=3, lw=1, label=repr(e["text"][-24:]))
        ax.plot(N, tc.mean_curve_bits, "k--", lw=1.5, label="mean of all tokens")
        ax.set_xscale("log")
        ax.set_xlabel("non-embedding parameters N")
        f = tc.fractions[lab]
        ax.set_title(f"{lab}: {f:.1%} of {tc.n_tokens:,} held-out tokens", fontsize=9)
        ax.legend(fontsize=6)
    axes[0].set_ylabel("per-token loss (bits)")
    fig.suptitle("Per-token held-out loss against model size (legend: the end of context⟦token⟧); monogenic: one "
                 "step between neighbouring sizes holds most of the descent", fontsize=9)
    return fig
