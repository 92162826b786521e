"""The CLI is one package of thin command groups: every command mounted, one ``--store`` option,
works cited by authors and title, bad input one line with exit code 2, no printing or exiting in
the library.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest
import typer

from grokscope.cli import app
from grokscope.cli._common import STORE_OPT

SRC = Path(__file__).resolve().parents[2] / "src" / "grokscope"

COMMANDS = {"demo", "train", "presets", "runs", "show", "report", "analyze", "sweep", "sweeps", "phasemap", "critical",
            "export", "explore", "warn", "landscape", "li2", "scaling", "quanta", "omnigrok"}
LANDSCAPE = {"percolation", "grokking", "emergence", "trap", "measured"}


def _commands():
    """``{"name" or "group name": click command}`` of the whole app, groups expanded."""
    root = typer.main.get_command(app)
    out = {}
    for name, cmd in root.commands.items():
        out[name] = cmd
        for sub, subcmd in getattr(cmd, "commands", {}).items():
            out[f"{name} {sub}"] = subcmd
    return root, out


def test_every_command_is_mounted():
    root, cmds = _commands()
    assert set(root.commands) == COMMANDS
    assert set(root.commands["landscape"].commands) == LANDSCAPE


def test_one_store_option_everywhere():
    _, cmds = _commands()
    with_store = {name for name, c in cmds.items() if any(p.name == "store" for p in c.params)}
    groups = {name for name, c in cmds.items() if hasattr(c, "commands")}
    # the li2 commands compute from a group's table alone; presets lists packaged files; the language-model
    # family reads and writes its own results directory (its --out / RESULTS argument)
    store_free = {"presets", "li2 energy", "li2 stages", "li2 boundary", "li2 train", "li2 stage3", "li2 grok",
                  "li2 solutions", "li2 trained-boundary", "quanta lm-train", "quanta lm-tokens", "quanta lm-qdg",
                  "omnigrok landscape", "omnigrok teacher-student"}  # these two train in memory (no store)
    assert set(cmds) - with_store - groups == store_free, "every command that reads the store takes --store"
    for name in with_store:
        (p,) = [p for p in cmds[name].params if p.name == "store"]
        assert p.opts == ["--store"] and p.help == STORE_OPT.help, name


def test_help_cites_works_by_authors_and_title():
    _, cmds = _commands()
    texts = {name: " ".join([c.help or ""] + [getattr(p, "help", None) or "" for p in c.params])
             for name, c in cmds.items()}
    for name, text in texts.items():
        assert "seed 000" not in text and "the seed's" not in text, name
    for name in ("landscape", "critical"):
        assert 'Gokhale 2023, "The semantic landscape paradigm for neural networks"' in " ".join(texts[name].split())


def test_python_dash_m_runs_the_same_app(cli_env):
    import sys

    res = subprocess.run([sys.executable, "-m", "grokscope.cli", "landscape", "--help"], capture_output=True,
                         text=True, env=cli_env, timeout=120)
    assert res.returncode == 0 and res.stderr == ""
    assert all(sub in res.stdout for sub in LANDSCAPE)


@pytest.mark.parametrize("args,fragment", [
    (["landscape", "grokking", "--beta", "0"], "beta=0"),
    (["landscape", "trap", "--mus", "0.5,x"], "--mus"),
    (["critical", "no-such-sweep"], "no-such-sweep"),
    (["phasemap", "s", "x", "y", "--where", "optim.lr"], "KEY=VALUE"),
])
def test_bad_input_is_one_line_and_exit_2(run_cli, tmp_path, args, fragment):
    from grokscope.store import Store

    db = tmp_path / "runs.db"
    Store(db).close()  # an existing, empty store: a missing one is refused first (test_cli_missing_store.py)
    code, out, err = run_cli(*args, "--store", db, *(["--out", tmp_path] if args[0] == "landscape" else []))
    assert code == 2, (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert fragment in err
    assert not list(tmp_path.glob("*.png"))


def test_old_import_paths_still_work():
    import grokscope.cli.landscape
    import grokscope.cli.sweep
    from grokscope.sweep._cli import critical_cmd, phasemap_cmd, sweep_cmd, sweeps_cmd
    from grokscope.theory._cli import app as landscape_app

    assert landscape_app is grokscope.cli.landscape.app
    assert (sweep_cmd, sweeps_cmd, phasemap_cmd, critical_cmd) == (
        grokscope.cli.sweep.sweep_cmd, grokscope.cli.sweep.sweeps_cmd, grokscope.cli.sweep.phasemap_cmd,
        grokscope.cli.sweep.critical_cmd)


def _library_modules():
    for path in sorted(SRC.rglob("*.py")):
        if path.relative_to(SRC).parts[0] != "cli":
            yield path, ast.parse(path.read_text(), filename=str(path))


def test_the_library_neither_prints_nor_exits():
    """Printing, typer and exit codes belong to ``grokscope.cli``; the library returns or raises."""
    offenders = []
    for path, tree in _library_modules():
        for node in ast.walk(tree):
            where = f"{path.relative_to(SRC.parent)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if any(n == "typer" or n.startswith("typer.") for n in names):
                    offenders.append(f"{where} imports typer")
            elif isinstance(node, ast.Call):
                f = node.func
                if isinstance(f, ast.Name) and f.id in ("print", "exit", "quit"):
                    offenders.append(f"{where} calls {f.id}()")
                elif isinstance(f, ast.Attribute) and f.attr == "exit" and isinstance(f.value, ast.Name) \
                        and f.value.id in ("sys", "os"):
                    offenders.append(f"{where} calls {f.value.id}.exit()")
    assert not offenders, "\n".join(offenders)
