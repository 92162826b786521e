"""The explorer in headless Chromium: first paint of a run and the time from a hover to every view redrawn.

    python benchmarks/bench_explorer.py                    # the demo preset, 8 members, 1,500 steps
    python benchmarks/bench_explorer.py --hovers 48 --store /tmp/x.db

Trains the demo preset (8 members, default checkpoints: 100 log-spaced plus transitions) into a store
(reused when ``--store`` exists), serves it with ``grokscope.explorer.open_target`` and opens the run view
in Debian's Chromium through Playwright (as ``tests/browser`` does). Printed: checkpoints, first paint
(navigation start to every checkpoint view drawn, ``GS.state.perf.firstPaint``), the hover-to-update
times (``GS.state.perf.update``: mouse event to plotly having redrawn every view) over ``--hovers``
moves across the curves, and the synchronous part of each panel's redraw (``GS.state.perf.cost``,
medians). Times depend on the machine's load; print ``uptime`` beside them.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))

TARGETS = (20, 60, 150, 500, 1400, 40, 300, 900)  # steps hovered, in this order, repeatedly

HOVER_JS = """(step) => {
    const div = document.getElementById('view-curves'), L = div._fullLayout, r = div.getBoundingClientRect();
    return [r.left + L.xaxis._offset + L.xaxis.l2p(Math.log10(step)), r.top + L.yaxis._offset + L.yaxis._length / 2];
}"""


def main() -> None:
    from explorer_env import browser_skip_reason, chromium_path

    from grokscope import load_config, train
    from grokscope.explorer import open_target
    from grokscope.store import Store

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, default=None)
    ap.add_argument("--hovers", type=int, default=24)
    a = ap.parse_args()
    reason = browser_skip_reason()
    if reason:
        sys.exit(f"cannot run: {reason}")
    path = a.store or Path(tempfile.mkdtemp()) / "runs.db"
    if not path.exists():
        store = Store(path)
        train(load_config(preset="demo", overrides=["train.steps=1500", "train.stop_after_grok=false"]), store=store)
        store.close()
    srv, _ = open_target(path, None, port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        page = browser.new_context(bypass_csp=True, viewport={"width": 1400, "height": 1000}).new_page()
        page.goto(f"{srv.url}#run=1&member=0")
        page.wait_for_function("window.GS && GS.state.view === 'run' && GS.state.ready === true", timeout=60000)
        first_paint = page.evaluate("GS.state.perf.firstPaint")
        page.wait_for_function("GS.state.analysisReady === true", timeout=120000)
        steps = page.evaluate("GS.state.S.steps")
        updates, costs = [], []
        for h in range(a.hovers):
            t = TARGETS[h % len(TARGETS)]
            target = min(steps, key=lambda s: abs(math.log(s + 1) - math.log(t)))
            before = page.evaluate("GS.state.perf.updates || 0")
            page.mouse.move(*page.evaluate(HOVER_JS, target))
            page.wait_for_function("(b) => (GS.state.perf.updates || 0) > b && !GS.state.busy", arg=before, timeout=10000)
            updates.append(page.evaluate("GS.state.perf.update"))
            costs.append(page.evaluate("GS.state.perf.cost"))
        browser.close()
    srv.shutdown()
    print(f"demo run, 8 members, {len(steps)} checkpoints; first paint {first_paint / 1000:.2f} s")
    print(f"hover -> every view redrawn, {len(updates)} hovers: median {statistics.median(updates):.0f} ms "
          f"({min(updates):.0f}-{max(updates):.0f})")
    print("synchronous part per panel (median ms):",
          {k: round(statistics.median(c[k] for c in costs), 1) for k in costs[0]})


if __name__ == "__main__":
    main()
