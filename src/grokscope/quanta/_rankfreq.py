"""The rank-frequency law of cluster sizes: sizes sorted by rank, a fitted power law, a bootstrap interval.

If quanta are used with Zipfian frequencies p_k ∝ k^-(α+1) (Michaud et al. 2023, "The Quantization
Model of Neural Scaling", §2), clusters of samples that need the same quantum have sizes that fall
off as a power of their rank. :func:`rank_frequency` sorts the sizes (largest first, rank 1) and
fits ``size = a · rank^-g`` by least squares on log size (``grokscope.fit``'s ``power_law``), so
the slope on log-log axes is ``-g``. The interval on ``g`` is a bootstrap over **samples**: each
resample draws the ``n`` clustered samples with replacement, recounts the clusters' sizes, re-ranks
them and refits (``grokscope.fit.resamples``, percentile interval), so it reflects the sampling
noise of the sizes rather than treating the ranked points as independent.

:func:`rank_frequency_figure` draws the sizes and fits of a QDG sweep on a matplotlib ``Figure``.

>>> import numpy as np
>>> sizes = [round(1000 * r ** -1.5) for r in range(1, 9)]          # exact power law, g = 1.5
>>> labels = np.repeat(np.arange(8), sizes)
>>> rf = rank_frequency(labels, n_boot=50, seed=0)
>>> round(rf.exponent, 2), rf.sizes[:3]
(1.5, [1000, 354, 192])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from grokscope._json import jsonable
from grokscope.fit import Estimate, FitError, fit, percentile_interval, resamples

__all__ = ["RankFrequency", "rank_frequency", "rank_frequency_figure"]


@dataclass
class RankFrequency:
    """Cluster sizes by rank and the fitted law ``size = amplitude · rank^-exponent``."""

    sizes: list[int]  # largest first
    exponent: Estimate  # g; the log-log slope is -g (NaN when the law cannot be fitted)
    amplitude: float  # a
    definition: str
    n_boot: int
    n_boot_failed: int

    @property
    def slope(self) -> float:
        return -float(self.exponent)

    def to_dict(self) -> dict:
        return jsonable({"sizes": self.sizes, "exponent": self.exponent.to_dict(), "slope": self.slope,
                         "amplitude": self.amplitude, "definition": self.definition, "n_boot": self.n_boot,
                         "n_boot_failed": self.n_boot_failed})


def _sorted_sizes(labels: np.ndarray) -> np.ndarray:
    counts = np.bincount(labels)
    return np.sort(counts[counts > 0])[::-1].astype(np.float64)


def _fit_g(sizes: np.ndarray) -> tuple[float, float]:
    f = fit("power_law", np.arange(1, sizes.size + 1), sizes)
    return float(f.params["g"]), float(f.params["a"])


def rank_frequency(labels, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> RankFrequency:
    """Sizes of the clusters in ``labels`` (ints ``[n]``) by rank, and the power law fitted to them."""
    labels = np.asarray(labels, dtype=np.int64).ravel()
    labels = np.unique(labels, return_inverse=True)[1]  # 0..m-1
    sizes = _sorted_sizes(labels)
    definition = ("size_r = a * r^-g over ranks r = 1..m of the cluster sizes (largest first), least squares on "
                  f"log size; {round(100 * level)}% percentile interval of g from {n_boot} bootstrap resamples "
                  "of the samples (sizes recounted and re-ranked)")
    try:
        g, a = _fit_g(sizes)
    except FitError:  # fewer distinct ranks than the law has parameters
        return RankFrequency(sizes.astype(int).tolist(), Estimate(math.nan), math.nan, definition, 0, 0)
    boots, failed = [], 0
    for idx in resamples(n_boot, labels.size, seed=seed):
        try:
            boots.append(_fit_g(_sorted_sizes(labels[idx]))[0])
        except FitError:
            failed += 1
    lo, hi = percentile_interval(boots, level)
    return RankFrequency(sizes.astype(int).tolist(), Estimate(g, lo, hi, level), a, definition, n_boot, failed)


def rank_frequency_figure(result, ks=None):
    """Cluster size against rank (log-log) for each ``k`` of a ``QDGResult`` sweep, with the fitted laws."""
    from matplotlib.figure import Figure

    items = [c for c in result.clusters if ks is None or c.k in ks]
    fig = Figure(figsize=(6.4, 4.8), layout="constrained")
    ax = fig.add_subplot()
    for c in items:
        rf = c.rank_frequency
        r = np.arange(1, len(rf.sizes) + 1)
        (line,) = ax.plot(r, rf.sizes, "o", ms=3, alpha=0.8)
        label = f"k = {c.k}"
        if math.isfinite(float(rf.exponent)):
            ax.plot(r, rf.amplitude * r ** -float(rf.exponent), "-", lw=1, color=line.get_color())
            label += f": slope {rf.slope:.2f}"
            if math.isfinite(rf.exponent.lo):
                label += f" [{-rf.exponent.hi:.2f}, {-rf.exponent.lo:.2f}]"
        if c.ari is not None:
            label += f", ARI {c.ari:.2f}"
        line.set_label(label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("cluster rank (largest = 1)")
    ax.set_ylabel("cluster size (samples)")
    ax.set_title(f"QDG: cluster sizes of {result.n_samples} samples' gradients ({result.n_params:,} parameters)\n"
                 f"{result.source or 'model'}; lines: size = a·rank^-g, 95% bootstrap over samples", fontsize=9)
    ax.legend(fontsize=8)
    return fig
