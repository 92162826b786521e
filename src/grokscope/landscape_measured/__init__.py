"""The semantic landscape measured on trained networks, beside the simulator's.

Gokhale 2023 ("The semantic landscape paradigm for neural networks", §2–3) pictures training as
a walk on a graph of heuristic models with fallibility F, hops over barriers with Arrhenius
waiting times (Eq. 3), F split over train, test and never-seen inputs (Eq. 2), and grokking
time diverging at a critical data size. ``grokscope.theory`` simulates that picture; this
package measures it on a stored sweep and puts the two side by side:

* walks and the empirical graph (``_walks``, ``_graph``): nodes = heuristic-model labels at each
  checkpoint (``_members``: frequencies in use and memorized fraction, irreps in use and memorized
  fraction for group tasks (``_irreps``), or parity's bits in use),
  the transitions observed, dwell time and F per node; the simulator's walks observed the same
  way (``_simulated``);
* Arrhenius, tested (``_arrhenius``): log waiting time against the barrier dF, fitted through
  ``grokscope.fit`` with a bootstrap interval;
* Eq. 2 with a real unseen split (``_eq2``);
* theory beside measurement (``_theory``): t_g against D − D_c from ``grokscope landscape
  grokking`` and ``grokscope critical``, read from one store;
* one object for all (``_measure``) and its figures (``_figures``).

>>> from grokscope.landscape_measured import Walk, empirical_graph
>>> import numpy as np
>>> g = empirical_graph([Walk("w", np.array([0, 5, 9]), ("mem", "mem", "gen"), np.array([9.0, 8.0, 0.1]))])
>>> [(e.src, e.dst, e.wait_mean) for e in g.edges]
[('mem', 'gen', 9.0)]

See docs/landscape-measured.md for the command and measured numbers.
"""

from grokscope.landscape_measured._arrhenius import (
    ARRHENIUS,
    BARRIERS,
    WAITS,
    ArrheniusTest,
    arrhenius_test,
    barrier_crossings,
    fit_arrhenius,
)
from grokscope.landscape_measured._eq2 import Eq2Result, eq2_curves
from grokscope.landscape_measured._figures import (
    plot_arrhenius,
    plot_eq2,
    plot_graph,
    plot_theory,
)
from grokscope.landscape_measured._graph import (
    Edge,
    EmpiricalGraph,
    Node,
    empirical_graph,
)
from grokscope.landscape_measured._irreps import (
    IRREP_ENERGY,
    group_labels,
    irrep_label,
    irreps_in_use,
    memorized_fraction,
)
from grokscope.landscape_measured._measure import (
    PARTS,
    LandscapeMeasurement,
    measure_landscape,
    write_measurement,
)
from grokscope.landscape_measured._members import (
    BIT_FACTOR,
    MemberRecord,
    coarse_label,
    load_members,
    parity_label,
)
from grokscope.landscape_measured._simulated import simulated_walks
from grokscope.landscape_measured._theory import (
    THEORY_NAME,
    TheoryComparison,
    theory_run,
    theory_vs_measurement,
)
from grokscope.landscape_measured._walks import Visit, Walk, visits, walk_stats

__all__ = [
    "ARRHENIUS",
    "BARRIERS",
    "BIT_FACTOR",
    "IRREP_ENERGY",
    "PARTS",
    "THEORY_NAME",
    "WAITS",
    "ArrheniusTest",
    "Edge",
    "EmpiricalGraph",
    "Eq2Result",
    "LandscapeMeasurement",
    "MemberRecord",
    "Node",
    "TheoryComparison",
    "Visit",
    "Walk",
    "arrhenius_test",
    "barrier_crossings",
    "coarse_label",
    "empirical_graph",
    "eq2_curves",
    "fit_arrhenius",
    "group_labels",
    "irrep_label",
    "irreps_in_use",
    "load_members",
    "measure_landscape",
    "memorized_fraction",
    "parity_label",
    "plot_arrhenius",
    "plot_eq2",
    "plot_graph",
    "plot_theory",
    "simulated_walks",
    "theory_run",
    "theory_vs_measurement",
    "visits",
    "walk_stats",
    "write_measurement",
]
