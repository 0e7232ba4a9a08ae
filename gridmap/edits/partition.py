"""Contiguous partitions of a unit graph into parts of about equal weight (no solver).

Used to split communities (:func:`gridmap.edits.split_community`), to draw grids
(:mod:`gridmap.griddesign`) and to seed plans drawn from scratch
(:func:`gridmap.rebalance.from_scratch_labels`).
"""

from __future__ import annotations

import heapq
from collections import deque

import numpy as np
from scipy import sparse

from gridmap.edits.contiguity import _neighbours, connected_parts

__all__ = ["partition_contiguous"]


def _distances(graph, seed: int, allowed: set[int], coords) -> dict[int, float]:
    if coords is not None:
        idx = np.fromiter(allowed, dtype=np.int64)
        d = np.hypot(*(coords[idx] - coords[seed]).T)
        return dict(zip(idx.tolist(), d.tolist(), strict=True))
    dist = {seed: 0.0}
    queue = deque([seed])
    while queue:
        u = queue.popleft()
        for v in _neighbours(graph, u):
            v = int(v)
            if v in allowed and v not in dist:
                dist[v] = dist[u] + 1
                queue.append(v)
    return dist


def _bisect(graph, w, members: list[int], target: float, coords) -> tuple[list[int], list[int]]:
    """Grow a connected region of weight ≈ ``target`` from a peripheral seed.

    The rest stays connected.
    """
    allowed = set(members)
    # peripheral seed: the member farthest from the first member's farthest member
    d0 = _distances(graph, members[0], allowed, coords)
    seed = max(d0, key=lambda u: (d0[u], -u))
    dist = _distances(graph, seed, allowed, coords)
    region, total = {seed}, float(w[seed])
    heap = [(dist.get(int(v), 1e18), int(v)) for v in _neighbours(graph, seed) if int(v) in allowed]
    heapq.heapify(heap)
    while heap and total < target:
        _, u = heapq.heappop(heap)
        if u in region:
            continue
        if total + w[u] - target > target - total:  # adding overshoots more than it helps
            continue
        region.add(u)
        total += float(w[u])
        for v in _neighbours(graph, u):
            v = int(v)
            if v in allowed and v not in region:
                heapq.heappush(heap, (dist.get(v, 1e18), v))
    rest = [m for m in members if m not in region]
    if rest:
        comps = connected_parts(rest, graph)
        if len(comps) > 1:
            comps.sort(key=lambda c: -sum(w[i] for i in c))
            for c in comps[1:]:
                region.update(c)
            rest = comps[0]
    return sorted(region), sorted(rest)


def partition_contiguous(
    graph: sparse.csr_array, weights, *, k: int, members=None, coords=None
) -> np.ndarray:
    """Split connected ``members`` into ``k`` contiguous parts of about equal weight.

    Recursive bisection: a region is grown from a peripheral unit in order of
    distance (Euclidean with ``coords``, else hops) until it holds its share of
    the weight; detached bits of the remainder join the region, so both halves
    are always contiguous. Fast (no solver); used to split communities, draw
    grids and seed ``--from-scratch`` plans.

    Returns
    -------
    numpy.ndarray
        Part number (0 … k-1) of each member, in the order of ``members``.

    Examples
    --------
    >>> from gridmap.adjacency import lattice_adjacency
    >>> partition_contiguous(lattice_adjacency(1, 6), np.ones(6), k=3).tolist()
    [0, 0, 1, 1, 2, 2]
    """
    w = np.asarray(weights, dtype=float)
    members = np.arange(graph.shape[0]) if members is None else np.asarray(members)
    out = np.full(len(members), -1, dtype=np.int64)
    where = {int(m): i for i, m in enumerate(members)}
    next_label = [0]

    def rec(group: list[int], parts: int) -> None:
        if parts <= 1 or len(group) <= 1:
            lab = next_label[0]
            next_label[0] += 1
            for g in group:
                out[where[g]] = lab
            return
        left_parts = parts // 2
        total = float(sum(w[g] for g in group))
        a, b = _bisect(graph, w, group, total * left_parts / parts, coords)
        if not b:  # the region swallowed everything: peel off a leaf of its BFS tree
            d = _distances(graph, a[0], set(a), None)
            leaf = max(d, key=lambda u: (d[u], u))
            a, b = [g for g in a if g != leaf], [leaf]
        pa = min(left_parts, len(a))
        pb = min(parts - pa, len(b))
        pa = min(parts - pb, len(a))  # a side too small for its share hands parts to the other
        rec(a, max(1, pa))
        rec(b, max(1, pb))

    rec(sorted(int(m) for m in members), int(k))
    # stable numbering by first appearance
    _, first = np.unique(out, return_index=True)
    remap = {int(out[f]): r for r, f in enumerate(sorted(first))}
    return np.array([remap[int(v)] for v in out], dtype=np.int64)
