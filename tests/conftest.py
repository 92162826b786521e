"""Shared fixtures: one CPU thread, a temporary run store, and an environment for CLI subprocesses.

Why one thread: the suite runs on shared 2-core machines, and torch's reductions are only
bit-reproducible at a fixed thread count, which the determinism and resume tests compare.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

# tests/toys.py (a task and an architecture written in test code alone) is importable as `toys`.
sys.path.insert(0, str(Path(__file__).parent))

# Env vars that fix the thread count of every library a subprocess may load (torch reads
# OMP_NUM_THREADS at start-up for its intra-op pool).
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@pytest.fixture(autouse=True, scope="session")
def _default_store_in_a_temp_dir(tmp_path_factory):
    """No test writes to ./grokscope-runs: the default store is a temp path unless a test sets its own."""
    old = os.environ.get("GROKSCOPE_STORE")
    os.environ["GROKSCOPE_STORE"] = str(tmp_path_factory.mktemp("default-store") / "grokscope.db")
    yield
    if old is None:
        os.environ.pop("GROKSCOPE_STORE", None)
    else:
        os.environ["GROKSCOPE_STORE"] = old


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A path for a fresh run store (the file does not exist yet)."""
    return tmp_path / "store" / "runs.db"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment whose default store is a temp path, single-threaded, for CLI subprocesses.

    Also applied to this process (monkeypatched), so in-process CLI calls see the same store.
    """
    path = tmp_path / "env-store" / "grokscope.db"
    monkeypatch.setenv("GROKSCOPE_STORE", str(path))
    env = dict(os.environ, GROKSCOPE_STORE=str(path), PYTHONUNBUFFERED="1", COLUMNS="200", **ONE_THREAD_ENV)
    return env


@pytest.fixture
def grokscope_argv():
    """``grokscope_argv(*args)``: the argv running the ``grokscope`` entry point with this interpreter."""

    def argv(*args: str) -> list[str]:
        return [sys.executable, "-c", "from grokscope.cli import main; main()", *map(str, args)]

    return argv


@pytest.fixture
def run_cli(capfd):
    """``run_cli(*args)``: run ``grokscope ARGS`` in this process -> (exit code, stdout, stderr)."""
    from grokscope.cli import main

    def run(*args) -> tuple[int, str, str]:
        capfd.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = 0 if e.code is None else e.code if isinstance(e.code, int) else 1
        out, err = capfd.readouterr()
        return code, out, err

    return run
