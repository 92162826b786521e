"""`grokscope export`: files written through the command line hold the store's values; bad input is
one line on stderr, exit code 2, and nothing written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
import torch

from grokscope import load_config, train
from grokscope.export import transformerlens_export
from grokscope.store import Store


@pytest.fixture
def env_store(cli_env) -> Store:
    """The CLI's default store (``$GROKSCOPE_STORE``) with a tiny transformer run (id 1) and a pair-MLP run (id 2)."""
    s = Store(os.environ["GROKSCOPE_STORE"])
    for preset, extra in (("nanda-p113", ["model.d_model=8", "model.n_heads=2", "model.d_head=4", "model.d_mlp=16"]),
                          ("demo", [])):
        cfg = load_config(preset=preset, overrides=["task.p=5", "train.steps=4", "n_members=2", "threads=1",
                                                    "log.n_checkpoints=2", *extra])
        train(cfg, store=s)
    return s


def test_csv_export_to_the_default_directory_holds_the_store_values(env_store, run_cli):
    code, out, err = run_cli("export", "1", "--format", "csv")
    assert code == 0, err
    where = Path(env_store.path).parent / "exports" / "run-1-csv"
    assert out.splitlines()[1:] == [str(where / "metrics.csv"), str(where / "members.csv")]
    metrics = pd.read_csv(where / "metrics.csv")
    assert metrics["value"].tolist() == env_store.frame(1)["value"].tolist()
    members = pd.read_csv(where / "members.csv")
    assert members["seed"].tolist() == [m["seed"] for m in env_store.members(1)]
    # a second export to the same place is refused rather than mixed with the first
    code, _, err = run_cli("export", "1", "--format", "csv")
    assert code == 2 and "exists and is not an empty directory" in err


def test_transformerlens_files_are_the_api_export(env_store, run_cli, tmp_path):
    step = env_store.checkpoint_steps(1)[0]
    code, _, err = run_cli("export", "1", "--format", "transformerlens", "--member", "1", "--step", step,
                           "--out", tmp_path / "tl")
    assert code == 0, err
    exp = transformerlens_export(env_store, 1, member=1, step=step)
    assert json.loads((tmp_path / "tl" / "config.json").read_text()) == exp.config
    state = torch.load(tmp_path / "tl" / "state_dict.pt", weights_only=True)
    assert state.keys() == exp.state_dict.keys()
    assert all(torch.equal(state[k], exp.state_dict[k]) for k in state)
    assert json.loads((tmp_path / "tl" / "source.json").read_text())["step"] == step


def test_tensorboard_export_writes_one_directory_per_member(env_store, run_cli, tmp_path):
    pytest.importorskip("tensorboardX")
    code, _, err = run_cli("export", "1", "--format", "tensorboard", "--out", tmp_path / "tb")
    assert code == 0, err
    for i in (0, 1):
        files = list((tmp_path / "tb" / "run-1" / f"member-{i:03d}").glob("events.out.tfevents.*"))
        assert len(files) == 1 and files[0].stat().st_size > 0


@pytest.mark.parametrize("args,match", [
    (["7", "--format", "csv"], "run 7 not found"),
    (["no-such-sweep", "--format", "parquet"], "'no-such-sweep' is neither a run id nor a sweep"),
    (["1", "--format", "hdf5"], "--format='hdf5': must be one of"),
    (["2", "--format", "transformerlens"], "run 2 is a 'pair_mlp' model"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(env_store, run_cli, tmp_path, args, match):
    code, _, err = run_cli("export", *args, "--out", tmp_path / "out")
    assert code == 2 and err.startswith("error:") and match in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists() and not (Path(env_store.path).parent / "exports").exists()


def test_a_missing_store_or_a_bad_format_creates_no_store(cli_env, run_cli, tmp_path):
    code, _, err = run_cli("export", "1", "--format", "csv", "--store", tmp_path / "none" / "runs.db")
    assert code == 2 and "no run store at" in err and not (tmp_path / "none").exists()
    code, _, err = run_cli("export", "1", "--format", "xml")
    assert code == 2 and "--format='xml'" in err and not Path(os.environ["GROKSCOPE_STORE"]).parent.exists()
