"""`grokscope scaling fit`: CSV and stored-sweep sources, every law, and bad input (one line, exit 2, nothing written).

References: points generated from known parameters (the fit must give them back), and for a
sweep the final test loss read independently from the store and fitted through ``grokscope.fit``.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from grokscope.fit import allocation_exponents, chinchilla_loss, fit

TRUTH = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}   # Hoffmann et al. 2022's published fit


def _write_csv(path, header, rows):
    path.write_text(",".join(header) + "\n" + "\n".join(",".join(str(v) for v in r) for r in rows) + "\n")
    return path


@pytest.fixture
def chinchilla_csv(tmp_path):
    N, D = np.meshgrid(np.geomspace(7e7, 1.6e10, 6), np.geomspace(5e9, 5e11, 6))
    L = chinchilla_loss(N, D, *TRUTH.values())
    rows = [(f"{n:.17g}", f"{d:.17g}", f"{6 * n * d:.17g}", f"{v:.17g}") for n, d, v in zip(N.ravel(), D.ravel(), L.ravel())]
    return _write_csv(tmp_path / "runs.csv", ["params", "tokens", "flops", "loss"], rows)


def test_chinchilla_from_csv_gives_back_the_parameters_and_the_closed_form_allocation(run_cli, chinchilla_csv, tmp_path):
    png = tmp_path / "fit.png"
    code, out, err = run_cli("scaling", "fit", chinchilla_csv, "--law", "chinchilla", "--n", "params", "--d", "tokens",
                             "--loss", "loss", "--n-boot", "0", "--json", "--out", png)
    assert code == 0, err
    res = json.loads(out)
    for k, v in TRUTH.items():
        assert abs(res["fit"]["params"][k]["value"] - v) < 1e-6 * v
    a, b, G = allocation_exponents(TRUTH["A"], TRUTH["B"], TRUTH["alpha"], TRUTH["beta"])
    al = res["allocation"]
    assert abs(al["a"]["value"] - a) < 1e-6 and abs(al["b"]["value"] - b) < 1e-6 and abs(al["G"]["value"] / G - 1) < 1e-5
    assert png.stat().st_size > 10_000 and res["figure"] == str(png)


def test_chinchilla_with_a_flops_column_and_the_printed_table(run_cli, chinchilla_csv, tmp_path):
    code, out, err = run_cli("scaling", "fit", chinchilla_csv, "--law", "chinchilla", "--n", "params", "--flops", "flops",
                             "--n-boot", "8", "--exclude-highest", "2", "--out", tmp_path / "f.png")
    assert code == 0, err
    for name in ("E", "A", "B", "alpha", "beta", "a", "b", "G"):
        assert any(line.split()[:1] == [name] for line in out.splitlines()), name
    assert "interval (95%)" in out and "8 bootstrap resamples over points" in out
    assert "left out: the 2 points with the highest loss" in out and "34 points" in out
    assert re.search(r"^\s*alpha\s+0\.34\s", out, re.MULTILINE)   # D = C / (6 N) gives back the tokens: the fit is exact


def test_chinchilla_with_budgets_adds_the_isoflop_estimate(run_cli, tmp_path):
    rng = np.random.default_rng(4)
    a_true, _, G = allocation_exponents(TRUTH["A"], TRUTH["B"], TRUTH["alpha"], TRUTH["beta"])
    budgets = np.geomspace(1e18, 1e22, 5)
    rows = []
    for C in budgets:                                       # 9 sizes per budget around the true optimum
        centre = np.log10(G * (C / 6) ** a_true) + rng.uniform(-0.1, 0.1)
        for N in 10 ** np.linspace(centre - 0.8, centre + 0.8, 9):
            rows.append((f"{N:.17g}", f"{C * 1.01:.17g}", f"{chinchilla_loss(N, C / (6 * N), *TRUTH.values()):.17g}"))
    csv = _write_csv(tmp_path / "iso.csv", ["N", "C", "L"], rows)
    code, out, err = run_cli("scaling", "fit", csv, "--law", "chinchilla", "--n", "N", "--flops", "C", "--loss", "L",
                             "--budgets", ",".join(f"{c:g}" for c in budgets), "--n-boot", "0", "--json",
                             "--out", tmp_path / "iso.png")
    assert code == 0, err
    iso = json.loads(out)["isoflop"]
    assert len(iso["budgets"]) == 5 and iso["skipped"] == {} and iso["n_runs"] == [9] * 5
    assert abs(iso["a"]["value"] - a_true) < 0.01 and abs(iso["a"]["value"] + iso["b"]["value"] - 1) < 1e-12


@pytest.mark.parametrize("law,truth,make", [
    ("power", {"a": 3.0, "g": 0.5}, lambda x: 3.0 * x**-0.5),
    ("offset", {"a": 5.0, "g": 0.4, "c": 0.3}, lambda x: 5.0 * x**-0.4 + 0.3),
    ("broken", {"a": 1.0, "g1": 0.5, "g2": 2.0, "xb": 30.0},
     lambda x: np.where(x < 30, (x / 30) ** -0.5, (x / 30) ** -2.0)),
])
def test_one_variable_laws_from_csv(run_cli, tmp_path, law, truth, make):
    x = np.logspace(0, 3, 13)
    csv = _write_csv(tmp_path / "p.csv", ["width", "test loss"], [(f"{u:.17g}", f"{v:.17g}") for u, v in zip(x, make(x))])
    code, out, err = run_cli("scaling", "fit", csv, "--law", law, "--n", "width", "--loss", "test loss", "--n-boot", "20",
                             "--json", "--out", tmp_path / "p.png")
    assert code == 0, err
    params = json.loads(out)["fit"]["params"]
    assert set(params) == set(truth)
    for k, v in truth.items():
        assert abs(params[k]["value"] - v) < 1e-4 * max(1.0, abs(v)), (k, params[k])
        assert params[k]["lo"] is not None and params[k]["level"] == 0.95


def _bad(run_cli, args, match, tmp_path):
    code, out, err = run_cli("scaling", "fit", *args, "--out", tmp_path / "never.png")
    err = err.strip()
    assert code == 2, (out, err)
    assert err.startswith("error:") and "\n" not in err and match in err, err
    assert not (tmp_path / "never.png").exists()


@pytest.mark.parametrize("rows,args,match", [
    ([("1", "2.0"), ("2", "1.5"), ("4", "1.2")], ["--n", "size"], "column 'size': not in bad.csv (columns: 'n', 'loss')"),
    ([("1", "2.0"), ("2", "abc"), ("4", "1.2")], ["--n", "n"], "column 'loss', row 3 of bad.csv: 'abc' is not a number"),
    ([("1", "2.0"), ("-2", "1.5"), ("4", "1.2")], ["--n", "n"], "n[1]=-2.0: must be a finite number > 0"),
    ([("1", "2.0"), ("2", "0"), ("4", "1.2")], ["--n", "n"], "loss[1]=0.0: must be a finite number > 0"),
    ([("1", "2.0"), ("2", "1.5"), ("4", "1.2")], ["--n", "n", "--law", "offset"],
     "--law offset: 3 distinct n values; power_law_offset needs at least 4 to fit 3 parameters"),
    ([("2", "2.0"), ("2", "1.5"), ("2", "1.2")], ["--n", "n"], "n: every point has the value 2"),
    ([("1", "2.0"), ("2", "1.5"), ("4", "1.2")], ["--n", "n", "--law", "quadratic"], "--law='quadratic': must be one of"),
])
def test_bad_csv_input_is_one_line_and_exit_code_2(run_cli, tmp_path, rows, args, match):
    csv = _write_csv(tmp_path / "bad.csv", ["n", "loss"], rows)
    _bad(run_cli, [csv, *args], match, tmp_path)


def test_bad_chinchilla_input_is_one_line_and_exit_code_2(run_cli, tmp_path):
    csv = _write_csv(tmp_path / "c.csv", ["N", "D", "L"], [(1e8, 1e9, 3.0), (2e8, -1e9, 2.9), (4e8, 4e9, 2.7)])
    _bad(run_cli, [csv, "--law", "chinchilla", "--n", "N", "--d", "D", "--loss", "L"], "D[1]=-1000000000.0: must be", tmp_path)
    csv = _write_csv(tmp_path / "c.csv", ["N", "D", "L"], [(1e8 * k, 1e9 * (k % 3 + 1), 3.0 - k / 10) for k in range(1, 6)])
    _bad(run_cli, [csv, "--law", "chinchilla", "--n", "N", "--d", "D", "--loss", "L"],
         "chinchilla: 5 points (after excluding 0); need at least 6 to fit 5 parameters", tmp_path)
    _bad(run_cli, [csv, "--law", "chinchilla", "--n", "N", "--loss", "L"], "give exactly one of --d", tmp_path)
    _bad(run_cli, [csv, "--law", "chinchilla", "--n", "N", "--d", "D", "--loss", "L", "--budgets", "1e19,x"],
         "--budgets='1e19,x': must be FLOP counts", tmp_path)
    _bad(run_cli, [tmp_path / "absent.csv", "--n", "N"], "absent.csv': not found", tmp_path)


def _tiny_sweep(db, values):
    from grokscope.store import Store
    from grokscope.sweep import parse_spec, run_sweep

    spec = parse_spec({"name": "frac", "seeds": 2, "steps": 30, "set": {"task.p": 11, "log.n_checkpoints": 1},
                       "grid": {"task.train_frac": values}})
    store = Store(db)
    run_sweep(spec, store, progress=False, tune_memory=False)
    return store


def test_fit_from_a_stored_sweep_equals_the_fit_of_its_final_test_losses(run_cli, tmp_path):
    db = tmp_path / "s.db"
    store = _tiny_sweep(db, [0.3, 0.5, 0.7, 0.9])
    from grokscope.sweep import sweep_members

    x, y, seeds = [], [], []
    for m in sweep_members(store, "frac"):                 # the reference: read the store directly
        col = store.metrics(m["run_id"], names=["test_loss"])[1]["test_loss"][:, m["member"]]
        x.append(m["values"]["task.train_frac"])
        y.append(col[np.isfinite(col)][-1])
        seeds.append(m["seed"])
    ref = fit("power_law", x, y, groups=seeds, n_boot=30, seed=0)
    code, out, err = run_cli("scaling", "fit", "frac", "--n", "task.train_frac", "--law", "power", "--store", db,
                             "--n-boot", "30", "--json", "--out", tmp_path / "s.png")
    assert code == 0, err
    res = json.loads(out)
    assert res["fit"]["n_points"] == 8 and res["fit"]["bootstrap"] == "groups" and res["names"]["loss"] == "final test_loss"
    for k in ("a", "g"):
        got = res["fit"]["params"][k]
        assert math.isclose(got["value"], float(ref.params[k]), rel_tol=1e-12)
        assert math.isclose(got["lo"], ref.params[k].lo, rel_tol=1e-12) and math.isclose(got["hi"], ref.params[k].hi, rel_tol=1e-12)


def test_bad_sweep_input_is_one_line_exit_2_and_writes_nothing(run_cli, tmp_path):
    db = tmp_path / "one.db"
    _tiny_sweep(db, [0.5]).close()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    _bad(run_cli, ["frac", "--n", "task.train_frac", "--store", db], "task.train_frac: every point has the value 0.5", tmp_path)
    _bad(run_cli, ["frac", "--n", "model.d_hidden", "--store", db], "key 'model.d_hidden': not swept by 'frac'", tmp_path)
    _bad(run_cli, ["frac", "--n", "task.train_frac", "--metric", "nope", "--store", db], "--metric 'nope'", tmp_path)
    _bad(run_cli, ["frac", "--n", "task.train_frac", "--store", tmp_path / "none.db"], "no run store there", tmp_path)
    assert not (tmp_path / "none.db").exists()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
