"""Un-grokking (generalize -> fall back -> maybe recover), by the stated hysteresis rule:
generalized at test accuracy >= 99%, a fall below 90%, a recovery at >= 99% again."""

from __future__ import annotations

import numpy as np

from grokscope.analysis._relapse import FALL, relapse_fields
from grokscope.train import GrokkingHook
from grokscope.train._hooks import EvalContext


def _run_hook(curves: np.ndarray, steps: list[int], hook: GrokkingHook | None = None) -> GrokkingHook:
    hook = hook or GrokkingHook()
    if not len(hook.gen_step):
        hook.setup(curves.shape[1])
    for s, test in zip(steps, curves):
        ctx = EvalContext(step=s, total=steps[-1], active=np.ones(len(test), bool), diverged_step=np.full(len(test), -1))
        hook(s, {"train_acc": np.ones(len(test)), "test_acc": test}, ctx)
    return hook


def test_the_rule_by_hand_for_every_trajectory():
    steps = [0, 10, 20, 30, 40, 50]
    curves = np.array([  # one column per member (worked out by hand below)
        [0.1, 0.1, 0.1, 0.1, 0.1],
        [0.2, 1.0, 1.0, 1.0, 0.3],
        [0.3, 0.95, 0.5, 0.2, 0.995],
        [0.4, 0.999, 0.995, 0.1, 0.93],
        [0.5, 0.5, 0.2, 0.992, 0.999],
        [0.6, 0.995, 0.95, 0.1, 0.97],
    ])
    hook = _run_hook(curves, steps)
    ctx = EvalContext(step=50, total=50, active=np.ones(5, bool), diverged_step=np.full(5, -1))
    rows = hook.member_fields(ctx)
    # 0: never reaches 99%. 1: generalizes at 10; 95% at 20 is above FALL (no fall); falls at 40, back at 50.
    # 2: falls at 20, back at 30, falls at 40; 95% at 50 is not 99%, so still down. 3: falls at 20, back
    # at 40, falls at 50. 4: generalizes at 20; 93% and 97% stay above FALL.
    assert [r["trajectory"] for r in rows] == ["never", "regrokked", "ungrokked", "ungrokked", "stable"]
    assert [r["relapses"] for r in rows] == [0, 1, 2, 2, 0]
    assert [(r["fall_step"], r["regen_step"]) for r in rows] == [(None, None), (40, 50), (20, 30), (20, 40), (None, None)]
    assert [r["gen_step"] for r in rows] == [None, 10, 10, 10, 20]  # the phase still reads the first crossing
    for j, r in enumerate(rows):  # the offline rule on a stored curve is the same rule
        assert relapse_fields(steps, curves[:, j]) == {k: r[k] for k in ("relapses", "fall_step", "regen_step", "trajectory")}


def test_a_curve_hovering_between_the_thresholds_never_relapses():
    steps = list(range(0, 200, 10))
    rng = np.random.default_rng(0)
    test = np.concatenate([[0.2], rng.uniform(FALL + 1e-3, 1.0, len(steps) - 1)])
    test[1] = 0.999
    assert relapse_fields(steps, test)["relapses"] == 0


def test_resume_from_a_state_saved_before_relapses_were_tracked():
    old = {"mem_step": np.array([5, 5]), "gen_step": np.array([10, -1])}  # grokscope <= this version's state
    hook = GrokkingHook()
    hook.setup(2)
    hook.load_state_dict(old)
    _run_hook(np.array([[0.5, 0.5]]), [20], hook)
    assert hook.relapses.relapses.tolist() == [1, 0] and hook.relapses.fall_step.tolist() == [20, -1]


def test_nan_test_accuracy_neither_falls_nor_recovers():
    assert relapse_fields([0, 1, 2], [1.0, np.nan, np.nan])["trajectory"] == "stable"
