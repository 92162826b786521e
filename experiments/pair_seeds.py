"""PAIR's modular-addition model over many seeds: when does test loss fall below 0.1? (issue 15)

Trains the `pair-mod67-notebook` preset (PAIR's notebook setup, 16 seeds as one ensemble) or reads
a stored run, and prints the median and quartiles of each member's first evaluated step with test
loss (plain cross-entropy) below 0.1, and how many got there within the budget.

    .venv/bin/python experiments/pair_seeds.py [--run RUN --store PATH] [--set key=value ...]
    .venv/bin/python experiments/pair_seeds.py --pair-csv PATH   # PAIR's own sweep, the same statistic

``--pair-csv`` reads PAIR's published sweep (PAIR-code/ai-explorables,
``source/grokking/mod-bot/seeds/data__allmetrics_mlp_modular_addition_sweep.csv``: 450 models, losses
every 1,000 steps to 50,000, in their class-averaged units: cross-entropy / 67) and prints the same
statistic at the same threshold in nats per example. grokscope does not ship that file.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from grokscope import load_config
from grokscope.store import Store
from grokscope.train import train


def first_below(steps: np.ndarray, loss: np.ndarray, threshold: float) -> np.ndarray:
    """Per member, the first step with ``loss < threshold`` (-1: never); ``loss [n_steps, model]``."""
    hit = np.nan_to_num(loss, nan=np.inf) < threshold
    return np.where(hit.any(0), steps[hit.argmax(0)], -1)


def pair_sweep(path: str, threshold: float, n_classes: int = 67) -> dict:
    """The statistic on PAIR's sweep: its eval loss is cross-entropy / n_classes, logged every 1,000 steps."""
    import csv

    by_model: dict[int, list[tuple[int, float]]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            by_model.setdefault(int(row["modelIndex"]), []).append((int(row["step"]) * 1000, float(row["eval_loss"])))
    at = np.array([next((s for s, v in sorted(rows) if v * n_classes < threshold), -1) for rows in by_model.values()])
    hit = at[at >= 0]
    return {"source": path, "models": int(at.size), "reached": f"{hit.size}/{at.size}",
            "quartiles_25_50_75": np.percentile(hit, [25, 50, 75]).tolist() if hit.size else None,
            "resolution_steps": 1000}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=int, default=None, help="a stored run to read instead of training")
    ap.add_argument("--store", default=None)
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    ap.add_argument("--threshold", type=float, default=0.1)
    ap.add_argument("--pair-csv", default=None, help="PAIR's sweep metrics CSV instead of a grokscope run")
    a = ap.parse_args()
    if a.pair_csv:
        print(json.dumps(pair_sweep(a.pair_csv, a.threshold)))
        return
    store = Store(a.store) if a.store else Store()
    run = a.run if a.run is not None else train(load_config(preset="pair-mod67-notebook", overrides=a.overrides),
                                                 store=store).run_id
    steps, m = store.metrics(run, ["test_loss"])
    at = first_below(steps, m["test_loss"], a.threshold)
    hit = at[at >= 0]
    q = np.percentile(hit, [25, 50, 75]).tolist() if hit.size else None
    print(json.dumps({"run": run, "reached": f"{hit.size}/{at.size}", "quartiles_25_50_75": q,
                      "steps": at.tolist()}))


if __name__ == "__main__":
    main()
