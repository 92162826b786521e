"""RunState: one way into the store (``to_resume``), one way out (``from_resume``).

- Round trip: a resume state read back from the store, loaded into a fresh ensemble, optimizer,
  generators and hooks, gives back the same resume state, entry for entry (tensors bit-equal).
- A resume state in grokscope 0.1.0's layout (the grokking bookkeeping under ``book``) loads
  into the same state as the version-2 layout carrying the same numbers.
- Loading restores what the next update depends on: the next minibatch drawn equals the one the
  interrupted run would have drawn.
"""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch

from grokscope.config import load_config
from grokscope.models import build_model
from grokscope.seeding import generator, member_seed
from grokscope.store import Store
from grokscope.store._codec import blob_to_resume, resume_to_blob
from grokscope.train import GrokkingHook, RunState, make_optimizer, train

BASE = ["task.p=7", "task.train_frac=0.5", "dtype=float64", "train.steps=30", "model.d_embed=8", "model.d_hidden=16",
        "optim.lr=[1e-2, 1e40]", "log.dense_until=30", "n_members=2", "member_seeds=[5, 6]", "train.batch_size=8",
        "optim.grokfast_alpha=0.9", "optim.grokfast_lambda=1.0",
        "log.transition_checkpoints=0"]  # a hook 0.1.0 did not have (its round trip: test_retire_resume.py)


def _assert_same(a, b, where="state"):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=where)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _fresh(cfg):
    task = cfg.build_task()
    model = build_model(cfg, task, member_seeds=[member_seed(s, 1) for s in cfg.seeds()])
    opt = make_optimizer(cfg, model.dtype, model.device)
    gens = [generator(member_seed(s, 2)) for s in cfg.seeds()]
    return model, opt, gens, [GrokkingHook(cfg.train.stop_after_grok)]


def _interrupted_resume_state(store_path):
    store = Store(store_path)
    cfg = load_config(overrides=BASE)

    def progress(ev):
        if ev["step"] == 20:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        train(cfg, store, progress=progress)
    return cfg, store.load_resume(1)


def test_resume_state_round_trip(store_path):
    cfg, saved = _interrupted_resume_state(store_path)
    assert saved["version"] == 2 and saved["step"] == 21
    assert saved["diverged_step"][1] >= 0 and saved["diverged_step"][0] == -1  # lr 1e40 diverged
    assert saved["active"].tolist() == [True, False]
    state = RunState.from_resume(saved, *_fresh(cfg))
    _assert_same(saved, state.to_resume())
    _assert_same(saved, blob_to_resume(resume_to_blob(state.to_resume())))  # and through the store's codec


def test_a_resume_state_of_grokscope_0_1_0_loads_into_the_same_state(store_path):
    cfg, saved = _interrupted_resume_state(store_path)
    hook = saved["hooks"]["grokking"]
    old = {k: saved[k] for k in ("step", "params", "opt", "rng", "active")}
    old["book"] = {"mem_step": list(hook["mem_step"]), "gen_step": list(hook["gen_step"]),
                   "diverged_step": list(saved["diverged_step"])}
    a = RunState.from_resume(old, *_fresh(cfg)).to_resume()
    _assert_same(saved, a)


def test_loading_restores_the_next_minibatch(store_path):
    cfg, saved = _interrupted_resume_state(store_path)
    state = RunState.from_resume(saved, *_fresh(cfg))
    draws = [torch.rand(4, generator=g, dtype=torch.float64) for g in state.gens]
    # The reference: a generator advanced by hand through the 21 batches of 8 draws the run made.
    for s, d in zip(cfg.seeds(), draws):
        g = generator(member_seed(s, 2))
        for _ in range(21):
            torch.rand(8, generator=g, dtype=torch.float64)
        torch.testing.assert_close(d, torch.rand(4, generator=g, dtype=torch.float64), rtol=0, atol=0)
