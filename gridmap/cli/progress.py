"""Progress of the command line's long steps, on stderr (``rich``).

Each step (reading the layers, the check, the rebalancer, writing outputs) runs inside
:func:`step`. A step that is still running after :data:`DELAY_S` seconds shows a spinner with
its name and the time so far; when it ends a line says how long it took. Quick steps print
nothing. Nothing is shown when stderr is not a terminal (pipes, CI, logs) or with ``--quiet``;
stdout (the summary, ``--json``) is never touched.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["DELAY_S", "step", "add_quiet_argument", "enabled"]

#: seconds a step runs before its spinner appears
DELAY_S = 1.5


def add_quiet_argument(p: Any) -> None:
    """Add ``--quiet`` (no progress on stderr) to a command's parser."""
    p.add_argument("--quiet", "-q", action="store_true", help="no progress messages on stderr")


def enabled(args: Any, stream: Any = None) -> bool:
    """Whether to show progress: stderr is a terminal and ``--quiet`` was not given."""
    stream = sys.stderr if stream is None else stream
    if getattr(args, "quiet", False):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@contextmanager
def step(
    args: Any, zh: str, en: str, *, stream: Any = None, delay: float = DELAY_S
) -> Iterator[None]:
    """Run the body as one named step with progress on ``stream`` (stderr).

    Parameters
    ----------
    args
        The parsed arguments (``lang``; ``quiet``).
    zh, en
        The step's name in Chinese and English (``args.lang`` picks one).
    stream
        Where progress goes (default ``sys.stderr``); only when it is a terminal.
    delay
        Seconds before the spinner appears.
    """
    if not enabled(args, stream):
        yield
        return
    # rich only when progress is shown: importing it costs every other run nothing
    from rich.console import Console

    console = Console(file=sys.stderr if stream is None else stream, highlight=False)
    label = en if getattr(args, "lang", "zh") == "en" else zh
    t0 = time.perf_counter()
    shown: dict[str, Any] = {}
    lock = threading.Lock()

    def show() -> None:
        with lock:
            if "done" not in shown:
                shown["status"] = console.status(f"{label} …", spinner="dots")
                shown["status"].start()
                shown["ticker"] = threading.Thread(target=tick, daemon=True)
                shown["ticker"].start()

    def tick() -> None:
        while "done" not in shown:
            with lock:
                if "done" in shown:
                    return
                shown["status"].update(f"{label} … {time.perf_counter() - t0:.0f} s")
            time.sleep(0.5)

    timer = threading.Timer(delay, show)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with lock:
            shown["done"] = True
            status = shown.get("status")
        if status is not None:
            status.stop()
            seconds = time.perf_counter() - t0
            word = "秒" if getattr(args, "lang", "zh") != "en" else "s"
            console.print(
                f"✓ {label}（{seconds:.1f} {word}）"
                if word == "秒"
                else f"✓ {label} ({seconds:.1f} {word})"
            )
