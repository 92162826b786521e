"""Arrhenius, tested: the waiting time before the grokking transition against the barrier crossed.

Gokhale 2023 ("The semantic landscape paradigm for neural networks", §2.3, Eq. 3) assumes that the
time to hop from model i to model j obeys ``tau_ij = tau0_ij exp(beta (F_j - F_i))``, with beta
independent of data and model size (only tau0 depends on them), and reads the transient rise of
the test loss before grokking (§3.1) as the height of the barrier. Across members, then,
``log t = log tau0 + beta dF``: a straight line of slope beta > 0, the same at every data size.

Per member (definitions):

* the **barrier** is located on the test loss by :func:`grokscope.analysis.transient_rise`
  (its minimum before the global peak = foot, the peak = top); ``dF = F_all(top) - F_all(foot)``,
  in nats summed over every input (Eq. 1), read from the checkpoint curves ("F along the way");
  ``dF_test`` is the same on the test split alone (``barrier="test"`` fits that instead: F_all
  also holds the training inputs, whose F falls while the test loss climbs);
* the **waiting time** (``wait="plateau"``, default) is ``gen_step - mem_step``, the time spent
  memorized before generalizing (the trainer's phase detection); ``wait="rise"`` uses the rise's
  duration (foot to the first return below the foot's level). Members that never generalize are
  censored and left out of the fit (counted).

The fit ``t = tau0 exp(beta dF)`` is least squares on ``log t`` through :func:`grokscope.fit.fit`
with a bootstrap over members, pooled over all members, and *within* data sizes (log t and dF
centred on each data size's mean, so that a tau0 depending on D, as Eq. 3 allows, cannot pose as
a slope).

>>> rng = np.random.default_rng(0)
>>> dF = rng.uniform(0, 4, 200)
>>> f = fit_arrhenius(dF, 50 * np.exp(0.7 * dF) * rng.lognormal(0, 0.2, 200), n_boot=100)
>>> f.params["beta"].lo < 0.7 < f.params["beta"].hi
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from grokscope._json import jsonable
from grokscope.analysis import transient_rise
from grokscope.errors import AnalysisError
from grokscope.fit import FitError, FitResult, Law, fit
from grokscope.validate import check_choice

__all__ = ["ARRHENIUS", "BARRIERS", "WAITS", "ArrheniusTest", "arrhenius_test", "barrier_crossings", "fit_arrhenius"]

WAITS = ("plateau", "rise")
BARRIERS = ("all", "test")  # dF read on F_all (Eq. 1: every input) or on F_test alone


def _solve(x, y, fixed, x0_min):
    ly = np.log(y)
    dx = x - x.mean()
    beta = float((dx * (ly - ly.mean())).sum() / (dx * dx).sum())
    log_tau0 = float(ly.mean() - beta * x.mean())
    r = ly - log_tau0 - beta * x
    return np.array([math.exp(log_tau0), beta]), float(r @ r)


def _predict(x, tau0, beta):
    return tau0 * np.exp(beta * x)


# Eq. 3 of Gokhale 2023 as a law of grokscope.fit: a line through (dF, log t).
ARRHENIUS = Law("arrhenius", ("tau0", "beta"), "tau0 * exp(beta * x)", _solve, _predict, log_x=False, nonlinear=False)


def fit_arrhenius(dF, t, *, n_boot: int = 500, level: float = 0.95, seed=0, groups=None) -> FitResult:
    """Fit ``t = tau0 exp(beta dF)`` (least squares on log t) with a bootstrap interval on beta."""
    return fit(ARRHENIUS, dF, t, n_boot=n_boot, level=level, seed=seed, groups=groups, name="arrhenius")


def barrier_crossings(members, wait: str = "plateau") -> list[dict]:
    """One row per member: the barrier (foot, top, dF, dF_test, rise height) and the waiting time."""
    check_choice(wait, "wait", WAITS)
    rows = []
    for m in members:
        c = m.curves
        r = transient_rise(m.steps, c["test_loss"])
        foot, top = r.start_step[0], r.peak_step[0]
        row = {"member": m.name, "data_size": m.data_size, "values": m.values, "foot_step": foot, "top_step": top,
               "height_nats": r.height[0], "mem_step": m.mem_step, "gen_step": m.gen_step,
               "dF": float("nan"), "dF_test": float("nan"), "wait": float("nan")}
        if np.isfinite(foot):
            i, j = int(np.searchsorted(m.steps, foot)), int(np.searchsorted(m.steps, top))
            row["dF"] = float(c["F_all"][j] - c["F_all"][i])
            row["dF_test"] = float(c["F_test"][j] - c["F_test"][i])
        if wait == "plateau":
            row["wait"] = m.gen_step - m.mem_step if np.isfinite(m.gen_step) and np.isfinite(m.mem_step) else float("nan")
        elif np.isfinite(r.end_step[0]) and np.isfinite(m.gen_step):
            row["wait"] = float(r.duration[0])
        rows.append(row)
    return rows


@dataclass
class ArrheniusTest:
    """The crossings, the pooled and within-data-size fits of log t on dF, and what Eq. 3 implies."""

    wait: str
    barrier: str  # "all": dF on F_all; "test": dF on F_test
    rows: list[dict]
    n_crossed: int  # members with a finite, positive waiting time and a barrier
    n_censored: int  # members that never crossed within the budget
    pooled: FitResult | None
    within: FitResult | None
    reasons: dict[str, str] = field(default_factory=dict)  # why a fit is missing
    implied: str = ("Eq. 3 (Gokhale 2023): log t = log tau0 + beta dF, slope beta > 0 and the same at every data "
                    "size D (only tau0 depends on D, N); the simulator `grokscope landscape grokking` uses beta = 1 "
                    "per unit of its dimensionless F, not a number in nats of a trained network")

    @staticmethod
    def _fit_dict(f: FitResult | None) -> dict | None:
        if f is None:
            return None
        return {"beta": f.params["beta"].to_dict(), "tau0": f.params["tau0"].to_dict(), "n_points": f.n_points,
                "rss": f.rss, "definition": f.definition, "n_boot": f.n_boot, "n_boot_failed": f.n_boot_failed}

    def to_dict(self) -> dict:
        return jsonable({"wait": self.wait, "barrier": self.barrier, "rows": self.rows, "n_crossed": self.n_crossed,
                         "n_censored": self.n_censored, "pooled": self._fit_dict(self.pooled),
                         "within_data_size": self._fit_dict(self.within), "reasons": self.reasons,
                         "implied_by_eq3": self.implied, "beta_simulator": 1.0})

    def summary(self) -> str:
        lines = [f"Arrhenius (wait = {self.wait}, dF on F_{self.barrier}): {self.n_crossed} members crossed, {self.n_censored} censored"]
        for name, f in (("pooled", self.pooled), ("within data sizes", self.within)):
            if f is None:
                lines.append(f"  {name}: no fit ({self.reasons.get(name, '')})")
            else:
                b = f.params["beta"]
                lines.append(f"  {name}: beta = {float(b):.4g} [{b.lo:.4g}, {b.hi:.4g}] per nat of F_{self.barrier} "
                             f"({f.n_points} members; Eq. 3 implies beta > 0: "
                             f"{'yes' if b.lo > 0 else 'no' if b.hi < 0 else 'undecided'})")
        return "\n".join(lines)


def arrhenius_test(members, *, wait: str = "plateau", barrier: str = "all", n_boot: int = 500, level: float = 0.95,
                   seed=0) -> ArrheniusTest:
    """Measure every member's crossing and fit log t against dF (see the module docstring)."""
    check_choice(barrier, "barrier", BARRIERS)
    rows = barrier_crossings(members, wait)
    dF = np.array([r["dF" if barrier == "all" else "dF_test"] for r in rows])
    t = np.array([r["wait"] for r in rows])
    D = np.array([r["data_size"] for r in rows])
    ok = np.isfinite(dF) & np.isfinite(t) & (t > 0)
    res = ArrheniusTest(wait, barrier, rows, int(ok.sum()), int((~np.isfinite(t)).sum()), None, None)
    try:
        res.pooled = fit_arrhenius(dF[ok], t[ok], n_boot=n_boot, level=level, seed=seed)
    except FitError as e:
        res.reasons["pooled"] = str(e)
    # Within data sizes: centre log t and dF on each size's mean (sizes with >= 2 crossings).
    x, y = [], []
    for d in np.unique(D[ok]):
        g = ok & (D == d)
        if g.sum() >= 2:
            x.append(dF[g] - dF[g].mean())
            y.append(np.exp(np.log(t[g]) - np.log(t[g]).mean()))
    try:
        if not x:
            raise AnalysisError("no data size with 2 or more members that crossed")
        res.within = fit_arrhenius(np.concatenate(x), np.concatenate(y), n_boot=n_boot, level=level, seed=seed)
    except (FitError, AnalysisError) as e:
        res.reasons["within data sizes"] = str(e)
    return res
