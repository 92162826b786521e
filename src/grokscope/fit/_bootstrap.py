"""Bootstrap resampling with an explicit generator, and percentile intervals.

Three ways to draw one resample of ``n`` points (indices with replacement):

* **points** (default): ``n`` points, each drawn uniformly;
* **groups**: whole groups drawn with replacement, as many draws as there are groups. Use it
  when points of one group are correlated (one seed's curve, one graph realization): the
  resample keeps each group's points together, so the interval reflects the spread between
  groups, not within them;
* **strata**: within each stratum, its own points drawn with replacement, so every stratum
  keeps its size (e.g. the seeds at each data size of a sweep).

Each draw uses ``rng.integers`` exactly as written above, so a seeded interval is
reproducible. Intervals are percentile intervals: the ``(1 - level)/2`` and
``(1 + level)/2`` quantiles of the resampled estimates.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> idx = resample(rng, 6, groups=[0, 0, 1, 1, 2, 2])
>>> pairs = idx.reshape(3, 2)                     # each draw is a whole group: (0, 1), (2, 3) or (4, 5)
>>> bool((pairs[:, 0] % 2 == 0).all() and (pairs[:, 1] == pairs[:, 0] + 1).all())
True
>>> percentile_interval([1.0, 2.0, 3.0, 4.0, 5.0], 0.5)
(2.0, 4.0)
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from grokscope.fit._result import checked
from grokscope.validate import check_seed

__all__ = ["as_generator", "members", "resample", "resamples", "percentile_interval"]


def as_generator(seed: int | np.random.Generator) -> np.random.Generator:
    """``seed`` itself if it is a ``numpy.random.Generator``, else a fresh one seeded with it."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(checked(check_seed, seed, "seed"))


def members(groups) -> list[np.ndarray]:
    """Index arrays of each group: from labels ``[n]`` (groups in sorted label order) or index arrays as given."""
    if isinstance(groups, (list, tuple)) and groups and isinstance(groups[0], np.ndarray):
        return list(groups)
    labels = np.asarray(groups).ravel()
    return [np.flatnonzero(labels == lab) for lab in np.unique(labels)]


def resample(rng: np.random.Generator, n: int, *, groups=None, strata=None) -> np.ndarray:
    """Indices ``[n']`` of one resample of ``n`` points (over points, whole groups, or within strata)."""
    if groups is not None and strata is not None:
        raise ValueError("resample: pass groups or strata, not both")
    if groups is not None:
        m = members(groups)
        return np.concatenate([m[i] for i in rng.integers(0, len(m), len(m))])
    if strata is not None:
        m = members(strata)
        return np.concatenate([g[rng.integers(0, g.size, g.size)] for g in m])
    return rng.integers(0, n, n)


def resamples(n_boot: int, n: int, *, groups=None, strata=None,
              seed: int | np.random.Generator = 0) -> Iterator[np.ndarray]:
    """``n_boot`` resamples from one generator built from ``seed`` (see ``resample``)."""
    rng = as_generator(seed)
    g = None if groups is None else members(groups)
    s = None if strata is None else members(strata)
    for _ in range(n_boot):
        yield resample(rng, n, groups=g, strata=s)


def percentile_interval(values: Sequence[float], level: float, *, min_count: int = 2) -> tuple[float, float]:
    """The percentile interval of the finite ``values``; NaNs when fewer than ``min_count`` are finite."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size < min_count or v.size == 0:
        return (float("nan"), float("nan"))
    lo, hi = np.quantile(v, [(1 - level) / 2, (1 + level) / 2])
    return (float(lo), float(hi))
