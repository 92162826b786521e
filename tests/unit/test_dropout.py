"""Dropout (``model.dropout``): inverted dropout with explicit, per-member generators.

References: the drop fraction and the mean of the multiplier against the binomial distribution
(bounds of 5 standard deviations); the kept value against its closed form 1/(1 - rate); every
ensemble member against its one-model reference driven by the same generator; rate 0 against the
code path without dropout (bit for bit, and no draw from the generator); a dropout ensemble's
member against the same member trained alone; an interrupted run against the uninterrupted one.
"""

from __future__ import annotations

import math
import os
import signal

import numpy as np
import pytest
import torch

from grokscope.config import load_config
from grokscope.errors import ConfigError
from grokscope.models import build_model
from grokscope.models._common import check_dropout, dropout_mask
from grokscope.seeding import generator
from grokscope.store import Store
from grokscope.tasks import make_task
from grokscope.train import METRICS, train
from grokscope.train._state import RunState

N_UNITS = 200_000


def _gens(seeds):
    return [generator(s) for s in seeds]


def _binomial_ok(k: int, n: int, p: float, z: float = 5.0) -> bool:
    return abs(k - n * p) <= z * math.sqrt(n * p * (1 - p))


# -- the mask: fraction, scaling -------------------------------------------------------------
@pytest.mark.parametrize("rate", [0.05, 0.3, 0.9])
def test_the_drop_fraction_is_binomial_and_kept_units_are_scaled_by_the_closed_form(rate):
    m = dropout_mask((N_UNITS,), rate, generator(7), torch.float64, "cpu")
    dropped = int((m == 0).sum())
    assert _binomial_ok(dropped, N_UNITS, rate)
    assert torch.equal(m[m != 0], torch.full_like(m[m != 0], 1 / (1 - rate)))
    # Inverted scaling keeps the expectation: E[mask] = 1; the sample mean's sd is sqrt(rate / (n (1 - rate))).
    assert abs(float(m.mean()) - 1.0) <= 5 * math.sqrt(rate / (N_UNITS * (1 - rate)))


def test_per_member_rates_drop_per_member_fractions():
    task = make_task("add", p=11)
    cfg = load_config(overrides=["task.p=11", "n_members=3", "model.d_hidden=16", "model.dropout=[0.1, 0.0, 0.6]"])
    ens = build_model(cfg, task)
    ones = torch.ones(3, N_UNITS // 10, 16, dtype=ens.dtype)
    with ens.train_dropout(_gens([1, 2, 3])):
        out = ens._drop(ones)
    n = ones[0].numel()
    for i, rate in enumerate([0.1, 0.0, 0.6]):
        dropped = int((out[i] == 0).sum())
        assert _binomial_ok(dropped, n, rate) if rate > 0 else dropped == 0, (i, dropped)
    assert torch.equal(out[1], ones[1])


# -- member i equals its reference -------------------------------------------------------------
ARCHS = {
    "pair_mlp": ({"kind": "modular", "op": "add", "p": 7}, {"arch": "pair_mlp", "d_embed": 6, "d_hidden": 10}),
    "mlp": ({"kind": "parity", "n_bits": 8, "k": 3, "n_train": 20, "n_test": 10}, {"arch": "mlp", "width": 12, "depth": 2}),
    "feature_mlp": ({"kind": "digits"}, {"arch": "feature_mlp", "width": 12, "depth": 2}),
    "transformer": ({"kind": "modular", "op": "add", "p": 7, "eq_token": True},
                    {"arch": "transformer", "d_model": 16, "n_heads": 2, "d_head": 8, "d_mlp": 24, "n_layers": 2}),
    "transformer_1layer": ({"kind": "modular", "op": "add", "p": 7, "eq_token": True},
                           {"arch": "transformer", "d_model": 16, "n_heads": 2, "d_head": 8, "d_mlp": 24}),
    "transformer_pre": ({"kind": "modular", "op": "add", "p": 7, "eq_token": True},
                        {"arch": "transformer", "d_model": 16, "n_heads": 2, "d_head": 8, "d_mlp": 24,
                         "n_layers": 2, "norm": "pre"}),
}
RATES = [0.25, 0.0, 0.6]


def _ensemble(name: str, rates=RATES):
    task_opts, model = ARCHS[name]
    kind = task_opts["kind"]
    task = make_task(kind, **{k: v for k, v in task_opts.items() if k != "kind"})
    section = {**model, "dropout": rates}
    from types import SimpleNamespace

    cfg = SimpleNamespace(model=section, n_members=len(rates) if isinstance(rates, list) else 3,
                          dtype="float64", device="cpu", seed=0)
    return build_model(cfg, task), task


@pytest.mark.parametrize("name", list(ARCHS))
def test_each_member_with_dropout_equals_its_reference_with_the_same_generator(name):
    ens, task = _ensemble(name)
    x = task.inputs[:40]
    if x.dtype.is_floating_point:
        x = x.to(ens.dtype)
    batch = x.expand(ens.n_models, *x.shape).clone()  # [model, batch, ...] as the trainer feeds it
    with ens.train_dropout(_gens([5, 6, 7])):
        out = ens(batch)  # [model, batch, n_classes]
    clean = ens(batch)
    for i, seed in enumerate([5, 6, 7]):
        ref = ens.member(i)
        assert ref.dropout_rates == [RATES[i]]
        with ref.train_dropout(generator(seed)):
            ref_out = ref(x)
        torch.testing.assert_close(out[i], ref_out, rtol=1e-12, atol=1e-12)
        if RATES[i] > 0:
            assert not torch.allclose(out[i], clean[i]), "dropout changed nothing"
        else:
            assert torch.equal(out[i], clean[i]), "a member at rate 0 must be untouched"


@pytest.mark.parametrize("name", ["pair_mlp", "transformer"])
def test_evaluation_is_deterministic_and_rate_zero_is_the_path_without_dropout(name):
    ens, task = _ensemble(name, rates=0.0)
    x = task.inputs[:30]
    g = generator(3)
    before = g.get_state()
    with ens.train_dropout([g] * ens.n_models):
        inside = ens(x)
    assert torch.equal(inside, ens(x)), "rate 0 must be the code path without dropout, bit for bit"
    assert torch.equal(g.get_state(), before), "rate 0 must not draw from the generator"
    drop, _ = _ensemble(name)
    with drop.train_dropout(_gens([1, 2, 3])):
        drop(x)
    assert drop._dropout_gens is None  # the context ends with the block
    assert torch.equal(drop(x), drop(x)), "outside train_dropout a forward pass is deterministic"


# -- configs --------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["-0.1", "1.0", '"x"', "[0.1, 1.5]", "nan"])
def test_a_bad_rate_is_one_config_error_line(value):
    with pytest.raises(ConfigError) as e:
        load_config(overrides=[f"model.dropout={value}"])
    msg = str(e.value)
    assert "\n" not in msg and "model.dropout" in msg and "[0, 1)" in msg, msg


def test_a_bad_rate_exits_2_on_the_cli(run_cli, cli_env):
    code, _, err = run_cli("train", "--preset", "demo", "--set", "model.dropout=1.0", "--quiet")
    assert code == 2 and "model.dropout" in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_a_rate_list_must_have_one_entry_per_member():
    cfg = load_config(overrides=["task.p=7", "n_members=3", "model.dropout=[0.1, 0.2]"])
    with pytest.raises(ConfigError, match="model.dropout has 2 entries"):
        build_model(cfg, make_task("add", p=7))
    assert check_dropout([0, 0.5]) == (0.0, 0.5) and check_dropout(0) == 0.0


# -- training --------------------------------------------------------------------------------
STEPS = 30
BASE = ["task.p=7", "task.train_frac=0.5", "dtype=float64", f"train.steps={STEPS}", "model.d_embed=8",
        "model.d_hidden=16", "optim.lr=1e-2", "optim.warmup_steps=5", f"log.dense_until={STEPS}",
        "log.n_checkpoints=4", "threads=1"]


def _cfg(*more):
    return load_config(overrides=[*BASE, *more])


def test_an_ensemble_member_with_dropout_trains_like_it_trains_alone(store_path):
    store = Store(store_path)
    ens = train(_cfg("n_members=3", "member_seeds=[11, 22, 33]", "model.dropout=[0.3, 0.0, 0.5]",
                     "train.batch_size=8"), store)
    plain = train(_cfg("n_members=1", "member_seeds=[33]", "train.batch_size=8"), store)
    for i, (seed, rate) in enumerate([(11, 0.3), (22, 0.0), (33, 0.5)]):
        single = train(_cfg("n_members=1", f"member_seeds=[{seed}]", f"model.dropout={rate}", "train.batch_size=8"), store)
        for k in METRICS:
            np.testing.assert_allclose(ens.metrics[k][:, i], single.metrics[k][:, 0], rtol=1e-9, atol=1e-11, err_msg=k)
    # Dropout changed member 2's training (the comparison above could not pass by accident).
    assert not np.allclose(ens.metrics["train_loss"][1:, 2], plain.metrics["train_loss"][1:, 0])


def test_a_run_without_dropout_keeps_its_resume_format(store_path):
    store = Store(store_path)
    run = train(_cfg("n_members=2", "model.dropout=0.0"), store).run_id
    assert "dropout_rng" not in store.load_resume(run)
    run = train(_cfg("n_members=2", "model.dropout=[0.0, 0.2]"), store).run_id
    assert len(store.load_resume(run)["dropout_rng"]) == 2


def test_ctrl_c_then_resume_with_dropout_gives_the_uninterrupted_numbers(store_path):
    store = Store(store_path)
    cfg = _cfg("n_members=3", "train.batch_size=8", "model.dropout=[0.2, 0.0, 0.5]", "log.n_checkpoints=10")
    full = train(cfg, store)

    def progress(ev):
        if ev["step"] == 17:
            os.kill(os.getpid(), signal.SIGINT)  # the loop stops at its next clean point

    with pytest.raises(KeyboardInterrupt):
        train(cfg, store, progress=progress)
    run = full.run_id + 1
    assert store.load_resume(run)["step"] == 18
    train(cfg, store, resume=run)
    steps_a, m_a = store.metrics(full.run_id)
    steps_b, m_b = store.metrics(run)
    np.testing.assert_array_equal(steps_a, steps_b)
    for k in m_a:
        np.testing.assert_array_equal(m_a[k], m_b[k], err_msg=k)
    for s in store.checkpoint_steps(full.run_id):
        a, b = store.load_checkpoint(full.run_id, s), store.load_checkpoint(run, s)
        assert all(torch.equal(a[k], b[k]) for k in a), s


def test_retirement_keeps_each_members_dropout_generator_in_the_resume_state():
    task = make_task("add", p=7)
    cfg = _cfg("n_members=3", "model.dropout=0.3")
    from grokscope.train._make_optimizer import make_optimizer

    model = build_model(cfg, task)
    opt = make_optimizer(cfg, model.dtype, model.device)
    drops = _gens([1, 2, 3])
    for g, n in zip(drops, (1, 2, 3)):
        torch.rand(n, generator=g)  # three different states
    expected = [g.get_state() for g in drops]
    state = RunState.new(model, opt, _gens([4, 5, 6]), [], drops)
    state.retire(np.array([False, True, False]))
    assert len(state.dropout_gens) == 2
    saved = state.to_resume()
    assert all(torch.equal(a, b) for a, b in zip(saved["dropout_rng"], expected))
    back = RunState.from_resume(saved, build_model(cfg, task), make_optimizer(cfg, model.dtype, model.device),
                                _gens([4, 5, 6]), [], _gens([0, 0, 0]))
    assert [int(r) for r in back.rows] == [0, 2]
    assert all(torch.equal(g.get_state(), expected[m]) for g, m in zip(back.dropout_gens, (0, 2)))
