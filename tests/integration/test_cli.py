"""The command line: every bad input of the issue gets one line, exit code 2, no traceback, and
leaves the store as it was (or uncreated); ``runs``/``show`` print JSON; ``report`` writes HTML.

Most calls run ``grokscope.cli.main`` in this process (a subprocess costs seconds of imports on a
loaded machine); one bad input and one listing go through a real subprocess, which also checks
that nothing else (a warning, a traceback) reaches stderr.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from grokscope.cli import main

TINY = """\
# a tiny run for the CLI tests
name = "tiny"
n_members = 2

[task]
kind = "modular"
op = "add"
p = 5
train_frac = 0.6

[model]
arch = "pair_mlp"
d_embed = 4
d_hidden = 8

[train]
steps = 20

[log]
n_checkpoints = 3
"""


def _cli(capfd, *args) -> tuple[int, str, str]:
    """Run ``grokscope ARGS`` in-process: (exit code, stdout, stderr)."""
    capfd.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as e:
        code = 0 if e.code is None else e.code if isinstance(e.code, int) else 1
    out, err = capfd.readouterr()
    return code, out, err


def _fingerprint(db: Path) -> tuple[str, str]:
    """(sha256 of the store's files, a logical SQL dump): both must survive a rejected command."""
    digest = hashlib.sha256()
    for suffix in ("", "-wal"):
        f = db.with_name(db.name + suffix)
        digest.update(f.read_bytes() if f.exists() else b"")
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    return digest.hexdigest(), dump


def _settle(db: Path) -> None:
    """Move every committed page into the main file, so file bytes are a stable fingerprint."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    finally:
        conn.close()


@pytest.fixture
def config_file(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


@pytest.fixture
def trained_store(tmp_path, config_file, capfd) -> tuple[Path, int]:
    """A store holding one finished run, made through ``grokscope train``."""
    db = tmp_path / "existing" / "runs.db"
    code, out, err = _cli(capfd, "train", config_file, "--store", db, "--quiet")
    assert code == 0, err
    assert "Traceback" not in err
    _settle(db)
    return db, 1


def _bad_inputs(tmp_path: Path, config_file: Path) -> list[tuple[list[str], str]]:
    """(arguments, the value the error line must name): the issue's list of bad inputs."""
    malformed = tmp_path / "malformed.toml"
    malformed.write_text("[task\nop = 'add'\n")
    mistyped = tmp_path / "mistyped.toml"
    mistyped.write_text(TINY.replace("steps = 20", 'steps = "twenty"'))
    return [
        (["train", config_file, "--set", "task.op=pow"], "pow"),  # unknown op
        (["train", "--preset", "nope"], "nope"),  # unknown preset
        (["train", config_file, "--set", "task.op=div", "--set", "task.p=12"], "12"),  # p the op does not allow
        (["train", config_file, "--set", "task.train_frac=1.5"], "1.5"),  # fraction outside (0, 1]
        (["train", config_file, "--set", "task.train_frac=0"], "task.train_frac=0"),
        (["train", malformed], "malformed.toml"),  # malformed TOML
        (["train", config_file, "--set", "optim.lrr=1"], "optim.lrr"),  # unknown --set key
        (["train", config_file, "--set", "train.steps=abc"], "abc"),  # wrong type
        (["train", mistyped], "twenty"),  # wrong type in the file
        (["train", "--preset", "pair-mod67", "--set", "n_members=2", "--set", "optim.lr=[1e-3, 2e-3, 3e-3]"],
         "optim.lr"),  # a per-member list of the wrong length
        (["train", tmp_path / "missing.toml"], "missing.toml"),
    ]


def _assert_one_line_error(code: int, err: str, named: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].strip(), err
    assert named in lines[0], lines[0]


def test_bad_inputs_exit_2_with_one_line_and_leave_the_store_unchanged(tmp_path, config_file, trained_store, capfd):
    db, _ = trained_store
    before = _fingerprint(db)
    for args, named in _bad_inputs(tmp_path, config_file):
        code, out, err = _cli(capfd, *args, "--store", db, "--quiet")
        _assert_one_line_error(code, err, named)
        assert _fingerprint(db) == before, args
    # Run-level mistakes on an existing store: an unknown run, resuming a finished one.
    for args, named in ((["show", 99], "99"), (["report", 99], "99"), (["train", "--resume", 1], "finished"),
                        (["train", "--resume", 1, "--set", "seed=2"], "--resume")):
        code, out, err = _cli(capfd, *args, "--store", db)
        _assert_one_line_error(code, err, named)
        assert _fingerprint(db) == before, args


def test_bad_inputs_create_no_store(tmp_path, config_file, cli_env, capfd):
    env_db = Path(cli_env["GROKSCOPE_STORE"])  # the default store of this test (monkeypatched env)
    flag_db = tmp_path / "flag" / "runs.db"
    for args, named in _bad_inputs(tmp_path, config_file):
        for extra in ([], ["--store", flag_db]):
            code, out, err = _cli(capfd, *args, *extra, "--quiet")
            _assert_one_line_error(code, err, named)
    assert not env_db.parent.exists() and not flag_db.parent.exists()


def test_a_bad_input_through_a_real_process(tmp_path, config_file, cli_env, grokscope_argv):
    proc = subprocess.run(grokscope_argv("train", config_file, "--set", "task.op=pow"),
                          env=cli_env, capture_output=True, text=True, timeout=120)
    _assert_one_line_error(proc.returncode, proc.stderr, "pow")
    assert proc.stderr.startswith("error: ")
    assert not Path(cli_env["GROKSCOPE_STORE"]).parent.exists()


def test_runs_and_show_print_json_and_report_writes_html(tmp_path, trained_store, capfd):
    db, run = trained_store
    code, out, err = _cli(capfd, "runs", "--store", db, "--json")
    assert code == 0, err
    runs = json.loads(out)
    assert [(r["id"], r["name"], r["status"], r["n_members"]) for r in runs] == [(run, "tiny", "finished", 2)]

    code, out, err = _cli(capfd, "show", run, "--store", db, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["id"] == run and shown["config"]["task"] == {"kind": "modular", "op": "add", "p": 5, "pairs": "ordered",
                                                                   "eq_token": False, "op_token": False, "b_nonzero": False,
                                                                   "train_frac": 0.6}  # resolved
    assert [m["member"] for m in shown["members"]] == [0, 1]
    assert all(m["n_train"] == 15 for m in shown["members"])  # round(0.6 * 25)
    assert {"mem_step", "gen_step", "phase", "diverged"} <= set(shown["members"][0])

    # Human-readable forms work too.
    for args in (["runs", "--store", db], ["show", run, "--store", db]):
        code, out, err = _cli(capfd, *args)
        assert code == 0 and "tiny" in out, err

    out_dir = tmp_path / "report"
    code, out, err = _cli(capfd, "report", run, "--store", db, "--out", out_dir)
    assert code == 0, err
    page = Path(out.strip().splitlines()[-1])
    assert page.exists() and page.suffix == ".html" and page.parent == out_dir
    text = page.read_text()
    assert text.lstrip().lower().startswith("<!doctype html") or "<html" in text[:500].lower()
    assert 'src="http' not in text and "src='http" not in text  # self-contained: works offline
    assert list(out_dir.glob("*.png"))  # figures for a paper


def test_runs_json_through_a_real_process_reads_the_env_store(tmp_path, config_file, cli_env, grokscope_argv, capfd):
    code, out, err = _cli(capfd, "train", config_file, "--quiet", "--set", "name=from-env")  # GROKSCOPE_STORE
    assert code == 0, err
    proc = subprocess.run(grokscope_argv("runs", "--json"), env=cli_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert [r["name"] for r in json.loads(proc.stdout)] == ["from-env"]
