"""A bounded, thread-safe mapping that drops the least recently used entries, and keyed locks.

Every cache of gridmap and its dashboard (plan evaluations, map tiles, check results per
profile, coverage answers, workspace listings, plan and login sessions) is one
:class:`BoundedLRU`: a count bound, most recently used kept, optionally a callback told of
each entry it drops and a predicate for entries that must stay (a session in use).
:class:`KeyedLocks` gives one lock per key, so work on one key never waits for another's;
:meth:`BoundedLRU.get_or_create` uses it to compute a missing value once however many
threads ask for it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar, cast, overload

__all__ = ["BoundedLRU", "KeyedLocks"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")


class KeyedLocks:
    """One lock per key: work on one key never waits for another's.

    A key's lock exists only while someone holds or waits for it, so the table stays as
    small as the number of keys in use (keys come from browser values).

    >>> locks = KeyedLocks()
    >>> with locks("a"):
    ...     len(locks)
    1
    >>> len(locks)
    0
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[Hashable, list] = {}  # key -> [lock, holders and waiters]

    def __len__(self) -> int:
        with self._lock:
            return len(self._locks)

    @contextmanager
    def __call__(self, key: Hashable) -> Iterator[None]:
        """Hold the lock of ``key`` for the ``with`` block."""
        with self._lock:
            entry = self._locks.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._lock:
                entry[1] -= 1
                if not entry[1]:
                    del self._locks[key]


class BoundedLRU(Generic[K, V]):
    """A mapping of at most ``maxsize`` entries; the least recently used dropped first.

    Reading (:meth:`get`, :meth:`get_or_create`) or writing (:meth:`put`) an entry makes it
    the most recently used; :meth:`peek`, ``in`` and :meth:`setdefault` on a held key do not.
    After each insertion the least recently used ``len - maxsize`` entries are dropped, but
    for those ``pinned`` says must stay (the mapping then stays over its bound until a later
    insertion finds them free). Every operation holds :attr:`lock`.

    Parameters
    ----------
    maxsize
        How many entries to keep (:attr:`maxsize`; a change applies at the next insertion).
    on_evict
        Called with ``(key, value)`` of each entry dropped for the bound, under :attr:`lock`.
    pinned
        ``(key, value) -> True`` for an entry that must not be dropped now.
    lock
        The lock to hold (a caller that guards more state with its own ``RLock`` passes it,
        so the mapping and that state change together); a new ``RLock`` when None.

    Examples
    --------
    >>> lru = BoundedLRU(2)
    >>> lru.put("a", 1); lru.put("b", 2); lru.get("a")
    1
    >>> lru.put("c", 3); lru.keys()
    ['a', 'c']
    >>> lru.get_or_create("d", lambda: 4), lru.get_or_create("d", lambda: 5), lru.keys()
    (4, 4, ['c', 'd'])
    """

    def __init__(
        self,
        maxsize: int,
        *,
        on_evict: Callable[[K, V], None] | None = None,
        pinned: Callable[[K, V], bool] | None = None,
        lock: threading.RLock | None = None,
    ) -> None:
        self.maxsize = maxsize
        #: what every operation holds; hold it to make several operations one step
        self.lock = lock if lock is not None else threading.RLock()
        self._on_evict = on_evict
        self._pinned = pinned
        self._items: OrderedDict[K, V] = OrderedDict()
        self._creating = KeyedLocks()
        #: :meth:`get` calls that found their key / did not
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        with self.lock:
            return len(self._items)

    def __contains__(self, key: object) -> bool:
        with self.lock:
            return key in self._items

    def keys(self) -> list[K]:
        """The keys held, least recently used first (a copy)."""
        with self.lock:
            return list(self._items)

    @overload
    def get(self, key: K) -> V | None: ...
    @overload
    def get(self, key: K, default: D) -> V | D: ...
    def get(self, key: K, default: object = None) -> object:
        """The value of ``key``, now the most recently used; ``default`` when not held."""
        with self.lock:
            if key not in self._items:
                self.misses += 1
                return default
            self.hits += 1
            self._items.move_to_end(key)
            return self._items[key]

    @overload
    def peek(self, key: K) -> V | None: ...
    @overload
    def peek(self, key: K, default: D) -> V | D: ...
    def peek(self, key: K, default: object = None) -> object:
        """The value of ``key`` without marking it used; ``default`` when not held."""
        with self.lock:
            return self._items.get(key, default)

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` under ``key`` as the most recently used; drop beyond the bound."""
        with self.lock:
            self._items[key] = value
            self._items.move_to_end(key)
            self._evict()

    def setdefault(self, key: K, value: V) -> V:
        """The value held under ``key`` (left where it is), else ``value`` kept under it."""
        with self.lock:
            if key in self._items:
                return self._items[key]
            self._items[key] = value
            self._evict()
            return value

    @overload
    def pop(self, key: K) -> V | None: ...
    @overload
    def pop(self, key: K, default: D) -> V | D: ...
    def pop(self, key: K, default: object = None) -> object:
        """Remove ``key`` and return its value (``default`` when not held); no callback."""
        with self.lock:
            return self._items.pop(key, default)

    def clear(self) -> None:
        """Forget every entry (no callback)."""
        with self.lock:
            self._items.clear()

    def get_or_create(self, key: K, create: Callable[[], V]) -> V:
        """The value of ``key``, else ``create()`` kept under it.

        ``create`` runs without :attr:`lock` but under a lock of ``key`` alone: threads
        missing the same key wait for the first one's value instead of computing it again,
        and nobody waits for another key. An exception from ``create`` keeps nothing.
        """
        missing = object()
        found = self.get(key, missing)
        if found is not missing:
            return cast(V, found)
        with self._creating(key):
            found = self.peek(key, missing)
            if found is not missing:
                return cast(V, found)  # made while this thread waited
            value = create()
            self.put(key, value)
            return value

    def _evict(self) -> None:
        """Drop the least recently used ``len - maxsize`` entries but pinned ones (under lock)."""
        over = len(self._items) - self.maxsize
        if over <= 0:
            return
        for key in list(self._items)[:over]:
            value = self._items[key]
            if self._pinned is not None and self._pinned(key, value):
                continue
            del self._items[key]
            if self._on_evict is not None:
                self._on_evict(key, value)
