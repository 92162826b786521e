"""The explorer's local web server: static files shipped in the package, and read-only data endpoints.

Why the standard library's ``http.server`` (``ThreadingHTTPServer``) and not a web framework: the
app serves a handful of GET endpoints to one local browser, every one a read of the store; it
needs no routing library, templating, sessions or async I/O, and the stdlib server adds no
dependency to install or keep patched. One thread per request keeps a slow analysis from
blocking the curves. What a framework would give us for free is written out below and tested
(``tests/browser/test_security.py``):

- only GET and HEAD are answered; every other method gets 405 (nothing on the server writes);
- files are served from a fixed table of names (``STATIC``), never by joining a request path
  to a directory, so ``/../`` reaches nothing; a path containing ``..`` is refused outright;
- it binds 127.0.0.1 unless told otherwise, and refuses requests whose ``Host`` header names
  another host (a web page cannot use DNS rebinding to read the store through the browser);
- every response forbids sniffing and framing, and the page's Content-Security-Policy allows
  scripts from this server only, so stored text (a run named ``<script>...``) can never run.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, unquote, urlsplit

from grokscope.errors import GrokscopeError, StoreError
from grokscope.explorer import _data
from grokscope.explorer._binary import CONTENT_TYPE

__all__ = ["STATIC", "ExplorerServer", "make_server", "plotly_js"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def plotly_js() -> bytes:
    """plotly.js as shipped inside the ``plotly`` Python package (no CDN: the page works offline)."""
    try:
        return (resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    except ModuleNotFoundError as e:
        raise GrokscopeError("grokscope explore draws with plotly.js from the `plotly` package; "
                             "install it: pip install 'grokscope[explore]'") from e


def _own(name: str) -> bytes:
    return (resources.files("grokscope.explorer") / "static" / name).read_bytes()


# url -> (loader, content type): the only files the server can send
STATIC = {
    "/": (lambda: _own("index.html"), "text/html; charset=utf-8"),
    "/static/app.js": (lambda: _own("app.js"), "text/javascript; charset=utf-8"),
    "/static/run_figures.js": (lambda: _own("run_figures.js"), "text/javascript; charset=utf-8"),
    "/static/run_view.js": (lambda: _own("run_view.js"), "text/javascript; charset=utf-8"),
    "/static/sweep_view.js": (lambda: _own("sweep_view.js"), "text/javascript; charset=utf-8"),
    "/static/main.js": (lambda: _own("main.js"), "text/javascript; charset=utf-8"),
    "/static/style.css": (lambda: _own("style.css"), "text/css; charset=utf-8"),
    "/static/plotly.min.js": (plotly_js, "text/javascript; charset=utf-8"),
}
CSP = ("default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data: blob:; "
       "style-src 'self' 'unsafe-inline'; font-src 'self' data:; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")  # plotly sets inline styles on its elements; scripts only from files above

_ROUTES = (
    (re.compile(r"^/api/index$"), "index"),
    (re.compile(r"^/api/run/(\d+)$"), "run"),
    (re.compile(r"^/api/run/(\d+)/metrics$"), "metrics"),
    (re.compile(r"^/api/run/(\d+)/frames/(\d+)$"), "frames"),
    (re.compile(r"^/api/run/(\d+)/analysis/(\d+)$"), "analysis"),
    (re.compile(r"^/api/sweep/([^/]+)$"), "sweep"),
    (re.compile(r"^/api/sweep/([^/]+)/map$"), "sweep_map"),
)


class ExplorerServer(ThreadingHTTPServer):
    """The HTTP server holding the store, the payload cache and the static files read so far."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], store, *, quiet: bool = True):
        self.store, self.quiet = store, quiet
        self.cache = _data.Cache()
        self._static: dict[str, bytes] = {}
        self._static_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address) -> None:
        """A client that disconnects mid-answer is normal for a page that navigates; other errors are printed."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"

    def static(self, path: str) -> bytes:
        with self._static_lock:
            if path not in self._static:
                self._static[path] = STATIC[path][0]()
            return self._static[path]

    def etag(self, path: str) -> str:
        return '"' + hashlib.sha256(self.static(path)).hexdigest()[:20] + '"'  # cheap next to a 4.8 MB send


def make_server(store, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True) -> ExplorerServer:
    """A server for ``store`` bound to ``host:port`` (0: any free port); call ``serve_forever()``."""
    return ExplorerServer((host, port), store, quiet=quiet)


class _Handler(BaseHTTPRequestHandler):
    server: ExplorerServer
    server_version = "grokscope-explorer"
    protocol_version = "HTTP/1.1"

    # ------------------------------------------------------------------ methods
    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _refuse_method(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"read-only: GET and HEAD only\n", "text/plain; charset=utf-8",
                   extra={"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse_method

    def log_message(self, format: str, *args) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)

    # ------------------------------------------------------------------ routing
    def _host_ok(self) -> bool:
        """The Host header must name the address we are bound to (DNS-rebinding guard)."""
        bound = self.server.server_address[0]
        host = (self.headers.get("Host") or "").strip()
        name = host[1:].split("]")[0] if host.startswith("[") else host.rsplit(":", 1)[0]
        if bound in LOOPBACK:
            return name in LOOPBACK
        return True  # bound elsewhere on purpose (--host): any name that reaches us

    def _serve(self, body: bool) -> None:
        url = urlsplit(self.path)
        path = url.path
        if ".." in path or ".." in unquote(path) or "\\" in unquote(path):
            return self._error(HTTPStatus.NOT_FOUND, "no such file")
        if not self._host_ok():
            return self._error(HTTPStatus.FORBIDDEN, "unexpected Host header")
        if path == "/index.html":
            path = "/"
        if path in STATIC:
            try:
                data = self.server.static(path)
            except GrokscopeError as e:
                return self._error(HTTPStatus.INTERNAL_SERVER_ERROR, str(e))
            etag = self.server.etag(path)
            if self.headers.get("If-None-Match") == etag:  # the browser's copy is current: plotly.js is not resent
                return self._send(HTTPStatus.NOT_MODIFIED, b"", STATIC[path][1], body=False, extra={"ETag": etag})
            return self._send(HTTPStatus.OK, data, STATIC[path][1], body=body,
                              extra={"Cache-Control": "no-cache", "ETag": etag})
        for pattern, name in _ROUTES:
            m = pattern.match(path)
            if m:
                return self._api(name, [unquote(g) for g in m.groups()], parse_qs(url.query), body)
        return self._error(HTTPStatus.NOT_FOUND, "no such file")

    def _api(self, name: str, args: list[str], query: dict, body: bool) -> None:
        store, cache = self.server.store, self.server.cache
        q = {k: v[0] for k, v in query.items()}
        try:
            if name == "index":
                out = _data.runs_index(store)
            elif name == "run":
                out = _data.run_meta(store, int(args[0]))
            elif name == "metrics":
                out = _data.run_metrics(store, int(args[0]))
            elif name == "frames":
                out = _data.run_frames(store, int(args[0]), int(args[1]), cache)
            elif name == "analysis":
                out = _data.run_analysis(store, int(args[0]), int(args[1]), cache)
            elif name == "sweep":
                out = _data.sweep_data(store, args[0])
            else:
                if "x" not in q or "y" not in q:
                    return self._error(HTTPStatus.BAD_REQUEST, "the phase map needs ?x=KEY&y=KEY")
                out = _data.sweep_map(store, args[0], q["x"], q["y"])
        except StoreError as e:
            status = HTTPStatus.NOT_FOUND if "not found" in str(e) else HTTPStatus.BAD_REQUEST
            return self._error(status, str(e))
        except GrokscopeError as e:
            return self._error(HTTPStatus.BAD_REQUEST, str(e))
        except Exception as e:  # noqa: BLE001  a bug: tell the page, log the traceback here
            traceback.print_exc(file=sys.stderr)
            return self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(e).__name__}: {e}")
        if isinstance(out, bytes):
            return self._send(HTTPStatus.OK, out, CONTENT_TYPE, body=body)
        return self._send(HTTPStatus.OK, json.dumps(out, allow_nan=False).encode(), "application/json", body=body)

    # ------------------------------------------------------------------ replies
    def _error(self, status: HTTPStatus, message: str) -> None:
        self._send(status, json.dumps({"error": message}).encode(), "application/json")

    def _send(self, status: HTTPStatus, data: bytes, ctype: str, *, body: bool = True,
              extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", CSP)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body and self.command != "HEAD":
            try:
                self.wfile.write(data)
            except ConnectionError:  # the page went away (navigated, closed) before the answer
                self.close_connection = True
