"""Turns of plan work: at most a few threads compute plan evaluations at once.

A server shares one :class:`Turns` among its plans (:attr:`gridmap.plans.Plan.turn`): an
evaluation of a new plan state (the community table and every rule, tens of milliseconds of
pandas) takes a turn, so many planners editing at once do not crowd the read-only pages out of
the processor, while drawing a state already evaluated takes none. A thread holding a turn may
enter again (an evaluation inside a load that took one), so nesting never deadlocks; take a turn
only as the innermost lock (never wait for another lock while holding one).
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["Turns"]


class Turns:
    """At most ``n`` threads inside at once; re-entrant per thread.

    Parameters
    ----------
    n
        How many threads may hold a turn at once.

    Examples
    --------
    >>> turns = Turns(1)
    >>> with turns:
    ...     with turns:  # the same thread enters again
    ...         turns.held
    1
    """

    def __init__(self, n: int) -> None:
        self.n = max(1, int(n))
        self._slots = threading.BoundedSemaphore(self.n)
        self._mine = threading.local()
        self._count = 0
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        """How many threads hold a turn now."""
        return self._count

    def __enter__(self) -> Turns:
        depth = getattr(self._mine, "depth", 0)
        if depth == 0:
            self._slots.acquire()
            with self._lock:
                self._count += 1
        self._mine.depth = depth + 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._mine.depth -= 1
        if self._mine.depth == 0:
            with self._lock:
                self._count -= 1
            self._slots.release()

    def __deepcopy__(self, memo: dict[int, Any]) -> Turns:
        """The turns themselves: a copied plan (a preview) takes the same turns."""
        return self
