"""The training loop, against trusted references.

- A member of an ensemble trains like a one-member run with the same member seed (the members
  never couple: the loss is a sum of per-member means), with per-member hyperparameters too.
- A diverging member is frozen and reported; the others' numbers do not change.
- Metrics at step 0 equal a direct computation with the reference model ``ens.member(i)`` and
  explicit loops; the first Adam(W) step with L1/L2 decay equals its closed form.
- Minibatches are reproducible and drawn only from each member's own training rows; per-member
  data sizes give the right ``n_train``; Ctrl-C (or a stop before any flush) then resume gives
  the uninterrupted run's numbers exactly.
Runs are tiny (a + b mod 7, 49 inputs; a 6-bit parity) and in float64, so that "equal" can
mean equal to ~1e-10 where batched and unbatched kernels sum in different orders.
"""

from __future__ import annotations

import math
import os
import signal

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grokscope.analysis._phases import first_step_at_or_above
from grokscope.config import RunConfig, load_config
from grokscope.models import build_model
from grokscope.seeding import generator, member_seed
from grokscope.store import Store
from grokscope.tasks import make_task, split
from grokscope.train import METRICS, TrainData, train

STEPS = 40
BASE = ["task.p=7", "task.train_frac=0.5", "dtype=float64", f"train.steps={STEPS}", "model.d_embed=8",
        "model.d_hidden=16", "optim.lr=1e-2", "optim.weight_decay=1.0", "optim.warmup_steps=5",
        f"log.dense_until={STEPS}", "log.n_checkpoints=4"]
TOL = dict(rtol=1e-9, atol=1e-11)


def _cfg(*overrides: str) -> RunConfig:
    return load_config(overrides=[*BASE, *overrides])


def _seeds(seeds: list[int]) -> list[str]:
    return [f"n_members={len(seeds)}", f"member_seeds={seeds}"]


def _final_weights(store: Store, result) -> dict[str, torch.Tensor]:
    return store.load_checkpoint(result.run_id, int(result.steps[-1]))


def _assert_member_equal(ens_result, i, single_result, ens_w, single_w):
    """Member ``i`` of an ensemble run equals member 0 of a one-member run: metrics and weights."""
    np.testing.assert_array_equal(ens_result.steps, single_result.steps)
    for k in METRICS:
        np.testing.assert_allclose(ens_result.metrics[k][:, i], single_result.metrics[k][:, 0], **TOL, err_msg=k)
    for k in single_w:
        torch.testing.assert_close(ens_w[k][i], single_w[k][0], **TOL, msg=k)
    for key in ("mem_step", "gen_step", "phase", "n_train", "seed"):
        assert ens_result.members[i][key] == single_result.members[0][key], key


# -- (a), (b): members never couple ------------------------------------------------------------
def test_an_ensemble_member_trains_like_a_single_member_run(store_path):
    store = Store(store_path)
    seeds = [11, 22, 33]
    ens = train(_cfg(*_seeds(seeds)), store)
    w = _final_weights(store, ens)
    assert ens.metrics["train_acc"].shape == (STEPS + 1, 3)
    for i in (0, 2):
        single = train(_cfg(*_seeds([seeds[i]])), store)
        _assert_member_equal(ens, i, single, w, _final_weights(store, single))
    # Different members really are different models (the comparison above could not pass by accident).
    assert not np.allclose(ens.metrics["train_loss"][:, 0], ens.metrics["train_loss"][:, 2])


def test_per_member_hyperparameters_equal_separate_runs(store_path):
    store = Store(store_path)
    lr, wd, scale, frac = [1e-2, 3e-3], [0.1, 2.0], [1.0, 2.0], [0.4, 0.8]
    ens = train(_cfg(*_seeds([11, 22]), f"optim.lr={lr}", f"optim.weight_decay={wd}",
                     f"model.init_scale={scale}", f"task.train_frac={frac}"), store)
    w = _final_weights(store, ens)
    for i in range(2):
        single = train(_cfg(*_seeds([[11, 22][i]]), f"optim.lr={lr[i]}", f"optim.weight_decay={wd[i]}",
                            f"model.init_scale={scale[i]}", f"task.train_frac={frac[i]}"), store)
        _assert_member_equal(ens, i, single, w, _final_weights(store, single))


def test_an_ensemble_member_trains_like_a_single_member_run_with_minibatches(store_path):
    store = Store(store_path)
    ens = train(_cfg(*_seeds([11, 22]), "train.batch_size=8"), store)
    single = train(_cfg(*_seeds([22]), "train.batch_size=8"), store)
    _assert_member_equal(ens, 1, single, _final_weights(store, ens), _final_weights(store, single))


# -- (c): divergence ------------------------------------------------------------------------
def test_a_diverging_member_is_frozen_and_the_others_do_not_notice(store_path):
    store = Store(store_path)
    # lr 1e100: the first Adam steps move weights by ~1e99, the 4-matrix product overflows float64.
    cfg = _cfg(*_seeds([11, 22, 33]), "optim.lr=[1e-2, 1e100, 1e-2]", f"log.n_checkpoints={STEPS + 1}")
    res = train(cfg, store)
    bad = res.members[1]
    assert bad["diverged"] and bad["phase"] == "diverged" and 0 < bad["diverged_step"] < STEPS
    assert not res.members[0]["diverged"] and not res.members[2]["diverged"]
    assert res.summary["n_diverged"] == 1
    assert [m["diverged"] for m in store.members(res.run_id)] == [False, True, False]
    # Frozen: the weights that gave a non-finite loss are never updated again.
    d = bad["diverged_step"]
    later = [s for s in store.checkpoint_steps(res.run_id) if s >= d]
    assert len(later) > 5
    frozen = store.load_checkpoint(res.run_id, d)
    for s in later:
        ck = store.load_checkpoint(res.run_id, s)
        for k in ck:
            torch.testing.assert_close(ck[k][1], frozen[k][1], rtol=0, atol=0, equal_nan=True)
    # Before it diverged, the member was still moving.
    before = store.load_checkpoint(res.run_id, d - 1)
    assert any(not torch.equal(before[k][1], frozen[k][1]) for k in frozen)
    # The other two members: the same numbers as a run without the diverging one.
    alone = train(_cfg(*_seeds([11, 33])), store)
    for k in METRICS:
        assert np.isfinite(res.metrics[k][:, [0, 2]]).all(), k
        np.testing.assert_allclose(res.metrics[k][:, [0, 2]], alone.metrics[k], **TOL, err_msg=k)
    w, w_alone = _final_weights(store, res), _final_weights(store, alone)
    for k in w_alone:
        torch.testing.assert_close(w[k][[0, 2]], w_alone[k], **TOL)


# -- (d), (e): determinism and minibatches ---------------------------------------------------
def test_same_seed_gives_identical_numbers_and_another_seed_does_not():
    cfg = _cfg("n_members=3", "seed=5", "train.batch_size=8")
    a, b = train(cfg), train(cfg)
    for k in METRICS:
        np.testing.assert_array_equal(a.metrics[k], b.metrics[k])
    assert a.members == b.members
    c = train(_cfg("n_members=3", "seed=6", "train.batch_size=8"))
    assert not np.array_equal(a.metrics["train_loss"], c.metrics["train_loss"])


def test_bookkeeping_steps_are_the_first_crossings_of_the_metrics():
    res = train(_cfg("n_members=4", "seed=3", "train.steps=150", "log.dense_until=20", "log.n_log=30",
                     "task.train_frac=0.7", "optim.lr=3e-2"))
    for key, metric in (("mem_step", "train_acc"), ("gen_step", "test_acc")):
        ref = []
        for m in range(4):  # a plain loop over the recorded metric
            hits = [int(s) for s, v in zip(res.steps, res.metrics[metric][:, m]) if v >= 0.99]
            ref.append(hits[0] if hits else None)
        assert [r[key] for r in res.members] == ref
        got = first_step_at_or_above(res.steps, res.metrics[metric]).tolist()
        assert got == [-1 if r is None else r for r in ref]
    assert any(r["mem_step"] is not None for r in res.members)


def _row_of(task) -> dict[tuple[int, ...], int]:
    return {tuple(x): i for i, x in enumerate(task.inputs.tolist())}


def test_minibatches_are_deterministic_and_drawn_only_from_each_members_training_rows():
    task = make_task("add", p=7)
    sp = split(task, 3, frac=[0.1, 0.5, 1.0], seeds=[1, 2, 3])  # padded: n_train 5, 24(or 25), 49
    data = TrainData(task, sp, "cpu", torch.float64)
    rows = _row_of(task)
    train_sets = [set(sp.member(m)[0].tolist()) for m in range(3)]
    g1, g2 = [generator(9 + m) for m in range(3)], [generator(9 + m) for m in range(3)]  # one stream per member
    counts = [dict() for _ in range(3)]
    B = 16
    for _ in range(200):
        tokens, labels, weights = data.batch(B, g1)
        tokens2, labels2, weights2 = data.batch(B, g2)
        assert torch.equal(tokens, tokens2) and torch.equal(labels, labels2) and torch.equal(weights, weights2)
        assert tokens.shape == (3, B, 2) and labels.shape == (3, B) and weights.shape == (3, B)
        torch.testing.assert_close(weights, torch.full((3, B), 1.0 / B, dtype=torch.float64))
        for m in range(3):
            for j in range(B):
                r = rows[tuple(tokens[m, j].tolist())]
                assert r in train_sets[m], (m, r)
                assert labels[m, j] == task.labels[r] == (tokens[m, j, 0] + tokens[m, j, 1]) % 7
                counts[m][r] = counts[m].get(r, 0) + 1
    # Uniform over the member's rows: member 0 has 5 rows and 3200 draws, 640 +- 25 (binomial sd) each.
    assert set(counts[0]) == train_sets[0]
    assert all(abs(c - 640) < 6 * 25 for c in counts[0].values()), counts[0]
    assert set(counts[2]) == train_sets[2]  # 3200 draws over 49 rows reach every row
    # Full batch: every training row once, padding weighted 0, weights summing to 1 per member.
    tokens, labels, weights = data.batch(0, g1)
    for m in range(3):
        n = len(train_sets[m])
        got = {rows[tuple(t)] for t, w in zip(tokens[m].tolist(), weights[m].tolist()) if w > 0}
        assert got == train_sets[m]
        assert math.isclose(float(weights[m].sum()), 1.0) and int((weights[m] > 0).sum()) == n


# -- (f), (i): metrics at step 0 by direct computation ---------------------------------------
def _member_model(cfg: RunConfig, task, ckpt: dict[str, torch.Tensor], i: int):
    ens = build_model(cfg, task)
    ens.load_state_dict(ckpt)
    return ens.member(i)


def _per_example(model, task, rows, loss: str) -> tuple[list[float], list[float]]:
    """Loss and 0/1 correctness of one reference model, one example at a time."""
    losses, correct = [], []
    with torch.no_grad():
        for r in rows:
            z = model(task.inputs[r][None])[0].double()  # [n_classes]
            y = int(task.labels[r])
            if loss == "ce":
                losses.append(float(torch.logsumexp(z, 0) - z[y]))
            else:  # squared error to the one-hot target, mean over classes
                losses.append(sum((float(z[c]) - (c == y)) ** 2 for c in range(len(z))) / len(z))
            correct.append(float(int(z.argmax()) == y))
    return losses, correct


def test_metrics_at_step_zero_equal_a_direct_computation(store_path):
    store = Store(store_path)
    # Member seeds 0 and 1 put row 0 in member 0's padded training set and in member 1's padded
    # test set (padding holds index 0: a membership scatter that overwrote once dropped that row).
    seeds, frac = [0, 1], [0.4, 0.8]
    cfg = _cfg(*_seeds(seeds), "model.init_scale=[1.0, 3.0]", f"task.train_frac={frac}")
    res = train(cfg, store)
    assert res.steps[0] == 0 and 0 in store.checkpoint_steps(res.run_id)
    ckpt = store.load_checkpoint(res.run_id, 0)
    task = cfg.build_task()
    ens = build_model(cfg, task)
    for i, s in enumerate(seeds):
        # The loop's seed contract: split from stream 0, initialization from stream 1 of the member seed.
        ref = type(ens.member(i))(ens.cfg, dtype=torch.float64).init_(member_seed(s, 1), [1.0, 3.0][i])
        for k, v in ref.state_dict().items():
            torch.testing.assert_close(ckpt[k][i], v, rtol=0, atol=0)
        model = _member_model(cfg, task, ckpt, i)
        train_rows, test_rows = split(task, 1, frac=frac[i], seeds=[member_seed(s, 0)]).member(0)
        assert res.members[i]["n_train"] == len(train_rows) == [20, 39][i]  # round(0.4 * 49), round(0.8 * 49)
        assert 0 in (train_rows if i == 0 else test_rows).tolist()
        stored = store.load_arrays(res.run_id, "split")  # the split the run keeps for analyses
        n_tr, n_te = len(train_rows), len(test_rows)
        assert stored["train_mask"][i].sum() == n_tr and stored["test_mask"][i].sum() == n_te
        assert stored["train_idx"][i, :n_tr].tolist() == train_rows.tolist()
        assert stored["test_idx"][i, :n_te].tolist() == test_rows.tolist()
        for name, rows in (("train", train_rows.tolist()), ("test", test_rows.tolist()), ("all", range(49))):
            losses, correct = _per_example(model, task, rows, "ce")
            assert math.isclose(res.metrics[f"{name}_loss"][0, i], sum(losses) / len(losses), rel_tol=1e-12)
            assert math.isclose(res.metrics[f"{name}_acc"][0, i], sum(correct) / len(correct), rel_tol=1e-12)
        norm = math.sqrt(sum(float((p.detach().double() ** 2).sum()) for p in model.parameters()))
        assert math.isclose(res.metrics["weight_norm"][0, i], norm, rel_tol=1e-12)


def test_mse_loss_at_step_zero_equals_a_hand_computation(store_path):
    store = Store(store_path)
    cfg = _cfg(*_seeds([4, 5]), "train.loss=mse", "task.train_frac=1.0", "train.steps=5")
    res = train(cfg, store)
    task = cfg.build_task()
    ckpt = store.load_checkpoint(res.run_id, 0)
    for i in range(2):
        losses, correct = _per_example(_member_model(cfg, task, ckpt, i), task, range(49), "mse")
        for name in ("train", "all"):  # train_frac 1: the training set is every input
            assert math.isclose(res.metrics[f"{name}_loss"][0, i], sum(losses) / 49, rel_tol=1e-12)
            assert math.isclose(res.metrics[f"{name}_acc"][0, i], sum(correct) / 49, rel_tol=1e-12)
        assert np.isnan(res.metrics["test_loss"][0, i])  # no test set: undefined, not a number from nothing
    assert np.isfinite(res.metrics["train_loss"]).all()
    assert (res.metrics["train_loss"][-1] < res.metrics["train_loss"][0]).all()  # it trains


# -- (g): per-member training-set sizes -------------------------------------------------------
@pytest.mark.parametrize("key, values, expected", [
    ("task.train_frac", [0.2, 0.4, 1.0], [10, 20, 49]),  # round(9.8), round(19.6), all 49 inputs
    ("task.train_count", [3, 17, 48], [3, 17, 48]),
])
def test_per_member_training_set_sizes(store_path, key, values, expected):
    store = Store(store_path)
    d = _cfg("n_members=3", "train.steps=10").to_dict()
    d["task"] = {"kind": "modular", "op": "add", "p": 7, key.split(".")[1]: values}
    res = train(RunConfig.from_dict(d), store)
    assert [m["n_train"] for m in res.members] == expected
    assert [m["n_train"] for m in store.members(res.run_id)] == expected
    for m, n in enumerate(expected):
        # An accuracy over n examples is a multiple of 1/n (and over 49 - n for the test split).
        k = res.metrics["train_acc"][:, m] * n
        np.testing.assert_allclose(k, np.round(k), atol=1e-9)
        if n < 49:
            k = res.metrics["test_acc"][:, m] * (49 - n)
            np.testing.assert_allclose(k, np.round(k), atol=1e-9)
        else:
            assert np.isnan(res.metrics["test_acc"][:, m]).all()


# -- (h): L1 and L2 decay, through the loop ----------------------------------------------------
PARITY = ["task.n_bits=6", "task.n_train=32", "task.n_test=32", "model.width=8", "dtype=float64",
          "optim.warmup_steps=0", "log.n_checkpoints=6", "log.dense_until=5"]


def test_sparse_parity_preset_with_l1_decay_runs():
    cfg = load_config(preset="pair-parity", overrides=["task.n_train=100", "task.n_test=100", "model.width=16",
                                                        "n_members=2", "train.steps=30"])
    assert cfg.optim.decay == "l1" and cfg.task["n_bits"] == 30
    res = train(cfg)
    for k in METRICS:
        assert np.isfinite(res.metrics[k]).all(), k
    assert [m["n_train"] for m in res.members] == [100, 100]


@pytest.mark.parametrize("decay", ["l1", "l2"])
def test_first_adamw_step_with_decay_equals_its_closed_form(store_path, decay):
    store = Store(store_path)
    lr, wd = 1e-2, 0.5
    cfg = load_config(preset="pair-parity", overrides=[*PARITY, "n_members=2", "train.steps=5", f"optim.lr={lr}",
                                                        f"optim.weight_decay={wd}", f"optim.decay={decay}"])
    res = train(cfg, store)
    assert {0, 1} <= set(store.checkpoint_steps(res.run_id))
    w0, w1 = store.load_checkpoint(res.run_id, 0), store.load_checkpoint(res.run_id, 1)
    task = cfg.build_task()
    rows = task.train_pool  # train_frac 1 of the pool: every member trains on the whole pool
    eps = cfg.optim.eps
    for i in range(2):
        model = _member_model(cfg, task, w0, i)
        loss = F.cross_entropy(model(task.inputs[rows]), task.labels[rows])
        loss.backward()
        for name, p in model.named_parameters():
            g = p.grad
            # Adam's first bias-corrected step is g / (|g| + eps); decoupled decay adds wd * sign(w) or wd * w.
            penalty = p.sign() if decay == "l1" else p
            expected = p - lr * (g / (g.abs() + eps) + wd * penalty)
            torch.testing.assert_close(w1[name][i], expected.detach(), rtol=1e-10, atol=1e-12, msg=name)


# -- interruption and resume in-process (the kill -9 case is tests/integration/test_train_resume.py) --
def _interrupt_at(step: int, how: str):
    """A progress callback that interrupts the run at evaluation ``step``: Ctrl-C or a hard stop."""

    def progress(ev):
        if ev["step"] == step:
            if how == "sigint":
                os.kill(os.getpid(), signal.SIGINT)  # the loop's handler: stop at the next clean point
            else:
                raise KeyboardInterrupt  # gone at once, like a kill before any flush

    return progress


def _assert_same_stored_run(store: Store, a: int, b: int) -> None:
    steps_a, m_a = store.metrics(a)
    steps_b, m_b = store.metrics(b)
    np.testing.assert_array_equal(steps_a, steps_b)
    for k in m_a:
        np.testing.assert_array_equal(m_a[k], m_b[k], err_msg=k)
    assert store.checkpoint_steps(a) == store.checkpoint_steps(b)
    for s in store.checkpoint_steps(a):
        ca, cb = store.load_checkpoint(a, s), store.load_checkpoint(b, s)
        for k in ca:
            assert torch.equal(ca[k], cb[k]), (s, k)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "member"} for r in rows]  # noqa: E731
    assert strip(store.members(a)) == strip(store.members(b))


def test_ctrl_c_then_resume_gives_the_uninterrupted_numbers(store_path):
    store = Store(store_path)
    cfg = _cfg("n_members=3", "train.batch_size=8", "optim.grokfast_alpha=0.9", "optim.grokfast_lambda=1.0",
               "log.n_checkpoints=10")
    full = train(cfg, store)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, store, progress=_interrupt_at(17, "sigint"))
    run = full.run_id + 1
    assert store.load_resume(run)["step"] == 18  # flushed at the clean point after update 17
    resumed = train(cfg, store, resume=run)
    assert resumed.run_id == run and store.get_run(run).status == "finished"
    _assert_same_stored_run(store, full.run_id, run)


def test_resume_of_a_run_stopped_before_its_first_flush_starts_over(store_path):
    # Nothing was flushed (flush_seconds is 5 s by default), so there is no resume state: the
    # resume must start from step 0 and give the uninterrupted run's numbers.
    store = Store(store_path)
    cfg = _cfg("n_members=2")
    full = train(cfg, store)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, store, progress=_interrupt_at(3, "hard"))
    run = full.run_id + 1
    assert store.load_resume(run) is None and len(store.metrics(run)[0]) == 0
    train(cfg, store, resume=run)
    _assert_same_stored_run(store, full.run_id, run)


# -- flush_denormal ---------------------------------------------------------------------------
def _thread_flushes() -> bool:
    # 1e-39 is subnormal in float32: with FTZ/DAZ the product is 0, in IEEE arithmetic 2e-39.
    return float(torch.tensor([1e-39], dtype=torch.float32).mul_(2.0)) == 0.0


@pytest.mark.parametrize("flush", [True, False])
def test_training_runs_with_the_configured_denormal_mode_and_restores_the_callers(flush):
    seen = []
    before = _thread_flushes()
    train(_cfg(f"flush_denormal={str(flush).lower()}"), None, progress=lambda info: seen.append(_thread_flushes()))
    assert seen and set(seen) == {flush}
    assert _thread_flushes() == before


def test_flush_denormal_must_be_a_bool():
    from grokscope.errors import ConfigError

    with pytest.raises(ConfigError, match="flush_denormal"):
        _cfg("flush_denormal=2")
