"""The data sizes and grokking times of a sweep's members, as ``critical_data_size`` takes them."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from grokscope.errors import AnalysisError
from grokscope.sweep._configs import STEPS_KEY, get_key
from grokscope.sweep._tables import get_sweep, sweep_members

# Swept keys that are a training-set size, in the order they are looked for.
DATA_KEYS = ("task.train_count", "task.train_frac", "task.n_train")


def critical_data(store, sweep: str, key: str | None = None, where: dict[str, Any] | None = None,
                  time_key: str = "gen_step") -> tuple[np.ndarray, np.ndarray, float | None, str]:
    """``(data sizes, times, budget, key)`` of a sweep's trained members, for ``critical_data_size``.

    ``key`` is the swept data-size key (default: the first of ``DATA_KEYS`` the sweep varies);
    every other key the sweep varies must be fixed by ``where``. A member that diverged or never
    reached ``time_key`` gets time ``inf``; ``budget`` is the sweep's step budget.
    """
    rec = get_sweep(store, sweep)
    members = [m for m in sweep_members(store, sweep) if m["run_id"] is not None]
    if not members:
        raise AnalysisError(f"sweep {sweep!r}: no trained members yet; run `grokscope sweep` first")
    keys = list(members[0]["values"])
    if key is None:
        found = [k for k in DATA_KEYS if k in keys]
        if not found:
            raise AnalysisError(f"sweep {sweep!r} sweeps {', '.join(keys)}; none is a data size "
                                f"({', '.join(DATA_KEYS)}); pass --key")
        key = found[0]
    if key not in keys:
        raise AnalysisError(f"--key {key!r}: not swept by {sweep!r} (swept: {', '.join(keys)})")
    where = where or {}
    others = [k for k in keys if k != key and k not in where]
    multi = [k for k in others if len({json.dumps(m["values"][k]) for m in members}) > 1]
    if multi:
        raise AnalysisError(f"sweep {sweep!r} also varies {', '.join(multi)}; fix each with --where KEY=VALUE")
    sel = [m for m in members if all(m["values"][k] == v for k, v in where.items())]
    if not sel:
        raise AnalysisError(f"no member of sweep {sweep!r} has {where}")
    x = np.array([float(m["values"][key]) for m in sel])
    t = np.array([np.inf if m.get("diverged") or m.get(time_key) is None else float(m[time_key]) for m in sel])
    budget = rec.spec.get("steps")
    if budget is None:
        try:
            budget = get_key(rec.spec["base_config"], STEPS_KEY)
        except (KeyError, TypeError):
            budget = None
    return x, t, budget, key
