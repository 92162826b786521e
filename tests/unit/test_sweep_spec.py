"""Sweep specs: parsing, deterministic expansion, validation against the config schema, packing.

References are explicit enumerations (itertools.product written out by hand), closed forms
(log spacing as 10**linspace), and the seeding contract (member_seed).
"""

import itertools
import math
import textwrap

import numpy as np
import pytest

from grokscope.errors import ConfigError
from grokscope.seeding import member_seed
from grokscope.sweep import chunk_sizes, load_spec, pack, parse_spec, spec_difference

LR = "optim.lr"
WD = "optim.weight_decay"
# `dtype` is a config key that is not a per-member list key, so it decides the model shape.
SHAPE = "dtype"


def spec(**kw):
    raw = {"name": "t", "seeds": 2, "steps": 50}
    raw.update(kw)
    return parse_spec(raw)


def test_grid_and_logspace_expand_to_the_cartesian_product_in_file_order():
    s = spec(grid={LR: [1e-3, 1e-2]}, logspace={WD: {"start": 0.01, "stop": 1.0, "num": 3}})
    wds = [0.01, 0.1, 1.0]                                        # 10 ** linspace(-2, 0, 3)
    expected = [{LR: lr, WD: wd} for lr, wd in itertools.product([1e-3, 1e-2], wds)]
    got = [p.values for p in s.points]
    assert [list(v) for v in got] == [[LR, WD]] * 6
    for g, e in zip(got, expected):
        assert g[LR] == e[LR] and g[WD] == pytest.approx(e[WD], rel=1e-12)
    assert [p.index for p in s.points] == list(range(6))
    assert s.n_members == 12 and s.seed_indices == (0, 1)


def test_logspace_int_rounds_and_deduplicates():
    s = spec(logspace={"task.train_count": {"start": 10, "stop": 1000, "num": 3, "int": True}})
    assert [p.values["task.train_count"] for p in s.points] == [10, 100, 1000]


def test_random_axis_is_deterministic_within_bounds_and_crossed_with_the_grid():
    kw = dict(grid={SHAPE: ["float32", "float64"]},
              random={"samples": 5, "seed": 3, LR: {"low": 1e-4, "high": 1e-2, "log": True}})
    a, b = spec(**kw), spec(**kw)
    assert [p.values for p in a.points] == [p.values for p in b.points]
    lrs = [p.values[LR] for p in a.points]
    assert len(lrs) == 10 and all(1e-4 <= v <= 1e-2 for v in lrs)
    assert lrs[:5] == lrs[5:]                                      # the same 5 draws under each dtype
    kw["random"] = {**kw["random"], "seed": 4}
    assert [p.values[LR] for p in spec(**kw).points] != lrs


def test_explicit_seed_list():
    s = spec(seeds=[3, 7], grid={LR: [1e-3]})
    assert s.seed_indices == (3, 7) and s.n_members == 2


@pytest.mark.parametrize("raw,match", [
    ({"grid": {"optim.lrr": [1e-3]}}, r"unknown config key 'optim.lrr'.*optim.lr"),
    ({"grid": {LR: []}}, r"optim.lr=\[\]: must be a non-empty list"),
    ({"grid": {}}, r"\[grid\] is empty"),
    ({"grid": {LR: [1e-3, 1e-3]}}, r"repeated values"),
    ({"grid": {LR: [-1.0]}}, r"optim.lr"),
    ({"logspace": {WD: {"start": 0, "stop": 1, "num": 3}}}, r"start=0: must be a number > 0"),
    ({"grid": {LR: [1e-3]}, "logspace": {LR: {"start": 1e-3, "stop": 1e-2, "num": 2}}}, r"swept twice"),
    ({"random": {"samples": 3, LR: {"low": 1e-2, "high": 1e-3}}}, r"low < high"),
    ({"grid": {"member_seeds": [[1]]}}, r"set by the sweep itself"),
    ({"gird": {LR: [1e-3]}}, r"unknown field\(s\) gird"),
    ({"seeds": 0}, r"sweep seeds=0: must be an integer"),
    ({"steps": -5}, r"sweep steps=-5"),
    ({"set": {LR: 1e-3}, "grid": {LR: [1e-2]}}, r"both fixed in \[set\] and swept"),
    ({"grid": {LR: [1e-3]}, "refill": -1}, r"sweep refill=-1: must be an integer >= 0"),
    ({"grid": {LR: [1e-3]}, "refill": 9, "max_ensemble": 8}, r"refill=9: must be <= max_ensemble=8"),
    ({"grid": {LR: [1e-3]}, "refill": "yes"}, r"sweep refill='yes'"),
])
def test_bad_specs_raise_one_line_config_errors(raw, match):
    with pytest.raises(ConfigError, match=match) as e:
        parse_spec({"name": "bad", **raw})
    assert "\n" not in str(e.value)


def test_load_spec_from_toml_ignores_formatting_and_names_by_file(tmp_path):
    body = """
        seeds = 2
        steps = 40
        [grid]
        "optim.lr" = [1e-3, 1e-2]
    """
    p1 = tmp_path / "my-sweep.toml"
    p1.write_text(textwrap.dedent(body))
    p2 = tmp_path / "other.toml"
    p2.write_text("# a comment\n" + textwrap.dedent(body).replace("[1e-3, 1e-2]", "[ 0.001,  0.01 ]"))
    s1, s2 = load_spec(p1), load_spec(p2, name="my-sweep")
    assert s1.name == "my-sweep"
    assert s1.canonical() == s2.canonical()
    bad = tmp_path / "bad.toml"
    bad.write_text("[grid\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_spec(bad)
    with pytest.raises(ConfigError, match="no such file or bundled spec"):
        load_spec(tmp_path / "missing.toml")


def test_spec_difference_names_the_first_changed_field():
    a = spec(grid={LR: [1e-3, 1e-2]}).canonical()
    b = spec(grid={LR: [1e-3, 3e-2]}).canonical()
    assert spec_difference(a, a) is None
    d = spec_difference(a, b)
    assert d.startswith("axes.optim.lr:") and "0.03" in d
    c = spec(grid={LR: [1e-3, 1e-2]}, seeds=3).canonical()
    assert spec_difference(a, c).startswith("seeds:")


def test_chunk_sizes_are_balanced():
    for n in range(1, 60):
        for m in range(1, 20):
            sizes = chunk_sizes(n, m)
            assert sum(sizes) == n and max(sizes) <= m and max(sizes) - min(sizes) <= 1
            assert len(sizes) == math.ceil(n / m)


def test_pack_groups_by_shape_and_lists_per_member_values():
    s = spec(seeds=3, seed=5, max_ensemble=7,
             grid={SHAPE: ["float32", "float64"], LR: [1e-3, 1e-2], WD: [0.1, 1.0]})
    plans = pack(s)
    # each dtype has 2 x 2 points x 3 seeds = 12 members -> 2 ensembles of 6 (max 7)
    assert [p.n_members for p in plans] == [6, 6, 6, 6]
    seen = []
    for p in plans:
        cfg = p.config
        assert cfg["n_members"] == p.n_members
        assert cfg[SHAPE] == p.shared[SHAPE]
        for j, (pt, sd) in enumerate(p.members):
            point = s.points[pt].values
            assert point[SHAPE] == cfg[SHAPE]
            assert cfg["optim"]["lr"][j] == point[LR]
            assert cfg["optim"]["weight_decay"][j] == point[WD]
            assert cfg["member_seeds"][j] == member_seed(5, sd)
            seen.append((pt, sd))
    # every (point, seed) exactly once
    assert sorted(seen) == sorted(itertools.product(range(len(s.points)), range(3)))
    # deterministic: the same spec packs identically
    assert [p.fingerprint() for p in pack(s)] == [p.fingerprint() for p in plans]


def test_common_random_numbers_across_points():
    s = spec(seeds=2, grid={LR: [1e-3, 1e-2, 1e-1]})
    (plan,) = pack(s)
    seeds = np.array(plan.config["member_seeds"]).reshape(3, 2)    # [point, seed]
    assert (seeds == seeds[0]).all() and seeds[0, 0] != seeds[0, 1]


def test_wide_members_are_packed_under_the_activation_budget():
    from grokscope.sweep._pack import ACTIVATION_BUDGET

    spec = parse_spec({"name": "wide", "base": "pair-parity", "seeds": 10, "steps": 10,
                       "grid": {"model.width": [16, 258]}})
    sizes = {w: [len(p.members) for p in pack(spec) if p.shared["model.width"] == w] for w in (16, 258)}
    # 1,200 training rows (the preset's pool): width 258 allows 6e6 // (1200 * 258) = 19 members,
    # width 16 is bound by the 10 members of its group only
    assert ACTIVATION_BUDGET // (1200 * 258) == 19
    assert sizes[16] == [10] and sum(sizes[258]) == 10 and max(sizes[258]) <= 19
    spec = parse_spec({"name": "wider", "base": "pair-parity", "seeds": 60, "steps": 10,
                       "grid": {"model.width": [258]}})
    assert [len(p.members) for p in pack(spec)] == chunk_sizes(60, 19) == [15, 15, 15, 15]


def test_every_bundled_spec_loads_and_packs():
    from grokscope.sweep._presets import sweep_presets

    names = sweep_presets()
    assert {"sweep-pair-parity", "sweep-dc-pair-mod67", "sweep-nu-pair-mod67", "sweep-dc-nanda"} <= set(names)
    for name in names:
        s = load_spec(name)
        plans = pack(s)  # validates every ensemble's config against RunConfig
        assert sum(p.n_members for p in plans) == s.n_members, name


def test_refill_cuts_small_ensembles_padded_to_the_shapes_widest_split():
    """refill = 3: ensembles of <= 3 members (12 members of one shape -> 4 of 3), each knowing the
    stack's rows (max_ensemble) and padded to the largest training split of the shape, as the split
    itself (``split_for_run``) sizes each ensemble's members; without refill nothing changes."""
    from grokscope.config import RunConfig
    from grokscope.tasks import split_for_run

    s = spec(seeds=3, max_ensemble=8, refill=3, set={"task.p": 7},
             grid={"task.train_frac": [0.3, 0.8], LR: [1e-3, 1e-2]})
    plans = pack(s)
    assert [p.n_members for p in plans] == [3, 3, 3, 3] and {p.stack for p in plans} == {8}
    widths = set()
    for p in plans:
        rc = RunConfig.from_dict(p.config)
        widths.add(int(split_for_run(rc.build_task(), rc.task, rc.seeds()).train_idx.shape[1]))
    assert {p.config["train"]["pad_to"] for p in plans} == {max(widths)} and len(widths) == 2
    off = pack(spec(seeds=3, max_ensemble=8, set={"task.p": 7}, grid={"task.train_frac": [0.3, 0.8], LR: [1e-3, 1e-2]}))
    assert {p.stack for p in off} == {0} and {p.config["train"]["pad_to"] for p in off} == {0}
    assert "refill" not in off[0].config and "refill" not in spec(grid={LR: [1e-3]}).canonical()
