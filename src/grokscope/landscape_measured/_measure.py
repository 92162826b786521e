"""One landscape measurement of a stored sweep (or run): the four parts, as one JSON-able object.

:func:`measure_landscape` reads the members once (``_members``) and computes

* ``graph``: the empirical graph of heuristic models (``_graph``) and, beside it, the same
  statistics of the simulator's walks observed at as many log-spaced times (``_simulated``);
* ``arrhenius``: log waiting time against the barrier crossed, fitted (``_arrhenius``);
* ``eq2``: F_train, F_test, F_unseen over training (``_eq2``; needs ``task.unseen_frac``);
* ``theory``: t_g against D − D_c from a stored ``grokscope landscape grokking`` run and from
  ``grokscope critical`` on the sweep (``_theory``; needs a swept data size).

``parts=None`` measures every part the data allow and says why any other was skipped; naming
parts makes each of them required (a missing ingredient is then an ``AnalysisError``).
:func:`write_measurement` writes ``landscape_measured.json`` and one PNG per part.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grokscope._json import jsonable
from grokscope.errors import AnalysisError, ConfigError
from grokscope.landscape_measured._arrhenius import (
    BARRIERS,
    WAITS,
    ArrheniusTest,
    arrhenius_test,
)
from grokscope.landscape_measured._eq2 import Eq2Result, eq2_curves
from grokscope.landscape_measured._graph import EmpiricalGraph, empirical_graph
from grokscope.landscape_measured._members import load_members
from grokscope.landscape_measured._simulated import simulated_walks
from grokscope.landscape_measured._theory import TheoryComparison, theory_vs_measurement
from grokscope.validate import check_choice, check_int

__all__ = ["PARTS", "LandscapeMeasurement", "measure_landscape", "write_measurement"]

PARTS = ("graph", "arrhenius", "eq2", "theory")

# The simulator run behind the comparison when the store has no grokking study yet: small enough for
# seconds of CPU (L = 16, 6 landscapes, Arrhenius rule only); `grokscope landscape grokking` runs bigger ones.
SIM_STUDY = {"L": 16, "realizations": 6, "rules": ("arrhenius",), "n_walkers": 100}


@dataclass
class LandscapeMeasurement:
    """Everything measured, with the simulator's counterparts; ``skipped`` says why a part is absent."""

    source: str
    task: str
    n_members: int
    coarse: bool
    graph: EmpiricalGraph | None = None
    sim_graph: EmpiricalGraph | None = None
    sim_config: dict = field(default_factory=dict)
    arrhenius: ArrheniusTest | None = None
    eq2: Eq2Result | None = None
    theory: TheoryComparison | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        part = lambda p: None if p is None else p.to_dict()
        return jsonable({"source": self.source, "task": self.task, "n_members": self.n_members, "coarse": self.coarse,
                         "graph": part(self.graph), "simulator_graph": part(self.sim_graph),
                         "simulator_config": self.sim_config, "arrhenius": part(self.arrhenius),
                         "eq2": part(self.eq2), "theory": part(self.theory), "skipped": self.skipped,
                         "seconds": self.seconds})

    def summary(self) -> str:
        lines = [f"{self.source}: {self.n_members} members, task {self.task}"]
        if self.graph is not None:
            s, t = self.graph.stats, (self.sim_graph.stats if self.sim_graph else {})
            lines.append(f"graph: {s['n_nodes']} heuristic models, {len(self.graph.edges)} distinct hops, "
                         f"{len(self.graph.transitions)} observed")
            for k in ("hops_per_walk", "nodes_per_walk", "revisit_fraction", "uphill_fraction", "dwell_cv",
                      "end_at_lowest_F"):
                lines.append(f"  {k:>16}: networks {s[k]:.3g}   simulator {t.get(k, float('nan')):.3g}")
            lines.append("  most occupied nodes (checkpoints in them; mean completed dwell, steps; F per input, nats):")
            for n in sorted(self.graph.nodes, key=lambda n: -n.n_obs)[:6]:
                f = "  ".join(f"{k[2:-10]} {v:.3g}" for k, v in n.extra.items())
                lines.append(f"    {n.label:<16} {n.n_obs:>4} obs, {n.walks:>3} members, dwell {n.dwell_mean:.4g}  {f}")
        if self.arrhenius is not None:
            lines.append(self.arrhenius.summary())
        if self.eq2 is not None:
            lines.append(self.eq2.summary())
        if self.theory is not None:
            lines.append(self.theory.summary())
        lines += [f"skipped {k}: {v}" for k, v in self.skipped.items()]
        return "\n".join(lines)


def _parts(parts) -> tuple[tuple[str, ...], bool]:
    if parts is None:
        return PARTS, False
    names = tuple(parts)
    if not names:
        raise ConfigError(f"parts=[]: name at least one of {', '.join(PARTS)}")
    for p in names:
        check_choice(p, "parts", PARTS)
    return names, True


def measure_landscape(store, source: str | int, *, run: bool = False, parts=None, coarse: bool = False,
                      wait: str = "plateau", barrier: str = "all", key: str | None = None, where: dict | None = None,
                      theory: int | None = None, simulate_theory: bool = True, theory_out: str | Path | None = None,
                      n_boot: int = 500, sim_walkers: int = 100, sim_L: int = 8, seed: int = 0) -> LandscapeMeasurement:
    """Measure the semantic landscape of sweep ``source`` (or run ``source`` with ``run=True``); see the module."""
    names, required = _parts(parts)
    check_choice(wait, "wait", WAITS)
    check_choice(barrier, "barrier", BARRIERS)
    n_boot, sim_walkers = check_int(n_boot, "n_boot", 0), check_int(sim_walkers, "sim_walkers", 1)
    sim_L, seed = check_int(sim_L, "sim_L", 2), check_int(seed, "seed", 0)
    if theory is not None:
        check_int(theory, "theory", 1)
    t0 = time.perf_counter()
    members = load_members(store, source, run=run)
    out = LandscapeMeasurement(f"run {source}" if run else f"sweep {source!r}", members[0].task, len(members), coarse)

    def attempt(name, fn):
        if name not in names:
            return
        try:
            fn()
        except AnalysisError as e:
            if required:
                raise
            out.skipped[name] = str(e)

    def graph():
        out.graph = empirical_graph([m.walk(coarse) for m in members])
        n_obs = int(np.median([m.steps.size for m in members]))
        out.sim_config = {"landscape": f"sea_of_minima(L={sim_L})", "rule": "arrhenius", "beta": 1.0, "delta": 0.5,
                          "n_walkers": sim_walkers, "n_obs": n_obs, "seed": seed}
        out.sim_graph = empirical_graph(simulated_walks(L=sim_L, n_walkers=sim_walkers, n_obs=n_obs, seed=seed))

    def arrhenius():
        out.arrhenius = arrhenius_test(members, wait=wait, barrier=barrier, n_boot=n_boot, seed=seed)

    def eq2():
        out.eq2 = eq2_curves(members, n_boot=n_boot, seed=seed)

    def theory_part():
        if run:
            raise AnalysisError("the theory comparison reads `grokscope critical` data of a sweep; give a sweep, not --run")

        def simulate():
            from grokscope.theory import grokking_study, save_study

            st = grokking_study(SIM_STUDY["L"], realizations=SIM_STUDY["realizations"], rules=SIM_STUDY["rules"],
                                n_walkers=SIM_STUDY["n_walkers"], seed=seed)
            save_study(st, theory_out or tempfile.mkdtemp(prefix="grokscope-theory-"), store)

        out.theory = theory_vs_measurement(store, str(source), key=key, where=where, theory=theory, n_boot=n_boot,
                                           simulate=simulate if simulate_theory and theory is None else None, seed=seed)

    for name, fn in (("graph", graph), ("arrhenius", arrhenius), ("eq2", eq2), ("theory", theory_part)):
        attempt(name, fn)
    out.seconds = time.perf_counter() - t0
    return out


def write_measurement(m: LandscapeMeasurement, out: str | Path) -> list[Path]:
    """Write ``landscape_measured.json`` and a PNG per measured part into ``out``; returns the paths."""
    from grokscope.landscape_measured._figures import (
        plot_arrhenius,
        plot_eq2,
        plot_graph,
        plot_theory,
    )

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "landscape_measured.json"]
    paths[0].write_text(json.dumps(m.to_dict(), indent=1, allow_nan=False))
    figures = (("graph", m.graph is not None and plot_graph(m.graph, m.sim_graph)),
               ("arrhenius", m.arrhenius is not None and plot_arrhenius(m.arrhenius)),
               ("eq2", m.eq2 is not None and plot_eq2(m.eq2)),
               ("theory", m.theory is not None and plot_theory(m.theory)))
    for name, fig in figures:
        if fig:
            paths.append(out / f"landscape_measured_{name}.png")
            fig.savefig(paths[-1], dpi=130)
    return paths
