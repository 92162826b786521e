"""One member's views at every checkpoint: what the page shows when the reader scrubs through training.

A set of checkpoints *is* an ensemble (``grokscope.analysis``): the member's weights at every
checkpoint are stacked into one ensemble of the run's architecture, so each view is one batched
call of the analysis functions, never a loop over steps. What the model is comes from its
``anatomy`` (``grokscope.models.Anatomy``); what the Fourier views mean comes from
``grokscope.analysis`` (Nanda et al. 2023, "Progress measures for grokking via mechanistic
interpretability", §4; Pearce et al. 2023, "Do machine learning models memorize or generalize?",
PAIR): this module composes them and computes nothing of its own beyond ordering and slicing.

Every view, ``[n_steps, ...]`` float32:

- ``view{i}``: the weight matrices the model names (``Anatomy.views``), ``[n_steps, rows, cols]``;
  on Fourier tasks the hidden units are reordered by their frequency and phase *at the last
  checkpoint* (PAIR's ordering), so the periodic bands appear as training goes on.
Fourier tasks (``analysis._checkpoints.fourier_ready``) add:

- ``spectrum``: the embedding's energy per frequency 0 .. p//2, ``[n_steps, n_freq]``;
- ``neuron_in``: each neuron's input map over the tokens of one operand, reordered, ``[n_steps, p, n]``
  (the neuron waves);
- ``stars``: each neuron's input-map cos/sin at its final frequency, ``[n_steps, n, 2]`` (only where
  the input map alone makes the pre-activation, as in PAIR's MLP);
- ``group_logits``: the logits of each final frequency group's neurons alone at one input
  ``(a, b)``, ``[n_steps, n_groups, n_classes]``, and ``logits`` the model's, ``[n_steps, n_classes]``.

Group tasks whose group the task can name (``task.group()``: S_n, D_n) add instead:

- ``irreps``: the share of the embedding's energy in each real isotypic component of the group
  (``grokscope.groups.irrep_shares``; the Fourier spectrum's generalization), ``[n_steps, n_components]``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from grokscope.analysis import (
    RunData,
    dft,
    fourier_snapshot,
    frequency_energy,
    frequency_group_logits,
    neuron_fourier,
)
from grokscope.analysis._checkpoints import eval_inputs, fourier_ready, stack_states
from grokscope.groups import irrep_shares
from grokscope.landscape_measured._irreps import IRREP_ENERGY, irreps_in_use
from grokscope.tasks import composed_group

__all__ = ["EXAMPLE_INPUT", "member_frames", "member_run"]

EXAMPLE_INPUT = (1, 2)  # the (a, b) whose per-frequency logits are shown, as in the Fourier snapshot


def _member_states(run: RunData, steps: list[int], member: int) -> list[dict]:
    return [{k: v[member : member + 1] for k, v in run.load(s).items()} for s in steps]


def member_run(run: RunData, member: int) -> RunData:
    """The run as if ``member`` had been trained alone: a one-member ``RunData`` for ``analyze_run_data``.

    Every measure is computed per member, so its numbers are those of the whole run's analysis
    for that member, at an eighth of the cost for eight members.
    """
    one = slice(member, member + 1)
    model = stack_states(run.model, [{k: v[one] for k, v in run.load(run.steps[-1]).items()}])
    return RunData(run.task, model, list(run.steps), lambda s: {k: v[one] for k, v in run.load(s).items()},
                   run.train_mask[one], run.test_mask[one],
                   None if run.unseen_mask is None else run.unseen_mask[one], f"{run.label}, member {member}")


def _hidden_cols(view, d_hidden: int) -> bool:
    """Whether a weight view's columns are the analysed hidden units (so they may be reordered)."""
    return view.weight.shape[-1] == d_hidden and "hidden" in view.col_label


def member_frames(run: RunData, steps: list[int], member: int) -> tuple[dict, dict[str, np.ndarray]]:
    """``(meta, arrays)``: every view of ``member`` at each of ``steps`` (see the module docstring)."""
    ens = stack_states(run.model, _member_states(run, steps, member))  # one model per checkpoint
    with torch.no_grad():
        anatomy = ens.anatomy()
    meta: dict = {"member": int(member), "steps": [int(s) for s in steps], "views": [], "fourier": None, "irreps": None}
    arrays: dict[str, np.ndarray] = {}
    order = None
    fourier = fourier_ready(run.task, anatomy)
    if fourier:
        order, fmeta, farrays = _fourier_frames(run, ens, anatomy, steps, member)
        meta["fourier"] = fmeta
        arrays.update(farrays)
    group = composed_group(run.task) if not fourier else None
    if group is not None:
        emb = anatomy.embedding if anatomy.embedding is not None else anatomy.neuron_in  # [n_steps, vocab, d]
        shares = irrep_shares(group, emb[:, : group.order].detach().double())
        arrays["irreps"] = shares.shares.numpy()
        labels = list(shares.labels)
        meta["irreps"] = {"group": group.name, "labels": labels, "dims": list(shares.dims),
                          "kinds": list(shares.kinds),
                          # per step, the embedding's irreps in use by the measured landscape's rule
                          "in_use": [irreps_in_use(row, labels) for row in arrays["irreps"].reshape(len(steps), -1)],
                          "in_use_rule": f"the fewest non-trivial irreps carrying >= {IRREP_ENERGY:.0%} of the "
                                         "embedding's non-trivial energy"}
    for i, v in enumerate(anatomy.views):
        w = v.weight.detach().double()  # [n_steps, rows, cols]
        reordered = order is not None and _hidden_cols(v, anatomy.d_hidden)
        if reordered:
            w = w[:, :, order]
        arrays[f"view{i}"] = w.numpy()
        meta["views"].append({"title": v.title, "rows": v.row_label, "cols": v.col_label,
                              "shape": list(w.shape[1:]), "reordered": bool(reordered)})
    meta["order"] = None if order is None else [int(i) for i in order]
    return meta, arrays


def _fourier_frames(run: RunData, ens, anatomy, steps: list[int], member: int):
    """The Fourier views of one member over checkpoints; neurons ordered by final frequency and phase."""
    task = run.task
    p = task.fourier_p
    snap = fourier_snapshot(run, steps[-1], member=member)  # the final frequencies (analysis' rule)
    freq_last = torch.as_tensor(snap["neuron_freq"]).long()  # [n]
    n_steps = len(steps)
    freq = freq_last[None].expand(n_steps, -1)  # [n_steps, n]: each neuron read at its final frequency
    w_in = anatomy.neuron_in[:, :p].detach().double()  # [n_steps, p, n]
    w_out = anatomy.neuron_out.detach().double()  # [n_steps, n, C]
    nf = neuron_fourier(w_in, w_out, freq=freq)  # cos/sin of every checkpoint at the final frequency
    phase = torch.atan2(nf.in_sin[-1], nf.in_cos[-1])  # [n] at the last checkpoint
    order = sorted(range(len(freq_last)), key=lambda i: (int(freq_last[i]), float(phase[i])))
    emb = (anatomy.embedding if anatomy.embedding is not None else anatomy.neuron_in)[:, :p].detach().double()
    spectrum = frequency_energy(dft(emb, dim=1), dim=1).sum(-1)  # [n_steps, n_freq]

    # Per-frequency logits at one input: the activations of that input, each group's neurons alone.
    tokens, _, _ = eval_inputs(task)  # the (a, b) grid: row a p + b
    a, b = EXAMPLE_INPUT[0] % p, EXAMPLE_INPUT[1] % p
    with torch.no_grad():
        logits, cache = ens.run_with_cache(tokens[a * p + b : a * p + b + 1])
    acts = cache[anatomy.hook_names[0]]  # [n_steps, 1, (pos,) n]
    acts = (acts[:, :, -1] if acts.dim() == 4 else acts).double().reshape(n_steps, 1, 1, -1)
    groups = [int(g) for g in snap["group_freqs"]]
    group_logits = frequency_group_logits(acts, w_out, freq, groups)[:, :, 0, 0]  # [n_steps, K, C]

    ordered = torch.as_tensor(order)
    arrays = {
        "spectrum": spectrum.numpy(),
        "neuron_in": w_in[:, :, ordered].numpy(),
        "group_logits": group_logits.numpy(),
        "logits": logits[:, 0].double().reshape(n_steps, -1).numpy(),
    }
    has_stars = snap["stars"] is not None
    if has_stars:
        arrays["stars"] = torch.stack([nf.in_cos, nf.in_sin], -1)[:, ordered].numpy()  # [n_steps, n, 2]
    meta = {
        "p": int(p), "sign": int(snap["sign"]), "n_freq": int(spectrum.shape[-1]),
        "neuron_freq": [int(freq_last[i]) for i in order],  # in display order
        "groups": groups, "key_freqs_last": [int(k) for k in snap["key_freqs"]],
        "input_map": snap["input_map"], "output_map": snap["output_map"],
        "freq_from": snap["neuron_freq_from"], "stars": has_stars,
        "example": [int(a), int(b)], "answer": int((a + snap["sign"] * b) % p),  # labels are a +- b mod p
        "phase_last": [float(phase[i]) if math.isfinite(float(phase[i])) else 0.0 for i in order],
    }
    return np.asarray(order), meta, arrays
