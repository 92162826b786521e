"""Li2's Stage I (lazy learning): the ridge top layer and the gradient it sends back to the hidden layer.

Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking", §Stage I.
On n training rows with inputs ``X [n, 2M]`` (``[e_a; e_b]``), hidden features ``F = σ(XW) [n, K]``,
one-hot targets ``Y [n, M]`` and per-layer weight decay (η on V, η_W on W), the objective is

    J(W, V) = ½ ‖P₁^⊥ (Y − F V)‖²_F + (η/2) ‖V‖²_F + (η_W/2) ‖W‖²_F,   P₁^⊥ = I_n − 11ᵀ/n

(the mean-centred MSE: every column of the residual is centred over the rows). Writing
``Ỹ = P₁^⊥Y`` and ``F̃ = P₁^⊥F``, the top layer that minimizes J for fixed W is the ridge solution

    V_ridge = (F̃ᵀF̃ + ηI_K)⁻¹ F̃ᵀ Ỹ,

and the back-propagated gradient ``G_F = −∂J/∂F`` at V_ridge is (push-through identity)

    G_F = (Ỹ − F̃V_ridge) V_ridgeᵀ = η (F̃F̃ᵀ + ηI_n)⁻¹ Ỹ Ỹᵀ F̃ (F̃ᵀF̃ + ηI_K)⁻¹,

so hidden node j moves along ``−∂J/∂w_j = Xᵀ(σ'(Xw_j) ∘ G_F[:, j]) − η_W w_j``. Since V_ridge
minimizes J, ``∇_W min_V J = ∂J/∂W |_{V_ridge}`` (envelope theorem): training W under a ridge top
layer IS gradient descent on ``J*(W) = min_V J(W, V)``.

Two limits connect this to Stage II's energy ``Ê(w) = ½‖Ỹᵀσ(Xw)‖²`` (``EmpiricalEnergy`` with
``rescale=False``; ``ỸᵀF̃ = ỸᵀF`` because P₁^⊥ is a projector):

- exact as η → ∞: ``η G_F → ỸỸᵀF``, so ``η · (−∂J_data/∂w_j) → ∇Ê(w_j)`` with relative error O(‖F̃‖²/η);
- Tian's Lemma 1: when ``F̃ᵀF̃ ≈ n c₂ I`` and ``F̃F̃ᵀ ≈ K c₁ I`` (random W, large K),
  ``G_F ≈ η / ((K c₁ + η)(n c₂ + η)) · ỸỸᵀF``, each node ascending its own Ê — no feature learning
  at η = 0 when the ridge interpolates (K ≥ n), and G_F → 0 for large η or large K.

:func:`stage_one` measures all of this on given weights and returns JSON-able data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from grokscope._json import jsonable
from grokscope.validate import check_number, require

from ._empirical import _DERIVS, EmpiricalEnergy
from ._energy import ACTS

__all__ = ["StageOne", "backprop_gradient", "centre_rows", "hidden_features", "li2_objective", "ridge_top",
           "stage_one", "stage_one_grid"]


def centre_rows(x: Tensor) -> Tensor:
    """``P₁^⊥ x``: every column centred over the rows (axis -2), batched over leading axes."""
    return x - x.mean(-2, keepdim=True)


def hidden_features(w_a: Tensor, w_b: Tensor, a: Tensor, b: Tensor, act: str) -> tuple[Tensor, Tensor]:
    """``(Z, F = σ(Z))`` ``[..., n, K]`` with ``Z = X W = W_a[a] + W_b[b]`` for ``W_a, W_b [..., M, K]``."""
    z = w_a[..., a, :] + w_b[..., b, :]
    return z, ACTS[act](z)


def ridge_top(f: Tensor, y: Tensor, eta: float) -> Tensor:
    """``V_ridge = (F̃ᵀF̃ + ηI)⁻¹ F̃ᵀỸ`` ``[..., K, M]`` for ``F [..., n, K]``, ``Y [..., n, M]``; at η = 0
    the minimum-norm least-squares solution ``F̃⁺Ỹ`` (the ridge solution's η → 0 limit)."""
    return ridge_solve(centre_rows(f), centre_rows(y), eta)


def ridge_solve(ft: Tensor, yt: Tensor, eta: float, fty: Tensor | None = None) -> Tensor:
    """:func:`ridge_top` from rows already centred, ``F̃ [..., n, K]`` and ``Ỹ [..., n, M]`` (rows of zeros
    may pad them: they add nothing to either Gram matrix); ``fty`` is ``F̃ᵀỸ`` when the caller has it."""
    n, k = ft.shape[-2:]
    ftt = ft.transpose(-1, -2)
    if k <= n and fty is None:
        fty = ftt @ yt
    if eta == 0:  # F̃⁺ = (F̃ᵀF̃)⁺F̃ᵀ = F̃ᵀ(F̃F̃ᵀ)⁺ through the smaller Gram matrix (F̃ has rank <= n − 1)
        if k <= n:
            return torch.linalg.pinv(ftt @ ft, hermitian=True) @ fty
        return ftt @ (torch.linalg.pinv(ft @ ftt, hermitian=True) @ yt)
    if k <= n:  # [K, K] system
        return torch.linalg.solve(ftt @ ft + eta * torch.eye(k, dtype=ft.dtype), fty)
    # wider than tall: the same V by the push-through identity, F̃ᵀ(F̃F̃ᵀ + ηI_n)⁻¹Ỹ, an [n, n] system
    return ftt @ torch.linalg.solve(ft @ ftt + eta * torch.eye(n, dtype=ft.dtype), yt)


def backprop_gradient(f: Tensor, y: Tensor, eta: float) -> tuple[Tensor, Tensor]:
    """``(G_F [..., n, K], V_ridge [..., K, M])``: ``G_F = (Ỹ − F̃V)Vᵀ = −∂J/∂F`` at the ridge solution."""
    v = ridge_top(f, y, eta)
    residual = centre_rows(y) - centre_rows(f) @ v  # [..., n, M]
    return residual @ v.transpose(-1, -2), v


def li2_objective(w_a: Tensor, w_b: Tensor, v: Tensor, a: Tensor, b: Tensor, c: Tensor, act: str,
                  eta: float, eta_w: float = 0.0) -> Tensor:
    """``J = ½‖P₁^⊥(Y − σ(XW)V)‖² + η/2 ‖V‖² + η_W/2 (‖W_a‖² + ‖W_b‖²)`` (summed over any leading axis)."""
    _, f = hidden_features(w_a, w_b, a, b, act)
    y = torch.nn.functional.one_hot(c, v.shape[-1]).to(f.dtype)
    res = centre_rows(y - f @ v)
    return (0.5 * res.pow(2).sum() + 0.5 * eta * v.pow(2).sum()
            + 0.5 * eta_w * (w_a.pow(2).sum() + w_b.pow(2).sum()))


def _offdiag_ratio(gram: Tensor) -> float:
    """Mean |off-diagonal| over mean |diagonal| of a square matrix (0 for a multiple of I)."""
    k = gram.shape[-1]
    diag = gram.diagonal().abs().mean()
    off = (gram.abs().sum() - gram.diagonal().abs().sum()) / max(k * (k - 1), 1)
    return float(off / diag)


def _cos(x: Tensor, y: Tensor) -> float:
    return float((x * y).sum() / (x.norm() * y.norm()).clamp_min(1e-300))


@dataclass(frozen=True)
class StageOne:
    """Stage I measured on one network and training set (``to_dict()`` for JSON)."""

    n: int  # training rows
    k: int  # hidden nodes
    eta: float  # weight decay on V (the ridge regularizer)
    train_loss: float  # ½‖Ỹ − F̃V_ridge‖² / n at the ridge solution
    g_norm: float  # ‖G_F‖_F
    g_node_rms: float  # ‖G_F‖_F / √K: the typical back-propagated gradient one hidden node receives
    g_norm_rel: float  # ‖G_F‖_F / ‖ỸỸᵀF‖_F
    cos_energy: float  # cosine(G_F, ỸỸᵀF): 1 when every node follows its own energy gradient (Stage II)
    gram_k_offdiag: float  # F̃ᵀF̃ [K, K]: mean |off-diag| / mean |diag| (Lemma 1 assumes ≈ 0)
    gram_n_offdiag: float  # F̃F̃ᵀ [n, n]: the same
    lemma1_coef: float  # η / ((K c₁ + η)(n c₂ + η)), c₁ = tr F̃F̃ᵀ/(nK), c₂ = tr F̃ᵀF̃/(nK)
    lemma1_rel_err: float  # ‖G_F − coef·ỸỸᵀF‖ / ‖G_F‖
    energy_rel_err: float  # ‖η·(−∂J/∂W) − ∇Ê‖ / ‖∇Ê‖ over all nodes (→ 0 as η → ∞; NaN at η = 0)

    def to_dict(self) -> dict:
        """Plain JSON: NaN (``energy_rel_err`` at η = 0) becomes None."""
        return jsonable(asdict(self))


def stage_one(w_a: Tensor, w_b: Tensor, energy: EmpiricalEnergy, eta: float) -> StageOne:
    """Stage I quantities for one network ``W_a, W_b [M, K]`` on ``energy``'s training pairs, in float64.

    >>> from grokscope.groups import cyclic
    >>> from grokscope.li2 import EmpiricalEnergy, sample_pairs
    >>> g = cyclic(11)
    >>> e = EmpiricalEnergy(g, sample_pairs(g, 0.5, seed=0), rescale=False)
    >>> gen = torch.Generator().manual_seed(0)
    >>> w = torch.randn(2, 11, 64, generator=gen, dtype=torch.float64) / 11 ** 0.5
    >>> s = stage_one(w[0], w[1], e, eta=1e4)
    >>> s.cos_energy > 0.999, s.energy_rel_err < 1e-2  # η G_F → ỸỸᵀF: error O(1/η)
    (True, True)
    """
    eta = check_number(eta, "eta", lo=0.0)
    require(w_a.dim() == 2 and w_a.shape == w_b.shape and w_a.shape[0] == energy.m, "weights shape",
            tuple(w_a.shape), f"[M={energy.m}, K] for both W_a and W_b")
    require(energy.scale == 1.0, "energy", "rescaled", "an EmpiricalEnergy with rescale=False")
    w_a, w_b = w_a.detach().double(), w_b.detach().double()
    n, k = energy.n, w_a.shape[1]
    z, f = hidden_features(w_a, w_b, energy.a, energy.b, energy.act)  # [n, K]
    y = energy.targets()  # Ỹ [n, M]
    g_f, v = backprop_gradient(f, y, eta)
    ft = centre_rows(f)
    yyf = y @ (y.T @ f)  # ỸỸᵀF [n, K]
    gram_k, gram_n = ft.T @ ft, ft @ ft.T
    c1, c2 = float(gram_n.trace()) / (n * k), float(gram_k.trace()) / (n * k)
    coef = eta / ((k * c1 + eta) * (n * c2 + eta))
    # −∂J_data/∂W = Xᵀ(σ'(Z) ∘ G_F), split into the a and b blocks; ∇Ê per node from the closed form
    back = _DERIVS[energy.act](z) * g_f  # [n, K]
    gw = torch.cat([torch.zeros_like(w_a).index_add_(0, energy.a, back),
                    torch.zeros_like(w_b).index_add_(0, energy.b, back)], 0)  # [2M, K]
    _, ge = energy.value_and_grad(torch.cat([w_a, w_b], 0).T)  # [K, 2M]
    rel = float((eta * gw - ge.T).norm() / ge.norm()) if eta > 0 else float("nan")
    res = y - ft @ v
    return StageOne(n=n, k=k, eta=eta, train_loss=float(0.5 * res.pow(2).sum() / n), g_norm=float(g_f.norm()),
                    g_node_rms=float(g_f.norm()) / k ** 0.5,
                    g_norm_rel=float(g_f.norm() / yyf.norm()), cos_energy=_cos(g_f, yyf),
                    gram_k_offdiag=_offdiag_ratio(gram_k), gram_n_offdiag=_offdiag_ratio(gram_n),
                    lemma1_coef=coef, lemma1_rel_err=float((g_f - coef * yyf).norm() / g_f.norm().clamp_min(1e-300)),
                    energy_rel_err=rel)


def stage_one_grid(group, *, fraction: float = 0.5, hidden=(64, 512, 2048), etas=(0.0, 1e-2, 1.0, 1e2, 1e4),
                   act: str = "x2", seed: int = 0) -> list[dict]:
    """:func:`stage_one` at the Li2 network's random init (``grokscope.models`` ``li2``: W ~ N(0, 1/(3M)),
    the reference code's ``nn.Linear`` variance) for every width K in ``hidden`` and weight decay η
    in ``etas``, on ``round(fraction·M²)`` training pairs from ``seed``: Tian's Lemma 1 read off
    a table (G_F = 0 at η = 0 once K ≥ n; G_F → 0 as η or K grows; cos(G_F, ỸỸᵀF) → 1)."""
    from grokscope.models._li2 import Li2, Li2Config

    from ._empirical import sample_pairs

    energy = EmpiricalEnergy(group, sample_pairs(group, fraction, seed), act, rescale=False)
    rows = []
    for k in hidden:
        net = Li2(Li2Config(p=group.order, d_hidden=k, act=act), dtype=torch.float64).init_(seed=seed)
        for eta in etas:
            rows.append(stage_one(net.mlp.W_in_a, net.mlp.W_in_b, energy, eta).to_dict())
    return rows
