"""`grokscope li2 energy`: the maxima as a table and as JSON; bad input is one line and exit code 2."""

from __future__ import annotations

import json

import pytest

def test_li2_energy_json_lists_the_maxima_with_counts_and_theorem_2(run_cli):
    code, out, err = run_cli("li2", "energy", "--group", "cyclic:9", "--starts", "200", "--seed", "3", "--json")
    assert code == 0, err
    out = json.loads(out)
    assert out["group"] == "Z_9" and out["starts"] == 200 and out["seed"] == 3 and out["act"] == "x2"
    assert sum(m["count"] for m in out["maxima"]) == 200
    assert {m["label"] for m in out["maxima"]} == {"k=±1", "k=±2", "k=±3", "k=±4"}
    for m in out["maxima"]:
        assert abs(m["energy"] - 9 / 4) < 1e-4 and m["predicted"] == 9 / 4 and m["predicted_seed"] == 9 / 16


def test_li2_energy_table_names_irreps_and_normalization(run_cli):
    code, out, err = run_cli("li2", "energy", "--group", "dihedral:5", "--starts", "100")
    assert code == 0, err
    assert "D_5" in out and "normalization" in out and "ρ2" in out and "2.5000" in out and "0.6250" in out


@pytest.mark.parametrize("args,match", [
    (["--group", "cyclic:1"], "cyclic:M=1"),
    (["--group", "torus:5"], "unknown family 'torus'"),
    (["--act", "tanh"], "--act='tanh'"),
    (["--starts", "0"], "--starts=0"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, match, run_cli):
    code, _, err = run_cli("li2", "energy", *args)
    assert code == 2
    err = err.strip()
    assert match in err and "\n" not in err and err.startswith("error:")
