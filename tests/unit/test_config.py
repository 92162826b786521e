"""Run configs: defaults, presets, ``--set`` parsing, per-member lists, and every user mistake.

References: the published setups the presets name (Nanda et al. 2023, Power et al. 2022, PAIR
2023), TOML's own literal syntax for ``--set`` values, and the issue's list of bad inputs.
"""

from __future__ import annotations

import pytest

from grokscope.config import (
    PER_MEMBER_KEYS,
    LogConfig,
    OptimConfig,
    RunConfig,
    TrainConfig,
    list_presets,
    load_config,
    parse_override,
)
from grokscope.errors import ConfigError, GrokscopeError


def _error(**kwargs) -> str:
    """The message of the ConfigError that ``load_config(**kwargs)`` raises (one line)."""
    with pytest.raises(ConfigError) as info:
        load_config(**kwargs)
    message = str(info.value)
    assert "\n" not in message and message.strip() == message and message
    return message


# -- defaults and presets ----------------------------------------------------------------------
def test_defaults_are_valid_and_buildable():
    cfg = load_config()
    # validation resolves the task and model sections: every option is stored, defaults included
    assert cfg == RunConfig.from_dict({}) == RunConfig.from_dict(RunConfig().to_dict())
    assert cfg.task["pairs"] == "ordered" and cfg.model["d_hidden"] == 24 and cfg.model["init_scale"] == 1.0
    assert isinstance(cfg.train, TrainConfig) and isinstance(cfg.optim, OptimConfig) and isinstance(cfg.log, LogConfig)
    task = cfg.build_task()
    assert task.n_all == 67 * 67  # a + b mod 67 over ordered pairs
    assert len(cfg.seeds()) == cfg.n_members == len(set(cfg.seeds()))


def test_the_issues_presets_exist_and_all_presets_load():
    names = list_presets()
    assert {"pair-mod67", "nanda-p113", "power-div97", "pair-parity"} <= set(names)
    for name in names:
        cfg = load_config(preset=name)
        assert RunConfig.from_dict(cfg.to_dict()) == cfg
        cfg.build_task()  # the task section builds


def test_presets_match_their_papers():
    # Nanda et al. 2023, §3 / appendix: p=113, 30% data, d_model 128, 4 heads of 32, d_mlp 512,
    # full-batch AdamW lr 1e-3, wd 1, betas (0.9, 0.98), 40k steps.
    n = load_config(preset="nanda-p113")
    assert (n.task["op"], n.task["p"], n.task["train_frac"]) == ("add", 113, 0.3)
    sizes = tuple(n.model[k] for k in ("d_model", "n_heads", "d_head", "d_mlp", "n_layers"))
    assert sizes == (128, 4, 32, 512, 1)
    assert (n.optim.name, n.optim.lr, n.optim.weight_decay, n.optim.b1, n.optim.b2) == ("adamw", 1e-3, 1.0, 0.9, 0.98)
    assert (n.train.steps, n.train.batch_size) == (40_000, 0)
    # Power et al. 2022: a / b mod 97, 2 layers, batch 512, 50% data, AdamW lr 1e-3 wd 1.
    p = load_config(preset="power-div97")
    assert (p.task["op"], p.task["p"], p.task["train_frac"], p.model["n_layers"]) == ("div", 97, 0.5, 2)
    assert (p.train.batch_size, p.optim.lr, p.optim.weight_decay) == (512, 1e-3, 1.0)
    assert (p.task["op_token"], p.model["pos"], p.model["mlp_bias"], p.model["norm"]) == (True, "sinusoidal", False, "post")
    # Grokfast (ironjr/grokfast main.py): x * y mod 97, y != 0, "x ∘ y =", 50% data, 2-layer pre-LN
    # transformer, width 128, 4 heads, GELU MLP 512, batch 512, Adam lr 1e-3, betas (0.9, 0.98), warmup 10;
    # the README's EMA run: alpha 0.98, lambda 2, weight decay 0.005.
    g, e = load_config(preset="grokfast-mul97"), load_config(preset="grokfast-mul97-ema")
    assert (g.task["op"], g.task["p"], g.task["b_nonzero"], g.task["op_token"], g.task["train_frac"]) == ("mul", 97, True, True, 0.5)
    assert (g.model["d_model"], g.model["n_heads"], g.model["d_mlp"], g.model["n_layers"], g.model["act"]) == (128, 4, 512, 2, "gelu")
    assert (g.train.batch_size, g.optim.name, g.optim.lr, g.optim.b2, g.optim.warmup_steps) == (512, "adam", 1e-3, 0.98, 10)
    assert (g.optim.weight_decay, g.optim.grokfast_alpha) == (0.0, 0.0)
    assert (e.optim.weight_decay, e.optim.grokfast_alpha, e.optim.grokfast_lambda) == (0.005, 0.98, 2.0)
    # PAIR 2023: a + b mod 67 with a 24-neuron MLP; sparse parity n=30, k=3, 1200 strings, L1 decay.
    m = load_config(preset="pair-mod67")
    assert (m.task["op"], m.task["p"], m.model["arch"], m.model["d_hidden"]) == ("add", 67, "pair_mlp", 24)
    # PAIR's notebook (server-side/grokking/MLP_Modular_Addition.ipynb, `hyper`): embed 500, 24 neurons,
    # 40% of the unordered pairs, AdamW lr 1e-3, wd 1, betas (0.9, 0.98), 50k full-batch steps, float64,
    # -mean(onehot * log_softmax) (= CE / 67), haiku's initializers.
    nb = load_config(preset="pair-mod67-notebook")
    assert (nb.model["d_embed"], nb.model["d_hidden"], nb.model["init"], nb.task["pairs"], nb.task["train_frac"]) == (
        500, 24, "pair", "unordered", 0.4)
    assert (nb.optim.lr, nb.optim.weight_decay, nb.optim.b2, nb.optim.warmup_steps, nb.train.steps, nb.train.batch_size,
            nb.dtype) == (1e-3, 1.0, 0.98, 0, 50_000, 0, "float64")
    assert abs(nb.train.loss_scale * 67 - 1) < 1e-15
    q = load_config(preset="pair-parity")
    assert (q.task["n_bits"], q.task["k"], q.task["n_train"], q.optim.decay) == (30, 3, 1200, "l1")


# -- --set parsing ---------------------------------------------------------------------------
@pytest.mark.parametrize("item, expected", [
    ("optim.lr=3e-3", ("optim.lr", 0.003)),
    ("n_members=4", ("n_members", 4)),
    ("train.stop_after_grok=true", ("train.stop_after_grok", True)),
    ("train.stop_after_grok=false", ("train.stop_after_grok", False)),
    ("name=foo", ("name", "foo")),  # a bare word is a string
    ('name="foo bar"', ("name", "foo bar")),  # a quoted TOML string
    ("optim.lr=[1e-3, 2e-3]", ("optim.lr", [0.001, 0.002])),
    ("member_seeds=[3,4]", ("member_seeds", [3, 4])),
    (" task.op = mul ", ("task.op", "mul")),
    ("task.op=x2+y2", ("task.op", "x2+y2")),  # not a TOML literal: kept as the bare string
])
def test_parse_override(item, expected):
    key, value = parse_override(item)
    assert (key, value) == expected
    assert type(value) is type(expected[1])


def test_overrides_apply_with_their_types():
    cfg = load_config(overrides=["optim.lr=1", "n_members=3", "train.stop_after_grok=true", "name=mine",
                                 "task.op=mul", "task.p=11", "dtype=float64", "optim.weight_decay=[0, 0.5, 1]"])
    assert cfg.optim.lr == 1.0 and isinstance(cfg.optim.lr, float)  # an integer literal is a valid float
    assert cfg.optim.weight_decay == [0.0, 0.5, 1.0] and all(isinstance(v, float) for v in cfg.optim.weight_decay)
    assert (cfg.n_members, cfg.train.stop_after_grok, cfg.name, cfg.dtype) == (3, True, "mine", "float64")
    assert (cfg.task["op"], cfg.task["p"]) == ("mul", 11)
    assert load_config(preset="pair-mod67", overrides=["train.steps=7"]).train.steps == 7


def test_changing_the_task_kind_drops_the_old_kinds_options():
    cfg = load_config(overrides=["task.kind=parity", "task.n_bits=8", "task.k=2", "task.n_train=40", "task.n_test=40",
                                 "model.arch=mlp", "model.width=8"])
    assert "op" not in cfg.task and "p" not in cfg.task and cfg.task["train_frac"] == 0.3
    assert cfg.build_task().n_ctx == 8


# -- per-member values -----------------------------------------------------------------------
PER_MEMBER_GOOD = {
    "task.train_frac": [0.2, 0.5, 1.0],
    "task.train_count": [5, 10, 49],
    "optim.lr": [1e-3, 2e-3, 3e-3],
    "optim.weight_decay": [0.0, 0.1, 1.0],
    "model.init_scale": [0.5, 1.0, 2.0],
    "member_seeds": [7, 8, 9],
}


def _config_dict(key: str, value, n_members: int = 3) -> dict:
    """A config dict (as a TOML file gives it) with ``key`` set to ``value``."""
    d = {"n_members": n_members, "task": {"kind": "modular", "op": "add", "p": 7, "train_frac": 0.5}}
    section, _, name = key.rpartition(".")
    if key == "task.train_count":
        del d["task"]["train_frac"]
    if section:
        d.setdefault(section, {})[name] = value
    else:
        d[name] = value
    return d


def _get(cfg: RunConfig, key: str):
    section, _, name = key.rpartition(".")
    if not section:
        return getattr(cfg, name)
    sec = getattr(cfg, section)
    return sec[name] if isinstance(sec, dict) else getattr(sec, name)


def test_every_per_member_key_is_covered():
    assert set(PER_MEMBER_KEYS) | {"member_seeds"} == set(PER_MEMBER_GOOD)


@pytest.mark.parametrize("key", sorted(PER_MEMBER_GOOD))
def test_per_member_lists_need_one_value_per_member(key):
    good = PER_MEMBER_GOOD[key]
    cfg = RunConfig.from_dict(_config_dict(key, good))
    assert _get(cfg, key) == good and len(_get(cfg, key)) == cfg.n_members == 3
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    for bad in (good[:2], good + good[:1]):  # two or four values for three members
        with pytest.raises(ConfigError) as info:
            RunConfig.from_dict(_config_dict(key, bad))
        message = str(info.value)
        assert key.split(".")[-1] in message and str(bad[:2])[1:-1] in message and "\n" not in message, message
    # The same list through --set on the command line.
    n = 2 if key != "task.train_count" else None
    if n:
        over = ["task.p=7", f"n_members={n}", f"{key}={good[:2]}"]
        assert _get(load_config(overrides=over), key) == good[:2]
        assert key.split(".")[-1] in _error(overrides=["task.p=7", "n_members=3", f"{key}={good[:2]}"])


def test_train_frac_and_train_count_exclude_each_other():
    message = _error(overrides=["task.train_count=10"])  # the default task has a train_frac
    assert "train_frac" in message and "train_count" in message


# -- user mistakes: one line, naming the value -----------------------------------------------
@pytest.mark.parametrize("kwargs, named", [
    (dict(preset="nope"), "nope"),
    (dict(overrides=["task.op=pow"]), "pow"),
    (dict(overrides=["task.op=div", "task.p=12"]), "12"),  # division needs a prime modulus
    (dict(overrides=["task.p=1"]), "task.p=1"),
    (dict(overrides=["task.train_frac=0"]), "task.train_frac=0"),
    (dict(overrides=["task.train_frac=1.5"]), "1.5"),
    (dict(overrides=["task.train_frac=-0.1"]), "-0.1"),
    (dict(overrides=["optim.lrr=1"]), "optim.lrr"),
    (dict(overrides=["foo=1"]), "foo"),
    (dict(overrides=["train.bogus=1"]), "train.bogus"),
    (dict(overrides=["a.b.c=1"]), "a.b.c"),
    (dict(overrides=["optim.lr"]), "optim.lr"),  # no '='
    (dict(overrides=["train.steps=abc"]), "abc"),
    (dict(overrides=["n_members=2.5"]), "2.5"),
    (dict(overrides=["train.stop_after_grok=1"]), "stop_after_grok"),
    (dict(overrides=["optim.lr=fast"]), "fast"),
    (dict(overrides=["task.train_frac=true"]), "True"),
    (dict(overrides=["optim.lr=0"]), "optim.lr"),
    (dict(overrides=["optim.weight_decay=-1"]), "-1"),
    (dict(overrides=["train.loss=l1"]), "l1"),
    (dict(overrides=["dtype=float16"]), "float16"),
    (dict(overrides=["model.arch=resnet"]), "resnet"),
    (dict(overrides=["model.d_hidden=0"]), "d_hidden"),
    (dict(overrides=["model.n_heads=4"]), "n_heads"),  # not an option of the default pair_mlp
    (dict(overrides=["task.kind=images"]), "images"),
    (dict(path="/nonexistent/x.toml"), "/nonexistent/x.toml"),
    (dict(path="a.toml", preset="demo"), "preset"),
])
def test_bad_inputs_raise_one_line_config_errors(kwargs, named):
    message = _error(**kwargs)
    assert named in message, message


def test_malformed_and_mistyped_toml_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[task\nop = 'add'\n")
    assert "bad.toml" in _error(path=bad) and "malformed TOML" in _error(path=bad)
    typed = tmp_path / "typed.toml"
    typed.write_text("[train]\nsteps = \"many\"\n")
    assert "train.steps='many'" in _error(path=typed)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[optim]\nlearning_rate = 0.1\n")
    assert "optim.learning_rate" in _error(path=unknown)
    section = tmp_path / "section.toml"
    section.write_text("task = 3\n")
    assert "task=3" in _error(path=section)
    good = tmp_path / "good.toml"
    good.write_text("n_members = 2\n[task]\nkind = 'modular'\nop = 'sub'\np = 5\ntrain_frac = 0.5\n"
                    "[optim]\nlr = [0.1, 0.2]\n")
    cfg = load_config(good, overrides=["optim.weight_decay=0.5"])
    assert (cfg.n_members, cfg.task["op"], cfg.optim.lr, cfg.optim.weight_decay) == (2, "sub", [0.1, 0.2], 0.5)


def test_config_errors_are_grokscope_errors():
    assert issubclass(ConfigError, GrokscopeError)


# -- round trip ------------------------------------------------------------------------------
def test_round_trip_through_a_dict():
    cfg = load_config(preset="pair-mod67", overrides=[
        "n_members=2", "optim.lr=[1e-3, 2e-3]", "model.init_scale=[1.0, 3.0]", "member_seeds=[5, 6]",
        "task.train_frac=[0.3, 0.6]", "train.batch_size=16", "log.flush_seconds=0.5", "dtype=float64"])
    d = cfg.to_dict()
    assert RunConfig.from_dict(d) == cfg
    d["optim"]["lr"][0] = 9.0  # to_dict is a deep copy: the config cannot be changed through it
    assert cfg.optim.lr == [1e-3, 2e-3]
    with pytest.raises(ConfigError, match="colour"):
        RunConfig.from_dict({**cfg.to_dict(), "colour": "red"})
