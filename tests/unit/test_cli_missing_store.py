"""Commands that only read the store refuse a store that is not there: one line, exit 2, and no
empty store file (or directory) is left behind where the user mistyped a path."""

import pytest

READERS = [
    ["show", "1"], ["report", "1"], ["analyze", "1"], ["runs"], ["sweeps"],
    ["phasemap", "s", "task.train_frac", "optim.weight_decay"], ["critical", "s"],
    ["quanta", "emergence", "1"], ["quanta", "qdg", "1"], ["omnigrok", "lag", "1"],
    ["warn", "1"], ["train", "--resume", "1"], ["export", "1", "--format", "csv"],
]


@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a[:2]))
def test_a_reader_given_a_missing_store_says_so_and_creates_nothing(run_cli, tmp_path, args):
    missing = tmp_path / "typo" / "runs.db"
    code, _, err = run_cli(*args, "--store", missing)
    assert code == 2, (code, err)
    assert err.startswith("error: no run store at") and str(missing) in err and err.count("\n") == 1, err
    assert not missing.parent.exists()
