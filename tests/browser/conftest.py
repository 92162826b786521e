"""Fixtures of the explorer's browser tests: a trained store, the server in a thread, headless Chromium.

Chromium is Debian's (``apt-get install -y chromium``; Playwright's own browser download cannot
reach its host from our machines), launched by Playwright through ``executable_path``
(``$GROKSCOPE_CHROMIUM`` overrides the path). Without Playwright or Chromium the tests that need
a browser are skipped with the reason; the HTTP-level security tests run anyway.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from explorer_env import SWEEP, XSS_NAME, browser_skip_reason, chromium_path


@pytest.fixture(scope="session")
def explorer_store(tmp_path_factory) -> Path:
    """A store with the demo run (8 members, >= 100 checkpoints), a run named like a script, and a 2x2 sweep."""
    from grokscope import load_config, train
    from grokscope.store import Store
    from grokscope.sweep import parse_spec, run_sweep

    path = tmp_path_factory.mktemp("explorer") / "runs.db"
    store = Store(path)
    # 1,500 steps: the demo's members memorize by ~100 steps and most generalize by ~1,300 (grokking);
    # 140 log-spaced checkpoints requested leave >= 100 distinct steps (the first ones round to the same step).
    cfg = load_config(preset="demo", overrides=["train.steps=1500", "train.stop_after_grok=false",
                                                "log.n_checkpoints=140"])
    train(cfg, store=store)
    xss = load_config(preset="demo", overrides=["train.steps=30", "n_members=1", "log.n_checkpoints=3",
                                                f"name={XSS_NAME}"])
    train(xss, store=store)
    spec = parse_spec({"name": SWEEP, "base": "demo", "seeds": 1, "steps": 300,
                       "set": {"log.n_checkpoints": 4, "train.stop_after_grok": False},
                       "grid": {"optim.weight_decay": [0.1, 0.3], "task.train_frac": [0.4, 0.6]}})
    run_sweep(spec, store, progress=False)
    store.close()
    return path


@pytest.fixture(scope="session")
def server(explorer_store):
    """The explorer on 127.0.0.1 and a free port, serving from a thread."""
    import importlib.util

    from grokscope.explorer import open_target

    if importlib.util.find_spec("plotly") is None:
        pytest.skip("plotly is not installed (pip install 'grokscope[explore]'): the explorer does not start")

    srv, _ = open_target(explorer_store, None, port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="session")
def browser():
    reason = browser_skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # --no-sandbox: CI containers run as root, where Chromium's sandbox cannot start.
        b = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A page whose console errors and uncaught exceptions are collected in ``page.errors``.

    ``bypass_csp``: Playwright's waits evaluate strings, which the page's own CSP forbids; the
    CSP itself is checked without it (``test_security.py``).
    """
    ctx = browser.new_context(bypass_csp=True, viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.errors = []
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    ctx.close()
