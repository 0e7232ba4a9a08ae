"""The snapping index: the edges' 2-point segments bucketed on a square grid (built once per network).

Every segment is entered in each grid cell it passes through (through the bounding
boxes of its pieces ≤ one cell long, so a long diagonal does not fill its whole
bounding box), once per cell. Each cell lists its segments in ascending order
(CSR: ``indptr`` per cell, row-major, into ``entries``), so that
:mod:`~gridmap.network._snapgrid` reads a row of a block of cells as one
contiguous run. A sparse extent (two towns far apart, or one stray street far
from the rest) keeps its small cells: only the occupied cells get a row of
``indptr``, listed in ``cells``.

The loops over the segments are compiled with Numba (:mod:`._jit`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import shapely

from gridmap.network._jit import kernel
from gridmap.network.graph import Network

_THREADED_MIN = 200_000  # segments from which the index is built on two threads


def segment_grid(net: Network) -> dict:
    """The segments of every edge and the grid index of them (built once per network).

    Keys: ``seg`` (rows start x, start y, direction x, direction y and squared
    length (1 for a zero-length segment), one column per segment), ``along``
    (distance of its start along its edge) and ``edge`` (both None when every
    edge is one segment: segment ``i`` is edge ``i``, from its start); the grid
    ``x0``, ``y0``, ``cell``, ``nx``, ``ny``; ``indptr`` (per cell, row-major)
    into ``entries`` (segment ids, ascending within a cell); ``cells`` (None, or
    on a sparse grid the occupied cells, ascending, one row of ``indptr`` each).
    """
    grid = net._cache.get("snap_grid")
    if grid is not None:
        return grid
    cached = net._cache.get("coords")  # kept by build_network
    if cached is not None:
        coords, n_coords = cached
    else:
        coords, idx = shapely.get_coordinates(net.geometry, return_index=True)
        n_coords = np.bincount(idx, minlength=net.n_edges)
    n_seg = np.maximum(n_coords - 1, 0)  # segments per edge
    two = len(n_coords) > 0 and bool((n_coords == 2).all())  # one segment per edge (e.g. a lattice)
    starts = np.ones(len(coords), dtype=bool)  # every vertex but the last of its edge
    starts[np.cumsum(n_coords[n_coords > 0]) - 1] = False
    seg, ln, bounds = _rows(np.ascontiguousarray(coords, dtype=np.float64), np.flatnonzero(starts))
    if len(ln) >= 2**31:
        raise ValueError(f"{len(ln):,} segments: the snapping index holds at most 2**31 - 1")
    x0, y0, s, nx, ny = _frame(bounds, _cell_size(ln), len(ln))
    if nx * ny <= max(4 * len(ln), 2**20):
        cells = None
        indptr, entries = _cells(seg, ln, x0, y0, s, nx, ny)
    else:
        cells, indptr, entries = _sparse_cells(seg, ln, x0, y0, s, nx, ny)
    grid = {
        "seg": seg,
        "along": None if two else _along(ln, n_seg),
        "edge": None if two else np.repeat(np.arange(net.n_edges, dtype=np.int64), n_seg),
        "x0": x0,
        "y0": y0,
        "cell": s,
        "nx": nx,
        "ny": ny,
        "indptr": indptr,
        "entries": entries,
        "cells": cells,
    }
    net._cache["snap_grid"] = grid
    return grid


@kernel
def _rows(coords: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The segments starting at vertices ``start``: ``seg``, their lengths and their bounds.

    ``seg`` has 5 rows (see :func:`segment_grid`) and one column per segment; the
    bounds are ``(xmin, ymin, xmax, ymax)``.
    """
    n = len(start)
    seg = np.empty((5, n))
    ln = np.empty(n)
    bounds = np.array([np.inf, np.inf, -np.inf, -np.inf])
    for i in range(n):
        a = start[i]
        ax, ay = coords[a, 0], coords[a, 1]
        dx, dy = coords[a + 1, 0] - ax, coords[a + 1, 1] - ay
        dd = dx * dx + dy * dy
        ln[i] = np.sqrt(dd)
        seg[0, i], seg[1, i], seg[2, i], seg[3, i] = ax, ay, dx, dy
        seg[4, i] = dd if dd > 0 else 1.0  # a zero-length segment: t = 0, its start
        for x, y in ((ax, ay), (ax + dx, ay + dy)):
            bounds[0], bounds[1] = min(bounds[0], x), min(bounds[1], y)
            bounds[2], bounds[3] = max(bounds[2], x), max(bounds[3], y)
    return seg, ln, bounds


def _along(ln: np.ndarray, n_seg: np.ndarray) -> np.ndarray:
    """The distance of each segment's start along its edge.

    All segments before it, less those before its edge's first segment (one running
    sum, as the segments come edge by edge).
    """
    along = np.empty(len(ln))
    along[:1] = 0.0
    np.cumsum(ln[:-1], out=along[1:])
    n_seg = n_seg[n_seg > 0]
    along -= np.repeat(along[np.cumsum(n_seg) - n_seg], n_seg)
    return along


def _cell_size(ln: np.ndarray) -> float:
    """The median segment, or half the mean if larger (at most 3 pieces per segment on average).

    The median of every 16th segment: the cell size only decides the speed, not a result.
    """
    if len(ln) == 0:
        return 1.0
    return max(float(np.median(ln[::16])), 0.5 * float(ln.mean()), 1.0)


def _frame(bounds: np.ndarray, s: float, n_seg: int) -> tuple[float, float, float, int, int]:
    """The grid ``(x0, y0, cell, nx, ny)`` over ``bounds`` (xmin, ymin, xmax, ymax).

    The cell grows only until ``cell << bits | segment`` fits in 63 bits (a sparse
    grid's keys; a continent at 1 m cells).
    """
    if not np.isfinite(bounds).all():  # no segment
        return 0.0, 0.0, s, 1, 1
    lo_xy, hi_xy = [float(b) for b in bounds[:2]], [float(b) for b in bounds[2:]]
    while True:
        nx = int(np.floor((hi_xy[0] - lo_xy[0]) / s)) + 1
        ny = int(np.floor((hi_xy[1] - lo_xy[1]) / s)) + 1
        if nx * ny < 2**62 >> _bits(n_seg):
            return lo_xy[0], lo_xy[1], s, nx, ny
        s *= 2.0


def _bits(n_seg: int) -> int:
    """The bits of a segment id in a sparse grid's key ``cell << bits | segment``."""
    return max(int(n_seg - 1).bit_length(), 1)


@kernel(inline=True)
def _box(seg, j, k, m, x0, y0, s, nx, ny):
    """The cells ``(cx0, cx1, cy0, cy1)``, clamped to the grid, of piece ``k`` of ``m`` of ``j``.

    Each piece is at most one cell long, so it meets 2 × 2 cells at most. A cell is
    ``floor((x - x0) / s)``, which grows with ``x``: the lower cell of a piece is that of
    its lower end.
    """
    ax, ay, dx, dy = seg[0, j], seg[1, j], seg[2, j], seg[3, j]
    f0, f1 = k / m, (k + 1) / m
    cx0 = int(np.floor((ax + dx * f0 - x0) / s))
    cx1 = int(np.floor((ax + dx * f1 - x0) / s))
    cy0 = int(np.floor((ay + dy * f0 - y0) / s))
    cy1 = int(np.floor((ay + dy * f1 - y0) / s))
    if cx1 < cx0:
        cx0, cx1 = cx1, cx0
    if cy1 < cy0:
        cy0, cy1 = cy1, cy0
    return (
        min(max(cx0, 0), nx - 1),
        min(max(cx1, 0), nx - 1),
        min(max(cy0, 0), ny - 1),
        min(max(cy1, 0), ny - 1),
    )


def _cells(
    seg: np.ndarray, ln: np.ndarray, x0: float, y0: float, s: float, nx: int, ny: int
) -> tuple[np.ndarray, np.ndarray]:
    """``indptr`` (per cell, row-major) and ``entries``: the segments met by each cell, ascending.

    Two passes over the segments (count, then fill), each on two threads for
    large networks: each half of the segments counts into its own array, and the
    first half's entries of a cell come before the second's.
    """
    n, ncell = seg.shape[1], nx * ny
    halves = [(0, n)] if n < _THREADED_MIN else [(0, n // 2), (n // 2, n)]
    counts = [np.zeros(ncell, dtype=np.int64) for _ in halves]
    # per half, the last segment entered in each cell (the pieces of a segment share cells)
    lasts = [np.empty(ncell, dtype=np.int32) for _ in halves]

    def enter(h: int, at: np.ndarray, entries: np.ndarray) -> None:
        lasts[h].fill(-1)  # each pass enters the same segments again
        lo, hi = halves[h]
        _enter(seg, ln, x0, y0, s, nx, ny, lo, hi, lasts[h], at, entries)

    with ThreadPoolExecutor(len(halves)) as pool:
        none = np.empty(0, dtype=np.int32)
        list(pool.map(enter, range(len(halves)), counts, [none] * len(halves)))
        indptr = np.zeros(ncell + 1, dtype=np.int64)
        np.cumsum(sum(counts[1:], counts[0]), out=indptr[1:])
        entries = np.empty(int(indptr[-1]), dtype=np.int32)
        at = [indptr[:-1].copy()]
        if len(halves) > 1:
            at.append(at[0] + counts[0])
        list(pool.map(enter, range(len(halves)), at, [entries] * len(halves)))
    return indptr, entries


@kernel
def _enter(seg, ln, x0, y0, s, nx, ny, lo, hi, last, at, entries) -> None:
    """Count or enter segments ``lo:hi`` in the cells they meet (a dense grid).

    Counting (``entries`` empty), ``at`` is the count per cell; entering, the next
    free position in ``entries`` per cell. A segment of length ``L`` is cut into
    ``ceil(L / s)`` pieces; a cell already holding the segment (from its previous
    piece) is skipped.
    """
    fill = len(entries) > 0
    for j in range(lo, hi):
        m = 1 if ln[j] <= s else int(np.ceil(ln[j] / s))
        for k in range(m):
            cx0, cx1, cy0, cy1 = _box(seg, j, k, m, x0, y0, s, nx, ny)
            for cy in range(cy0, cy1 + 1):
                for cx in range(cx0, cx1 + 1):
                    c = cy * nx + cx
                    if last[c] == j:
                        continue
                    last[c] = j
                    if fill:
                        entries[at[c]] = j
                    at[c] += 1


def _sparse_cells(
    seg: np.ndarray, ln: np.ndarray, x0: float, y0: float, s: float, nx: int, ny: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``cells``, ``indptr`` and ``entries`` of a sparse grid.

    ``cells``: the occupied cells, ascending, one row of ``indptr`` each. Every key
    ``cell << bits | segment`` is made, sorted, and its duplicates dropped.
    """
    bits = _bits(seg.shape[1])
    keys = np.empty(_keys(seg, ln, x0, y0, s, nx, ny, bits, np.empty(0, dtype=np.int64)), np.int64)
    _keys(seg, ln, x0, y0, s, nx, ny, bits, keys)
    keys.sort()
    keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
    cell = keys >> bits
    new = np.concatenate([[True], cell[1:] != cell[:-1]])
    entries = (keys & ((1 << bits) - 1)).astype(np.int32)
    return cell[new], np.append(np.flatnonzero(new), len(cell)).astype(np.int64), entries


@kernel
def _keys(seg, ln, x0, y0, s, nx, ny, bits, keys) -> int:
    """Count (``keys`` empty) or write the keys ``cell << bits | segment`` (a sparse grid).

    One key per cell met by each piece of each segment (pieces may repeat a cell).
    """
    out = 0
    for j in range(seg.shape[1]):
        m = 1 if ln[j] <= s else int(np.ceil(ln[j] / s))
        for k in range(m):
            cx0, cx1, cy0, cy1 = _box(seg, j, k, m, x0, y0, s, nx, ny)
            for cy in range(cy0, cy1 + 1):
                for cx in range(cx0, cx1 + 1):
                    if len(keys):
                        keys[out] = ((cy * nx + cx) << bits) | j
                    out += 1
    return out
