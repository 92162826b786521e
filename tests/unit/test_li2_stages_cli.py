"""`grokscope li2 stages` and `grokscope li2 boundary`: JSON over the Python API; bad input is one
line and exit code 2 before any work."""

from __future__ import annotations

import json

import pytest


def test_stages_json_shows_lemma_1_at_eta_zero_and_the_energy_limit(run_cli):
    args = ["li2", "stages", "--group", "cyclic:7", "--fraction", "0.5", "--hidden", "64", "--eta", "0,1e5", "--json"]
    code, out, err = run_cli(*args)
    assert code == 0, err
    out = json.loads(out)
    assert out["group"] == "Z_7" and [r["eta"] for r in out["rows"]] == [0.0, 1e5]
    zero, big = out["rows"]
    assert zero["n"] == 24 and zero["k"] == 64  # K >= n: the ridge interpolates, G_F = 0
    assert zero["g_norm_rel"] < 1e-10 and zero["energy_rel_err"] is None
    assert big["energy_rel_err"] < 1e-3 and big["cos_energy"] > 1 - 1e-6


def test_boundary_json_has_rows_fits_and_comparison(run_cli):
    args = ["li2", "boundary", "--groups", "cyclic:11,cyclic:13,cyclic:17", "--seeds", "0", "--iters", "2",
            "--components", "3", "--n-boot", "20", "--json"]
    code, out, err = run_cli(*args)
    assert code == 0, err
    out = json.loads(out)
    assert [r["M"] for r in out["rows"]] == [11, 13, 17]
    for r in out["rows"]:
        assert r["lo"] < r["p_star"] < r["hi"] <= 1.0
    assert set(out["fit_c_lnM_over_M"]["params"]) == {"c"} and set(out["fit_power_law"]["params"]) == {"a", "g"}
    assert out["comparison"]["best"] in {"c_lnM_over_M", "power_law"}
    assert "purity >= 0.75" in out["rule"]


@pytest.mark.parametrize("args,match", [
    (["stages", "--group", "cyclic:1"], "cyclic:M=1"),
    (["stages", "--hidden", "0"], "--hidden=0"),
    (["stages", "--eta", "-1"], "--eta=-1.0"),
    (["stages", "--eta", "a,b"], "--eta='a,b'"),
    (["stages", "--fraction", "0"], "--fraction=0.0"),
    (["stages", "--act", "tanh"], "--act='tanh'"),
    (["boundary", "--groups", "cyclic:11,cyclic:13"], "at least 3 group specs"),
    (["boundary", "--groups", "cyclic:11,cyclic:13,torus:4"], "unknown family 'torus'"),
    (["boundary", "--seeds", "x"], "--seeds='x'"),
    (["boundary", "--purity", "0.3"], "--purity=0.3"),
    (["boundary", "--iters", "0"], "--iters=0"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, match, run_cli):
    code, _, err = run_cli("li2", *args)
    assert code == 2
    err = err.strip()
    assert match in err and "\n" not in err and err.startswith("error:")


def test_train_json_records_the_run(run_cli):
    args = ["li2", "train", "--group", "cyclic:7", "--fraction", "0.5", "--hidden", "40", "--eta", "0", "--eta-w", "0.01",
            "--lr", "0.1", "--steps", "20", "--eval-every", "10", "--json"]
    code, out, err = run_cli(*args)
    assert code == 0, err
    out = json.loads(out)
    assert out["group"] == "Z_7" and out["n_train"] == 24 and [r["step"] for r in out["records"]] == [0, 10, 20]
    norms = [r["w_norm"] for r in out["records"]]  # η = 0, K ≥ n: pure decay (1 − lr·η_W)^10 per record
    assert norms[1] / norms[0] == pytest.approx(0.999 ** 10, rel=1e-9)


@pytest.mark.parametrize("args,match", [
    (["--hidden", "0"], "--hidden=0"),
    (["--eta-w", "-1"], "--eta-w=-1.0"),
    (["--lr", "0"], "--lr=0.0"),
    (["--steps", "-2"], "--steps=-2"),
    (["--group", "dihedral:2"], "dihedral:n=2"),
])
def test_train_bad_input_is_one_line_and_exit_code_2(args, match, run_cli):
    code, _, err = run_cli("li2", "train", *args)
    assert code == 2
    err = err.strip()
    assert match in err and "\n" not in err and err.startswith("error:")
