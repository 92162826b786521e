"""Resident memory of training stays bounded, and a process that trains twice does not accumulate.

Issue 14: one ``nanda-p113`` member held 1.0 GB after 60 steps and 2.2-2.4 GB after 800-1,600; a
process that trained it three times reached 5.4 GB. The cause was heap fragmentation: what the
run writer kept between evaluations (the metrics log, pending checkpoints) sat inside the holes
the step's activations left, so the heap grew at its top (docs/performance.md, "Memory"). Here a
smaller transformer (p = 53) trains twice in a fresh process set up like the CLI (``tune_malloc``,
a store on disk); before the fix its peak was 216-247 MB above the RSS after import and all of it
stayed resident after the runs; after, 125-130 MB and about 30 MB.
"""

import json
import subprocess
import sys
import textwrap

import pytest

from grokscope._malloc import release_free_memory

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not release_free_memory(), reason="needs Linux /proc and glibc"
)

CHILD = textwrap.dedent("""
    import json, sys
    from grokscope._malloc import tune_malloc
    tune_malloc()
    from grokscope import Store, load_config, train

    def status_mb(key):
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith(key + ":")) / 1024

    def rss_mb():
        return status_mb("VmRSS")

    base = rss_mb()
    store = Store(sys.argv[1])
    for frac in (0.7, 0.3):
        over = ["task.p=53", f"task.train_frac={frac}", "train.steps=40", "threads=1", "log.flush_seconds=1"]
        train(load_config(preset="nanda-p113", overrides=over), store=store)
    # VmHWM, not getrusage's ru_maxrss: Linux carries the forking parent's RSS into an exec'd
    # child's ru_maxrss, so under a large pytest process it would read the parent's size.
    peak = status_mb("VmHWM")
    print(json.dumps({"peak": peak - base, "after": rss_mb() - base}))
""")


def test_two_runs_in_one_process_stay_bounded_and_give_memory_back(tmp_path):
    out = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "runs.db")], capture_output=True, text=True,
                         check=False, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    mb = json.loads(out.stdout.strip().splitlines()[-1])
    assert mb["peak"] < 170, mb  # MB above the RSS after import (the activations of a 0.7 split: ~100)
    assert mb["after"] < 100, mb  # what the two runs left resident (before the fix: the whole peak)
