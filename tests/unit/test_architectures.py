"""Every registered architecture against its own reference, through a checkpoint, and its anatomy
(what analyses read) against a direct computation from the reference model's forward pass.

The checks are parametrized over ``architectures()`` at collection, so an architecture registered
in ``grokscope.models`` is covered without editing this file; it only needs a task among
``candidate_tasks()`` that fits it. A toy architecture registered from this file (no edit under
``src/``) runs through the same checks.
"""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
import torch

from grokscope.errors import AnalysisError, ConfigError
from grokscope.models import (
    ACTIVATIONS,
    ARCHS,
    Anatomy,
    EnsembleBase,
    ModelCost,
    WeightView,
    architectures,
    build_model,
    get_architecture,
    model_config,
    register_architecture,
    unregister_architecture,
)
from grokscope.tasks import make_task

F64 = torch.float64
SEEDS = [11, 5, 2024]
SCALES = [1.0, 2.5, 0.5]  # Omnigrok's α, one per member
M = len(SEEDS)


def _features_task(d_in: int = 4, n_classes: int = 3, n: int = 40):
    """A real-valued task built in test code: Gaussian rows, labels from a fixed random linear map."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d_in, generator=g)
    return SimpleNamespace(name="blobs", input_kind="features", d_in=d_in, vocab_size=0, n_ctx=0,
                           n_classes=n_classes, inputs=x, labels=(x @ torch.randn(d_in, n_classes, generator=g)).argmax(1))


def candidate_tasks():
    """Small tasks of every input kind; an architecture is checked on the first one it accepts."""
    return [
        make_task("modular", op="add", p=7),  # "a b"
        make_task("modular", op="sub", p=7, eq_token=True),  # "a b ="
        make_task("parity", n_bits=6, k=2, n_train=24, n_test=16, seed=0),  # bit strings
        _features_task(),
    ]


# Settings per architecture (small and covering the variants); an architecture not listed gets its defaults.
VARIANTS = {
    "pair_mlp": [
        dict(d_embed=5, d_hidden=6, factored=f, output=o, act=a, bias=b)
        for f, o, a, b in [(True, "tied", "relu", False), (True, "untied", "x2", True), (True, "collapsed", "x2", False),
                           (False, "tied", "x2", False), (False, "untied", "relu", False), (False, "collapsed", "relu", True)]
    ] + [dict(d_embed=5, d_hidden=6, output="untied", init="pair")],  # PAIR's notebooks' haiku draws
    "transformer": [
        dict(d_model=12, n_heads=3, d_head=4, d_mlp=16),  # Nanda-shaped
        dict(d_model=12, n_heads=2, d_head=5, d_mlp=10, n_layers=2),  # the direct path skips a block
        dict(d_model=12, n_heads=2, d_head=6, d_mlp=10, n_layers=2, norm="pre", act="gelu"),
        dict(d_model=12, n_heads=2, d_head=6, d_mlp=10, n_layers=2, norm="post"),
        # grokfast's block (LayerNorm output as the residual, attention biases, nn.MultiheadAttention's init)
        dict(d_model=12, n_heads=2, d_head=6, d_mlp=10, n_layers=2, norm="pre_overwrite", act="gelu",
             attn_bias=True, init="torch-mha"),
        # openai/grok's: fixed sinusoidal positions, no MLP biases, nn.Linear's init
        dict(d_model=12, n_heads=3, d_head=4, d_mlp=16, n_layers=2, norm="post", pos="sinusoidal", mlp_bias=False,
             init="torch-linear"),
        dict(d_model=12, n_heads=3, d_head=4, d_mlp=16, pos="sinusoidal", attn_bias=True),  # one layer: the table path
    ],
    "mlp": [dict(width=9), dict(width=9, act="x2", encoding="pm1"), dict(width=7, depth=3, act="gelu", bias=False)],
}
CASES = [(name, i) for name in architectures() for i in range(len(VARIANTS.get(name, [{}])))]


def _build(name: str, variant: dict):
    """(architecture, task, ensemble of M members, inputs) on the first candidate task ``name`` accepts."""
    for task in candidate_tasks():
        try:
            model_config(name, task, **variant)
        except ConfigError:
            continue
        run = SimpleNamespace(model={"arch": name, "init_scale": SCALES, **variant}, n_members=M, dtype="float64",
                              device="cpu", seed=0, member_seeds=SEEDS)
        ens = build_model(run, task)
        x = task.inputs[:64]
        return get_architecture(name), task, ens, (x.to(F64) if x.is_floating_point() else x)
    pytest.fail(f"no task in candidate_tasks() fits architecture {name!r}: add one")


def check_architecture(name: str, variant: dict) -> tuple:
    arch, task, ens, x = _build(name, variant)
    assert isinstance(ens, arch.ensemble_cls) and arch.input_kind == getattr(task, "input_kind", "tokens")
    logits, cache = ens.run_with_cache(x)
    assert logits.shape == (M, x.shape[0], task.n_classes)

    # (a) member i is the reference initialized from the same seed and scale: logits and every activation
    refs = [arch.reference_cls(ens.cfg, dtype=F64).init_(s, a) for s, a in zip(SEEDS, SCALES)]
    for i, ref in enumerate(refs):
        torch.testing.assert_close(ens(x)[i], ref(x), rtol=1e-10, atol=1e-10)
        ref_logits, ref_cache = ref.run_with_cache(x)
        torch.testing.assert_close(logits[i], ref_logits, rtol=1e-10, atol=1e-10)
        assert set(cache) == set(ref_cache)
        for k in ref_cache:
            torch.testing.assert_close(cache[k][i], ref_cache[k], rtol=1e-10, atol=1e-10, msg=k)

    # (b) a checkpoint round trip (through torch.save bytes) into a fresh, zero ensemble gives the same function
    buf = io.BytesIO()
    torch.save(ens.state_dict(), buf)
    fresh = arch.ensemble_cls(ens.cfg, M, dtype=F64)
    assert not torch.equal(fresh(x), ens(x))
    fresh.load_state_dict(torch.load(io.BytesIO(buf.getvalue())))
    assert torch.equal(fresh(x), ens(x))

    # (c) the anatomy: shapes, from a checkpoint or the live weights alike, per member
    a = ens.anatomy()
    assert isinstance(a, Anatomy) and (a.arch, a.input_kind) == (name, arch.input_kind)
    if a.embedding is not None:
        assert a.embedding.dim() == 3 and a.embedding.shape[0] == M
    if a.neuron_in is not None:
        assert a.neuron_in.dim() == 3 and (a.neuron_in.shape[0], a.neuron_in.shape[2]) == (M, a.d_hidden)
    if a.neuron_out is not None:
        assert a.neuron_out.shape == (M, a.d_hidden, task.n_classes)
    for v in a.views:
        assert isinstance(v, WeightView) and v.weight.dim() == 3 and v.weight.shape[0] == M
        assert v.title and v.row_label and v.col_label
    assert a.hook_names and set(a.hook_names) <= set(cache)
    assert cache[a.hook_names[0]].shape[:2] == (M, x.shape[0]) and cache[a.hook_names[0]].shape[-1] == a.d_hidden
    tensors = lambda an: [t for t in (an.embedding, an.neuron_in, an.neuron_out, *(v.weight for v in an.views)) if t is not None]
    for t in tensors(a):
        assert not t.requires_grad
    for t, u in zip(tensors(a), tensors(fresh.anatomy(torch.load(io.BytesIO(buf.getvalue()))))):
        assert torch.equal(t, u)
    one = ens.anatomy({k: v[1:2] for k, v in ens.state_dict().items()})  # one member's checkpoint
    for t, u in zip(tensors(a), tensors(one)):
        torch.testing.assert_close(u, t[1:2], rtol=1e-12, atol=1e-12)

    # (d) the cost: the true parameter count, and the activations run_with_cache records per example
    cost = arch.ensemble_cls.cost(ens.cfg)
    assert isinstance(cost, ModelCost)
    assert cost.n_params == sum(p.numel() for p in refs[0].parameters())
    assert sum(p.numel() for p in ens.parameters()) == M * cost.n_params
    assert cost.activation_elements * M * x.shape[0] == sum(t.numel() for t in cache.values())
    assert cost.width >= a.d_hidden
    return arch, task, ens, x, a, refs


@pytest.mark.parametrize("name,variant", CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_every_architecture_matches_its_reference_round_trips_and_states_its_anatomy(name, variant):
    arch, task, ens, x, a, refs = check_architecture(name, VARIANTS.get(name, [{}])[variant])
    if name in COMPOSE:
        for i, ref in enumerate(refs):
            COMPOSE[name](ref, a, i, x)


# ------------------------------------------------------- neuron maps against the reference's forward


def _compose_pair_mlp(ref, a: Anatomy, i: int, x):
    """PAIR MLP: logits = act(neuron_in[a] + neuron_in[b] + b_in) @ neuron_out, for every variant."""
    pre = a.neuron_in[i][x[:, 0]] + a.neuron_in[i][x[:, 1]]  # [batch, d_hidden]
    if ref.cfg.bias:
        pre = pre + ref.mlp.b_in
    logits, cache = ref.run_with_cache(x)
    torch.testing.assert_close(pre, cache["mlp.hook_pre"], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(ACTIVATIONS[ref.cfg.act](pre) @ a.neuron_out[i], logits, rtol=1e-10, atol=1e-10)
    # the embedding is W_E, or the input table when the model has no W_E
    want = ref.embed.W_E if ref.cfg.has_embed else ref.mlp.W_in
    assert torch.equal(a.embedding[i], want.detach())


def _compose_transformer(ref, a: Anatomy, i: int, x):
    """Transformer: neuron_in is the direct path W_E·W_in into the LAST block's MLP, neuron_out its
    W_out·W_U: the MLP input at the last position minus everything but the token's own embedding
    is neuron_in[token]; the logits minus all but the MLP's neurons are post @ neuron_out."""
    assert torch.equal(a.embedding[i], ref.embed.W_E.detach())
    if ref.cfg.norm != "none":
        return  # LayerNorm sits on the paths; the maps ignore it (as the analyses always have)
    L = ref.cfg.n_layers - 1
    blk, tok = ref.blocks[L], x[:, -1]
    logits, cache = ref.run_with_cache(x)
    mid = cache[f"blocks.{L}.hook_resid_mid"][:, -1]  # [batch, d_model]
    pre = cache[f"blocks.{L}.mlp.hook_pre"][:, -1]  # [batch, d_mlp]
    direct = pre - (mid - ref.embed.W_E[tok]) @ blk.mlp.W_in - blk.mlp.b_in
    torch.testing.assert_close(direct, a.neuron_in[i][tok], rtol=1e-10, atol=1e-10)
    post = cache[f"blocks.{L}.mlp.hook_post"][:, -1]
    rest = (mid + blk.mlp.b_out) @ ref.unembed.W_U
    torch.testing.assert_close(logits - rest, post @ a.neuron_out[i], rtol=1e-10, atol=1e-10)


def _compose_mlp(ref, a: Anatomy, i: int, x):
    """Parity MLP: the first layer's pre-activation is bits @ neuron_in (+ b_in); with one hidden
    layer the logits are act(that) @ neuron_out (+ b_U), and deeper nets have no neuron_out."""
    bits = x.to(F64) if ref.cfg.encoding == "01" else 1 - 2 * x.to(F64)
    pre = bits @ a.neuron_in[i] + (ref.blocks[0].mlp.b_in if ref.cfg.bias else 0)
    logits, cache = ref.run_with_cache(x)
    torch.testing.assert_close(pre, cache["blocks.0.mlp.hook_pre"], rtol=1e-10, atol=1e-10)
    assert a.embedding is None
    if ref.cfg.depth > 1:
        assert a.neuron_out is None
        return
    out = ACTIVATIONS[ref.cfg.act](pre) @ a.neuron_out[i] + (ref.unembed.b_U if ref.cfg.bias else 0)
    torch.testing.assert_close(out, logits, rtol=1e-10, atol=1e-10)


COMPOSE = {"pair_mlp": _compose_pair_mlp, "transformer": _compose_transformer, "mlp": _compose_mlp}


def test_anatomy_maps_are_products_in_the_state_dtype_and_name_what_is_missing():
    ens = build_model(SimpleNamespace(model={"arch": "pair_mlp", "d_hidden": 4, "output": "untied"}, n_members=2,
                                      dtype="float32", device="cpu", seed=3), make_task("modular", op="add", p=5))
    state = ens.state_dict()
    a32, a64 = ens.anatomy(state), ens.anatomy({k: v.double() for k, v in state.items()})
    assert a32.neuron_out.dtype == torch.float32 and a64.neuron_out.dtype == F64
    # a float64 state gives float64 products of the stored float32 factors (what a figure wants)
    want = state["mlp.W_out"].double() @ state["unembed.W_U"].double()
    torch.testing.assert_close(a64.neuron_out, want, rtol=1e-14, atol=1e-14)
    with pytest.raises(AnalysisError, match="unembed.W_U"):
        ens.anatomy({k: v for k, v in state.items() if k != "unembed.W_U"})


# ------------------------------------------------------- a toy architecture from test code alone


from toys import Toy, ToyConfig, ToyEnsemble  # noqa: E402
from toys import toy_sizes as _toy_sizes  # noqa: E402


class ToyWithoutCost(ToyEnsemble):
    cost = EnsembleBase.__dict__["cost"]  # as an architecture that never said how big it is


@pytest.fixture
def toy():
    register_architecture("toy_relu", ToyConfig, ToyEnsemble, Toy, _toy_sizes)
    yield get_architecture("toy_relu")
    unregister_architecture("toy_relu")


def test_a_toy_architecture_registered_from_test_code_builds_and_passes_every_check(toy):
    assert ARCHS["toy_relu"] == (ToyConfig, ToyEnsemble) and "toy_relu" in architectures()
    arch, task, ens, x, a, refs = check_architecture("toy_relu", {"d_hidden": 6})
    assert isinstance(ens, ToyEnsemble) and ens.cfg == ToyConfig(d_in=4, n_classes=3, d_hidden=6)
    for i, ref in enumerate(refs):  # neuron maps against the reference's forward, as for the built-ins
        torch.testing.assert_close(torch.relu(x @ a.neuron_in[i] + ref.mlp.b_in) @ a.neuron_out[i], ref(x))
    # registering the same entry again is a no-op; another class under the name is refused
    register_architecture("toy_relu", ToyConfig, ToyEnsemble, Toy, _toy_sizes)
    with pytest.raises(ConfigError, match="already registered"):
        register_architecture("toy_relu", ToyConfig, ToyWithoutCost, Toy, _toy_sizes)


def test_unregistering_removes_the_architecture_everywhere(toy):
    unregister_architecture("toy_relu")
    assert "toy_relu" not in ARCHS and "toy_relu" not in architectures()
    with pytest.raises(ConfigError, match="must be one of pair_mlp, transformer, mlp"):
        get_architecture("toy_relu")
    register_architecture("toy_relu", ToyConfig, ToyEnsemble, Toy, _toy_sizes)  # for the fixture's teardown


def _one_line(err) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_a_task_and_an_architecture_must_agree_on_the_input_kind(toy):
    with pytest.raises(ConfigError) as err:
        model_config("toy_relu", make_task("modular", op="add", p=5))
    assert "reads features" in _one_line(err) and "'tokens'" in _one_line(err)
    for name in ("pair_mlp", "transformer", "mlp"):
        with pytest.raises(ConfigError) as err:
            model_config(name, _features_task())
        assert "reads tokens" in _one_line(err) and "'features'" in _one_line(err)


def test_registration_checks_what_it_is_given():
    with pytest.raises(ConfigError, match="subclass of EnsembleBase"):
        register_architecture("bad", ToyConfig, Toy, Toy, _toy_sizes)
    with pytest.raises(ConfigError, match="identifier"):
        register_architecture("not a name", ToyConfig, ToyEnsemble, Toy, _toy_sizes)
    assert "bad" not in ARCHS


def test_a_sweep_over_an_architecture_without_a_cost_is_refused_not_packed_at_width_one(tmp_path):
    from grokscope.sweep import pack, parse_spec

    register_architecture("toy_nocost", ToyConfig, ToyWithoutCost, Toy, _toy_sizes)
    try:
        ens = build_model(SimpleNamespace(model={"arch": "toy_nocost"}, n_members=2, dtype="float64", device="cpu", seed=0),
                          _features_task())
        assert ens(_features_task().inputs.double()).shape == (2, 40, 3)  # it trains; only packing needs the cost
        with pytest.raises(ConfigError) as err:
            ToyWithoutCost.cost(ens.cfg)
        assert "cost" in _one_line(err) and "ToyWithoutCost" in _one_line(err)
        # the sweep path itself, on a token task the built-in registry can validate
        register_architecture("toy_tokens_nocost", ToyConfig, _TokensNoCost, _TokensRef, lambda t: {"d_in": t.n_ctx, "n_classes": t.n_classes})
        (tmp_path / "base.toml").write_text('[task]\nkind = "modular"\nop = "add"\np = 5\n[model]\narch = "toy_tokens_nocost"\n')
        spec = parse_spec({"name": "nocost", "seeds": 2, "steps": 10, "base": str(tmp_path / "base.toml"),
                           "grid": {"optim.lr": [1e-3, 1e-2]}})
        with pytest.raises(ConfigError) as err:
            pack(spec)
        assert "_TokensNoCost" in _one_line(err) and "cost" in _one_line(err)
    finally:
        for name in ("toy_nocost", "toy_tokens_nocost"):
            if name in ARCHS:
                unregister_architecture(name)


class _TokensRef(Toy):
    input_kind = "tokens"

    def _check_tokens(self, tokens):
        return tokens

    def _forward(self, tokens, cache):
        return super()._forward(tokens.to(self.mlp.W_in.dtype), cache)


class _TokensNoCost(ToyWithoutCost):
    reference_cls = _TokensRef
    input_kind = "tokens"

    def _check_tokens(self, tokens):
        return tokens

    def _forward(self, tokens, cache):
        return super()._forward(tokens.to(self.dtype), cache)
