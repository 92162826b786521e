"""The early-warning signals (grokscope.train._signals) against closed forms and plain references."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from grokscope import load_config, train
from grokscope.train import HookBase
from grokscope.train._signals import (
    CYCLE_REL,
    HJORTH_WINDOW,
    LOSS_FLOOR,
    RESTRICT_K,
    SLOW_ALPHA,
    SignalsHook,
    detrend,
    gini,
    hjorth,
    loss_spikes,
    norm_cycles,
)


@pytest.mark.parametrize("amp, period", [(1.0, 20), (3.0, 7.5), (0.2, 50)])
def test_hjorth_of_a_sinusoid_is_its_closed_form(amp, period):
    w = 2 * np.pi / period
    x = amp * np.sin(w * np.arange(6000) + 0.3)
    a, m, c = hjorth(x)
    # var(A sin) = A²/2; Δ of A sin(wn) is a sinusoid of amplitude 2A sin(w/2); complexity 1
    assert a == pytest.approx(amp ** 2 / 2, rel=2e-3)
    assert m == pytest.approx(2 * np.sin(w / 2), rel=2e-3)
    assert c == pytest.approx(1.0, rel=2e-3)


def test_hjorth_of_white_noise_is_its_closed_form():
    x = 2.0 * np.random.default_rng(0).standard_normal(400_000)
    a, m, c = hjorth(x)
    # var(Δx) = 2σ², var(Δ²x) = 6σ²: mobility √2, complexity √(6/2)/√2 = √(3/2)
    assert a == pytest.approx(4.0, rel=1e-2)
    assert m == pytest.approx(np.sqrt(2.0), rel=1e-2)
    assert c == pytest.approx(np.sqrt(1.5), rel=1e-2)


def test_detrend_removes_a_line_exactly_and_works_per_row():
    t = np.arange(50.0)
    x = np.stack([3.0 - 0.2 * t, np.sin(t) + 5 * t])  # [2, 50]
    d = detrend(x)
    assert np.abs(d[0]).max() < 1e-12
    ref = np.sin(t) - np.polyval(np.polyfit(t, np.sin(t), 1), t)  # numpy's least-squares line
    np.testing.assert_allclose(d[1], ref, atol=1e-10)


def test_gini_against_the_mean_absolute_difference_definition():
    rng = np.random.default_rng(1)
    for x in (np.array([0.0, 1, 2, 3]), rng.exponential(size=17), np.eye(9)[3]):
        n = len(x)
        ref = np.abs(x[:, None] - x[None, :]).sum() / (2 * n * n * x.mean())
        assert gini(x) == pytest.approx(ref, rel=1e-12)
    assert gini(np.ones(5)) == 0.0 and gini(np.eye(5)[0]) == pytest.approx(0.8)


def test_slingshot_spike_detector_finds_planted_spikes_and_ignores_noise():
    rng = np.random.default_rng(2)
    loss = np.exp(-np.linspace(0, 12, 600)) * np.exp(rng.uniform(-0.5, 0.5, 600))  # noise: < 3x
    for k in (150, 300, 451):
        loss[k:k + 4] *= 1e3  # a slingshot spike: three decades for four evaluations
    assert loss_spikes(loss).tolist() == [150, 300, 451]
    assert loss_spikes(np.exp(-np.linspace(0, 12, 600))).tolist() == []


def test_norm_cycles_counts_rise_and_fall_cycles_not_noise():
    rng = np.random.default_rng(3)
    t = np.arange(900)
    saw = 10 * (1 + 0.5 * ((t % 300) / 300))  # three slow rises by 50%, each followed by a sudden drop
    assert norm_cycles(saw * np.exp(rng.uniform(-0.02, 0.02, t.size))) == 2  # the third never falls
    assert norm_cycles(np.r_[saw, 10.0]) == 3
    assert norm_cycles(10 * np.exp(rng.uniform(-CYCLE_REL / 3, CYCLE_REL / 3, 500))) == 0


def test_restricted_loss_keeps_the_top_frequencies_along_the_class_axis():
    p, n = 11, 30
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(2, n, p))
    c = np.arange(p)
    logits[0] += 4 * np.cos(2 * np.pi * 3 * c / p)  # member 0: frequency 3 dominates
    labels = rng.integers(0, p, size=(2, n))
    on = np.ones((2, n))
    on[1, -5:] = 0  # padding rows of member 1 do not count
    got = SignalsHook._restricted_loss(torch.tensor(logits), torch.tensor(labels), torch.tensor(on), p).numpy()
    for m in range(2):  # reference: numpy's FFT, top-K frequencies by energy over the member's rows
        f = np.fft.rfft(logits[m], axis=-1)  # [n, p//2 + 1]
        energy = (np.abs(f[on[m] > 0]) ** 2).sum(0)
        keep = 1 + np.argsort(-energy[1:])[:RESTRICT_K]
        g = np.zeros_like(f)
        g[:, 0], g[:, keep] = f[:, 0], f[:, keep]
        r = np.fft.irfft(g, n=p, axis=-1)
        ce = -(r[np.arange(n), labels[m]] - np.log(np.exp(r).sum(-1)))
        assert got[m] == pytest.approx((ce * on[m]).sum() / on[m].sum(), rel=1e-5)


def test_fourier_gini_of_an_embedding_on_one_frequency():
    p = 13
    a = np.arange(p)
    one = np.stack([np.cos(2 * np.pi * 2 * a / p), np.sin(2 * np.pi * 2 * a / p)], 1)  # [p, 2]: frequency 2 only
    emb = torch.tensor(np.stack([one, np.random.default_rng(5).normal(size=(p, 2))]))  # [model, p, d]
    g = SignalsHook._fourier_gini(SimpleNamespace(embedding=emb), p)
    k = (p - 1) // 2
    assert g[0] == pytest.approx(1 - 1 / k, abs=1e-9)  # one of K frequencies carries everything
    assert g[1] < 1 - 1 / k - 0.1


def test_slow_gradient_is_grokfasts_ema_of_every_update():
    from grokscope.models import PairMLPConfig, PairMLPEnsemble

    ens = PairMLPEnsemble(PairMLPConfig(p=5, d_embed=3, d_hidden=4), n_models=2).init_([0, 1])
    hook = SignalsHook()
    hook.setup(2)
    hook._attach(SimpleNamespace(model=ens, cfg=None))
    hook._rows_next = torch.arange(2)
    rng = torch.Generator().manual_seed(0)
    ref = {n: None for n, _ in ens.named_parameters()}
    for _ in range(5):  # loss = Σ <c, p>: the gradient of every parameter is c
        cs = {n: torch.randn(p.shape, generator=rng, dtype=p.dtype) for n, p in ens.named_parameters()}
        for p in ens.parameters():
            p.grad = None
        sum((p * cs[n]).sum() for n, p in ens.named_parameters()).backward()
        ref = {n: cs[n].clone() if h is None else SLOW_ALPHA * h + (1 - SLOW_ALPHA) * cs[n] for n, h in ref.items()}
    for n, h in ref.items():
        torch.testing.assert_close(hook.ema[n], h)


def test_the_hook_in_a_run_stores_its_signals_per_member_and_matches_the_offline_rules():
    cfg = load_config(preset="pair-mod67", overrides=["train.steps=60", "n_members=2", "task.p=11",
                                                      "train.signals=true", "threads=1"])
    r = train(cfg, store=None)
    m = r.metrics
    for name in ("sig_loss_mobility", "sig_fourier_gini", "sig_restricted_loss", "sig_slow_grad_norm",
                 "sig_loss_spikes", "sig_norm_cycles", "train_softmax_collapse"):
        assert m[name].shape == (len(r.steps), 2)
        assert np.isfinite(m[name][-1]).all(), name
    for i in range(2):
        x = np.log(np.maximum(m["train_loss"][-HJORTH_WINDOW:, i], LOSS_FLOOR))
        np.testing.assert_allclose([m[k][-1, i] for k in ("sig_loss_activity", "sig_loss_mobility", "sig_loss_complexity")],
                                   hjorth(detrend(x)), rtol=1e-10)
        assert m["sig_loss_spikes"][-1, i] == len(loss_spikes(m["train_loss"][:, i]))
        assert m["sig_norm_cycles"][-1, i] == norm_cycles(m["sig_last_norm"][:, i])


def test_online_slingshot_counts_equal_the_offline_rules():
    rng = np.random.default_rng(6)
    n = 700
    loss = np.stack([np.exp(-np.linspace(0, 10, n)) * np.exp(rng.uniform(-0.5, 0.5, n)) for _ in range(3)], 1)
    loss[200:203, 0] *= 1e3
    loss[400:402, 0] *= 1e2
    loss[500:505, 2] *= 50
    t = np.arange(n)
    norm = np.stack([10 * (1 + 0.5 * ((t % 230) / 230)), 5 * np.exp(rng.uniform(-0.3, 0.3, n)), np.full(n, np.nan)], 1)
    hook = SignalsHook()
    hook.setup(3)
    for k in range(n):
        out = hook._slingshot(loss[k], norm[k])
        hook.hist["train_loss"].append(loss[k])
        hook.hist["sig_last_norm"].append(norm[k])
        if k in (250, n - 1):
            for i in range(3):
                assert out["sig_loss_spikes"][i] == len(loss_spikes(loss[:k + 1, i]))
            assert out["sig_norm_cycles"][:2].tolist() == [norm_cycles(norm[:k + 1, i]) for i in range(2)]
            assert np.isnan(out["sig_norm_cycles"][2])
    assert out["sig_loss_spikes"].tolist() == [2, 0, 1] and out["sig_norm_cycles"][0] == 3


class _InterruptAt(HookBase):  # stops the process at one step
    name = "interrupt"

    def __init__(self, step):
        self.step = step

    def __call__(self, step, metrics, ctx):
        if step == self.step:
            raise KeyboardInterrupt
        return {}


def test_signals_resume_to_the_same_numbers(tmp_path):
    from grokscope.store import Store

    over = ["train.steps=60", "n_members=2", "task.p=11", "train.signals=true", "threads=1", "log.flush_seconds=1e-9",
            "log.n_checkpoints=2"]
    cfg = load_config(preset="pair-mod67", overrides=over)
    store = Store(tmp_path / "runs.db")
    whole = train(cfg, store=store)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, store=store, hooks=[_InterruptAt(37)])  # run 2, killed at an evaluation (dense region)
    train(cfg, store=store, resume=2)
    (s1, m1), (s2, m2) = store.metrics(whole.run_id), store.metrics(2)
    np.testing.assert_array_equal(s1, s2)
    for name in ("sig_loss_mobility", "sig_slow_grad_norm", "sig_restricted_loss", "sig_wnorm_slope", "sig_last_norm"):
        np.testing.assert_array_equal(m2[name], m1[name], err_msg=name)


def test_retired_members_read_nan_and_survivors_signals_are_unchanged():
    over = ["train.steps=400", "n_members=4", "train.signals=true", "train.stop_after_grok=false",
            "task.train_frac=[0.9,0.3,0.8,0.3]", "task.p=23", "threads=1", "log.n_checkpoints=2"]
    retired = train(load_config(preset="demo", overrides=[*over, "train.retire_window=20"]), store=None)
    whole = train(load_config(preset="demo", overrides=over), store=None)
    gone = [i for i, m in enumerate(retired.members) if m.get("retired_step") is not None]
    assert gone == [0]  # the 90% member groks and retires within the budget; the others do not
    for name in ("sig_slow_grad_norm", "sig_restricted_loss", "sig_loss_mobility", "sig_fourier_gini",
                 "sig_norm_cycles", "sig_loss_spikes", "sig_last_norm"):
        for i in gone:
            after = retired.steps > retired.members[i]["retired_step"]
            assert after.any() and np.isnan(retired.metrics[name][after, i]).all(), name
        for i in (1, 3):
            np.testing.assert_array_equal(retired.metrics[name][:, i], whole.metrics[name][:, i], err_msg=name)
