"""``grokscope analyze RUN``: every analysis of this package applied to a stored run.

Three layers, thinnest last:

* :func:`checkpoint_measures` — the measures at a set of checkpoints, given a model, its
  checkpoints and the task (no store): the checkpoints are stacked into one ensemble of
  ``n_checkpoints x n_members`` models (a checkpoint set *is* an ensemble) and evaluated
  in chunks on every input, then losses, fallibility, restricted/excluded loss, Gini
  coefficients, weight norms and heuristic labels are computed on the batch;
* :func:`load_run` (``_run_data.py``) — the run's task, model, split and checkpoints from the store;
* :func:`analyze` — all of it for one run, figures and ``summary.json`` in ``out_dir``;
  :func:`analyze_command` is the typer-free entry the CLI calls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from grokscope.analysis._fallibility import transient_rise
from grokscope.analysis._fourier import (
    dft,
    frequency_energy,
    frequency_group_logits,
    key_frequencies,
    neuron_fourier,
    neuron_frequencies_2d,
    pair_neuron_weights,
    wave_fit,
)
from grokscope.analysis._heuristic import frequencies_in_use, heuristic_labels, label_walk
from grokscope.analysis._run_data import RunData, load_run, masks_from_split, run_split
from grokscope.analysis._progress import (
    PHASE_RULE,
    cross_entropy,
    excluded_logits,
    grid_layout,
    progress_phases,
    restricted_logits,
    sum_squared_weights,
    wave_profile,
    weight_ginis,
)
from grokscope.analysis._sparsity import relevant_fraction_curves
from grokscope._json import jsonable
from grokscope.errors import AnalysisError

__all__ = [
    "RunData", "Measures", "load_run", "run_split", "masks_from_split", "checkpoint_measures",
    "fourier_snapshot", "parity_curves", "analyze", "analyze_command",
]

# Elements (float32) of one chunk's logits + hidden activations: ~250 MB keeps the
# working set in memory next to other jobs while batching several checkpoints per call.
_CHUNK_ELEMS = 3e7


def _hidden_width(cfg) -> int:
    """Widest hidden layer of a model config (MLP neurons), for sizing chunks."""
    return max(int(getattr(cfg, k, 0) or 0) for k in ("d_mlp", "d_hidden", "width", "d_model")) or 1


# --- evaluation of checkpoint sets -----------------------------------------------------


def _eval_tokens(task) -> tuple[torch.Tensor, torch.Tensor | None, int | None]:
    """Tokens to evaluate: the full (a, b) grid for Fourier tasks, else the task's inputs.

    Returns ``(tokens [n_eval, n_ctx], idx [n_all] row -> eval position or None, sign)``.
    """
    try:
        idx, sign = grid_layout(task)
    except AnalysisError:
        return task.inputs, None, None
    p = task.fourier_p
    a = torch.arange(p)
    grid = torch.stack(torch.meshgrid(a, a, indexing="ij"), -1).reshape(-1, 2)  # [p*p, 2]
    if task.n_ctx == 3:  # "a b =" context: append the "=" token of the task
        grid = torch.cat([grid, task.inputs[:1, 2:].expand(p * p, 1)], 1)
    return grid, idx, sign


def _stack(model, states: list[dict], pool: dict | None = None):
    """One ensemble holding every member of every state dict (``len(states) * n_members`` models).

    ``pool`` (size -> ensemble) reuses the ensembles of earlier chunks instead of
    allocating new ones.
    """
    n = sum(next(iter(s.values())).shape[0] for s in states)
    ens = pool.get(n) if pool is not None else None
    if ens is None:
        ens = type(model)(model.cfg, n_models=n, dtype=next(model.parameters()).dtype)
        if pool is not None:
            pool[n] = ens
    with torch.no_grad():
        for name, param in ens.named_parameters():
            param.copy_(torch.cat([s[name] for s in states]))
    return ens


def _forward(ens, tokens: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return ens(tokens)  # [model, n_eval, n_classes]


@dataclass
class Measures:
    """Curves over checkpoints: every array is ``[n_steps, model]`` unless noted."""

    steps: np.ndarray
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    key_freqs: list[list[int]] = field(default_factory=list)  # per member, from the last checkpoint
    labels: list[list[str]] = field(default_factory=list)  # [n_steps][model] heuristic-model labels


def _member_blocks(x: torch.Tensor, n_members: int) -> torch.Tensor:
    return x.reshape(-1, n_members, *x.shape[1:])


def checkpoint_measures(run: RunData, steps: list[int] | None = None, *, mode: str = "wave") -> Measures:
    """All progress measures at ``steps`` (default: every checkpoint) of ``run``.

    Loss/accuracy (train, test), fallibility per split (sum of KL over the split's inputs),
    and for Fourier tasks restricted loss (all inputs) and excluded loss (train inputs)
    with each member's key frequencies found at the last step, Gini of the embedding and
    of the neuron-logit map, sum of squared weights and the heuristic-model label.
    """
    steps = list(run.steps if steps is None else steps)
    task, n_m = run.task, run.train_mask.shape[0]
    tokens, idx, sign = _eval_tokens(task)
    labels = task.labels
    n_eval, n_cls = tokens.shape[0], task.n_classes
    # Per model: float64 logits for the losses, plus the forward's hidden activations.
    per_model = n_eval * (2 * n_cls + 3 * _hidden_width(run.model.cfg))
    chunk = max(1, int(_CHUNK_ELEMS // (per_model * n_m)))  # checkpoints per forward
    fourier = idx is not None
    p = task.fourier_p if fourier else None
    outside = out_labels = None
    if fourier:  # d = a + s b - c of every (task row, class) cell
        d_rows = ((idx // p + sign * (idx % p))[:, None] - torch.arange(n_cls)) % p  # [n_all, C]
        # Fallibility sums over *all possible* inputs (Gokhale 2023, eq. 2): on the grid, pairs
        # outside the task were never trained or tested on, so they form the unseen split.
        seen = torch.zeros(p * p, dtype=torch.bool)
        seen[idx] = True
        if not bool(seen.all()) and run.unseen_mask is None:
            outside = (~seen).nonzero().flatten()  # [n_out]
            out_labels = (outside // p + sign * (outside % p)) % p

    # Key frequencies per member come from the last analysed checkpoint (Nanda et al. fix
    # them from the trained model and track their components backwards in time).
    key: list[list[int]] = [[] for _ in range(n_m)]
    if fourier:
        last = _forward(_stack(run.model, [run.load(steps[-1])]), tokens)  # [M, p*p, C]
        mask = frequencies_in_use(last.double().reshape(n_m, p, p, n_cls), sign)
        key = [mask[m].nonzero().flatten().tolist() for m in range(n_m)]

    out: dict[str, list[np.ndarray]] = {}
    names: list[list[str]] = []
    pool: dict = {}
    add = lambda k, v: out.setdefault(k, []).append(np.asarray(v, dtype=float).reshape(-1, n_m))  # noqa: E731
    splits = {"train": run.train_mask, "test": run.test_mask}
    if run.unseen_mask is not None:
        splits["unseen"] = run.unseen_mask
    for i in range(0, len(steps), chunk):
        states = [run.load(s) for s in steps[i : i + chunk]]
        n_c = len(states)
        grid_logits = _forward(_stack(run.model, states, pool), tokens).double()  # [n_c * M, n_eval, C]
        rows = grid_logits[:, idx] if fourier else grid_logits  # [n_c * M, n_all, C]
        rep = lambda m: m.repeat(n_c, 1).double()  # noqa: E731  masks [M, n_all] -> [n_c * M, n_all]
        # One log-softmax serves losses and fallibility: for one-hot truth KL = -log p(label).
        nll = -torch.log_softmax(rows, -1).gather(-1, labels.expand(rows.shape[0], -1)[..., None])[..., 0]
        hit = (rows.argmax(-1) == labels).double()  # [n_c * M, n_all]
        for name, mask in splits.items():
            w = rep(mask)
            add(f"F_{name}", (nll * w).sum(-1))
            if name in ("train", "test"):
                add(f"{name}_loss", (nll * w).sum(-1) / w.sum(-1))
                add(f"{name}_acc", (hit * w).sum(-1) / w.sum(-1))
        f_all = nll.sum(-1)
        if outside is not None:  # grid pairs that are no task row (mirror pairs of an unordered task)
            out_nll = -torch.log_softmax(grid_logits[:, outside], -1).gather(-1, out_labels.expand(rows.shape[0], -1)[..., None])[..., 0]
            add("F_unseen", out_nll.sum(-1))
            f_all = f_all + out_nll.sum(-1)
        add("F_all", f_all)
        add("sum_sq_weights", torch.stack([sum_squared_weights(s) for s in states]))
        if not fourier:
            continue
        L = _member_blocks(grid_logits.reshape(-1, p, p, n_cls), n_m)  # [n_c, M, p, p, C]
        restricted = torch.empty(n_c, n_m, dtype=torch.float64)
        excluded = torch.empty(n_c, n_m, dtype=torch.float64)
        rows_m = rows.reshape(n_c, n_m, *rows.shape[1:])  # [n_c, M, n_all, C]
        for m in range(n_m):
            if mode == "wave":  # the key part is a function of d = a + s b - c: gather, do not build p^3
                r = wave_profile(L[:, m], key[m], sign)[:, d_rows]  # [n_c, n_all, C]
                e = rows_m[:, m] - r
            else:
                r = restricted_logits(L[:, m], key[m], sign, mode).reshape(n_c, p * p, n_cls)[:, idx]
                e = excluded_logits(L[:, m], key[m], sign, mode).reshape(n_c, p * p, n_cls)[:, idx]
            restricted[:, m] = cross_entropy(r, labels)
            excluded[:, m] = cross_entropy(e, labels, run.train_mask[m].expand(n_c, -1))
        add("restricted_loss", restricted)
        add("excluded_loss", excluded)
        ginis = [weight_ginis(s, run.model.cfg, p) for s in states]
        add("gini_embed", torch.stack([g[0] for g in ginis]))
        add("gini_logit_map", torch.stack([g[1] for g in ginis]))
        labs, mem = heuristic_labels(grid_logits.reshape(-1, p, p, n_cls), labels, idx, rep(run.train_mask), sign)
        add("mem_frac", mem)
        names.extend([[str(labs[c * n_m + m]) for m in range(n_m)] for c in range(n_c)])
    curves = {k: np.concatenate(v) for k, v in out.items()}
    return Measures(np.asarray(steps, dtype=float), curves, key, names)


def fourier_snapshot(run: RunData, step: int | None = None, member: int = 0) -> dict:
    """The Fourier circuit of one member at one checkpoint (default: the last).

    Returns plain arrays: embedding energy per frequency, key frequencies, each neuron's
    frequency and variance fraction, the stars (PAIR MLP: input and output cos/sin at the
    neuron's frequency), the per-frequency group logits' wave fits.
    """
    task = run.task
    tokens, idx, sign = _eval_tokens(task)
    if idx is None:
        raise AnalysisError(f"task {task.name}: has no Fourier structure; the Fourier snapshot needs a modular a +- b task")
    p = task.fourier_p
    step = run.steps[-1] if step is None else step
    state = {k: v[member : member + 1] for k, v in run.load(step).items()}
    ens = _stack(run.model, [state])
    with torch.no_grad():
        logits, cache = ens.run_with_cache(tokens)
    hook = next(k for k in (f"blocks.{getattr(run.model.cfg, 'n_layers', 1) - 1}.mlp.hook_post", "mlp.hook_post") if k in cache)
    acts = cache[hook]
    acts = (acts[:, :, -1] if acts.dim() == 4 else acts).double().reshape(1, p, p, -1)  # [1, p, p, n]
    if "blocks.0.mlp.W_in" in state:
        w_e = state["embed.W_E"][:, :p].double()
        w_l = (state[f"blocks.{run.model.cfg.n_layers - 1}.mlp.W_out"] @ state["unembed.W_U"]).double()
        freq, frac, _ = neuron_frequencies_2d(acts)
        nf = neuron_fourier(acts.mean(2), w_l)  # stars of the a-marginal, read at the 2-D frequency
        stars = None
    else:
        w_in, w_l = (w.double() for w in pair_neuron_weights(state, run.model.cfg))
        w_e = state["embed.W_E"].double() if "embed.W_E" in state else w_in
        nf = neuron_fourier(w_in, w_l)
        freq, frac = nf.freq, nf.frac
        stars = {k: getattr(nf, k)[0].numpy() for k in ("in_cos", "in_sin", "out_cos", "out_sin")}
    embed_energy = frequency_energy(dft(w_e, dim=1), dim=1).sum(-1)[0]  # [n_freq]
    key = key_frequencies(embed_energy).nonzero().flatten().tolist()
    groups = sorted({int(f) for f in freq[0].tolist()})
    group_logits = frequency_group_logits(acts, w_l, freq, groups)[0]  # [K, p, p, C]
    fits = {k: wave_fit(group_logits[j], k, sign) for j, k in enumerate(groups)}
    return {
        "step": step, "member": member, "p": p, "sign": sign,
        "embed_energy": embed_energy.numpy(), "key_freqs": key,
        "neuron_freq": freq[0].numpy(), "neuron_frac": frac[0].numpy(),
        "out_frac": nf.out_frac[0].numpy(), "stars": stars,
        "group_freqs": groups,
        "group_r2": np.array([float(fits[k].r2) for k in groups]),
        "group_amplitude": np.array([float(fits[k].amplitude) for k in groups]),
        "group_logits_example": group_logits[:, 1 % p, 2 % p].numpy(),  # [K, C] at (a, b) = (1, 2)
        "logits_example": logits[0].reshape(p, p, -1)[1 % p, 2 % p].double().numpy(),
    }


def parity_curves(run: RunData, steps: list[int] | None = None) -> dict[str, np.ndarray]:
    """Fraction of first-layer weight mass on the relevant bits, ``[n_steps, model]`` per norm."""
    positions = getattr(run.task, "positions", None)
    if positions is None:
        raise AnalysisError(f"task {run.task.name}: is not a sparse-parity task (no relevant bit positions)")
    steps = list(run.steps if steps is None else steps)
    return relevant_fraction_curves([run.load(s)["blocks.0.mlp.W_in"] for s in steps], positions)


def analyze(store, run_id: int, out_dir: str | Path) -> dict:
    """Run every applicable analysis on ``run_id``; write figures and ``summary.json`` to ``out_dir``.

    Fourier tasks (``a +- b mod p``) get the progress measures, phases, the Fourier snapshot
    of the best member and the heuristic-model walk; sparse parity gets the relevant-bit
    mass; every task gets fallibility per split and the transient test-loss rise.
    Returns the summary (also written as JSON). Raises ``AnalysisError`` for a run without
    checkpoints.
    """
    import time

    from grokscope.report._analysis_section import analysis_figures

    t0 = time.perf_counter()
    run = load_run(store, run_id)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    meas = checkpoint_measures(run)
    c = meas.curves
    n_m = run.train_mask.shape[0]
    phases = progress_phases(meas.steps, c["train_acc"], c["test_loss"])
    rise = transient_rise(meas.steps, c["test_loss"])
    best = int(np.nanargmax(np.nan_to_num(c["test_acc"][-1], nan=-1.0)))
    snapshot = parity = None
    if "restricted_loss" in c:
        snapshot = fourier_snapshot(run, member=best)
    if getattr(run.task, "positions", None) is not None:
        parity = parity_curves(run)
    summary = {
        "run": run_id, "label": run.label, "task": run.task.name, "n_members": n_m,
        "n_checkpoints": len(meas.steps), "steps": [int(meas.steps[0]), int(meas.steps[-1])],
        "final": {k: v[-1] for k, v in c.items()},
        "phases": {"rule": PHASE_RULE, "mem_step": phases.mem_step, "clean_start": phases.clean_start, "clean_end": phases.clean_end},
        "test_loss_rise": {k: getattr(rise, k) for k in ("start_step", "peak_step", "end_step", "height", "ratio", "duration")},
    }
    if "restricted_loss" in c:
        summary["key_freqs"] = meas.key_freqs
        summary["heuristic_walk"] = [
            [(int(s), lab) for s, lab in label_walk(meas.steps, [meas.labels[i][m] for i in range(len(meas.steps))])]
            for m in range(n_m)
        ]
        summary["snapshot"] = {k: snapshot[k] for k in ("step", "member", "key_freqs", "group_freqs", "group_r2", "group_amplitude")}
        summary["snapshot"]["neurons_per_freq"] = {int(f): int((snapshot["neuron_freq"] == f).sum()) for f in snapshot["group_freqs"]}
        summary["snapshot"]["median_neuron_frac"] = float(np.median(snapshot["neuron_frac"]))
    if parity is not None:
        summary["parity_final"] = {k: v[-1] for k, v in parity.items()}
    figures = analysis_figures(meas, phases, rise, snapshot, parity, run.label)
    for name, fig, _caption in figures:
        fig.savefig(out_dir / f"{name}.png")
    summary["figures"] = [f"{name}.png" for name, _, _ in figures]
    summary["seconds"] = time.perf_counter() - t0
    summary = jsonable(summary)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def analyze_command(run_id: int, store_path: str | None = None, out_dir: str | None = None) -> int:
    """Entry point for ``grokscope analyze RUN [--store PATH] [--out DIR]`` (no typer here).

    Writes to ``out_dir`` (default ``<store dir>/analysis/run-<RUN>``), prints where, and
    returns the exit code 0; ``GrokscopeError`` propagates for the CLI to print (exit 2).
    """
    from grokscope.store import Store

    store = Store(store_path)
    out = Path(out_dir) if out_dir else store.path.parent / "analysis" / f"run-{run_id}"
    summary = analyze(store, run_id, out)
    print(f"analysis of run {run_id}: {summary['n_checkpoints']} checkpoints in {summary['seconds']:.1f} s -> {out}")
    if "key_freqs" in summary:
        print("key frequencies per member:", summary["key_freqs"])
    return 0
