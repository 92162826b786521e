"""A law: a formula, the loss that defines its parameters, and a solver for the optimum."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Law", "LOG_LOSS"]

LOG_LOSS = "sum_i (log y_i - log f(x_i))^2"


@dataclass(frozen=True)
class Law:
    """A law ``y = f(x; params)``: its formula, loss and solver.

    ``solve(x, y, fixed, x0_min) -> (values [n_params], rss)``. ``log_x``: the law needs
    ``x > 0``. ``fixable``: parameters that may be held at a given value. ``nonlinear``:
    whether a parameter enters non-linearly in log space (it then needs one more point
    than there are free parameters to be determined, not merely interpolated).
    """

    name: str
    params: tuple[str, ...]
    formula: str
    solve: Callable[..., tuple[np.ndarray, float]]
    predict: Callable[..., np.ndarray]
    log_x: bool = True
    fixable: tuple[str, ...] = ()
    nonlinear: bool = True
    min_distinct: int = 0  # a floor on min_points where the law needs more (see _broken)

    def min_points(self, n_fixed: int = 0) -> int:
        """The fewest distinct x at which the free parameters are determined."""
        return max(len(self.params) - n_fixed + (1 if self.nonlinear else 0), self.min_distinct)

    def definition(self, fixed: dict[str, float]) -> str:
        held = "".join(f"; {k} = {v:g} held fixed" for k, v in fixed.items())
        return f"y = {self.formula}, least squares on log y: minimize {LOG_LOSS}{held}"
