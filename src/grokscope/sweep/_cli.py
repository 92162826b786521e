"""Deprecated: the sweep commands moved to :mod:`grokscope.cli.sweep` (the CLI package).

Kept so that ``from grokscope.sweep._cli import sweep_cmd, sweeps_cmd`` (scripts, tests) still works.
"""

from grokscope.cli.sweep import critical_cmd, phasemap_cmd, sweep_cmd, sweeps_cmd
from grokscope.sweep._critical_data import DATA_KEYS, critical_data

__all__ = ["sweep_cmd", "sweeps_cmd", "phasemap_cmd", "critical_cmd", "critical_data", "DATA_KEYS"]
