"""Theory beside measurement: t_g against D - D_c from the simulator and from trained networks.

Gokhale 2023 ("The semantic landscape paradigm for neural networks", §3.1) predicts that above a
critical data size D_c the grokking time falls as ``t_g ∝ (D - D_c)^-nu`` with nu = 1.

* **Simulator**: a stored ``grokscope landscape grokking`` run (kind "simulation", name
  ``landscape-grokking``; arrays ``deltas`` and ``t_quenched [rule, realization, delta]``): the
  exact mean first-passage time M_M -> M_G at each realization's own D_c + delta, averaged over
  realizations, and its fitted nu. D is the mean degree of the model graph, t in units of 1/R0.
* **Measurement**: :func:`grokscope.sweep.critical_data` and
  :func:`grokscope.analysis.critical_data_size` on a trained sweep (what ``grokscope critical``
  prints): each member's data size minus D_c (the fitted asymptotic D_c when the law could be
  fitted, else the half-the-seeds threshold), its steps to generalize, and nu.

Both are read from the same store. Their units differ (mean degree vs training fraction, 1/R0
vs steps), so the figure puts them on two axes side by side with the nu = 1 guide on both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grokscope._json import jsonable
from grokscope.errors import AnalysisError

__all__ = ["THEORY_NAME", "TheoryComparison", "theory_run", "theory_vs_measurement"]

THEORY_NAME = "landscape-grokking"  # the name save_study gives a `grokscope landscape grokking` run


@dataclass
class TheoryComparison:
    """The simulator's and the trained sweep's t_g against D - D_c, with each one's nu."""

    theory_run: int
    rule: str
    sim_delta: np.ndarray  # [n_delta] D - D_c (mean degree)
    sim_t: np.ndarray  # [n_delta] mean over realizations of the exact MFPT
    sim_nu: dict  # the quenched fits: over every delta ("nu", "nu_ci95") and over delta >= fit_from ("nu_from", ...)
    key: str  # the sweep's data-size key
    d_c: float
    d_c_kind: str  # "fit" or "threshold"
    meas_delta: np.ndarray  # [members that generalized above D_c] D - D_c
    meas_t: np.ndarray  # [same] steps to generalize
    sizes_delta: np.ndarray  # [sizes above D_c] D - D_c
    median_t: np.ndarray  # [same] median steps over seeds (inf where <= half generalized)
    critical: dict  # CriticalResult.to_dict()

    def to_dict(self) -> dict:
        return jsonable({k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()})

    def summary(self) -> str:
        c = self.critical
        n = self.sim_nu
        return (f"theory (run {self.theory_run}, {self.rule}): nu = {n['nu']:.3g} [{n['nu_ci95'][0]:.3g}, "
                f"{n['nu_ci95'][1]:.3g}] (all D - D_c), {n['nu_from']:.3g} [{n['nu_from_ci95'][0]:.3g}, "
                f"{n['nu_from_ci95'][1]:.3g}] (D - D_c >= {n['fit_from']:g}); measured ({self.key}): "
                f"D_c = {self.d_c:.4g} ({self.d_c_kind}), nu = {c['nu']:.3g} [{c['nu_ci'][0]:.3g}, {c['nu_ci'][1]:.3g}]"
                "; Gokhale 2023 predicts nu = 1")


def theory_run(store, run_id: int | None = None) -> int | None:
    """The id of run ``run_id`` if it is a stored grokking study, else the latest one (None if there is none)."""
    sims = [r for r in store.list_runs(kind="simulation") if r.name == THEORY_NAME and r.status == "finished"]
    if run_id is None:
        return sims[-1].id if sims else None
    if run_id not in {r.id for r in sims}:
        known = ", ".join(str(r.id) for r in sims) or "none"
        raise AnalysisError(f"--theory-run {run_id}: not a finished `grokscope landscape grokking` run in {store.path} "
                            f"(those: {known})")
    return run_id


def theory_vs_measurement(store, sweep: str, *, key: str | None = None, where: dict | None = None,
                          theory: int | None = None, simulate=None, n_boot: int = 500,
                          seed: int = 0) -> TheoryComparison:
    """Read the sweep's ``grokscope critical`` data and the stored grokking study ``theory`` (default: the latest).

    ``simulate``: called (to run and store a grokking study) when the store holds none, only once
    the sweep's side has been measured.
    """
    from grokscope.analysis import critical_data_size
    from grokscope.sweep import critical_data

    x, t, budget, key = critical_data(store, sweep, key, where)
    res = critical_data_size(x, t, budget=budget, n_boot=n_boot, seed=seed)
    fitted = np.isfinite(res.d_c_fit)
    d_c = float(res.d_c_fit if fitted else res.d_c_threshold)
    if not np.isfinite(d_c):
        raise AnalysisError(f"sweep {sweep!r}: no D_c (fewer than half the seeds generalize at every {key}); "
                            "raise the budget or sweep larger data sizes")
    tid = theory_run(store, theory)
    if tid is None and simulate is not None:
        simulate()
        tid = theory_run(store)
    if tid is None:
        raise AnalysisError(f"{store.path} holds no `grokscope landscape grokking` run; run it with --store {store.path}")
    arrays = store.load_arrays(tid, "grokking")
    rec = store.get_run(tid)
    rule = rec.config["rules"][0]
    t_q = np.asarray(arrays["t_quenched"])[0]  # [realization, delta], first rule
    sim_t = np.array([col[np.isfinite(col)].mean() if np.isfinite(col).any() else np.nan for col in t_q.T])
    q, qf = rec.summary["fits"][rule]["quenched"], rec.summary["fits"][rule]["quenched_from"]
    mt = res.member_t
    above = (res.member_x > d_c) & np.isfinite(mt)
    sz = res.sizes > d_c
    return TheoryComparison(tid, rule, np.asarray(arrays["deltas"], dtype=float), sim_t,
                            {"nu": q["nu"], "nu_ci95": q["nu_ci95"], "nu_from": qf["nu"], "nu_from_ci95": qf["nu_ci95"],
                             "fit_from": rec.config["fit_from"]}, key, d_c, "fit" if fitted else "threshold",
                            res.member_x[above] - d_c, mt[above], res.sizes[sz] - d_c, res.t_median[sz], res.to_dict())
