"""Sparse parity's ``data_seed``: the strings come from the task's seed (default) or the run's.

References: the strings a seed gives are ``SparseParity(seed=s)``'s (the task's documented draw);
a stored run's config rebuilds the strings it trained on; a config stored before the option
existed (no ``data_seed`` key) loads as ``"task"`` and trains on the strings it always did.
"""

from __future__ import annotations

import pytest
import torch

from grokscope.config import RunConfig, load_config
from grokscope.errors import ConfigError
from grokscope.store import Store
from grokscope.tasks import make_task
from grokscope.train import train

SMALL = ["task.n_bits=20", "task.n_train=64", "task.n_test=32", "model.width=8", "n_members=2",
         "train.steps=2", "log.dense_until=2", "log.n_checkpoints=0", "threads=1"]


def _strings(seed: int) -> torch.Tensor:
    return make_task("parity", n_bits=20, k=3, n_train=64, n_test=32, seed=seed).inputs


def _stored_task(store: Store, run_id: int):
    return RunConfig.from_dict(store.get_run(run_id).config).build_task()


def test_by_default_the_strings_come_from_the_task_seed_whatever_the_run_seed(store_path):
    store = Store(store_path)
    a = train(load_config(preset="pair-parity", overrides=[*SMALL, "seed=1"]), store).run_id
    b = train(load_config(preset="pair-parity", overrides=[*SMALL, "seed=2"]), store).run_id
    for run in (a, b):
        cfg = store.get_run(run).config
        assert cfg["task"]["data_seed"] == "task" and cfg["task"]["seed"] == 0
        assert torch.equal(_stored_task(store, run).inputs, _strings(0))


def test_with_data_seed_run_each_run_seed_trains_on_its_own_strings(store_path):
    store = Store(store_path)
    runs = {s: train(load_config(preset="pair-parity", overrides=[*SMALL, f"seed={s}", "task.data_seed=run"]),
                     store).run_id for s in (1, 2)}
    for s, run in runs.items():
        cfg = store.get_run(run).config
        assert cfg["task"]["data_seed"] == "run" and cfg["task"]["seed"] == s  # the stored config names them
        assert torch.equal(_stored_task(store, run).inputs, _strings(s))
    assert not torch.equal(_strings(1), _strings(2))
    # The same run seed gives the same strings again (and a resume rebuilds them from the stored config).
    again = train(load_config(preset="pair-parity", overrides=[*SMALL, "seed=2", "task.data_seed=run"]), store)
    assert torch.equal(_stored_task(store, again.run_id).inputs, _strings(2))
    # Training really used those rows: the stored split indexes the stored task.
    assert store.get_run(again.run_id).config == store.get_run(runs[2]).config


def test_a_config_stored_before_the_option_loads_with_the_task_seed():
    cfg = load_config(preset="pair-parity", overrides=SMALL).to_dict()
    del cfg["task"]["data_seed"]  # what grokscope wrote before data_seed existed
    cfg["seed"] = 5
    old = RunConfig.from_dict(cfg)
    assert old.task["data_seed"] == "task"
    assert torch.equal(old.build_task().inputs, _strings(0))


@pytest.mark.parametrize("value", ["member", "1", "RUN"])
def test_a_bad_data_seed_is_one_config_error_line(value):
    with pytest.raises(ConfigError) as e:
        load_config(preset="pair-parity", overrides=[f"task.data_seed={value}"])
    assert "\n" not in str(e.value) and "task.data_seed" in str(e.value) and "run" in str(e.value)


def test_the_preset_keeps_the_task_seed_so_its_sweep_and_stored_runs_are_unchanged():
    assert load_config(preset="pair-parity").task["data_seed"] == "task"
