"""The run view follows a run while it trains: as the trainer commits metrics and checkpoints, the
page reloads them and shows the newest checkpoint; when training ends, it says so and shows exactly
the checkpoints the store holds."""

from __future__ import annotations

import threading
import time

import pytest


def test_the_page_follows_a_training_run(page, tmp_path):
    pytest.importorskip("plotly")
    from grokscope import load_config, train
    from grokscope.explorer import open_target
    from grokscope.store import Store

    path = tmp_path / "live.db"
    store = Store(path)
    cfg = load_config(preset="demo", overrides=["n_members=2", "train.steps=400", "train.stop_after_grok=false",
                                                "log.n_checkpoints=40", "log.flush_seconds=0.05", "threads=1"])
    started, release = threading.Event(), threading.Event()
    calls = [0]

    def pace(info):  # hold the trainer once it has committed its first checkpoints, until the page has loaded
        calls[0] += 1
        if calls[0] == 30:
            started.set()
            release.wait(60)
        time.sleep(0.01)

    result = {}
    trainer = threading.Thread(target=lambda: result.update(r=train(cfg, store=store, progress=pace)), daemon=True)
    trainer.start()
    assert started.wait(60)
    server, _ = open_target(path, None, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"{server.url}#run=1&member=1&poll=300")
        page.wait_for_function("window.GS && GS.state.view === 'run' && GS.state.ready === true", timeout=20000)
        first = page.evaluate("GS.state.S.steps.length")
        assert page.locator("#live").is_visible()
        release.set()
        trainer.join(120)
        assert not trainer.is_alive()
        page.wait_for_function("GS.state.live.status === 'finished' && GS.state.live.refreshes >= 1 && !GS.state.liveBusy",
                               timeout=30000)
        final = Store(path).checkpoint_steps(result["r"].run_id)
        shown = page.evaluate("GS.state.S.steps")
        assert first < len(final) and shown == final  # it grew to exactly the stored checkpoints
        page.wait_for_function("GS.state.step !== undefined && !GS.state.busy")
        assert page.evaluate("GS.state.step") == final[-1]  # it stayed at the newest checkpoint
        assert page.locator("#live").inner_text() == "training finished"
        n = page.evaluate("GS.state.S.metrics.arrays.steps.shape[0]")
        assert n == len(result["r"].steps)  # the curves hold every evaluation
        assert page.errors == []
    finally:
        release.set()
        server.shutdown()
        server.server_close()
