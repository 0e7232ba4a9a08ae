"""One multi-source Dijkstra per source group, in forked worker processes on large networks.

SciPy's Dijkstra holds the GIL, so several runs use several cores only as
processes. :func:`dijkstra_groups` forks worker processes (which share the graph
copy-on-write) and returns at once; the caller does other work (e.g. snapping the
households) on the remaining core and collects each run's result when needed.

The runs are claimed one at a time on a board shared with the workers
(:class:`_Board`): a worker takes the largest run nobody has claimed yet; the
caller, when it needs a run nobody has claimed, runs it itself, and while it
waits for a run a worker is doing, it runs the others nobody has claimed. So
every core stays busy to the end. A worker writes its distances into memory
shared with the caller (anonymous shared mappings made before the fork) and
sends only a wake-up byte. No process ever waits on a lock another holds: a run
whose worker died or failed is run again in the caller, and a worker whose
caller is gone stops.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import threading
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from multiprocessing import connection
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
        return [PendingRun(run, _here=[run()]) for run in local]
    ctx = multiprocessing.get_context("fork")
    board = _Board(ctx, len(groups), net.n_nodes, nearest)
    # the biggest runs first, so that the workers finish together
    order = sorted(
        range(len(groups)), key=lambda i: -len(groups[i][0]) * min(groups[i][1], 1e9) ** 2
    )
    with warnings.catch_warnings():
        # Python >= 3.12 warns on fork whenever any OS thread exists (BLAS pools do); no other
        # Python thread runs (checked above, unless workers were asked for) and the workers only
        # run SciPy's Dijkstra
        warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
        for k in range(min(workers, len(groups))):
            proc = ctx.Process(
                target=_work,
                args=(board, k, order, graph, net.n_nodes, groups, all_sources, nearest),
                daemon=True,
            )
            try:
                proc.start()
            except OSError:  # no more processes (or memory): the runs left are run here
                break
            board.procs.append(proc)
    batch: list[PendingRun] = []
    batch.extend(PendingRun(local[i], i, board, batch) for i in range(len(groups)))
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


#: a run's state on the board (written by the one process holding its token)
_OPEN, _DONE, _FAILED = 0, 1, 2
#: a run's owner: not written yet, the caller (this process)
_UNKNOWN, _CALLER = -1, -2


class _Board:
    """The runs of one :func:`dijkstra_groups` call, shared with its forked workers.

    A run is claimed by taking its token (a semaphore of 1, never given back;
    nobody ever waits on one, so a process that dies can block nobody). The
    claimant writes its number in ``owner`` (``_CALLER`` for this process) and, a worker,
    the run's result into the run's slot, then ``state`` done or failed, then a
    byte on the board's pipe to wake the caller. The slots are anonymous shared
    mappings made before the fork: the caller reads them without a copy.
    """

    def __init__(self, ctx: Any, runs: int, n_nodes: int, nearest: bool):
        self.tokens = [ctx.Lock() for _ in range(runs)]
        self.owner = ctx.RawArray("i", [_UNKNOWN] * runs)
        self.state = ctx.RawArray("i", runs)
        self.reader, self.writer = ctx.Pipe(duplex=False)
        self.parent = os.getpid()
        self.n = n_nodes
        size = max(runs * n_nodes * 8, 1)
        self.dist = mmap.mmap(-1, size)
        self.src = mmap.mmap(-1, size) if nearest else None
        self.procs: list = []
        self._mutex = threading.Lock()  # this process's threads wait one at a time
        weakref.finalize(self, _close, self.procs, self.reader, self.writer)

    def claim(self, i: int, who: int = _CALLER) -> bool:
        """Take run ``i``'s token if nobody has (``who``: a worker's number, or this process)."""
        if not self.tokens[i].acquire(block=False):
            return False
        self.owner[i] = who
        return True

    def claim_next(self, order: list[int], who: int) -> int:
        """Claim the first run of ``order`` nobody has (-1: none left)."""
        return next((i for i in order if self.claim(i, who)), -1)

    def finish(self, i: int, ok: bool) -> None:
        """Mark run ``i`` done (its slot written) or failed, and wake the caller."""
        self.state[i] = _DONE if ok else _FAILED
        self.writer.send_bytes(b"\0")

    def wait(self, i: int) -> bool:
        """Wait for a worker's run ``i``: True when done, False when it is to be run here.

        False: it failed, its worker died, or another thread of this process runs it. A run
        whose token is taken but whose owner is not yet written stays waited for while any
        worker lives (the owner is written right after the token is taken).
        """
        with self._mutex:
            while self.state[i] == _OPEN:
                k = self.owner[i]
                if k == _CALLER:
                    return False
                alive = [p for p in self.procs if p.is_alive()]
                if (k >= 0 and not self.procs[k].is_alive()) or not alive:
                    return self.state[i] == _DONE  # killed, e.g. for memory (unless done first)
                connection.wait([self.reader, *(p.sentinel for p in alive)], timeout=0.5)
                while self.reader.poll():  # the wake-up bytes
                    self.reader.recv_bytes()
            return self.state[i] == _DONE

    def _view(self, buf: mmap.mmap, dtype: type, i: int) -> np.ndarray:
        return np.frombuffer(buf, dtype=dtype, count=self.n, offset=i * self.n * 8)

    def write(self, i: int, result: NodeDistances) -> None:
        """Store run ``i``'s result (in a worker)."""
        self._view(self.dist, np.float64, i)[:] = result[0]
        if self.src is not None and result[1] is not None:
            self._view(self.src, np.int64, i)[:] = result[1]

    def read(self, i: int) -> NodeDistances:
        """Run ``i``'s result, as views of its shared slots (they keep the mapping alive)."""
        src = None if self.src is None else self._view(self.src, np.int64, i)
        return self._view(self.dist, np.float64, i), src


def _close(procs: list, reader: Any, writer: Any) -> None:
    """A board's end: its pipe closed, its exited workers reaped (a running one exits alone)."""
    reader.close()
    writer.close()
    for p in procs:
        if not p.is_alive():
            p.join()


def _work(
    board: _Board,
    k: int,
    order: list[int],
    graph: sparse.csr_matrix,
    n_nodes: int,
    groups: list[tuple[np.ndarray, float]],
    all_sources: np.ndarray | None,
    nearest: bool,
) -> None:
    """Worker ``k``: claim and run the runs nobody has, largest first, until none is left.

    Stops when the caller is gone (its parent changed, or the pipe is closed).
    """
    board.reader.close()
    while os.getppid() == board.parent and (i := board.claim_next(order, k)) >= 0:
        which, limit = groups[i]
        try:
            board.write(i, _dijkstra(graph, n_nodes, which, limit, True, all_sources, nearest))
        except Exception:  # noqa: BLE001 - the caller runs it again and meets the error itself
            ok = False
        else:
            ok = True
        try:
            board.finish(i, ok)
        except OSError:  # the caller is gone
            return


@dataclass(frozen=True)
class PendingRun:
    """A Dijkstra run of :func:`dijkstra_groups`: done already, or on the board of its batch.

    ``fallback`` computes the result in this process. ``board`` (None: done at
    creation) is shared with the worker processes; ``batch`` lists the runs
    started together (this one included), whose unclaimed runs this process
    takes while it waits for a worker's.
    """

    fallback: Callable[[], NodeDistances]
    index: int = 0
    board: _Board | None = field(default=None, repr=False, compare=False)
    batch: list[PendingRun] = field(default_factory=list, repr=False, compare=False)
    _here: list[NodeDistances] = field(default_factory=list, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def result(self) -> NodeDistances:
        """``(node_d, node_src)``: run here if no worker has claimed it, else the worker's."""
        board = self.board
        if self._here or board is None or board.claim(self.index):
            return self._run_here()
        if board.state[self.index] == _OPEN:  # a worker has it: meanwhile, the runs nobody has
            for other in self.batch:
                if other is not self and not other._here and board.claim(other.index):
                    other._run_here()
        if board.wait(self.index):
            return board.read(self.index)
        return self._run_here()  # its worker died or failed (or another thread has it): here

    def _run_here(self) -> NodeDistances:
        with self._lock:  # once, also when several threads ask
            if not self._here:
                self._here.append(self.fallback())
        return self._here[0]
