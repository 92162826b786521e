"""Gradient filters (Grokfast-MA, ⊥Grad, normalization) against direct formulas, per member.

References: a deque of the last w gradients and its mean (Lee et al. 2024's ``gradfilter_ma``),
the projection ``g − (θᵀg/θᵀθ)θ`` written with torch's dot products (Prieto et al. 2025), and
``torch.linalg.vector_norm``; every per-member result against a one-member run of the same values.
"""

from __future__ import annotations

from collections import deque

import pytest
import torch

from grokscope.config import load_config
from grokscope.errors import ConfigError
from grokscope.train._filters import grokfast_ma, normalize_grad, orthogonal_grad, with_filters
from grokscope.train._make_optimizer import make_optimizer
from grokscope.train._optim import Optimizer, adamw, sgd

F64 = torch.float64
M, N = 3, 11


def _grads(n_steps: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(M, N, generator=g, dtype=F64) for _ in range(n_steps)]


def _run(t, grads, params=None):
    state = t.init(torch.zeros(M, N, dtype=F64) if params is None else params)
    return [t.update(g.clone(), state, params)[0].clone() for g in grads], state


@pytest.mark.parametrize("warmup", [True, False])
def test_ma_filter_is_the_gradient_plus_lambda_times_a_direct_window_mean(warmup):
    w, lamb = 4, torch.tensor([5.0, 0.0, 0.5], dtype=F64)
    grads = _grads(3 * w + 2)  # wraps the ring three times
    outs, state = _run(grokfast_ma(w, lamb, warmup=warmup), grads)
    assert set(state) == {"buf", "sum", "count"} and all(v.shape[0] == M for v in state.values())
    for m in range(M):
        window = deque(maxlen=w)
        for t, g in enumerate(grads):
            window.append(g[m])
            want = g[m].clone()
            if not warmup or len(window) == w:
                want = want + lamb[m] * (sum(window) / len(window))
            torch.testing.assert_close(outs[t][m], want, rtol=1e-13, atol=1e-13, msg=f"member {m}, step {t}")
    assert torch.equal(torch.stack(outs)[:, 1], torch.stack(grads)[:, 1])  # λ = 0: untouched, bit for bit


@pytest.mark.parametrize("renorm", [False, True])
def test_orthogonal_grad_removes_the_component_along_each_members_weights(renorm):
    g = torch.Generator().manual_seed(1)
    params, grad = torch.randn(M, N, generator=g, dtype=F64), torch.randn(M, N, generator=g, dtype=F64)
    strength = torch.tensor([1.0, 0.0, 1.0], dtype=F64)
    out = orthogonal_grad(strength, renorm).update(grad.clone(), {}, params)[0]
    for m in (0, 2):
        th, gm = params[m], grad[m]
        want = gm - (torch.dot(th, gm) / torch.dot(th, th)) * th
        if renorm:
            want = want * (gm.norm() / want.norm())
        torch.testing.assert_close(out[m], want, rtol=1e-13, atol=1e-13)
        assert abs(float(torch.dot(out[m], th))) < 1e-12 * float(out[m].norm() * th.norm())
    assert torch.equal(out[1], grad[1])  # strength 0: unchanged


def test_an_sgd_step_with_orthogonal_grad_moves_each_member_orthogonally_to_its_weights():
    g = torch.Generator().manual_seed(2)
    params = {"W": torch.randn(M, 4, 3, generator=g, dtype=F64), "b": torch.randn(M, 3, generator=g, dtype=F64)}
    grads = {k: torch.randn(v.shape, generator=g, dtype=F64) for k, v in params.items()}
    before = {k: v.clone() for k, v in params.items()}
    opt = with_filters(sgd(0.1), [("ortho", orthogonal_grad(1.0, renorm=False))])
    opt.step(params, grads, opt.init(params))
    flat = lambda d: torch.cat([v.reshape(M, -1) for v in d.values()], 1)  # noqa: E731
    step, theta = flat(params) - flat(before), flat(before)
    cos = (step * theta).sum(1) / (step.norm(dim=1) * theta.norm(dim=1))
    assert bool((cos.abs() < 1e-12).all()) and bool((step.norm(dim=1) > 0).all())


def test_normalize_grad_sets_each_members_norm_and_leaves_zero_targets_alone():
    grad = _grads(1)[0]
    c = torch.tensor([1.0, 0.0, 3.0], dtype=F64)
    out = normalize_grad(c).update(grad.clone(), {}, None)[0]
    torch.testing.assert_close(torch.linalg.vector_norm(out[[0, 2]], dim=1), c[[0, 2]], rtol=1e-14, atol=0)
    torch.testing.assert_close(out[0], grad[0] / grad[0].norm(), rtol=1e-14, atol=1e-15)
    assert torch.equal(out[1], grad[1])
    assert torch.equal(normalize_grad(2.0).update(torch.zeros(1, 3, dtype=F64), {}, None)[0], torch.zeros(1, 3, dtype=F64))


def _chain(ortho, ma, norm):
    return [("ortho", orthogonal_grad(ortho)), ("ma", grokfast_ma(3, ma)), ("normalize", normalize_grad(norm))]


def test_every_filter_per_member_equals_a_one_member_run_with_that_members_values():
    g = torch.Generator().manual_seed(3)
    params = {"W": torch.randn(M, 4, 3, generator=g, dtype=F64), "b": torch.randn(M, 3, generator=g, dtype=F64)}
    grads = [{k: torch.randn(v.shape, generator=g, dtype=F64) for k, v in params.items()} for _ in range(8)]
    ortho, ma, norm = [1.0, 0.0, 0.5], [5.0, 2.0, 0.0], [0.0, 1.0, 2.0]
    t = lambda v: torch.tensor(v, dtype=F64)  # noqa: E731
    ens = {k: v.clone() for k, v in params.items()}
    opt = with_filters(adamw(1e-2, 0.1, fused=False), _chain(t(ortho), t(ma), t(norm)))
    state = opt.init(ens)
    assert {"ortho", "ma", "normalize", "adam", "weight_decay", "lr"} <= set(opt.transform.names)
    assert {"adam.mu", "ma.buf", "ma.sum", "ma.count"} <= set(state)  # the optimizer's keys unchanged
    for gr in grads:
        state = opt.step(ens, gr, state)
    for m in range(M):
        one = {k: v[m:m + 1].clone() for k, v in params.items()}
        o1 = with_filters(adamw(1e-2, 0.1, fused=False), _chain(ortho[m], ma[m], norm[m]))
        s1 = o1.init(one)
        for gr in grads:
            s1 = o1.step(one, {k: v[m:m + 1] for k, v in gr.items()}, s1)
        for k in params:
            torch.testing.assert_close(ens[k][m], one[k][0], rtol=1e-12, atol=1e-14, msg=f"member {m} {k}")
        for k in s1:
            torch.testing.assert_close(state[k][m], s1[k][0], rtol=1e-12, atol=1e-14, msg=f"member {m} state {k}")


def test_the_config_turns_filters_on_per_member_and_keeps_the_fused_path_otherwise():
    assert type(make_optimizer(load_config(overrides=["n_members=3"]), torch.float32, "cpu")).__name__ == "FusedAdamW"
    cfg = load_config(overrides=["n_members=3", "optim.ortho_grad=[1.0, 0.0, 1.0]", "optim.grokfast_ma_window=5",
                                 "optim.grokfast_ma_lambda=[0.0, 5.0, 5.0]", "optim.normalize_grad=0.5",
                                 "optim.grokfast_alpha=0.98", "optim.grokfast_lambda=[0.0, 0.0, 2.0]"])
    opt = make_optimizer(cfg, torch.float32, "cpu")
    assert isinstance(opt, Optimizer)
    assert opt.transform.names == ("ortho", "ma", "normalize", "grokfast", "adam", "weight_decay", "lr")
    state = opt.init({"W": torch.zeros(3, 2, 2)})
    assert state["ma.buf"].shape == (3, 5, 4) and state["grokfast.ema"].shape == (3, 4)


@pytest.mark.parametrize("overrides,key", [
    (["optim.grokfast_ma_lambda=5.0"], "optim.grokfast_ma_lambda"),  # no window
    (["optim.ortho_grad=1.5"], "optim.ortho_grad"),
    (["optim.normalize_grad=-1"], "optim.normalize_grad"),
    (["optim.grokfast_ma_window=-2"], "optim.grokfast_ma_window"),
])
def test_bad_filter_settings_are_one_line_errors(overrides, key):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=overrides)
    assert key in str(err.value) and "\n" not in str(err.value)


def test_a_per_member_list_of_the_wrong_length_is_refused_before_training():
    cfg = load_config(overrides=["n_members=3", "optim.ortho_grad=[1.0, 0.0]"])
    with pytest.raises(ConfigError, match="optim.ortho_grad.*n_members=3"):
        make_optimizer(cfg, torch.float32, "cpu")



def test_a_run_with_every_filter_trains_and_stores_its_filter_state_per_member(tmp_path):
    from grokscope.store import Store
    from grokscope.train import train

    over = ["task.p=7", "n_members=2", "train.steps=30", "threads=1", "log.n_checkpoints=2",
            "optim.ortho_grad=[1.0, 0.0]", "optim.grokfast_ma_window=4", "optim.grokfast_ma_lambda=[0.0, 5.0]",
            "optim.normalize_grad=[0.0, 1.0]"]
    store = Store(tmp_path / "runs.db")
    result = train(load_config(preset="pair-mod67", overrides=over), store=store)
    assert store.get_run(result.run_id).status == "finished"
    saved = store.load_resume(result.run_id)
    flat = {}
    stack = [saved]
    while stack:  # the optimizer state sits somewhere in the nested resume dict
        d = stack.pop()
        for k, v in d.items():
            (stack.append(v) if isinstance(v, dict) else flat.__setitem__(k, v))
    assert flat["ma.buf"].shape[:2] == (2, 4) and flat["ma.count"].tolist() == [30, 30]
