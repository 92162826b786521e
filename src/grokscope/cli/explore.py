"""``grokscope explore [RUN | SWEEP]``: scrub through training in a browser (``grokscope.explorer``)."""

from __future__ import annotations

import typer

from grokscope.cli._common import STORE_OPT, console

app = typer.Typer()


@app.command()
def explore(
    target: str | None = typer.Argument(None, help="A run id, or a sweep name (sweep:NAME for a name of digits). Default: the list of runs and sweeps."),
    store: str | None = STORE_OPT,
    port: int = typer.Option(8765, "--port", help="Port to listen on (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on. Anything but the loopback address "
                             "exposes the store to the network."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Print the URL; do not open a browser."),
) -> None:
    """Open the explorer: learning curves, weights, spectra and stars at any checkpoint; a sweep's phase map.

    The store is only read (a run may be training while you look). Ctrl-C stops the server.
    """
    from grokscope.explorer import open_target
    from grokscope.explorer._open import is_loopback

    server, url = open_target(store, target, host=host, port=port)
    err = console(stderr=True)
    if not is_loopback(host):
        err.print(f"warning: listening on {host}: anyone who can reach this address can read the store "
                  f"{server.store.path}")
    console().print(f"grokscope explorer: {url}  (Ctrl-C to stop)")
    if not no_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
