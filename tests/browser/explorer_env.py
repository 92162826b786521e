"""What the explorer's browser tests share besides fixtures: names in the test store, finding Chromium.

(A module of its own, not ``conftest``: test modules import it by this unique name.)
"""

from __future__ import annotations

import os
import shutil

XSS_NAME = "<script>alert(1)</script>"
SWEEP = "explorer-test"


def chromium_path() -> str | None:
    return os.environ.get("GROKSCOPE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def browser_skip_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    try:
        import plotly  # noqa: F401
    except ImportError:
        return "plotly is not installed (pip install 'grokscope[explore]')"
    if chromium_path() is None:
        return "no chromium executable (apt-get install -y chromium, or set GROKSCOPE_CHROMIUM)"
    return None
