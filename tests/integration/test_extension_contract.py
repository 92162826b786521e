"""A new task and a new architecture are new code, not edits: added from test code alone
(``tests/toys.py``: Gaussian blobs with real-valued features and one group per class, and a
one-hidden-layer ReLU net on features), they train, store, show, report and analyze through the
same paths as the built-ins, with their group metrics named by the task.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grokscope import RunConfig, Store, train
from grokscope.models import build_model, register_architecture, unregister_architecture
from grokscope.tasks import register_task, unregister_task
from toys import Blobs, Toy, ToyConfig, ToyEnsemble, toy_sizes

# a config as a user would write it in TOML, naming the registered kinds
CONFIG = {"name": "blobs-toy", "n_members": 3, "seed": 4, "dtype": "float64",
          "task": {"kind": "blobs", "n_per_class": 20, "d": 4, "train_frac": 0.5, "unseen_frac": 0.2},
          "model": {"arch": "toy_relu", "d_hidden": 8},
          "train": {"steps": 60}, "log": {"dense_until": 10, "n_log": 10, "n_checkpoints": 4}}


@pytest.fixture
def registered():
    register_task("blobs", Blobs)
    register_architecture("toy_relu", ToyConfig, ToyEnsemble, Toy, toy_sizes)
    yield
    unregister_architecture("toy_relu")
    unregister_task("blobs")


def _cfg():
    return RunConfig.from_dict(CONFIG)


def test_toy_task_and_architecture_train_store_report_and_analyze(registered, store_path, tmp_path, run_cli):
    torch.set_num_threads(1)
    cfg = _cfg()
    store = Store(store_path)
    result = train(cfg, store=store)
    run = result.run_id

    # metrics named by the task: every split, and every group of every split
    steps, metrics = store.metrics(run)
    for split in ("train", "test", "unseen", "all"):
        for kind in ("loss", "acc"):
            assert f"{split}_{kind}" in metrics
            for c in range(3):
                assert f"{split}_{kind}/class{c}" in metrics

    # the final stored numbers equal a direct computation from the final checkpoint
    task = cfg.build_task()
    ens = build_model(cfg, task)
    ens.load_state_dict(store.load_checkpoint(run, store.checkpoint_steps(run)[-1]))
    split = store.load_arrays(run, "split")
    with torch.no_grad():
        logits = ens(task.inputs.double())  # [model, n_all, n_classes]
    for m in range(cfg.n_members):
        rows = split["unseen_idx"][m][split["unseen_mask"][m]]
        for c in range(3):
            grp = [r for r in rows.tolist() if int(task.labels[r]) == c]
            if not grp:
                continue
            want = F.cross_entropy(logits[m, grp], task.labels[grp]).item()
            assert metrics["unseen_loss/class" + str(c)][-1, m] == pytest.approx(want, rel=1e-9)

    code, out, err = run_cli("show", run, "--store", store_path, "--json")
    assert code == 0, err
    assert json.loads(out)["config"]["model"]["arch"] == "toy_relu"

    code, out, err = run_cli("report", run, "--store", store_path, "--out", tmp_path / "report")
    assert code == 0, err
    assert (tmp_path / "report").exists() and any(p.suffix == ".png" for p in (tmp_path / "report").iterdir())

    code, out, err = run_cli("analyze", run, "--store", store_path, "--out", tmp_path / "analysis")
    assert code == 0, err
    data = json.loads((tmp_path / "analysis" / "analysis.json").read_text())
    assert data["model"]["arch"] == "toy_relu" and data["task"]["input_kind"] == "features"
    assert sorted(data["task"]["groups"]) == ["class0", "class1", "class2"]
    assert np.isfinite(np.asarray(data["curves"]["test_loss"], dtype=float)).all()
