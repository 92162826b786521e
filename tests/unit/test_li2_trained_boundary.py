"""The trained-boundary sweep: p* from the generalized share (closed forms), members as
``train_ridge_adam`` alone would train them, the fits of grokscope.fit on exact laws, and the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from grokscope.groups import cyclic
from grokscope.li2 import crossing, default_hidden, train_ridge_adam, trained_boundary
from grokscope.li2._trained_boundary import _fit_family


def test_crossing_is_the_half_point_of_the_monotone_share_in_log_p():
    p = [0.1, 0.2, 0.4, 0.8]
    assert crossing(p, [0.0, 0.25, 0.75, 1.0])[0] == pytest.approx(math.sqrt(0.2 * 0.4), rel=1e-12)  # midway in log p
    # 0.6 then 0.4 violate monotonicity: pooled to 0.5, 0.5, so the crossing is at 0.2
    assert crossing(p, [0.0, 0.6, 0.4, 1.0]) == (pytest.approx(0.2, rel=1e-12), "ok")
    assert crossing(p, [0.0, 0.0, 0.2, 0.4])[1] == "above grid" and math.isnan(crossing(p, [0.0, 0, 0.2, 0.4])[0])
    assert crossing(p, [0.6, 1.0, 1.0, 1.0])[1] == "below grid"
    assert crossing(p, [0.5, 1.0, 1.0, 1.0]) == (0.1, "ok")


def test_default_hidden_exceeds_twice_the_number_of_irreps_of_z_m():
    for m in (5, 23, 31, 43, 59, 83, 96, 127):
        k = default_hidden(m)
        assert k > 2 * m and k % 32 == 0 and k - 32 <= 2 * m


def test_each_member_is_train_ridge_adam_alone_and_the_counts_add_up():
    groups, coefs, seeds, steps = ["cyclic:11", "cyclic:13", "cyclic:17"], [1.5, 4.0], [0, 1], 150
    r = trained_boundary(groups, coefs, seeds, steps=steps, lr=0.1, dtype="float64", leave_window=10,
                         eval_every=10, n_boot=20, refine=1)
    d = r.to_dict()
    json.dumps(d)  # JSON-able
    n_extra = sum(len(g["coefs"]) - len(coefs) for g in d["groups"])  # refine: one more c where the share crosses
    assert len(d["members"]) == (3 * 2 + n_extra) * 2 and d["member_steps_full"] == len(d["members"]) * steps
    for g in d["groups"]:
        m = g["M"]
        assert set(coefs) <= set(g["coefs"]) and g["coefs"] == sorted(g["coefs"])
        assert g["fractions"] == pytest.approx([c * math.log(m) / m for c in g["coefs"]], rel=1e-12)
        if len(g["coefs"]) == 3:  # refined: the geometric midpoint of the bracket
            assert g["coefs"][1] == pytest.approx(math.sqrt(coefs[0] * coefs[1]), rel=1e-12)
        for j in range(len(g["coefs"])):
            assert g["generalized"][j] + g["memorized"][j] + g["undecided"][j] == len(seeds)
    assert n_extra > 0  # some group crossed 1/2 inside the grid
    mem = next(x for x in d["members"] if x["group"] == "Z_13" and x["c"] == 4.0 and x["seed"] == 1)
    alone = train_ridge_adam(cyclic(13), fraction=mem["fraction"], hidden=default_hidden(13), lr=0.1,
                             steps=mem["steps_trained"], eval_every=10, seed=1)
    assert mem["n_train"] == alone.n_train
    assert mem["test_acc"] == pytest.approx(alone.records[-1]["test_acc"], abs=1e-10)
    assert mem["train_acc"] == pytest.approx(alone.records[-1]["train_acc"], abs=1e-10)
    for x in d["members"]:  # the rule, member by member
        if x["outcome"] == "memorized":
            assert x["train_acc"] >= 0.99 and x["test_acc"] < 0.1
        if x["outcome"] == "generalized":
            assert x["left_step"] is not None or x["test_acc"] >= 0.99


def test_workers_change_no_number():
    """Groups trained in two worker processes (largest first) give every member, p*, interval and fit of the
    sweep trained in this process, in the order the groups were given."""
    kw = {"steps": 60, "lr": 0.1, "leave_window": 10, "eval_every": 10, "n_boot": 30, "refine": 1}
    groups = ["cyclic:11", "cyclic:13", "dihedral:7"]
    lines: list[str] = []
    one = trained_boundary(groups, [1.5, 4.0], [0, 1], **kw).to_dict()
    two = trained_boundary(groups, [1.5, 4.0], [0, 1], workers=2, progress=lines.append, **kw).to_dict()
    assert two["workers"] == 2 and one["workers"] == 1
    assert len(lines) == sum(len(g["coefs"]) for g in two["groups"])  # one line per ensemble, from the workers
    for key in ("members", "settings", "member_steps", "undecided"):
        assert two[key] == one[key], key
    times = ("seconds", "cpu_seconds")
    assert [{k: v for k, v in g.items() if k not in times} for g in two["groups"]] == \
        [{k: v for k, v in g.items() if k not in times} for g in one["groups"]]
    assert json.dumps(two["fits"], sort_keys=True) == json.dumps(one["fits"], sort_keys=True)
    assert two["cpu_seconds"] >= sum(g["cpu_seconds"] for g in two["groups"]) * 0.99  # the workers' CPU counted


def test_fits_recover_an_exact_c_ln_m_over_m_and_its_seed_interval():
    ms = np.array([23.0, 43.0, 83.0, 127.0])
    noise = np.exp(0.01 * np.array([1.0, -1.0, 1.0, -1.0]))  # zero mean in log: c is exact
    y = 3.1 * np.log(ms) / ms * noise
    f = _fit_family(ms, y, np.tile(y, (4, 1)), n_boot=50, boot_seed=0)
    assert f["ln"].params["c"].value == pytest.approx(3.1, rel=1e-12)
    assert f["c_seed_interval"] == pytest.approx((3.1, 3.1), rel=1e-12)
    assert set(f["comparison"].aic) == {"c_lnM_over_M", "power_law"}
    g = f["power"].params["g"].value  # ln M / M is a power law of local exponent 1 − 1/ln M: 0.68–0.79 here
    assert 1 - 1 / math.log(23) < g < 1 - 1 / math.log(127)


def test_cli_runs_and_writes_json_and_figure(run_cli, tmp_path):
    code, out, err = run_cli("li2", "trained-boundary", "--groups", "cyclic:5,cyclic:7,dihedral:3", "--coefs", "1.5,2.5",
                             "--seeds", "0,1", "--steps", "10", "--eval-every", "5", "--n-boot", "10", "--json",
                             "--out", tmp_path)
    assert code == 0, err
    d = json.loads(out)
    assert [g["group"] for g in d["groups"]] == ["Z_5", "Z_7", "D_3"]
    assert json.loads((tmp_path / "trained_boundary.json").read_text())["settings"] == d["settings"]
    assert (tmp_path / "trained_boundary.png").stat().st_size > 10_000


@pytest.mark.parametrize("args,match", [
    (["--groups", "cyclic:5,torus:5,cyclic:7"], "torus"),
    (["--groups", "cyclic:5,cyclic:7"], "at least 3"),
    (["--coefs", ","], "--coefs"),
    (["--seeds", ""], "--seeds"),
    (["--coefs", "1,40"], "fraction"),  # 40 ln 23 / 23 > 1
    (["--coefs", "0,1"], "coefs"),
    (["--steps", "0"], "--steps=0"),
    (["--steps", "-5"], "--steps=-5"),
    (["--workers", "0"], "--workers=0"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, match, run_cli):
    base = {"--groups": "cyclic:23,cyclic:31,cyclic:43", "--coefs": "2,3", "--seeds": "0", "--steps": "5"}
    opts = dict(base, **dict(zip(args[::2], args[1::2])))
    code, out, err = run_cli("li2", "trained-boundary", *[x for kv in opts.items() for x in kv])
    assert code == 2, (out, err)
    err = err.strip()
    assert match in err and "\n" not in err and err.startswith("error:")
