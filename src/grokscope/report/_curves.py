"""Learning curves of a run: whatever metrics it logged, one panel per split, and per task group.

Metric names are the task's (``grokscope.train``): ``{split}_{loss,acc}`` for every split the run
keeps (train, test, unseen, all) and ``{split}_{loss,acc}/{group}`` for every group of rows the
task names. The page draws the splits and groups present; it assumes no fixed list. ``all`` (every
input, the union of the others) gets no panel of its own: its curve is a weighted mean of the
panels shown, and leaving it out keeps the figures of runs stored before groups existed as they were.
"""

from __future__ import annotations

import numpy as np

from grokscope.report._page import ReportPage
from grokscope.report._plots import mark_steps, new_figure, plot_curves

__all__ = ["KINDS", "split_names", "group_names", "add_learning_curves"]

# (metric suffix, log y axis, scale, unit, what) of each kind of curve, in display order
KINDS = (("acc", False, 100.0, "accuracy (%)", "accuracy"), ("loss", True, 1.0, "cross-entropy loss (nats)", "loss"))
_SPLIT_ORDER = ("train", "test", "unseen")
_UNION = "all"  # every input: not a panel (see the module docstring)


def split_names(metrics, kind: str) -> list[str]:
    """The splits with a ``{split}_{kind}`` curve (``all`` aside), known splits first.

    >>> split_names({"test_acc": 0, "train_acc": 0, "all_acc": 0, "train_acc/odd": 0, "weight_norm": 0}, "acc")
    ['train', 'test']
    """
    found = [k[: -len(kind) - 1] for k in metrics if "/" not in k and k.endswith(f"_{kind}")]
    found = [s for s in found if s != _UNION]
    return sorted(found, key=lambda s: (_SPLIT_ORDER.index(s) if s in _SPLIT_ORDER else len(_SPLIT_ORDER), s))


def group_names(metrics, split: str, kind: str) -> list[str]:
    """The groups with a ``{split}_{kind}/{group}`` curve, sorted.

    >>> group_names({"train_acc/odd": 0, "train_acc/even": 0, "test_acc/odd": 0}, "train", "acc")
    ['even', 'odd']
    """
    prefix = f"{split}_{kind}/"
    return sorted(k[len(prefix):] for k in metrics if k.startswith(prefix))


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def add_learning_curves(page: ReportPage, steps, metrics: dict, colors, marks, label: str, caption) -> None:
    """One figure per kind (accuracy, loss) with a panel per split; then the per-group curves.

    ``marks`` is ``([step, ...], [label, ...])`` of the dotted lines; ``caption(what, logy)`` the
    caption of a split figure (after the splits it shows).
    """
    n = len(colors)
    for kind, logy, scale, unit, what in KINDS:
        present = split_names(metrics, kind)
        if not present:
            continue
        fig, axes = new_figure(len(present))
        for ax, split in zip(axes[0], present):
            plot_curves(ax, steps, metrics[f"{split}_{kind}"], colors=colors, logy=logy, scale=scale,
                        ylabel=f"{split} {unit}", title=f"{split} set")
            if kind == "acc":
                ax.set_ylim(-2, 102)
            mark_steps(ax, *marks)
        axes[0, -1].legend(fontsize="x-small", loc="best")
        fig.suptitle(f"{_and(present).capitalize()} {what} of {n} members vs. training step, {label}", fontsize="medium")
        page.add_figure(fig, f"{_and(present).capitalize()} {what}. " + caption(what, logy), name=what)
    for kind, logy, scale, unit, what in KINDS:
        _add_group_curves(page, steps, metrics, kind, logy, scale, unit, what, n, label)


def _add_group_curves(page, steps, metrics, kind, logy, scale, unit, what, n, label) -> None:
    present = [s for s in split_names(metrics, kind) if group_names(metrics, s, kind)]
    if not present:
        return
    fig, axes = new_figure(len(present), width=3.8 * len(present))
    for ax, split in zip(axes[0], present):
        for j, g in enumerate(group_names(metrics, split, kind)):
            values = np.asarray(metrics[f"{split}_{kind}/{g}"], dtype=float).reshape(len(steps), -1)
            with np.errstate(all="ignore"):
                med = np.nanmedian(np.where(np.isfinite(values), values, np.nan), axis=1)
            plot_curves(ax, steps, med[:, None], colors=[f"C{j % 10}"], logy=logy, scale=scale, median=False,
                        ylabel=f"{split} {unit}", title=f"{split} set, by group")
            ax.get_lines()[-1].set_label(g)
        if kind == "acc":
            ax.set_ylim(-2, 102)
        ax.legend(fontsize="x-small", loc="best")
    fig.suptitle(f"{what.capitalize()} per task group (median of {n} members), {label}", fontsize="medium")
    page.add_figure(fig, f"{what.capitalize()} on each group of rows the task names, per split: the median over "
                    "members of each group's mean; a group's curve is over its rows within the split.",
                    name=f"{what}_by_group")
