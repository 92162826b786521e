"""Local maxima of Li2's energy on the sphere, from many random starts at once.

Projected gradient ascent (Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning
Dynamics of Grokking", Theorem 1: independent feature learning IS gradient ascent of E): every
start ``w ∈ R^{2M}``, drawn uniformly on the unit sphere, takes the steps

    w ← normalize(w + lr · g_⊥ / ‖g‖),    g = ∇E(w),  g_⊥ = g − (g·w) w,

batched as ``[starts, 2M]``. Dividing by ``‖g‖`` makes the step scale-free (for σ = x², E is a
quartic form and ``‖g‖ ≈ 4E`` near a maximum; measured on Z_71, ``lr = 1`` stalls in a 2-cycle
at relative energy 1e-3 below the maximum while 0.8 and 0.5 converge in 14 and 21 steps;
early, when E is small, the steps are large, as in the shifted power method of Kolda & Mayo 2011,
"Shifted power method for computing tensor eigenpairs"). A start has converged when
``‖g_⊥‖/‖g‖ < tol``; the loop stops when all have, or after ``max_steps``.

Maxima are deduplicated up to the group's symmetries: each final ``w = [u; v]`` is labelled by the
real isotypic component holding most of ``‖u‖² + ‖v‖²`` (its irrep, or complex pair of irreps),
and the starts of one label are split into classes of equal energy (relative gap ``1e-3``).
Theorem 2's ``E*`` is given beside each class, in this package's normalization and Tian's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import Tensor

from grokscope.groups import FiniteGroup, irrep_shares
from grokscope.validate import check_int, check_number, check_seed

from ._energy import Energy, predicted_maximum

__all__ = ["NORMALIZATION", "AscentResult", "Maximum", "ascend", "random_sphere"]

NORMALIZATION = ("E(w) = 1/2 ||Y~^T sigma(X w)||^2 over all M^2 pairs; X rows [e_a; e_b] with entries 1; "
                 "Y~ = P1perp Y (one-hot targets, rows centred); ||w||_2 = 1 with w = [u; v]. "
                 "Theorem 2's E* is then 4x Tian's: M/(2 d_k) real irreps, M/(4 d_k) complex pairs.")
_GAP = 1e-3  # relative energy gap that separates two classes of maxima with the same irrep label


@dataclass(frozen=True)
class Maximum:
    """One class of local maxima: same irrep component, same energy (to ``_GAP``)."""

    label: str  # the isotypic component: "k=±5", "k=36", "ρ3", ...
    dim: int  # d_k
    kind: str  # "real", "complex" (a conjugate pair), "quaternionic"
    energy: float  # mean over the class's starts
    energy_min: float
    energy_max: float
    count: int  # starts that ended here
    purity_min: float  # smallest share of ‖w‖² in the label's component over the class
    predicted: float | None  # Theorem 2's E* in this normalization (None: not covered)
    predicted_seed: float | None  # the same in Tian's normalization (= predicted / 4)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class AscentResult:
    """What :func:`ascend` found; ``to_dict()`` is what ``grokscope li2 energy --json`` prints."""

    group: str
    order: int
    act: str
    starts: int
    seed: int
    lr: float
    steps: int  # iterations run
    converged: int  # starts with ‖g_⊥‖/‖g‖ < tol at the end
    tol: float
    seconds: float
    maxima: tuple[Maximum, ...]  # by energy, highest first
    energies: Tensor = field(repr=False)  # [starts] final E
    labels: Tensor = field(repr=False)  # [starts] index into component_labels
    component_labels: tuple[str, ...] = field(repr=False)
    w: Tensor = field(repr=False)  # [starts, 2M] final points

    def to_dict(self) -> dict:
        return {"group": self.group, "order": self.order, "act": self.act, "starts": self.starts, "seed": self.seed,
                "lr": self.lr, "steps": self.steps, "converged": self.converged, "tol": self.tol,
                "seconds": round(self.seconds, 3), "normalization": NORMALIZATION,
                "maxima": [m.to_dict() for m in self.maxima]}


def random_sphere(starts: int, dim: int, seed: int, dtype=torch.float32) -> Tensor:
    """``[starts, dim]`` uniform on the unit sphere, from ``seed`` alone."""
    gen = torch.Generator().manual_seed(check_seed(seed))
    w = torch.randn(starts, dim, generator=gen, dtype=torch.float64)
    return (w / w.norm(dim=1, keepdim=True)).to(dtype)


def ascend(group: FiniteGroup, *, starts: int = 1000, act: str = "x2", seed: int = 0, lr: float = 0.5,
           max_steps: int = 400, tol: float = 1e-3, dtype=torch.float32, w0: Tensor | None = None) -> AscentResult:
    """Projected gradient ascent of E on the sphere from ``starts`` random points; the maxima found.

    >>> from grokscope.groups import parse_group
    >>> r = ascend(parse_group("cyclic:9"), starts=64, seed=0)
    >>> [(m.label, round(m.energy, 4), m.predicted, m.predicted_seed) for m in r.maxima]  # M/4: Tian's M/16, ×4
    [('k=±1', 2.25, 2.25, 0.5625), ('k=±2', 2.25, 2.25, 0.5625), ('k=±3', 2.25, 2.25, 0.5625), ('k=±4', 2.25, 2.25, 0.5625)]
    """
    starts = check_int(starts, "starts", 1, 10**6)
    lr = check_number(lr, "lr", lo=0.0, hi=2.0, lo_open=True)
    max_steps = check_int(max_steps, "max_steps", 1)
    tol = check_number(tol, "tol", lo=0.0, lo_open=True)
    energy = Energy(group, act, dtype=dtype)
    m = group.order
    w = random_sphere(starts, 2 * m, seed, dtype) if w0 is None else w0.to(dtype)
    t0 = time.perf_counter()
    step = 0
    for step in range(1, max_steps + 1):
        _, g = energy.value_and_grad(w)  # [starts], [starts, 2M]
        g_tan = g - (g * w).sum(1, keepdim=True) * w
        g_norm = g.norm(dim=1, keepdim=True).clamp_min(torch.finfo(dtype).tiny)
        rel = g_tan.norm(dim=1, keepdim=True) / g_norm  # [starts, 1]
        if bool((rel < tol).all()):
            break
        w = w + lr * g_tan / g_norm
        w = w / w.norm(dim=1, keepdim=True)
    seconds = time.perf_counter() - t0
    e, g = energy.value_and_grad(w)
    g_tan = g - (g * w).sum(1, keepdim=True) * w
    converged = int((g_tan.norm(dim=1) < tol * g.norm(dim=1).clamp_min(torch.finfo(dtype).tiny)).sum())
    return _summarize(group, act, seed, lr, step, converged, tol, seconds, w, e)


def _summarize(group, act, seed, lr, steps, converged, tol, seconds, w: Tensor, e: Tensor) -> AscentResult:
    m = group.order
    uv = torch.stack([w[:, :m], w[:, m:]], -1)  # [starts, M, 2]: u and v as two columns
    sh = irrep_shares(group, uv)  # shares [starts, c] of ‖u‖² + ‖v‖²
    purity, label = sh.shares.max(1)
    e64 = e.double()
    maxima = []
    for c in torch.unique(label).tolist():
        idx = torch.nonzero(label == c).reshape(-1)
        ec = e64[idx]
        order = torch.argsort(ec)
        split = torch.nonzero(ec[order][1:] - ec[order][:-1] > _GAP * ec[order][1:].abs().clamp_min(1e-12)).reshape(-1) + 1
        for part in torch.tensor_split(order, split):
            ep, pp = ec[part], purity[idx[part]]
            pred = predicted_maximum(m, sh.dims[c], sh.kinds[c])
            maxima.append((c, Maximum(label=sh.labels[c], dim=sh.dims[c], kind=sh.kinds[c], energy=float(ep.mean()),
                                  energy_min=float(ep.min()), energy_max=float(ep.max()), count=len(part),
                                  purity_min=float(pp.min()), predicted=None if act != "x2" else pred,
                                  predicted_seed=None if act != "x2" or pred is None else pred / 4.0)))
    maxima.sort(key=lambda cm: (-round(cm[1].energy, 4), cm[0]))  # highest first; ties in irrep order
    maxima = [mx for _, mx in maxima]
    return AscentResult(group=group.name, order=m, act=act, starts=w.shape[0], seed=seed, lr=lr, steps=steps,
                        converged=converged, tol=tol, seconds=seconds, maxima=tuple(maxima), energies=e,
                        labels=label, component_labels=sh.labels, w=w)
