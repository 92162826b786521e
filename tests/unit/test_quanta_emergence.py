"""Emergence per quantum: the learned-step rule and the slope fit against closed forms, and a
small online multitask-parity run that learns its frequent subtasks first and is analyzed."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from grokscope import load_config, train
from grokscope.errors import AnalysisError
from grokscope.quanta import emergence, emergence_from_metrics, learned_steps, save_emergence
from grokscope.store import Store

LN2 = math.log(2.0)


def _zipf(n: int, exponent: float) -> np.ndarray:
    w = np.arange(1, n + 1, dtype=float) ** -exponent
    return w / w.sum()


def _step_curves(steps: np.ndarray, drop_at: np.ndarray) -> np.ndarray:
    """``[n_eval, n_tasks]`` nats: chance (1 bit) until ``drop_at[i]``, then 0.001 bit (-1: never drops)."""
    low = (steps[:, None] >= drop_at[None, :]) & (drop_at[None, :] >= 0)
    return np.where(low, 0.001, 1.0) * LN2


def test_learned_step_is_the_first_evaluation_below_the_threshold():
    steps = np.array([0, 10, 20, 40])
    bits = np.array([[1.0, 1.0, 1.0], [0.2, 0.09, 1.0], [0.05, 0.2, np.nan], [0.01, 0.01, 1.0]])
    assert learned_steps(steps, bits, 0.1).tolist() == [20, 10, -1]


def test_steps_inverse_to_frequency_give_slope_minus_one_and_the_weighted_mean():
    n, alpha = 12, 0.5
    p = _zipf(n, alpha + 1)
    drop = np.round(2000.0 / p).astype(int)  # S_i = c / p_i: the quantization model's prediction
    drop[-2:] = -1  # the two rarest are never learned
    steps = np.unique(np.concatenate([[0, 1, 5], drop[drop > 0], 3 * drop[drop > 0], [3 * drop.max() + 100]]))
    L0 = _step_curves(steps, drop)  # member 0
    L1 = _step_curves(steps, np.where(drop > 0, 3 * drop, -1))  # member 1: three times slower, same slope
    metrics = {f"test_loss/task{i:03d}": np.stack([L0[:, i], L1[:, i]], 1) for i in range(n)}
    em = emergence_from_metrics(steps, metrics, {"kind": "multitask_parity", "n_tasks": n, "alpha": alpha},
                                n_boot=200, seed=0)
    for m in em.members:
        assert m.n_learned == n - 2 and m.learned_step[-2:] == [None, None]
        assert m.slope["value"] == pytest.approx(-1.0, abs=2e-3)
    assert em.members[0].learned_step[:n - 2] == drop[:n - 2].tolist()
    assert em.pooled_slope["value"] == pytest.approx(-1.0, abs=2e-3)
    np.testing.assert_allclose(em.mean_loss_bits[0], (L0 / LN2) @ p, rtol=1e-12)
    np.testing.assert_allclose(em.probs, p, rtol=1e-12)
    assert json.loads(em.to_json())["members"][0]["n_learned"] == n - 2


def test_analysis_errors_name_the_problem():
    steps = np.array([0, 1, 2, 3])
    metrics = {f"test_loss/task{i:03d}": np.ones((4, 1)) for i in range(3)}
    section = {"kind": "multitask_parity", "n_tasks": 3, "alpha": 0.4}
    with pytest.raises(AnalysisError, match="task.kind='parity'"):
        emergence_from_metrics(steps, metrics, {**section, "kind": "parity"})
    with pytest.raises(AnalysisError, match="train.loss='mse'"):
        emergence_from_metrics(steps, metrics, section, loss="mse")
    with pytest.raises(AnalysisError, match="n_tasks=4"):
        emergence_from_metrics(steps, metrics, {**section, "n_tasks": 4})
    em = emergence_from_metrics(steps, metrics, section, n_boot=10)  # nothing learned: no fit, a reason
    assert em.members[0].fit is None and "usable points" in em.members[0].fit_error


def test_a_small_online_run_learns_its_frequent_subtasks_first(store_path, tmp_path):
    cfg = load_config(overrides=[
        "task.kind=multitask_parity", "task.n_tasks=6", "task.n=8", "task.k=2", "task.alpha=1.0", "task.online=true",
        "task.n_train=500", "task.train_frac=1.0", "task.n_test_per_task=128", "model.arch=feature_mlp",
        "model.width=64", "model.depth=1",
        "train.steps=400", "train.batch_size=256", "optim.lr=1e-2", "optim.weight_decay=0", "optim.b2=0.999",
        "optim.warmup_steps=0", "n_members=2", "log.n_log=60", "log.dense_until=20"])
    store = Store(store_path)
    run = train(cfg, store).run_id
    em = emergence(store, run, n_boot=100)
    for m in em.members:
        s = m.learned_step
        assert m.n_learned >= 2 and s[0] is not None and s[1] is not None
        assert s[0] < s[1]  # the most frequent subtask (p = 0.61) before the next (p = 0.15)
        later = [v for v in s[2:] if v is not None]
        assert all(v > s[0] for v in later)
        assert m.slope is not None and m.slope["value"] < 0
    assert em.n_params == (6 + 8) * 64 + 64 + 64 * 2 + 2 and [m.n_train for m in em.members] == [500, 500]
    paths = save_emergence(em, tmp_path / "out")
    assert all(p.stat().st_size > 0 for p in paths)
    assert json.loads(paths[0].read_text())["run_id"] == run
    with pytest.raises(AnalysisError):
        emergence(store, train(load_config(preset="pair-mod67", overrides=["train.steps=2", "n_members=1",
                                                                           "task.p=5"]), store).run_id)
