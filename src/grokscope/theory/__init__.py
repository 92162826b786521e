"""Simulators of a theory of grokking: the semantic landscape of Gokhale (2023).

Reference: Gokhale (2023), "The semantic landscape paradigm for neural networks".

Training as a walk on a graph of heuristic models with fallibility F (§2); grokking
and emergence with scale as percolation transitions on that graph (§3); power-law
scaling in steps, parameters and data from the semantic trap model (§4.1).
See docs/theory.md for the equations, commands and measured results.

Landscapes (``_landscape``): graphs of heuristic models, data D as bond and parameters N as site percolation.
Percolation (``_percolation``): Newman–Ziff sweeps, exact event times, the Erdős–Rényi reference.
Dynamics (``_dynamics``): Arrhenius / Metropolis / Glauber hopping, exact kinetic Monte Carlo, exact MFPTs.
Trap model (``_trap``): Eqs. 4–8, its renewal variant, the exploration that sets τ0.
Fits (``_fit``): power laws with bootstrap intervals, a view of ``grokscope.fit``.
Studies (``_study*``): the experiments behind ``grokscope landscape ...``, as `Study` objects.

>>> from grokscope.theory import square_lattice, bond_sweep
>>> land = square_lattice(64, seed=0)
>>> 0.4 < bond_sweep(land).span_time / land.z < 0.6     # bond p_c = 1/2
True
"""

from grokscope.theory._dynamics import (
    RULES,
    KMCResult,
    RateMatrix,
    hopping_rates,
    mean_first_passage,
    simulate,
    stationary_boltzmann,
)
from grokscope.theory._figures import plot_study
from grokscope.theory._fit import PowerLawFit, fit_power_law
from grokscope.theory._landscape import (
    Landscape,
    barrier_chain,
    bond_probability,
    capacity,
    emergence_landscape,
    erdos_renyi,
    present_edges,
    random_geometric,
    sea_of_minima,
    square_lattice,
)
from grokscope.theory._percolation import (
    Sweep,
    bond_sweep,
    connection_threshold,
    giant_component_fraction,
    percolation_sweep,
    site_sweep,
)
from grokscope.theory._study import Study, save_study
from grokscope.theory._study_grokking import grokking_study
from grokscope.theory._study_percolation import EXACT_PC, emergence_study, percolation_study
from grokscope.theory._study_trap import search_time_exponent, trap_study
from grokscope.theory._trap import WALKS, TrapRun, attempt_time, exploration_times, semantic_trap, trap_waits

__all__ = [
    # landscapes
    "Landscape",
    "square_lattice",
    "erdos_renyi",
    "random_geometric",
    "sea_of_minima",
    "emergence_landscape",
    "barrier_chain",
    "bond_probability",
    "capacity",
    "present_edges",
    # percolation
    "Sweep",
    "percolation_sweep",
    "bond_sweep",
    "site_sweep",
    "connection_threshold",
    "giant_component_fraction",
    "EXACT_PC",
    # dynamics
    "RULES",
    "RateMatrix",
    "hopping_rates",
    "stationary_boltzmann",
    "mean_first_passage",
    "KMCResult",
    "simulate",
    # trap model
    "trap_waits",
    "TrapRun",
    "semantic_trap",
    "attempt_time",
    "exploration_times",
    "WALKS",
    "search_time_exponent",
    # fits
    "PowerLawFit",
    "fit_power_law",
    # studies
    "Study",
    "save_study",
    "plot_study",
    "percolation_study",
    "emergence_study",
    "grokking_study",
    "trap_study",
]
