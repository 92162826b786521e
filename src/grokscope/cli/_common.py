"""What every command shares: the one ``--store`` option, opening the store, the consoles, tables, and
comma-separated option values."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

STORE_OPT = typer.Option(None, "--store", help="Run store (SQLite). Default: $GROKSCOPE_STORE or ./grokscope-runs/grokscope.db")


def open_store(path: Optional[str | Path], *, must_exist: bool = False):
    """The run store at ``path`` (``None``: ``$GROKSCOPE_STORE`` or the default path).

    Commands that only read (show, report, analyze, ...) pass ``must_exist=True``: a store that is
    not there is one ConfigError line (exit 2), and no empty store file is left behind."""
    from grokscope.store import Store

    if must_exist:
        where = store_path(path)
        if not where.is_file():
            from grokscope.errors import ConfigError

            raise ConfigError(f"no run store at {where}; give --store PATH or set GROKSCOPE_STORE "
                              "(nothing has been trained into this one)")
    return Store(path)


def store_path(path: Optional[str | Path]) -> Path:
    """Where ``--store path`` points (``None``: ``$GROKSCOPE_STORE`` or the default path)."""
    from grokscope.store import default_store_path

    return Path(path).expanduser() if path is not None else default_store_path()


def comma_floats(text: str, key: str, example: str) -> list[float]:
    """``"0.5,1,2"`` -> ``[0.5, 1.0, 2.0]``; one ConfigError line naming ``key`` (and ``example``) otherwise."""
    from grokscope.errors import ConfigError

    try:
        vals = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"{key}={text!r}: must be comma-separated numbers, e.g. {example}") from None
    if not vals:
        raise ConfigError(f"{key}={text!r}: must be comma-separated numbers, e.g. {example}")
    return vals


def comma_ints(text: str, key: str, lo: int, example: str) -> list[int]:
    """``"16,128"`` -> ``[16, 128]``, each ``>= lo``; one ConfigError line naming ``key`` otherwise."""
    from grokscope.errors import ConfigError
    from grokscope.validate import check_int

    try:
        vals = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"{key}={text!r}: must be comma-separated integers, e.g. {example}") from None
    if not vals:
        raise ConfigError(f"{key}={text!r}: must be comma-separated integers, e.g. {example}")
    return [check_int(v, key, lo) for v in vals]


def group_specs(text: str) -> list[str]:
    """``"cyclic:23,cyclic:31"`` or ``"product:2,3;cyclic:5"``: split at ';', else before each ``family:``."""
    import re

    from grokscope.errors import ConfigError

    parts = [p.strip() for p in (text.split(";") if ";" in text else re.split(r",(?=\s*[A-Za-z])", text))]
    parts = [p for p in parts if p]
    if len(parts) < 3:
        raise ConfigError(f"--groups={text!r}: must list at least 3 group specs, e.g. cyclic:23,cyclic:31,cyclic:41")
    return parts


def repeated_ints(values: list[str], key: str) -> list[int]:
    """A repeatable option: ``--clusters 10 --clusters 20`` or ``--clusters 10,20`` -> ``[10, 20]``."""
    from grokscope.validate import require

    out = []
    for v in values:
        for part in str(v).split(","):
            part = part.strip()
            require(part.lstrip("-").isdigit(), key, part, "integers (repeat the option or separate with commas)")
            out.append(int(part))
    return out


def param_names(params: list[str] | None) -> tuple[str, ...] | None:
    """``--params a,b --params c`` -> ``("a", "b", "c")`` (None when not given); one ConfigError line if empty."""
    if not params:
        return None
    from grokscope.validate import require

    names = tuple(p.strip() for v in params for p in v.split(",") if p.strip())
    require(bool(names), "--params", params, "parameter names or prefixes")
    return names


def console(stderr: bool = False):
    """A rich console without syntax highlighting: stdout for results, stderr for progress."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def members_table(members: list[dict[str, Any]], title: str):
    """Per member: training-set size, steps to memorize and to generalize, delay, phase."""
    from rich.table import Table

    t = Table(title=title)
    for col in ("member", "n_train", "memorized at", "generalized at", "delay", "phase"):
        t.add_column(col, justify="right" if col != "phase" else "left")
    for m in members:
        fmt = lambda v: "-" if v is None else str(v)  # noqa: E731
        t.add_row(str(m["member"]), fmt(m.get("n_train")), fmt(m.get("mem_step")), fmt(m.get("gen_step")),
                  "-" if m.get("delay") is None else f"{m['delay']:.1f}x", str(m.get("phase")))
    return t
