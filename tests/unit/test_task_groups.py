"""Tasks with named groups of rows and real-valued features, defined here in test code alone.

- Group metrics ``{split}_{loss,acc}/{group}`` equal a per-group mean computed by hand, one
  example at a time, from each member's own logits (the reference model or a plain matmul).
- A features-kind task (Gaussian blobs, float inputs ``[n_all, d_in]``) trains end to end with a
  toy linear ensemble; its step-0 metrics equal the hand computation and its loss goes down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

import importlib
from grokscope.config import LogConfig, OptimConfig, RunConfig, TrainConfig
from grokscope.models import build_model
from grokscope.seeding import generator, member_seed
from grokscope.store import Store
from grokscope.tasks import (ModularArithmetic, input_kind, make_task, register_task, split,
                             split_for_run, task_groups, unregister_task)
from grokscope.tasks._base import set_frozen
from grokscope.train import TrainData, train


# -- toy tasks ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class AddByParity(ModularArithmetic):
    """a + b mod p with two groups: rows whose label is even / odd (overlap-free), and one of a few rows."""

    def __post_init__(self):
        super().__post_init__()
        even = torch.nonzero(self.labels % 2 == 0).reshape(-1)
        odd = torch.nonzero(self.labels % 2 == 1).reshape(-1)
        set_frozen(self, groups={"even": even, "odd": odd, "first5": torch.arange(5)})


from toys import Blobs  # noqa: E402


class ToyLinear(torch.nn.Module):
    """An ensemble of linear classifiers on features: ``logits = x W[m] + b[m]``."""

    def __init__(self, n_members: int, d_in: int, n_classes: int, seeds, dtype=torch.float64):
        super().__init__()
        W = torch.stack([0.3 * torch.randn(d_in, n_classes, generator=generator(s), dtype=dtype) for s in seeds])
        self.W = torch.nn.Parameter(W)  # [model, d_in, n_classes]
        self.b = torch.nn.Parameter(torch.zeros(n_members, n_classes, dtype=dtype))  # [model, n_classes]

    dtype = property(lambda self: self.W.dtype)
    device = property(lambda self: self.W.device)

    def forward(self, x):  # [batch, d_in] shared or [model, batch, d_in] -> [model, batch, n_classes]
        assert x.is_floating_point() and x.dtype == self.W.dtype
        if x.dim() == 2:
            return torch.einsum("bi,mic->mbc", x, self.W) + self.b[:, None]
        return torch.einsum("mbi,mic->mbc", x, self.W) + self.b[:, None]


@pytest.fixture
def toy_kinds():
    register_task("add_by_parity", AddByParity)
    register_task("blobs", Blobs)
    yield
    unregister_task("add_by_parity")
    unregister_task("blobs")


# -- references ----------------------------------------------------------------------------------
def _hand_means(logits_of, labels, rows, n_classes, loss="ce"):
    """Mean loss and accuracy over ``rows``, one example at a time, or NaN without rows."""
    if not rows:
        return math.nan, math.nan
    losses, correct = [], []
    for r in rows:
        z = [float(v) for v in logits_of(r)]
        y = int(labels[r])
        if loss == "ce":
            losses.append(math.log(sum(math.exp(v) for v in z)) - z[y])
        else:
            losses.append(sum((z[c] - (c == y)) ** 2 for c in range(n_classes)) / n_classes)
        correct.append(float(max(range(n_classes), key=lambda c: z[c]) == y))
    return sum(losses) / len(losses), sum(correct) / len(correct)


def _check_group_metrics(metrics, at, task, sp, logits_of_member, loss="ce"):
    """Every ``{split}_{loss,acc}/{group}`` of every member against the hand means."""
    groups = {k: set(v.tolist()) for k, v in task_groups(task).items()}
    n_checked = 0
    for m in range(sp.n_members):
        rows = {k: set(v.tolist()) for k, v in sp.rows(m).items()}
        rows["all"] = set(range(task.n_all))
        for s, s_rows in rows.items():
            for g, g_rows in groups.items():
                want_loss, want_acc = _hand_means(lambda r: logits_of_member(m, r), task.labels,
                                                  sorted(s_rows & g_rows), task.n_classes, loss)
                for key, want in ((f"{s}_loss/{g}", want_loss), (f"{s}_acc/{g}", want_acc)):
                    got = float(metrics[key][at][m]) if at is not None else float(metrics[key][m])
                    if math.isnan(want):
                        assert math.isnan(got), key
                    else:
                        assert math.isclose(got, want, rel_tol=1e-10, abs_tol=1e-12), (key, m, got, want)
                    n_checked += 1
    return n_checked


# -- tests -----------------------------------------------------------------------------------
def test_task_contract_defaults_and_checks():
    plain = make_task("add", p=5)
    assert input_kind(plain) == "tokens" and task_groups(plain) == {} and plain.d_in is None
    blobs = Blobs()
    assert input_kind(blobs) == "features" and blobs.inputs.dtype == torch.float32 and blobs.d_in == 4
    assert sorted(task_groups(blobs)) == ["class0", "class1", "class2"]
    from grokscope.errors import ConfigError

    bad = ModularArithmetic(p=5)
    set_frozen(bad, groups={"a/b": [0]})
    with pytest.raises(ConfigError, match="group name 'a/b'"):
        task_groups(bad)
    set_frozen(bad, groups={"far": [25]})
    with pytest.raises(ConfigError, match=r"row ids must be in \[0, 25\)"):
        task_groups(bad)


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_group_metrics_of_token_task_equal_hand_means(toy_kinds, loss):
    task = make_task("add_by_parity", p=7)
    sp = split(task, 3, frac=[0.3, 0.6, 0.9], seeds=[1, 2, 3], unseen_count=4)
    cfg = RunConfig(n_members=3, dtype="float64", model={"arch": "pair_mlp", "d_embed": 6, "d_hidden": 10})
    ens = build_model(cfg, task, member_seeds=[5, 6, 7])
    out = TrainData(task, sp, "cpu", torch.float64).evaluate(ens, loss)
    refs = [ens.member(m) for m in range(3)]
    with torch.no_grad():
        logits = [ref(task.inputs).double() for ref in refs]  # each [n_all, n_classes], plain code
    n = _check_group_metrics(out, None, task, sp, lambda m, r: logits[m][r], loss)
    assert n == 3 * 4 * 3 * 2  # members x splits (train, test, unseen, all) x groups x (loss, acc)
    # A split with no rows in a group is NaN, never 0: "first5" holds 5 rows, some splits miss it.
    assert any(np.isnan(out["unseen_loss/first5"].numpy()))


def test_group_metrics_through_train_and_the_store(toy_kinds, store_path):
    store = Store(store_path)
    cfg = RunConfig.from_dict({"n_members": 2, "dtype": "float64", "member_seeds": [3, 4],
                               "task": {"kind": "add_by_parity", "p": 7, "train_frac": 0.5, "unseen_frac": 0.2},
                               "model": {"arch": "pair_mlp", "d_embed": 6, "d_hidden": 10},
                               "train": {"steps": 10}, "log": {"dense_until": 10, "n_checkpoints": 3}})
    res = train(cfg, store)
    steps, stored = store.metrics(res.run_id)
    expected = {f"{s}_{k}{g}" for s in ("train", "test", "unseen", "all") for k in ("loss", "acc")
                for g in ("", "/even", "/odd", "/first5")} | {"weight_norm"}
    assert set(stored) == set(res.metrics) == expected
    task = cfg.build_task()
    sp = split_for_run(task, cfg.task, cfg.seeds())
    ens = build_model(cfg, task)
    ens.load_state_dict(store.load_checkpoint(res.run_id, 0))
    with torch.no_grad():
        logits = ens(task.inputs).double()  # [model, n_all, n_classes]
    assert steps[0] == 0
    _check_group_metrics(stored, 0, task, sp, lambda m, r: logits[m, r])


def _toy_model(monkeypatch):
    loop = importlib.import_module("grokscope.train._loop")  # grokscope.train is also the function
    def build(cfg, task, member_seeds=None):
        return ToyLinear(cfg.n_members, task.d_in, task.n_classes, member_seeds)

    monkeypatch.setattr(loop, "build_model", build)


def test_a_features_task_trains_end_to_end(toy_kinds, monkeypatch, store_path):
    _toy_model(monkeypatch)
    store = Store(store_path)
    cfg = RunConfig(name="blobs", n_members=2, member_seeds=[8, 9], dtype="float64",
                    task={"kind": "blobs", "train_frac": 0.5, "unseen_count": 10}, model={"arch": "toy"},
                    train=TrainConfig(steps=60), optim=OptimConfig(lr=0.05, weight_decay=0.0),
                    log=LogConfig(dense_until=60, n_checkpoints=3))
    res = train(cfg, store)
    task = cfg.build_task()
    sp = split_for_run(task, cfg.task, cfg.seeds())
    assert sp.n_unseen.tolist() == [10, 10] and [m["n_unseen"] for m in res.members] == [10, 10]
    w0 = store.load_checkpoint(res.run_id, 0)
    x = task.inputs.double()
    # The initial weights are the toy model's own draw from stream 1 of each member seed.
    for m, s in enumerate(cfg.seeds()):
        torch.testing.assert_close(w0["W"][m], 0.3 * torch.randn(4, 3, generator=generator(member_seed(s, 1)),
                                                                  dtype=torch.float64), rtol=0, atol=0)
    # Step 0: every split and group metric from a plain matmul of the float features.
    _check_group_metrics(res.metrics, 0, task, sp, lambda m, r: x[r] @ w0["W"][m] + w0["b"][m])
    for m in range(2):
        for s, rows in sp.rows(m).items():
            want_loss, want_acc = _hand_means(lambda r: x[r] @ w0["W"][m] + w0["b"][m], task.labels,
                                              rows.tolist(), 3)
            assert math.isclose(res.metrics[f"{s}_loss"][0, m], want_loss, rel_tol=1e-10)
            assert math.isclose(res.metrics[f"{s}_acc"][0, m], want_acc, rel_tol=1e-10)
    assert (res.metrics["train_loss"][-1] < 0.5 * res.metrics["train_loss"][0]).all()  # it learns
    assert res.metrics["test_acc"][-1].min() > 0.9  # separable blobs: it generalizes too
