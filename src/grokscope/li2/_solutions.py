"""Tian's table of solution types: train Li2 networks as CoGO did, factorize what they learn.

Tian 2024, "Composing Global Optimizers to Reasoning Tasks via Algebraic Objects in Neural Nets",
Table 2, reproduced in Tian's talk for d = 23, 71, 127 with q = 512 hidden nodes and weight decay
5e-5. The setting is the reference code's sweep (luckmatters ``cogo/sweep.log``:
``activation=sqr loss_func=mse num_epochs=10000 learning_rate=0.01 test_size=0.1 seed=1..5``,
read at epoch 9900): the Li2 network (``models/_li2.py``, σ = x², no biases, its init), the
centred MSE ``‖P₁^⊥(o − e_{a+b})‖²`` summed over classes and averaged over the training pairs
(the reference's ``mse``), full-batch Adam with coupled L2 decay (``torch.optim.Adam(weight_decay)``
= ``grokscope.train.adam``) on all three layers, 90% of the d² pairs for training. The seeds train
together as one ensemble (:func:`train_cogo`); the training pairs come from ``torch.randperm``
under each seed (the reference uses sklearn's split under the seed: same size, other pairs).

:func:`solution_table` then factorizes every member's per-frequency solutions
(``li2/_factorize.py``) and gives, per d, Tian's columns with mean ± standard error over seeds:
% of frequencies whose solution is not of order 4 or 6 (nor empty), % non-factorable among
order-4 and among order-6 ones, the mean factorization error of each order (×10⁻² in the
table), and the distribution of the factorable ones over ``SOLUTION_TYPES``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from grokscope._denormal import flushing_denormals
from grokscope._json import jsonable
from grokscope.validate import check_bool, check_int, check_number, require

from ._factorize import SOLUTION_TYPES, Factorization, factorize, per_frequency
from ._semiring import FourierNet

__all__ = ["TIAN_TABLE", "CogoRun", "SolutionTable", "solution_table", "summarize_solutions", "train_cogo"]

# Tian's table (q = 512, wd = 5e-5; mean ± s.e. over 5 seeds; errors ×10⁻²).
TIAN_TABLE = {
    23: {"pct_not_order_4_6": (0.0, 0.0), "pct_nonfact_4": (0.00, 0.00), "pct_nonfact_6": (5.71, 5.71),
         "error_4": (0.05, 0.01), "error_6": (4.80, 0.96), "nu_i*xi": (47.07, 1.88), "nu_i*syn_ab": (11.31, 1.76),
         "nu*syn": (39.80, 2.11), "other": (1.82, 1.82)},
    71: {"pct_not_order_4_6": (0.0, 0.0), "pct_nonfact_4": (0.00, 0.00), "pct_nonfact_6": (0.00, 0.00),
         "error_4": (0.03, 0.00), "error_6": (5.02, 0.25), "nu_i*xi": (72.57, 0.70), "nu_i*syn_ab": (4.00, 1.14),
         "nu*syn": (21.14, 2.14), "other": (2.29, 1.07)},
    127: {"pct_not_order_4_6": (0.0, 0.0), "pct_nonfact_4": (1.50, 0.92), "pct_nonfact_6": (0.00, 0.00),
          "error_4": (0.26, 0.14), "error_6": (0.93, 0.18), "nu_i*xi": (82.96, 0.39), "nu_i*syn_ab": (2.25, 0.64),
          "nu*syn": (14.13, 0.87), "other": (0.66, 0.66)},
}


@dataclass(frozen=True)
class CogoRun:
    """An ensemble trained by :func:`train_cogo`: settings, final metrics per seed, weights."""

    d: int
    hidden: int
    lr: float
    weight_decay: float
    steps: int
    train_fraction: float
    seeds: tuple[int, ...]
    train_loss: tuple[float, ...]  # per seed, centred MSE on the training pairs at the end
    test_acc: tuple[float, ...]
    seconds: float
    weights: tuple = field(repr=False)  # (W_a [model, d, q], W_b [model, d, q], V [model, q, d]) float64

    def nets(self) -> list[FourierNet]:
        w_a, w_b, v = self.weights
        return [FourierNet.from_weights(w_a[m], w_b[m], v[m]) for m in range(len(self.seeds))]

    def to_dict(self) -> dict:
        return jsonable({k: v for k, v in self.__dict__.items() if k != "weights"})


def _split(d: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    perm = torch.randperm(d * d, generator=torch.Generator().manual_seed(seed))
    n = round(fraction * d * d)
    return perm[:n], perm[n:]


def _centred_mse(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``[model]`` mean over rows of ``‖P₁^⊥(o − e_y)‖²`` (the reference code's ``mse``)."""
    err = logits - F.one_hot(labels, logits.shape[-1]).to(logits.dtype)
    err = err - err.mean(-1, keepdim=True)
    return err.pow(2).sum(-1).mean(-1)


def train_cogo(d: int, *, hidden: int = 512, lr: float = 0.01, weight_decay: float = 5e-5, steps: int = 10000,
               train_fraction: float = 0.9, seeds=(1, 2, 3, 4, 5), dtype=torch.float32,
               flush_denormal: bool = True) -> CogoRun:
    """Train one Li2 network per seed on ``a + b mod d`` as the reference's sweep did (module docstring).

    Defaults are Tian's table setting: q = 512 (``hidden``), wd 5e-5, Adam lr 0.01, 10,000
    full-batch steps, 90% of the pairs, seeds 1-5. ``flush_denormal`` (default on, as the general
    trainer's ``RunConfig.flush_denormal``) runs the training and the final evaluation with
    subnormal floats flushed to zero (``grokscope._denormal.flushing_denormals``; the mode found
    before the call is restored): weight decay fills the weights with them and they make each step
    several times slower (docs/li2-solutions.md, "Subnormal floats"); it changes only low bits.
    """
    d = check_int(d, "d", 3)
    hidden = check_int(hidden, "hidden", 1)
    lr = check_number(lr, "lr", lo=0.0, lo_open=True)
    weight_decay = check_number(weight_decay, "weight_decay", lo=0.0)
    steps = check_int(steps, "steps", 0)
    train_fraction = check_number(train_fraction, "train_fraction", lo=0.0, hi=1.0, lo_open=True)
    seeds = tuple(check_int(s, "seed", 0) for s in seeds)
    require(len(seeds) > 0, "seeds", seeds, "at least one seed")
    flush_denormal = check_bool(flush_denormal, "flush_denormal")
    with flushing_denormals(flush_denormal):
        return _train(d, hidden, lr, weight_decay, steps, train_fraction, seeds, dtype)


def _train(d: int, hidden: int, lr: float, weight_decay: float, steps: int, train_fraction: float,
           seeds: tuple[int, ...], dtype: torch.dtype) -> CogoRun:
    """:func:`train_cogo`'s body, on validated arguments."""
    from grokscope.models._li2 import Li2Config, Li2Ensemble
    from grokscope.train import adam

    ens = Li2Ensemble(Li2Config(p=d, d_hidden=hidden, act="x2"), n_models=len(seeds), dtype=dtype).init_(list(seeds))
    a = torch.arange(d).repeat_interleave(d)
    b = torch.arange(d).repeat(d)
    splits = [_split(d, train_fraction, s) for s in seeds]
    tr = torch.stack([s[0] for s in splits])  # [model, n_train]
    tokens = torch.stack([a[tr], b[tr]], -1)  # [model, n_train, 2]
    labels = (a[tr] + b[tr]) % d
    params = dict(ens.named_parameters())
    opt = adam(lr, weight_decay)
    state = opt.init(params)
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = _centred_mse(ens(tokens), labels).sum()  # members never couple
        grads = torch.autograd.grad(loss, list(params.values()))
        with torch.no_grad():
            state = opt.step(params, dict(zip(params, grads)), state)
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        train_loss = _centred_mse(ens(tokens), labels)
        te = [s[1] for s in splits]
        acc = []
        for m, idx in enumerate(te):
            if len(idx) == 0:
                acc.append(float("nan"))
                continue
            out = ens(torch.stack([a[idx], b[idx]], -1))[m]
            acc.append(float((out.argmax(-1) == (a[idx] + b[idx]) % d).double().mean()))
    weights = tuple(t.detach().to(torch.float64).clone() for t in (ens.mlp.W_in_a, ens.mlp.W_in_b, ens.mlp.W_out))
    return CogoRun(d=d, hidden=hidden, lr=lr, weight_decay=weight_decay, steps=steps, train_fraction=train_fraction,
                   seeds=seeds, train_loss=tuple(float(x) for x in train_loss), test_acc=tuple(acc),
                   seconds=seconds, weights=weights)


def summarize_solutions(net: FourierNet, threshold: float = 0.05) -> dict:
    """One network's per-frequency orders and factorizations, and its row of Tian's table."""
    n = (net.d - 1) // 2
    sols = per_frequency(net, threshold)
    orders = {k: f.shape[1] for k, f in sols.items()}
    facts: list[Factorization] = [factorize(f, k) for k, f in sols.items() if f.shape[1] in (4, 6)]
    n4 = sum(q == 4 for q in orders.values())
    n6 = sum(q == 6 for q in orders.values())
    n0 = sum(q == 0 for q in orders.values())
    ok = [f for f in facts if f.factorable]
    nan = float("nan")
    mean = lambda xs: sum(xs) / len(xs) if xs else nan
    row = {"pct_not_order_4_6": 100 * (n - n4 - n6 - n0) / n,
           "pct_nonfact_4": 100 * sum(not f.factorable for f in facts if f.order == 4) / n4 if n4 else nan,
           "pct_nonfact_6": 100 * sum(not f.factorable for f in facts if f.order == 6) / n6 if n6 else nan,
           "error_4": 100 * mean([f.error for f in ok if f.order == 4]),
           "error_6": 100 * mean([f.error for f in ok if f.order == 6])}
    for t in SOLUTION_TYPES:
        row[t] = 100 * sum(f.kind == t for f in ok) / len(ok) if ok else nan
    return {"orders": orders, "n4": n4, "n6": n6, "n0": n0, "row": row, "factorizations": facts}


@dataclass(frozen=True)
class SolutionTable:
    """Tian's table for one d: our mean ± s.e. over seeds beside Tian's (``to_dict()``)."""

    d: int
    run: CogoRun
    rows: tuple[dict, ...]  # per seed
    ours: dict  # column -> (mean, standard error)
    seed: dict | None  # column -> (mean, s.e.) from Tian's talk, when d is in its table
    details: tuple[dict, ...]  # per seed: orders per frequency and factorizations

    def to_dict(self) -> dict:
        return jsonable(self.__dict__)


def _mean_se(xs: list[float]) -> tuple[float, float]:
    xs = [x for x in xs if not math.isnan(x)]
    if not xs:
        return (float("nan"), float("nan"))
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return (m, float("nan"))
    var = sum((x - m) ** 2 for x in xs) / (len(xs) - 1)
    return (m, math.sqrt(var / len(xs)))


def solution_table(run: CogoRun, threshold: float = 0.05) -> SolutionTable:
    """Factorize every seed's solutions and aggregate Tian's columns (module docstring)."""
    summaries = [summarize_solutions(net, threshold) for net in run.nets()]
    rows = tuple(s["row"] for s in summaries)
    ours = {col: _mean_se([r[col] for r in rows]) for col in rows[0]}
    details = tuple({"seed": sd, "orders": s["orders"], "factorizations": s["factorizations"]}
                    for sd, s in zip(run.seeds, summaries))
    return SolutionTable(d=run.d, run=run, rows=rows, ours=ours, seed=TIAN_TABLE.get(run.d), details=details)
