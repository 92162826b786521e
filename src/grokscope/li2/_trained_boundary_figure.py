"""The figure of :func:`trained_boundary`: generalized share over (M, p), p*(M), both fitted laws, the
energy boundary and the reference's 2.7482·ln M/M, one panel per family (drawn from ``to_dict()``)."""

from __future__ import annotations

import numpy as np

from grokscope.plots._base import new_figure

__all__ = ["trained_boundary_figure"]


def trained_boundary_figure(result):
    """A ``matplotlib.figure.Figure`` (never pyplot) for a ``TrainedBoundary`` or its ``to_dict()``."""
    from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullLocator

    d = result.to_dict() if hasattr(result, "to_dict") else result
    fams = list(dict.fromkeys(g["family"] for g in d["groups"]))
    fig, axes = new_figure(len(fams), width=4.6 * len(fams), height=4.0)
    mult = d["reference_multiplier"]
    for ax, fam in zip(axes[0], fams):
        rows = [g for g in d["groups"] if g["family"] == fam]
        ms = np.array([g["M"] for g in rows], dtype=float)
        sc = None
        for g in rows:
            sc = ax.scatter([g["M"]] * len(g["fractions"]), g["fractions"], c=g["share"], cmap="coolwarm_r", vmin=0,
                            vmax=1, s=28, edgecolors="0.3", linewidths=0.4, zorder=2)
        ok = [g for g in rows if g["p_star"] is not None]
        if ok:
            br = [g for g in ok if g.get("bracket")]
            ax.errorbar([g["M"] for g in br], [g["p_star"] for g in br], fmt="none", ecolor="0.55", elinewidth=0.8,
                        capsize=4, yerr=[[g["p_star"] - g["bracket"][0] for g in br],
                                         [g["bracket"][1] - g["p_star"] for g in br]],
                        label="grid step where the share crosses 1/2", zorder=3)
            lo = [g["p_star"] - (g["p_lo"] if g["p_lo"] is not None else g["p_star"]) for g in ok]
            hi = [(g["p_hi"] if g["p_hi"] is not None else g["p_star"]) - g["p_star"] for g in ok]
            ax.errorbar([g["M"] for g in ok], [g["p_star"] for g in ok], yerr=[lo, hi], fmt="k_", ms=12, capsize=2,
                        elinewidth=2, label="p* (half the seeds generalize; 95% seed bootstrap)", zorder=4)
        xs = np.geomspace(ms.min() * 0.95, ms.max() * 1.05, 100)
        f = d["fits"].get(fam)
        if f:
            c = f["fit_c_lnM_over_M"]["params"]["c"]["value"]
            a, gam = (f["fit_power_law"]["params"][k]["value"] for k in ("a", "g"))
            ax.plot(xs, c * np.log(xs) / xs, "C0-", label=f"fit: p* = {c:.2f} ln M / M")
            ax.plot(xs, a * xs ** -gam, "C1--", label=f"fit: p* = {a:.2f} M^-{gam:.3f}")
        ea, eg = d["energy_boundary"].get(fam, d["energy_boundary"]["cyclic"])
        ax.plot(xs, ea * xs ** -eg, "C2:", label=f"energy boundary (docs/li2.md): {ea:.2f} M^-{eg:.3f}")
        ax.plot(xs, mult * np.log(xs) / xs, color="0.5", ls="-.", label=f"reference: {mult} ln M / M")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(FixedLocator(ms))
        ax.xaxis.set_major_formatter(FormatStrFormatter("%d"))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_formatter(FormatStrFormatter("%.2f"))
        ax.yaxis.set_minor_formatter(FormatStrFormatter("%.2f"))
        ax.tick_params(axis="y", which="minor", labelsize=6)
        ax.set_xlabel("group order M")
        ax.set_ylabel("training fraction p = n / M²")
        ax.set_title(f"{fam}: trained Li2 networks (σ = x², ridge η = 2e-4, Adam)", fontsize=8)
        ax.legend(fontsize=5.5, loc="upper right", framealpha=0.85)
    if sc is not None:
        fig.colorbar(sc, ax=axes[0].tolist(), label="share of seeds that generalized", shrink=0.8)
    return fig
