"""`grokscope omnigrok landscape | lag | teacher-student` at tiny sizes; bad input is one line and exit code 2.

The commands are called on ``grokscope.cli.omnigrok.app`` (typer's CliRunner), and the exit-code
contract through ``grokscope.cli.main`` with the group mounted as ``omnigrok``, so the tests hold
before and after the group is registered in ``grokscope.cli``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from grokscope.cli.omnigrok import app

PNG = b"\x89PNG\r\n\x1a\n"
TINY = ["--alphas", "0.5,2", "--sizes", "20,60", "--seeds", "2", "--steps", "3",
        "--set", "model.width=8", "--set", "log.n_log=2", "--quiet"]


def invoke(*args):
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, f"{res.output}\n{res.exception!r}"
    return res.output


@pytest.fixture
def main_cli(monkeypatch, capfd):
    """``grokscope omnigrok ARGS`` through ``grokscope.cli.main`` -> (exit code, stdout, stderr)."""
    from grokscope import cli

    root = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    root.add_typer(app, name="omnigrok")
    monkeypatch.setattr(cli, "app", root)

    def run(*args):
        capfd.readouterr()
        try:
            cli.main(["omnigrok", *map(str, args)])
            code = 0
        except SystemExit as e:
            code = 0 if e.code is None else e.code
        out, err = capfd.readouterr()
        return code, out, err

    return run


def test_landscape_trains_the_grid_at_fixed_norm_and_writes_figures(tmp_path):
    out = tmp_path / "og"
    summary = json.loads(invoke("landscape", *TINY, "--out", out, "--json"))
    assert summary["n_members"] == 8 and summary["steps"] == 3
    land = json.loads((out / "landscape.json").read_text())
    grid = [(p["alpha"], p["n_train"], p["seed"]) for p in land["points"]]
    assert grid == [(a, n, s) for a in (0.5, 2.0) for n in (20, 60) for s in (0, 1)]
    for name in ("lu.png", "contour.png"):
        assert (out / name).read_bytes()[:8] == PNG
    # Fixed norm: member (α, N, s) keeps α × the norm of the same seed's α = 1 draw, so α = 2 is 4× α = 0.5.
    norm = {(p["alpha"], p["n_train"], p["seed"]): p["norm"] for p in land["points"]}
    for n in (20, 60):
        for s in (0, 1):
            assert norm[(2.0, n, s)] == pytest.approx(4 * norm[(0.5, n, s)], rel=1e-5)
    # The summary is the points' own numbers: error = 1 - mean test accuracy over the seeds, and the
    # Goldilocks point is the α of lowest mean test loss at each N.
    emap = summary["error_map"]
    for i, a in enumerate(emap["alphas"]):
        for j, n in enumerate(emap["train_counts"]):
            accs = [p["final_test_acc"] for p in land["points"] if p["alpha"] == a and p["n_train"] == n]
            assert emap["test_error"][i][j] == pytest.approx(1 - np.mean(accs), abs=1e-12)
    for z in summary["goldilocks"]:
        mean_loss = {a: np.mean([p["final_test_loss"] for p in land["points"] if p["alpha"] == a and p["n_train"] == z["n_train"]])
                     for a in (0.5, 2.0)}
        assert z["alpha"] == min(mean_loss, key=mean_loss.get) and z["interior"] is False  # two α: no interior point

    # --from redraws the saved landscape without training and prints the same table.
    table = invoke("landscape", *TINY, "--out", out)
    again = invoke("landscape", "--from", out / "landscape.json", "--out", tmp_path / "redraw")
    assert table.split("Goldilocks")[1].split("wrote")[0] == again.split("Goldilocks")[1].split("wrote")[0]
    assert (tmp_path / "redraw" / "contour.png").read_bytes()[:8] == PNG


def test_lag_reads_a_stored_run(tmp_path):
    from grokscope.store import Store

    path = tmp_path / "runs.db"
    s = Store(path)
    run = s.create_run("train", {"model": {"init_scale": [1.0, 8.0]},
                                 "optim": {"weight_decay": 0.1, "project_norm_frac": [0.8, 0.0]}},
                       [{"seed": 0}, {"seed": 1}])
    train = [[0.1, 0.1], [1.0, 0.5], [1.0, 1.0], [1.0, 1.0]]  # [n_eval, model]
    test = [[0.1, 0.1], [0.95, 0.2], [0.95, 0.3], [0.95, 0.92]]
    norm = [[10.0, 80.0], [11.0, 70.0], [12.0, 60.0], [13.0, 40.0]]
    s.flush(run, metrics=[(t, {"train_acc": np.array(a), "test_acc": np.array(b), "weight_norm": np.array(w)})
                          for t, a, b, w in zip((0, 100, 1000, 5000), train, test, norm)])
    s.close()
    got = json.loads(invoke("lag", run, "--store", path, "--json"))["members"]
    # By hand: member 0 reaches train 0.99 and test 0.9 at step 100; member 1 train at 1000, test at 5000.
    assert [(m["t_memorize"], m["t_generalize"], m["ratio"], m["test_acc_at_memorize"]) for m in got] == \
        [(100.0, 100.0, 1.0, 0.95), (1000.0, 5000.0, 5.0, 0.3)]
    assert [(m["init_scale"], m["weight_decay"]) for m in got] == [(1.0, 0.1), (8.0, 0.1)]
    assert [(m["project_norm"], m["project_norm_frac"]) for m in got] == [(0.0, 0.8), (0.0, 0.0)]
    assert [(m["norm_start"], m["norm_at_memorize"], m["norm_final"]) for m in got] == [(10.0, 11.0, 13.0),
                                                                                       (80.0, 60.0, 40.0)]
    high = json.loads(invoke("lag", run, "--store", path, "--test-level", "0.96", "--json"))["members"]
    assert [m["t_generalize"] for m in high] == [None, None]  # never reached: null, not NaN
    table = invoke("lag", run, "--store", path)
    assert "5.00" in table and "5,000" in table and "80.0 / 60.0 / 40.0" in table
    assert "0.8x init" in table.splitlines()[2] and "x init" not in table.splitlines()[3]  # member 0 fixed, 1 free


def test_teacher_student_fits_the_law_to_its_own_times(tmp_path):
    out = tmp_path / "ts"
    r = json.loads(invoke("teacher-student", "--weight-decays", "0.25,0.5,1", "--seeds", "1", "--steps", "600",
                          "--lr", "1e-2", "--width", "8", "--level", "0.5", "--eval-every", "10", "--n-boot", "0",
                          "--out", out, "--json"))
    g, t = np.array(r["weight_decay"]), np.array([np.nan if v is None else v for v in r["t_generalize"]])
    ok = np.isfinite(t)
    assert ok.sum() >= 2
    # Reference: least squares of log t on log γ; the fitted exponent is minus its slope.
    slope, intercept = np.polyfit(np.log(g[ok]), np.log(t[ok]), 1)
    fit = r["fits"]["t_generalize"]["params"]
    assert fit["g"]["value"] == pytest.approx(-slope, rel=1e-6)
    assert fit["a"]["value"] == pytest.approx(np.exp(intercept), rel=1e-6)
    assert json.loads((out / "teacher_student.json").read_text())["t_generalize"] == r["t_generalize"]
    assert (out / "time_law.png").read_bytes()[:8] == PNG


@pytest.mark.parametrize("args,match", [
    (["landscape", "--alphas", "0,1"], "--alphas=0.0: must be a finite number > 0"),
    (["landscape", "--alphas", "1,x"], "--alphas='1,x'"),
    (["landscape", "--sizes", "20,5000"], "task.train_count"),
    (["landscape", "--sizes", "0"], "--sizes=0"),
    (["landscape", "--which", "middle"], "--which='middle'"),
    (["landscape", "--set", "optim.nope=1"], "optim.nope"),
    (["landscape", "--seeds", "0"], "--seeds=0"),
    (["lag", "1", "--train-level", "0"], "--train-level=0.0"),
    (["teacher-student", "--weight-decays", "0.1,-1"], "weight_decay=-1.0"),
    (["teacher-student", "--alpha", "0"], "student_alpha=0.0"),
    (["teacher-student", "--dtype", "float16"], "dtype='float16'"),
])
def test_bad_input_is_one_line_exit_code_2_and_nothing_written(args, match, main_cli, tmp_path):
    out = tmp_path / "out"
    code, _, err = main_cli(*args, "--out" if args[0] != "lag" else "--store", out)
    err = err.strip()
    assert code == 2, err
    assert err.startswith("error:") and match in err and "\n" not in err
    assert not out.exists()
