"""One checkpoint, opened up: the Fourier circuit of one member, and the parity networks' relevant bits.

The Fourier snapshot follows Nanda et al. 2023 ("Progress measures for grokking via mechanistic
interpretability", §4) and Pearce et al. 2023 ("Do machine learning models memorize or
generalize?", PAIR explorable, "It's Full of Stars"): the embedding's spectrum and key
frequencies, each hidden neuron's frequency (that of its input map when the map alone makes its
pre-activation, as in PAIR's MLP; else that of its activations over the ``(a, b)`` grid, as in a
transformer), PAIR's stars (each neuron's input and output map at its frequency)
and how well each frequency's neurons' logits follow a cosine wave. The maps come from the
model's ``anatomy`` (``grokscope.models.Anatomy``): the model says which matrices they are.
"""

from __future__ import annotations

import numpy as np
import torch

from grokscope.analysis._checkpoints import eval_inputs, fourier_ready, stack_states
from grokscope.analysis._fourier import (
    dft, frequency_energy, frequency_group_logits, key_frequencies, neuron_fourier, neuron_frequencies_2d, wave_fit,
)
from grokscope.analysis._run_data import RunData
from grokscope.analysis._sparsity import relevant_fraction_curves
from grokscope.errors import AnalysisError

__all__ = ["fourier_snapshot", "parity_curves", "parity_ready", "map_titles"]


def map_titles(anatomy) -> tuple[str, str]:
    """How the model names its neuron input and output maps, from the anatomy's weight views.

    A view drawing exactly ``neuron_in`` (or ``neuron_out``, transposed) lends its title, e.g.
    ``W_E·W_in`` and ``W_out·W_Eᵀ`` for a tied PAIR MLP; other models get a plain description.
    """
    def find(weight, default: str) -> str:
        if weight is None:
            return default
        for v in anatomy.views:
            if v.weight is weight or (v.weight.shape == weight.shape and torch.equal(v.weight, weight)):
                title = v.title.removeprefix("input map ").removeprefix("output map ")
                return title[1:-2] if title.startswith("(") and title.endswith(")ᵀ") else title
        return default

    out_t = None if anatomy.neuron_out is None else anatomy.neuron_out.transpose(1, 2)
    return (find(anatomy.neuron_in, "each neuron's direct input weights"),
            find(out_t, "each neuron's direct effect on the logits"))


def _input_map_is_exact(anatomy, cache: dict, p: int) -> bool:
    """Whether each neuron's pre-activation on ``(a, b)`` is ``neuron_in[a] + neuron_in[b]`` (+ a constant).

    True for a one-hidden-layer model such as PAIR's MLP, whose neurons are then fully described
    by their input map; False where other paths feed them (a transformer's attention and positions).
    Read from the activations ``hook_names[1]`` (the pre-activation, where the model names one).
    """
    if anatomy.neuron_in is None or len(anatomy.hook_names) < 2 or anatomy.hook_names[1] not in cache:
        return False
    pre = cache[anatomy.hook_names[1]]
    pre = (pre[:, :, -1] if pre.dim() == 4 else pre).double().reshape(p, p, -1)  # [a, b, n]
    w = anatomy.neuron_in[0, :p].double()  # [p, n]
    resid = pre - w[:, None, :] - w[None, :, :]
    resid = resid - resid.mean((0, 1))
    return bool(resid.pow(2).sum() <= 1e-6 * (pre - pre.mean((0, 1))).pow(2).sum().clamp_min(1e-300))


def fourier_snapshot(run: RunData, step: int | None = None, member: int = 0) -> dict:
    """The Fourier circuit of one member at one checkpoint (default: the last).

    Returns plain arrays: embedding energy per frequency and the key frequencies; each neuron's
    frequency and the share of its variance there (of its input map when that alone makes the
    neuron's pre-activation, ``neuron_fourier``; else of its activations over the grid, the
    components (k, 0), (0, k) and (k, k), Nanda et al. §4.2, ``neuron_frequencies_2d``); the stars
    (the input and output maps' cos/sin at the neuron's frequency; None when the input map does
    not make the pre-activation);
    the per-frequency group logits' wave fits; which maps the stars show (``input_map``,
    ``output_map``, as the model names them).
    """
    task = run.task
    tokens, idx, sign = eval_inputs(task)
    step = run.steps[-1] if step is None else step
    state = {k: v[member : member + 1] for k, v in run.load(step).items()}
    anatomy = run.anatomy(state)
    if idx is None or not fourier_ready(task, anatomy):
        raise AnalysisError(f"task {task.name}: the Fourier snapshot needs a modular a +- b task and a model with "
                            "an embedding and a neuron-logit map")
    p = task.fourier_p
    ens = stack_states(run.model, [state])
    with torch.no_grad():
        logits, cache = ens.run_with_cache(tokens)
    acts = cache[anatomy.hook_names[0]]  # [1, p*p, (pos,) n]
    acts = (acts[:, :, -1] if acts.dim() == 4 else acts).double().reshape(1, p, p, -1)  # [1, p, p, n]
    w_l = anatomy.neuron_out.double()  # [1, n, C]
    exact = _input_map_is_exact(anatomy, cache, p)
    if exact:  # PAIR's definition: the input map's frequency, and the stars of both maps
        nf = neuron_fourier(anatomy.neuron_in[:, :p].double(), w_l)
        freq, frac = nf.freq, nf.frac
        stars = {k: getattr(nf, k)[0].numpy() for k in ("in_cos", "in_sin", "out_cos", "out_sin")}
    else:  # the activations' frequency (Nanda et al. §4.2); no input map describes these neurons
        freq, frac, _ = neuron_frequencies_2d(acts)
        nf = neuron_fourier(acts.mean(2), w_l, freq=freq)  # the output side at that frequency
        stars = None
    w_e = (anatomy.embedding if anatomy.embedding is not None else anatomy.neuron_in)[:, :p].double()
    embed_energy = frequency_energy(dft(w_e, dim=1), dim=1).sum(-1)[0]  # [n_freq]
    key = key_frequencies(embed_energy).nonzero().flatten().tolist()
    groups = sorted({int(f) for f in freq[0].tolist()})
    group_logits = frequency_group_logits(acts, w_l, freq, groups)[0]  # [K, p, p, C]
    fits = {k: wave_fit(group_logits[j], k, sign) for j, k in enumerate(groups)}
    in_map, out_map = map_titles(anatomy)
    return {
        "step": int(step), "member": int(member), "p": p, "sign": sign,
        "embed_energy": embed_energy.numpy(), "key_freqs": key,
        "neuron_freq": freq[0].numpy(), "neuron_frac": frac[0].numpy(),
        "out_frac": nf.out_frac[0].numpy(), "stars": stars, "input_map": in_map, "output_map": out_map,
        "neuron_freq_from": "input map" if exact else "activations",
        "group_freqs": groups,
        "group_r2": np.array([float(fits[k].r2) for k in groups]),
        "group_amplitude": np.array([float(fits[k].amplitude) for k in groups]),
        "group_logits_example": group_logits[:, 1 % p, 2 % p].numpy(),  # [K, C] at (a, b) = (1, 2)
        "logits_example": logits[0].reshape(p, p, -1)[1 % p, 2 % p].double().numpy(),
    }


def parity_ready(task, anatomy) -> bool:
    """Whether the relevant-bit measure applies: a sparse-parity task (relevant ``positions``) and a
    model whose input map reads one row per input bit."""
    positions = getattr(task, "positions", None)
    return (positions is not None and anatomy is not None and anatomy.neuron_in is not None
            and anatomy.neuron_in.shape[1] == task.n_ctx)


def parity_curves(run: RunData, steps: list[int] | None = None) -> dict[str, np.ndarray]:
    """Fraction of the input map's weight mass on the relevant bits, ``[n_steps, model]`` per norm.

    The input map is the model's ``anatomy.neuron_in`` (the first layer's ``W_in`` over the bits).
    """
    steps = list(run.steps if steps is None else steps)
    maps = [run.anatomy(run.load(s)) for s in steps]
    if not parity_ready(run.task, maps[-1]):
        raise AnalysisError(f"task {run.task.name}: is not a sparse-parity task read by a model with an input map "
                            "over its bits")
    return relevant_fraction_curves([a.neuron_in for a in maps], run.task.positions)
