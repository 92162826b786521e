"""Weight heatmaps of a run: the matrices its model names (``Anatomy.views``) at three checkpoints.

The model says which matrices a figure draws (``grokscope.models.Anatomy.views``: a PAIR MLP its
input map ``W_E·W_in`` and output map ``W_out·W_Eᵀ`` or ``W_out·W_U``, a transformer its
embedding), rebuilt from the run's config with ``build_model`` and read from each checkpoint with
``ensemble.anatomy(state)``. A run whose config builds no model that reads its checkpoints (a
store written by hand) gets its stored matrices drawn as they are, under their stored names.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from grokscope.errors import GrokscopeError
from grokscope.report._page import ReportPage
from grokscope.report._plots import color_limit, new_figure, plot_heatmap

__all__ = ["pick_checkpoints", "model_weight_views", "add_weights", "weight_views", "weight_view_names"]

_MAX_RAW = 4  # stored matrices drawn for a run without a model to name them


# --------------------------------------------------------------- checkpoint picks
def pick_checkpoints(ckpt_steps: list[int], mem_step: int | None, gen_step: int | None) -> list[tuple[str, int]]:
    """``[(label, step)]`` for initialization, memorization and after grokking.

    "Nearest" is measured on a log scale (|log(1+s) - log(1+target)|), because
    checkpoints are usually log-spaced; ties go to the later step. Without a
    generalization step the last checkpoint stands in ("end of training"). Steps
    chosen twice appear once, with both labels.

    >>> pick_checkpoints([0, 10, 100, 1000, 10000], mem_step=80, gen_step=4000)
    [('initialization', 0), ('memorization', 100), ('after grokking', 10000)]
    """
    if not ckpt_steps:
        return []
    steps = sorted(ckpt_steps)

    def nearest(target: int) -> int:
        d = [abs(math.log1p(s) - math.log1p(target)) for s in steps]
        best = min(d)
        return max(s for s, di in zip(steps, d) if di == best)

    picks = [("initialization", steps[0])]
    if mem_step is not None:
        picks.append(("memorization", nearest(mem_step)))
    if gen_step is not None:
        picks.append(("after grokking", nearest(gen_step)))
    else:
        picks.append(("end of training (never generalized)", steps[-1]))
    merged: dict[int, str] = {}
    for label, step in picks:
        merged[step] = f"{merged[step]} / {label}" if step in merged else label
    return [(label, step) for step, label in merged.items()]



# ------------------------------------------------------------------ weight views
def _run_model(config: dict, ckpt: dict[str, Any]):
    """The ensemble the run's config builds (weights unused), or None when it builds none that reads ``ckpt``."""
    from grokscope.config import RunConfig
    from grokscope.models import build_model

    try:
        cfg = RunConfig.from_dict(config)
        model = build_model(cfg, cfg.build_task())
    except GrokscopeError:
        return None
    expected = {k: tuple(v.shape[1:]) for k, v in model.state_dict().items()}
    return model if expected == {k: tuple(v.shape[1:]) for k, v in ckpt.items()} else None


def model_weight_views(model, ckpt: dict[str, Any], member: int) -> list[tuple[str, np.ndarray, str, str]]:
    """``[(title, matrix [rows, cols], xlabel, ylabel)]`` of one member: the views the model names.

    ``model`` is the run's ensemble, whose ``anatomy(ckpt).views`` are drawn; None (no model reads
    the checkpoint) draws the checkpoint's first matrices (``[model, rows, cols]`` tensors) as stored.
    """
    if model is not None:
        return [(v.title, v.weight[member].detach().double().cpu().numpy(), v.col_label, v.row_label)
                for v in model.anatomy(ckpt).views]
    raw = [(k, v) for k, v in ckpt.items() if v.dim() == 3][:_MAX_RAW]
    return [(f"{k} (as stored)", v[member].detach().double().cpu().numpy(), "column", "row") for k, v in raw]


def _find(names: list[str], short: str) -> str | None:
    """The checkpoint key for ``short`` (``"W_E"``, ``"mlp.W_in"``): exact, else the shallowest suffix match."""
    if short in names:
        return short
    hits = [k for k in names if k.endswith("." + short)]
    return min(hits, key=lambda k: (k.count("."), k)) if hits else None


def weight_view_names(names: list[str]) -> list[str]:
    """Deprecated (the report uses :func:`model_weight_views`): the tensors :func:`weight_views` reads."""
    want = [_find(names, s) for s in ("W_E", "W_in", "W_out", "W_U")]
    if any("attn." in k for k in names):
        want = [_find(names, "W_E")]
    want = [k for k in want if k is not None]
    return want or names[:1]


def weight_views(ckpt: dict[str, Any], member: int) -> list[tuple[str, np.ndarray, str, str]]:
    """Deprecated: views of a bare state dict without its config, read from the parameter names.

    Kept for code written against grokscope 0.1; the report draws :func:`model_weight_views`,
    which the model defines. PAIR MLP (Pearce et al. 2023): the input map ``W_E·W_in`` (or
    ``W_in``) ``[p, d_hidden]`` and the output map ``W_out·W_Eᵀ`` / ``W_out·W_U`` / ``W_out``,
    transposed to ``[p, d_hidden]``; transformers: ``W_E``.
    """
    names = list(ckpt)

    def get(short):
        key = _find(names, short)
        return None if key is None else ckpt[key][member].detach().double().cpu().numpy()

    if any("attn." in k for k in names):
        W_E = get("W_E")
        return [("embedding W_E", W_E, "residual-stream dimension", "input token")] if W_E is not None else []
    views = []
    W_E, W_in, W_out, W_U = get("W_E"), get("W_in"), get("W_out"), get("W_U")
    if W_in is not None:
        if W_E is not None and W_E.shape[1] == W_in.shape[0]:
            views.append(("input map W_E·W_in", W_E @ W_in, "hidden unit", "input token"))  # [p, d_hidden]
        else:
            views.append(("input map W_in", W_in, "hidden unit", "input token"))
    if W_out is not None:
        if W_U is not None and W_U.shape[0] == W_out.shape[1]:
            out, title = W_out @ W_U, "output map (W_out·W_U)ᵀ"
        elif W_E is not None and W_E.shape[1] == W_out.shape[1]:
            out, title = W_out @ W_E.T, "output map (W_out·W_Eᵀ)ᵀ"  # tied embedding
        else:
            out, title = W_out, "output map W_outᵀ"
        views.append((title, out.T, "hidden unit", "output class"))  # [p, d_hidden]
    if not views:
        key = names[0]
        m = ckpt[key][member].detach().double().cpu().numpy()
        views.append((key, m.reshape(m.shape[0], -1), "column", "row"))
    return views


# ------------------------------------------------------------------ the figure
def add_weights(page: ReportPage, store, run_id: int, rows: list[dict], member: int | None, label: str) -> None:
    """Append the weight heatmaps of ``member`` (default: the first that generalized) at three checkpoints."""
    ckpt_steps = store.checkpoint_steps(run_id)
    if not ckpt_steps:
        page.add_html('<p class="note">No weight checkpoints were stored for this run.</p>')
        return
    if member is None:
        good = [r["member"] for r in rows if r["gen_step"] is not None and not r["diverged"]]
        member = good[0] if good else 0
    row = rows[member]
    picks = pick_checkpoints(ckpt_steps, row["mem_step"], row["gen_step"])
    ckpts = {step: store.load_checkpoint(run_id, step) for _, step in picks}
    model = _run_model(store.get_run(run_id).config, ckpts[picks[0][1]])
    columns = [(lbl, step, model_weight_views(model, ckpts[step], member)) for lbl, step in picks]
    n_rows = max(len(v) for _, _, v in columns)
    if n_rows == 0:
        page.add_html('<p class="note">The checkpoints hold no weight matrix to draw.</p>')
        return
    # at least ~7 in wide: two columns of 3.2 in left the checkpoint labels overlapping
    fig, axes = new_figure(len(columns), n_rows, width=max(3.2 * len(columns), 7.0), height=2.9)
    for r in range(n_rows):
        # one color scale per row, so growth or decay of the weights between checkpoints shows
        lim = color_limit([v[r][1] for _, _, v in columns if r < len(v)])
        for c, (lbl, step, views) in enumerate(columns):
            ax = axes[r, c]
            if r >= len(views):
                ax.set_axis_off()
                continue
            title, matrix, xlabel, ylabel = views[r]
            stacked = lbl.replace(" / ", " /\n")  # merged checkpoint labels, one per line
            title = f"{title}\n{stacked}, step {step}"
            image = plot_heatmap(ax, matrix, title=title, xlabel=xlabel, ylabel=ylabel, lim=lim)
        fig.colorbar(image, ax=list(axes[r]), shrink=0.85, label="weight")
    fig.suptitle(f"Weights of member {member} (seed {row['seed']}) at {len(columns)} checkpoints,\n{label}",
                 fontsize="medium")
    caption = (
        f"Member {member}: memorization step {row['mem_step'] if row['mem_step'] is not None else '—'}, "
        f"generalization step {row['gen_step'] if row['gen_step'] is not None else '—'}; columns are the stored "
        "checkpoints nearest (on a log scale) to initialization, memorization and generalization. "
        "Colors share one scale per row, clipped at the 99th percentile of |weight|; rows and columns as labelled"
        + ("." if model is not None else "; the run's config builds no model that reads these checkpoints, so "
           "the stored matrices are drawn as they are.")
    )
    page.add_figure(fig, caption, name="weights")


