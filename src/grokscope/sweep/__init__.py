"""Sweeps: families of runs over config keys, packed into ensembles, resumable after any kill.

>>> from grokscope.sweep import load_spec, run_sweep, sweep_members
>>> spec = load_spec("sweep-pair-parity")          # a bundled spec, or a path to your own TOML
>>> spec.n_members
1125
>>> report = run_sweep(spec)                       # doctest: +SKIP
>>> members = sweep_members(store, "pair-parity")  # doctest: +SKIP

``run_sweep`` can be re-run after a crash with the same spec: it continues where it stopped.
``sweep_members`` gives per member the swept values, phase, steps, and its (run, member).
See ``docs/sweeps.md`` for the spec format and the commands.
"""

from grokscope.sweep._critical_data import DATA_KEYS, critical_data
from grokscope.sweep._executor import BACKENDS, SweepReport, run_name, run_sweep, spec_difference
from grokscope.sweep._pack import EnsemblePlan, chunk_sizes, pack
from grokscope.sweep._presets import preset_path, sweep_presets
from grokscope.sweep._spec import Point, SweepSpec, load_spec, parse_spec
from grokscope.sweep._tables import SweepRecord, get_sweep, list_sweeps, sweep_members

__all__ = [
    # specs
    "SweepSpec",
    "Point",
    "load_spec",
    "parse_spec",
    "sweep_presets",
    "preset_path",
    # packing and running
    "EnsemblePlan",
    "pack",
    "chunk_sizes",
    "run_sweep",
    "SweepReport",
    "BACKENDS",
    "run_name",
    "spec_difference",
    # reading results
    "SweepRecord",
    "list_sweeps",
    "get_sweep",
    "sweep_members",
    "critical_data",
    "DATA_KEYS",
]
