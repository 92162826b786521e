"""The third, unseen split: disjoint from train and test, drawn as documented, never trained on.

- Rows: train, test and unseen are disjoint and cover every input; the unseen rows are the tail of
  the member's data-stream permutation (pooled tasks: the tail of the test pool), so the training
  rows are those of the same run without an unseen split.
- Training: a run with an unseen split trains exactly as the run without it (bit-equal train
  metrics and weights): the unseen rows change nothing but what the test set holds.
- Metrics: ``unseen_{loss,acc}`` at step 0 equal a direct computation over the unseen rows.
- The ``split`` artefact keeps the unseen rows, and artefacts from before the unseen split load.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from grokscope.config import load_config
from grokscope.errors import ConfigError
from grokscope.models import build_model
from grokscope.seeding import member_seed
from grokscope.store import Store
from grokscope.tasks import Split, default_train_frac, make_task, split, split_for_run
from grokscope.train import TrainData, train

TASK = make_task("add", p=11)  # 121 inputs
BASE = ["task.p=7", "task.train_frac=0.5", "dtype=float64", "train.steps=20", "model.d_embed=8", "model.d_hidden=16",
        "optim.lr=1e-2", "log.dense_until=20", "log.n_checkpoints=3", "n_members=2", "member_seeds=[11, 22]",
        "train.batch_size=8"]


def test_unseen_rows_are_disjoint_from_train_and_test_and_the_tail_of_the_permutation():
    seeds, counts, unseen = [3, 4, 3], [30, 60, 90], [20, 10, 20]
    s = split(TASK, 3, count=counts, seeds=seeds, unseen_count=unseen)
    assert s.has_unseen and s.names() == ("train", "test", "unseen")
    for m, (seed, n, u) in enumerate(zip(seeds, counts, unseen)):
        perm = torch.randperm(TASK.n_all, generator=torch.Generator().manual_seed(seed))
        rows = s.rows(m)
        assert torch.equal(rows["train"], perm[:n])
        assert torch.equal(rows["test"], perm[n:TASK.n_all - u])
        assert torch.equal(rows["unseen"], perm[TASK.n_all - u:])
        sets = {k: set(v.tolist()) for k, v in rows.items()}
        assert not (sets["train"] & sets["test"]) and not (sets["train"] & sets["unseen"])
        assert not (sets["test"] & sets["unseen"])
        assert sets["train"] | sets["test"] | sets["unseen"] == set(range(TASK.n_all))
    # Same seed, different training sizes: the same unseen rows (a data-size sweep shares them).
    assert set(s.rows(0)["unseen"].tolist()) == set(s.rows(2)["unseen"].tolist())
    # Without an unseen split the training rows are the same, and the test set is train's complement.
    plain = split(TASK, 3, count=counts, seeds=seeds)
    assert not plain.has_unseen and plain.unseen_idx.shape == (3, 0)
    for m in range(3):
        assert torch.equal(plain.member(m)[0], s.member(m)[0])


def test_unseen_fraction_and_pooled_tasks():
    s = split(TASK, 2, frac=0.5, unseen_frac=[0.1, 0.25], seeds=[0, 1])
    assert s.n_unseen.tolist() == [round(0.1 * 121), round(0.25 * 121)]
    assert (s.n_train + s.n_test + s.n_unseen).tolist() == [121, 121]
    parity = make_task("parity", n_bits=20, n_train=100, n_test=50)
    p = split(parity, 2, count=[40, 100], unseen_count=20, seeds=[0, 0])
    for m in range(2):
        rows = p.rows(m)
        assert torch.equal(rows["test"], parity.test_pool[:30]) and torch.equal(rows["unseen"], parity.test_pool[30:])
        assert torch.equal(rows["train"], parity.train_pool[:[40, 100][m]])


@pytest.mark.parametrize("kwargs, fragment", [
    ({"count": 100, "unseen_count": 30}, "only 21 held-out rows"),
    ({"count": 10, "unseen_frac": 1.0}, "task.unseen_frac=1.0"),
    ({"count": 10, "unseen_frac": -0.1}, "task.unseen_frac=-0.1"),
    ({"count": 10, "unseen_count": [1, 2, 3]}, "task.unseen_count has 3 values"),
    ({"count": 10, "unseen_count": 1, "unseen_frac": 0.1}, "at most one"),
])
def test_bad_unseen_arguments_raise_one_line_errors(kwargs, fragment):
    with pytest.raises(ConfigError) as info:
        split(TASK, 2, seeds=[0, 1], **kwargs)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_config_validates_the_unseen_keys():
    cfg = load_config(overrides=["task.p=7", "task.unseen_count=5", "n_members=2"])
    assert cfg.task["unseen_count"] == 5 and "unseen_frac" not in cfg.task
    with pytest.raises(ConfigError, match="task.unseen_count=100"):
        load_config(overrides=["task.p=7", "task.unseen_count=100"])
    with pytest.raises(ConfigError, match="set one of them"):
        load_config(overrides=["task.p=7", "task.unseen_count=5", "task.unseen_frac=0.1"])


def test_the_default_split_is_defined_once():
    assert default_train_frac(TASK) == 0.3
    assert default_train_frac(make_task("parity", n_bits=20, n_train=100, n_test=50)) == 1.0
    seeds = [5, 6]
    got = split_for_run(TASK, {"kind": "modular"}, seeds)
    want = split(TASK, 2, frac=0.3, seeds=[member_seed(s, 0) for s in seeds])
    for name in ("train_idx", "train_mask", "test_idx", "test_mask"):
        assert torch.equal(getattr(got, name), getattr(want, name))


def test_a_run_with_an_unseen_split_trains_exactly_like_the_run_without_it(store_path):
    store = Store(store_path)
    plain = train(load_config(overrides=BASE), store)
    cfg = load_config(overrides=[*BASE, "task.unseen_count=[10, 6]"])
    kept = train(cfg, store)
    for k in ("train_loss", "train_acc", "all_loss", "all_acc", "weight_norm"):
        np.testing.assert_array_equal(kept.metrics[k], plain.metrics[k], err_msg=k)
    last = int(plain.steps[-1])
    a, b = store.load_checkpoint(plain.run_id, last), store.load_checkpoint(kept.run_id, last)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert set(kept.metrics) - set(plain.metrics) == {"unseen_loss", "unseen_acc"}
    assert not np.array_equal(kept.metrics["test_loss"], plain.metrics["test_loss"])  # the test set shrank

    # Step 0 metrics of the unseen (and the smaller test) split, one example at a time.
    task = cfg.build_task()
    sp = split_for_run(task, cfg.task, cfg.seeds())
    ens = build_model(cfg, task)
    ens.load_state_dict(store.load_checkpoint(kept.run_id, 0))
    for m in range(2):
        ref = ens.member(m)
        for name, rows in sp.rows(m).items():
            with torch.no_grad():
                z = ref(task.inputs[rows]).double()  # [n_rows, n_classes]
            y = task.labels[rows]
            loss = float((torch.logsumexp(z, 1) - z[torch.arange(len(rows)), y]).mean())
            acc = float((z.argmax(1) == y).double().mean())
            assert math.isclose(kept.metrics[f"{name}_loss"][0, m], loss, rel_tol=1e-12), name
            assert math.isclose(kept.metrics[f"{name}_acc"][0, m], acc, rel_tol=1e-12), name

    # The stored split keeps the unseen rows; Split.from_arrays reads it back, and old artefacts too.
    arrays = store.load_arrays(kept.run_id, "split")
    back = Split.from_arrays(arrays)
    for m in range(2):
        for name, rows in sp.rows(m).items():
            assert torch.equal(back.rows(m)[name], rows), name
    old = {k: v for k, v in store.load_arrays(plain.run_id, "split").items()}
    assert set(old) == {"train_idx", "train_mask", "test_idx", "test_mask"}
    assert not Split.from_arrays(old).has_unseen


def test_minibatches_never_draw_unseen_rows():
    sp = split(TASK, 2, frac=0.4, unseen_count=30, seeds=[1, 2])
    data = TrainData(TASK, sp, "cpu", torch.float64)
    row = {tuple(x): i for i, x in enumerate(TASK.inputs.tolist())}
    gens = [torch.Generator().manual_seed(m) for m in range(2)]
    seen = [set(), set()]
    for _ in range(100):
        tokens, _, _ = data.batch(16, gens)
        for m in range(2):
            seen[m] |= {row[tuple(t)] for t in tokens[m].tolist()}
    for m in range(2):
        assert seen[m] == set(sp.rows(m)["train"].tolist())  # 1600 draws over 48 rows reach each one
        assert not seen[m] & set(sp.rows(m)["unseen"].tolist())
