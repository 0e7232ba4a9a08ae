"""Graph helpers of the rebalancer: steps between units, and flow trees for contiguity.

:func:`bfs_hops` bounds where a unit may move (communities within ``hops`` steps) and which
units a subproblem frees; :func:`flow_tree` gives the flows of a known plan, with which the
CP-SAT model (:mod:`gridmap.rebalance.model`) is warm-started.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import numpy as np
from scipy import sparse

__all__ = ["bfs_hops", "flow_tree"]


def _nbrs(g: sparse.csr_array, u: int) -> np.ndarray:
    return g.indices[g.indptr[u] : g.indptr[u + 1]]


def bfs_hops(
    graph: sparse.csr_array, sources: Iterable[int], allowed: set[int] | None, limit: int
) -> dict[int, int]:
    """Steps from ``sources`` to every unit within ``limit`` steps (through ``allowed`` units).

    Examples
    --------
    >>> from gridmap.adjacency import lattice_adjacency
    >>> bfs_hops(lattice_adjacency(1, 5), [0], None, 2)
    {0: 0, 1: 1, 2: 2}
    """
    dist: dict[int, int] = {}
    queue: deque[int] = deque()
    for s in sources:
        dist[int(s)] = 0
        queue.append(int(s))
    while queue:
        u = queue.popleft()
        if dist[u] >= limit:
            continue
        for v in _nbrs(graph, u):
            v = int(v)
            if v not in dist and (allowed is None or v in allowed):
                dist[v] = dist[u] + 1
                queue.append(v)
    return dist


def flow_tree(
    graph: sparse.csr_array, members: set[int], roots: set[int], choose: list[int], arcs: dict
) -> tuple[list[int], dict, dict] | None:
    """A feasible flow for the contiguity constraint.

    A BFS forest of ``members`` from ``roots`` (plus one unit of ``choose`` per part the roots
    do not reach), over ``arcs``.

    Returns ``(extra roots, {arc: flow}, {extra root: supply})`` — each member receives one
    unit of flow more than it passes on — or None when the members cannot all be reached.
    Used to hint the solver with the flow of a known plan.
    """
    extra: list[int] = []
    parent: dict[int, int] = {}
    seen = set(roots)
    order: list[int] = []

    def grow(starts: Iterable[int]) -> None:
        queue = deque(starts)
        while queue:
            u = queue.popleft()
            for v in _nbrs(graph, u):
                v = int(v)
                if v in members and v not in seen and (u, v) in arcs:
                    seen.add(v)
                    parent[v] = u
                    order.append(v)
                    queue.append(v)

    grow(seen)
    for u in choose:
        if u in members and u not in seen:
            seen.add(u)
            extra.append(u)
            grow([u])
    if not members <= seen:
        return None
    sub = dict.fromkeys(order, 1)
    for v in reversed(order):
        if parent[v] in sub:
            sub[parent[v]] += sub[v]
    flow = {(parent[v], v): sub[v] for v in order}
    supply = {r: 1 + sum(f for (a, _), f in flow.items() if a == r) for r in extra}
    return extra, flow, supply
