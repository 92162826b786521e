"""``grokscope analyze RUN``: the run's analysis as ``analysis.json`` (a ``RunAnalysis``), its summary and figures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from grokscope.analysis import RunAnalysis, analyze_run
from grokscope.store import Store

FIXTURE = Path(__file__).parent.parent / "fixtures" / "store_v1.db"


def test_analyze_writes_the_analysis_the_library_computes(run_cli, tmp_path):
    db = tmp_path / "store_v1.db"
    shutil.copyfile(FIXTURE, db)  # a store written by grokscope 0.1.0
    code, out, err = run_cli("analyze", 1, "--store", db, "--out", tmp_path / "a", "--member", 2)
    assert code == 0 and err == "", err
    assert out.startswith("analysis of run 1: 5 checkpoints") and "fourier_snapshot" in out
    ra = RunAnalysis.from_json((tmp_path / "a" / "analysis.json").read_text())
    direct = analyze_run(Store(db), 1, member=2)
    assert ra.results == json.loads(json.dumps(direct.to_dict()))["results"]
    assert ra.results["fourier_snapshot"]["member"] == 2
    assert ra.results["fourier_snapshot"]["output_map"] == "W_out·W_Eᵀ"  # the fixture's PAIR MLPs are tied
    for name in ("summary.json", "progress.png", "fallibility.png", "spectrum.png", "stars.png"):
        assert (tmp_path / "a" / name).stat().st_size > 0, name
    code, out, _ = run_cli("analyze", 1, "--store", db, "--out", tmp_path / "b", "--json")
    assert code == 0 and json.loads(out)["n_checkpoints"] == 5


def test_bad_member_is_one_line_and_exit_2(run_cli, tmp_path):
    db = tmp_path / "store_v1.db"
    shutil.copyfile(FIXTURE, db)
    code, out, err = run_cli("analyze", 1, "--store", db, "--member", 7, "--out", tmp_path / "a")
    assert code == 2 and err.count("\n") == 1 and "member=7" in err, err
    assert not (tmp_path / "a").exists()
