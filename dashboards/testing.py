"""Helpers for browser tests and benchmarks: serve an app in a thread, launch Debian's Chromium.

Playwright drives the system Chromium (``/usr/bin/chromium``); it never downloads
browsers. WebGL runs on SwiftShader (software), like a machine without a GPU.
"""

from __future__ import annotations

import os
import shutil
import threading
from contextlib import contextmanager

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "callback_body",
    "chromium_path",
    "serve_in_thread",
    "launch_chromium",
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    # software WebGL (SwiftShader) for MapLibre on machines without a GPU
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--ignore-gpu-blocklist",
]


def chromium_path() -> str | None:
    """The Chromium executable (``GRIDMAP_CHROMIUM`` or /usr/bin/chromium), None when absent."""
    path = os.environ.get("GRIDMAP_CHROMIUM", CHROMIUM)
    return path if os.path.exists(path) or shutil.which(path) else None


@contextmanager
def serve_in_thread(app, host: str = "127.0.0.1"):
    """Run a Dash app's Flask server on a free port in a daemon thread; yields the base URL."""
    # werkzeug (a Flask dependency) is needed only by tests and benchmarks serving in a thread
    from werkzeug.serving import WSGIRequestHandler, make_server

    class _Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs) -> None:  # keep test output readable
            pass

    server = make_server(host, 0, app.server, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def waitress_in_thread(app, host: str = "127.0.0.1", **options):
    """Run a Dash app on the production server (waitress) in a daemon thread; yields the base URL.

    ``options`` go to :func:`waitress.create_server` (``threads=``, ``max_request_body_size=``).
    Closing waitress from another thread can make its select loop fail on the closed socket;
    that error, and only once the server is being stopped, is expected and swallowed.
    """
    # waitress is needed only by `gridmap serve`, tests and benchmarks
    import waitress

    server = waitress.create_server(app.server, host=host, port=0, **options)
    stopping = threading.Event()

    def run() -> None:
        try:
            server.run()
        except (OSError, ValueError):
            if not stopping.is_set():
                raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.effective_port}"
    finally:
        stopping.set()
        server.close()
        thread.join(timeout=5)


def launch_chromium(playwright, **kwargs):
    """Launch the system Chromium headless (raises when it is absent)."""
    path = chromium_path()
    if path is None:
        raise FileNotFoundError(f"Chromium not found at {CHROMIUM} (Debian package 'chromium')")
    return playwright.chromium.launch(
        executable_path=path, args=CHROMIUM_ARGS, headless=True, **kwargs
    )


def callback_body(deps: list[dict], trigger: str, values: dict[str, object]) -> dict:
    """The JSON Dash's renderer POSTs when ``trigger`` ("id.prop") fires its callback.

    Parameters
    ----------
    deps
        The app's callback map (``GET /_dash-dependencies``).
    trigger
        The input that fired, ``"id.property"``.
    values
        The value of every input and state by ``"id.property"`` (missing ones are None).
    """
    dep = next(d for d in deps if any(f"{i['id']}.{i['property']}" == trigger for i in d["inputs"]))
    outputs = []
    for part in dep["output"].strip(".").split("..."):
        cid, _, prop = part.rpartition(".")
        outputs.append({"id": cid, "property": prop})

    def filled(items: list[dict]) -> list[dict]:
        return [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in items]

    return {
        "output": dep["output"],
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": filled(dep["inputs"]),
        "state": filled(dep["state"]),
        "changedPropIds": [trigger],
    }
