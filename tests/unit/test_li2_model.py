"""The Li2 network (Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of
Grokking") through the same checks as every registered architecture (``test_architectures``:
member equals reference, checkpoint round trip, anatomy, cost), and its forward pass against the
paper's formula ``σ([e_a; e_b]ᵀ W) V`` written with explicit one-hot matrices."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from test_architectures import SEEDS, check_architecture

import grokscope.models._li2  # noqa: F401  (registers "li2" until grokscope.models._build imports it)
from grokscope.errors import ConfigError
from grokscope.models import get_architecture, model_config
from grokscope.tasks import make_task

# (zero_init_out gets its own test: the contract's round trip needs a model whose output is not 0)
VARIANTS = [dict(d_hidden=6, act="x2"), dict(d_hidden=5, act="relu"), dict(d_hidden=7, act="silu"), {}]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.get("act", "defaults"))
def test_li2_passes_the_architecture_contract_and_is_the_papers_formula(variant):
    arch, task, ens, x, a, refs = check_architecture("li2", variant)
    assert arch.name == "li2" and ens.cfg.p == task.vocab_size == 7
    act = {"x2": lambda z: z * z, "relu": torch.relu, "silu": F.silu}[variant.get("act", "x2")]
    for i, ref in enumerate(refs):
        # the paper's one-hot X [batch, 2p] times W = [W_a; W_b] [2p, K], σ, times V
        onehot = torch.cat([F.one_hot(x[:, 0], 7), F.one_hot(x[:, 1], 7)], 1).double()
        w = torch.cat([ref.mlp.W_in_a, ref.mlp.W_in_b], 0)
        torch.testing.assert_close(ref(x), act(onehot @ w) @ ref.mlp.W_out, rtol=1e-12, atol=1e-12)
        # the anatomy's maps are the weights, per member
        torch.testing.assert_close(a.neuron_in[i], ref.mlp.W_in_a.detach(), rtol=0, atol=0)
        torch.testing.assert_close(a.neuron_out[i], ref.mlp.W_out.detach(), rtol=0, atol=0)


def test_li2_zero_init_out_starts_with_v_zero_and_the_same_w():
    task = make_task("modular", op="add", p=7)
    arch = get_architecture("li2")
    zero = arch.ensemble_cls(model_config("li2", task, d_hidden=5, zero_init_out=True), 2, dtype=torch.float64).init_(SEEDS[:2])
    plain = arch.ensemble_cls(model_config("li2", task, d_hidden=5), 2, dtype=torch.float64).init_(SEEDS[:2])
    assert torch.count_nonzero(zero.mlp.W_out) == 0 and torch.count_nonzero(zero(task.inputs)) == 0
    assert torch.equal(zero.mlp.W_in_a, plain.mlp.W_in_a) and torch.equal(zero.mlp.W_in_b, plain.mlp.W_in_b)
    assert arch.ensemble_cls.cost(zero.cfg).n_params == 3 * 7 * 5


def test_li2_init_has_the_variance_of_torch_linear_default():
    """std 1/√(3·fan_in) per block (uniform ±1/√fan_in), scaled by α; seeds give different members."""
    cfg = model_config("li2", make_task("modular", op="add", p=97), d_hidden=400)
    ens = get_architecture("li2").ensemble_cls(cfg, 2, dtype=torch.float64).init_(SEEDS[:2], scale=[1.0, 2.0])
    std_a = ens.mlp.W_in_a.std(dim=(1, 2))
    std_v = ens.mlp.W_out.std(dim=(1, 2))
    torch.testing.assert_close(std_a, torch.tensor([1.0, 2.0], dtype=torch.float64) / (3 * 97) ** 0.5, rtol=0.02, atol=0)
    torch.testing.assert_close(std_v, torch.tensor([1.0, 2.0], dtype=torch.float64) / (3 * 400) ** 0.5, rtol=0.02, atol=0)
    assert not torch.equal(ens.mlp.W_in_a[0] * 2, ens.mlp.W_in_a[1])


@pytest.mark.parametrize("options,match", [(dict(act="tanh"), "model.act='tanh'"), (dict(d_hidden=0), "model.d_hidden=0"),
                                           (dict(zero_init_out="yes"), "model.zero_init_out")])
def test_li2_bad_settings_are_one_line(options, match):
    with pytest.raises(ConfigError) as err:
        model_config("li2", make_task("modular", op="add", p=7), **options)
    assert match in str(err.value) and "\n" not in str(err.value)


def test_li2_refuses_a_task_that_is_not_a_binary_operation():
    with pytest.raises(ConfigError, match="two operand tokens"):
        model_config("li2", make_task("parity", n_bits=6, k=2, n_train=24, n_test=16, seed=0))
