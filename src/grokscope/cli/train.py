"""``grokscope demo``, ``train`` and ``presets``: train an ensemble, with a live progress bar."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Optional

import typer

from grokscope.cli._common import STORE_OPT, console, members_table, open_store
from grokscope.errors import ConfigError, StoreError

app = typer.Typer()


SHOWN = 4  # members listed by name in the early-warning block; the rest are counted


def _fmt_step(v: float) -> str:
    return f"{v:,.0f}" if math.isfinite(v) else "-"


class _Warning:
    """The live display of an early-warning hook (``grokscope.warn.LiveWarning``): its block of lines
    when the prediction is made, a line when a member generalizes, and a summary for the bar."""

    def __init__(self, hook, ref: str):
        self.hook, self.ref = hook, ref
        self.shown_gen = None  # [model] generalization steps already printed

    def summary(self) -> str:
        preds = self.hook.predictions
        if preds is None:
            return f"warn: waiting for W={self.hook.window:,}"
        n, flagged = len(preds), sum(p.known or p.p >= 0.5 for p in preds)
        return f"warn: P(gen)>=0.5 {flagged}/{n}, generalized {int((self.hook.gen_step >= 0).sum())}/{n}"

    def new_lines(self) -> list[str]:
        """Lines to print now (the block when the prediction appears, then one per newly generalized member)."""
        preds, gen = self.hook.predictions, self.hook.gen_step
        if preds is None:
            return []
        if self.shown_gen is None:
            self.shown_gen = gen.copy()
            w = self.hook.window
            lines = [(f"early warning at W={w:,} (predictor fitted on {self.ref}; P(gen) = probability that test "
                      f"accuracy reaches 99% within {self.hook.budget:,} steps; 90% intervals):")]
            for p in preds[:SHOWN]:
                lines.append(f"  member {p.member}: " + (f"generalized at step {p.actual_gen_step:,}, before W" if p.known else
                             f"P(gen) {p.p:.2f} [{p.p_lo:.2f}, {p.p_hi:.2f}], predicted step {_fmt_step(p.step)} "
                             f"[{_fmt_step(p.step_lo)}, {_fmt_step(p.step_hi)}]"))
            rest = preds[SHOWN:]
            if rest:
                lines.append(f"  and {len(rest)} more members: {sum(p.known or p.p >= 0.5 for p in rest)} with "
                             f"P(gen) >= 0.5, median predicted step {_fmt_step(_median_step(rest))}")
            return lines
        lines = []
        for i in [int(i) for i in ((gen >= 0) & (self.shown_gen < 0)).nonzero()[0]]:
            p = preds[i]
            lines.append(f"  member {i} generalized at step {int(gen[i]):,} (predicted at W: P(gen) {p.p:.2f}, "
                         f"step {_fmt_step(p.step)})")
        self.shown_gen = gen.copy()
        return lines


def _median_step(preds) -> float:
    v = [p.step for p in preds if not p.known and math.isfinite(p.step)]
    return float(sorted(v)[len(v) // 2]) if v else float("nan")


class _Progress:
    """A rich progress bar showing step, steps/s and the ensemble's median train/test accuracy (and, with an
    early-warning hook, its predictions once training passes W)."""

    def __init__(self, title: str, total: int, enabled: bool = True, warning: _Warning | None = None):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.enabled = enabled
        self.warning = warning
        self._last_line = -float("inf")
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(bar_width=16), TextColumn("{task.fields[info]}"),
                                 TimeElapsedColumn(), console=console(stderr=True), transient=False, disable=not enabled)
        self.task = self.progress.add_task(title, total=total, info="")

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def __call__(self, ev: dict[str, Any]) -> None:
        warn = self.warning.summary() if self.warning is not None else ""
        if self.enabled and self.warning is not None:
            for line in self.warning.new_lines():  # above the bar on a terminal; plain lines in a log
                self.progress.console.print(line)
        if self.enabled and not self.progress.console.is_terminal:
            # Logs and pipes get no live redraws: a plain line every 10 s instead.
            now = time.monotonic()
            if now - self._last_line >= 10 or ev["step"] == ev["total"]:
                self._last_line = now
                self.progress.console.print(f"step {ev['step']}/{ev['total']}  {ev['steps_per_s']:.0f} steps/s  "
                                            f"train acc {ev['train_acc']:.1%}  test acc {ev['test_acc']:.1%}"
                                            + (f"  {warn}" if warn else ""))
        info = (f"step {ev['step']:>6}/{ev['total']} {ev['steps_per_s']:5.0f} steps/s "
                f"train {ev['train_acc']:6.1%} test {ev['test_acc']:6.1%}")
        if ev["n_diverged"]:
            info += f"  diverged {ev['n_diverged']}"
        if warn:
            info += f"  {warn}"
        self.progress.update(self.task, completed=ev["step"], info=info)


def _run_training(cfg, store, resume: int | None, quiet: bool, warning: _Warning | None = None):
    from grokscope.train import train

    title = f"{cfg.name} x{cfg.n_members}"
    hooks = [warning.hook] if warning is not None else []
    with _Progress(title, cfg.train.steps, enabled=not quiet, warning=warning) as bar:
        return train(cfg, store, resume=resume, progress=bar, hooks=hooks)


def _sets_signals(overrides: list[str]) -> bool:
    """Whether ``--set`` explicitly asks for ``train.signals`` (then it is not turned on behind the user's back)."""
    return any(o.partition("=")[0].strip() == "train.signals" for o in overrides)


def _live_warning(store, ref: str, window: int | None, cfg, resume: int | None) -> _Warning:
    """The early-warning hook for ``--warn-from REF``: REF's members read and the predictor fitted now,
    before anything is stored (bad input is one ConfigError/StoreError line)."""
    from grokscope.warn import LiveWarning, check_window, fit_reference, load_members

    what = f"run {ref}" if ref.strip().isdigit() else f"sweep {ref!r}"
    members = load_members(store, ref)
    budget = min(m.budget for m in members) if members else 0
    if window is None:
        window = max(1, min(budget, cfg.train.steps) // 10)
    check_window(members, window, what, option="--warn-window")
    if window >= cfg.train.steps:
        raise ConfigError(f"--warn-window {window}: not before the end of this run (train.steps = {cfg.train.steps}); "
                          f"use a window < {cfg.train.steps}")
    hook = LiveWarning(fit_reference(members, window), window, budget=budget)
    if resume is not None:  # the history before the resume point, from the store
        steps, metrics = store.metrics(resume)
        hook.prefill(steps, metrics, cfg.n_members)
    return _Warning(hook, what)


@app.command()
def demo(store: Optional[Path] = STORE_OPT,
         members: int = typer.Option(8, "--members", help="Ensemble size (seeds)."),
         out: Optional[Path] = typer.Option(None, "--out", help="Report directory (default: beside the store)."),
         quiet: bool = typer.Option(False, "--quiet", help="No live progress display.")):
    """Watch 8 networks memorize a + b mod 41 and then grok it; store the run and write its report."""
    from grokscope.config import load_config
    from grokscope.report import write_report

    cfg = load_config(preset="demo", overrides=[f"n_members={members}"])
    s = open_store(store)
    con = console()
    con.print(f"[bold]grokscope demo[/]: {cfg.task['op']} mod {cfg.task['p']}, {cfg.n_members} PAIR MLPs "
              f"({cfg.model.get('d_hidden')} neurons), store {s.path}")
    result = _run_training(cfg, s, None, quiet)
    con.print(members_table(result.members, f"run {result.run_id}: steps to memorize and to generalize (99% accuracy)"))
    page = write_report(s, result.run_id, out)
    grokked = sum(m["phase"] == "grokking" for m in result.members)
    con.print(f"{grokked}/{len(result.members)} members grokked in {result.summary['wall_seconds']:.0f} s "
              f"({result.summary['steps_per_s']:.0f} steps/s). Report: {page}")


@app.command("train")
def train_cmd(config: Optional[Path] = typer.Argument(None, help="A run config TOML file."),
              preset: Optional[str] = typer.Option(None, "--preset", help="A bundled preset (see `grokscope presets`)."),
              set_: list[str] = typer.Option([], "--set", help="Override a key: --set optim.lr=3e-3 (repeatable)."),
              resume: Optional[int] = typer.Option(None, "--resume", help="Continue the interrupted run RUN."),
              store: Optional[Path] = STORE_OPT,
              quiet: bool = typer.Option(False, "--quiet", help="No live progress display."),
              warn_from: str | None = typer.Option(
                  None, "--warn-from", help="Show the early warning live: fit its predictor on this run or sweep "
                  "(trained with train.signals=true) and predict each member once training passes W. "
                  "Turns train.signals on."),
              warn_window: int | None = typer.Option(
                  None, "--warn-window", help="W for --warn-from (default: 10% of the shorter of this run's and "
                  "the reference's budgets).")):
    """Train an ensemble from a config file or a preset, storing the run."""
    from grokscope.config import RunConfig, load_config

    turned_on = False
    if warn_window is not None and warn_from is None:
        raise ConfigError("--warn-window needs --warn-from REF (the run or sweep the predictor is fitted on)")
    if resume is not None:
        if config is not None or preset is not None or set_:
            raise ConfigError("--resume RUN takes no config, preset or --set: the run's stored config is used")
        s = open_store(store, must_exist=True)
        rec = s.get_run(resume)
        if rec.status != "interrupted":
            raise StoreError(f"run {resume} is {rec.status}: only an interrupted run can be resumed")
        cfg = RunConfig.from_dict(rec.config)
        if warn_from is not None and not cfg.train.signals:
            raise ConfigError(f"--warn-from: run {resume} was trained without train.signals, which the live "
                              "prediction reads; resume it without --warn-from")
    else:
        if config is None and preset is None:
            raise ConfigError("give a config file or --preset NAME (see `grokscope presets`)")
        cfg = load_config(config, preset=preset, overrides=set_)  # validated before the store is touched
        if warn_from is not None and not cfg.train.signals:
            if _sets_signals(set_):
                raise ConfigError("--warn-from reads the early-warning signals: drop --set train.signals=false")
            cfg = load_config(config, preset=preset, overrides=[*set_, "train.signals=true"])
            turned_on = True
        s = open_store(store)
    warning = _live_warning(s, warn_from, warn_window, cfg, resume) if warn_from is not None else None
    if turned_on:  # said once the reference is known to be good
        console(stderr=True).print("--warn-from: train.signals turned on (the prediction reads the signals)")
    result = _run_training(cfg, s, resume, quiet, warning)
    con = console()
    con.print(members_table(result.members, f"run {result.run_id} ({cfg.name})"))
    con.print(f"stored in {s.path}; `grokscope report {result.run_id}` writes its figures")


@app.command()
def presets():
    """List the bundled presets and their sources."""
    from importlib import resources

    from grokscope.config import list_presets

    for name in list_presets():
        text = resources.files("grokscope.presets").joinpath(f"{name}.toml").read_text()
        first = next((l[2:] for l in text.splitlines() if l.startswith("# ")), "")
        typer.echo(f"{name:14s} {first}")
