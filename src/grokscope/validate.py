"""The one set of input validators: each returns the checked value or raises one ``ConfigError`` line.

Every message names the key, the bad value and what is allowed (``task.p=1: must be an integer
>= 2``), so the CLI can print it as it is and exit with code 2. Modules that check user input
import these instead of writing their own.

>>> check_int(5, "task.p", 2)
5
>>> check_int(1, "task.p", 2)
Traceback (most recent call last):
...
grokscope.errors.ConfigError: task.p=1: must be an integer >= 2
>>> check_number(0.0, "optim.lr", lo=0.0, lo_open=True)
Traceback (most recent call last):
...
grokscope.errors.ConfigError: optim.lr=0.0: must be a finite number > 0
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

from grokscope.errors import ConfigError

__all__ = ["shown", "require", "check_int", "check_number", "check_choice", "check_bool", "check_seed"]

MAX_SEED = 2**64 - 1  # seeds a user can type, store (SQLite) and hand to torch


def shown(value: Any) -> str:
    """How a bad value is written in a message: ``repr``, with NumPy scalars as plain numbers."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        value = item()
    return repr(value)


def require(ok: bool, key: str, value: Any, allowed: str) -> None:
    """Raise ``ConfigError("{key}={value!r}: must be {allowed}")`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{key}={shown(value)}: must be {allowed}")


def check_int(value: object, key: str, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as an int in ``[lo, hi]`` (either bound optional); bools are not integers."""
    if lo is not None and hi is not None:
        allowed = f"an integer in [{lo}, {hi}]"
    elif lo is not None:
        allowed = f"an integer >= {lo}"
    elif hi is not None:
        allowed = f"an integer <= {hi}"
    else:
        allowed = "an integer"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{key}={shown(value)}: must be {allowed}")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f"{key}={value}: must be {allowed}")
    return value


def check_number(value: object, key: str, lo: float | None = None, hi: float | None = None, *,
                 lo_open: bool = False, hi_open: bool = False) -> float:
    """``value`` as a finite float within the bounds (``lo_open``: ``> lo``; ``hi_open``: ``< hi``)."""
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi:g}")
    allowed = "a finite number" + (" " + " and ".join(parts) if parts else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ConfigError(f"{key}={shown(value)}: must be {allowed}")
    v = float(value)
    if (lo is not None and (v <= lo if lo_open else v < lo)) or (hi is not None and (v >= hi if hi_open else v > hi)):
        raise ConfigError(f"{key}={shown(value)}: must be {allowed}")
    return v


def check_choice(value: object, key: str, allowed: Sequence[str]) -> str:
    """``value`` if it is one of the strings ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise ConfigError(f"{key}={value!r}: must be one of {', '.join(allowed)}")
    return value


def check_bool(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}={value!r}: must be true or false")
    return value


def check_seed(value: object, key: str = "seed") -> int:
    """A seed: an integer in ``[0, 2**64)``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= int(value) <= MAX_SEED:
        raise ConfigError(f"{key}={value!r}: must be an integer in [0, 2**64)")
    return int(value)
