"""Grokking accelerators compared in one ensemble, with learning-rate controls (issue 15).

Arms, each with the same seeds, all on the `demo` setup (PAIR MLP, a + b mod 41, AdamW):
baseline; Grokfast's EMA filter (Lee et al. 2024: alpha 0.98, lambda 2) and its MA filter
(window 100, lambda 5); ⊥Grad (Prieto et al. 2025); gradient normalization to norm 1; and two
controls for the objection that the filters only raise the step size: the baseline at lr x (1 +
lambda) of each filter (x3 for the EMA, x6 for the MA). Per member: the first evaluated step with
test accuracy >= 95%. Every setting but the arm is shared, so the arms differ only in their
per-member keys (optim.lr, grokfast_lambda, grokfast_ma_lambda, ortho_grad, normalize_grad).

    .venv/bin/python experiments/accelerators.py [--seeds 4] [--steps 4000] [--store PATH] [--json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from grokscope import load_config
from grokscope.analysis import first_step_at_or_above
from grokscope.store import Store
from grokscope.train import train

LR = 1e-2  # the demo preset's
ARMS = {  # name -> per-member values
    "baseline": {},
    "EMA (α 0.98, λ 2)": {"optim.grokfast_lambda": 2.0},
    "MA (w 100, λ 5)": {"optim.grokfast_ma_lambda": 5.0},
    "⊥Grad": {"optim.ortho_grad": 1.0},
    "grad norm → 1": {"optim.normalize_grad": 1.0},
    "control: lr × 3": {"optim.lr": 3 * LR},
    "control: lr × 6": {"optim.lr": 6 * LR},
}
KEYS = ("optim.lr", "optim.grokfast_lambda", "optim.grokfast_ma_lambda", "optim.ortho_grad", "optim.normalize_grad")
DEFAULTS = {"optim.lr": LR, "optim.grokfast_lambda": 0.0, "optim.grokfast_ma_lambda": 0.0, "optim.ortho_grad": 0.0,
            "optim.normalize_grad": 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--store", default=None)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    arms = [name for name in ARMS for _ in range(a.seeds)]
    values = {k: [ARMS[name].get(k, DEFAULTS[k]) for name in arms] for k in KEYS}
    overrides = [f"n_members={len(arms)}", f"train.steps={a.steps}", "train.stop_after_grok=false",
                 "optim.grokfast_alpha=0.98", "optim.grokfast_ma_window=100",
                 f"member_seeds={[1000 + i % a.seeds for i in range(len(arms))]}",  # the same seeds in every arm
                 *(f"{k}={json.dumps(v)}" for k, v in values.items())]
    result = train(load_config(preset="demo", overrides=overrides), store=Store(a.store) if a.store else None)
    at95 = first_step_at_or_above(result.steps, result.metrics["test_acc"], 0.95)  # [model]
    rows = []
    for name in ARMS:
        s = at95[[i for i, n in enumerate(arms) if n == name]]
        hit = s[s >= 0]
        rows.append({"arm": name, "reached": f"{hit.size}/{s.size}", "steps_to_95": s.tolist(),
                     "median": float(np.median(hit)) if hit.size else None})
    if a.json:
        print(json.dumps({"run_id": result.run_id, "arms": rows}, indent=1))
        return
    base = rows[0]["median"]
    print(f"{'arm':<20} {'reached':>8} {'median steps to 95%':>20} {'vs baseline':>12}   per seed")
    for r in rows:
        ratio = f"{base / r['median']:.2f}x" if r["median"] and base else "-"
        print(f"{r['arm']:<20} {r['reached']:>8} {r['median'] if r['median'] is not None else '-':>20} {ratio:>12}   {r['steps_to_95']}")


if __name__ == "__main__":
    main()
