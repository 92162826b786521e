"""Reading trained networks: phases, Fourier circuits, progress measures, constructions, fallibility,
phase maps over sweeps and the critical dataset size.

>>> from grokscope.analysis import phase
>>> phase(mem_step=200, gen_step=3000)
'grokking'

``analyze_run(store, run_id)`` returns a run's whole analysis as one plain data object
(``RunAnalysis``, JSON via ``to_json()``), built from the ``MEASURES`` that apply to its task
and model; ``grokscope.report`` and ``grokscope analyze`` draw and write it.

References: Nanda, Chan, Lieberum, Smith, Steinhardt 2023, "Progress measures for grokking via
mechanistic interpretability"; Pearce, Ghandeharioun, Hussein, Thain, Wattenberg, Dixon 2023,
"Do machine learning models memorize or generalize?" (PAIR; stars, constructions); Gokhale 2023,
"The semantic landscape paradigm for neural networks" §2 (fallibility, heuristic models).
See docs/analysis.md.
"""

from grokscope.analysis._checkpoints import Measures, checkpoint_measures
from grokscope.analysis._construct import (
    accuracy_grid, circular_construction, construction_accuracy, construction_ensemble, construction_logits, relu_errors,
)
from grokscope.analysis._critical import CriticalResult, critical_data_size, plot_critical
from grokscope.analysis._fallibility import TransientRise, fallibility, transient_rise
from grokscope.analysis._fits import Fit, ModelComparison, compare_fits, fit_power_offset, fit_shifted_power
from grokscope.analysis._fourier import (
    NeuronFourier, WaveFit, dft, dft2, fourier_basis, frequency_energy, frequency_group_logits, key_frequencies,
    neuron_fourier, wave_fit,
)
from grokscope.analysis._heuristic import HeuristicLabel, frequencies_in_use, heuristic_labels, label_walk
from grokscope.analysis._irreps import IRREPS_MEASURE, IrrepUsage, irrep_usage, run_irrep_usage
from grokscope.analysis._measures import MEASURES, Measure, RunContext
from grokscope.analysis._phasemap import PhaseMap, member_phase, phase_map, plot_phase_map, point_table
from grokscope.analysis._phases import PHASES, THRESHOLD, delay_ratio, first_step_at_or_above, phase
from grokscope.analysis._progress import (
    PHASE_RULE, Phases, excluded_logits, gini, progress_phases, restricted_logits, sum_squared_weights,
)
from grokscope.analysis._run_analysis import (
    RunAnalysis, analyze, analyze_command, analyze_run, analyze_run_data, write_analysis_json,
)
from grokscope.analysis._run_data import RunData, load_run
from grokscope.analysis._snapshot import fourier_snapshot, parity_curves
from grokscope.analysis._sparsity import bit_mass, relevant_fraction, relevant_fraction_curves

__all__ = [
    "PHASES", "THRESHOLD", "delay_ratio", "first_step_at_or_above", "phase",
    "fourier_basis", "dft", "dft2", "frequency_energy", "key_frequencies", "NeuronFourier", "neuron_fourier",
    "frequency_group_logits", "WaveFit", "wave_fit",
    "restricted_logits", "excluded_logits", "gini", "sum_squared_weights", "Phases", "PHASE_RULE", "progress_phases",
    "circular_construction", "construction_logits", "construction_accuracy", "accuracy_grid", "relu_errors",
    "construction_ensemble",
    "fallibility", "TransientRise", "transient_rise",
    "HeuristicLabel", "heuristic_labels", "label_walk", "frequencies_in_use",
    "bit_mass", "relevant_fraction", "relevant_fraction_curves",
    "CriticalResult", "critical_data_size", "plot_critical",
    "Fit", "ModelComparison", "fit_shifted_power", "fit_power_offset", "compare_fits",
    "PhaseMap", "phase_map", "plot_phase_map", "point_table", "member_phase",
    "analyze", "analyze_command", "load_run", "checkpoint_measures", "fourier_snapshot",
    "RunAnalysis", "analyze_run", "analyze_run_data", "write_analysis_json",
    "Measure", "MEASURES", "RunContext", "RunData", "Measures", "parity_curves",
    "IrrepUsage", "irrep_usage", "run_irrep_usage", "IRREPS_MEASURE",
]
