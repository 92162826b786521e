"""``grokscope warn RUN|SWEEP``: per member, will it generalize within its budget, and when?

A thin layer over ``grokscope.warn``: read the members (a run id, or a sweep's name), check the
window, predict (cross-fitted, or fitted on ``--train``) or score (``--score``), print. The science
is in docs/early-warning.md.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer

from grokscope.cli._common import STORE_OPT, console, open_store

app = typer.Typer()


def _fmt(v, spec: str = ",.0f") -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


@app.command()
def warn(target: str = typer.Argument(..., help="A run id, or a sweep's name (trained with train.signals=true)."),
         window: int | None = typer.Option(None, "--window", "-w",
                                              help="W: predict from the evaluations at steps <= W (default: 10% of the shortest budget)."),
         train_on: str | None = typer.Option(None, "--train", help="Fit the predictor on this run or sweep instead of cross-fitting."),
         features: str = typer.Option("signals", "--features", help="Feature set: signals, or a baseline: train_loss, weight_norm, train_frac, setup."),
         do_score: bool = typer.Option(False, "--score", help="With --train: score the predictor and the baselines on TARGET."),
         seed: int = typer.Option(0, "--seed", help="Seed of the folds and bootstrap refits."),
         as_json: bool = typer.Option(False, "--json", help="Print JSON."),
         store: Path | None = STORE_OPT):
    """Early warning (after Notsawo et al. 2023, "Predicting grokking long before it happens"): from the signals
    of a member's first W steps, the probability that it generalizes (test accuracy >= 99%) within its budget,
    and the step at which it will, each with a 90% bootstrap interval."""
    from grokscope.errors import ConfigError
    from grokscope.validate import check_choice
    from grokscope.warn import FEATURE_SETS, check_window, load_members, predict, score

    check_choice(features, "--features", tuple(FEATURE_SETS))
    if do_score and train_on is None:
        raise ConfigError("--score needs --train REF: the predictor is fitted on REF and scored on TARGET")
    s = open_store(store, must_exist=True)
    what = f"run {target}" if target.strip().isdigit() else f"sweep {target!r}"
    members = load_members(s, target)
    ref = load_members(s, train_on) if train_on is not None else None
    if window is None:
        window = max(1, min(m.budget for m in members) // 10) if members else 1
    check_window(members, window, what)
    if ref is not None:
        check_window(ref, window, f"run {train_on}" if train_on.strip().isdigit() else f"sweep {train_on!r}")
    if do_score:
        scores = [score(ref, members, window, features=f, seed=seed) for f in FEATURE_SETS]
        if as_json:
            typer.echo(json.dumps({"train": train_on, "test": target, "window": window,
                                   "scores": [x.to_dict() for x in scores]}, indent=1))
            return
        _print_scores(scores, f"fitted on {train_on}, scored on {what} at W = {window:,} steps")
        return
    preds = predict(members, window, ref, features=features, seed=seed)
    fitted = f"fitted on {train_on}" if train_on else "cross-fitted"
    if as_json:
        typer.echo(json.dumps({"target": target, "window": window, "features": features, "fitted_on": fitted,
                               "predictions": [p.to_dict() for p in preds]}, indent=1))
        return
    from rich.table import Table

    t = Table(title=f"{what}: early warning at W = {window:,} steps ({features}; {fitted}; 90% intervals)")
    for col in ("run.member", "P(gen)", "interval", "pred. step", "interval", "actual", "budget"):
        t.add_column(col, justify="right")
    for p in preds:
        name = f"{p.run_id}.{p.member}"
        if p.known:
            t.add_row(name, "known", "-", "-", "-", _fmt(p.actual_gen_step), _fmt(p.budget))
            continue
        t.add_row(name, f"{p.p:.2f}", f"{p.p_lo:.2f}-{p.p_hi:.2f}", _fmt(p.step),
                  f"{_fmt(p.step_lo)}-{_fmt(p.step_hi)}", _fmt(p.actual_gen_step), _fmt(p.budget))
    console().print(t)


def _print_scores(scores, title: str) -> None:
    from rich.table import Table

    t = Table(title=title)
    for col in ("features", "n train", "n test", "known at W", "test gen.", "ROC AUC", "90% interval", "accuracy",
                "lead time", "Spearman"):
        t.add_column(col, justify="right" if col != "features" else "left")
    for x in scores:
        t.add_row(x.features, str(x.n_train), str(x.n_test), str(x.n_known), str(x.n_test_pos), _fmt(x.auc, ".2f"),
                  f"{_fmt(x.auc_lo, '.2f')}-{_fmt(x.auc_hi, '.2f')}", _fmt(x.accuracy, ".2f"),
                  _fmt(x.lead_time), f"{_fmt(x.spearman, '.2f')} (n={x.spearman_n})")
    console().print(t)
