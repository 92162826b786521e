"""The projection slot after the update, and Omnigrok's fixed-norm projection."""

import pytest
import torch

from grokscope.config import load_config
from grokscope.errors import ConfigError
from grokscope.train import FusedAdamW, Optimizer, adamw, fixed_norm, make_optimizer, sgd

N_MEMBERS = 4
SHAPES = {"W_E": (5, 3), "W_in": (3, 7), "b_in": (7,)}
TARGETS = [3.0, 10.0, 0.5, 7.0]


def make_params(seed, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return {n: torch.randn(N_MEMBERS, *s, generator=gen, dtype=dtype) for n, s in SHAPES.items()}


def make_grads(n, seed, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return [{k: torch.randn(N_MEMBERS, *s, generator=gen, dtype=dtype) for k, s in SHAPES.items()} for _ in range(n)]


def member_norm(params, i):
    """torch's own norm over all of member i's parameters."""
    return torch.linalg.vector_norm(torch.cat([p[i].reshape(-1) for p in params.values()])).item()


BUILDERS = {
    "fused": lambda target, dtype: adamw(torch.tensor([1e-2, 3e-2, 0.1, 0.05], dtype=dtype), 0.5, warmup_steps=2,
                                         project=fixed_norm(target), fused=True),
    "chain": lambda target, dtype: adamw(torch.tensor([1e-2, 3e-2, 0.1, 0.05], dtype=dtype), 0.5, warmup_steps=2,
                                         grokfast=(0.9, 1.0), project=fixed_norm(target)),
    "sgd": lambda target, dtype: sgd(0.1, momentum=0.9, project=fixed_norm(target)),
}


@pytest.mark.parametrize("dtype, rtol", [(torch.float64, 1e-13), (torch.float32, 1e-6)])
@pytest.mark.parametrize("path", list(BUILDERS))
@pytest.mark.parametrize("per_member", [False, True])
def test_every_update_ends_at_each_members_target_norm(path, per_member, dtype, rtol):
    target = torch.tensor(TARGETS, dtype=dtype) if per_member else 2.5
    opt = BUILDERS[path](target, dtype)
    assert isinstance(opt, FusedAdamW if path == "fused" else Optimizer)
    params = make_params(1, dtype)
    state = opt.init(params)
    for g in make_grads(6, 2, dtype):
        state = opt.step(params, g, state)
        for i in range(N_MEMBERS):
            want = TARGETS[i] if per_member else 2.5
            assert member_norm(params, i) == pytest.approx(want, rel=rtol), (path, i)


@pytest.mark.parametrize("path", list(BUILDERS))
def test_one_step_is_the_update_then_a_rescale(path):
    # Reference: the same optimizer without projection, then each member scaled by target / its norm.
    params, grads = make_params(3), make_grads(1, 4)
    free = {k: v.clone() for k, v in params.items()}
    plain = BUILDERS[path](1.0, torch.float64)
    plain.project = None
    plain.step(free, grads[0], plain.init(free))
    proj = {k: v.clone() for k, v in params.items()}
    opt = BUILDERS[path](torch.tensor(TARGETS, dtype=torch.float64), torch.float64)
    opt.step(proj, grads[0], opt.init(proj))
    for i in range(N_MEMBERS):
        scale = TARGETS[i] / member_norm(free, i)
        for k in SHAPES:
            torch.testing.assert_close(proj[k][i], free[k][i] * scale, rtol=1e-14, atol=0)


@pytest.mark.parametrize("path", list(BUILDERS))
def test_inactive_members_and_zero_targets_are_left_bit_for_bit(path):
    params, grads = make_params(5), make_grads(5, 6)
    targets = torch.tensor([3.0, 0.0, 2.0, 4.0], dtype=torch.float64)  # member 1: no projection
    active = torch.tensor([True, True, False, True])  # member 2: diverged
    p_proj = {k: v.clone() for k, v in params.items()}
    p_free = {k: v.clone() for k, v in params.items()}
    opt, free = BUILDERS[path](targets, torch.float64), BUILDERS[path](targets, torch.float64)
    free.project = None
    s_proj, s_free = opt.init(p_proj), free.init(p_free)
    for g in grads:
        s_proj = opt.step(p_proj, g, s_proj, active=active)
        s_free = free.step(p_free, g, s_free, active=active)
    for k in SHAPES:
        assert torch.equal(p_proj[k][2], params[k][2]), k  # inactive: untouched
        assert torch.equal(p_proj[k][1], p_free[k][1]), k  # target 0: as if there were no projection
    assert member_norm(p_proj, 0) == pytest.approx(3.0, rel=1e-13)


def test_a_zero_norm_member_is_left_alone():
    params = [torch.zeros(2, 3, dtype=torch.float64), torch.ones(2, 1, dtype=torch.float64)]
    params[1][0] = 0.0
    fixed_norm(2.0)(params, None)
    assert torch.equal(params[0], torch.zeros(2, 3, dtype=torch.float64))
    assert params[1].flatten().tolist() == [0.0, 2.0]


def test_config_project_norm_keeps_the_fused_kernel():
    cfg = load_config(overrides=["n_members=2", "optim.project_norm=[4.0, 6.0]", "train.steps=5"])
    opt = make_optimizer(cfg, torch.float64, "cpu")
    assert isinstance(opt, FusedAdamW) and opt.project is not None
    gen = torch.Generator().manual_seed(0)
    params = {"W": torch.randn(2, 3, 4, generator=gen, dtype=torch.float64)}
    state = opt.init(params)
    for _ in range(3):
        state = opt.step(params, {"W": torch.randn(2, 3, 4, generator=gen, dtype=torch.float64)}, state)
    assert torch.linalg.vector_norm(params["W"].reshape(2, -1), dim=1).tolist() == pytest.approx([4.0, 6.0], rel=1e-13)
    assert make_optimizer(load_config(overrides=["train.steps=5"]), torch.float64, "cpu").project is None


@pytest.mark.parametrize("target, match", [(-1.0, "project_norm=-1.0"), ([1.0, float("nan")], "project_norm"),
                                          (torch.ones(2, 2), "1-D")])
def test_bad_targets_are_one_line_errors(target, match):
    with pytest.raises(ConfigError, match=match) as info:
        fixed_norm(target)
    assert "\n" not in str(info.value)


def test_a_per_member_config_list_of_the_wrong_length_is_refused():
    # Refused by the config (once per-member keys include it) or by make_optimizer: either way one line.
    with pytest.raises(ConfigError, match=r"optim.project_norm=\[1.0, 2.0\]: must be one .*n_members=3") as info:
        make_optimizer(load_config(overrides=["n_members=3", "optim.project_norm=[1.0, 2.0]"]), torch.float32, "cpu")
    assert "\n" not in str(info.value)


# -- optim.project_norm_frac: the target is a fraction of each member's initial norm ------------
def _initial_norms(cfg):
    """Each member's total parameter norm at initialization, built as the trainer builds it (torch's norm)."""
    from grokscope.models import build_model
    from grokscope.seeding import member_seed
    from grokscope.train._loop import INIT_STREAM

    model = build_model(cfg, cfg.build_task(), member_seeds=[member_seed(s, INIT_STREAM) for s in cfg.seeds()])
    return [torch.linalg.vector_norm(torch.cat([p[i].reshape(-1) for p in model.parameters()])).item()
            for i in range(cfg.n_members)]


def test_project_norm_frac_keeps_each_member_at_its_fraction_of_its_initial_norm():
    from grokscope.train import train

    cfg = load_config(overrides=["task.p=7", "n_members=3", "dtype=float64", "train.steps=15", "threads=1",
                                 "model.init_scale=[1.0, 2.0, 1.0]", "optim.project_norm_frac=[0.8, 0.5, 0.0]",
                                 "optim.lr=1e-2", "log.dense_until=15", "log.n_checkpoints=0"])
    init = _initial_norms(cfg)
    norm = train(cfg).metrics["weight_norm"]  # [step, model]
    torch.testing.assert_close(torch.as_tensor(norm[0]), torch.as_tensor(init, dtype=torch.float64), rtol=1e-12, atol=0)  # step 0: the init
    for i, frac in ((0, 0.8), (1, 0.5)):
        torch.testing.assert_close(torch.as_tensor(norm[1:, i]), torch.full((15,), frac * init[i], dtype=torch.float64),
                                   rtol=1e-12, atol=0)
    assert abs(norm[-1, 2] - init[2]) > 1e-3  # frac 0 leaves that member free


@pytest.mark.parametrize("overrides, match", [
    (["optim.project_norm_frac=-0.5"], "optim.project_norm_frac"),
    (["optim.project_norm_frac=0.8", "optim.project_norm=3.0"], "optim.project_norm_frac"),
    (['optim.project_norm_frac="x"'], "optim.project_norm_frac"),
])
def test_bad_project_norm_fracs_are_one_line_errors(overrides, match):
    with pytest.raises(ConfigError, match=match) as e:
        load_config(overrides=overrides)
    assert "\n" not in str(e.value)


def test_a_project_norm_frac_list_of_the_wrong_length_is_refused():
    from grokscope.train import train

    cfg = load_config(overrides=["task.p=7", "n_members=3", "train.steps=2", "optim.project_norm_frac=[0.8, 0.5]"])
    with pytest.raises(ConfigError, match="optim.project_norm_frac"):
        train(cfg)
