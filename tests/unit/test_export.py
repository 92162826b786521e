"""Exports (grokscope.export, Store.frame): every exported number is checked against the store's own
reads (``Store.metrics``, ``Store.members``, ``Store.load_checkpoint``), event files are read back
with TensorBoard's own reader, and the TransformerLens layout against a forward pass written in
TransformerLens's conventions (its components' shapes and einsums) that must give grokscope's logits.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from grokscope import load_config, train
from grokscope.config import RunConfig
from grokscope.errors import ConfigError
from grokscope.export import (
    export,
    hooked_transformer_config,
    member_logdir,
    tag_name,
    transformerlens_export,
)
from grokscope.models import TransformerConfig, build_model
from grokscope.store import Store

# The transformer's options beyond Nanda 2023's model (positions, biases, unembedding), where this grokscope has them.
HAS_OPTIONS = {"pos", "attn_bias", "mlp_bias", "unembed"} <= {f.name for f in dataclasses.fields(TransformerConfig)}
TINY_TF = ["task.p=5", "model.d_model=8", "model.n_heads=2", "model.d_head=4", "model.d_mlp=16", "train.steps=6",
           "log.n_checkpoints=3", "threads=1"]


def _train(store, preset, overrides):
    return train(load_config(preset=preset, overrides=overrides), store=store).run_id


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Four tiny runs: a one-layer transformer (2 members, one lr each), a two-layer pre-LN GELU
    transformer in float64, a pair MLP, and a post-LN transformer; plus a 2-point sweep."""
    from grokscope.sweep import parse_spec, run_sweep

    s = Store(tmp_path_factory.mktemp("export") / "runs.db")
    ids = {
        "tf": _train(s, "nanda-p113", TINY_TF + ["n_members=2", "optim.lr=[1e-3, 3e-3]", "dtype=float64"]),
        "pre": _train(s, "nanda-p113", TINY_TF + ["n_members=2", "model.n_layers=2", "model.norm=pre",
                                                  "model.act=gelu", "dtype=float64"]),
        "mlp": _train(s, "demo", ["task.p=5", "train.steps=3", "n_members=1", "threads=1"]),
        "post": _train(s, "nanda-p113", TINY_TF + ["n_members=1", "model.norm=post"]),
    }
    if HAS_OPTIONS:  # grokfast's kind of model: fixed positions, attention biases, no MLP biases, vocab logits
        ids["biased"] = _train(s, "nanda-p113", TINY_TF + [
            "n_members=2", "model.n_layers=2", "model.norm=pre", "model.act=gelu", "model.pos=sinusoidal",
            "model.attn_bias=true", "model.mlp_bias=false", "model.unembed=vocab", "model.init=torch-mha",
            "dtype=float64"])
    spec = parse_spec({"name": "wd", "base": "demo", "seeds": 1, "steps": 4,
                       "set": {"task.p": 5, "threads": 1, "log.n_checkpoints": 1},
                       "grid": {"optim.weight_decay": [0.1, 1.0]}})
    run_sweep(spec, s, progress=False, tune_memory=False)
    s.ids = ids
    return s


# ----------------------------------------------------------------------------------- tables
def test_metrics_frame_holds_every_measured_store_value_once(store):
    run = store.ids["tf"]
    df = store.frame(run)
    assert list(df.columns) == ["run", "member", "step", "metric", "value"]
    steps, values = store.metrics(run)
    expected = {(0, int(s), name, i): v for name, block in values.items() for i in range(block.shape[1])
                for s, v in zip(steps, block[:, i]) if not math.isnan(v)}
    got = {(int(r.run == run) - 1, int(r.step), r.metric, int(r.member)): r.value for r in df.itertuples()}
    assert got == expected and len(df) == len(expected)
    assert set(df["metric"].cat.categories) == set(values) and "test_acc" in values


def test_run_level_metrics_have_no_member_and_nans_are_not_rows(tmp_path):
    s = Store(tmp_path / "s.db")
    run = s.create_run(kind="train", config={"p": 5}, members=[{"seed": 1}, {"seed": 2}, {"seed": 3}])
    s.flush(run, metrics=[(0, {"loss": np.array([1.0, np.nan, 3.0]), "lr": np.array([0.5])}),
                          (10, {"loss": np.array([0.5, 0.25, np.nan])})])
    df = s.frame(run)
    rows = sorted((r.metric, r.step, None if pd.isna(r.member) else int(r.member), r.value) for r in df.itertuples())
    assert rows == [("loss", 0, 0, 1.0), ("loss", 0, 2, 3.0), ("loss", 10, 0, 0.5), ("loss", 10, 1, 0.25),
                    ("lr", 0, None, 0.5)]
    assert s.frame(run, names=["lr"])["metric"].tolist() == ["lr"]
    with pytest.raises(ConfigError, match="metric 'acc': not logged by run 1; logged: loss, lr"):
        s.frame(run, names=["acc"])
    with pytest.raises(ConfigError, match="table='curves'"):
        s.frame(run, table="curves")


def test_members_frame_has_each_members_outcome_and_its_own_config(store):
    run = store.ids["tf"]
    df = store.frame(run, table="members")
    rec, members = store.get_run(run), store.members(run)
    assert df["member"].tolist() == [0, 1] and (df["run"] == run).all()
    assert df["config.optim.lr"].tolist() == [1e-3, 3e-3]  # the per-member list, resolved
    assert df["config.model.d_model"].tolist() == [8, 8] and df["config.seed"].tolist() == [rec.config["seed"]] * 2
    for m in members:
        row = df.iloc[m["member"]]
        for key, value in m.items():
            assert (value is None and pd.isna(row[key])) or row[key] == value, key
    assert str(df["seed"].dtype) == "Int64" and str(df["config.optim.lr"].dtype) == "float64"


def test_a_sweeps_tables_cover_its_runs_and_say_which_point_each_member_is(store):
    from grokscope.sweep import sweep_members

    members = store.frame("wd", table="members")
    mapped = sweep_members(store, "wd")
    assert len(members) == 2 and (members["sweep"] == "wd").all()
    for m in mapped:
        row = members[(members["run"] == m["run_id"]) & (members["member"] == m["member"])].iloc[0]
        assert row["point"] == m["point"] and row["seed_index"] == m["seed"]
        assert row["config.optim.weight_decay"] == m["values"]["optim.weight_decay"]
    metrics = store.frame("wd")
    runs = sorted({m["run_id"] for m in mapped})
    assert sorted(metrics["run"].unique()) == runs
    assert len(metrics) == sum(len(store.frame(r)) for r in runs)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_parquet_and_csv_files_read_back_equal_to_the_frames(store, tmp_path, fmt):
    run = store.ids["tf"]
    paths = export(store, run, fmt, tmp_path / "out")
    assert [p.name for p in paths] == [f"metrics.{fmt}", f"members.{fmt}"]
    read = (lambda p: pd.read_parquet(p)) if fmt == "parquet" else pd.read_csv
    metrics, members = read(paths[0]), read(paths[1])
    want = store.frame(run)
    assert metrics["value"].tolist() == want["value"].tolist()  # bit-exact through the file
    assert metrics["metric"].astype(str).tolist() == want["metric"].astype(str).tolist()
    assert metrics[["run", "member", "step"]].astype("int64").equals(want[["run", "member", "step"]].astype("int64"))
    assert members["config.optim.lr"].tolist() == [1e-3, 3e-3] and members["phase"].tolist() == [
        m["phase"] for m in store.members(run)]


# ------------------------------------------------------------------------------ tensorboard
def test_tensorboard_logs_read_back_with_tensorboards_reader(store, tmp_path):
    pytest.importorskip("tensorboardX")
    ea_mod = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    from tensorboard.plugins.hparams import plugin_data_pb2

    run = store.ids["tf"]
    dirs = export(store, run, "tensorboard", tmp_path / "tb")
    assert dirs == [member_logdir(tmp_path / "tb", run, i) for i in (0, 1)]
    steps, values = store.metrics(run)
    lrs = store.get_run(run).config["optim"]["lr"]
    for i, d in enumerate(dirs):
        acc = ea_mod.EventAccumulator(str(d), size_guidance={"scalars": 0})
        acc.Reload()
        for name, block in values.items():
            events = acc.Scalars(tag_name(name))
            want = [(int(s), v) for s, v in zip(steps, block[:, i]) if not math.isnan(v)]
            assert [e.step for e in events] == [s for s, _ in want]
            np.testing.assert_allclose([e.value for e in events], [v for _, v in want], rtol=1e-6)  # float32
        content = acc.PluginTagToContent("hparams")
        start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
        hp = start.session_start_info.hparams
        assert hp["optim.lr"].number_value == lrs[i] and hp["member"].number_value == i
        assert hp["model.arch"].string_value == "transformer" and hp["phase"].string_value == store.members(run)[i]["phase"]
        seed = store.members(run)[i]["seed"]
        assert seed > 2**53 and hp["seed"].string_value == str(seed)  # kept exact as text, not a float64
        exp = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
        assert {m.name.tag for m in exp.metric_infos} >= {"test_acc", "train_loss"}


# ---------------------------------------------------------------------------- TransformerLens
def _tl_shapes(kw):
    """Every parameter of a HookedTransformer with these arguments and its shape, as TransformerLens's
    components declare them (Embed, PosEmbed, LayerNorm, Attention, MLP, Unembed)."""
    D, H, E, M = kw["d_model"], kw["n_heads"], kw["d_head"], kw["d_mlp"]
    shapes = {"embed.W_E": (kw["d_vocab"], D), "pos_embed.W_pos": (kw["n_ctx"], D),
              "unembed.W_U": (D, kw["d_vocab_out"]), "unembed.b_U": (kw["d_vocab_out"],)}
    ln = kw["normalization_type"] == "LN"
    for l in range(kw["n_layers"]):
        b = f"blocks.{l}."
        shapes.update({b + f"attn.W_{x}": (H, D, E) for x in "QKV"} | {b + f"attn.b_{x}": (H, E) for x in "QKV"})
        shapes.update({b + "attn.W_O": (H, E, D), b + "attn.b_O": (D,), b + "mlp.W_in": (D, M), b + "mlp.b_in": (M,),
                       b + "mlp.W_out": (M, D), b + "mlp.b_out": (D,)})
        if ln:
            shapes.update({b + f"{n}.{p}": (D,) for n in ("ln1", "ln2") for p in "wb"})
    if ln:
        shapes.update({"ln_final.w": (D,), "ln_final.b": (D,)})
    return shapes


def _tl_forward(sd, kw, tokens):
    """A HookedTransformer's forward in TransformerLens's conventions: ``tokens [batch, pos]`` ->
    ``logits [batch, pos, d_vocab_out]``; pre-LN blocks, LayerNorm as TransformerLens computes it."""
    act = {"relu": torch.relu, "gelu": torch.nn.functional.gelu}[kw["act_fn"]]

    def ln(x, name):
        if kw["normalization_type"] is None:
            return x
        x = x - x.mean(-1, keepdim=True)
        scale = (x.pow(2).mean(-1, keepdim=True) + kw["eps"]).sqrt()
        return x / scale * sd[name + ".w"] + sd[name + ".b"]

    T = tokens.shape[1]
    x = sd["embed.W_E"][tokens] + sd["pos_embed.W_pos"][:T]  # [batch, pos, d_model]
    for l in range(kw["n_layers"]):
        a = f"blocks.{l}.attn."
        h = ln(x, f"blocks.{l}.ln1")
        q, k, v = (torch.einsum("bpd,hde->bphe", h, sd[a + f"W_{n}"]) + sd[a + f"b_{n}"] for n in "QKV")
        scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(kw["d_head"])
        scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
        z = torch.einsum("bhqk,bkhe->bqhe", scores.softmax(-1), v)  # [batch, pos, head, d_head]
        x = x + torch.einsum("bqhe,hed->bqd", z, sd[a + "W_O"]) + sd[a + "b_O"]
        m = f"blocks.{l}.mlp."
        h = ln(x, f"blocks.{l}.ln2")
        x = x + act(h @ sd[m + "W_in"] + sd[m + "b_in"]) @ sd[m + "W_out"] + sd[m + "b_out"]
    return ln(x, "ln_final") @ sd["unembed.W_U"] + sd["unembed.b_U"]


def _grokscope_logits(store, run, step):
    """Every member's logits on every input of the run's task, by grokscope's ensemble (its fast path)."""
    cfg = RunConfig.from_dict(store.get_run(run).config)
    task = cfg.build_task()
    ens = build_model(cfg, task)
    ens.load_state_dict(store.load_checkpoint(run, step))
    with torch.no_grad():
        return task.inputs, ens(task.inputs)  # [n_all, n_ctx], [model, n_all, n_classes]


KINDS = ["tf", "pre", pytest.param("biased", marks=pytest.mark.skipif(not HAS_OPTIONS, reason="no such options"))]


@pytest.mark.parametrize("kind", KINDS)
def test_transformerlens_layout_gives_grokscopes_logits(store, kind):
    run = store.ids[kind]
    step = store.checkpoint_steps(run)[-1]
    tokens, logits = _grokscope_logits(store, run, step)
    ckpt = store.load_checkpoint(run, step)
    for member in (0, 1):
        exp = transformerlens_export(store, run, member=member)
        assert exp.source["step"] == step and exp.source["member"] == member
        sd, kw = exp.state_dict, exp.config
        assert {k: tuple(v.shape) for k, v in sd.items()} == _tl_shapes(kw)
        for key, value in sd.items():  # grokscope's own tensors unchanged; zeros for the biases it has none of
            if key in ckpt:
                assert torch.equal(value, ckpt[key][member]), key
            else:
                assert key == "pos_embed.W_pos" or (key.split(".")[-1].startswith("b_") and not value.any()), key
        assert kw["d_vocab_out"] == logits.shape[-1] and kw["normalization_type"] == (None if kind == "tf" else "LN")
        got = _tl_forward(sd, kw, tokens)[:, -1]  # grokscope reads the answer at the last position
        torch.testing.assert_close(got, logits[member], rtol=1e-10, atol=1e-12)


@pytest.mark.filterwarnings("ignore:HookedTransformer is deprecated:DeprecationWarning")
def test_transformerlens_round_trip_through_hooked_transformer(store):
    tl = pytest.importorskip("transformer_lens")
    try:
        tl.HookedTransformer  # noqa: B018  (TransformerLens 4 removed it: raises ImportError)
    except ImportError:
        pytest.skip("TransformerLens >= 4 has no HookedTransformer; the round trip needs transformer_lens<4")
    for kind in ("tf", "pre", "biased") if HAS_OPTIONS else ("tf", "pre"):
        run = store.ids[kind]
        tokens, logits = _grokscope_logits(store, run, store.checkpoint_steps(run)[-1])
        exp = transformerlens_export(store, run, member=1)
        model = tl.HookedTransformer(tl.HookedTransformerConfig(**exp.config_kwargs()))
        assert {n for n, _ in model.named_parameters()} == set(exp.state_dict)  # no key missing, none extra
        missing, unexpected = model.load_state_dict(exp.state_dict, strict=False)
        assert not unexpected and all(k.rsplit(".", 1)[-1] in ("mask", "IGNORE") for k in missing)  # buffers only
        with torch.no_grad():
            torch.testing.assert_close(model(tokens)[:, -1], logits[1], rtol=1e-10, atol=1e-12)


def test_transformerlens_config_of_nandas_model_matches_his_notebook():
    from grokscope.models import TransformerConfig

    kw = hooked_transformer_config(TransformerConfig.nanda2023(p=113))
    # TransformerLens's demos/Grokking_Demo.ipynb: Nanda's model as a HookedTransformerConfig
    assert {k: kw[k] for k in ("n_layers", "n_heads", "d_model", "d_head", "d_mlp", "act_fn", "normalization_type",
                               "d_vocab", "d_vocab_out", "n_ctx")} == {
        "n_layers": 1, "n_heads": 4, "d_model": 128, "d_head": 32, "d_mlp": 512, "act_fn": "relu",
        "normalization_type": None, "d_vocab": 114, "d_vocab_out": 113, "n_ctx": 3}


# ------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("target,fmt,kw,match", [
    (999, "csv", {}, "run 999 not found"),
    ("nosuch", "parquet", {}, "'nosuch' is neither a run id nor a sweep"),
    ("tf", "xml", {}, "--format='xml': must be one of parquet, csv, tensorboard, transformerlens"),
    ("mlp", "transformerlens", {}, "is a 'pair_mlp' model; only transformer runs export to TransformerLens"),
    ("post", "transformerlens", {}, "model.norm='post'"),
    ("wd", "transformerlens", {}, "exports one member of one run"),
    ("tf", "transformerlens", {"member": 2}, "--member 2: run"),
    ("tf", "transformerlens", {"step": 12345}, "--step 12345"),
    ("tf", "csv", {"member": 0}, "--member/--step choose"),
])
def test_bad_input_is_one_config_error_line_and_writes_nothing(store, tmp_path, target, fmt, kw, match):
    target = store.ids.get(target, target)
    n_runs = len(store.list_runs())
    with pytest.raises(ConfigError, match=match.replace("(", r"\(").replace("[", r"\[")) as e:
        export(store, target, fmt, tmp_path / "out", **kw)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "out").exists() and len(store.list_runs()) == n_runs


@pytest.mark.parametrize("options,match", [
    ({"norm": "post"}, "model.norm='post' (LayerNorm after each residual add"),
    pytest.param({"norm": "pre_overwrite"}, "model.norm='pre_overwrite'",
                 marks=pytest.mark.skipif(not HAS_OPTIONS, reason="no such norm")),
    ({"act": "x2"}, "model.act='x2' has no TransformerLens act_fn; exportable: relu, gelu"),
])
def test_models_transformerlens_cannot_express_are_refused(options, match):
    cfg = TransformerConfig(d_vocab=6, n_classes=5, d_model=8, n_heads=2, d_head=4, d_mlp=16, **options)
    with pytest.raises(ConfigError, match=match.replace("(", r"\(")):
        hooked_transformer_config(cfg)
