"""A group task's run view: the irreps panel shows, at every checkpoint the reader picks, the shares of the
stored embedding's energy per irrep (``grokscope.groups.irrep_shares`` on the stored weights), and the
heuristic-model box names the irreps in use there by the measured landscape's rule (``irreps_in_use``
on those shares)."""

from __future__ import annotations

import threading

import numpy as np
import pytest


def test_the_irreps_panel_follows_the_checkpoint(page, tmp_path):
    pytest.importorskip("plotly")
    from grokscope import load_config, train
    from grokscope.analysis import load_run
    from grokscope.explorer import open_target
    from grokscope.groups import dihedral, irrep_shares
    from grokscope.landscape_measured._irreps import irreps_in_use
    from grokscope.store import Store

    store = Store(tmp_path / "g.db")
    cfg = load_config(overrides=["task.kind=dihedral", "task.n=5", "task.train_frac=0.6", "model.arch=transformer",
                                 "n_members=2", "train.steps=60", "log.n_checkpoints=6"])
    res = train(cfg, store)
    run = load_run(store, res.run_id)
    server, _ = open_target(store.path, None, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"{server.url}#run={res.run_id}&member=1")
        page.wait_for_function("window.GS && GS.state.view === 'run' && GS.state.ready === true", timeout=20000)
        steps = page.evaluate("GS.state.S.steps")
        for i in (0, len(steps) // 2, len(steps) - 1):
            page.evaluate(f"GS.state.setIndex({i})")
            page.wait_for_function(f"GS.state.index === {i} && !GS.state.busy")
            step = steps[i]
            assert page.evaluate("document.getElementById('view-irreps').dataset.step") == str(step)
            bars = np.array(page.evaluate("document.getElementById('view-irreps').data[0].y"), dtype=float)
            emb = run.model.anatomy(run.load(step)).embedding[1, :10].double().numpy()
            shares = irrep_shares(dihedral(5), emb)
            np.testing.assert_allclose(bars, shares.shares[0].numpy(), rtol=1e-5, atol=1e-7)
            used = irreps_in_use(shares.shares[0].numpy(), list(shares.labels))
            text = page.evaluate("document.getElementById('heuristic-label').textContent")
            assert text == f"irreps in use: {', '.join(used) or 'none'} (D_5)", (text, used)
        assert page.errors == []
    finally:
        server.shutdown()
        server.server_close()
