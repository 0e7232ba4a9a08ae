"""Python's cyclic garbage collector paused while one large step runs (read, check, outputs).

Reading and checking a city makes hundreds of thousands of objects that all live on
(geometries, frames, their arrays). Each batch of new objects counts toward a collection,
and every third or so of those is a full one that walks every object of the process and frees
next to nothing: about 0.15 s of a city's check (issue #19's city), all of it holding the
GIL, so the other threads wait too. :func:`gc_paused` switches automatic collection off for
the step and back on after it; the few reference cycles the step leaves are collected then.

The collector's switch is one for the whole process, so pauses are counted: with several
steps at once (threads), the collector comes back on when the last of them ends, and only if
it was on when the first began. Reference counting frees everything else as usual meanwhile.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]

_lock = threading.Lock()
_depth = 0  # steps running with the collector paused
_resume = False  # whether the collector was on when the first of them began


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause automatic garbage collection for the ``with`` block (or the decorated function).

    Examples
    --------
    >>> import gc
    >>> with gc_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
