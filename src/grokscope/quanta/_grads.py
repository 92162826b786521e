"""Per-sample gradients for QDG, each computed once, and their cosine similarities.

``per_sample_gradients`` evaluates ``torch.func.vmap(grad(loss))`` over chunks of ``chunk`` samples
through ``functional_call`` (memory ``chunk x P`` plus activations), flattened over the chosen
parameters (``select_params``: names or dotted prefixes) and normalized to unit length: ``G [n, P]``
float32. ``cosine_similarity`` forms ``C = G Gᵀ`` ``[n, n]`` in row blocks of the upper triangle,
mirrored (half the FLOPs of a full product), clipped to [-1, 1]. ``grokscope.quanta._qdg`` clusters
them (Michaud et al. 2023, §5).

**The cross-entropy gradient of a confident sample.** Autograd of the cross-entropy gives the
logits the gradient ``softmax(z) - onehot(y)``, whose true-class entry ``p_y - 1`` is formed by a
subtraction from 1: in float32 it is a multiple of 2^-24 (2^-53 in float64), so once ``1 - p_y``
falls below ~1e-6 (a loss below ~1e-6 nats, a margin above ~14; in float64 above ~37) that entry is
rounding error while the other entries stay exact, and the gradient's *direction* is wrong (on
the float32 network of docs/qdg.md, run 1 at step 12000, the mean cosine between all pairs is 0.311
with autograd and 0.001 with exact gradients). ``ce_gradient="stable"`` (losses ``ce`` and
``ce64``) writes the gradient as ``(1 - p_y)`` times that of a surrogate with exactly its direction
(``_ce_direction``: wrong class c gets ``softmax_{c≠y}(z)_c``, the true class -1), with the factor
taken from ``log(1 - p_y)`` in float64: no ``1 - p`` is formed and nothing underflows.

>>> import torch
>>> from grokscope.models import FeatureMLP, FeatureMLPConfig
>>> model = FeatureMLP(FeatureMLPConfig(d_in=3, n_classes=2, width=4, depth=1), dtype=torch.float64).init_(0)
>>> G = per_sample_gradients(model, torch.eye(3), torch.tensor([0, 1, 0]), params=["unembed"]).grads
>>> tuple(G.shape), [round(float(v), 6) for v in G.norm(dim=1)]     # [n, P]: W_U (4 x 2) and b_U (2)
((3, 10), [1.0, 1.0, 1.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from grokscope.errors import ConfigError
from grokscope.validate import check_int

__all__ = ["CE_GRADIENTS", "PerSampleGradients", "cosine_similarity", "per_sample_gradients", "select_params"]

CE_GRADIENTS = ("autograd", "stable")  # how the cross-entropy's per-sample gradient is evaluated


class PerSampleGradients(NamedTuple):
    grads: torch.Tensor  # [n, P]: unit rows in float32 (normalize=True), else the model's dtype
    norms: torch.Tensor  # [n] float64: each gradient's norm before normalizing
    losses: torch.Tensor  # [n] float64: each sample's loss
    names: list[str]  # the parameters, in the order of G's columns
    sizes: list[int]  # their element counts


def select_params(model: nn.Module, params: Sequence[str] | None) -> list[str]:
    """Parameter names of ``model`` selected by exact names or dotted prefixes, in the model's order."""
    names = [n for n, _ in model.named_parameters()]
    if params is None:
        return names
    chosen: set[str] = set()
    for p in [params] if isinstance(params, str) else params:
        hit = [n for n in names if n == p or n.startswith(p.rstrip(".") + ".")]
        if not hit:
            raise ConfigError(f"params={p!r}: not a parameter of {type(model).__name__}; allowed: names or "
                              f"dotted prefixes of {', '.join(names)}")
        chosen.update(hit)
    return [n for n in names if n in chosen]


class _Body(nn.Module):
    """A grokscope model's forward without its input checks (data-dependent control flow cannot run
    under vmap); the caller checks the inputs once with a plain forward pass first."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model._forward(x, None)


def prepare_inputs(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    if inputs.is_floating_point():  # real-valued features: in the model's dtype (as the trainer casts them)
        inputs = inputs.to(next(model.parameters()).dtype)
    return inputs


def sample_losses(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, loss: str, chunk: int) -> torch.Tensor:
    """Per-sample losses ``[n]`` float64 by checked forward passes (this also validates the inputs)."""
    from grokscope.train import per_example_loss

    out = []
    with torch.no_grad():
        for i in range(0, inputs.shape[0], chunk):
            logits = model(inputs[i : i + chunk])  # [b, C]
            out.append(per_example_loss(logits[None], labels[None, i : i + chunk], loss)[0].double())
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64)


def _ce_direction(z: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A surrogate with the cross-entropy's gradient direction, and the log of the factor between them.

    For logits ``z [C]`` and label ``y`` the cross-entropy's gradient w.r.t. the logits is
    ``q - e_y Σq`` with ``q_c = p_c`` (c ≠ y), ``q_y = 0``: that is ``s · (w - e_y)``, where
    ``s = Σq = 1 - p_y = sigmoid(logsumexp_{c≠y}(z_c - z_y))`` and ``w = softmax_{c≠y}(z_c)``. The
    surrogate ``Σ_c w_c (z_c - z_y)`` (``w`` held constant) has gradient ``w - e_y`` exactly, with no
    ``p_y - 1`` formed and nothing that underflows at any margin; ``log s`` (float64, aux output)
    restores the magnitude. vmap-safe: no data-dependent control flow.
    """
    y = y.reshape(1)
    d = z - z.gather(0, y)  # [C]: z_c - z_y (0 at c = y)
    wrong = d.masked_fill(torch.zeros_like(d, dtype=torch.bool).scatter(0, y, True), float("-inf"))  # [C]
    w = torch.softmax(wrong, 0).detach()  # [C]: 0 at c = y
    log_s = torch.nn.functional.logsigmoid(torch.logsumexp(wrong.detach().double(), 0))
    return (w * d).sum(), log_s


def per_sample_gradients(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, *,
                         params: Sequence[str] | None = None, loss: str = "ce", chunk: int = 128,
                         normalize: bool = True, stable_ce: bool = False) -> PerSampleGradients:
    """The gradient of each sample's loss w.r.t. the chosen parameters, each computed once.

    ``model`` maps ``inputs [batch, ...]`` to ``logits [batch, n_classes]`` (a grokscope reference
    model, or any ``nn.Module``); ``loss`` is one of ``grokscope.train.LOSSES``. ``vmap(grad(.))``
    runs over ``chunk`` samples at a time. ``normalize``: rows scaled to unit norm (zero rows stay
    zero) and stored in float32, as QDG uses them; else the raw gradients in the model's dtype.
    ``stable_ce``: for ``loss`` ``ce``/``ce64``, the gradient as ``(1 - p_y)`` times that of a surrogate
    with its exact direction (``_ce_direction``) instead of autograd of ``F.cross_entropy``, whose
    ``p_y - 1`` is rounding error for a confident sample; ``norms`` then come from ``log(1 - p_y)``
    in float64 and the unnormalized gradients are rescaled in the model's dtype (they may underflow).
    """
    from torch.func import functional_call, grad, vmap

    from grokscope.train import per_example_loss

    chunk = check_int(chunk, "chunk", 1)
    names = select_params(model, params)
    inputs, labels = prepare_inputs(model, inputs), torch.as_tensor(labels, dtype=torch.long)
    losses = sample_losses(model, inputs, labels, loss, chunk)  # checks the inputs before vmap skips the checks
    body = _Body(model) if hasattr(model, "_forward") else model
    pre = "model." if body is not model else ""
    state = {k: v.detach() for k, v in body.named_parameters()} | {k: v.detach() for k, v in body.named_buffers()}
    keys = [pre + n for n in names]
    frozen = {k: v for k, v in state.items() if k not in set(keys)}

    def one_loss(p: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = functional_call(body, frozen | p, (x.unsqueeze(0),))  # [1, C]
        if loss == "mse":  # per_example_loss's F.one_hot checks label values, which vmap cannot run
            target = torch.zeros_like(logits).scatter(-1, y.reshape(1, 1), 1.0)  # the same one-hot target
            return (logits - target).pow(2).mean()
        return per_example_loss(logits.unsqueeze(0), y.reshape(1, 1), loss).sum()

    def one_direction(p: dict, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = functional_call(body, frozen | p, (x.unsqueeze(0),))  # [1, C]
        return _ce_direction(logits[0], y)

    stable = stable_ce and loss in ("ce", "ce64")
    if stable:
        per_sample = vmap(grad(one_direction, has_aux=True), in_dims=(None, 0, 0))
    else:
        per_sample = vmap(grad(one_loss), in_dims=(None, 0, 0))
    sizes = [state[k].numel() for k in keys]
    n, P = inputs.shape[0], sum(sizes)
    dtype = torch.float32 if normalize else state[keys[0]].dtype
    G = torch.empty(n, P, dtype=dtype)  # [n, P]
    norms = torch.empty(n, dtype=torch.float64)
    p = {k: state[k] for k in keys}
    for i in range(0, n, chunk):
        g = per_sample(p, inputs[i : i + chunk], labels[i : i + chunk])  # {name: [b, *shape]}
        g, factor = g if stable else (g, None)  # factor: log(1 - p_y) [b] float64 (stable_ce)
        flat = [g[k].reshape(g[k].shape[0], -1) for k in keys]  # [b, size] each
        if factor is not None and not normalize:
            flat = [f * factor.exp().to(f.dtype)[:, None] for f in flat]
        # Two passes over the chunk's gradients (a norm, then one scaled copy into G), no [b, P] temporaries:
        # at 100k parameters this step is bound by memory bandwidth, not arithmetic.
        nrm = torch.stack([torch.linalg.vector_norm(f, dim=1) for f in flat]).norm(dim=0)  # [b]
        norms[i : i + chunk] = nrm.double() if factor is None or not normalize else nrm.double() * factor.exp()
        scale = torch.where(nrm > 0, 1.0 / nrm, torch.ones_like(nrm))[:, None] if normalize else None
        col = 0
        for f in flat:
            dst = G[i : i + f.shape[0], col : col + f.shape[1]]
            if not normalize:
                dst.copy_(f)
            elif f.dtype == dst.dtype:
                torch.mul(f, scale, out=dst)
            else:  # a float64 model: scale in float64, then round to G's float32
                dst.copy_(f * scale)
            col += f.shape[1]
    return PerSampleGradients(G, norms, losses, names, sizes)


def cosine_similarity(G: torch.Tensor, block: int = 1024) -> torch.Tensor:
    """``C = G Gᵀ`` ``[n, n]`` float32 for unit rows ``G [n, P]``, clipped to [-1, 1].

    Built from row blocks of the upper triangle (``C[i:j, i:] = G[i:j] G[i:]ᵀ``), each mirrored
    into the lower triangle, so the ``n²P`` product costs about half of a full ``G @ G.T``.
    """
    block = check_int(block, "block", 1)
    n = G.shape[0]
    G = G.to(torch.float32)
    C = torch.empty(n, n, dtype=torch.float32)
    for i in range(0, n, block):
        j = min(n, i + block)
        S = G[i:j] @ G[i:].T  # [j - i, n - i]
        C[i:j, i:] = S
        C[i:, i:j] = S.T
    return C.clamp_(-1.0, 1.0)
