"""``grokscope explore``: every mistake is one line and exit code 2 before a socket opens; the URL
names the run or sweep; another host than the loopback address is warned about. The server's
``serve_forever`` is replaced by a no-op, so the command returns."""

from __future__ import annotations

import pytest
from explorer_env import SWEEP


@pytest.fixture
def no_serving(monkeypatch):
    import webbrowser

    from grokscope.explorer import ExplorerServer

    opened = []
    monkeypatch.setattr(ExplorerServer, "serve_forever", lambda self, *a, **k: None)
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.append(url))
    return opened


@pytest.mark.parametrize("args, message", [
    (["1", "--store", "{missing}"], "no such file"),
    (["99", "--store", "{store}"], "run 99 not found"),
    (["no-such-sweep", "--store", "{store}"], "sweep 'no-such-sweep' not found"),
    (["1", "--store", "{store}", "--port", "70000"], "--port=70000: must be an integer in [0, 65535]"),
])
def test_mistakes_are_one_line(run_cli, explorer_store, tmp_path, no_serving, args, message):
    args = [a.format(store=explorer_store, missing=tmp_path / "nope.db") for a in args]
    code, _out, err = run_cli("explore", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "nope.db").exists()  # the explorer never creates a store


def test_opens_the_run_or_sweep(run_cli, explorer_store, no_serving):
    pytest.importorskip("plotly")
    code, out, err = run_cli("explore", "1", "--store", explorer_store, "--port", "0")
    assert code == 0 and "http://127.0.0.1:" in out and err == ""
    assert len(no_serving) == 1 and no_serving[0].endswith("#run=1")
    code, out, _ = run_cli("explore", SWEEP, "--store", explorer_store, "--port", "0", "--no-browser")
    assert code == 0 and out.strip().split()[2].endswith(f"#sweep={SWEEP}") and len(no_serving) == 1


def test_other_host_is_warned_about(run_cli, explorer_store, no_serving):
    pytest.importorskip("plotly")
    code, _out, err = run_cli("explore", "--store", explorer_store, "--port", "0", "--host", "0.0.0.0", "--no-browser")
    assert code == 0 and "warning: listening on 0.0.0.0" in err


def test_taken_port_is_one_line(run_cli, explorer_store, no_serving):
    import socket

    pytest.importorskip("plotly")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        code, _out, err = run_cli("explore", "1", "--store", explorer_store, "--port", port, "--no-browser")
    assert code == 2 and f"--port {port} on 127.0.0.1: cannot listen" in err and len(err.strip().splitlines()) == 1
