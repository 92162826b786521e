"""The explorer reads a run while it trains: every answer is consistent with what was committed so far,
and a new checkpoint gives fresh frames instead of a cached answer. No browser needed."""

from __future__ import annotations

import json
import threading
import urllib.request

import pytest

from grokscope.explorer import decode_arrays, open_target


def test_reads_a_run_while_it_trains(tmp_path):
    pytest.importorskip("plotly")
    from grokscope import load_config, train
    from grokscope.store import Store

    path = tmp_path / "live.db"
    store = Store(path)
    cfg = load_config(preset="demo", overrides=["n_members=2", "train.steps=300", "train.stop_after_grok=false",
                                                "log.n_checkpoints=12", "log.flush_seconds=0.01"])
    run_id = store.create_run("probe", {}, [{"seed": 0}])  # the store file exists before the server opens it
    server, _ = open_target(path, str(run_id), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seen: list[tuple[int, list[int], list[int]]] = []

    def get(url):
        with urllib.request.urlopen(server.url + url, timeout=30) as r:
            return r.read()

    calls = [0]

    def probe(info):  # called by the trainer at every evaluation, between its flushes; read at every 10th
        calls[0] += 1
        if calls[0] % 10:
            return
        runs = json.loads(get("api/index"))["runs"]
        live = max(r["id"] for r in runs)
        if live == run_id:
            return
        meta = json.loads(get(f"api/run/{live}"))
        frames_meta, _ = decode_arrays(get(f"api/run/{live}/frames/1"))
        seen.append((live, meta["checkpoint_steps"], frames_meta["steps"]))

    try:
        result = train(cfg, store=store, progress=probe)
    finally:
        server.shutdown()
        server.server_close()
    final = store.checkpoint_steps(result.run_id)
    counts = [len(ck) for _, ck, _ in seen]
    assert seen and counts == sorted(counts) and counts[-1] > counts[0]  # read while checkpoints were added
    for _, ck, fr in seen:
        assert ck == final[: len(ck)]  # a committed prefix of the final checkpoints
        assert fr[: len(ck)] == ck[: len(fr)] and fr == final[: len(fr)]  # frames of committed checkpoints only
