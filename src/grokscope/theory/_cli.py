"""Deprecated: ``grokscope landscape`` moved to :mod:`grokscope.cli.landscape` (the CLI package).

Kept so that ``from grokscope.theory._cli import app`` (scripts, tests) still works.
"""

from grokscope.cli.landscape import app

__all__ = ["app"]
