"""Li2 training as an ensemble: :func:`train_ridge_adam` for many members at once, each its own
training subset and init, the top layer V at its ridge solution per member every step.

Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking", trained
the reference code's way (facebookresearch/luckmatters, ``ssl/real-dataset/cogo``, option
``set_weight_reg``; see ``_adam.py``). One member = ``(fraction, seed, init_seed)``: its training
pairs are ``sample_pairs(group, fraction, seed)`` (nested prefixes of one random order per seed),
its W starts at the ``li2`` model's init from ``init_seed``. Per step, for every member m at once:

    V_m ← (F̃_mᵀF̃_m + ηI)⁻¹F̃_mᵀỸ_m              (a batched solve; [K, K], or [n, n] when K > n)
    g_m ← (2/n_m) ∂J_m/∂W_m |_{V_m}               (the mean-centred MSE of ``li2_objective``)
    W_m ← Adam(W_m, g_m, lr, weight_decay)        (``grokscope.train.adam``: per-member state, L2 decay)

**Different training sizes are padded**: every member's rows are padded to the largest n with
rows of weight 0 (a row mask), so the centring, the Gram matrices, the residual and the gradient
see only the member's own n_m rows; a padded row contributes exactly 0. The padding is trimmed to
the largest n still training whenever members leave.

**Leaving early** (``leave_window``): a member whose test accuracy has been ≥ 0.99 (``THRESHOLD``)
at every evaluation for ``leave_window`` steps (``DecidedRule(window, anchor="hold")`` of
``grokscope.train``) has generalized and leaves the batch; the others go on unchanged (members
never couple: tested). Its W and accuracies are kept as they were when it left.

Held-out accuracy is on every pair not in the member's training set, with the intercept the
centring implies, ``ŷ = ȳ + (σ(xW) − f̄)V`` (as ``_adam.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from grokscope._json import jsonable
from grokscope.analysis._phases import update_first_crossing
from grokscope.groups import FiniteGroup
from grokscope.train import DecidedRule, adam
from grokscope.train._decided import update_hold
from grokscope.validate import check_int, check_number, check_seed, require

from ._adam import _check_settings
from ._empirical import _DERIVS, sample_pairs
from ._energy import ACTS
from ._stage1 import ridge_solve

__all__ = ["EnsembleRun", "Member", "train_ridge_adam_ensemble"]


@dataclass(frozen=True)
class Member:
    """One member: its training fraction, the seed of its pairs, the seed of its init (default ``seed``,
    as :func:`train_ridge_adam`, which uses one seed for both)."""

    fraction: float
    seed: int
    init_seed: int | None = None

    @property
    def init(self) -> int:
        return self.seed if self.init_seed is None else self.init_seed


@dataclass(frozen=True)
class EnsembleRun:
    """Per member: ``n_train``, ``gen_step`` (first evaluation with test accuracy ≥ 0.99, or None),
    ``left_step`` (when it left the batch, or None), ``steps_trained``, the final ``train_acc``,
    ``test_acc``, ``test_acc_max``, and ``records`` ``(step, train_acc, test_acc)`` per evaluation."""

    group: str
    order: int
    hidden: int
    act: str
    eta: float
    lr: float
    weight_decay: float
    steps: int
    eval_every: int
    leave_window: int | None
    dtype: str
    members: tuple[dict, ...]
    member_steps: int  # Σ steps trained over members
    member_steps_full: int  # members × steps: the cost without leaving early
    seconds: float
    weights: Tensor | None = field(repr=False, default=None)  # [model, 2M, K] final (or at leaving) W

    def to_dict(self) -> dict:
        return jsonable({k: v for k, v in self.__dict__.items() if k != "weights"})


def _masked_centre(x: Tensor, mask: Tensor | None, n: Tensor) -> tuple[Tensor, Tensor]:
    """``(x̃, x̄)``: columns of ``x [model, rows, d]`` centred over each member's real rows
    (``mask [model, rows, 1]``, ``n [model, 1, 1]``), padded rows set to 0; ``x̄ [model, 1, d]``.
    ``mask=None``: no member is padded (every row is real)."""
    if mask is None:
        mean = x.mean(1, keepdim=True)
        return x - mean, mean
    mean = (x * mask).sum(1, keepdim=True) / n
    return (x - mean) * mask, mean


def _scatter_classes(x: Tensor, c: Tensor, m: int) -> Tensor:
    """``Yᵀx [model, M, d]`` for ``x [model, rows, d]`` and classes ``c [model, rows]`` (Y one-hot): row i of
    x added into class c_i, per member."""
    n_mod, _, d = x.shape
    off = (torch.arange(n_mod) * m)[:, None]
    out = torch.zeros(n_mod * m, d, dtype=x.dtype)
    return out.index_add_(0, (c + off).reshape(-1), x.reshape(-1, d)).reshape(n_mod, m, d)


def _gather_rows(x: Tensor, idx: Tensor) -> Tensor:
    """``x[i, idx[i]]`` ``[model, rows, d]`` for ``x [model, r, d]``, ``idx [model, rows]``."""
    n_mod, r, d = x.shape
    flat = (idx + (torch.arange(n_mod) * r)[:, None]).reshape(-1)
    return x.reshape(n_mod * r, d).index_select(0, flat).reshape(n_mod, -1, d)


def _init_weights(group: FiniteGroup, members: list[Member], hidden: int, act: str, dtype) -> Tensor:
    """``[model, 2M, K]``: each member's ``li2`` init (``W ~ N(0, 1/(3M))``) from its init seed, in float64."""
    from grokscope.models._li2 import Li2, Li2Config

    cfg = Li2Config(p=group.order, d_hidden=hidden, act=act)
    ws = []
    for mem in members:
        net = Li2(cfg, dtype=torch.float64).init_(seed=mem.init)
        ws.append(torch.cat([net.mlp.W_in_a.detach(), net.mlp.W_in_b.detach()], 0))
    return torch.stack(ws).to(dtype)


def _accuracies(w: Tensor, v: Tensor, f_bar: Tensor, y_bar: Tensor, is_train: Tensor, group: FiniteGroup,
                act: str) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out accuracy ``[model]`` from predictions on all M² pairs, one member at a time."""
    m = group.order
    labels = group.table.reshape(-1)  # [M²], row a·M + b
    train, test = [], []
    for i in range(w.shape[0]):
        f = ACTS[act](w[i, :m][:, None, :] + w[i, m:][None, :, :]).reshape(m * m, -1)  # [M², K]
        right = ((y_bar[i] + (f - f_bar[i]) @ v[i]).argmax(1) == labels)  # [M²]
        tr = is_train[i]
        train.append(float(right[tr].double().mean()))
        test.append(float(right[~tr].double().mean()) if bool((~tr).any()) else float("nan"))
    return np.array(train), np.array(test)


def train_ridge_adam_ensemble(group: FiniteGroup, members: list[Member], *, hidden: int = 512, act: str = "x2",
                              eta: float = 2e-4, lr: float = 1e-3, weight_decay: float = 1e-4, steps: int = 1000,
                              eval_every: int = 50, leave_window: int | None = None,
                              dtype: torch.dtype = torch.float64, keep_weights: bool = False) -> EnsembleRun:
    """Train every member of ``members`` as :func:`train_ridge_adam` would alone (defaults as there:
    Tian's Figure 3 σ = x², η = 2e-4; the reference's K = 512, lr 1e-3, weight decay 1e-4), batched.

    Evaluations at step 0, every ``eval_every`` steps and at ``steps`` (before that step's update,
    as ``train_ridge_adam``). ``leave_window``: members holding test accuracy ≥ 0.99 for that many
    steps leave (None: nobody leaves). ``keep_weights``: return the final W ``[model, 2M, K]``.

    >>> from grokscope.groups import cyclic
    >>> run = train_ridge_adam_ensemble(cyclic(7), [Member(0.6, 0), Member(0.8, 1)], hidden=16, steps=4,
    ...                                 eval_every=2)
    >>> [m["n_train"] for m in run.members], [len(m["records"]) for m in run.members]
    ([29, 39], [3, 3])
    """
    act, eta, lr, weight_decay, steps, eval_every, hidden = _check_settings(act, eta, lr, weight_decay, steps,
                                                                            eval_every, hidden)
    require(len(members) >= 1, "members", list(members), "at least one Member(fraction, seed)")
    require(dtype in (torch.float32, torch.float64), "dtype", dtype, "torch.float32 or torch.float64")
    if leave_window is not None:
        leave_window = check_int(leave_window, "leave_window", 0)
    for mem in members:
        check_number(mem.fraction, "fraction", lo=0.0, hi=1.0, lo_open=True)
        check_seed(mem.seed), check_seed(mem.init)
    m, n_mod = group.order, len(members)

    # data: each member's pairs, padded to the largest n with weight-0 rows
    pairs = [sample_pairs(group, mem.fraction, mem.seed) for mem in members]
    n_train = torch.tensor([len(p) for p in pairs])
    n_max = int(n_train.max())
    a = torch.zeros(n_mod, n_max, dtype=torch.long)
    b = torch.zeros_like(a)
    mask = torch.zeros(n_mod, n_max, 1, dtype=dtype)  # [model, rows, 1]
    is_train = torch.zeros(n_mod, m * m, dtype=torch.bool)  # [model, M²]
    for i, p in enumerate(pairs):
        a[i, : len(p)], b[i, : len(p)] = p[:, 0], p[:, 1]
        mask[i, : len(p)] = 1.0
        is_train[i, p[:, 0] * m + p[:, 1]] = True
    c = group.table[a, b]  # [model, rows]
    y_bar = torch.stack([torch.bincount(group.table[p[:, 0], p[:, 1]], minlength=m).double() / len(p) for p in pairs]
                        ).to(dtype)[:, None, :]  # ȳ: each member's class frequencies [model, 1, M]
    y_tilde = (F.one_hot(c, m).to(dtype) - y_bar) * mask  # Ỹ = P₁^⊥Y on the real rows, 0 on padding [model, rows, M]

    w = _init_weights(group, members, hidden, act, dtype)  # [model, 2M, K]
    params = {"W": w}
    opt = adam(lr, weight_decay=weight_decay)
    state = opt.init(params)
    rule = DecidedRule(window=leave_window or 0, frac=0.0, anchor="hold")
    gen_step = np.full(n_mod, -1)
    held = np.full(n_mod, -1)
    left = np.full(n_mod, -1)
    last_train, last_test, best_test = np.full(n_mod, np.nan), np.full(n_mod, np.nan), np.zeros(n_mod)
    records: list[list] = [[] for _ in range(n_mod)]
    final_w = w.clone() if keep_weights else None
    active = torch.arange(n_mod)  # members still training, in batch order
    steps_trained = np.zeros(n_mod, dtype=np.int64)
    t0 = time.perf_counter()

    def forward():
        """This step's features and ridge solution for the members still training (padding trimmed to them)."""
        w = params["W"]
        rows = int(n_train[active].max())
        a_, b_, c_, mask_ = a[active, :rows], b[active, :rows], c[active, :rows], mask[active, :rows]
        n_, y_bar_ = n_train[active].to(dtype)[:, None, None], y_bar[active]  # [model, 1, 1], [model, 1, M]
        w2 = w.reshape(-1, w.shape[-1])  # [model·2M, K]
        off = (torch.arange(len(active)) * 2 * m)[:, None]
        z = (w2.index_select(0, (a_ + off).reshape(-1)) + w2.index_select(0, (b_ + m + off).reshape(-1))
             ).reshape(len(active), rows, -1)  # [model, rows, K]: W_a[a] + W_b[b]
        padded = bool((n_train[active] < rows).any())
        ft, f_bar = _masked_centre(ACTS[act](z), mask_ if padded else None, n_)  # F̃, f̄
        fty = _scatter_classes(ft, c_, m).transpose(-1, -2)  # F̃ᵀỸ = F̃ᵀY: F̃'s columns sum to 0 [model, K, M]
        yt = y_tilde[active, :rows]  # Ỹ [model, rows, M]
        v = ridge_solve(ft, yt, eta, fty)  # [model, K, M]
        return w, a_, b_, c_, n_, y_bar_, off, z, ft, f_bar, yt, v

    for step in range(steps + 1):
        w, a_, b_, _, n_, y_bar_, off, z, ft, f_bar, yt, v = forward()
        if step % eval_every == 0 or step == steps:
            tr, te = _accuracies(w, v, f_bar[:, 0], y_bar_[:, 0], is_train[active], group, act)
            idx = active.numpy()
            last_train[idx], last_test[idx] = tr, te
            best_test[idx] = np.fmax(best_test[idx], te)
            for j, i in enumerate(idx):
                records[i].append((step, float(tr[j]), float(te[j])))
            sub = np.zeros(n_mod, dtype=bool)
            sub[idx] = True
            full_te = np.full(n_mod, np.nan)
            full_te[idx] = te
            update_first_crossing(gen_step, step, full_te)
            update_hold(held, step, full_te, sub)
            if leave_window is not None and step < steps:
                done = sub & rule.decided(step, gen_step, held, np.full(n_mod, -1))
                if done.any():
                    keep = torch.from_numpy(~done[idx])
                    left[done] = step
                    if keep_weights:
                        final_w[active[~keep]] = w[~keep]
                    if not bool(keep.any()):
                        active = active[:0]
                        break
                    kept = torch.nonzero(keep).reshape(-1)
                    opt.retain_members(kept)
                    state = opt.select_state(state, kept)
                    params = {"W": w[kept].contiguous()}
                    active = active[kept]
                    w, a_, b_, _, n_, y_bar_, off, z, ft, f_bar, yt, v = forward()  # the survivors' values
        if step == steps:
            break
        residual = yt - ft @ v  # Ỹ − F̃V [model, rows, M], 0 on padded rows
        g_f = residual @ v.transpose(-1, -2).contiguous()  # G_F = −∂J/∂F [model, rows, K]
        back = (_DERIVS[act](z) * g_f).reshape(-1, g_f.shape[-1])  # −∂J/∂Z
        grad = torch.zeros(len(active) * 2 * m, g_f.shape[-1], dtype=dtype)
        grad.index_add_(0, (a_ + off).reshape(-1), back).index_add_(0, (b_ + m + off).reshape(-1), back)
        grad = grad.reshape(len(active), 2 * m, -1) * (-2.0 / n_)  # ∂(mean MSE)/∂W [model, 2M, K]
        state = opt.step(params, {"W": grad}, state)
        steps_trained[active.numpy()] += 1
    if keep_weights and len(active):
        final_w[active] = params["W"]
    out = []
    for i, mem in enumerate(members):
        out.append({"fraction": mem.fraction, "seed": mem.seed, "init_seed": mem.init, "n_train": int(n_train[i]),
                    "gen_step": int(gen_step[i]) if gen_step[i] >= 0 else None,
                    "left_step": int(left[i]) if left[i] >= 0 else None, "steps_trained": int(steps_trained[i]),
                    "train_acc": float(last_train[i]), "test_acc": float(last_test[i]),
                    "test_acc_max": float(best_test[i]), "records": tuple(records[i])})
    return EnsembleRun(group=group.name, order=m, hidden=hidden, act=act, eta=eta, lr=lr, weight_decay=weight_decay,
                       steps=steps, eval_every=eval_every, leave_window=leave_window, dtype=str(dtype).split(".")[-1],
                       members=tuple(out), member_steps=int(steps_trained.sum()), member_steps_full=n_mod * steps,
                       seconds=time.perf_counter() - t0, weights=final_w)
