"""``grokscope scaling fit``: a scaling law fitted to a CSV of runs or to a stored sweep.

    grokscope scaling fit runs.csv --law chinchilla --n "Model Size" --flops "Training FLOP" --loss loss \\
        --exclude-highest 5 [--n-boot 200] [--json] [--out fit.png]
    grokscope scaling fit runs.csv --law power|offset|broken --n COL --loss COL
    grokscope scaling fit SWEEP --n model.d_hidden [--metric test_loss] [--where KEY=VALUE] [--store PATH]

prints every fitted parameter with its bootstrap interval (and, for Chinchilla's L(N, D), the
compute-optimal exponents a and b with theirs) and draws the fit to a PNG. A thin layer over
``grokscope.scaling`` and ``grokscope.fit`` (docs/scaling.md). Bad input — a missing file or
column, a cell that is not a number, a non-positive N, D or loss, fewer points than the law has
parameters, a sweep with one value of the fitted key — is one ``ConfigError`` line and exit code
2; the command only reads the store, and refuses a store path where there is none.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from grokscope.cli._common import STORE_OPT
from grokscope.errors import ConfigError
from grokscope.validate import check_choice, check_int, check_number, check_seed

app = typer.Typer(help="Scaling laws: power laws and Chinchilla's L(N, D) fitted to runs, with bootstrap intervals.",
                  no_args_is_help=True)

_LAWS = ("power", "offset", "broken", "chinchilla")


@app.callback()
def _group() -> None:
    """Scaling-law fits, the way the field does them (Hoffmann et al. 2022; Besiroglu et al. 2024)."""


def _csv_points(path: str, law: str, n: str, d: str | None, flops: str | None, loss: str):
    from grokscope.scaling import load_csv

    cols = [n, loss] + ([d] if d else []) + ([flops] if flops else [])
    data = load_csv(path, cols)
    if law != "chinchilla":
        return data[n], data[loss], None, None, {"n": n, "loss": loss}
    if flops:                                    # D = C / (6 N): Epoch's CSV gives FLOP, not tokens
        from grokscope.fit import check_positive

        nn = check_positive(data[n], n)
        tokens = check_positive(data[flops], flops) / (6.0 * nn)
        return nn, data[loss], tokens, None, {"n": n, "loss": loss, "d": f"D = {flops} / (6 {n})"}
    return data[n], data[loss], data[d], None, {"n": n, "loss": loss, "d": d}


def _sweep_points(sweep: str, store_path, law: str, n: str, d: str | None, metric: str, where: list[str] | None):
    from grokscope.cli.sweep import parse_where
    from grokscope.scaling import sweep_points
    from grokscope.store import Store, default_store_path

    fixed = parse_where(where)
    path = Path(store_path).expanduser() if store_path is not None else default_store_path()
    if not path.is_file():
        raise ConfigError(f"--store {str(path)!r}: no run store there (and {sweep!r} is not a CSV file)")
    keys = [n] + ([d] if law == "chinchilla" else [])
    with Store(path) as store:  # closed on errors too: a reader leaves no -wal/-shm files behind
        pts = sweep_points(store, sweep, keys, metric, fixed)
    names = {"n": n, "loss": f"final {metric}", **({"d": d} if law == "chinchilla" else {})}
    return pts.values[n], pts.loss, pts.values[d] if d else None, pts.seeds, names


def _parse_budgets(budgets: str | None) -> list[float] | None:
    if budgets is None:
        return None
    try:
        out = [float(b) for b in budgets.split(",")]
    except ValueError:
        raise ConfigError(f"--budgets={budgets!r}: must be FLOP counts separated by commas, e.g. 6e18,1e19,3e19") from None
    if len(out) < 3 or not all(b > 0 for b in out):
        raise ConfigError(f"--budgets={budgets!r}: must be at least 3 positive FLOP counts")
    return out


@app.command("fit")
def fit_cmd(
    source: str = typer.Argument(..., help="A CSV file of runs (header row), or a stored sweep's name or id."),
    law: str = typer.Option("offset", "--law", help="power (a N^-g), offset (a N^-g + c), broken, chinchilla."),
    n: str = typer.Option(..., "--n", help="Column (CSV) or swept key (sweep) of the size N."),
    d: str | None = typer.Option(None, "--d", help="chinchilla: column or swept key of the training tokens D."),
    flops: str | None = typer.Option(None, "--flops", help="chinchilla, CSV: a column of training FLOP C; D = C/(6N)."),
    loss: str = typer.Option("loss", "--loss", help="CSV: the column of the final loss."),
    metric: str = typer.Option("test_loss", "--metric", help="Sweep: the metric whose final value is fitted."),
    where: list[str] | None = typer.Option(None, "--where", help="Sweep: fix another swept key, KEY=VALUE."),
    exclude_highest: int = typer.Option(0, "--exclude-highest", help="chinchilla: leave out the K highest losses "
                                        "(Epoch leaves out 5 on Chinchilla's data)."),
    starts: int = typer.Option(64, "--starts", help="chinchilla: L-BFGS starts, the best of Hoffmann et al.'s "
                               "4,500-point grid by loss; 0 = all 4,500 (their protocol, minutes)."),
    budgets: str | None = typer.Option(None, "--budgets", help="chinchilla: FLOP budgets, comma-separated "
                                       "(e.g. 6e18,1e19,3e19): adds the IsoFLOP-profile estimate (Approach 2)."),
    n_boot: int = typer.Option(200, "--n-boot", help="Bootstrap resamples (points; seeds for a sweep's 1-D fit)."),
    level: float = typer.Option(0.95, "--level", help="Coverage of the percentile intervals."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
    out: Path | None = typer.Option(None, "--out", help="PNG of the fit (default scaling-fit-SOURCE-LAW.png)."),
    as_json: bool = typer.Option(False, "--json", help="Print the fit as JSON."),
    store: Path | None = STORE_OPT,
) -> None:
    """Fit a scaling law to a CSV of runs or a stored sweep: every parameter with its 95% interval, and a figure."""
    check_choice(law, "--law", _LAWS)
    check_int(n_boot, "--n-boot", 0)
    check_int(exclude_highest, "--exclude-highest", 0)
    check_number(level, "--level", 0.0, 1.0, lo_open=True, hi_open=True)
    check_seed(seed, "--seed")
    check_int(starts, "--starts", 0)
    budget_list = _parse_budgets(budgets)
    if law == "chinchilla" and (d is None) == (flops is None):
        raise ConfigError("--law chinchilla: give exactly one of --d (tokens) and --flops (FLOP; D = C/(6N))")
    if law != "chinchilla" and (d or flops):
        raise ConfigError(f"--d/--flops: only --law chinchilla fits a second variable (got --law {law})")
    if law != "chinchilla" and (exclude_highest or budgets):
        raise ConfigError(f"--exclude-highest/--budgets: only with --law chinchilla (got --law {law})")
    from grokscope.scaling import fit_figure, fit_points

    is_csv = source.lower().endswith(".csv") or Path(source).is_file()
    if is_csv:
        x, y, dd, groups, names = _csv_points(source, law, n, d, flops, loss)
        label = Path(source).name
    else:
        if flops:
            raise ConfigError("--flops: only for a CSV source; for a sweep give --d KEY")
        x, y, dd, groups, names = _sweep_points(source, store, law, n, d, metric, where)
        label = f"sweep {source!r}"
    sf = fit_points(law, x, y, dd, groups=groups, n_boot=n_boot, level=level, seed=seed,
                    exclude_highest=exclude_highest, n_starts=starts or None, budgets=budget_list, names=names,
                    source=label)
    path = out or Path(f"scaling-fit-{Path(source).stem if is_csv else source}-{law}.png")
    fig = fit_figure(sf)
    fig.savefig(path)
    if as_json:
        typer.echo(json.dumps({**sf.to_dict(), "figure": str(path)}, indent=1))
        return
    for line in sf.lines():
        typer.echo(line)
    typer.echo(f"wrote {path}")
