"""The snapping index: the edges' 2-point segments bucketed on a square grid (built once per network).

Every segment is entered in each grid cell it passes through (through the bounding
boxes of its pieces ≤ one cell long, so a long diagonal does not fill its whole
bounding box). The entries are sorted by cell, then segment, one per (cell,
segment): :mod:`~gridmap.network._snapgrid` reads a block of cells as a few
contiguous runs.

The build runs on two threads (NumPy releases the GIL on large arrays): each half
of the segments gets its rows and its cell keys on its own thread.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import shapely

from gridmap.network.graph import Network

_STEP = 1 << 16  # segments per batch: small temporaries, reused
_THREADED_MIN = 200_000  # segments from which the build uses a second thread


def segment_grid(net: Network) -> dict:
    """The segments of every edge and the grid index of them (built once per network).

    Keys: ``seg`` (rows start x, start y, direction x, direction y and squared
    length (1 for a zero-length segment), one column per segment: a candidate's
    values are gathered row by row from contiguous arrays),
    ``along`` (distance of its start along its edge) and ``edge`` (both None
    when every edge is one segment: segment ``i`` is edge ``i``, from its start); the grid ``x0``,
    ``y0``, ``cell``, ``nx``, ``ny``; ``indptr`` (per cell, row-major) into
    ``entries`` (segment ids sorted by cell); ``cells`` (None, or the occupied
    cells on a sparse grid, see :func:`_csr`).
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
    n = int(n_seg.sum())
    two = len(n_coords) > 0 and bool((n_coords == 2).all())  # one segment per edge (e.g. a lattice)
    c, edge, along = None, None, None
    if not two:
        starts = np.ones(len(coords), dtype=bool)  # every vertex but the last of its edge
        starts[np.cumsum(n_coords) - 1] = False
        c = np.flatnonzero(starts)  # segment starts (vertex positions)
        edge = np.repeat(np.arange(net.n_edges, dtype=np.int64), n_seg)
    seg = np.empty((5, n))  # rows ax, ay, dx, dy, dd (squared length), one column per segment
    ln = np.empty(n)
    halves = _halves(n)
    with ThreadPoolExecutor(len(halves)) as pool:
        list(pool.map(lambda h: _rows(coords, c, seg, ln, h[0], h[1]), halves))
        s = _cell_size(ln)
        frame, bits = _frame(coords, s, n)
        n_p = None if (ln <= s).all() else np.maximum(np.ceil(ln / s), 1.0).astype(np.int64)
        keys = list(pool.map(lambda h: _sorted_keys(seg, n_p, h[0], h[1], frame, bits), halves))
    if len(keys) == 1:
        key = keys[0]
    else:  # two sorted runs: merged in place
        key = np.concatenate(keys)
        key.sort(kind="stable")
    if n_p is not None:  # pieces of one segment can share a cell: one entry per (cell, segment)
        keep = np.ones(len(key), dtype=bool)
        np.not_equal(key[1:], key[:-1], out=keep[1:])
        key = key[keep]
    if not two:
        along = _along(ln, n_seg)
    grid = {"seg": seg, "along": along, "edge": edge}
    grid.update(_csr(key, frame, bits, n))
    net._cache["snap_grid"] = grid
    return grid


def _halves(n: int) -> list[tuple[int, int]]:
    """The segment ranges built side by side (one when there are few)."""
    if n < _THREADED_MIN:
        return [(0, n)]
    mid = (n // 2 // _STEP + 1) * _STEP
    return [(0, mid), (mid, n)]


def _rows(
    coords: np.ndarray, c: np.ndarray | None, seg: np.ndarray, ln: np.ndarray, lo: int, hi: int
) -> None:
    """Fill ``seg`` and ``ln`` (segment lengths) for segments ``lo:hi``.

    ``c``: the segments' start vertices (None: two vertices per edge, segment ``i``
    starts at vertex ``2 i``).
    """
    for a in range(lo, hi, _STEP):
        b = min(a + _STEP, hi)
        ax, ay, dx, dy, dd = seg[:, a:b]
        if c is None:
            ends = coords[2 * a : 2 * b].reshape(-1, 4)
            starts, stops = ends[:, :2], ends[:, 2:]
        else:
            starts, stops = np.take(coords, c[a:b], axis=0), np.take(coords, c[a:b] + 1, axis=0)
        ax[:], ay[:] = starts[:, 0], starts[:, 1]
        np.subtract(stops[:, 0], ax, out=dx)
        np.subtract(stops[:, 1], ay, out=dy)
        np.multiply(dx, dx, out=dd)
        dd += dy * dy
        np.sqrt(dd, out=ln[a:b])
        dd[~(dd > 0)] = 1.0  # a zero-length segment: t = 0, its start


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


def _frame(coords: np.ndarray, s: float, n_seg: int) -> tuple[tuple, int]:
    """The grid ``(x0, y0, cell, nx, ny)`` over ``coords`` and the bits of a segment id in a key.

    The cell grows until ``cell * 2**bits + segment`` fits in 63 bits (a continent at 1 m cells).
    """
    lo_xy = [float(coords[:, 0].min()), float(coords[:, 1].min())]
    hi_xy = [float(coords[:, 0].max()), float(coords[:, 1].max())]
    n_seg = max(n_seg, 1)
    while True:
        nx = int(np.floor((hi_xy[0] - lo_xy[0]) / s)) + 1
        ny = int(np.floor((hi_xy[1] - lo_xy[1]) / s)) + 1
        if nx * ny * n_seg < 2**62:
            break
        s *= 2.0
    # the cell in the high bits (2**bits >= n_seg, and cell * 2**bits < 2 * nx * ny * n_seg < 2**63),
    # so that decoding is a shift and a mask
    return (lo_xy[0], lo_xy[1], s, nx, ny), int(n_seg - 1).bit_length()


def _sorted_keys(
    seg: np.ndarray, n_p: np.ndarray | None, lo: int, hi: int, frame: tuple, bits: int
) -> np.ndarray:
    """``cell << bits | segment`` of every cell met by the pieces of segments ``lo:hi``, sorted.

    ``n_p``: pieces per segment (None: one each). A segment of ``m`` pieces has
    pieces ``k / m .. (k + 1) / m`` of its length.
    """
    out = []
    for a in range(lo, hi, _STEP):
        b = min(a + _STEP, hi)
        cnt = None if n_p is None else n_p[a:b]
        if cnt is None or (cnt == 1).all():  # nearly always: the rows as they are
            ax, ay, dx, dy = seg[:4, a:b]
            out.append(_keys(ax, ay, ax + dx, ay + dy, np.arange(a, b), frame, bits))
            continue
        ids = np.arange(a, b)
        for m in (1, 2):
            which = ids[cnt == m]
            for k in range(m):
                out.append(_piece_keys(seg, which, k / m, (k + 1) / m, frame, bits))
        many = np.flatnonzero(cnt > 2)
        if len(many):
            c = cnt[many]
            which = np.repeat(ids[many], c)
            k = np.arange(len(which)) - np.repeat(np.cumsum(c) - c, c)
            m_ = np.repeat(c, c).astype(np.float64)
            out.append(_piece_keys(seg, which, k / m_, (k + 1) / m_, frame, bits))
    key = np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
    key.sort()
    return key


def _piece_keys(seg: np.ndarray, which: np.ndarray, f0, f1, frame: tuple, bits: int) -> np.ndarray:
    """The keys of the cells met by the pieces ``f0 .. f1`` (shares of the length) of ``which``."""
    ax, ay, dx, dy = (seg[k, which] for k in range(4))
    return _keys(ax + dx * f0, ay + dy * f0, ax + dx * f1, ay + dy * f1, which, frame, bits)


def _keys(
    x0_: np.ndarray,
    y0_: np.ndarray,
    x1_: np.ndarray,
    y1_: np.ndarray,
    which: np.ndarray,
    frame: tuple,
    bits: int,
) -> np.ndarray:
    """The keys of the cells met by the boxes of the pieces ``(x0_, y0_)–(x1_, y1_)`` of ``which``.

    Each piece is at most one cell long, so it meets the cells ``(ix0, iy0)`` to
    ``(ix0 + 1, iy0 + 1)`` at most. A cell is ``floor((x - x0) / cell)``, which
    grows with ``x``: the lower cell of a piece is that of its lower end.
    """
    ox, oy, s, nx, ny = frame
    ix0, ix1 = _cell_range(x0_, x1_, ox, s, nx)
    iy0, iy1 = _cell_range(y0_, y1_, oy, s, ny)
    base = iy0 * nx
    base += ix0
    base <<= bits
    base += which
    okx = ix0 < ix1
    oky = iy0 < iy1
    return np.concatenate(
        [
            base,
            base[okx] + (1 << bits),
            base[oky] + (nx << bits),
            base[okx & oky] + ((nx + 1) << bits),
        ]
    )


def _cell_range(p0: np.ndarray, p1: np.ndarray, o: float, s: float, n: int):
    """The lowest and highest cell (``0 .. n - 1``) of the pieces from ``p0`` to ``p1`` on one axis."""
    c0 = np.floor((p0 - o) / s).astype(np.int64)
    c1 = np.floor((p1 - o) / s).astype(np.int64)
    lo = np.minimum(c0, c1)
    hi = np.maximum(c0, c1, out=c1)
    np.clip(lo, 0, n - 1, out=lo)
    np.clip(hi, 0, n - 1, out=hi)
    return lo, hi


def _csr(key: np.ndarray, frame: tuple, bits: int, n_seg: int) -> dict:
    """The grid and its cell → segments lists (CSR, cells row-major, each list in segment order).

    ``cells`` is None when every cell of the grid has its row in ``indptr``; on a
    sparse grid (a wide extent with few streets) only the cells holding segments
    have one, listed in ``cells``.
    """
    x0, y0, s, nx, ny = frame
    if nx * ny <= max(4 * n_seg, 2**20):
        cells = None
        indptr = np.zeros(nx * ny + 1, dtype=np.int64)
        count = indptr[1:]
        buf = np.empty(max(min(len(key), _STEP * 16), 1), dtype=np.int64)
        for a in range(0, len(key), len(buf)):  # the cells of a slice of the (sorted) keys
            cell = np.right_shift(key[a : a + len(buf)], bits, out=buf[: len(key) - a])
            lo = int(cell[0])
            cell -= lo
            count[lo : lo + int(cell[-1]) + 1] += np.bincount(cell)
        np.cumsum(indptr, out=indptr)
    else:
        cell = key >> bits
        new = np.concatenate([[True], cell[1:] != cell[:-1]])
        cells = cell[new]
        indptr = np.append(np.flatnonzero(new), len(cell))
    key &= (1 << bits) - 1  # the segment
    return {
        "x0": x0,
        "y0": y0,
        "cell": s,
        "nx": nx,
        "ny": ny,
        "cells": cells,
        "indptr": indptr,
        "entries": key.astype(np.int32 if n_seg < 2**31 else np.int64),
    }
