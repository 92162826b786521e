"""The digits task, Omnigrok's MLP on features and the ``omnigrok-digits`` preset.

References: scikit-learn's own ``load_digits`` arrays, torch's ``nn.Linear`` bounds, and a
one-member run of the same seed and scale (a digits member equals its single-model run).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from grokscope.config import load_config
from grokscope.errors import ConfigError
from grokscope.models import FeatureMLP, FeatureMLPConfig, FeatureMLPEnsemble, get_architecture
from grokscope.store import Store
from grokscope.tasks import make_task, split_for_run
from grokscope.train import train

sklearn_datasets = pytest.importorskip("sklearn.datasets")
F64 = torch.float64


def test_digits_are_sklearns_images_scaled_into_the_unit_interval_with_a_group_per_class():
    bunch = sklearn_datasets.load_digits()
    task = make_task("digits")
    assert (task.n_all, task.d_in, task.n_classes, task.input_kind) == (1797, 64, 10, "features")
    assert task.inputs.dtype == torch.float32
    assert torch.equal(task.inputs.double(), torch.as_tensor(bunch.data) / 16)
    assert torch.equal(make_task("digits", scale="raw").inputs.double(), torch.as_tensor(bunch.data))
    assert torch.equal(task.labels, torch.as_tensor(bunch.target))
    rows = torch.cat([task.groups[f"digit{c}"] for c in range(10)]).sort().values
    assert torch.equal(rows, torch.arange(1797))  # the groups partition the rows
    assert all(bool((task.labels[task.groups[f"digit{c}"]] == c).all()) for c in range(10))


def test_each_member_trains_on_a_random_subset_of_its_own_and_tests_on_the_rest():
    task = make_task("digits")
    sp = split_for_run(task, {"train_count": [100, 100, 300]}, [7, 8, 7])
    assert sp.n_train.tolist() == [100, 100, 300] and sp.n_test.tolist() == [1697, 1697, 1497]
    tr = [set(sp.member(m)[0].tolist()) for m in range(3)]
    assert tr[0] != tr[1] and tr[0] <= tr[2]  # another seed, another draw; the same seed, nested
    assert tr[0] != set(range(100))  # random, not the first N
    for m in range(3):
        train_rows, test_rows = (set(r.tolist()) for r in sp.member(m))
        assert not train_rows & test_rows and len(train_rows | test_rows) == 1797


@pytest.mark.parametrize("overrides,key", [
    (["task.kind=digits", "model.arch=feature_mlp", "task.train_count=1798"], "task.train_count"),
    (["task.kind=digits", "model.arch=feature_mlp", "task.scale=pm1"], "task.scale"),
    (["task.kind=digits", "model.arch=pair_mlp"], "model.arch"),
    (["task.kind=digits", "model.arch=feature_mlp", "model.scale_biases=1"], "model.scale_biases"),
])
def test_bad_digits_settings_are_one_line_errors(overrides, key):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=overrides)
    assert key in str(err.value) and "\n" not in str(err.value)


def test_the_omnigrok_init_is_torchs_uniform_draw_times_alpha_biases_included_by_default():
    cfg = FeatureMLPConfig(d_in=64, n_classes=10)
    assert (cfg.width, cfg.depth, cfg.act, cfg.scale_biases) == (200, 2, "relu", True)
    one, eight = FeatureMLP(cfg, dtype=F64).init_(3, 1.0), FeatureMLP(cfg, dtype=F64).init_(3, 8.0)
    fan_in = {"blocks.0.mlp": 64, "blocks.1.mlp": 200, "unembed": 200}
    for name, p in one.named_parameters():
        p = p.detach()
        bound = 1 / math.sqrt(fan_in[name.rsplit(".", 1)[0]])  # nn.Linear.reset_parameters' bound, weights and biases
        assert float(p.abs().max()) <= bound and float(p.abs().max()) > 0.9 * bound, name
        assert float(p.std()) == pytest.approx(bound / math.sqrt(3), rel=0.25), name  # uniform, not Gaussian
        torch.testing.assert_close(dict(eight.named_parameters())[name].detach(), 8.0 * p, rtol=0, atol=0)
    kept = FeatureMLP(FeatureMLPConfig(d_in=64, n_classes=10, scale_biases=False), dtype=F64).init_(3, 8.0)
    for name, p in kept.named_parameters():
        want = dict(one.named_parameters())[name].detach() * (1.0 if ".b_" in name else 8.0)
        torch.testing.assert_close(p.detach(), want, rtol=0, atol=0, msg=name)


def test_feature_mlp_is_registered_and_reads_features():
    arch = get_architecture("feature_mlp")
    assert (arch.ensemble_cls, arch.reference_cls, arch.input_kind) == (FeatureMLPEnsemble, FeatureMLP, "features")
    with pytest.raises(ConfigError, match="reads features"):
        load_config(overrides=["model.arch=feature_mlp"])  # the default task is modular addition (tokens)


def _final_weights(store_path, overrides):
    cfg = load_config(preset="omnigrok-digits", overrides=["train.steps=30", "log.n_checkpoints=1", "threads=1",
                                                           "task.train_count=200", *overrides])
    store = Store(store_path)
    result = train(cfg, store=store)
    return store.load_checkpoint(result.run_id, 30), result


def test_a_digits_member_equals_its_one_member_run(tmp_path):
    seeds = [11, 12]
    ens, res = _final_weights(tmp_path / "a.db", ["n_members=2", f"member_seeds={seeds}", "model.init_scale=[1.0, 8.0]",
                                                  "optim.weight_decay=[0.01, 0.1]"])
    one, _ = _final_weights(tmp_path / "b.db", ["n_members=1", "member_seeds=[12]", "model.init_scale=8.0",
                                                "optim.weight_decay=0.1"])
    assert set(ens) == set(one)
    for k in ens:
        torch.testing.assert_close(ens[k][1], one[k][0], rtol=1e-10, atol=1e-12, msg=k)
    assert np.isfinite(res.metrics["test_acc"]).all() and "test_acc/digit3" in res.metrics


def test_the_preset_names_its_source_and_holds_omnigroks_values():
    from importlib import resources

    text = resources.files("grokscope.presets").joinpath("omnigrok-digits.toml").read_text()
    assert "Omnigrok: Grokking Beyond Algorithmic Data" in text and "Liu, Michaud & Tegmark 2022" in text
    cfg = load_config(preset="omnigrok-digits")
    assert cfg.dtype == "float64" and cfg.task["kind"] == "digits" and cfg.task["train_count"] == 1000
    assert cfg.model == {"arch": "feature_mlp", "width": 200, "depth": 2, "act": "relu", "scale_biases": True,
                         "init_scale": 8.0, "dropout": 0.0}  # (resolved: every option, defaults included)
    assert (cfg.train.loss, cfg.train.batch_size, cfg.train.steps) == ("mse", 200, 100_000)
    o = cfg.optim
    assert (o.name, o.lr, o.weight_decay, o.b1, o.b2, o.eps, o.warmup_steps) == ("adamw", 1e-3, 0.01, 0.9, 0.999, 1e-8, 0)


@pytest.mark.parametrize("variant", [dict(width=9, depth=1), dict(width=7, depth=3, act="gelu", scale_biases=False)])
def test_feature_mlp_variants_pass_the_shared_architecture_checks_and_their_maps_compose(variant):
    from test_architectures import check_architecture  # tests/unit is on the path: the shared per-architecture checks

    arch, task, ens, x, a, refs = check_architecture("feature_mlp", variant)
    assert a.embedding is None and a.neuron_in.shape[1:] == (task.d_in, variant["width"])
    for i, ref in enumerate(refs):
        logits, cache = ref.run_with_cache(x)
        pre = x @ a.neuron_in[i] + ref.blocks[0].mlp.b_in
        torch.testing.assert_close(pre, cache["blocks.0.mlp.hook_pre"], rtol=1e-10, atol=1e-10)
        if variant["depth"] == 1:
            torch.testing.assert_close(torch.relu(pre) @ a.neuron_out[i] + ref.unembed.b_U, logits, rtol=1e-10, atol=1e-10)
        else:
            assert a.neuron_out is None
