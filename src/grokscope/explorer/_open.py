"""From ``grokscope explore [RUN | SWEEP]`` to a bound server and the URL of the page to open.

Everything the user typed is checked before a socket is opened: the store must exist (the
explorer never creates one), the run or sweep must be in it, the port must be free. A host other
than the loopback address is allowed only when asked for, and the caller warns about it.
"""

from __future__ import annotations

import importlib.util
import ipaddress
from pathlib import Path
from urllib.parse import quote

from grokscope.errors import ConfigError
from grokscope.explorer._server import LOOPBACK, ExplorerServer, make_server
from grokscope.validate import check_int

__all__ = ["DEFAULT_PORT", "is_loopback", "open_target", "parse_target"]

DEFAULT_PORT = 8765  # unassigned by IANA for a well-known service; --port 0 takes any free port


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_target(target: str | None) -> tuple[str, str] | None:
    """``"3"`` -> ``("run", "3")``; ``"sweep:3"`` or a name -> ``("sweep", ...)``; None -> None (the index).

    >>> parse_target("12"), parse_target("pair-parity"), parse_target("sweep:2")
    (('run', '12'), ('sweep', 'pair-parity'), ('sweep', '2'))
    """
    if target is None or target == "":
        return None
    if target.isdigit():
        return "run", target
    if target.startswith("sweep:") and target[6:]:
        return "sweep", target[6:]
    if target.startswith("run:") and target[4:].isdigit():
        return "run", target[4:]
    return "sweep", target


def _store(path: str | Path | None):
    from grokscope.store import Store, default_store_path

    p = Path(path).expanduser() if path is not None else default_store_path()
    if not p.is_file():
        raise ConfigError(f"store {p}: no such file; train a run first or pass --store PATH to an existing store")
    return Store(p)


def open_target(store_path: str | Path | None, target: str | None = None, *, host: str = "127.0.0.1",
                port: int = DEFAULT_PORT, quiet: bool = True) -> tuple[ExplorerServer, str]:
    """Check the input, bind the server (not yet serving) and return it with the page's URL."""
    from grokscope.sweep import get_sweep

    port = check_int(port, "--port", 0, 65535)
    if not host:
        raise ConfigError("--host '': give an address such as 127.0.0.1")
    store = _store(store_path)
    fragment = ""
    parsed = parse_target(target)
    if parsed is not None:
        kind, ref = parsed
        if kind == "run":
            store.get_run(int(ref))  # StoreError "run N not found; see `grokscope runs`"
            fragment = f"#run={int(ref)}"
        else:
            sw = get_sweep(store, ref)
            fragment = f"#sweep={quote(sw.name, safe='')}"
    if importlib.util.find_spec("plotly") is None:
        raise ConfigError("grokscope explore draws with plotly.js from the `plotly` package, which is not installed; "
                          "pip install 'grokscope[explore]'")
    try:
        server = make_server(store, host, port, quiet=quiet)
    except OSError as e:
        raise ConfigError(f"--port {port} on {host}: cannot listen ({e.strerror}); pick another port, or 0 for any "
                          "free one") from e
    return server, server.url + fragment
