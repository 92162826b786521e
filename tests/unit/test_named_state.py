"""Optimizer state keyed by the transforms' names, and the position-keyed state of grokscope 0.1.0."""

import pytest
import torch

from grokscope.errors import ConfigError
from grokscope.train import (
    FusedAdamW,
    Optimizer,
    adam,
    adamw,
    chain,
    named_chain,
    scale_by_adam,
    scale_by_lr,
    sgd,
)

N_MEMBERS = 3
SHAPES = {"W_E": (4, 3), "W_in": (3, 5), "b_in": (5,)}
LRS = [1e-2, 3e-2, 0.1]
WDS = [0.5, 0.0, 1.0]
TOL = dict(rtol=1e-12, atol=1e-14)


def make_params(seed):
    gen = torch.Generator().manual_seed(seed)
    return {n: torch.randn(N_MEMBERS, *s, generator=gen, dtype=torch.float64) for n, s in SHAPES.items()}


def make_grads(n, seed):
    gen = torch.Generator().manual_seed(seed)
    return [{k: torch.randn(N_MEMBERS, *s, generator=gen, dtype=torch.float64) for k, s in SHAPES.items()}
            for _ in range(n)]


@pytest.mark.parametrize("build, keys", [
    (lambda: adamw(1e-3, warmup_steps=5, fused=False), {"adam.count", "adam.mu", "adam.nu", "lr.count"}),
    (lambda: adamw(1e-3, grokfast=(0.9, 2.0), clip_norm=1.0),
     {"grokfast.count", "grokfast.ema", "adam.count", "adam.mu", "adam.nu"}),
    (lambda: adam(1e-3, weight_decay=0.1), {"adam.count", "adam.mu", "adam.nu"}),
    (lambda: sgd(0.1, momentum=0.9, warmup_steps=2), {"momentum.buf", "lr.count"}),
    (lambda: sgd(0.1), set()),
])
def test_state_is_keyed_by_the_transform_names(build, keys):
    opt = build()
    state = opt.init(make_params(0))
    assert set(state) == keys
    assert set(opt.state_dict(state)) == keys


def test_adding_a_stateless_transform_keeps_every_key():
    # With position keys, putting a clip in front renamed Adam's moments from "0.mu" to "1.mu".
    plain = adamw(1e-3, warmup_steps=5, fused=False).init(make_params(0))
    clipped = adamw(1e-3, warmup_steps=5, clip_norm=1.0).init(make_params(0))
    assert set(plain) == set(clipped)


def torch_adamw_members(params, grads, n_steps, warmup):
    """Each member alone under torch.optim.AdamW + Nanda et al.'s LambdaLR warmup, for n_steps updates."""
    out = []
    for i in range(N_MEMBERS):
        mine = {k: v[i].clone().requires_grad_(True) for k, v in params.items()}
        opt = torch.optim.AdamW(list(mine.values()), lr=LRS[i], weight_decay=WDS[i], betas=(0.9, 0.98))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: min(1.0, t / warmup))
        for g in grads[:n_steps]:
            for k, p in mine.items():
                p.grad = g[k][i].clone()
            opt.step()
            sched.step()
        out.append((mine, opt))
    return out


@pytest.mark.parametrize("fused", [False, True])
def test_a_position_keyed_state_built_by_hand_resumes_like_torch(fused):
    """grokscope 0.1.0 stored AdamW's chain state as {"0.count", "0.mu", "0.nu", "2.count"}: Adam first,
    the decay second (no state), the lr warmup third, moments packed [model, n_params] in parameter
    order. Build that dict from torch.optim.AdamW's own moments after 5 updates, load it, and the
    next updates must equal torch's."""
    params, grads, warmup, k0 = make_params(1), make_grads(12, 2), 4, 5
    members = torch_adamw_members(params, grads, k0, warmup)
    exp_avg = [[opt.state[p]["exp_avg"] for p in mine.values()] for mine, opt in members]
    exp_avg_sq = [[opt.state[p]["exp_avg_sq"] for p in mine.values()] for mine, opt in members]
    count = torch.full((N_MEMBERS,), k0, dtype=torch.int64)
    old = {"0.count": count.clone(), "0.mu": torch.stack([torch.cat([t.reshape(-1) for t in m]) for m in exp_avg]),
           "0.nu": torch.stack([torch.cat([t.reshape(-1) for t in m]) for m in exp_avg_sq]), "2.count": count.clone()}
    p_ours = {k: torch.stack([mine[k].detach() for mine, _ in members]) for k in SHAPES}

    opt = adamw(torch.tensor(LRS, dtype=torch.float64), torch.tensor(WDS, dtype=torch.float64), b2=0.98,
                warmup_steps=warmup, fused=fused)
    assert isinstance(opt, FusedAdamW if fused else Optimizer)
    opt.init(p_ours)
    state = opt.load_state(old)
    if not fused:
        assert set(state) == {"adam.count", "adam.mu", "adam.nu", "lr.count"}
        assert torch.equal(state["adam.mu"], old["0.mu"]) and torch.equal(state["lr.count"], count)
    for g in grads[k0:]:
        state = opt.step(p_ours, g, state)

    ref = torch_adamw_members(params, grads, len(grads), warmup)
    for i, (mine, _) in enumerate(ref):
        for k in SHAPES:
            torch.testing.assert_close(p_ours[k][i], mine[k].detach(), **TOL, msg=f"member {i} {k}")


def test_a_position_keyed_grokfast_state_continues_bit_exactly():
    # 0.1.0's grokfast AdamW chain: 0 grokfast (count, ema), 1 adam, 2 decay, 3 lr warmup.
    params, grads = make_params(3), make_grads(10, 4)
    make = lambda: adamw(LRS, WDS, warmup_steps=3, grokfast=(0.9, 2.0))  # noqa: E731
    p_ref = {k: v.clone() for k, v in params.items()}
    opt = make()
    state = opt.init(p_ref)
    for g in grads[:4]:
        state = opt.step(p_ref, g, state)
    renamed = {"grokfast": "0", "adam": "1", "lr": "3"}
    old = {f"{renamed[k.split('.')[0]]}.{k.split('.')[1]}": v.clone() for k, v in opt.state_dict(state).items()}
    assert set(old) == {"0.count", "0.ema", "1.count", "1.mu", "1.nu", "3.count"}
    p_resumed = {k: v.clone() for k, v in p_ref.items()}
    for g in grads[4:]:
        state = opt.step(p_ref, g, state)

    opt2 = make()
    opt2.init(p_resumed)
    state2 = opt2.load_state(old)
    for g in grads[4:]:
        state2 = opt2.step(p_resumed, g, state2)
    for k in SHAPES:
        assert torch.equal(p_resumed[k], p_ref[k]), k
    for k in state:
        assert torch.equal(state2[k], state[k]), k


def test_the_state_still_answers_to_position_keys():
    opt = adamw(1e-3, warmup_steps=2, grokfast=(0.9, 1.0))
    state = opt.step(make_params(5), make_grads(1, 6)[0], opt.init(make_params(5)))
    assert state["1.mu"] is state["adam.mu"] and state["0.ema"] is state["grokfast.ema"]
    assert state["3.count"] is state["lr.count"]
    assert "1.mu" not in state and "1.mu" not in opt.state_dict(state)
    with pytest.raises(KeyError):
        state["2.count"]  # the decay had no state then either


def test_a_state_of_another_optimizer_is_refused_with_one_line():
    opt = adamw(1e-3, warmup_steps=2, fused=False)
    opt.init(make_params(0))
    for bad in ({"0.mu": torch.zeros(3, 32, dtype=torch.float64)},
                {"grokfast.ema": torch.zeros(3, 32, dtype=torch.float64)}):
        with pytest.raises(ConfigError, match="different optimizer config") as info:
            opt.load_state(bad)
        assert "\n" not in str(info.value)


def test_fused_adamw_resumes_a_named_chain_state():
    params, grads = make_params(7), make_grads(9, 8)
    chain_opt = adamw(LRS, WDS, warmup_steps=3, fused=False)
    p_chain = {k: v.clone() for k, v in params.items()}
    state = chain_opt.init(p_chain)
    for g in grads[:4]:
        state = chain_opt.step(p_chain, g, state)
    fused = adamw(LRS, WDS, warmup_steps=3, fused=True)
    p_fused = {k: v.clone() for k, v in p_chain.items()}
    fused.init(p_fused)
    f_state = fused.load_state(chain_opt.state_dict(state))
    for g in grads[4:]:
        state = chain_opt.step(p_chain, g, state)
        f_state = fused.step(p_fused, g, f_state)
    for k in SHAPES:
        torch.testing.assert_close(p_fused[k], p_chain[k], **TOL)


def test_chain_is_named_by_position_and_named_chain_checks_its_names():
    assert set(chain(scale_by_adam(), scale_by_lr(1.0, 2)).init(torch.zeros(2, 3))) == {
        "0.count", "0.mu", "0.nu", "1.count"}
    cases = [
        ([("adam", scale_by_adam()), ("adam", scale_by_lr(1.0))], "unique"),
        ([("a.b", scale_by_adam())], "without '.'"),
        ([("", scale_by_adam())], "non-empty"),
        ([("adam", "scale_by_adam")], "not a Transform"),
    ]
    for bad, match in cases:
        with pytest.raises(ConfigError, match=match):
            named_chain(*bad)
