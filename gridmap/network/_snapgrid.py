"""Snapping large batches with the grid index of the edge segments (:mod:`._snapindex`).

A point is compared with the segments entered in a block of cells around it; the
nearest of those is provably the nearest of all when it is nearer than the
block's border (a segment entered in no cell of the block lies wholly outside
it). Each row of a block is one contiguous run of the cell-sorted entries. The
first block is the 2 × 2 cells nearest the point (its border at least half a cell
away); the rare points not proven there are tried in the 4 × 4 cells around
those, then in the 9 × 9 cells around their own; the rest go to the STRtree.

Ties (segments within 1e-9 m of the nearest, e.g. at a node) go to the lowest
edge id, as on the STRtree path, and on that edge to its first segment along it
(at a vertex inside the edge), whichever block found them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from gridmap.network._snapindex import segment_grid
from gridmap.network.graph import Network

TIE_M = 1e-9  # edges this close to equidistant are a tie (the lowest edge id wins)
_MARGIN_M = 2 * TIE_M + 1e-6  # a proof needs the nearest this much inside the block's border
_CHUNK = 2048  # points per batch: the per-candidate temporaries stay in cache
_WIDE = 4  # the half-width (cells) of the last try
_MAX_PAIRS = 1 << 20  # point-segment pairs compared at once (memory)
_THREADED_MIN = 50_000  # points from which the first try runs on two threads


def _runs(grid: dict, first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the entries of cells ``first..last`` (one grid row each) start and end."""
    ptr = grid["indptr"]
    if grid["cells"] is None:
        return ptr[first], ptr[last + 1]
    cells = grid["cells"]
    return ptr[np.searchsorted(cells, first, "left")], ptr[np.searchsorted(cells, last, "right")]


Nearest = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # edge, offset, dist, exact


def snap_grid(net: Network, xy: np.ndarray) -> tuple[np.ndarray, Nearest]:
    """Nearest edge point of every point via the grid index.

    Returns ``order`` (the points in the order handled: cell by cell) and, in that
    order, ``edge``, ``offset``, ``dist`` and ``exact`` (False where the point was
    not proven within the widest block either: those go to the STRtree). The
    points are handled in cell order and in batches, which keeps the look-ups in
    cache.
    """
    grid = segment_grid(net)
    s, nx, ny = grid["cell"], grid["nx"], grid["ny"]
    cx = _cell(xy[:, 0], grid["x0"], s, nx)
    cy = _cell(xy[:, 1], grid["y0"], s, ny)
    key = cy * (nx + 3)
    key += cx
    order = np.argsort(key)  # any order within a cell: each point is on its own
    # the points in cell order once, so that every batch is a contiguous slice
    xs, cx, cy = xy[order], cx[order], cy[order]
    # the 2 × 2 cells nearest each point: its border is at least half a cell away
    bx = cx - _below_half(xs[:, 0], grid["x0"], s, nx, cx)
    by = cy - _below_half(xs[:, 1], grid["y0"], s, ny, cy)
    n = len(xy)
    edge, offset = np.full(n, -1, dtype=np.int64), np.full(n, np.nan)
    dist, ok = np.full(n, np.inf), np.zeros(n, dtype=bool)

    def first_try(lo: int, hi: int) -> None:
        for a in range(lo, hi, _CHUNK):
            sl = slice(a, min(a + _CHUNK, hi))
            b_x, b_y = bx[sl], by[sl]
            edge[sl], offset[sl], dist[sl], ok[sl] = _nearest_in_block(
                grid, xs[sl], b_x, b_x + 1, b_y, b_y + 1
            )

    if n < _THREADED_MIN:
        first_try(0, n)
    else:  # each point is on its own: two halves side by side (NumPy releases the GIL)
        mid = (n // 2 // _CHUNK + 1) * _CHUNK
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(first_try, (0, mid), (mid, n)))
    redo = np.flatnonzero(~ok)
    if len(redo):  # the 4 × 4 cells around the 2 × 2: the border at least 1.5 cells away
        b_x, b_y = bx[redo], by[redo]
        edge[redo], offset[redo], dist[redo], ok[redo] = _nearest_in_block(
            grid, xs[redo], b_x - 1, b_x + 2, b_y - 1, b_y + 2
        )
        redo = redo[~ok[redo]]
    if len(redo):
        c_x, c_y = cx[redo], cy[redo]
        edge[redo], offset[redo], dist[redo], ok[redo] = _nearest_in_block(
            grid, xs[redo], c_x - _WIDE, c_x + _WIDE, c_y - _WIDE, c_y + _WIDE
        )
    snapped = np.flatnonzero(edge >= 0)
    offset[snapped] = np.clip(offset[snapped], 0.0, net.length[edge[snapped]])
    return order, (edge, offset, dist, ok)


def _cell(p: np.ndarray, o: float, s: float, n: int) -> np.ndarray:
    """The cell (``-1 .. n + 1``: outside the grid, next to it) of coordinates ``p`` on one axis."""
    f = p - o
    f /= s
    np.clip(f, -1.0, n + 1.0, out=f)
    return np.floor(f, out=f).astype(np.int64)


def _below_half(p: np.ndarray, o: float, s: float, n: int, c: np.ndarray) -> np.ndarray:
    """Whether ``p`` lies in the lower half of its cell ``c`` (as ``_cell`` placed it)."""
    f = p - o
    f /= s
    np.clip(f, -1.0, n + 1.0, out=f)
    f -= c
    return f < 0.5


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
    t, d2 = _candidate_distances(grid["seg"], j, px, py, per_point)
    # the nearest; ties within TIE_M (a point nearest to a node): the lowest segment id, which is
    # the lowest edge id and its first segment along it (segments are numbered edge by edge), so
    # that the answer does not depend on the block; segment id and candidate position in one
    # number, among the ties only
    starts = (np.cumsum(per_point) - per_point)[has]
    d2min = np.minimum.reduceat(d2, starts)
    lim = np.sqrt(d2min)
    lim += TIE_M
    lim *= lim
    np.maximum(lim, d2min, out=lim)  # the nearest is a tie even where TIE_M is below the rounding
    lim_all = np.zeros(n)
    lim_all[has] = lim
    tie = np.flatnonzero(d2 <= np.repeat(lim_all, per_point))
    code = j[tie].astype(np.int64) * total
    code += tie
    first = np.minimum.reduceat(code, np.searchsorted(tie, starts)) % total
    jf = j[first]
    edge[has] = jf if grid["edge"] is None else grid["edge"][jf]
    bd[has] = np.sqrt(d2[first])
    off[has] = t[first] * np.sqrt(grid["seg"][4, jf])
    if grid["along"] is not None:
        off[has] += grid["along"][jf]
    exact = bd + _MARGIN_M < border
    return edge, off, bd, exact


def _candidate_distances(
    seg: np.ndarray, j: np.ndarray, px: np.ndarray, py: np.ndarray, per_point: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate (segment ``j`` of a point): the projection ``t`` (0..1) and squared distance.

    The candidates come point by point, ``per_point`` of each. A zero-length
    segment's projection is its start (its ``dd`` is stored as 1 and its direction is 0).
    """
    ax, ay, dx, dy, dd = (row.take(j) for row in seg)
    rx = np.repeat(px, per_point)
    rx -= ax
    ry = np.repeat(py, per_point)
    ry -= ay
    t = rx * dx
    tmp = ry * dy
    t += tmp
    t /= dd
    np.clip(t, 0.0, 1.0, out=t)
    np.multiply(dx, t, out=tmp)
    rx -= tmp
    np.multiply(dy, t, out=tmp)
    ry -= tmp
    rx *= rx
    ry *= ry
    rx += ry
    return t, rx
