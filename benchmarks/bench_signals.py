"""The cost of the early-warning signals (``train.signals``) as a fraction of training, measured in one run.

    python benchmarks/bench_signals.py                   # pair-mod67, 8 members, 4,000 steps (~2 minutes)
    python benchmarks/bench_signals.py --preset demo --members 24 --steps 3000

The same config (a preset, full batch, one thread) is trained in this process without the signals
and with them (the ``SignalsHook`` of ``grokscope.train._signals``, timed), alternating ``--reps``
pairs and keeping the fastest of each. Printed, from this one run:

- wall time per training step of each run and the overhead ratio ``t_signals / t_plain - 1``: what the
  signals add to a run on the default evaluation schedule (dense to step 100, then 200 log-spaced
  evaluations), the per-update slow-gradient EMA included;
- the hook's own time per evaluation, as a multiple of one training step (plain run's time per step):
  what one evaluation's signals cost where evaluations are dense.

The ratios hold on this machine under its load at the time; absolute times do not transfer.
"""

from __future__ import annotations

import argparse
import time

from grokscope.config import load_config
from grokscope.train import train
from grokscope.train._signals import SignalsHook


class TimedSignals(SignalsHook):
    """The signals hook, with the wall time of its evaluations summed."""

    def __init__(self):
        super().__init__()
        self.seconds, self.calls = 0.0, 0

    def __call__(self, step, metrics, ctx):
        t0 = time.perf_counter()
        out = super().__call__(step, metrics, ctx)
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="pair-mod67")
    ap.add_argument("--members", type=int, default=8)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--reps", type=int, default=1, help="alternating pairs of runs; the fastest of each is kept")
    a = ap.parse_args()
    cfg = load_config(preset=a.preset, overrides=[
        f"n_members={a.members}", f"train.steps={a.steps}", "train.stop_after_grok=false", "threads=1",
        "log.n_checkpoints=2", "log.flush_seconds=1e9", "seed=0"])
    plain, signals, hook_s, hook_calls = [], [], [], 0
    for _ in range(a.reps):
        t0 = time.perf_counter()
        train(cfg, store=None)
        plain.append(time.perf_counter() - t0)
        hook = TimedSignals()
        t0 = time.perf_counter()
        r = train(cfg, store=None, hooks=[hook])
        signals.append(time.perf_counter() - t0)
        hook_s.append(hook.seconds / max(hook.calls, 1))
        hook_calls = hook.calls
    tp, ts = min(plain) / a.steps, min(signals) / a.steps
    print(f"{a.preset}: {a.members} members, {a.steps} steps, {hook_calls} evaluations, one thread")
    print(f"  plain:        {1e3 * tp:.2f} ms/step")
    print(f"  with signals: {1e3 * ts:.2f} ms/step   overhead {ts / tp - 1:+.1%} of the run")
    print(f"  signals hook: {1e3 * min(hook_s):.2f} ms/evaluation = {min(hook_s) / tp:.2f} training steps "
          f"({min(hook_s) * hook_calls / (tp * a.steps):.1%} of the plain run's time over {hook_calls} evaluations)")
    print(f"  signals stored: {sorted(k for k in r.metrics if k.startswith('sig_'))}")


if __name__ == "__main__":
    main()
