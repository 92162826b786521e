"""The explorer: scrub through a run's training in a browser, and open a sweep's runs from its phase map.

>>> from grokscope.explorer import open_target                   # doctest: +SKIP
>>> server, url = open_target("runs.db", "3", port=0)  # doctest: +SKIP
>>> server.serve_forever()                                       # doctest: +SKIP

``grokscope explore [RUN | SWEEP]`` is this, plus opening the browser. The server
(``_server.py``) only reads the store; the page (``static/``) draws with plotly.js from the
``plotly`` package, so nothing is fetched from the network. The views and the data format are
described in docs/explorer.md.
"""

from grokscope.explorer._binary import CONTENT_TYPE, decode_arrays, encode_arrays
from grokscope.explorer._frames import EXAMPLE_INPUT, member_frames
from grokscope.explorer._open import DEFAULT_PORT, open_target, parse_target
from grokscope.explorer._server import ExplorerServer, make_server

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_PORT",
    "EXAMPLE_INPUT",
    "ExplorerServer",
    "decode_arrays",
    "encode_arrays",
    "make_server",
    "member_frames",
    "open_target",
    "parse_target",
]
