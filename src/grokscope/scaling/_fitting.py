"""One scaling-law fit of checked points, with its compute-optimal allocation where the law has one.

``fit_points`` checks the points (every N, D and loss finite and > 0; at least two distinct
values of each variable; enough points for the law's parameters), then fits through
``grokscope.fit``: ``power`` a·N^-g, ``offset`` a·N^-g + c, ``broken`` (two exponents), by least
squares on log loss; ``chinchilla`` E + A/N^α + B/D^β by Hoffmann et al.'s Huber fit, followed by
the compute-optimal allocation (``compute_optimal``). Every mistake is one ``FitError`` line.

>>> import numpy as np
>>> n = np.geomspace(1e3, 1e6, 12)
>>> sf = fit_points("offset", n, 5.0 * n**-0.4 + 0.3, n_boot=0)
>>> [round(float(v), 6) for v in sf.fit.params.values()]
[5.0, 0.4, 0.3]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from grokscope._json import jsonable
from grokscope.fit import (
    ChinchillaFit,
    ComputeOptimal,
    FitError,
    FitResult,
    IsoFLOPProfiles,
    check_positive,
    compute_optimal,
    fit,
    fit_chinchilla,
    get_law,
    isoflop_profiles,
)
from grokscope.scaling._data import LAW_NAMES
from grokscope.validate import check_choice

__all__ = ["ScalingFit", "fit_points"]


@dataclass(frozen=True)
class ScalingFit:
    """A fitted scaling law and what the points were: the source, the column (or key) names."""

    law: str                                    # short name: power, offset, broken, chinchilla
    fit: FitResult | ChinchillaFit
    names: dict[str, str]                       # "n", "loss" and for chinchilla "d" -> column or key names
    source: str = ""
    allocation: ComputeOptimal | None = None    # chinchilla only
    isoflop: IsoFLOPProfiles | None = None      # chinchilla with FLOP budgets: Approach 2's estimate of a, b
    groups: np.ndarray | None = field(default=None, repr=False)

    def lines(self) -> list[str]:
        """What ``grokscope scaling fit`` prints: every parameter with its interval, then the allocation."""
        f = self.fit
        what = (f"{self.names['loss']} against {self.names['n']}" +
                (f" and {self.names['d']}" if "d" in self.names else ""))
        out = [f"{self.law} law ({f.law}) fitted to {f.n_points} points of {self.source}: {what}",
               f"definition: {f.definition}"]
        if isinstance(f, ChinchillaFit) and f.excluded:
            out.append(f"left out: the {f.excluded} points with the highest loss")
        boot = (f"{f.n_boot} bootstrap resamples over {f.bootstrap}"
                + (f" ({f.n_boot_failed} could not be fitted)" if f.n_boot_failed else "")) if f.n_boot else "no bootstrap"
        level = f"{round(100 * f.level)}%" if f.n_boot else "-"
        out.append(f"{'parameter':>10} {'value':>12} {'interval (' + level + ')':>28}   [{boot}]")
        for k, v in f.params.items():
            iv = f"[{v.lo:.6g}, {v.hi:.6g}]" if np.isfinite(v.lo) else "-"
            out.append(f"{k:>10} {float(v):>12.6g} {iv:>28}")
        if self.allocation is not None:
            al = self.allocation
            out.append("compute-optimal allocation, C = 6 N D: N_opt = G (C/6)^a, D_opt = (C/6)^b / G")
            for k in ("a", "b", "G"):
                v = getattr(al, k)
                iv = f"[{v.lo:.6g}, {v.hi:.6g}]" if np.isfinite(v.lo) else "-"
                out.append(f"{k:>10} {float(v):>12.6g} {iv:>28}")
        if self.isoflop is not None:
            iso = self.isoflop
            out.append(f"IsoFLOP profiles (Approach 2): {iso.budgets.size} budgets used, {len(iso.skipped)} skipped; "
                       f"N_opt ∝ C^a fitted through the parabolas' minima")
            for k in ("a", "b"):
                v = getattr(iso, k)
                iv = f"[{v.lo:.6g}, {v.hi:.6g}]" if np.isfinite(v.lo) else "-"
                out.append(f"{k:>10} {float(v):>12.6g} {iv:>28}")
            for c, why in iso.skipped.items():
                out.append(f"  skipped C = {c:.3g}: {why}")
        return out

    def to_dict(self) -> dict:
        return jsonable({"law": self.law, "source": self.source, "names": self.names, "fit": self.fit.to_dict(),
                         "allocation": None if self.allocation is None else self.allocation.to_dict(),
                         "isoflop": None if self.isoflop is None else self.isoflop.to_dict()})


def _distinct(values: np.ndarray, name: str) -> None:
    u = np.unique(values)
    if u.size < 2:
        raise FitError(f"{name}: every point has the value {u[0]:g}; a fit needs at least 2 distinct values")


def fit_points(
    law: str,
    n,
    loss,
    d=None,
    *,
    groups=None,               # one label per point (e.g. the seed): bootstrap whole groups (not for chinchilla)
    n_boot: int = 200,
    level: float = 0.95,
    seed: int = 0,
    exclude_highest: int = 0,  # chinchilla: leave out the points with the highest loss (Epoch: 5)
    n_starts: int | None = 64,  # chinchilla: L-BFGS starts (best of Hoffmann's grid); None: all 4,500
    budgets=None,              # chinchilla: FLOP budgets for the IsoFLOP estimate (Approach 2); None: skip it
    names: dict[str, str] | None = None,
    source: str = "",
) -> ScalingFit:
    """Check the points and fit ``law`` (a key of ``LAW_NAMES``); see the module docstring."""
    check_choice(law, "--law", tuple(LAW_NAMES))
    names = {"n": "N", "loss": "loss", **({"d": "D"} if law == "chinchilla" else {}), **(names or {})}
    n = check_positive(n, names["n"])
    loss = check_positive(loss, names["loss"])
    if n.size != loss.size:
        raise FitError(f"{names['n']} has {n.size} values but {names['loss']} has {loss.size}; they must pair up")
    _distinct(n, names["n"])
    if law == "chinchilla":
        if d is None:
            raise FitError("--law chinchilla: needs D (training tokens) as well as N and the loss")
        d = check_positive(d, names["d"])
        _distinct(d, names["d"])
        f = fit_chinchilla(n, d, loss, n_boot=n_boot, level=level, seed=seed, exclude_highest=exclude_highest,
                           n_starts=n_starts)
        iso = None
        if budgets is not None:                  # the same points the parametric fit used
            iso = isoflop_profiles(f.n, f.d, f.loss, budgets=budgets, n_boot=n_boot, level=level, seed=seed)
        return ScalingFit(law, f, names, source, allocation=compute_optimal(f), isoflop=iso)
    L = get_law(LAW_NAMES[law])
    need = L.min_points()
    if np.unique(n).size < need:
        raise FitError(f"--law {law}: {np.unique(n).size} distinct {names['n']} values; {L.name} needs at least {need} "
                       f"to fit {len(L.params)} parameters")
    f = fit(L, n, loss, groups=groups, n_boot=n_boot, level=level, seed=seed, name=f"--law {law}")
    return ScalingFit(law, f, names, source, groups=None if groups is None else np.asarray(groups))
