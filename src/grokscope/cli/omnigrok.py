"""``grokscope omnigrok ...``: Omnigrok's LU mechanism measured (a thin layer over ``grokscope.omnigrok``).

Liu, Michaud & Tegmark 2022, "Omnigrok: Grokking Beyond Algorithmic Data".

    grokscope omnigrok landscape [--alphas 0.1,...] [--sizes 16,...] [--seeds 3] [--steps N] [--set K=V] \
        [--which final|best] [--out DIR] [--json]

trains the (α, N) grid at fixed weight norm as ONE ensemble (``run_landscape``, the preset
``omnigrok-digits-landscape``, nothing stored in the run store), writes ``landscape.json``
(``Landscape.to_dict``), ``lu.png`` (``lu_figure``) and ``contour.png`` (``contour_figure``) into
``--out`` and prints, per N, the Goldilocks point (``goldilocks``) and the test-error map
(``error_map``). ``--from landscape.json`` redraws and re-summarizes a saved landscape without training.

    grokscope omnigrok lag RUN [--train-level 0.99] [--test-level 0.9] [--store PATH] [--json]

reads a stored run's ``train_acc`` and ``test_acc`` and prints, per member, the first evaluated
step of memorization and of generalization and their ratio (``generalization_lag``).

    grokscope omnigrok teacher-student [--weight-decays 0.1,...] [--seeds 2] [--steps N] [--out DIR] [--json]

trains Omnigrok's teacher–student students as one ensemble (``run_teacher_student``), fits the
time to generalize, and the delay after memorizing, against weight decay (``time_law``), and
writes ``teacher_student.json`` and ``time_law.png`` into ``--out``.

Bad input (an init scale ≤ 0, a training-set size larger than the data, an unknown ``--which``
or ``--set`` key, a level outside (0, 1]...) raises one ``ConfigError`` line before any training,
and nothing is written; ``grokscope.cli.main`` prints it and exits with code 2.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import typer

from grokscope.cli._common import STORE_OPT, comma_floats, comma_ints, open_store
from grokscope.errors import ConfigError, StoreError
from grokscope.validate import check_choice, check_int, check_number

app = typer.Typer(help='Omnigrok (Liu, Michaud & Tegmark 2022, "Omnigrok: Grokking Beyond Algorithmic Data"): '
                       'the (α, N) landscape at fixed norm, delayed generalization, teacher–student.',
                  no_args_is_help=True)

_OUT = typer.Option(Path("omnigrok-out"), "--out", help="Directory for the figures and the JSON results.")
_JSON = typer.Option(False, "--json", help="Print the result as JSON instead of tables.")
_SET = typer.Option([], "--set", help="Override a key of the preset omnigrok-digits-landscape: --set threads=1 "
                    "(repeatable).")
_FROM = typer.Option(None, "--from", help="Read a landscape.json written earlier instead of training.")


@app.callback()
def _group() -> None:
    """Omnigrok's LU mechanism, each piece measured by one command."""


def _floats(text: str, key: str) -> tuple[float, ...]:
    return tuple(comma_floats(text, key, "0.5,1,2"))


def _ints(text: str, key: str, lo: int) -> tuple[int, ...]:
    return tuple(comma_ints(text, key, lo, "16,128,1024"))


def _fmt(v: float, spec: str = ",.0f") -> str:
    return format(v, spec) if v is not None and math.isfinite(v) else "-"


def _progress(ev: dict) -> None:
    """One plain line per evaluation on stderr (the landscape evaluates at a dozen steps)."""
    typer.echo(f"step {ev['step']}/{ev['total']}  {ev['steps_per_s']:.1f} steps/s  median train acc "
               f"{ev['train_acc']:.1%}  test acc {ev['test_acc']:.1%}", err=True)


# ----------------------------------------------------------------------------------- landscape
@app.command()
def landscape(
    alphas: str | None = typer.Option(None, "--alphas", help="Init scales α (> 0), comma-separated. "
                                      "Default: 10 values in 10^[-1, 1]."),
    sizes: str | None = typer.Option(None, "--sizes", help="Training-set sizes N (< 1,797 digits, leaving "
                                     "test images), comma-separated. Default: 10 values in 16..1440."),
    seeds: int = typer.Option(3, "--seeds", help="Seeds per (α, N) point (members = α × N × seeds)."),
    steps: int = typer.Option(0, "--steps", help="Training steps (0: the preset's, 1,000)."),
    set_: list[str] = _SET,
    which: str = typer.Option("final", "--which", help="Losses read at the last step (final) or the best test "
                              "loss over training (best)."),
    from_file: Path | None = _FROM,
    out: Path = _OUT,
    as_json: bool = _JSON,
    quiet: bool = typer.Option(False, "--quiet", help="No progress lines on stderr."),
) -> None:
    """Train the (α, N) grid at fixed norm as one ensemble; L/U curves, Goldilocks zone, error contour."""
    from grokscope.omnigrok import (
        DEFAULT_ALPHAS,
        DEFAULT_TRAIN_COUNTS,
        Landscape,
        LandscapeSpec,
        run_landscape,
    )

    check_choice(which, "--which", ("final", "best"))
    if from_file is not None:
        if alphas is not None or sizes is not None or set_ or steps:
            raise ConfigError("--from FILE reads a trained landscape: it takes no --alphas, --sizes, --steps or --set")
        if not from_file.is_file():
            raise ConfigError(f"--from={str(from_file)!r}: no such file (a landscape.json written by this command)")
        try:
            land = Landscape.from_dict(json.loads(from_file.read_text()))
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"--from={str(from_file)!r}: not a landscape.json ({type(e).__name__}: {e})") from None
    else:
        a = _floats(alphas, "--alphas") if alphas is not None else DEFAULT_ALPHAS
        for v in a:
            check_number(v, "--alphas", lo=0.0, lo_open=True)
        n = _ints(sizes, "--sizes", 1) if sizes is not None else DEFAULT_TRAIN_COUNTS
        check_int(seeds, "--seeds", 1)
        check_int(steps, "--steps", 0)
        spec = LandscapeSpec(alphas=a, train_counts=n, n_seeds=seeds, steps=steps, overrides=tuple(set_))
        # run_landscape validates the whole run config (N above the data is one line) before training.
        land = run_landscape(spec, progress=None if quiet else _progress)
        out.mkdir(parents=True, exist_ok=True)
        (out / "landscape.json").write_text(json.dumps(land.to_dict()))
    _landscape_report(land, which, out, as_json, wrote_json=from_file is None)


def _landscape_report(land, which: str, out: Path, as_json: bool, wrote_json: bool) -> None:
    from grokscope._json import jsonable
    from grokscope.omnigrok import (
        contour_figure,
        error_map,
        goldilocks,
        lu_curves,
        lu_figure,
        summarize,
    )

    curves, emap = lu_curves(land, which), error_map(land, which)
    zones = [goldilocks(c) for c in curves]
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "lu.png", out / "contour.png"]
    lu_figure(curves).savefig(paths[0], dpi=150)
    contour_figure(emap).savefig(paths[1], dpi=150)
    if wrote_json:
        paths.insert(0, out / "landscape.json")
    if as_json:
        typer.echo(json.dumps(jsonable({
            "steps": land.steps, "n_members": len(land.points), "wall_seconds": land.wall_seconds, "which": which,
            "goldilocks": summarize(curves), "error_map": emap, "curves": curves, "files": [str(p) for p in paths]}), indent=1))
        return
    typer.echo(f"{len(land.points)} members, {land.steps} steps, {land.wall_seconds:.0f} s of training; "
               f"losses read: {which}")
    typer.echo("Goldilocks point per N (lowest mean test loss over the scanned norms; interior: higher on both sides):")
    typer.echo(f"{'N':>6} {'alpha':>8} {'norm':>8} {'test loss':>10} {'interior':>9}")
    for z in zones:
        typer.echo(f"{z.n_train:>6} {z.alpha:>8.3g} {z.norm:>8.3g} {z.test_loss:>10.3g} {z.interior!s:>9}")
    typer.echo(f"test error (1 - accuracy, mean over seeds), rows N, columns alpha ({which}):")
    typer.echo(f"{'N':>6} " + " ".join(f"{x:>6.3g}" for x in emap.alphas))
    for j, nn in enumerate(emap.train_counts):
        typer.echo(f"{int(nn):>6} " + " ".join(f"{_fmt(emap.test_error[i, j], '.2f'):>6}" for i in range(len(emap.alphas))))
    for p in paths:
        typer.echo(f"wrote {p}")


# ----------------------------------------------------------------------------------------- lag
def _per_member(value, n: int) -> list:
    if isinstance(value, (list, tuple)) and len(value) == n:
        return list(value)
    return [value] * n


def _fixed_norm(absolute, frac) -> str:
    """The member's projection target as the lag table shows it: "12.5", "0.8x init" or "-" (free)."""
    if absolute:
        return _fmt(absolute, "g")
    return f"{frac:g}x init" if frac else "-"


def _norms(norm, x) -> dict:
    """The member's weight norm at the first evaluation, at memorization and at the end (None: not logged)."""
    if norm is None:
        return {"norm_start": None, "norm_at_memorize": None, "norm_final": None}
    steps, col = norm[0], norm[1]["weight_norm"][:, x.member]
    hit = np.flatnonzero(steps == x.t_memorize)
    at = float(col[hit[0]]) if len(hit) else None
    return {"norm_start": float(col[0]), "norm_at_memorize": at, "norm_final": float(col[-1])}


@app.command()
def lag(
    run: int = typer.Argument(..., help="A stored run (see `grokscope runs`)."),
    train_level: float = typer.Option(0.99, "--train-level", help="Memorized: train accuracy >= this, in (0, 1]."),
    test_level: float = typer.Option(0.9, "--test-level", help="Generalized: test accuracy >= this, in (0, 1]."),
    store: Path | None = STORE_OPT,
    as_json: bool = _JSON,
) -> None:
    """Per member of a stored run: first step memorized, first step generalized, and their ratio."""
    from grokscope._json import jsonable
    from grokscope.omnigrok import generalization_lag

    check_number(train_level, "--train-level", lo=0.0, hi=1.0, lo_open=True)
    check_number(test_level, "--test-level", lo=0.0, hi=1.0, lo_open=True)
    s = open_store(store, must_exist=True)
    try:
        rec = s.get_run(run)
        steps, met = s.metrics(run, ["train_acc", "test_acc"])
        try:
            norm = s.metrics(run, ["weight_norm"])  # (steps, {"weight_norm": [n_eval, model]})
        except StoreError:  # not logged by this run
            norm = None
    finally:
        s.close()
    lags = generalization_lag(steps, met["train_acc"], met["test_acc"], train_level=train_level, test_level=test_level)
    cfg, n = rec.config or {}, len(lags)
    alpha = _per_member(cfg.get("model", {}).get("init_scale"), n)
    wd = _per_member(cfg.get("optim", {}).get("weight_decay"), n)
    fixed = _per_member(cfg.get("optim", {}).get("project_norm", 0.0), n)  # Omnigrok's fixed norm: absolute,
    frac = _per_member(cfg.get("optim", {}).get("project_norm_frac", 0.0), n)  # or a fraction of the initial
    rows = [{**jsonable(vars(x)), "init_scale": alpha[i], "weight_decay": wd[i], "project_norm": fixed[i],
             "project_norm_frac": frac[i], **_norms(norm, x)} for i, x in enumerate(lags)]
    if as_json:
        typer.echo(json.dumps({"run": run, "train_level": train_level, "test_level": test_level,
                               "last_step": int(steps[-1]) if len(steps) else None, "members": rows}, indent=1))
        return
    typer.echo(f"run {run}: memorized = first evaluated step with train acc >= {train_level:g}; generalized = first "
               f"with test acc >= {test_level:g} (- : not within {int(steps[-1]) if len(steps) else 0:,} steps)")
    typer.echo(f"{'member':>6} {'alpha':>6} {'wd':>7} {'fixed norm':>10} {'memorized':>10} {'test acc then':>13} "
               f"{'generalized':>11} {'ratio':>6} {'final test acc':>14} {'norm 0 / memorized / end':>24}")
    for r, x in zip(rows, lags):
        norms = " / ".join(_fmt(r[k], ".1f") for k in ("norm_start", "norm_at_memorize", "norm_final"))
        typer.echo(f"{x.member:>6} {_fmt(r['init_scale'], 'g'):>6} {_fmt(r['weight_decay'], 'g'):>7} "
                   f"{_fixed_norm(r['project_norm'], r['project_norm_frac']):>10} "
                   f"{_fmt(x.t_memorize):>10} {_fmt(x.test_acc_at_memorize, '.3f'):>13} {_fmt(x.t_generalize):>11} "
                   f"{_fmt(x.ratio, '.2f'):>6} {_fmt(x.final_test_acc, '.3f'):>14} {norms:>24}")


# ----------------------------------------------------------------------------- teacher-student
@app.command("teacher-student")
def teacher_student(
    weight_decays: str = typer.Option("0.05,0.1,0.2,0.4,0.8", "--weight-decays", help="Weight decays γ (>= 0), "
                                      "comma-separated."),
    seeds: int = typer.Option(2, "--seeds", help="Student seeds per γ."),
    steps: int = typer.Option(20_000, "--steps", help="Full-batch AdamW updates."),
    alpha: float = typer.Option(2.0, "--alpha", help="Student init scale α (> 0; Omnigrok: 2)."),
    lr: float = typer.Option(3e-4, "--lr", help="AdamW learning rate (Omnigrok: 3e-4)."),
    level: float = typer.Option(0.9, "--level", help="Memorized / generalized: train / test accuracy >= this."),
    eval_every: int = typer.Option(20, "--eval-every", help="Evaluate every this many steps."),
    width: int = typer.Option(100, "--width", help="Hidden width of teacher and student (Omnigrok: 100)."),
    teacher_seed: int = typer.Option(0, "--teacher-seed", help="Seed of the teacher and its data."),
    dtype: str = typer.Option("float32", "--dtype", help="float32 (Omnigrok's) or float64."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples of the fits' intervals."),
    threads: int = typer.Option(0, "--threads", help="torch threads (0: torch's default)."),
    out: Path = _OUT,
    as_json: bool = _JSON,
) -> None:
    """Teacher–student (5-100-100-5 tanh): time to generalize against weight decay γ, fitted t ∝ γ^-g."""
    from grokscope._json import jsonable
    from grokscope.omnigrok import (
        TeacherStudentConfig,
        run_teacher_student,
        time_law,
        time_law_figure,
    )

    check_int(threads, "--threads", 0)
    check_int(n_boot, "--n-boot", 0)
    cfg = TeacherStudentConfig(weight_decays=_floats(weight_decays, "--weight-decays"), n_seeds=seeds, steps=steps,
                               student_alpha=alpha, lr=lr, level=level, eval_every=eval_every, width=width,
                               teacher_seed=teacher_seed, dtype=dtype)
    if threads:
        import torch

        torch.set_num_threads(threads)
    r = run_teacher_student(cfg)
    fits = {}
    for name, t in (("t_generalize", r.t_generalize), ("delay", r.t_generalize - r.t_memorize)):
        ok = np.isfinite(t) & (t > 0) & (r.weight_decay > 0)
        fits[name] = (time_law(r.weight_decay, t, n_boot=n_boot, seed=0)
                      if len(np.unique(r.weight_decay[ok])) >= 2 else None)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "teacher_student.json"]
    result = jsonable({**r.to_dict(), "fits": fits})
    paths[0].write_text(json.dumps(result))
    if (np.isfinite(r.t_generalize) & (r.t_generalize > 0) & (r.weight_decay > 0)).any():  # else nothing to plot
        paths.append(out / "time_law.png")
        time_law_figure(r.weight_decay, r.t_generalize, fits["t_generalize"], level=level).savefig(paths[1], dpi=150)
    if as_json:
        typer.echo(json.dumps({k: result[k] for k in ("weight_decay", "seed", "t_memorize", "t_generalize", "level",
                                                      "wall_seconds", "fits")} | {"files": [str(p) for p in paths]},
                              indent=1))
        return
    typer.echo(f"{len(r.seed)} students, {cfg.steps:,} steps in {r.wall_seconds:.0f} s; memorized / generalized = "
               f"first step (every {cfg.eval_every}) with train / test accuracy >= {level:g}")
    typer.echo(f"{'gamma':>7} {'seed':>4} {'memorized':>10} {'generalized':>11} {'final test acc':>14} {'norm 0 -> end':>15}")
    for i in range(len(r.seed)):
        typer.echo(f"{r.weight_decay[i]:>7g} {int(r.seed[i]):>4} {_fmt(r.t_memorize[i]):>10} "
                   f"{_fmt(r.t_generalize[i]):>11} {r.test_acc[-1, i]:>14.3f} "
                   f"{f'{r.norm[0, i]:.1f} -> {r.norm[-1, i]:.1f}':>15}")
    for name, f in fits.items():
        if f is None:
            typer.echo(f"{name} ∝ γ^-g: not fitted (reached at fewer than two weight decays > 0)")
            continue
        g, a = f.params["g"], f.params["a"]
        typer.echo(f"{name} = a·γ^-g: g = {float(g):.2f} [{g.lo:.2f}, {g.hi:.2f}], a = {float(a):,.0f} "
                   f"({n_boot} bootstrap resamples, 95% intervals; Omnigrok: g = 1)")
    for p in paths:
        typer.echo(f"wrote {p}")
