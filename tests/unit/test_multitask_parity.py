"""Multitask sparse parity (Michaud et al. 2023) against references: the Zipf law (chi-squared),
parity computed bit by bit in plain Python, the one-hot control block, online batches from the
generator alone, bit-exact resume of an online run, and one-line errors for bad options."""

from __future__ import annotations

import math
import os
import signal

import numpy as np
import pytest
import torch
from scipy import stats

from grokscope import load_config, train
from grokscope.config import RunConfig
from grokscope.errors import ConfigError
from grokscope.store import Store
from grokscope.tasks import MultitaskParity, make_task, split_for_run
from grokscope.train._data import TrainData

SMALL = {"n_tasks": 6, "n": 8, "k": 2, "n_train": 300, "n_test_per_task": 40, "seed": 3}


def _zipf(n_tasks: int, exponent: float) -> np.ndarray:
    w = np.arange(1, n_tasks + 1, dtype=float) ** -exponent  # the law written out, not the module's helper
    return w / w.sum()


def _control(x: torch.Tensor, n_tasks: int) -> np.ndarray:
    """The subtask each row asks for, read off its one-hot control block."""
    block = x[:, :n_tasks]
    assert bool(((block == 0) | (block == 1)).all()) and bool((block.sum(1) == 1).all())
    return block.argmax(1).numpy()


def _parity_by_hand(x: torch.Tensor, subsets, n_tasks: int) -> list[int]:
    out = []
    for row in x.tolist():
        task = row[:n_tasks].index(1.0)
        bits = row[n_tasks:]
        out.append(int(sum(bits[j] for j in subsets[task])) % 2)
    return out


# -- the Zipf law --------------------------------------------------------------------------------
def test_online_subtask_frequencies_follow_the_zipf_law_with_exponent_alpha_plus_one():
    t = MultitaskParity(n_tasks=20, n=10, k=3, alpha=0.4, n_train=10, n_test_per_task=1)
    x, _ = t.sample(200_000, torch.Generator().manual_seed(0))
    counts = np.bincount(_control(x, 20), minlength=20)
    expected = _zipf(20, 1.4) * counts.sum()
    assert stats.chisquare(counts, expected).pvalue > 1e-3
    # The test can fail: the paper's alpha read as the Zipf exponent is rejected at once.
    wrong = _zipf(20, 0.4) * counts.sum()
    assert stats.chisquare(counts, wrong).pvalue < 1e-12


def test_fixed_training_rows_are_draws_from_the_mixture_and_test_rows_are_uniform():
    t = MultitaskParity(n_tasks=10, n=10, k=3, zipf_exponent=2.0, n_train=50_000, n_test_per_task=7)
    ids = _control(t.inputs, 10)
    train_counts = np.bincount(ids[t.train_pool.numpy()], minlength=10)
    assert stats.chisquare(train_counts, _zipf(10, 2.0) * 50_000).pvalue > 1e-3
    assert np.bincount(ids[t.test_pool.numpy()], minlength=10).tolist() == [7] * 10
    assert t.alpha == pytest.approx(1.0) and t.zipf_exponent is None and t.exponent == pytest.approx(2.0)


# -- labels, control block, groups -----------------------------------------------------------------
def test_every_label_is_the_parity_of_its_own_subset():
    t = MultitaskParity(**SMALL)
    assert t.labels.tolist() == _parity_by_hand(t.inputs, t.subsets, 6)
    x, y = t.sample(500, torch.Generator().manual_seed(1))
    assert y.tolist() == _parity_by_hand(x, t.subsets, 6)
    assert len(set(t.subsets)) == 6 and all(len(s) == 2 == len(set(s)) and max(s) < 8 for s in t.subsets)


def test_control_block_subtask_field_and_groups_agree():
    t = MultitaskParity(**SMALL)
    ids = _control(t.inputs, 6)
    assert ids.tolist() == t.subtask.tolist()
    assert t.d_in == 6 + 8 and t.input_kind == "features" and t.n_classes == 2
    assert list(t.groups) == [f"task{i:03d}" for i in range(6)]
    for i, rows in enumerate(t.groups.values()):
        assert sorted(rows.tolist()) == np.flatnonzero(ids == i).tolist()
    assert set(t.inputs[:, 6:].unique().tolist()) <= {0.0, 1.0}


def test_subsets_come_from_the_seed_and_an_explicit_list_fixes_them():
    a, b, c = MultitaskParity(**SMALL), MultitaskParity(**SMALL), MultitaskParity(**{**SMALL, "seed": 4})
    assert a.subsets == b.subsets and torch.equal(a.inputs, b.inputs)
    assert a.subsets != c.subsets
    given = [[0, 1], [2, 3], [4, 5], [6, 7], [0, 7], [1, 6]]
    d = MultitaskParity(**{**SMALL, "subsets": given})
    assert d.subsets == tuple(tuple(s) for s in given) and torch.equal(d.inputs, a.inputs)  # same rows, new labels
    assert d.labels.tolist() == _parity_by_hand(d.inputs, d.subsets, 6)


def test_a_stored_config_round_trips_with_alpha_and_subsets_resolved():
    cfg = load_config(overrides=["task.kind=multitask_parity", "task.n_tasks=6", "task.n=8", "task.k=2",
                                 "task.zipf_exponent=1.5", "task.n_train=50", "task.n_test_per_task=4",
                                 "model.arch=feature_mlp"])
    assert cfg.task["alpha"] == pytest.approx(0.5) and cfg.task["zipf_exponent"] is None
    again = RunConfig.from_dict(cfg.to_dict())
    assert again.task == cfg.task and len(cfg.task["subsets"]) == 6
    assert cfg.model["arch"] == "feature_mlp" and cfg.model["width"] == 200  # feature_mlp's default width


# -- online sampling -----------------------------------------------------------------------------------
def test_online_batches_are_a_function_of_the_generator_state():
    t = MultitaskParity(**{**SMALL, "online": True})
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    x1, y1 = t.sample(64, g1)
    x2, y2 = t.sample(64, g2)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    x3, _ = t.sample(64, g1)  # the generator moved on: a fresh batch
    assert not torch.equal(x1, x3)


def test_train_data_draws_each_members_batch_from_its_own_generator():
    t = MultitaskParity(**{**SMALL, "online": True})
    sp = split_for_run(t, {}, [0, 1])
    data = TrainData(t, sp, "cpu", torch.float64)
    gens = [torch.Generator().manual_seed(s) for s in (5, 6)]
    clones = [torch.Generator().manual_seed(s) for s in (5, 6)]
    x, y, w = data.batch(32, gens)
    assert x.shape == (2, 32, 14) and x.dtype == torch.float64 and y.shape == (2, 32)
    for m in range(2):
        xm, ym = t.sample(32, clones[m])
        assert torch.equal(x[m], xm.double()) and torch.equal(y[m], ym)
    assert torch.allclose(w.sum(1), torch.ones(2, dtype=torch.float64))
    assert data.batch(0, gens)[0].shape == (2, 300, 14)  # full batch online: as many fresh rows as n_train


def _online_cfg(*extra):
    return load_config(overrides=[
        "task.kind=multitask_parity", "task.n_tasks=4", "task.n=6", "task.k=2", "task.alpha=1.0", "task.online=true",
        "task.n_train=100", "task.n_test_per_task=16", "model.arch=feature_mlp", "model.width=16", "model.depth=1",
        "train.steps=40", "train.batch_size=32", "optim.weight_decay=0", "n_members=2", "log.n_checkpoints=4", *extra])


def test_an_interrupted_online_run_resumes_to_the_same_numbers(store_path):
    store = Store(store_path)
    cfg = _online_cfg()
    full = train(cfg, store)

    def progress(ev):
        if ev["step"] == 17:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        train(cfg, store, progress=progress)
    run = full.run_id + 1
    assert store.load_resume(run)["step"] == 18
    train(RunConfig.from_dict(store.get_run(run).config), store, resume=run)
    steps_a, a = store.metrics(full.run_id)
    steps_b, b = store.metrics(run)
    np.testing.assert_array_equal(steps_a, steps_b)
    assert "test_loss/task003" in a and "train_acc/task000" in a
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


# -- bad input -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("opts, names", [
    ({"alpha": 0.0}, "task.alpha=0.0"),
    ({"alpha": -1.0}, "task.alpha=-1.0"),
    ({"zipf_exponent": 1.0}, "task.zipf_exponent=1.0"),
    ({"alpha": 0.4, "zipf_exponent": 1.4}, "task.alpha=0.4 and task.zipf_exponent=1.4"),
    ({"k": 9}, "task.k=9"),
    ({"k": 0}, "task.k=0"),
    ({"n_tasks": 0}, "task.n_tasks=0"),
    ({"n_tasks": 29}, "task.n_tasks=29"),  # C(8, 2) = 28 distinct subsets
    ({"n_test_per_task": 0}, "task.n_test_per_task=0"),
    ({"online": "yes"}, "task.online='yes'"),
    ({"subsets": [[0, 1]] * 6}, "task.subsets"),
    ({"subsets": [[0, 0]] + [[1, 2]] * 5}, "task.subsets"),
])
def test_bad_options_raise_one_line_config_errors(opts, names):
    with pytest.raises(ConfigError) as e:
        make_task("multitask_parity", **{**SMALL, **opts})
    assert names in str(e.value) and "\n" not in str(e.value)


def test_the_cli_rejects_alpha_zero_with_exit_2_and_stores_nothing(run_cli, cli_env):
    code, _, err = run_cli("train", "--preset", "quanta-fig2-cpu", "--set", "task.alpha=0")
    assert code == 2 and "task.alpha=0" in err and len(err.strip().splitlines()) == 1
    path = cli_env["GROKSCOPE_STORE"]
    assert not os.path.exists(path) or Store(path).list_runs() == []


def test_zipf_probs_closed_form():
    from grokscope.tasks import zipf_probs

    p = zipf_probs(3, 2.0).numpy()
    h = 1 + 1 / 4 + 1 / 9
    np.testing.assert_allclose(p, [1 / h, 1 / (4 * h), 1 / (9 * h)], rtol=1e-15)
    assert math.isclose(p.sum(), 1.0)
