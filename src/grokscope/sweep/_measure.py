"""How many members to stack, chosen by measuring: ``max_ensemble = "measure"`` in a sweep spec.

Whether stacking members pays depends on the model and the machine: tiny models are
overhead-bound and gain from large ensembles, while a full-batch transformer can run no faster
per member at 8 than at 1 (docs/performance.md). So for each shape of a sweep (the members that
can share an ensemble, ``grokscope.sweep._pack``) the sweep times ``steps`` training steps of
1, 2, 4, ... members up to the cap that memory allows (``ACTIVATION_BUDGET``) and the shape's
member count, and stacks the size with the most model-steps per second (ties go to the larger
size: fewer runs). The members timed are the shape's first member repeated, on a throwaway run
that is never stored; the measurement is written with the sweep's plan, so a resumed sweep packs
exactly as the first attempt did, whatever the machine's load is then.

>>> rates = {1: 100.0, 2: 180.0, 4: 300.0, 8: 290.0}          # steps/s of the ensemble
>>> choose_size({k: k * r for k, r in rates.items()})          # model-steps/s: 100, 360, 1200, 2320
8
>>> stack_sizes(13)
[1, 2, 4, 8, 13]
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from typing import Any, Callable

from grokscope.sweep import _configs as C

__all__ = ["StackChoice", "choose_size", "stack_sizes", "measure_stack", "timed_rate", "MEASURE_STEPS"]

MEASURE_STEPS = 30  # steps timed per size, after one untimed step (the first allocates)


@dataclass(frozen=True)
class StackChoice:
    """Model-steps/s measured at each ensemble size of one shape, and the size chosen."""

    size: int
    rates: dict[int, float]  # members stacked -> model-steps per second

    def to_json(self) -> str:
        return json.dumps({"size": self.size, "model_steps_per_s": {str(k): v for k, v in self.rates.items()}})


def stack_sizes(limit: int) -> list[int]:
    """1, 2, 4, ... below ``limit``, and ``limit`` itself."""
    sizes, k = [], 1
    while k < limit:
        sizes.append(k)
        k *= 2
    return sizes + [max(1, limit)]


def choose_size(model_steps_per_s: dict[int, float]) -> int:
    """The size with the most model-steps per second; the larger one on a tie."""
    return max(model_steps_per_s, key=lambda k: (model_steps_per_s[k], k))


def timed_rate(cfg: dict[str, Any], k: int, steps: int = MEASURE_STEPS) -> float:
    """Model-steps/s of ``k`` copies of the config's first member, trained ``steps`` steps, not stored."""
    from grokscope.config import RunConfig
    from grokscope.train import train

    c = copy.deepcopy(cfg)
    for key in C.LIST_KEYS:
        try:
            v = C.get_key(c, key)
        except KeyError:  # a task key the config does not set
            continue
        if isinstance(v, list):
            C.set_key(c, key, [v[0]] * k, "measure")
    C.set_key(c, C.N_MEMBERS_KEY, k, "measure")
    C.set_key(c, C.SEEDS_KEY, list(range(k)), "measure")
    for key, value in (("train.steps", steps + 1), ("log.dense_until", 0), ("log.n_log", 2), ("log.n_checkpoints", 0),
                       ("train.retire_window", 0), ("train.retire_frac", 0.0), ("train.retire_stall_window", 0),
                       ("train.stop_after_grok", False)):
        C.set_key(c, key, value, "measure")
    t0 = time.perf_counter()
    result = train(RunConfig.from_dict(c), store=None)
    rate = result.summary.get("steps_per_s") or steps / (time.perf_counter() - t0)
    return k * float(rate)


def measure_stack(cfg: dict[str, Any], limit: int, *, steps: int = MEASURE_STEPS,
                  rate: Callable[[dict[str, Any], int, int], float] = timed_rate) -> StackChoice:
    """Time each of :func:`stack_sizes` (``limit``) and choose; ``rate(cfg, k, steps)`` gives model-steps/s."""
    rates = {k: float(rate(cfg, k, steps)) for k in stack_sizes(limit)}
    return StackChoice(size=choose_size(rates), rates=rates)
