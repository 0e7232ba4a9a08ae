"""Numba's ``njit`` for the network's kernels, cached on disk where a cache can be written.

Numba compiles a kernel on its first call in a process, or loads it from its cache
(next to the module, else in the user's cache directory). Where neither can be
written (a read-only installation run by a user without a home directory), caching
is refused when the kernel is defined: it is then compiled in each process instead
of making the import fail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numba import njit

__all__ = ["kernel"]


def kernel(fn: Callable | None = None, *, inline: bool = False) -> Any:
    """``@kernel``: ``njit(nogil=True, cache=True)`` (without the cache where none is writable).

    ``inline=True``: inlined into the kernels that call it (a small shared helper).
    """

    def wrap(f: Callable) -> Any:
        opts: dict[str, Any] = {"nogil": True, "inline": "always" if inline else "never"}
        try:
            return njit(cache=True, **opts)(f)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            return njit(**opts)(f)

    return wrap if fn is None else wrap(fn)
