"""Deprecated module path, kept so that code importing it keeps working.

``grokscope.analysis._analyze_cli`` *is* :mod:`grokscope.analysis._run_analysis` (one module
under two names, so that setting an attribute on one is seen through the other). The analysis
pipeline lives there; the ``grokscope analyze`` command lives in ``grokscope.cli``.
"""

import sys

from grokscope.analysis import _run_analysis

sys.modules[__name__] = _run_analysis
