"""The early warning during training: `grokscope train --warn-from REF` and the LiveWarning hook."""

from __future__ import annotations

import numpy as np
import pytest

TINY = ["train.steps=40", "n_members=4", "task.p=7", "threads=1", "log.n_checkpoints=2"]


@pytest.fixture(scope="module")
def ref_store(tmp_path_factory):
    """Run 1: a tiny reference trained with the signals; run 2: one trained without them."""
    from grokscope import load_config, train
    from grokscope.store import Store

    path = tmp_path_factory.mktemp("warn-live") / "runs.db"
    store = Store(path)
    for sig in ("true", "false"):
        train(load_config(preset="pair-mod67", overrides=[*TINY, f"train.signals={sig}"]), store=store)
    return path


def _n_runs(path) -> int:
    from grokscope.store import Store

    return len(Store(path).list_runs())


def test_train_shows_the_prediction_once_past_the_window(run_cli, ref_store):
    n = _n_runs(ref_store)
    args = ["train", "--preset", "pair-mod67", *[a for kv in TINY for a in ("--set", kv)], "--set", "n_members=6",
            "--warn-from", "1", "--warn-window", "20", "--store", ref_store]
    code, _, err = run_cli(*args)
    assert code == 0, err
    assert "train.signals turned on" in err
    assert "early warning at W=20 (predictor fitted on run 1" in err
    shown = [line for line in err.splitlines() if line.strip().startswith("member ")]
    assert len(shown) >= 4 and all("P(gen)" in line or "generalized" in line for line in shown)
    assert "and 2 more members" in err  # 6 members: 4 by name, the rest counted
    assert "warn: P(gen)>=0.5" in err  # the summary in the progress line
    from grokscope.store import Store

    s = Store(ref_store)
    assert _n_runs(ref_store) == n + 1 and s.get_run(n + 1).config["train"]["signals"] is True


@pytest.mark.parametrize("extra, needle", [
    (["--warn-from", "2"], "train.signals"),  # a reference without the signals
    (["--warn-from", "99"], "99"),  # no such run
    (["--warn-from", "no-such-sweep"], "no-such-sweep"),
    (["--warn-from", "1", "--warn-window", "40"], "--warn-window 40"),  # W beyond the reference's runs
    (["--warn-from", "1", "--set", "train.signals=false"], "train.signals=false"),
    (["--warn-window", "20"], "--warn-from"),
])
def test_bad_reference_is_one_line_exit_2_and_nothing_stored(run_cli, ref_store, extra, needle):
    n = _n_runs(ref_store)
    code, _, err = run_cli("train", "--preset", "pair-mod67", *[a for kv in TINY for a in ("--set", kv)], *extra,
                             "--store", ref_store)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    assert _n_runs(ref_store) == n


def test_live_predictions_equal_the_offline_prediction_of_the_stored_run(ref_store, tmp_path):
    """What the display shows at W is what `grokscope warn RUN --train REF` computes afterwards from the store."""
    from grokscope import load_config, train
    from grokscope.store import Store
    from grokscope.warn import LiveWarning, fit_reference, load_members, predict_fitted

    store = Store(ref_store)
    fit = fit_reference(load_members(store, "1"), 20, n_boot=5)
    hook = LiveWarning(fit, 20, budget=40)
    cfg = load_config(preset="pair-mod67", overrides=[*TINY, "train.signals=true", "seed=5"])
    result = train(cfg, store=Store(tmp_path / "live.db"), hooks=[hook])
    assert hook.predicted_at == 20 and len(hook.predictions) == 4
    offline = predict_fitted(fit, load_members(Store(tmp_path / "live.db"), str(result.run_id)), 20)
    for live, off in zip(hook.predictions, offline):
        assert live.known == off.known
        for k in ("p", "p_lo", "p_hi", "step", "step_lo", "step_hi"):
            np.testing.assert_allclose(getattr(live, k), getattr(off, k), rtol=1e-9, equal_nan=True)
    gen = [m["gen_step"] if m["gen_step"] is not None else -1 for m in result.members]
    assert hook.gen_step.tolist() == gen
    # A resumed run's hook is given the stored history and re-evaluates the last stored step: same prediction.
    steps, metrics = Store(tmp_path / "live.db").metrics(result.run_id)
    again = LiveWarning(fit, 20, budget=40)
    again.prefill(steps[steps < 20], {k: v[steps < 20] for k, v in metrics.items()}, 4)
    again.setup(4)  # what the loop does on resume: the prefilled history stays
    from grokscope.train._hooks import EvalContext

    ctx = EvalContext(step=20, total=40, active=np.ones(4, bool), diverged_step=np.full(4, -1))
    k = int(np.nonzero(steps == 20)[0][0])
    again(int(steps[k - 1]), {n: v[k - 1] for n, v in metrics.items()}, ctx)  # re-done after the resume
    again(20, {n: v[k] for n, v in metrics.items()}, ctx)
    assert [p.p for p in again.predictions] == pytest.approx([p.p for p in hook.predictions], rel=1e-9)
