"""The ``grokscope`` command line: a thin layer over the Python API, one module per command group.

Every user mistake raises a ``GrokscopeError``; ``main`` prints its one line and exits with 2
(no traceback), and nothing is written to the store before the input has been validated.
Printing and exit codes live here, never in the library.

    grokscope demo                              # the one-command grokking demo
    grokscope train CONFIG.toml --set optim.lr=3e-3
    grokscope train --preset nanda-p113
    grokscope train --resume 3                  # continue an interrupted run
    grokscope runs [--json] | show RUN [--json] | report RUN | analyze RUN
    grokscope sweep SPEC.toml | sweeps | phasemap SWEEP X Y | critical SWEEP
    grokscope landscape percolation|grokking|emergence|trap
    grokscope li2 energy --group cyclic:71      # the Li2 energy's maxima (Tian 2025)
    grokscope omnigrok landscape|lag|teacher-student   # Omnigrok's LU mechanism (Liu et al. 2022)

Each group module (``train``, ``runs``, ``analyze``, ``sweep``, ``landscape``, ``li2``) defines its
commands on its own ``typer.Typer`` named ``app``; they are all mounted the same way below
(``add_typer``: without a name the commands sit at the top level, with one they form a group).
"""

from __future__ import annotations

import sys

import typer

from grokscope.cli import (
    analyze,
    explore,
    export,
    landscape,
    li2,
    omnigrok,
    quanta,
    runs,
    scaling,
    sweep,
    train,
    warn,
)
from grokscope.errors import GrokscopeError

__all__ = ["app", "main"]

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="grokscope: train ensembles of tiny networks, watch them grok, open them up.")

# (group module, sub-command name or None for top-level commands), in the order of `grokscope --help`.
_GROUPS = ((train, None), (runs, None), (analyze, None), (sweep, None), (export, None), (explore, None), (warn, None),
           (landscape, "landscape"), (li2, "li2"), (scaling, "scaling"), (quanta, "quanta"), (omnigrok, "omnigrok"))
for _module, _name in _GROUPS:
    app.add_typer(_module.app, name=_name)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; a GrokscopeError becomes one line on stderr and exit code 2."""
    from grokscope._malloc import tune_malloc

    tune_malloc()
    try:
        app(args=argv, standalone_mode=True)
    except GrokscopeError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
