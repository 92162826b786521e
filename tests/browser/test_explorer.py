"""The explorer in headless Chromium: hover a step and every view shows that checkpoint; switch
members; open a sweep cell; no console errors. The page's numbers are checked against the
stored checkpoints themselves (weights through the model's anatomy, the embedding spectrum by
numpy's FFT), never against the explorer's own earlier output.

Timings (first paint of an 8-member run with >= 100 checkpoints, hover to updated views) are
measured and printed, not asserted; ``GROKSCOPE_EXPLORER_OUT=DIR`` also writes them and the
screenshots the docs use (docs/img/explorer-*.png) to DIR.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
from explorer_env import SWEEP

OUT = os.environ.get("GROKSCOPE_EXPLORER_OUT")
RUN = 1  # the demo run of the explorer_store fixture


def _stored_views(store_path, step: int, member: int):
    """The run's weight views at ``step`` read from the stored checkpoint through the model's anatomy."""
    from grokscope.analysis import load_run
    from grokscope.store import Store

    run = load_run(Store(store_path), RUN)
    state = run.load(step)
    anatomy = run.model.anatomy(state)
    return run, [v.weight[member].double().numpy() for v in anatomy.views], anatomy


def _open_run(page, server, member: int = 0):
    page.goto(f"{server.url}#run={RUN}&member={member}")
    page.wait_for_function("window.GS && GS.state.view === 'run' && GS.state.ready === true", timeout=20000)


def _hover_step(page, step: int) -> int:
    """Move the mouse over the learning curves at ``step``; returns the checkpoint step the page then shows."""
    before = page.evaluate("GS.state.perf.updates || 0")
    x, y = page.evaluate("""(step) => {
        const div = document.getElementById('view-curves'), L = div._fullLayout, r = div.getBoundingClientRect();
        return [r.left + L.xaxis._offset + L.xaxis.l2p(Math.log10(step)), r.top + L.yaxis._offset + L.yaxis._length / 2];
    }""", step)
    page.mouse.move(x, y)
    page.wait_for_function("(b) => (GS.state.perf.updates || 0) > b && !GS.state.busy", arg=before, timeout=5000)
    return page.evaluate("GS.state.step")


def _view_steps(page) -> dict:
    return page.evaluate("Object.fromEntries([...document.querySelectorAll('[data-view]')].map(d => [d.id, d.dataset.step]))")


def test_hover_shows_that_checkpoint_in_every_view(page, server, explorer_store, tmp_path):
    _open_run(page, server)
    perf = page.evaluate("GS.state.perf")  # first paint of 8 members x >= 100 checkpoints, cold browser
    page.wait_for_function("GS.state.analysisReady === true", timeout=30000)
    steps = page.evaluate("GS.state.S.steps")
    assert len(steps) >= 100
    target = min(steps, key=lambda s: abs(math.log(s + 1) - math.log(300)))
    shown = _hover_step(page, target)
    i = steps.index(target)
    assert steps[max(i - 1, 0)] <= shown <= steps[min(i + 1, len(steps) - 1)]  # the hovered checkpoint (or a neighbour)
    views = _view_steps(page)
    expected = {"view-curves", "view-weights-0", "view-weights-1", "view-spectrum", "view-stars", "view-waves",
                "view-logits", "view-progress", "view-measures", "heuristic-label"}
    assert expected <= set(views), views
    assert all(v == str(shown) for v in views.values()), views
    assert page.locator("#step-label").inner_text().startswith(f"step {shown} ")

    # The numbers drawn are that checkpoint's: heatmaps = the stored weights (hidden units in the page's order).
    run, views_ref, anatomy = _stored_views(explorer_store, shown, member=0)
    order = page.evaluate("GS.state.S.frames.meta.order")
    for k, ref in enumerate(views_ref):
        z = np.array(page.evaluate(f"document.getElementById('view-weights-{k}').data[0].z"), dtype=float)
        np.testing.assert_allclose(z, ref[:, order].T, rtol=1e-5, atol=1e-6)
    # The embedding spectrum: energy per frequency of W_E over the tokens, by numpy's FFT
    # (orthonormal real basis: k = 0 carries |F_0|^2 / p, each 0 < k < p/2 carries 2 |F_k|^2 / p).
    p = run.task.fourier_p
    w_e = anatomy.embedding[0, :p].double().numpy()  # [p, d_embed]
    f = np.fft.rfft(w_e, axis=0)
    energy = (np.abs(f) ** 2).sum(1) / p
    energy[1 : (p + 1) // 2] *= 2
    bars = np.array(page.evaluate("document.getElementById('view-spectrum').data[0].y"), dtype=float)
    np.testing.assert_allclose(bars, energy[: p // 2 + 1], rtol=1e-4)
    assert page.locator("#heuristic-label").inner_text().startswith("{")

    # Timings, measured and printed (not asserted); the screenshot the docs use.
    updates = []
    for t in (20, 60, 150, 500, 1400):
        _hover_step(page, min(steps, key=lambda c: abs(math.log(c + 1) - math.log(t))))
        updates.append(page.evaluate("GS.state.perf.update"))
    timings = {"members": 8, "checkpoints": len(steps), "first_paint_ms": round(perf["firstPaint"]),
               "first_paint_view_ms": round(perf["firstPaintView"]),
               "analysis_ms": round(page.evaluate("GS.state.perf.analysis")),
               "hover_update_ms": [round(u) for u in updates], "hover_update_ms_median": round(float(np.median(updates)))}
    print("\nexplorer timings:", json.dumps(timings))
    out = Path(OUT) if OUT else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    (out / "explorer-timings.json").write_text(json.dumps(timings, indent=1))
    page.mouse.move(5, 5)  # off the plot: its hover labels close, the checkpoint stays
    page.screenshot(path=str(out / "explorer-run.png"), full_page=True)
    assert page.errors == []


def test_switch_member(page, server, explorer_store):
    _open_run(page, server)
    step = page.evaluate("GS.state.step")
    page.select_option("#member-select", "3")
    page.wait_for_function("GS.state.member === 3 && GS.state.perf.member !== undefined", timeout=10000)
    assert page.evaluate("GS.state.step") == step
    _, views_ref, _ = _stored_views(explorer_store, step, member=3)
    order = page.evaluate("GS.state.S.frames.meta.order")
    z = np.array(page.evaluate("document.getElementById('view-weights-0').data[0].z"), dtype=float)
    np.testing.assert_allclose(z, views_ref[0][:, order].T, rtol=1e-5, atol=1e-6)
    # the selected member is drawn on top, in colour; the hash names it (a reload keeps it)
    top = page.evaluate("(() => { const d = document.getElementById('view-curves').data; return d[d.length - 1].name; })()")
    assert top.startswith("member 3:")
    assert page.evaluate("location.hash") == f"#run={RUN}&member=3"
    assert page.errors == []


def test_open_sweep_cell(page, server, tmp_path):
    page.goto(f"{server.url}#sweep={SWEEP}")
    page.wait_for_function("window.GS && GS.state.view === 'sweep' && GS.state.ready === true", timeout=20000)
    assert page.evaluate("GS.state.map.xs.length") == 2 and page.evaluate("GS.state.map.ys.length") == 2
    x, y = page.evaluate("""() => {
        const div = document.getElementById('phase-map'), L = div._fullLayout, r = div.getBoundingClientRect();
        return [r.left + L.xaxis._offset + L.xaxis.l2p(1), r.top + L.yaxis._offset + L.yaxis.l2p(0)];
    }""")
    page.mouse.click(x, y)
    page.wait_for_function("GS.state.cell !== undefined", timeout=10000)
    cell = page.evaluate("GS.state.cell")
    xs, ys = page.evaluate("GS.state.map.xs"), page.evaluate("GS.state.map.ys")
    assert (cell["x"], cell["y"]) == (xs[1], ys[0])
    assert cell["n"] == 1 and cell["traces"] == 2  # one seed per point: its train and test curves
    rows = page.locator("#cell-table tbody tr")
    assert rows.count() == 1
    out = Path(OUT) if OUT else tmp_path
    page.screenshot(path=str(out / "explorer-sweep.png"), full_page=True)
    rows.first.click()  # opens that member's run
    page.wait_for_function("GS.state.view === 'run' && GS.state.ready === true", timeout=20000)
    assert page.errors == []
