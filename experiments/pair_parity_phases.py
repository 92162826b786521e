"""PAIR's sparse-parity sweep beside ours: the outcome of every member, counted per width (issue 14).

    .venv/bin/python experiments/pair_parity_phases.py --pair-csv PATH          # PAIR's own sweep
    .venv/bin/python experiments/pair_parity_phases.py --store DB [DB ...]      # ours (docs/sweeps.md)
    .venv/bin/python experiments/pair_parity_phases.py --store DB --sweep NAME [NAME ...]   # other sweeps

``--pair-csv`` reads PAIR's published per-model table (PAIR-code/ai-explorables,
``source/grokking/sweep-sparse-parity/data__hypers_sparse_parity_v4.csv``: 1,125 models, with
``train_size``, ``hidden_size``, ``weight_decay``, ``seed`` and each model's ``minTrainLoss``,
``minEvalLoss`` and ``maxRatio`` = max over logged steps of test loss / train loss) and sorts each
model by the rule the explorable colours its sweep chart with (``sweep-sparse-parity/init.js``,
default slider values): train loss never below 1e-5 -> "high train loss"; test loss never below
1e-5 -> "high test loss"; else max ratio below 5e4 -> "train/test drop together", otherwise
"grokking". grokscope does not ship that file.

``--store`` counts the phases of the members of the two stored sweeps that make up our
``sweep-pair-parity`` with retirement (``pair-parity-w16-retire`` and ``pair-parity-retire-w32-258``,
the specs in benchmarks/), or of the sweeps named by ``--sweep``, by the trainer's accuracy rule
(``grokscope.analysis._phases``).
"""

from __future__ import annotations

import argparse
import collections
import csv

PAIR_LEVEL = 1e-5  # the explorable's default "min eval loss" slider, also applied to train loss
PAIR_RATIO = 5e4  # its default "max ratio" slider
PAIR_ORDER = ("high train loss", "high test loss", "train/test drop together", "grokking")
OUR_SWEEPS = ("pair-parity-w16-retire", "pair-parity-retire-w32-258")


def pair_outcome(row: dict) -> str:
    if float(row["minTrainLoss"]) > PAIR_LEVEL:
        return "high train loss"
    if float(row["minEvalLoss"]) > PAIR_LEVEL:
        return "high test loss"
    return "train/test drop together" if float(row["maxRatio"]) < PAIR_RATIO else "grokking"


def _table(counts: dict, order, title: str) -> None:
    print(title)
    print(f"{'':>10} " + " ".join(f"{o:>24}" for o in order))
    for key in sorted(counts):
        print(f"{key:>10} " + " ".join(f"{counts[key].get(o, 0):>24}" for o in order))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pair-csv", help="PAIR's data__hypers_sparse_parity_v4.csv")
    ap.add_argument("--store", nargs="+", help="the store(s) holding our two retire sweeps")
    ap.add_argument("--sweep", nargs="+", default=list(OUR_SWEEPS), help="the sweeps to count (default: those two)")
    args = ap.parse_args()
    if not (args.pair_csv or args.store):
        ap.error("give --pair-csv, --store or both")
    if args.pair_csv:
        rows = list(csv.DictReader(open(args.pair_csv, newline="")))
        for key in ("hidden_size", "weight_decay"):
            counts = collections.defaultdict(collections.Counter)
            for r in rows:
                counts[float(r[key]) if key == "weight_decay" else int(r[key])][pair_outcome(r)] += 1
            _table(counts, PAIR_ORDER, f"PAIR's sweep ({len(rows)} models), by {key}, by the explorable's rule")
    if args.store:
        from grokscope.analysis._phasemap import member_phase
        from grokscope.store import Store
        from grokscope.sweep import list_sweeps, sweep_members

        members = []
        for path in args.store:
            store = Store(path)
            try:
                names = {sw.name for sw in list_sweeps(store)}
                members += [m for name in args.sweep if name in names for m in sweep_members(store, name)]
            finally:
                store.close()
        order = ("confusion", "memorization", "comprehension", "grokking", "diverged")
        for key in ("model.width", "optim.weight_decay"):
            counts = collections.defaultdict(collections.Counter)
            for m in members:
                value = m["values"].get(key, 16)  # the width-16 spec sets its width, it does not sweep it
                counts[round(value, 4) if isinstance(value, float) else value][member_phase(m)] += 1
            _table(counts, order, f"grokscope's sweep ({len(members)} members), by {key}, by the trainer's rule")


if __name__ == "__main__":
    main()
