"""Batched optimizers against torch.optim run member by member, and hand-written formulas."""

import io

import pytest
import torch

from grokscope.errors import ConfigError, GrokscopeError
from grokscope.train._fused import MAX_GROUPS, FusedAdamW
from grokscope.train._optim import Optimizer, adam, adamw, sgd
from grokscope.train._transforms import (
    add_decayed_weights,
    chain,
    grokfast_ema,
    scale_by_adam,
    scale_by_lr,
    trace,
)

N_MEMBERS = 4
SHAPES = {"W_E": (5, 3), "W_in": (3, 7), "b_in": (7,), "W_U": (7, 2, 2)}
N_STEPS = 12
TOL = dict(rtol=1e-12, atol=1e-14)


def make_params(seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return {n: torch.randn(N_MEMBERS, *s, generator=gen, dtype=dtype) for n, s in SHAPES.items()}


def make_grads(n_steps, seed=1, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return [{n: torch.randn(N_MEMBERS, *s, generator=gen, dtype=dtype) for n, s in SHAPES.items()}
            for _ in range(n_steps)]


def run_ours(opt, params, grads_seq):
    params = {n: p.clone() for n, p in params.items()}
    state = opt.init(params)
    for grads in grads_seq:
        state = opt.step(params, grads, state)
    return params, state


def run_torch_member(i, make_opt, params, grads_seq, make_sched=None, grad_fn=None):
    """Member i trained alone by a torch.optim optimizer (the trusted reference)."""
    mine = {n: p[i].clone().requires_grad_(True) for n, p in params.items()}
    opt = make_opt(list(mine.values()))
    sched = make_sched(opt) if make_sched else None
    for grads in grads_seq:
        for n, p in mine.items():
            p.grad = grads[n][i].clone()
        if grad_fn is not None:
            grad_fn(mine)
        opt.step()
        if sched is not None:
            sched.step()
    return {n: p.detach() for n, p in mine.items()}


def assert_members_match(ours, ref_fn, tol=TOL):
    for i in range(N_MEMBERS):
        ref = ref_fn(i)
        for n in SHAPES:
            torch.testing.assert_close(ours[n][i], ref[n], **tol, msg=f"member {i} param {n}")


LRS = torch.tensor([1e-3, 3e-2, 0.1, 0.0], dtype=torch.float64)
WDS = torch.tensor([0.0, 1.0, 0.3, 5.0], dtype=torch.float64)


@pytest.mark.parametrize("fused", [True, False])
def test_adamw_per_member_hyperparameters_match_torch_adamw(fused):
    params, grads = make_params(), make_grads(N_STEPS)
    ours, _ = run_ours(adamw(lr=LRS, weight_decay=WDS, fused=fused), params, grads)
    assert_members_match(ours, lambda i: run_torch_member(
        i, lambda ps: torch.optim.AdamW(ps, lr=LRS[i].item(), weight_decay=WDS[i].item()), params, grads))


def test_adamw_per_member_betas_and_eps_match_torch_adamw():
    b1 = torch.tensor([0.9, 0.5, 0.0, 0.99], dtype=torch.float64)
    b2 = torch.tensor([0.999, 0.98, 0.9, 0.5], dtype=torch.float64)
    eps = torch.tensor([1e-8, 1e-3, 1e-6, 0.1], dtype=torch.float64)
    params, grads = make_params(2), make_grads(N_STEPS, 3)
    ours, _ = run_ours(adamw(lr=0.05, weight_decay=0.5, b1=b1, b2=b2, eps=eps), params, grads)
    assert_members_match(ours, lambda i: run_torch_member(
        i, lambda ps: torch.optim.AdamW(ps, lr=0.05, weight_decay=0.5, betas=(b1[i].item(), b2[i].item()),
                                        eps=eps[i].item()), params, grads))


@pytest.mark.parametrize("fused", [True, False])
def test_adamw_float32_matches_torch_to_float32_precision(fused):
    # Guards the bias corrections: computed in float32 they drift by ~1e-5 relative.
    params, grads = make_params(dtype=torch.float32), make_grads(N_STEPS, dtype=torch.float32)
    ours, _ = run_ours(adamw(lr=LRS.float(), weight_decay=WDS.float(), fused=fused), params, grads)
    assert_members_match(ours, lambda i: run_torch_member(
        i, lambda ps: torch.optim.AdamW(ps, lr=LRS[i].item(), weight_decay=WDS[i].item()), params, grads),
        tol=dict(rtol=2e-6, atol=2e-6))


def test_adam_coupled_decay_matches_torch_adam():
    params, grads = make_params(4), make_grads(N_STEPS, 5)
    ours, _ = run_ours(adam(lr=LRS, weight_decay=WDS), params, grads)
    assert_members_match(ours, lambda i: run_torch_member(
        i, lambda ps: torch.optim.Adam(ps, lr=LRS[i].item(), weight_decay=WDS[i].item()), params, grads))


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_matches_torch_sgd(nesterov):
    mom = torch.tensor([0.9, 0.5, 0.0, 0.99], dtype=torch.float64)
    params, grads = make_params(6), make_grads(N_STEPS, 7)
    ours, _ = run_ours(sgd(lr=LRS, momentum=mom, weight_decay=WDS, nesterov=nesterov), params, grads)
    assert_members_match(ours, lambda i: run_torch_member(
        i, lambda ps: torch.optim.SGD(ps, lr=LRS[i].item(), momentum=mom[i].item(), weight_decay=WDS[i].item(),
                                      nesterov=nesterov and mom[i].item() > 0), params, grads))


def test_plain_sgd_matches_torch_sgd():
    params, grads = make_params(8), make_grads(N_STEPS, 9)
    ours, _ = run_ours(sgd(lr=0.1, weight_decay=0.01), params, grads)
    assert_members_match(ours, lambda i: run_torch_member(
        i, lambda ps: torch.optim.SGD(ps, lr=0.1, weight_decay=0.01), params, grads))


@pytest.mark.parametrize("fused", [True, False])
def test_warmup_matches_lambdalr(fused):
    warmup = 5
    params, grads = make_params(10), make_grads(N_STEPS, 11)
    ours, _ = run_ours(adamw(lr=LRS, weight_decay=WDS, warmup_steps=warmup, fused=fused), params, grads)
    assert_members_match(ours, lambda i: run_torch_member(
        i, lambda ps: torch.optim.AdamW(ps, lr=LRS[i].item(), weight_decay=WDS[i].item()), params, grads,
        make_sched=lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda s: min(1.0, s / warmup))))


def test_adamw_l1_decay_matches_hand_written_formula():
    b1, b2, eps = 0.9, 0.98, 1e-8
    params, grads = make_params(12), make_grads(N_STEPS, 13)
    ours, _ = run_ours(adamw(lr=LRS, weight_decay=WDS, b1=b1, b2=b2, eps=eps, decay="l1"), params, grads)
    for i in range(N_MEMBERS):
        lr, wd = LRS[i].item(), WDS[i].item()
        for n in SHAPES:
            p, m, v = params[n][i].clone(), 0.0, 0.0
            for t, g in enumerate((gs[n][i] for gs in grads), start=1):
                m = b1 * m + (1 - b1) * g
                v = b2 * v + (1 - b2) * g * g
                m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
                p = p - lr * (m_hat / (v_hat.sqrt() + eps) + wd * torch.sign(p))
            torch.testing.assert_close(ours[n][i], p, **TOL)


def test_adam_coupled_l1_is_torch_adam_on_the_l1_penalized_gradient():
    params, grads = make_params(14), make_grads(N_STEPS, 15)
    ours, _ = run_ours(adam(lr=LRS, weight_decay=WDS, decay="l1"), params, grads)

    def ref(i):
        def add_l1(mine):
            for p in mine.values():
                p.grad += WDS[i].item() * torch.sign(p.detach())
        return run_torch_member(i, lambda ps: torch.optim.Adam(ps, lr=LRS[i].item()), params, grads,
                                grad_fn=add_l1)

    assert_members_match(ours, ref)


def test_grokfast_matches_the_papers_equations_then_torch_adamw():
    alpha = torch.tensor([0.98, 0.9, 0.5, 0.0], dtype=torch.float64)
    lamb = torch.tensor([2.0, 5.0, 0.0, 1.0], dtype=torch.float64)
    params, grads = make_params(16), make_grads(N_STEPS, 17)
    ours, _ = run_ours(adamw(lr=LRS, weight_decay=WDS, grokfast=(alpha, lamb)), params, grads)

    def ref(i):
        ema = {}

        def filter_(mine):  # Lee et al. 2024, Alg. 2 as in gradfilter_ema: h starts at the first gradient
            for n, p in mine.items():
                g = p.grad.clone()
                h = ema.get(n, g)
                ema[n] = alpha[i].item() * h + (1 - alpha[i].item()) * g
                p.grad = g + lamb[i].item() * ema[n]
        return run_torch_member(i, lambda ps: torch.optim.AdamW(ps, lr=LRS[i].item(), weight_decay=WDS[i].item()),
                                params, grads, grad_fn=filter_)

    assert_members_match(ours, ref)


def test_per_member_clipping_matches_torch_clip_grad_norm():
    max_norm = torch.tensor([0.5, 3.0, 100.0, 1.0], dtype=torch.float64)  # member 2 is never clipped
    params, grads = make_params(30), make_grads(N_STEPS, 31)
    ours, _ = run_ours(adamw(lr=LRS, weight_decay=WDS, clip_norm=max_norm), params, grads)
    assert_members_match(ours, lambda i: run_torch_member(
        i, lambda ps: torch.optim.AdamW(ps, lr=LRS[i].item(), weight_decay=WDS[i].item()), params, grads,
        grad_fn=lambda mine: torch.nn.utils.clip_grad_norm_(list(mine.values()), max_norm[i].item())))


def test_clipped_sgd_first_step_has_the_clipped_norm():
    params, grads = make_params(32), make_grads(1, 33)
    p = {n: x.clone() for n, x in params.items()}
    opt = sgd(lr=1.0, clip_norm=0.25)
    opt.step(p, grads[0], opt.init(p))
    step = torch.cat([(p[n] - params[n]).reshape(N_MEMBERS, -1) for n in SHAPES], dim=1)
    torch.testing.assert_close(step.norm(dim=1), torch.full((N_MEMBERS,), 0.25, dtype=torch.float64), rtol=1e-5, atol=0)


@pytest.mark.parametrize("make_opt", [
    lambda: adamw(lr=LRS, weight_decay=WDS, warmup_steps=3, grokfast=(0.9, 2.0)),
    lambda: adamw(lr=LRS, weight_decay=WDS, warmup_steps=3, fused=True),
    lambda: sgd(lr=LRS, momentum=0.9, weight_decay=WDS, nesterov=True),
])
def test_active_mask_freezes_members_bit_exactly_and_leaves_others_untouched(make_opt):
    params, grads = make_params(18), make_grads(N_STEPS, 19)
    grads[6]["W_in"][1] = float("nan")  # member 1 "diverges" at step 6 and is frozen from then on
    for g in grads[7:]:
        g["W_in"][1] = float("inf")
    active = torch.tensor([True, False, True, False])

    opt_ref, opt_mask = make_opt(), make_opt()
    p_ref = {n: p.clone() for n, p in params.items()}
    p_mask = {n: p.clone() for n, p in params.items()}
    s_ref, s_mask = opt_ref.init(p_ref), opt_mask.init(p_mask)
    for step, g in enumerate(grads):
        s_ref = opt_ref.step(p_ref, g, s_ref)
        if step == 6:
            frozen_params = {n: p[~active].clone() for n, p in p_mask.items()}
            frozen_state = {k: v[~active].clone() for k, v in opt_mask.per_member(s_mask).items()}
        s_mask = opt_mask.step(p_mask, g, s_mask, active=active if step >= 6 else None)
    s_ref, s_mask = opt_ref.per_member(s_ref), opt_mask.per_member(s_mask)

    for n in SHAPES:
        assert torch.equal(p_mask[n][active], p_ref[n][active]), n
        assert torch.equal(p_mask[n][~active], frozen_params[n]), n
        assert torch.isfinite(p_mask[n]).all()
    for k in s_ref:
        assert torch.equal(s_mask[k][active], s_ref[k][active]), k
        assert torch.equal(s_mask[k][~active], frozen_state[k]), k


@pytest.mark.parametrize("make_opt", [
    lambda: adamw(lr=LRS, weight_decay=WDS, warmup_steps=4, grokfast=(0.98, 2.0)),
    lambda: adamw(lr=LRS, weight_decay=WDS, warmup_steps=4, fused=True),
])
def test_state_save_load_round_trip_continues_bit_exactly(make_opt):
    params, grads = make_params(20), make_grads(N_STEPS, 21)
    opt = make_opt()
    p = {n: x.clone() for n, x in params.items()}
    state = opt.init(p)
    for g in grads[:5]:
        state = opt.step(p, g, state)
    buf = io.BytesIO()
    torch.save({"params": {n: x.clone() for n, x in p.items()}, "optim": opt.state_dict(state)}, buf)
    for g in grads[5:]:
        state = opt.step(p, g, state)

    buf.seek(0)
    saved = torch.load(buf)
    assert all(isinstance(v, torch.Tensor) for v in saved["optim"].values())
    opt2 = make_opt()
    p2 = saved["params"]
    opt2.init(p2)
    state2 = opt2.load_state(saved["optim"])
    for g in grads[5:]:
        state2 = opt2.step(p2, g, state2)
    for n in SHAPES:
        assert torch.equal(p[n], p2[n]), n
    for k in state:
        assert torch.equal(state[k], state2[k]), k


def test_grads_none_reads_p_grad_and_autograd_params_update_in_place():
    params = {n: p.clone().float().requires_grad_(True) for n, p in make_params(22).items()}
    before = {n: p.detach().clone() for n, p in params.items()}
    opt = sgd(lr=0.5)
    state = opt.init(params)
    sum((p ** 2).sum() for p in params.values()).backward()
    opt.step(params, None, state)
    for n, p in params.items():  # d/dp p^2 = 2p, so p - 0.5*2p = 0
        torch.testing.assert_close(p.detach(), torch.zeros_like(before[n]))


def test_config_lists_and_numpy_arrays_equal_tensor_hyperparameters():

    params, grads = make_params(34), make_grads(3, 35)
    ref, _ = run_ours(adamw(lr=LRS, weight_decay=WDS), params, grads)
    for lr, wd in [(LRS.tolist(), WDS.tolist()), (LRS.numpy(), tuple(WDS.tolist()))]:
        ours, _ = run_ours(adamw(lr=lr, weight_decay=wd), params, grads)
        for n in SHAPES:
            assert torch.equal(ours[n], ref[n])


def test_transform_building_blocks_compose_like_adamw():
    params, grads = make_params(24), make_grads(N_STEPS, 25)
    ours, _ = run_ours(Optimizer(chain(scale_by_adam(), add_decayed_weights(WDS), scale_by_lr(LRS))), params, grads)
    ref, _ = run_ours(adamw(lr=LRS, weight_decay=WDS, fused=False), params, grads)
    for n in SHAPES:
        assert torch.equal(ours[n], ref[n])


def test_trace_and_grokfast_doc_values():
    t = trace(0.9)
    s = t.init(torch.zeros(1, 1))
    outs = [t.update(torch.ones(1, 1), s, None)[0].item() for _ in range(3)]
    assert outs == pytest.approx([1.0, 1.9, 2.71])  # sum_{k<t} 0.9^k
    f = grokfast_ema(0.5, 1.0)
    s = f.init(torch.zeros(1, 1))
    outs = [f.update(torch.full((1, 1), g), s, None)[0].item() for g in (4.0, 0.0, 0.0)]
    assert outs == pytest.approx([8.0, 2.0, 1.0])  # h = 4, 2, 1


@pytest.mark.parametrize("build, match", [
    (lambda: adamw(lr=-1e-3), "lr=-0.001"),
    (lambda: adamw(lr=1e-3, decay="l3"), "'l3'"),
    (lambda: adamw(lr=1e-3, b1=1.0), "b1=1.0"),
    (lambda: adamw(lr=1e-3, grokfast=(1.5, 2.0)), "alpha"),
    (lambda: adamw(lr=1e-3, warmup_steps=-2), "warmup_steps=-2"),
    (lambda: adamw(lr=torch.ones(2, 2)), "1-D"),
    (lambda: sgd(lr=0.1, momentum=0.0, nesterov=True), "nesterov"),
    (lambda: chain(scale_by_adam(), "adam"), "not a Transform"),
    (lambda: adamw(lr=float("nan")), "lr=nan"),
    (lambda: adamw(lr=1e-3, clip_norm=0.0), "max_norm=0.0"),
    (lambda: adamw(lr=[1e-3, "fast"]), "one number per member"),
    (lambda: adamw(lr=[1e-3, -1.0]), r"lr=\[0.001, -1.0\]"),
])
def test_bad_hyperparameters_raise_one_line_errors(build, match):
    with pytest.raises(ConfigError, match=match) as info:
        build()
    assert "\n" not in str(info.value)


def test_bad_usage_raises_grokscope_errors():
    params = make_params(26)
    for fused in (True, False):  # 3 values for 4 members: the fused path says so at init, the chain at step
        opt = adamw(lr=torch.ones(3), fused=fused)
        with pytest.raises(GrokscopeError, match="3 per-member values for an ensemble of 4"):
            opt.step(params, make_grads(1)[0], opt.init(params))
    opt = adamw(lr=1e-3)
    with pytest.raises(GrokscopeError, match="before init"):
        opt.step(params, make_grads(1)[0], {})
    state = opt.init(params)
    with pytest.raises(GrokscopeError, match="active"):
        opt.step(params, make_grads(1)[0], state, active=torch.ones(3, dtype=torch.bool))
    with pytest.raises(GrokscopeError, match="differ"):
        opt.step({"W_E": params["W_E"]}, make_grads(1)[0], state)
    with pytest.raises(GrokscopeError, match="expects"):
        opt.load_state({"0.count": torch.zeros(4, dtype=torch.int64)})
    with pytest.raises(GrokscopeError, match="must be"):
        adamw(lr=1e-3).init({"a": torch.zeros(4, 2), "b": torch.zeros(3, 2)})


@pytest.mark.parametrize("fused", [True, False])
def test_lambdalr_first_step_has_zero_learning_rate(fused):
    # Nanda et al.'s warmup: the first update uses lr*0, so the parameters do not move.
    params = make_params(28)
    p = {n: x.clone() for n, x in params.items()}
    opt = adamw(lr=1.0, weight_decay=1.0, warmup_steps=10, fused=fused)
    state = opt.step(p, make_grads(1)[0], opt.init(p))
    for n in SHAPES:
        assert torch.equal(p[n], params[n])
    counts = [state["count"]] if fused else [state["0.count"], state["2.count"]]
    assert all(c.tolist() == [1] * N_MEMBERS for c in counts)


# -- the fused path ---------------------------------------------------------------------------
def test_adamw_takes_the_fused_kernel_exactly_when_it_computes_the_same_thing():
    assert isinstance(adamw(lr=1e-3), FusedAdamW)
    assert isinstance(adamw(lr=LRS, weight_decay=WDS), FusedAdamW)  # 4 groups
    assert isinstance(adamw(lr=torch.linspace(1e-3, 1e-2, MAX_GROUPS + 1)), Optimizer)  # too many groups
    for kw in ({"decay": "l1"}, {"grokfast": (0.9, 2.0)}, {"clip_norm": 1.0}, {"b1": torch.tensor([0.9, 0.8])}):
        assert isinstance(adamw(lr=1e-3, **kw), Optimizer), kw
        with pytest.raises(ConfigError, match="fused=True"):
            adamw(lr=1e-3, fused=True, **kw)


def test_fused_and_chain_adamw_agree_when_members_share_a_group_and_when_they_do_not():
    # Members 0 and 2 share (lr, wd), so one kernel call covers two separate row ranges.
    lr = torch.tensor([1e-2, 3e-2, 1e-2, 3e-2], dtype=torch.float64)
    wd = torch.tensor([1.0, 0.0, 1.0, 0.5], dtype=torch.float64)
    params, grads = make_params(40), make_grads(N_STEPS, 41)
    fused, _ = run_ours(adamw(lr=lr, weight_decay=wd, warmup_steps=3, fused=True), params, grads)
    chain_, _ = run_ours(adamw(lr=lr, weight_decay=wd, warmup_steps=3, fused=False), params, grads)
    for n in SHAPES:
        torch.testing.assert_close(fused[n], chain_[n], **TOL)


def test_fused_adamw_resumes_a_run_the_chain_started():
    # Runs stored before the fused path existed hold the chain's state; they must still resume.
    params, grads = make_params(42), make_grads(N_STEPS, 43)
    p_chain = {n: x.clone() for n, x in params.items()}
    chain_opt = adamw(lr=LRS, weight_decay=WDS, warmup_steps=3, fused=False)
    state = chain_opt.init(p_chain)
    for g in grads[:5]:
        state = chain_opt.step(p_chain, g, state)
    p_fused = {n: x.clone() for n, x in p_chain.items()}
    fused_opt = adamw(lr=LRS, weight_decay=WDS, warmup_steps=3, fused=True)
    fused_opt.init(p_fused)
    f_state = fused_opt.load_state(chain_opt.state_dict(state))
    for g in grads[5:]:
        state = chain_opt.step(p_chain, g, state)
        f_state = fused_opt.step(p_fused, g, f_state)
    for n in SHAPES:
        torch.testing.assert_close(p_fused[n], p_chain[n], **TOL)
    with pytest.raises(ConfigError, match="different optimizer config"):
        fused_opt.load_state({"0.mu": state["0.mu"]})


def test_fused_adamw_refuses_non_contiguous_parameters_with_one_line():
    with pytest.raises(ConfigError, match="'W' is not contiguous"):
        adamw(lr=1e-3, fused=True).init({"W": torch.zeros(3, 4).t()})
