"""``grokscope demo``, ``train`` and ``presets``: train an ensemble, with a live progress bar."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

import typer

from grokscope.cli._common import STORE_OPT, console, members_table, open_store
from grokscope.errors import ConfigError, StoreError

app = typer.Typer()


class _Progress:
    """A rich progress bar showing step, steps/s and the ensemble's median train/test accuracy."""

    def __init__(self, title: str, total: int, enabled: bool = True):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.enabled = enabled
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
        if self.enabled and not self.progress.console.is_terminal:
            # Logs and pipes get no live redraws: a plain line every 10 s instead.
            now = time.monotonic()
            if now - self._last_line >= 10 or ev["step"] == ev["total"]:
                self._last_line = now
                self.progress.console.print(f"step {ev['step']}/{ev['total']}  {ev['steps_per_s']:.0f} steps/s  "
                                            f"train acc {ev['train_acc']:.1%}  test acc {ev['test_acc']:.1%}")
        info = (f"step {ev['step']:>6}/{ev['total']} {ev['steps_per_s']:5.0f} steps/s "
                f"train {ev['train_acc']:6.1%} test {ev['test_acc']:6.1%}")
        if ev["n_diverged"]:
            info += f"  diverged {ev['n_diverged']}"
        self.progress.update(self.task, completed=ev["step"], info=info)


def _run_training(cfg, store, resume: int | None, quiet: bool):
    from grokscope.train import train

    title = f"{cfg.name} x{cfg.n_members}"
    with _Progress(title, cfg.train.steps, enabled=not quiet) as bar:
        return train(cfg, store, resume=resume, progress=bar)


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
              quiet: bool = typer.Option(False, "--quiet", help="No live progress display.")):
    """Train an ensemble from a config file or a preset, storing the run."""
    from grokscope.config import RunConfig, load_config

    if resume is not None:
        if config is not None or preset is not None or set_:
            raise ConfigError("--resume RUN takes no config, preset or --set: the run's stored config is used")
        s = open_store(store)
        rec = s.get_run(resume)
        if rec.status != "interrupted":
            raise StoreError(f"run {resume} is {rec.status}: only an interrupted run can be resumed")
        cfg = RunConfig.from_dict(rec.config)
    else:
        if config is None and preset is None:
            raise ConfigError("give a config file or --preset NAME (see `grokscope presets`)")
        cfg = load_config(config, preset=preset, overrides=set_)  # validated before the store is touched
        s = open_store(store)
    result = _run_training(cfg, s, resume, quiet)
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
