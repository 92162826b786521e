"""`grokscope li2 stage3` and `grokscope li2 grok`: JSON over the Python API; bad input is one line
and exit code 2 before any work."""

from __future__ import annotations

import json

import pytest


def test_stage3_json_has_no_maximum_in_the_learned_set(run_cli):
    code, out, err = run_cli("li2", "stage3", "--group", "cyclic:11", "--learned", "1,2", "--starts", "200", "--json")
    assert code == 0, err
    out = json.loads(out)
    assert out["learned"] == ["k=±1", "k=±2"] and out["n_nodes"] == 24 and out["landed_in_learned"] == 0
    assert {m["label"] for m in out["maxima"]} == {"k=±3", "k=±4", "k=±5"}
    for m in out["maxima"]:
        assert abs(m["energy"] - 11 / 4) < 1e-4 and m["predicted"] == 11 / 4 and m["in_learned"] is False
    assert out["residual_vs_theorem"] < 1e-8


def test_stage3_table_names_labels_for_a_non_abelian_group(run_cli):
    code, out, err = run_cli("li2", "stage3", "--group", "dihedral:5", "--learned", "ρ2", "--starts", "100")
    assert code == 0, err
    assert "0 maxima in S" in out and "ρ3" in out and "2.5000" in out


def test_grok_json_has_one_run_per_eta_and_lr_with_stages(run_cli):
    args = ["li2", "grok", "--group", "cyclic:7", "--fraction", "0.6", "--hidden", "16", "--eta", "1e-2,0",
            "--lr", "1e-2", "--steps", "4", "--eval-every", "2", "--json"]
    code, out, err = run_cli(*args)
    assert code == 0, err
    out = json.loads(out)
    assert [r["run"]["eta"] for r in out] == [1e-2, 0.0]
    for r in out:
        assert [row["step"] for row in r["stages"]["rows"]] == [0, 2, 4]
        assert r["stages"]["rows"][0]["stage"] == "I" and r["stages"]["rows"][0]["moved"] == 0.0
        assert {"test_acc", "cos_energy", "emerged", "learned", "ratio_mean"} <= set(r["stages"]["rows"][-1])
        assert len(r["stages"]["final_nodes"]) == 16


@pytest.mark.parametrize("args,match", [
    (["stage3", "--learned", "0"], "non-trivial"),
    (["stage3", "--group", "dihedral:5", "--learned", "3"], "ρ1, ρ2, ρ3"),
    (["stage3", "--per-irrep", "-1"], "--per-irrep=-1"),
    (["stage3", "--group", "cyclic:1"], "cyclic:M=1"),
    (["grok", "--eta", "-1"], "--eta=-1.0"),
    (["grok", "--lr", "0"], "--lr=0.0"),
    (["grok", "--act", "tanh"], "--act='tanh'"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, match, run_cli):
    code, _, err = run_cli("li2", *args)
    assert code == 2
    err = err.strip()
    assert match in err and "\n" not in err and err.startswith("error:")
