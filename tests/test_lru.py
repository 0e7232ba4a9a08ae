"""gridmap.lru.BoundedLRU against a plain model: a dict and a list of keys, oldest first.

After any sequence of operations the cache holds exactly the model's entries in the model's
order of use, never more than ``maxsize`` of them (unless pinned), and tells ``on_evict`` of
exactly the entries the model drops. ``get_or_create`` computes a missing value once however
many threads ask for it at the same time.
"""

from __future__ import annotations

import functools
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridmap.lru import BoundedLRU, KeyedLocks


class Model:
    """The rules written out: a dict and the keys' order of use (least recent first)."""

    def __init__(self, maxsize: int, pinned: frozenset = frozenset()) -> None:
        self.maxsize, self.pinned = maxsize, pinned
        self.data: dict = {}
        self.order: list = []
        self.evicted: list = []

    def use(self, key) -> None:
        self.order.remove(key)
        self.order.append(key)

    def insert(self, key, value) -> None:
        if key not in self.data:
            self.order.append(key)
        self.data[key] = value
        over = len(self.order) - self.maxsize
        for k in self.order[: max(over, 0)]:
            if k not in self.pinned:
                self.order.remove(k)
                self.evicted.append((k, self.data.pop(k)))

    def apply(self, op: str, key: int, value: int):
        if op == "get":
            if key in self.data:
                self.use(key)
            return self.data.get(key)
        if op == "peek":
            return self.data.get(key)
        if op == "put":
            if key in self.data:
                self.use(key)
            self.insert(key, value)
            return None
        if op == "setdefault":
            if key in self.data:
                return self.data[key]
            self.insert(key, value)
            return value
        if op == "pop":
            if key in self.data:
                self.order.remove(key)
            return self.data.pop(key, None)
        if op == "get_or_create":
            if key in self.data:
                self.use(key)
                return self.data[key]
            self.insert(key, value)
            return value
        assert op == "clear"
        self.data.clear()
        self.order.clear()
        return None


def run(lru: BoundedLRU, op: str, key: int, value: int):
    if op in ("put", "setdefault"):
        return getattr(lru, op)(key, value)
    if op == "get_or_create":
        return lru.get_or_create(key, lambda: value)
    if op == "clear":
        return lru.clear()
    return getattr(lru, op)(key)


OPS = st.lists(
    st.tuples(
        st.sampled_from(["get", "peek", "put", "setdefault", "pop", "get_or_create", "clear"]),
        st.integers(0, 7),
        st.integers(),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(maxsize=st.integers(0, 5), ops=OPS, pinned=st.frozensets(st.integers(0, 7), max_size=3))
def test_any_sequence_of_operations_matches_the_model(maxsize, ops, pinned):
    evicted: list = []
    lru: BoundedLRU[int, int] = BoundedLRU(
        maxsize, on_evict=lambda k, v: evicted.append((k, v)), pinned=lambda k, v: k in pinned
    )
    model = Model(maxsize, pinned)
    for op, key, value in ops:
        assert run(lru, op, key, value) == model.apply(op, key, value), (op, key)
        assert lru.keys() == model.order
        assert {k: lru.peek(k) for k in lru.keys()} == model.data
        assert len(lru) <= maxsize + len(pinned)
        if not pinned:
            assert len(lru) <= maxsize
        assert evicted == model.evicted


@settings(max_examples=100, deadline=None)
@given(maxsize=st.integers(1, 5), keys=st.lists(st.integers(0, 9), max_size=40))
def test_the_most_recently_used_are_kept_and_hits_counted(maxsize, keys):
    lru: BoundedLRU[int, int] = BoundedLRU(maxsize)
    hits = 0
    for k in keys:
        hits += k in lru
        lru.get_or_create(k, functools.partial(int.__mul__, k, 10))
    recent = list(dict.fromkeys(reversed(keys)))[:maxsize]
    assert sorted(lru.keys()) == sorted(recent)
    assert all(lru.peek(k) == k * 10 for k in recent)
    assert (lru.hits, lru.misses) == (hits, len(keys) - hits)


def test_a_smaller_maxsize_applies_at_the_next_insertion():
    lru: BoundedLRU[str, int] = BoundedLRU(3)
    for i, k in enumerate("abc"):
        lru.put(k, i)
    lru.maxsize = 1
    assert len(lru) == 3
    lru.put("d", 3)
    assert lru.keys() == ["d"]


def test_get_or_create_computes_a_missing_value_once_under_concurrency():
    lru: BoundedLRU[str, int] = BoundedLRU(4)
    calls = []
    start = threading.Barrier(8)

    def slow() -> int:
        calls.append(1)
        time.sleep(0.05)
        return 42

    def ask(out: list) -> None:
        start.wait()
        out.append(lru.get_or_create("k", slow))

    out: list = []
    threads = [threading.Thread(target=ask, args=(out,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [42] * 8 and len(calls) == 1


def test_get_or_create_does_not_wait_for_another_key_and_keeps_nothing_on_error():
    lru: BoundedLRU[str, int] = BoundedLRU(4)
    entered, release = threading.Event(), threading.Event()

    def blocked() -> int:
        entered.set()
        release.wait(5)
        return 1

    t = threading.Thread(target=lru.get_or_create, args=("slow", blocked))
    t.start()
    entered.wait(5)
    assert lru.get_or_create("fast", lambda: 2) == 2  # while "slow" is still being made
    release.set()
    t.join()

    def fails() -> int:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        lru.get_or_create("bad", fails)
    assert "bad" not in lru and lru.keys() == ["fast", "slow"]


def test_a_shared_lock_makes_several_operations_one_step():
    lock = threading.RLock()
    lru: BoundedLRU[str, int] = BoundedLRU(2, lock=lock)
    assert lru.lock is lock
    with lock:
        lru.put("a", 1)
        assert lru.pop("a") == 1 and lru.pop("a", -1) == -1


def test_keyed_locks_exist_only_while_held():
    locks = KeyedLocks()
    with locks("a"), locks("b"):
        assert len(locks) == 2
    assert len(locks) == 0
