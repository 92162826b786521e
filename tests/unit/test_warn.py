"""The early-warning predictor (grokscope.warn) on synthetic members with a planted signal, and `grokscope warn`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from grokscope.errors import ConfigError
from grokscope.warn import (
    FEATURE_SETS,
    Member,
    check_window,
    feature_row,
    predict,
    score,
)

W, BUDGET = 200, 5000


def _members(n: int, seed: int, source: str) -> list[Member]:
    """Members whose Fourier Gini at W decides the outcome and its step; the other signals are noise.

    Planted: generalizes iff gini > 0.4 (plus 5% label noise), at step 10^(4 - 1.5 gini) (x noise)."""
    rng = np.random.default_rng(seed)
    steps = np.array([0, 50, 100, 150, 200, 400, 1000, BUDGET])
    out = []
    for i in range(n):
        g = rng.uniform(0.1, 0.7)
        gen = g > 0.4 if rng.uniform() > 0.05 else g <= 0.4
        gen_step = int(10 ** (4 - 1.5 * g + rng.normal(0, 0.05))) if gen else -1
        k = len(steps)
        metrics = {"train_loss": np.exp(rng.normal(0, 1, k)), "weight_norm": np.exp(rng.normal(3, 0.1, k)),
                   "sig_fourier_gini": np.full(k, g) + rng.normal(0, 0.01, k), "sig_loss_mobility": rng.uniform(0, 2, k)}
        out.append(Member(source, 0, i, steps, metrics, gen_step if gen_step > W else W + 1 if gen else -1, BUDGET))
    return out


def test_planted_signal_is_found_on_unseen_members_and_the_baselines_are_chance():
    train, test = _members(80, 0, "a"), _members(80, 1, "b")
    s = score(train, test, W, features="signals", n_boot=5)
    assert s.auc > 0.85 and s.auc_lo > 0.7
    assert s.spearman > 0.8 and s.spearman_n == sum(m.generalizes for m in test)
    for base in ("train_loss", "weight_norm"):
        b = score(train, test, W, features=base, n_boot=5)
        assert 0.25 < b.auc < 0.75  # planted noise: chance level (sd ~0.065 at 80 members)


def test_score_is_the_textbook_metrics_of_the_predictions():
    train, test = _members(60, 2, "a"), _members(50, 3, "b")
    s = score(train, test, W, n_boot=5)
    preds = predict(test, W, train, n_boot=5)
    p = np.array([x.p for x in preds])
    y = np.array([m.generalizes for m in test])
    steps = np.array([m.gen_step for m in test], dtype=float)
    assert s.auc == pytest.approx(roc_auc_score(y, p))
    flagged = y & (p >= 0.5)
    assert s.lead_time == pytest.approx(np.median(steps[flagged] - W)) and s.n_flagged_pos == flagged.sum()
    pred_steps = np.array([x.step for x in preds])
    assert s.spearman == pytest.approx(spearmanr(pred_steps[y], steps[y])[0])
    assert all(p.p_lo <= p.p_hi and p.step_lo <= p.step_hi for p in preds)


def test_members_known_at_the_window_are_not_predicted_and_cross_fitting_covers_the_rest():
    ms = _members(20, 4, "a")
    ms[0].gen_step = W // 2  # generalized before W: known
    preds = predict(ms, W, n_boot=5)
    assert preds[0].known and preds[0].actual_gen_step == W // 2
    assert not any(p.known for p in preds[1:]) and all(0 <= p.p <= 1 for p in preds)


def test_features_read_nothing_after_the_window():
    m = _members(1, 5, "a")[0]
    before = feature_row(m, W, FEATURE_SETS["signals"])
    for v in m.metrics.values():
        v[m.steps > W] = 1e9
    np.testing.assert_array_equal(feature_row(m, W, FEATURE_SETS["signals"]), before)


def test_bad_windows_and_single_members_are_one_line_errors():
    ms = _members(3, 6, "a")
    with pytest.raises(ConfigError, match="longer than run 1"):
        check_window(ms, BUDGET, "run 1")
    with pytest.raises(ConfigError, match="1 member"):
        check_window(ms[:1], W, "sweep 'x'")


@pytest.fixture(scope="module")
def signal_store(tmp_path_factory):
    """A store with one tiny run trained with the signals (run 1) and one without (run 2)."""
    from grokscope import load_config, train
    from grokscope.store import Store

    path = tmp_path_factory.mktemp("warn") / "runs.db"
    store = Store(path)
    for sig in ("true", "false"):
        cfg = load_config(preset="pair-mod67", overrides=["train.steps=40", "n_members=4", "task.p=7", "threads=1",
                                                          f"train.signals={sig}", "log.n_checkpoints=2"])
        train(cfg, store=store)
    return path


def test_warn_cli_prints_predictions_and_rejects_bad_input(run_cli, signal_store):
    code, out, err = run_cli("warn", "1", "--window", "20", "--json", "--store", signal_store)
    assert code == 0, err
    d = json.loads(out)
    assert d["window"] == 20 and len(d["predictions"]) == 4
    code, out, err = run_cli("warn", "1", "--window", "40", "--store", signal_store)
    assert code == 2 and "--window 40" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli("warn", "2", "--window", "20", "--store", signal_store)
    assert code == 2 and "train.signals" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli("warn", "no-such-sweep", "--store", signal_store)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_warn_cli_scores_against_the_baselines(run_cli, signal_store):
    code, out, err = run_cli("warn", "1", "--train", "1", "--window", "20", "--score", "--json", "--store", signal_store)
    assert code == 0, err
    assert [s["features"] for s in json.loads(out)["scores"]] == list(FEATURE_SETS)
    code, out, err = run_cli("warn", "1", "--score", "--store", signal_store)
    assert code == 2 and "--train" in err and len(err.strip().splitlines()) == 1


def test_a_sweeps_members_are_read_across_its_runs(tmp_path, run_cli):
    from grokscope.store import Store
    from grokscope.sweep import parse_spec, run_sweep, sweep_members
    from grokscope.warn import load_members

    spec = parse_spec({"name": "tiny-warn", "base": "pair-mod67", "seeds": 2, "steps": 40, "max_ensemble": 2,
                       "set": {"task.p": 7, "threads": 1, "log.n_checkpoints": 2, "train.signals": True},
                       "grid": {"optim.weight_decay": [0.1, 1.0]}})
    store = Store(tmp_path / "s.db")
    run_sweep(spec, store, progress=False, tune_memory=False)
    rows, members = sweep_members(store, "tiny-warn"), load_members(store, "tiny-warn")
    assert len({r["run_id"] for r in rows}) == 2 and len(members) == 4
    for r, m in zip(rows, members):
        _, metrics = store.metrics(r["run_id"])
        assert (m.run_id, m.member) == (r["run_id"], r["member"])
        np.testing.assert_array_equal(m.metrics["train_loss"], metrics["train_loss"][:, r["member"]])
    code, out, err = run_cli("warn", "tiny-warn", "--window", "20", "--json", "--store", tmp_path / "s.db")
    assert code == 0 and len(json.loads(out)["predictions"]) == 4, err


def test_the_training_fraction_baseline_reads_the_setup_only():
    """Planted: the outcome is decided by the training fraction; the signals are noise."""
    def members(n, seed):
        rng = np.random.default_rng(seed)
        out = []
        for m in _members(n, seed, "f"):
            frac = rng.uniform(0.2, 0.8)
            m.setup = {"train_frac": frac, "weight_decay": 0.3, "lr": 1e-2}
            m.metrics["sig_fourier_gini"] = rng.uniform(0.1, 0.7, len(m.steps))
            m.gen_step = int(10 ** (4 - 2 * frac)) if frac > 0.5 else -1
            out.append(m)
        return out

    train, test = members(80, 10), members(80, 11)
    for base in ("train_frac", "setup"):
        s = score(train, test, W, features=base, n_boot=5)
        assert s.auc > 0.95 and s.spearman > 0.9
    before = feature_row(test[0], W, FEATURE_SETS["setup"])
    for v in test[0].metrics.values():  # no training signal is read
        v[:] = 1e9
    np.testing.assert_array_equal(feature_row(test[0], W, FEATURE_SETS["setup"]), before)
    assert not set(FEATURE_SETS["signals"]) & set(FEATURE_SETS["setup"])


def test_a_stored_members_setup_is_its_training_fraction_and_hyperparameters(signal_store):
    from grokscope.store import Store
    from grokscope.warn import load_members

    store = Store(signal_store)
    cfg = store.get_run(1).config
    n_all = 7 * 7 if cfg["task"].get("pairs", "ordered") == "ordered" else 7 * 8 // 2
    for m in load_members(store, "1"):
        assert m.setup["train_frac"] == pytest.approx(cfg["task"]["train_frac"], abs=1 / n_all)
        assert m.setup["weight_decay"] == cfg["optim"]["weight_decay"] and m.setup["lr"] == cfg["optim"]["lr"]
