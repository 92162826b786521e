"""Loss against weight norm: Omnigrok's "L" (train) and "U" (test) curves, and the (α, N) map.

Liu, Michaud & Tegmark (2022, "Omnigrok") plot, for each training-set size N, the loss reached at
a fixed weight norm w against w: the training loss falls with w and then stays near zero (an "L"),
the test loss falls and then rises again (a "U"). Its minimum is the "Goldilocks zone" of norms
where the network generalizes best; a network initialized beyond it memorizes first and generalizes
only once weight decay has brought it back (the LU mechanism of grokking).

``lu_curves`` averages the members of a landscape over seeds at each (N, α) and orders the points
by norm; ``goldilocks`` names, per N, the norm of lowest test loss and whether that minimum is
interior (a U: higher on both sides) or at an end of the scanned range (no zone seen). ``error_map``
is the test error over (α, N) for the contour figure.

>>> from grokscope.omnigrok._landscape import LandscapePoint
>>> pts = [LandscapePoint(a, 10, s, 3.0 * a, 1 / a, (a - 1) ** 2 + 0.1 * s, 0.9, 0.5, 0.0, 0.0)
...        for a in (0.5, 1.0, 2.0) for s in (0, 1)]
>>> c = lu_curves(pts)[0]
>>> c.norm.tolist(), c.test_loss.tolist()
([1.5, 3.0, 6.0], [0.3, 0.05, 1.05])
>>> g = goldilocks(c); (g.norm, g.interior)
(3.0, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["ErrorMap", "Goldilocks", "LUCurve", "error_map", "goldilocks", "lu_curves", "summarize"]


@dataclass
class LUCurve:
    """One training-set size: at each α, the mean (and std over seeds) of the members' numbers.

    Arrays are ``[n_alpha]``, ordered by increasing norm. ``which`` says which loss was read:
    ``"final"`` (last step) or ``"best"`` (best test loss over training, as Omnigrok records it).
    """

    n_train: int
    alpha: np.ndarray
    norm: np.ndarray
    train_loss: np.ndarray
    train_loss_std: np.ndarray
    test_loss: np.ndarray
    test_loss_std: np.ndarray
    test_acc: np.ndarray
    n_seeds: np.ndarray
    which: str = "final"

    def to_dict(self) -> dict:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()}


@dataclass
class Goldilocks:
    """Where one U curve is lowest: ``norm`` and ``alpha`` of the minimum test loss; ``interior``
    when the curve is higher on both sides (a zone seen), False at an end of the range."""

    n_train: int
    alpha: float
    norm: float
    test_loss: float
    interior: bool


@dataclass
class ErrorMap:
    """Test error (1 − accuracy) ``[n_alpha, n_train]``, mean over seeds, for the contour map."""

    alphas: np.ndarray
    train_counts: np.ndarray
    test_error: np.ndarray
    which: str = "final"

    def to_dict(self) -> dict:
        return {"alphas": self.alphas.tolist(), "train_counts": self.train_counts.tolist(),
                "test_error": self.test_error.tolist(), "which": self.which}


def _points(landscape) -> list:
    return list(getattr(landscape, "points", landscape))


def lu_curves(landscape, which: str = "final") -> list[LUCurve]:
    """One ``LUCurve`` per training-set size, from a ``Landscape`` or a list of ``LandscapePoint``."""
    if which not in ("final", "best"):
        from grokscope.errors import ConfigError

        raise ConfigError(f"which={which!r}: must be 'final' or 'best'")
    pts = _points(landscape)
    out = []
    for n in sorted({p.n_train for p in pts}):
        rows = []
        for a in sorted({p.alpha for p in pts if p.n_train == n}):
            grp = [p for p in pts if p.n_train == n and p.alpha == a]
            tr = np.array([p.final_train_loss for p in grp])
            te = np.array([p.best_test_loss if which == "best" else p.final_test_loss for p in grp])
            acc = np.array([p.best_test_acc if which == "best" else p.final_test_acc for p in grp])
            rows.append((a, np.mean([p.norm for p in grp]), tr.mean(), tr.std(), te.mean(), te.std(), acc.mean(), len(grp)))
        rows.sort(key=lambda r: r[1])
        cols = [np.array(c, dtype=float) for c in zip(*rows)]
        out.append(LUCurve(n, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6],
                           cols[7].astype(int), which))
    return out


def goldilocks(curve: LUCurve) -> Goldilocks:
    """The minimum of a U curve, and whether it lies strictly inside the scanned norms."""
    finite = np.isfinite(curve.test_loss)
    i = int(np.nanargmin(np.where(finite, curve.test_loss, np.nan)))
    idx = np.flatnonzero(finite)
    interior = bool(idx[0] < i < idx[-1])
    return Goldilocks(curve.n_train, float(curve.alpha[i]), float(curve.norm[i]), float(curve.test_loss[i]), interior)


def error_map(landscape, which: str = "final") -> ErrorMap:
    """Mean test error over seeds at each (α, N); NaN where a point has no member."""
    pts = _points(landscape)
    alphas = np.array(sorted({p.alpha for p in pts}))
    counts = np.array(sorted({p.n_train for p in pts}))
    err = np.full((len(alphas), len(counts)), np.nan)
    for i, a in enumerate(alphas):
        for j, n in enumerate(counts):
            accs = [p.best_test_acc if which == "best" else p.final_test_acc for p in pts if p.alpha == a and p.n_train == n]
            if accs:
                err[i, j] = 1.0 - float(np.mean(accs))
    return ErrorMap(alphas, counts, err, which)


def summarize(curves: Sequence[LUCurve]) -> list[dict]:
    """Per N: the Goldilocks point, as JSON-able rows."""
    return [asdict(goldilocks(c)) for c in curves]
