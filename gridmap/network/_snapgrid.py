"""The snapping index for large batches: the edges' 2-point segments bucketed on a square grid.

Every segment is entered in each grid cell it passes through (through the bounding
boxes of its pieces ≤ one cell long, so a long diagonal does not fill its whole
bounding box). A point is compared with the segments of the block of
``(2h + 1) × (2h + 1)`` cells around its own; the nearest of those is provably the
nearest of all when it is nearer than the block's border (a segment entered in no
cell of the block lies wholly outside it). Each row of a block is one contiguous
run of the cell-sorted entries, so a point reads ``2h + 1`` runs. The rare points
not proven with ``h = 1`` are tried with ``h = 4``; the rest go to the STRtree.

Ties (segments within 1e-9 m of the nearest, e.g. at a node) go to the lowest
edge id, as on the STRtree path.
"""

from __future__ import annotations

import numpy as np
import shapely

from gridmap.network.graph import Network

TIE_M = 1e-9  # edges this close to equidistant are a tie (the lowest edge id wins)
_MARGIN_M = 2 * TIE_M + 1e-6  # a proof needs the nearest this much inside the block's border
_CHUNK = 8192  # points per batch: the per-candidate temporaries stay in cache
_WIDE = 4  # the half-width (cells) of the second try
_MAX_PAIRS = 1 << 20  # point-segment pairs compared at once (memory)


def segment_grid(net: Network) -> dict:
    """The segments of every edge and the grid index of them (built once per network).

    Keys: ``seg`` (per segment: start x, y, direction x, y and its squared length
    (1 for a zero-length segment), one row each),
    ``along`` (distance of its start along its edge), ``edge``; the grid ``x0``,
    ``y0``, ``cell``, ``nx``, ``ny``; ``indptr`` (per cell, row-major) into
    ``entries`` (segment ids sorted by cell).
    """
    grid = net._cache.get("snap_grid")
    if grid is not None:
        return grid
    cached = net._cache.get("coords")  # kept by build_network
    if cached is not None:
        coords, n_coords = cached
        starts = np.ones(len(coords), dtype=bool)  # every vertex but the last of its edge
        starts[np.cumsum(n_coords) - 1] = False
        c = np.flatnonzero(starts)  # segment starts (vertex positions)
        n_seg = n_coords - 1  # segments per edge
        edge = np.repeat(np.arange(net.n_edges, dtype=np.int64), n_seg)
    else:
        coords, idx = shapely.get_coordinates(net.geometry, return_index=True)
        c = np.flatnonzero(idx[1:] == idx[:-1])
        edge = idx[c].astype(np.int64, copy=False)
        n_seg = np.bincount(edge, minlength=net.n_edges)
    seg = np.empty((len(c), 5))  # one row per segment: ax, ay, dx, dy, dd (squared length)
    seg[:, :2] = np.take(coords, c, axis=0)
    seg[:, 2:4] = np.take(coords, c + 1, axis=0)
    seg[:, 2:4] -= seg[:, :2]
    dd = seg[:, 2] * seg[:, 2]
    dd += seg[:, 3] * seg[:, 3]
    ln = np.sqrt(dd)
    seg[:, 4] = np.where(dd > 0, dd, 1.0)  # a zero-length segment: t = 0, its start
    # the distance of each segment's start along its edge: all segments before it, less those
    # before its edge's first segment (one running sum, as the segments come edge by edge)
    along = np.empty(len(c))
    along[:1] = 0.0
    np.cumsum(ln[:-1], out=along[1:])
    n_seg = n_seg[n_seg > 0]
    along -= np.repeat(along[np.cumsum(n_seg) - n_seg], n_seg)
    grid = {"seg": seg, "along": along, "edge": edge}
    grid.update(_bucket(coords, seg, ln))
    net._cache["snap_grid"] = grid
    return grid


def _cell_size(ln: np.ndarray) -> float:
    """The median segment, or half the mean if larger (at most 3 pieces per segment on average).

    The median of every 16th segment: the cell size only decides the speed, not a result.
    """
    if len(ln) == 0:
        return 1.0
    return max(float(np.median(ln[::16])), 0.5 * float(ln.mean()), 1.0)


def _bucket(coords: np.ndarray, seg: np.ndarray, ln: np.ndarray) -> dict:
    """The grid and its cell → segments lists (CSR, cells row-major, each list in segment order).

    ``cells`` is None when every cell of the grid has its row in ``indptr``; on a
    sparse grid (a wide extent with few streets) only the cells holding segments
    have one, listed in ``cells``.
    """
    lo_xy = [float(coords[:, 0].min()), float(coords[:, 1].min())]
    hi_xy = [float(coords[:, 0].max()), float(coords[:, 1].max())]
    s = _cell_size(ln)
    n_seg = max(len(seg), 1)
    while True:  # cell * n_segments + segment must fit in 62 bits (a continent at 1 m cells)
        nx = int(np.floor((hi_xy[0] - lo_xy[0]) / s)) + 1
        ny = int(np.floor((hi_xy[1] - lo_xy[1]) / s)) + 1
        if nx * ny * n_seg < 2**62:
            break
        s *= 2.0
    frame = (lo_xy[0], lo_xy[1], s, nx, ny)
    # pieces ≤ one cell long: each meets at most 2 × 2 cells
    n_p = np.maximum(np.ceil(ln / s), 1.0).astype(np.int64)
    # one number per (cell, segment): the cell in the high bits (2**bits >= n_seg, and
    # cell * 2**bits < 2 * nx * ny * n_seg < 2**63), so that decoding is a shift and a mask
    bits = int(n_seg - 1).bit_length()
    step = _CHUNK * 8  # segments per batch: small temporaries, reused
    parts = [
        _piece_cells(seg, n_p, lo, min(lo + step, len(seg)), frame, bits)
        for lo in range(0, len(seg), step)
    ]
    # sorted by cell, then segment; one entry per (cell, segment)
    key = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    key.sort()
    keep = np.ones(len(key), dtype=bool)
    np.not_equal(key[1:], key[:-1], out=keep[1:])
    key = key[keep]
    cell = key >> bits
    key &= (1 << bits) - 1  # the segment
    if nx * ny <= max(4 * len(seg), 2**20):
        cells = None
        indptr = np.zeros(nx * ny + 1, dtype=np.int64)
        np.cumsum(np.bincount(cell, minlength=nx * ny), out=indptr[1:])
    else:
        new = np.concatenate([[True], cell[1:] != cell[:-1]])
        cells = cell[new]
        indptr = np.append(np.flatnonzero(new), len(cell))
    return {
        "x0": frame[0],
        "y0": frame[1],
        "cell": s,
        "nx": nx,
        "ny": ny,
        "cells": cells,
        "indptr": indptr,
        "entries": key.astype(np.int32 if len(seg) < 2**31 else np.int64),
    }


def _piece_cells(
    seg: np.ndarray, n_p: np.ndarray, lo: int, hi: int, frame: tuple, bits: int
) -> np.ndarray:
    """``cell << bits | segment`` of every cell met by the pieces of segments ``lo:hi``.

    A segment of ``m`` pieces has pieces ``k / m .. (k + 1) / m`` of its length; the
    segments of one or two pieces (nearly all) without expanding them piece by piece.
    """
    cnt = n_p[lo:hi]
    ids = np.arange(lo, hi)
    out = []
    for m in (1, 2):
        which = ids[cnt == m]
        for k in range(m):
            out.append(_cells_of(seg, which, k / m, (k + 1) / m, frame, bits))
    many = np.flatnonzero(cnt > 2)
    if len(many):
        c = cnt[many]
        which = np.repeat(ids[many], c)
        k = np.arange(len(which)) - np.repeat(np.cumsum(c) - c, c)
        m_ = np.repeat(c, c).astype(np.float64)
        out.append(_cells_of(seg, which, k / m_, (k + 1) / m_, frame, bits))
    return np.concatenate(out)


def _cells_of(seg: np.ndarray, which: np.ndarray, f0, f1, frame: tuple, bits: int) -> np.ndarray:
    """The keys of the cells met by the pieces ``f0 .. f1`` (shares of the length) of ``which``."""
    x0, y0, s, nx, ny = frame
    cells = []
    for dim, (o, n_cells) in enumerate(((x0, nx), (y0, ny))):
        a = seg[which, dim]
        d = seg[which, dim + 2]
        p0 = a + d * f0
        p1 = a + d * f1
        c0 = np.floor((np.minimum(p0, p1) - o) / s).astype(np.int64)
        c1 = np.floor((np.maximum(p0, p1) - o) / s).astype(np.int64)
        np.clip(c0, 0, n_cells - 1, out=c0)
        np.clip(c1, 0, n_cells - 1, out=c1)
        cells.append((c0, c1))
    (ix0, ix1), (iy0, iy1) = cells
    out = [((iy0 * nx + ix0) << bits) + which]
    for ox, oy in ((1, 0), (0, 1), (1, 1)):
        ok = (ix0 + ox <= ix1) & (iy0 + oy <= iy1)
        out.append((((iy0[ok] + oy) * nx + ix0[ok] + ox) << bits) + which[ok])
    return np.concatenate(out)


def _runs(grid: dict, first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the entries of cells ``first..last`` (one grid row each) start and end."""
    ptr = grid["indptr"]
    if grid["cells"] is None:
        return ptr[first], ptr[last + 1]
    cells = grid["cells"]
    return ptr[np.searchsorted(cells, first, "left")], ptr[np.searchsorted(cells, last, "right")]


Nearest = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # edge, offset, dist, exact


def snap_grid(net: Network, xy: np.ndarray) -> Nearest:
    """Nearest edge point of every point via the grid index.

    Returns ``edge``, ``offset``, ``dist`` and ``exact`` (False where the point was
    not proven within the wider block either: those go to the STRtree). The points
    are handled in cell order and in batches, which keeps the look-ups in cache.
    """
    grid = segment_grid(net)
    s, nx, ny = grid["cell"], grid["nx"], grid["ny"]
    fx = np.clip((xy[:, 0] - grid["x0"]) / s, -1.0, nx + 1.0)
    fy = np.clip((xy[:, 1] - grid["y0"]) / s, -1.0, ny + 1.0)
    cx, cy = np.floor(fx).astype(np.int64), np.floor(fy).astype(np.int64)
    # the 2 × 2 cells nearest each point: its border is at least half a cell away
    bx = cx - (fx - cx < 0.5)
    by = cy - (fy - cy < 0.5)
    order = np.argsort(cy * (nx + 3) + cx)  # any order within a cell: each point is on its own
    # the points in cell order once, so that every batch is a contiguous slice
    xs, bx, by = xy[order], bx[order], by[order]
    n = len(xy)
    edge, offset = np.full(n, -1, dtype=np.int64), np.full(n, np.nan)
    dist, ok = np.full(n, np.inf), np.zeros(n, dtype=bool)
    for lo in range(0, n, _CHUNK):
        sl = slice(lo, lo + _CHUNK)
        b_x, b_y = bx[sl], by[sl]
        edge[sl], offset[sl], dist[sl], ok[sl] = _nearest_in_block(
            grid, xs[sl], b_x, b_x + 1, b_y, b_y + 1
        )
    redo = np.flatnonzero(~ok)
    if len(redo):
        r = order[redo]
        edge[redo], offset[redo], dist[redo], ok[redo] = _nearest_in_block(
            grid, xs[redo], cx[r] - _WIDE, cx[r] + _WIDE, cy[r] - _WIDE, cy[r] + _WIDE
        )
    snapped = edge >= 0
    offset[snapped] = np.clip(offset[snapped], 0.0, net.length[edge[snapped]])
    out_e, out_o = np.empty_like(edge), np.empty_like(offset)
    out_d, out_ok = np.empty_like(dist), np.empty_like(ok)
    out_e[order], out_o[order], out_d[order], out_ok[order] = edge, offset, dist, ok
    return out_e, out_o, out_d, out_ok


def _nearest_in_block(
    grid: dict,
    xy: np.ndarray,
    x_lo: np.ndarray,
    x_hi: np.ndarray,
    y_lo: np.ndarray,
    y_hi: np.ndarray,
) -> Nearest:
    """The nearest segment among those of the cells ``x_lo..x_hi`` × ``y_lo..y_hi`` of each point.

    ``exact`` where it is nearer than the block's border (by a margin) and no
    other segment can therefore be as near. The grid's outer cells reach to
    infinity (every segment lies inside the grid), so a block that includes one
    has no border on that side.
    """
    s, nx, ny = grid["cell"], grid["nx"], grid["ny"]
    n = len(xy)
    px, py = xy[:, 0], xy[:, 1]
    inf = np.inf
    border = np.minimum(
        np.minimum(
            px - np.where(x_lo > 0, grid["x0"] + x_lo * s, -inf),
            np.where(x_hi < nx - 1, grid["x0"] + (x_hi + 1) * s, inf) - px,
        ),
        np.minimum(
            py - np.where(y_lo > 0, grid["y0"] + y_lo * s, -inf),
            np.where(y_hi < ny - 1, grid["y0"] + (y_hi + 1) * s, inf) - py,
        ),
    )
    n_rows = max(int((y_hi - y_lo).max()) + 1 if n else 1, 1)
    x_lo, x_hi = np.maximum(x_lo, 0), np.minimum(x_hi, nx - 1)
    y_hi = np.minimum(y_hi, ny - 1)
    # one run of entries per row of the block
    rows_y = np.maximum(y_lo, 0)[:, None] + np.arange(n_rows)
    valid = (rows_y <= y_hi[:, None]) & (x_lo <= x_hi)[:, None]
    np.minimum(rows_y, np.maximum(y_hi, 0)[:, None], out=rows_y)
    start, end = _runs(grid, rows_y * nx + x_lo[:, None], rows_y * nx + x_hi[:, None])
    cnt = np.where(valid, end - start, 0).ravel()
    total = int(cnt.sum())
    if total > _MAX_PAIRS and n > 1:  # dense streets: halves, so that memory stays bounded
        h2 = n // 2
        parts = [
            _nearest_in_block(grid, xy[sl], x_lo[sl], x_hi[sl], y_lo[sl], y_hi[sl])
            for sl in (slice(0, h2), slice(h2, n))
        ]
        e, o, d, _ = (np.concatenate(z) for z in zip(*parts, strict=True))
        return e, o, d, d + _MARGIN_M < border
    per_point = cnt.reshape(n, -1).sum(axis=1)
    has = per_point > 0
    edge = np.full(n, -1, dtype=np.int64)
    off, bd = np.full(n, np.nan), np.full(n, np.inf)
    if total == 0:
        return edge, off, bd, np.zeros(n, dtype=bool)
    run_first = np.cumsum(cnt) - cnt
    pos = np.arange(total) - np.repeat(run_first - start.ravel(), cnt)
    j = grid["entries"][pos]  # candidate segments, point by point
    owner = np.repeat(np.arange(n), per_point)  # the point of each candidate
    t, d2 = _candidate_distances(grid["seg"], j, px, py, owner)
    # the nearest; ties within TIE_M (a point nearest to a node): the lowest edge id, then the
    # first candidate of it (edge id and candidate position in one number), among the ties only
    starts = (np.cumsum(per_point) - per_point)[has]
    d2min = np.minimum.reduceat(d2, starts)
    lim = np.sqrt(d2min)
    lim += TIE_M
    lim *= lim
    np.maximum(lim, d2min, out=lim)  # the nearest is a tie even where TIE_M is below the rounding
    lim_all = np.zeros(n)
    lim_all[has] = lim
    tie = np.flatnonzero(d2 <= lim_all[owner])
    code = grid["edge"][j[tie]] * total
    code += tie
    best_e, first = np.divmod(np.minimum.reduceat(code, np.searchsorted(tie, starts)), total)
    edge[has] = best_e
    bd[has] = np.sqrt(d2[first])
    off[has] = grid["along"][j[first]] + t[first] * np.sqrt(grid["seg"][j[first], 4])
    exact = bd + _MARGIN_M < border
    return edge, off, bd, exact


def _candidate_distances(
    seg: np.ndarray, j: np.ndarray, px: np.ndarray, py: np.ndarray, owner: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate (segment ``j`` of a point): the projection ``t`` (0..1) and squared distance.

    ``owner``: the point of each candidate. A zero-length segment's
    projection is its start (its ``dd`` is stored as 1 and its direction is 0).
    """
    sj = np.take(seg, j, axis=0)  # one gather of (ax, ay, dx, dy, dd) per candidate
    dx, dy = sj[:, 2], sj[:, 3]
    rx = px[owner]
    rx -= sj[:, 0]
    ry = py[owner]
    ry -= sj[:, 1]
    t = rx * dx
    tmp = ry * dy
    t += tmp
    t /= sj[:, 4]
    np.clip(t, 0.0, 1.0, out=t)
    np.multiply(dx, t, out=tmp)
    rx -= tmp
    np.multiply(dy, t, out=tmp)
    ry -= tmp
    rx *= rx
    ry *= ry
    rx += ry
    return t, rx
