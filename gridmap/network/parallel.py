"""One multi-source Dijkstra per source group, in forked worker processes on large networks.

SciPy's Dijkstra holds the GIL, so several runs use several cores only as
processes. :func:`dijkstra_groups` starts the runs in forked workers (which
share the graph copy-on-write) and returns at once; the caller does other work
(e.g. snapping the households) on the remaining core and collects each run's
result when needed. A worker writes its distances into memory shared with the
caller (an anonymous shared mapping made before the fork) and sends back only
the run's number: piping a million-node result through the pool's queue made
the worker wait for the caller's busy interpreter. Runs no worker has taken yet are then done in this process
(while it waits for a worker's run, it takes the others not yet started), and so
is a run whose worker died.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from scipy import sparse

from gridmap.network.graph import Network
from gridmap.network.route import _dijkstra

__all__ = ["dijkstra_groups", "fork_workers", "PendingRun", "PARALLEL_MIN_NODES"]

#: networks smaller than this (nodes) run in-process: a worker process costs more than it saves
PARALLEL_MIN_NODES = 200_000

#: a run's result: distance of every node, and its nearest source's position (or None)
NodeDistances = tuple[np.ndarray, np.ndarray | None]


def dijkstra_groups(
    net: Network,
    graph: sparse.csr_matrix,
    groups: list[tuple[np.ndarray, float]],
    *,
    all_sources: np.ndarray | None = None,
    workers: int | None = None,
    nearest: bool = True,
) -> list[PendingRun]:
    """Start one multi-source Dijkstra per source group, e.g. one per facility type.

    Each run is :func:`~gridmap.network.dijkstra_from` for one group. SciPy's
    Dijkstra holds the GIL, so several runs use several cores only as
    processes: the runs go to forked worker processes (which share the graph
    copy-on-write) and the caller can do other work, such as snapping the
    households, while they run.

    Parameters
    ----------
    net : Network
    graph, all_sources : from :func:`~gridmap.network.augmented_graph`
    groups : list of (which, limit)
        Source positions and search radius of each run.
    nearest : bool, keyword-only
        Also find each node's nearest source (default); False: distances only.
    workers : int, optional, keyword-only
        Worker processes besides this one. Default (:func:`fork_workers`): one
        per CPU but one (this process keeps working meanwhile) when the network
        has at least :data:`PARALLEL_MIN_NODES` nodes, there are several groups,
        and this process can fork safely (POSIX ``fork``, no other Python
        threads running); 0 runs them here, one after the other.

    Returns
    -------
    list of PendingRun
        One handle per group, in order; ``.result()`` gives ``(node_d, node_src)``
        (``node_src`` None without ``nearest``).
    """
    if workers is None:
        workers = fork_workers(net.n_nodes, len(groups))
    local = [
        partial(_dijkstra, graph, net.n_nodes, which, limit, True, all_sources, nearest)
        for which, limit in groups
    ]
    if workers < 1 or len(groups) <= 1:
        done = []
        for run in local:
            f: Future[NodeDistances] = Future()
            f.set_result(run())
            done.append(PendingRun(f, run))
        return done
    slots = _Slots(len(groups), net.n_nodes, nearest)
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(groups)),
        mp_context=multiprocessing.get_context("fork"),
        initializer=_worker_init,
        initargs=(graph, net.n_nodes, all_sources, slots),
    )
    # the biggest runs first, so that the workers finish together
    order = sorted(
        range(len(groups)), key=lambda i: -len(groups[i][0]) * min(groups[i][1], 1e9) ** 2
    )
    with warnings.catch_warnings():
        # Python >= 3.12 warns on fork whenever any OS thread exists (BLAS pools do); no other
        # Python thread runs (checked above, unless workers were asked for) and the workers only
        # run SciPy's Dijkstra
        warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
        futures = {
            i: pool.submit(_worker_dijkstra, i, groups[i][0], groups[i][1], nearest) for i in order
        }
    pool.shutdown(wait=False)
    batch: list[PendingRun] = []
    batch.extend(PendingRun(futures[i], local[i], batch, slots.read) for i in range(len(groups)))
    return batch


def fork_workers(n_nodes: int, n_groups: int) -> int:
    """Worker processes :func:`dijkstra_groups` uses by default (0: run in this process).

    One per CPU but one, for at most ``n_groups`` runs: the calling process uses
    the remaining CPU (it snaps the households meanwhile, then takes the runs no
    worker has started), so the machine is not oversubscribed.

    Examples
    --------
    >>> fork_workers(100, 5)  # a small network
    0
    """
    if n_groups < 2 or n_nodes < PARALLEL_MIN_NODES:
        return 0
    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        return 0
    cpus = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )
    return max(min(cpus - 1, n_groups), 0)


class _Slots:
    """One slot per run for its node distances (and nearest sources), shared with the workers.

    Anonymous shared mappings, made before the workers are forked: a worker writes
    its run's result into the run's slot, the caller reads it without a copy.
    """

    def __init__(self, runs: int, n_nodes: int, nearest: bool):
        self.n = n_nodes
        size = max(runs * n_nodes * 8, 1)
        self.dist = mmap.mmap(-1, size)
        self.src = mmap.mmap(-1, size) if nearest else None

    def _view(self, buf: mmap.mmap, dtype: type, i: int) -> np.ndarray:
        return np.frombuffer(buf, dtype=dtype, count=self.n, offset=i * self.n * 8)

    def write(self, i: int, result: NodeDistances) -> None:
        """Store run ``i``'s result (in a worker)."""
        self._view(self.dist, np.float64, i)[:] = result[0]
        if self.src is not None and result[1] is not None:
            self._view(self.src, np.int64, i)[:] = result[1]

    def read(self, i: int) -> NodeDistances:
        """Run ``i``'s result (the number a worker returned), as views of the shared slots."""
        src = None if self.src is None else self._view(self.src, np.int64, i)
        return self._view(self.dist, np.float64, i), src


_WORKER: tuple = ()


def _worker_init(
    graph: sparse.csr_matrix, n_nodes: int, all_sources: np.ndarray | None, slots: _Slots
) -> None:
    global _WORKER
    _WORKER = (graph, n_nodes, all_sources, slots)


def _worker_dijkstra(i: int, which: np.ndarray, limit: float, nearest: bool) -> int:
    graph, n_nodes, all_sources, slots = _WORKER
    slots.write(i, _dijkstra(graph, n_nodes, which, limit, True, all_sources, nearest))
    return i


@dataclass(frozen=True)
class PendingRun:
    """A Dijkstra run of :func:`dijkstra_groups`: in a worker process, or done already.

    ``fallback`` computes the same result in this process; ``batch`` lists the
    runs started together (this one included), whose not yet started runs this
    process takes while it waits for this one; ``read`` turns what the future
    gives into the result (a worker's run number into its shared slot).
    """

    future: Future[Any]
    fallback: Callable[[], NodeDistances]
    batch: list[PendingRun] = field(default_factory=list, repr=False, compare=False)
    read: Callable[[int], NodeDistances] | None = field(default=None, repr=False, compare=False)
    _here: list[NodeDistances] = field(default_factory=list, repr=False, compare=False)

    def result(self) -> NodeDistances:
        """``(node_d, node_src)``: from the worker, or run here if it never started or died."""
        if self._here:  # taken from the workers and done here already
            return self._here[0]
        if self.future.cancel():  # no worker has taken it yet: run it here rather than wait
            return self._run_here()
        for other in self.batch:  # while a worker has this one: the runs no worker has started
            if other is not self and not other._here and other.future.cancel():
                other._run_here()
        try:
            got = self.future.result()
            return got if self.read is None else self.read(got)
        except BrokenProcessPool:  # a worker died (e.g. killed for memory): run it here
            return self._run_here()

    def _run_here(self) -> NodeDistances:
        if not self._here:
            self._here.append(self.fallback())
        return self._here[0]
