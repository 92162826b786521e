"""Evaluation hooks: their values are stored like the built-in metrics, their state survives a
resume, and their requests (stop, retire) are honoured.

References: a hook's stored values equal the quantity recomputed from the stored checkpoints and
metrics (a per-member weight mean, a running maximum); a retired member's weights stay exactly
those of the step it was retired at; an interrupted run with a stateful hook resumes to the
uninterrupted numbers.
"""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch

from grokscope.config import load_config
from grokscope.errors import ConfigError
from grokscope.store import Store
from grokscope.train import EvalHook, GrokkingHook, HookBase, train

STEPS = 30
BASE = ["task.p=7", "task.train_frac=0.5", "dtype=float64", f"train.steps={STEPS}", "model.d_embed=8",
        "model.d_hidden=16", "optim.lr=1e-2", f"log.dense_until={STEPS}", f"log.n_checkpoints={STEPS + 1}",
        "n_members=3", "member_seeds=[1, 2, 3]", "train.batch_size=8"]


def _cfg(*more):
    return load_config(overrides=[*BASE, *more])


class EmbedMean:
    """Stateless: each member's mean embedding weight, read from ``ctx.model``."""

    name = "embed_mean"

    def setup(self, n_members):
        pass

    def __call__(self, step, metrics, ctx):
        return {"embed_mean": ctx.model.embed.W_E.detach().double().mean(dim=(1, 2)).cpu().numpy()}

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass

    def member_fields(self, ctx):
        return []


class BestTestAcc:
    """Stateful: the running maximum of each member's test accuracy, and how many evaluations it saw."""

    name = "best_test_acc"

    def setup(self, n_members):
        self.best = np.full(n_members, -np.inf)
        self.calls = 0

    def __call__(self, step, metrics, ctx):
        self.best = np.maximum(self.best, metrics["test_acc"])
        self.calls += 1
        return {"best_test_acc": self.best.copy(), "n_evals_seen": float(self.calls)}

    def state_dict(self):
        return {"best": self.best.copy(), "calls": self.calls}

    def load_state_dict(self, state):
        self.best, self.calls = np.asarray(state["best"]).copy(), int(state["calls"])

    def member_fields(self, ctx):
        return [{"best_test_acc": float(b)} for b in self.best]


class Requests(HookBase):
    """Retires member 1 at ``retire_at`` and stops the run at ``stop_at``."""

    name = "requests"

    def __init__(self, retire_at, stop_at):
        self.retire_at, self.stop_at = retire_at, stop_at

    def setup(self, n_members):
        self.n = n_members

    def __call__(self, step, metrics, ctx):
        if step == self.retire_at:
            ctx.retire(np.arange(self.n) == 1)
        if step == self.stop_at:
            ctx.request_stop("test")
        return None


def test_the_hooks_here_and_the_grokking_hook_satisfy_the_protocol():
    for hook in (EmbedMean(), BestTestAcc(), Requests(1, 2), GrokkingHook()):
        assert isinstance(hook, EvalHook)


def test_hook_values_are_stored_like_metrics(store_path):
    store = Store(store_path)
    res = train(_cfg(), store, hooks=[EmbedMean(), BestTestAcc()])
    steps, stored = store.metrics(res.run_id)
    assert {"embed_mean", "best_test_acc", "n_evals_seen", "train_acc", "weight_norm"} <= set(stored)
    for k in ("embed_mean", "best_test_acc"):
        np.testing.assert_array_equal(stored[k], res.metrics[k])
    ckpts = store.checkpoint_steps(res.run_id)
    assert len(ckpts) > 10
    for i, s in enumerate(steps):  # recomputed from the stored weights
        if int(s) not in ckpts:
            continue
        w = store.load_checkpoint(res.run_id, int(s))["embed.W_E"].double()
        np.testing.assert_allclose(stored["embed_mean"][i], w.mean(dim=(1, 2)).numpy(), rtol=1e-12)
    np.testing.assert_array_equal(stored["best_test_acc"], np.maximum.accumulate(stored["test_acc"], axis=0))
    np.testing.assert_array_equal(stored["n_evals_seen"][:, 0], np.arange(1, len(steps) + 1))
    assert [m["best_test_acc"] for m in store.members(res.run_id)] == stored["best_test_acc"][-1].tolist()


def _interrupt_at(step):
    def progress(ev):
        if ev["step"] == step:
            os.kill(os.getpid(), signal.SIGINT)  # the loop stops at the next clean point and flushes

    return progress


def test_a_hooks_state_survives_an_interrupted_run(store_path):
    store = Store(store_path)
    full = train(_cfg(), store, hooks=[BestTestAcc()])
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(), store, hooks=[BestTestAcc()], progress=_interrupt_at(12))
    run = full.run_id + 1
    saved = store.load_resume(run)
    assert saved["step"] == 13 and saved["hooks"]["best_test_acc"]["calls"] == 13
    train(_cfg(), store, resume=run, hooks=[BestTestAcc()])
    steps_a, a = store.metrics(full.run_id)
    steps_b, b = store.metrics(run)
    np.testing.assert_array_equal(steps_a, steps_b)
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert store.members(run) == store.members(full.run_id)


def test_a_hook_can_retire_members_and_stop_the_run(store_path):
    store = Store(store_path)
    res = train(_cfg(), store, hooks=[Requests(retire_at=5, stop_at=12)])
    assert res.summary["final_step"] == 12 and res.steps[-1] == 12
    assert store.checkpoint_steps(res.run_id)[-1] == 12
    frozen = store.load_checkpoint(res.run_id, 5)
    later = [s for s in store.checkpoint_steps(res.run_id) if s > 5]
    assert len(later) >= 5
    for s in later:
        ck = store.load_checkpoint(res.run_id, s)
        for k in ck:
            assert torch.equal(ck[k][1], frozen[k][1]), (s, k)  # retired: never updated again
            assert not torch.equal(ck[k][0], frozen[k][0]) or k.endswith("b_U"), (s, k)  # the others move on
    assert not res.members[1]["diverged"] and res.summary["n_diverged"] == 0


def test_hook_mistakes_are_one_line_errors():
    class Clash(EmbedMean):
        def __call__(self, step, metrics, ctx):
            return {"train_acc": np.zeros(3)}

    with pytest.raises(ConfigError, match="hook 'embed_mean' returned metric 'train_acc'"):
        train(_cfg("train.steps=2"), hooks=[Clash()])
    with pytest.raises(ConfigError, match="each hook needs its own name"):
        train(_cfg("train.steps=2"), hooks=[EmbedMean(), EmbedMean()])
