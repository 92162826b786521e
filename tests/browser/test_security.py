"""The explorer only reads, only serves its own files, only listens on the loopback address by
default, and shows stored text as text (a run named ``<script>alert(1)</script>``)."""

from __future__ import annotations

import http.client
import inspect
import socket

import pytest
from explorer_env import XSS_NAME, browser_skip_reason


def _request(server, method: str, path: str, headers: dict | None = None) -> tuple[int, bytes, dict]:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request(method, path, headers=headers or {})  # the path is sent as written: no normalization
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, body, dict(r.getheaders())


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_only_reads_are_answered(server, method):
    status, _, headers = _request(server, method, "/api/index")
    assert status == 405 and headers["Allow"] == "GET, HEAD"


def test_head_is_a_get_without_body(server):
    status, body, headers = _request(server, "HEAD", "/")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0


@pytest.mark.parametrize("path", [
    "/../pyproject.toml", "/static/../_server.py", "/static/../../../../etc/passwd", "/static/%2e%2e/_server.py",
    "/static/..%2f_server.py", "/static/_server.py", "/static/..\\_server.py", "/api/../static/app.js",
    "//etc/passwd", "/static/app.js/..",
])
def test_nothing_outside_its_own_files(server, path):
    status, body, _ = _request(server, "GET", path)
    assert status == 404, (path, status)
    assert b"import" not in body and b"root:" not in body


def test_listens_on_loopback_by_default(server, explorer_store):
    from grokscope.cli.explore import explore

    assert server.server_address[0] == "127.0.0.1"
    assert inspect.signature(explore).parameters["host"].default.default == "127.0.0.1"
    # not reachable through this machine's other addresses
    port = server.server_address[1]
    others = set()
    try:
        others = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    except OSError:
        pass
    others = {a for a in others if not a.startswith("127.")}
    for addr in others:
        with pytest.raises(OSError):
            socket.create_connection((addr, port), timeout=2).close()


def test_foreign_host_header_is_refused(server):
    status, _, _ = _request(server, "GET", "/api/index", headers={"Host": "attacker.example:80"})
    assert status == 403


def test_page_allows_only_its_own_scripts(server):
    status, _, headers = _request(server, "GET", "/")
    csp = headers["Content-Security-Policy"]
    assert status == 200 and "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_script_in_a_run_name_is_text(browser, server):
    """With the page's own CSP in force (no bypass): the name is rendered as text and never runs."""
    if browser_skip_reason():
        pytest.skip(browser_skip_reason())
    ctx = browser.new_context()
    page = ctx.new_page()
    dialogs, errors = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url)
    cell = page.get_by_role("cell", name=XSS_NAME, exact=True)
    cell.wait_for(timeout=15000)
    assert cell.inner_text() == XSS_NAME
    cell.click()  # open that run: its title carries the name, as text
    title = page.locator("#run-title")
    title.wait_for(timeout=15000)
    assert XSS_NAME in title.inner_text()
    assert page.locator("script:not([src])").count() == 0
    assert dialogs == [] and errors == []
    ctx.close()
