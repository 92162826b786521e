"""Learning-rate and weight-decay schedules: closed forms, and batched optimizers against torch.optim + LambdaLR."""

import math

import pytest
import torch

from grokscope.config import RunConfig, load_config
from grokscope.errors import ConfigError
from grokscope.train import (
    FusedAdamW,
    Optimizer,
    adam,
    adamw,
    constant_schedule,
    cosine_schedule,
    make_optimizer,
    scale_by_lr,
    sgd,
    warmup_schedule,
)

N_MEMBERS = 4
SHAPES = {"W_E": (5, 3), "W_in": (3, 7), "b_in": (7,), "W_U": (7, 2, 2)}
LRS = [1e-3, 3e-2, 0.1, 0.0]
WDS = [0.0, 1.0, 0.3, 5.0]
TOL = {torch.float64: dict(rtol=1e-12, atol=1e-14), torch.float32: dict(rtol=1e-6, atol=1e-7)}


def warmup_ref(t, w):
    return min(1.0, t / w)


def cosine_ref(t, total, w, final):
    """The closed form: linear warmup to 1 over w updates, then half a cosine to `final` at `total`."""
    if t < w:
        return t / w
    progress = min(1.0, (t - w) / (total - w))
    return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * progress))


# -- the schedules themselves -----------------------------------------------------------------
@pytest.mark.parametrize("w", [1, 3, 10])
def test_warmup_is_min_one_t_over_w_on_numbers_and_tensors(w):
    s = warmup_schedule(w)
    ts = list(range(3 * w + 2))
    assert [s(t) for t in ts] == [warmup_ref(t, w) for t in ts]
    got = s(torch.tensor(ts, dtype=torch.float64))
    assert got.tolist() == [warmup_ref(t, w) for t in ts]


def test_zero_warmup_and_constant_are_one():
    for s in (warmup_schedule(0), constant_schedule()):
        assert [s(t) for t in (0, 1, 10**6)] == [1.0, 1.0, 1.0]
        assert s(torch.arange(5, dtype=torch.float64)).tolist() == [1.0] * 5


@pytest.mark.parametrize("total, w, final", [(50, 0, 0.0), (50, 10, 0.0), (37, 5, 0.1), (10, 9, 0.5)])
def test_cosine_matches_its_closed_form(total, w, final):
    s = cosine_schedule(total, warmup_steps=w, final_frac=final)
    ts = list(range(total + 5))
    ref = [cosine_ref(t, total, w, final) for t in ts]
    assert [s(t) for t in ts] == pytest.approx(ref, rel=1e-15, abs=1e-16)
    got = s(torch.tensor(ts, dtype=torch.float64))
    torch.testing.assert_close(got, torch.tensor(ref, dtype=torch.float64), rtol=1e-14, atol=1e-15)


def test_cosine_endpoints():
    s = cosine_schedule(100, warmup_steps=10, final_frac=0.2)
    assert s(0) == 0.0  # the warmup starts at 0, as Nanda et al.'s LambdaLR
    assert s(5) == 0.5
    assert s(10) == 1.0  # peak at the end of the warmup
    assert s(55) == pytest.approx(0.6, abs=1e-15)  # half way down: (1 + 0.2) / 2
    assert s(100) == pytest.approx(0.2, abs=1e-15) and s(10**6) == pytest.approx(0.2, abs=1e-15)
    s0 = cosine_schedule(100)
    assert s0(0) == 1.0 and s0(100) == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("build, match", [
    (lambda: cosine_schedule(10, warmup_steps=10), "total_steps=10"),
    (lambda: cosine_schedule(10, final_frac=1.5), "final_frac=1.5"),
    (lambda: warmup_schedule(-1), "warmup_steps=-1"),
    (lambda: adamw(1e-3, lr_schedule="cosine"), "lr_schedule='cosine'"),
    (lambda: adamw(1e-3, warmup_steps=5, lr_schedule=cosine_schedule(100)), "warmup_steps=5"),
    (lambda: sgd(0.1, wd_schedule=3), "wd_schedule=3"),
])
def test_bad_schedules_raise_one_line_errors(build, match):
    with pytest.raises(ConfigError, match=match) as info:
        build()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_warmup_in_scale_by_lr_is_bit_identical_to_the_division_in_the_parameter_dtype(dtype):
    # grokscope 0.1.0 computed the warmup factor as (count.to(dtype) / w).clamp(max=1): runs it
    # stored must resume with exactly the same factors.
    lr, w, n = torch.tensor([3e-3, 1e-2, 7e-1], dtype=dtype), 7, 3
    t = scale_by_lr(lr, warmup_steps=w)
    state = t.init(torch.zeros(n, 1, dtype=dtype))
    for step in range(20):
        got = t.update(torch.ones(n, 1, dtype=dtype), state, None)[0]
        frac = (torch.full((n,), step, dtype=torch.int64).to(dtype) / w).clamp(max=1.0).unsqueeze(1)
        assert torch.equal(got, torch.ones(n, 1, dtype=dtype).mul_(frac.mul_(-lr.unsqueeze(1)))), step


# -- optimizers with schedules against torch.optim + LambdaLR, member by member ----------------
def make_params(seed, dtype):
    gen = torch.Generator().manual_seed(seed)
    return {n: torch.randn(N_MEMBERS, *s, generator=gen, dtype=dtype) for n, s in SHAPES.items()}


def make_grads(n, seed, dtype):
    gen = torch.Generator().manual_seed(seed)
    return [{k: torch.randn(N_MEMBERS, *s, generator=gen, dtype=dtype) for k, s in SHAPES.items()} for _ in range(n)]


def run_ours(opt, params, grads):
    params = {k: v.clone() for k, v in params.items()}
    state = opt.init(params)
    for g in grads:
        state = opt.step(params, g, state)
    return params


def run_torch(i, make_opt, params, grads, lam, wd_lam=None, wd=0.0):
    """Member i alone under a torch.optim optimizer whose lr follows LambdaLR(lam) (and whose weight
    decay is set to wd·wd_lam(t) before update t, when given)."""
    mine = {k: v[i].clone().requires_grad_(True) for k, v in params.items()}
    opt = make_opt(list(mine.values()))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lam)
    for t, g in enumerate(grads):
        for k, p in mine.items():
            p.grad = g[k][i].clone()
        if wd_lam is not None:
            opt.param_groups[0]["weight_decay"] = wd * wd_lam(t)
        opt.step()
        sched.step()
    return {k: p.detach() for k, p in mine.items()}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("fused", [True, False])
def test_cosine_adamw_equals_torch_adamw_with_lambdalr_per_member(fused, dtype):
    total, w, final, n_steps = 20, 4, 0.1, 24  # past the end of the decay: the factor stays at `final`
    params, grads = make_params(1, dtype), make_grads(n_steps, 2, dtype)
    lrs, wds = torch.tensor(LRS, dtype=dtype), torch.tensor(WDS, dtype=dtype)
    opt = adamw(lrs, wds, b2=0.98, lr_schedule=cosine_schedule(total, w, final), fused=fused)
    assert isinstance(opt, FusedAdamW if fused else Optimizer)
    ours = run_ours(opt, params, grads)
    for i in range(N_MEMBERS):
        ref = run_torch(i, lambda ps: torch.optim.AdamW(ps, lr=LRS[i], weight_decay=WDS[i], betas=(0.9, 0.98)),
                        params, grads, lambda t: cosine_ref(t, total, w, final))
        for k in SHAPES:
            torch.testing.assert_close(ours[k][i], ref[k], **TOL[dtype], msg=f"member {i} {k}")


@pytest.mark.parametrize("fused", [True, False])
def test_weight_decay_schedule_equals_torch_adamw_with_its_decay_set_each_step(fused):
    total, n_steps, dtype = 15, 15, torch.float64
    params, grads = make_params(3, dtype), make_grads(n_steps, 4, dtype)
    wd_sched = cosine_schedule(total, final_frac=0.25)
    opt = adamw(torch.tensor(LRS, dtype=dtype), torch.tensor(WDS, dtype=dtype), warmup_steps=3,
                wd_schedule=wd_sched, fused=fused)
    ours = run_ours(opt, params, grads)
    for i in range(N_MEMBERS):
        ref = run_torch(i, lambda ps: torch.optim.AdamW(ps, lr=LRS[i], weight_decay=WDS[i]), params, grads,
                        lambda t: warmup_ref(t, 3), wd_lam=lambda t: cosine_ref(t, total, 0, 0.25), wd=WDS[i])
        for k in SHAPES:
            torch.testing.assert_close(ours[k][i], ref[k], **TOL[dtype], msg=f"member {i} {k}")


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_cosine_sgd_and_adam_equal_torch_with_lambdalr(name):
    total, w, dtype = 12, 2, torch.float64
    params, grads = make_params(5, dtype), make_grads(total, 6, dtype)
    sched = cosine_schedule(total, w, 0.05)
    if name == "sgd":
        opt = sgd(torch.tensor(LRS, dtype=dtype), momentum=0.9, weight_decay=0.1, lr_schedule=sched)
        make = lambda i: lambda ps: torch.optim.SGD(ps, lr=LRS[i], momentum=0.9, weight_decay=0.1)  # noqa: E731
    else:
        opt = adam(torch.tensor(LRS, dtype=dtype), weight_decay=0.1, lr_schedule=sched)
        make = lambda i: lambda ps: torch.optim.Adam(ps, lr=LRS[i], weight_decay=0.1)  # noqa: E731
    ours = run_ours(opt, params, grads)
    for i in range(N_MEMBERS):
        ref = run_torch(i, make(i), params, grads, lambda t: cosine_ref(t, total, w, 0.05))
        for k in SHAPES:
            torch.testing.assert_close(ours[k][i], ref[k], **TOL[dtype], msg=f"member {i} {k}")


# -- from the config ---------------------------------------------------------------------------
def test_config_cosine_builds_the_same_optimizer_as_the_python_api():
    lrs = [1e-3, 3e-2, 0.1, 0.05]
    cfg = load_config(overrides=["n_members=4", f"optim.lr={lrs}", "optim.lr_schedule=cosine",
                                 "optim.final_lr_frac=0.1", "optim.warmup_steps=3", "train.steps=10"])
    dtype = torch.float64
    params, grads = make_params(7, dtype), make_grads(12, 8, dtype)
    opt = make_optimizer(cfg, dtype, "cpu")
    assert isinstance(opt, FusedAdamW)  # a schedule keeps the fused kernel
    ours = run_ours(opt, params, grads)
    for i in range(N_MEMBERS):
        ref = run_torch(i, lambda ps: torch.optim.AdamW(ps, lr=lrs[i], weight_decay=1.0, betas=(0.9, 0.98)),
                        params, grads, lambda t: cosine_ref(t, 10, 3, 0.1))
        for k in SHAPES:
            torch.testing.assert_close(ours[k][i], ref[k], **TOL[dtype])


def test_a_config_stored_before_schedules_loads_with_the_warmup_it_had():
    old = RunConfig().to_dict()
    for key in ("lr_schedule", "final_lr_frac", "wd_schedule", "final_wd_frac", "project_norm"):
        del old["optim"][key]  # what grokscope 0.1.0 stored
    cfg = RunConfig.from_dict(old)
    assert (cfg.optim.lr_schedule, cfg.optim.wd_schedule, cfg.optim.project_norm) == ("constant", "constant", 0.0)
    dtype = torch.float64
    params, grads = make_params(9, dtype), make_grads(14, 10, dtype)
    opt = make_optimizer(cfg, dtype, "cpu")
    assert isinstance(opt, FusedAdamW) and opt.project is None
    ours = run_ours(opt, params, grads)
    for i in range(N_MEMBERS):  # the 0.1.0 default: AdamW, lr 1e-3, wd 1, betas (0.9, 0.98), warmup 10
        ref = run_torch(i, lambda ps: torch.optim.AdamW(ps, lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98)),
                        params, grads, lambda t: warmup_ref(t, 10))
        for k in SHAPES:
            torch.testing.assert_close(ours[k][i], ref[k], **TOL[dtype])


@pytest.mark.parametrize("overrides, match", [
    (["optim.lr_schedule=linear"], "optim.lr_schedule='linear'"),
    (["optim.wd_schedule=step"], "optim.wd_schedule='step'"),
    (["optim.final_lr_frac=1.5"], "optim.final_lr_frac=1.5"),
    (["optim.final_wd_frac=-0.1"], "optim.final_wd_frac=-0.1"),
    (["optim.project_norm=-2"], "optim.project_norm=-2"),
])
def test_bad_schedule_config_values_are_one_line_errors(overrides, match):
    with pytest.raises(ConfigError, match=match) as info:
        load_config(overrides=overrides)
    assert "\n" not in str(info.value)


def test_cosine_warmup_longer_than_the_run_is_a_config_error():
    cfg = load_config(overrides=["optim.lr_schedule=cosine", "optim.warmup_steps=10", "train.steps=10"])
    with pytest.raises(ConfigError, match="optim.warmup_steps=10: must be < train.steps=10") as info:
        make_optimizer(cfg, torch.float32, "cpu")
    assert "\n" not in str(info.value)
