"""Snapping large batches with the grid index of the edge segments (:mod:`._snapindex`).

A point is compared with the segments entered in a block of cells around it; the
nearest of those is provably the nearest of all when it is nearer than the
block's border (a segment entered in no cell of the block lies wholly outside
it). The first block is the 2 × 2 cells nearest the point (its border at least
half a cell away); while the nearest is not proven, the block grows by one ring
of cells (4 × 4, 6 × 6, …: :data:`_WIDE` blocks, up to 10 × 10); the rare points
not proven then go to the STRtree.

Ties (segments within 1e-9 m of the nearest, e.g. at a node) go to the lowest
segment id: the lowest edge id, as on the STRtree path, and on that edge its
first segment along it (segments are numbered edge by edge).

The search is one loop per point, compiled with Numba (:mod:`._jit`); it
releases the GIL, so a large batch runs on two threads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from gridmap.network._jit import kernel
from gridmap.network._snapindex import segment_grid
from gridmap.network.graph import TIE_M, Network

_MARGIN_M = 2 * TIE_M + 1e-6  # a proof needs the nearest this much inside the block's border
_WIDE = 5  # blocks tried: 2 × 2 cells, then one more ring each, up to 10 × 10
_THREADED_MIN = 50_000  # points from which a batch runs on two threads

Nearest = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # edge, offset, dist, exact


def snap_grid(net: Network, xy: np.ndarray) -> tuple[np.ndarray, Nearest]:
    """Nearest edge point of every point via the grid index.

    Returns ``order`` (the points in the order handled: cell by cell, which keeps
    the look-ups in cache) and, in that order, ``edge``, ``offset``, ``dist`` and
    ``exact`` (False where the point was not proven within the widest block:
    those go to the STRtree).
    """
    grid = segment_grid(net)
    s, nx = grid["cell"], grid["nx"]
    cx = np.floor((xy[:, 0] - grid["x0"]) / s)
    cy = np.floor((xy[:, 1] - grid["y0"]) / s)
    key = np.clip(cy, -1, grid["ny"] + 1).astype(np.int64) * (nx + 3)
    key += np.clip(cx, -1, nx + 1).astype(np.int64)
    order = np.argsort(key)  # any order within a cell: each point is on its own
    xs = np.ascontiguousarray(xy[order], dtype=np.float64)
    n = len(xs)
    edge, offset = np.empty(n, dtype=np.int64), np.empty(n)
    dist, exact = np.empty(n), np.empty(n, dtype=bool)
    along, edge_of = grid["along"], grid["edge"]
    seg, indptr, cells, entries = grid["seg"], grid["indptr"], grid["cells"], grid["entries"]
    x0, y0, ny = float(grid["x0"]), float(grid["y0"]), int(grid["ny"])

    def run(lo: int, hi: int) -> None:
        _snap(
            seg, along, edge_of, indptr, cells, entries, x0, y0, float(s), int(nx), ny, xs, lo,
            hi, _WIDE, TIE_M, _MARGIN_M, edge, offset, dist, exact,
        )  # fmt: skip

    if n < _THREADED_MIN:
        run(0, n)
    else:  # each point is on its own: two halves side by side (the kernel releases the GIL)
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(run, (0, n // 2), (n // 2, n)))
    snapped = np.flatnonzero(edge >= 0)
    offset[snapped] = np.clip(offset[snapped], 0.0, net.length[edge[snapped]])
    return order, (edge, offset, dist, exact)


@kernel(inline=True)
def _run(indptr, cells, row, xlo, xhi):
    """Where the entries of cells ``xlo..xhi`` of grid row ``row`` start and end.

    ``cells`` None (a dense grid: every cell has its row of ``indptr``) is decided
    when the kernel is compiled, not per row.
    """
    if cells is None:
        return indptr[row + xlo], indptr[row + xhi + 1]
    lo = np.searchsorted(cells, row + xlo)
    return indptr[lo], indptr[np.searchsorted(cells, row + xhi, side="right")]


@kernel(inline=True)
def _d2(seg, j, px, py):
    """The projection ``t`` (0..1) of ``(px, py)`` on segment ``j`` and its squared distance.

    A zero-length segment's projection is its start (its ``dd`` is stored as 1).
    """
    rx, ry = px - seg[0, j], py - seg[1, j]
    dx, dy = seg[2, j], seg[3, j]
    t = min(max((rx * dx + ry * dy) / seg[4, j], 0.0), 1.0)
    rx -= dx * t
    ry -= dy * t
    return t, rx * rx + ry * ry


@kernel
def _scan(seg, indptr, cells, entries, nx, px, py, xlo, xhi, ylo, yhi, d2min) -> float:
    """The least of ``d2min`` and the squared distances to the segments of a block of cells.

    The block is the cells ``xlo..xhi × ylo..yhi``; each of its rows is one run of entries.
    """
    for cy in range(ylo, yhi + 1):
        start, end = _run(indptr, cells, cy * nx, xlo, xhi)
        for e in range(start, end):
            d2 = _d2(seg, entries[e], px, py)[1]
            if d2 < d2min:
                d2min = d2
    return d2min


@kernel
def _snap(
    seg, along, edge_of, indptr, cells, entries, x0, y0, s, nx, ny, xy, lo, hi, wide, tie,
    margin, out_edge, out_off, out_dist, out_exact,
) -> None:  # fmt: skip
    """Snap points ``lo:hi`` of ``xy`` into the ``out_*`` arrays (see :func:`snap_grid`).

    Block ``k`` (1 .. ``wide``) is the cells ``b - k + 1 .. b + k`` on each axis
    around the 2 × 2 block ``b .. b + 1`` nearest the point; each larger block
    adds the ring around the previous one. A cell index outside ``0 .. n - 1`` is
    clamped: the grid's outer cells reach to infinity (every segment lies inside
    the grid), so a block reaching past them has no border on that side. A point
    is proven (``exact``) when its nearest is ``margin`` inside the border; ties
    within ``tie`` of the nearest go to the lowest segment id.
    """
    for i in range(lo, hi):
        px, py = xy[i, 0], xy[i, 1]
        fx = min(max((px - x0) / s, -1.0), nx + 1.0)
        fy = min(max((py - y0) / s, -1.0), ny + 1.0)
        cx, cy = int(np.floor(fx)), int(np.floor(fy))
        bx = cx - 1 if fx - cx < 0.5 else cx
        by = cy - 1 if fy - cy < 0.5 else cy
        d2min = np.inf
        exact = False
        xl = xh = yl = yh = 0
        for k in range(1, wide + 1):
            ax, bx_, ay, by_ = bx - k + 1, bx + k, by - k + 1, by + k
            xl, xh, yl, yh = max(ax, 0), min(bx_, nx - 1), max(ay, 0), min(by_, ny - 1)
            # the cells not yet scanned: the whole block first, then the ring around the last
            ixl, ixh = max(ax + 1, 0), min(bx_ - 1, nx - 1)
            iyl, iyh = max(ay + 1, 0), min(by_ - 1, ny - 1)
            if xl <= xh and yl <= yh:
                if k == 1 or ixl > ixh or iyl > iyh:
                    d2min = _scan(seg, indptr, cells, entries, nx, px, py, xl, xh, yl, yh, d2min)
                else:
                    if yl < iyl:
                        d2min = _scan(
                            seg, indptr, cells, entries, nx, px, py, xl, xh, yl, iyl - 1, d2min
                        )
                    if yh > iyh:
                        d2min = _scan(
                            seg, indptr, cells, entries, nx, px, py, xl, xh, iyh + 1, yh, d2min
                        )
                    if xl < ixl:
                        d2min = _scan(
                            seg, indptr, cells, entries, nx, px, py, xl, ixl - 1, iyl, iyh, d2min
                        )
                    if xh > ixh:
                        d2min = _scan(
                            seg, indptr, cells, entries, nx, px, py, ixh + 1, xh, iyl, iyh, d2min
                        )
            border = np.inf
            if ax > 0:
                border = min(border, px - (x0 + ax * s))
            if bx_ < nx - 1:
                border = min(border, x0 + (bx_ + 1) * s - px)
            if ay > 0:
                border = min(border, py - (y0 + ay * s))
            if by_ < ny - 1:
                border = min(border, y0 + (by_ + 1) * s - py)
            if np.sqrt(d2min) + margin < border:
                exact = True
                break
        # the ties within ``tie`` of the nearest: the lowest segment id (even where ``tie`` is
        # below the rounding of the squared distance)
        lim = np.sqrt(d2min) + tie
        lim = max(lim * lim, d2min)
        best, bt, bd2 = -1, 0.0, 0.0
        for cy2 in range(yl, yh + 1):
            start, end = _run(indptr, cells, cy2 * nx, xl, xh)
            for e in range(start, end):
                j = entries[e]
                if best >= 0 and j >= best:
                    continue
                t, d2 = _d2(seg, j, px, py)
                if d2 <= lim:
                    best, bt, bd2 = j, t, d2
        if best < 0:  # no segment in the widest block
            out_edge[i], out_off[i], out_dist[i], out_exact[i] = -1, np.nan, np.inf, False
            continue
        out_exact[i] = exact
        out_dist[i] = np.sqrt(bd2)
        off = bt * np.sqrt(seg[4, best])
        if along is None:  # one segment per edge: segment ``best`` is edge ``best``
            out_edge[i] = best
        else:
            off += along[best]
            out_edge[i] = edge_of[best]
        out_off[i] = off
