"""The figures of a run's analysis, drawn from the data object alone (a ``RunAnalysis``, or its JSON).

Nothing is computed here that the analysis did not already hold, so a figure drawn from a saved
``analysis.json`` is the figure ``grokscope analyze`` drew:

* progress measures of the best member with the three phases shaded (Nanda et al. 2023,
  "Progress measures for grokking via mechanistic interpretability", Fig. 5-7): losses of every
  split, restricted and excluded loss; Gini coefficients; weight norm;
* fallibility per split (Gokhale 2023, "The semantic landscape paradigm for neural networks", eq. 2);
* the heuristic-model timeline (labels per checkpoint, one row per member);
* the embedding spectrum, the neuron-frequency histogram, the stars of Pearce et al. 2023 ("Do
  machine learning models memorize or generalize?", PAIR) and the per-frequency logit waves;
* for sparse parity, the weight mass on the relevant bits (PAIR's "1s and 0s").
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from grokscope.plots._base import member_colors, new_figure, plot_curves

__all__ = ["analysis_figures", "save_figures", "plot_irrep_usage"]

_PHASE_COLORS = {"memorization": "#f4cccc", "circuit formation": "#fff2cc", "cleanup": "#d9ead3"}
_SPLIT_COLORS = {"train": "C0", "test": "C3", "unseen": "C7"}


def _num(x) -> float:
    return float("nan") if x is None else float(x)


def _shade_phases(ax, phases: dict | None, member: int, steps) -> None:
    if phases is None:
        return
    bounds = [steps[0]] + [_num(phases[k][member]) for k in ("mem_step", "clean_start", "clean_end")]
    for (name, color), lo, hi in zip(_PHASE_COLORS.items(), bounds[:-1], bounds[1:]):
        if np.isfinite(lo):
            ax.axvspan(lo, hi if np.isfinite(hi) else steps[-1], color=color, alpha=0.6, lw=0, label=name)


def _progress_figure(ra, member: int):
    s, names = np.asarray(ra.steps, dtype=float), set(ra.curves)
    phases = ra.results.get("phases")
    fourier = "gini_embed" in names
    fig, axes = new_figure(3 if fourier else 2, width=11.0 if fourier else 7.5, height=3.2)
    ax = axes[0, 0]
    lines = [(f"{k}_loss", c, k) for k, c in _SPLIT_COLORS.items()]
    lines += [("restricted_loss", "C2", "restricted (key freqs only)"),
              ("excluded_loss", "C1", "excluded (train, key freqs removed)")]
    for key, color, label in lines:
        if key in names:
            ax.plot(s, np.clip(ra.curve(key)[:, member], 1e-12, None), color=color, lw=1.4, label=label)
    ax.set_yscale("log")
    _shade_phases(ax, phases, member, s)
    ax.set(xlabel="training step", ylabel="cross-entropy (nats)", title=f"losses, member {member}")
    ax.legend(fontsize="xx-small", loc="lower left")
    if fourier:
        ax = axes[0, 1]
        ax.plot(s, ra.curve("gini_embed")[:, member], color="C4", lw=1.4, label="Gini, embedding Fourier norms")
        ax.plot(s, ra.curve("gini_logit_map")[:, member], color="C5", lw=1.4, label="Gini, neuron-logit map")
        _shade_phases(ax, phases, member, s)
        ax.set(xlabel="training step", ylabel="Gini coefficient", title="Fourier sparsity", ylim=(0, 1))
        ax.legend(fontsize="xx-small")
    ax = axes[0, -1]
    ax.plot(s, ra.curve("sum_sq_weights")[:, member], color="k", lw=1.4)
    _shade_phases(ax, phases, member, s)
    ax.set(xlabel="training step", ylabel="sum of squared weights", title="weight norm")
    fig.suptitle(f"Progress measures (Nanda et al. 2023) over {len(s)} checkpoints, {ra.label}", fontsize="medium")
    cap = ("Progress measures of Nanda et al. 2023, \"Progress measures for grokking via mechanistic "
           "interpretability\" (§5), for the member with the best final test accuracy. "
           "Losses on every input of each split (float64). Restricted loss: logits projected onto cos/sin(w_k(a±b−c)) "
           "of the key frequencies (all inputs); excluded loss: those components removed (training inputs). "
           "Shading: memorization (red), circuit formation (yellow), cleanup (green), by the rule in docs/analysis.md.")
    return "progress", fig, cap


def _fallibility_figure(ra):
    names = [k for k in ("F_train", "F_test", "F_unseen") if k in ra.curves]
    fig, axes = new_figure(len(names))
    for ax, k in zip(axes[0], names):
        plot_curves(ax, ra.steps, ra.curve(k), colors=member_colors(ra.n_members), logy=True,
                    ylabel=f"{k} (nats, summed)", title=k.replace("F_", "F, "))
    fig.suptitle(f"Fallibility F = Σ KL(truth ‖ model) per split, {ra.label}", fontsize="medium")
    return "fallibility", fig, ("Fallibility (Gokhale 2023, \"The semantic landscape paradigm for neural networks\", "
                                "eq. 1-2): KL divergence summed over every input of the split, per member; median in black.")


def _palette() -> list:
    """Up to 60 distinguishable colors (tab20, tab20b, tab20c); the last one, grey, means "other"."""
    import matplotlib

    cols = [matplotlib.colormaps[name](i) for name in ("tab20", "tab20b", "tab20c") for i in range(20)]
    return cols[:59] + [(0.75, 0.75, 0.75, 1.0)]


def _timeline_figure(ra):
    """One row per member: band color = frequencies in use, black line = memorized fraction."""
    labels = ra.results["heuristic_walk"]["labels"]
    n_steps, n = len(ra.steps), ra.n_members
    sets = [[labels[i][m].split(" mem=")[0] for i in range(n_steps)] for m in range(n)]
    counts: dict[str, int] = {}
    for row in sets:
        for x in row:
            counts[x] = counts.get(x, 0) + 1
    ranked = sorted(counts, key=lambda x: -counts[x])
    palette = _palette()
    color = {x: palette[i] if i < len(palette) - 1 else palette[-1] for i, x in enumerate(ranked)}  # last: "other"
    st = np.asarray(ra.steps, dtype=float)
    mid = (st[1:] + st[:-1]) / 2
    edges = np.r_[st[0], mid, st[-1]] if n_steps > 1 else np.array([st[0] - 0.5, st[0] + 0.5])
    fig, axes = new_figure(1, width=10.0, height=1.4 + 0.3 * n)
    ax = axes[0, 0]
    for m in range(n):
        for i in range(n_steps):
            ax.fill_between(edges[i : i + 2], m - 0.45, m + 0.45, color=color[sets[m][i]], lw=0)
        if "mem_frac" in ra.curves:  # memorized fraction of training points, drawn inside the band
            ax.plot(st, m - 0.45 + 0.9 * ra.curve("mem_frac")[:, m], color="k", lw=0.8)
    ax.set(xlabel="training step (symlog)", ylabel="member", yticks=range(n), ylim=(-0.6, n - 0.4),
           title="color: frequencies in use; line: memorized fraction (0-1)")
    positive = st[st > 0]
    if len(positive):  # checkpoints are log-spaced: early transitions need a log axis
        ax.set_xscale("symlog", linthresh=float(positive.min()))
    ax.set_xlim(edges[0], edges[-1])
    from matplotlib.patches import Patch

    shown = ranked[: min(24, len(palette) - 1)]
    handles = [Patch(color=color[x], label=x) for x in shown]
    if len(ranked) > len(shown):
        handles.append(Patch(color=palette[-1], label=f"{len(ranked) - len(shown)} other sets"))
    ax.legend(handles=handles, fontsize="xx-small", ncol=max(1, math.ceil(len(handles) / 8)), loc="upper left",
              bbox_to_anchor=(1.01, 1))
    fig.suptitle(f"The walk on the graph of heuristic models, {ra.label}", fontsize="medium")
    return "heuristic_timeline", fig, (
        "Heuristic-model label per checkpoint (Gokhale 2023, \"The semantic landscape paradigm for neural networks\"; "
        "rule in docs/analysis.md): the set of frequencies whose waves carry a key share of the logits (color) and the "
        "fraction of training points answered by the non-Fourier part (black line)."
    )


def _spectrum_figure(snap: dict, label: str):
    e, key = np.asarray(snap["embed_energy"], dtype=float), snap["key_freqs"]
    freq = np.asarray(snap["neuron_freq"])
    fig, axes = new_figure(2, width=9.0)
    ax = axes[0, 0]
    k = np.arange(len(e))
    ax.bar(k[1:], e[1:] / e[1:].sum(), color=["C3" if f in key else "0.6" for f in k[1:]])
    ax.set(xlabel="frequency k (w = 2πk/p)", ylabel="share of embedding energy", title=f"embedding spectrum, key = {key}")
    ax = axes[0, 1]
    freqs, counts = np.unique(freq, return_counts=True)
    ax.bar(freqs, counts, color="C0")
    ax.set(xlabel="neuron's dominant frequency", ylabel="number of neurons",
           title=f"neuron frequencies (median variance explained {np.median(snap['neuron_frac']):.2f})")
    fig.suptitle(f"Fourier structure at step {snap['step']}, member {snap['member']}, {label}", fontsize="medium")
    return "spectrum", fig, ("Left: energy of the embedding per frequency (red: key by the 10x-median rule). Right: how "
                             "many neurons have each dominant frequency (of their activations over all (a, b): the "
                             "components (k, 0), (0, k), (k, k)) and the share of their variance there.")


def _stars_figure(snap: dict, groups: list, label: str):
    st = {k: np.asarray(v, dtype=float) for k, v in snap["stars"].items()}
    freq = np.asarray(snap["neuron_freq"])
    fig, axes = new_figure(len(groups), nrows=2, width=2.3 * len(groups), height=2.3)
    for j, f in enumerate(groups):
        sel = freq == f
        # PAIR joins neurons in the order of their *input* angle on both sides: an output
        # side that rotates twice as fast then draws a star.
        order = np.argsort(np.arctan2(st["in_sin"][sel], st["in_cos"][sel]))
        for row, (cx, sx, side) in enumerate((("in_cos", "in_sin", "input"), ("out_cos", "out_sin", "output"))):
            ax = axes[row, j]
            x, y = st[cx][sel], st[sx][sel]
            ax.plot(np.r_[x[order], x[order][:1]], np.r_[y[order], y[order][:1]], "-o", ms=3, lw=0.8, color=f"C{j}")
            ax.axhline(0, color="0.8", lw=0.5)
            ax.axvline(0, color="0.8", lw=0.5)
            ax.set_aspect("equal", "datalim")
            ax.set(title=f"k={f}, {side}", xlabel="cos coefficient", ylabel="sin coefficient" if j == 0 else "")
    fig.suptitle(f"PAIR's stars: each neuron's cos/sin component at its frequency, {label}", fontsize="medium")
    return "stars", fig, (f"Top: input side ({snap['input_map']}), bottom: output side ({snap['output_map']}) at the "
                          "neuron's frequency; on both sides neurons are joined in the order of their input angle "
                          "(Pearce et al. 2023, \"Do machine learning models memorize or generalize?\", PAIR).")


def _frequency_logits_figure(snap: dict, groups: list, label: str):
    p, s = snap["p"], snap["sign"]
    fig, axes = new_figure(len(groups), width=2.6 * len(groups))
    c = np.arange(p)
    for j, f in enumerate(groups):
        ax = axes[0, j]
        y = np.asarray(snap["group_logits_example"][j], dtype=float)
        y = y - y.mean()
        # Order classes by the wave's phase k(a + s b - c) mod p, so a high frequency shows as one period.
        phase = (f * (1 + s * 2 - c)) % p
        wave = np.cos(2 * np.pi * phase / p)
        amp = (y @ wave) / (wave @ wave)
        order = np.argsort(phase)
        ax.plot(phase[order], y[order], ".", ms=3, color=f"C{j}", label="logit of class c")
        ax.plot(phase[order], amp * wave[order], "-", lw=0.8, color="k", label="fitted wave")
        ax.set(xlabel="k(a+b−c) mod p" if s == 1 else "k(a−b−c) mod p",
               title=f"k={f}: R²={_num(snap['group_r2'][j]):.2f} (all inputs)")
    axes[0, 0].legend(fontsize="xx-small")
    fig.suptitle(f"Logits of each frequency's neurons at (a, b) = (1, 2), {label}", fontsize="medium")
    return "frequency_logits", fig, ("Dots: logit contribution of the neurons of one frequency to each class c (mean "
                                     "removed), placed at the wave's phase k(a+b−c) mod p; line: the fitted cosine. "
                                     "R² is over all p² inputs.")


def _parity_figure(ra):
    fig, axes = new_figure(2)
    for ax, (k, v) in zip(axes[0], ra.results["parity_relevant_bits"].items()):
        ylabel = "fraction of |W_in| mass on relevant bits" if k.endswith("l1") else "fraction of W_in² mass on relevant bits"
        plot_curves(ax, ra.steps, np.asarray(v, dtype=float), ylabel=ylabel, title=k.replace("relevant_", "").upper() + " mass")
        ax.set_ylim(0, 1.02)
    fig.suptitle(f"Sparse parity: first-layer weight mass on the relevant bits, {ra.label}", fontsize="medium")
    return "parity_mass", fig, ("Pearce et al. 2023, \"Do machine learning models memorize or generalize?\" (PAIR), "
                                "'1s and 0s': as the model generalizes, weight decay removes the weights of the "
                                "distractor bits. The input map is the model's (its first layer's weights over the bits).")


def plot_irrep_usage(result: dict, member: int = 0, title: str = ""):
    """Shares per irrep over checkpoints for one member (embedding; unembedding beside it): a Figure.

    ``result`` is :meth:`IrrepUsage.to_dict` (or ``analysis.json``'s ``results["irreps"]``); the
    step axis is logarithmic, so step 0 is drawn at step 1."""
    parts = [("embedding", result["embedding"])]
    if result.get("unembedding") is not None:
        parts.append(("unembedding (neurons' output map)", result["unembedding"]))
    fig, axes = new_figure(len(parts), width=5.0 * len(parts), height=3.2)
    steps = np.maximum(np.asarray(result["steps"], dtype=float), 1.0)
    for ax, (name, rows) in zip(axes[0], parts):
        shares = np.asarray(rows, dtype=float)[:, member, :]  # [n_steps, n_components]
        for c, lab in enumerate(result["labels"]):
            ax.plot(steps, shares[:, c], lw=1.4, ls="-" if c else ":",
                    label=f"{lab} (d={result['dims'][c]})", color="grey" if c == 0 else f"C{(c - 1) % 10}")
        ax.set_xscale("log")
        ax.set(xlabel="training step (optimizer updates)", ylabel="share of squared norm", ylim=(0, 1),
               title=f"{name}, member {member}")
        ax.legend(fontsize="xx-small", loc="upper left", ncols=2)
    if title:
        fig.suptitle(title, fontsize="small")
    return fig



def _irreps_figure(ra, member: int):
    fig = plot_irrep_usage(ra.results["irreps"], member, title=ra.label)
    return "irreps", fig, ("Share of the embedding's (left) and the neurons' output map's (right) squared norm per "
                           "irrep of the group over training (Chughtai, Chan & Nanda 2023, \"A toy model of "
                           "universality\"); rule and measurement in docs/analysis.md.")


def analysis_figures(ra) -> list:
    """Every figure of a ``RunAnalysis`` as ``(name, figure, caption)``, for the measures it holds."""
    member = ra.best_member
    figs = [_progress_figure(ra, member)]
    if any(k.startswith("F_") for k in ra.curves):
        figs.append(_fallibility_figure(ra))
    if "heuristic_walk" in ra.results:
        figs.append(_timeline_figure(ra))
    snap = ra.results.get("fourier_snapshot")
    if snap is not None:
        groups = snap["group_freqs"][:6]
        figs.append(_spectrum_figure(snap, ra.label))
        if snap["stars"] is not None and groups:
            figs.append(_stars_figure(snap, groups, ra.label))
        if groups:
            figs.append(_frequency_logits_figure(snap, groups, ra.label))
    if "parity_relevant_bits" in ra.results:
        figs.append(_parity_figure(ra))
    if "irreps" in ra.results:
        figs.append(_irreps_figure(ra, member))
    return figs


def save_figures(ra, out_dir: str | Path) -> list[Path]:
    """Write every figure of ``ra`` as ``<name>.png`` in ``out_dir``; returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig, _caption in analysis_figures(ra):
        paths.append(out_dir / f"{name}.png")
        fig.savefig(paths[-1])
    return paths
