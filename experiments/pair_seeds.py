"""PAIR's modular-addition model over many seeds: when does test loss fall below 0.1? (issue 15)

Trains the `pair-mod67-notebook` preset (PAIR's notebook setup, 16 seeds as one ensemble) or reads
a stored run, and prints the median and quartiles of each member's first evaluated step with test
loss (plain cross-entropy) below 0.1, and how many got there within the budget, beside the same
statistic of PAIR's published sweep (``PAIR_SWEEP``, computed from its CSV by ``--pair-csv``).

    .venv/bin/python experiments/pair_seeds.py [--run RUN [RUN ...] --store PATH] [--set key=value ...]
    .venv/bin/python experiments/pair_seeds.py --pair-csv PATH   # PAIR's own sweep, the same statistic
    .venv/bin/python experiments/pair_seeds.py --run RUN --store DB --pair-csv PATH   # + early losses vs PAIR's

With both ``--run`` and ``--pair-csv`` it also compares the run's train and test losses at steps
0, 1,000, 2,000, 10,000 and 20,000 (those the run reached; each member's evaluation nearest to the
step) with the 450 models of PAIR's sweep there: medians and a two-sided Mann-Whitney p-value. The
first 2,000 steps are a fingerprint of the setup that costs 2,000 steps instead of 50,000 (issue 15:
the split, the loss scale and the init each move them). PAIR's logged test loss is one update later
than its train loss (the notebook evaluates after ``update``): at step 0 that makes its test loss
~0.01 lower than its train loss, so compare train losses there.

``--dft`` adds PAIR's fingerprint of the final weights (their ``mod-bot/seeds/parse.js``): per member,
at the run's last checkpoint, the largest |coefficient| of each neuron's input map ``W_E·W_in`` in the
orthonormal Fourier basis (``dft_max.max_val``; the notebook's basis is ``grokscope.analysis``'s), the
neurons above 10 and the distinct dominant frequencies among them; ``--pair-hypers`` reads the same
from PAIR's ``data__hypers_mlp_modular_addition_sweep.csv`` (``freqs``, ``non_freqs``).

``--pair-csv`` reads PAIR's published sweep (PAIR-code/ai-explorables,
``source/grokking/mod-bot/seeds/data__allmetrics_mlp_modular_addition_sweep.csv``: 450 models, losses
every 1,000 steps to 50,000, in their class-averaged units: cross-entropy / 67) and prints the same
statistic at the same threshold in nats per example. grokscope does not ship that file.

``--save-filter ACC`` (default 0.95; 0 turns it off) applies the notebook's save cell to a run:
``if all_metrics[-1]['eval_acc'] > .95 or True:`` saves a model only when its final test accuracy
exceeds 0.95 (``or True`` disables the condition in the published notebook). Every statistic is then
printed for the members that cell would have saved, beside the run's whole: how many, when they reach the
threshold (against PAIR's crossings, Mann-Whitney), and the early losses. Both sides are read on
PAIR's grid (every 1,000 steps), and both print the *tail*: of the members not below the threshold
at step 45,000, how many get there by 50,000. A sample cut at the budget by such a filter has nearly
all of them get there; an uncut one, where some seeds never generalize, does not.
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


def on_grid(steps: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """``values [n_steps, model]`` at each step of ``grid`` (each member's evaluation nearest to it)."""
    return values[np.abs(steps[:, None] - grid[None, :]).argmin(0)]


# PAIR's sweep as `--pair-csv` reads it (PAIR-code/ai-explorables at 64ac8eb8, source/grokking/mod-bot/
# seeds/data__allmetrics_mlp_modular_addition_sweep.csv), printed beside a run's when that file is absent.
PAIR_SWEEP = {"models": 450, "reached": "449/450", "quartiles_25_50_75": [20000.0, 28000.0, 37000.0],
              "tail": "35/36 of those not below 0.1 at step 45000 get there by 50000",
              "final_test_loss_max": 0.166093, "resolution_steps": 1000,
              "note": "only models whose final test accuracy exceeded 0.95 (docs/presets.md, fourth pass)"}
TAIL = (45000, 50000)  # the tail statistic's window: the last 5,000 steps of the notebook's 50,000


def crossing_summary(steps: np.ndarray, test: np.ndarray, threshold: float) -> dict:
    """First step below ``threshold`` per member of ``test [n_steps, model]``, its quartiles, and the tail."""
    at = first_below(steps, test, threshold)
    hit = at[at >= 0]
    start, end = TAIL
    at_risk = (at < 0) | (at > start)  # not below the threshold by `start`
    return {"reached": f"{hit.size}/{at.size}",
            "quartiles_25_50_75": np.percentile(hit, [25, 50, 75]).tolist() if hit.size else None,
            "tail": f"{int((at_risk & (at >= 0) & (at <= end)).sum())}/{int(at_risk.sum())} of those not below "
                    f"{threshold} at step {start} get there by {end}",
            "final_test_loss_max": float(np.nanmax(test[-1])) if test.shape[1] else None, "steps": at.tolist()}


def pair_sweep(path: str, threshold: float) -> dict:
    """The statistic on PAIR's sweep: its eval loss is cross-entropy / 67, logged every 1,000 steps."""
    steps, _, test = pair_losses(path)
    out = crossing_summary(steps, test, threshold)
    return {"source": path, "models": test.shape[1], **out, "resolution_steps": 1000}


def pair_losses(path: str, n_classes: int = 67) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PAIR's sweep as ``(steps [n_steps], train [n_steps, model], test [n_steps, model])`` in nats per example."""
    import csv

    with open(path, newline="") as f:
        rows = [(int(r["modelIndex"]), int(r["step"]), float(r["train_loss"]), float(r["eval_loss"]))
                for r in csv.DictReader(f)]
    models = sorted({r[0] for r in rows})
    steps = sorted({r[1] for r in rows})
    train = np.full((len(steps), len(models)), np.nan)
    test = np.full_like(train, np.nan)
    for m, k, tr, ev in rows:
        train[steps.index(k), models.index(m)] = tr * n_classes
        test[steps.index(k), models.index(m)] = ev * n_classes
    return np.array(steps) * 1000, train, test


def pooled_metrics(store: Store, runs: list[int], names: list[str]) -> tuple[np.ndarray, dict]:
    """The runs' metrics with their members side by side (``[n_steps, model]``); they must share their steps."""
    steps, m = store.metrics(runs[0], names)
    for r in runs[1:]:
        s, mr = store.metrics(r, names)
        if not np.array_equal(s, steps):
            raise SystemExit(f"run {r} was evaluated at other steps than run {runs[0]}: pool runs of one config")
        m = {k: np.concatenate([m[k], mr[k]], axis=1) for k in names}
    return steps, m


def compare_early(steps: np.ndarray, train: np.ndarray, test: np.ndarray, pair: tuple,
                  at: tuple[int, ...] = (0, 1000, 2000, 10000, 20000)) -> list[dict]:
    """A run's losses (``[n_steps, model]``) near each step of ``at`` it reached, against PAIR's sweep
    there (``pair``: :func:`pair_losses`'s arrays)."""
    from scipy.stats import mannwhitneyu

    p_steps, p_train, p_test = pair
    out = []
    for s in (s for s in at if s <= steps[-1]):
        i, j = int(np.abs(steps - s).argmin()), int(np.abs(p_steps - s).argmin())
        for name, ours, theirs in (("train_loss", train[i], p_train[j]), ("test_loss", test[i], p_test[j])):
            out.append({"metric": name, "step": int(steps[i]), "median": float(np.median(ours)),
                        "pair_median": float(np.median(theirs)), "pair_step": int(p_steps[j]),
                        "mann_whitney_p": float(mannwhitneyu(ours, theirs).pvalue)})
    return out


DFT_MIN = 10  # parse.js: a neuron counts towards a frequency when its max_val exceeds this


def save_filter(steps: np.ndarray, m: dict, acc: float, threshold: float, pair: tuple | None) -> dict:
    """The run read as PAIR's sweep would have kept it: only members whose final test accuracy exceeds ``acc``."""
    from scipy.stats import mannwhitneyu

    saved = m["test_acc"][-1] > acc  # [model]: the notebook's save cell, on the last evaluation
    grid = np.union1d(np.arange(0, int(steps[-1]) + 1, 1000), steps[-1:])  # PAIR's steps, and the last
    test = on_grid(steps, m["test_loss"], grid)  # [n_grid, model], PAIR's logging resolution
    out = {"final_test_acc_above": acc, "saved": f"{int(saved.sum())}/{saved.size}",
           "all_members": crossing_summary(grid, test, threshold),
           "saved_members": crossing_summary(grid, test[:, saved], threshold)}
    if pair is not None and saved.any():
        p_steps, _, p_test = pair
        ours, theirs = first_below(grid, test[:, saved], threshold), first_below(p_steps, p_test, threshold)
        ours, theirs = ours[ours >= 0], theirs[theirs >= 0]
        out["saved_crossing_vs_pair_mann_whitney_p"] = float(mannwhitneyu(ours, theirs).pvalue) if ours.size else None
        out["saved_early_vs_pair"] = compare_early(steps, m["train_loss"][:, saved], m["test_loss"][:, saved], pair)
    return out


def dft_fingerprint(store: Store, run: int) -> list[dict]:
    """Per member of ``run`` at its last checkpoint: neurons with max |DFT coefficient| > 10 and their frequencies."""
    from grokscope.analysis import dft, load_run

    data = load_run(store, run)
    step = data.steps[-1]
    w_in = data.anatomy(data.load(step)).neuron_in  # [model, p, neuron]: W_E·W_in
    coef = dft(w_in.double(), dim=1).abs()  # [model, p_component, neuron]
    max_val, comp = coef.max(1)  # [model, neuron]
    freq = (comp + 1) // 2  # components: const, cos 1, sin 1, cos 2, ...
    out = []
    for m in range(coef.shape[0]):
        big = max_val[m] > DFT_MIN
        out.append({"member": m, "step": step, "neurons_above": int(big.sum()), "neurons": int(big.numel()),
                    "freqs": sorted({int(f) for f in freq[m][big]}), "max_val_median": float(max_val[m].median())})
    return out


def pair_fingerprint(path: str) -> dict:
    """PAIR's sweep: how many models have each number of frequencies and of neurons at or below max_val 10."""
    import collections
    import csv

    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    n_freqs = collections.Counter(len(r["freqs"].split()) for r in rows)
    non = collections.Counter(int(r["non_freqs"]) for r in rows)
    return {"models": len(rows), "n_freqs": dict(sorted(n_freqs.items())), "neurons_at_most_10": dict(sorted(non.items()))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=int, nargs="+", default=None,
                    help="stored runs to read instead of training (several: their members pooled)")
    ap.add_argument("--store", default=None)
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    ap.add_argument("--threshold", type=float, default=0.1)
    ap.add_argument("--pair-csv", default=None, help="PAIR's sweep metrics CSV instead of a grokscope run")
    ap.add_argument("--dft", action="store_true", help="PAIR's final-weight fingerprint of each member")
    ap.add_argument("--pair-hypers", default=None, help="PAIR's sweep hypers CSV: its fingerprint")
    ap.add_argument("--save-filter", type=float, default=0.95, metavar="ACC",
                    help="keep only members whose final test accuracy exceeds ACC (the notebook's save cell: 0.95)")
    a = ap.parse_args()
    if a.pair_hypers:
        print(json.dumps(pair_fingerprint(a.pair_hypers)))
        if a.run is None:
            return
    if a.pair_csv and a.run is None:
        print(json.dumps(pair_sweep(a.pair_csv, a.threshold)))
        return
    store = Store(a.store) if a.store else Store()
    runs = a.run or [train(load_config(preset="pair-mod67-notebook", overrides=a.overrides), store=store).run_id]
    steps, m = pooled_metrics(store, runs, ["train_loss", "test_loss", "test_acc"])
    out = {"runs": runs, **crossing_summary(steps, m["test_loss"], a.threshold)}  # at every evaluation
    pair = pair_losses(a.pair_csv) if a.pair_csv else None  # read once, used by both comparisons
    if pair is not None:
        out["early_vs_pair"] = compare_early(steps, m["train_loss"], m["test_loss"], pair)
    if not a.pair_csv and a.threshold == 0.1:
        out["pair_sweep"] = PAIR_SWEEP
    if a.save_filter > 0:
        out["save_filter"] = save_filter(steps, m, a.save_filter, a.threshold, pair)
    if a.dft:
        out["dft"] = [row | {"run": r} for r in runs for row in dft_fingerprint(store, r)]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
