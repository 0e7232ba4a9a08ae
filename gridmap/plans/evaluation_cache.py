"""Plan evaluations kept by the content of the assignment: one evaluation per distinct plan state.

A plan's community table and rule evaluation depend only on what the plan holds — which
community each unit is in, the units' households and coordinators, the remainders outside
units, the communities' names and attributes — and on the profile and language. An
:class:`EvaluationCache` keys each evaluation by a digest of exactly that content, so undo
and redo, a fresh tab and another planner's plan in the same state reuse one evaluation,
while two plans that differ in any of it never share one. It is bounded (least recently
used dropped first) and thread-safe; plans that share one (the dashboard's tabs) pass it to
each other as :attr:`gridmap.plans.Plan.evaluations`.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import pandas as pd

from gridmap.lru import BoundedLRU
from gridmap.rules import Profile

__all__ = ["EvaluationCache", "content_digest", "labels_digest", "profile_digest"]


def _digest(*parts: bytes) -> str:
    h = hashlib.blake2b(digest_size=20)
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def labels_digest(labels: pd.Series) -> str:
    """A digest of an assignment: the community of each unit, in unit order.

    Examples
    --------
    >>> a = pd.Series(["c1", "c2"], index=["g1", "g2"])
    >>> labels_digest(a) == labels_digest(a.copy()), labels_digest(a) == labels_digest(a[::-1])
    (True, False)
    """
    ids = "\x1f".join(map(str, labels.index)).encode()
    values = "\x1f".join(map(str, labels.to_numpy())).encode()
    return _digest(ids, values)


def profile_digest(profile: Profile) -> str:
    """A digest of a profile's content (its id, every rule and parameter), not its identity."""
    return _digest(repr(profile).encode())


def content_digest(*parts: Any) -> str:
    """A digest of arrays, frames and plain values (pickled; equal bytes mean equal content)."""
    blobs = []
    for part in parts:
        if isinstance(part, np.ndarray) and part.dtype != object:
            blobs.append(part.tobytes() + str(part.dtype).encode())
        else:
            blobs.append(pickle.dumps(part, protocol=5))
    return _digest(*blobs)


class EvaluationCache:
    """Evaluations by content key, least recently used dropped beyond ``size``; thread-safe.

    Parameters
    ----------
    size
        How many evaluations to keep.

    Examples
    --------
    >>> cache = EvaluationCache(size=2)
    >>> calls = []
    >>> cache.get(("a",), lambda: calls.append("a") or 1), cache.get(("a",), lambda: 2)
    (1, 1)
    >>> cache.hits, cache.misses, len(cache)
    (1, 1, 1)
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: BoundedLRU[Hashable, Any] = BoundedLRU(size)
        #: what plans derive from an evaluation (community table, KPIs, change list), by the
        #: same content; counted apart from the evaluations (:meth:`derived`)
        self._derived: BoundedLRU[Hashable, Any] = BoundedLRU(4 * size)

    @property
    def hits(self) -> int:
        """Evaluations found kept."""
        return self._items.hits

    @property
    def misses(self) -> int:
        """Evaluations computed (not found kept)."""
        return self._items.misses

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value kept for ``key``, else ``compute()`` kept under it.

        ``compute`` runs outside the lock: two threads missing one key both compute it (the
        same content gives the same value), and nobody waits for another key's evaluation.
        """
        return _kept(self._items, key, compute)

    def derived(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """Like :meth:`get`, for figures derived from evaluations (kept apart, ``4 * size``).

        Not counted in :attr:`hits` and :attr:`misses`.
        """
        return _kept(self._derived, key, compute)

    def clear(self) -> None:
        """Forget every evaluation and derived figure."""
        self._items.clear()
        self._derived.clear()

    def __len__(self) -> int:
        return len(self._items)

    def __deepcopy__(self, memo: dict) -> EvaluationCache:
        """The cache itself: a copied plan (a preview) shares it, as keys are content."""
        return self


def _kept(items: BoundedLRU[Hashable, Any], key: Hashable, compute: Callable[[], Any]) -> Any:
    """``items[key]``, else ``compute()`` (outside the lock) kept under ``key``."""
    missing = object()
    value = items.get(key, missing)
    if value is missing:
        value = compute()
        items.put(key, value)
    return value
