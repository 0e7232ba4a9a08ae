"""Snapping points onto the network: the nearest point *on an edge*, with its offset along it.

The edge is split virtually, so a snapped point's distance to both end nodes
is exact. Points farther than ``max_snap_m`` from every edge are not snapped
(``edge == -1``) and keep their distance for the report.

Large batches use a KD-tree of points sampled every ≤ 20 m along the edge
segments: the nearest segment among those of the 8 (then 32) nearest samples
is provably the nearest of all when the next sample is farther than that
distance plus half a sample spacing; the rare rest go to the exact STRtree
search. Ties (equidistant edges, e.g. at a node) go to the lowest edge id on
both paths, so the result is the same either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame, GeoSeries
from scipy.spatial import cKDTree

from gridmap.network.graph import Network

__all__ = ["Snap", "snap_points", "FAST_SNAP_MIN"]

#: points per batch from which the KD-tree path is used (below it the STRtree alone is as fast)
FAST_SNAP_MIN = 2000
_TIE_M = 1e-9  # edges this close to equidistant are a tie (the lowest edge id wins)
_SAMPLE_M = 20.0
_K = 8
_CHUNK = 65_536  # points per KD-tree batch: the working set stays in cache and memory is reused


@dataclass(frozen=True)
class Snap:
    """Where points meet the network.

    ``edge`` is -1 for points farther than the snap limit (or with empty
    geometry); ``offset`` is the distance along the edge from its ``u`` end;
    ``snap_m`` the distance from the point to the edge.
    """

    edge: np.ndarray
    offset: np.ndarray
    snap_m: np.ndarray
    max_snap_m: float
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> np.ndarray:
        """True for the snapped points."""
        return self.edge >= 0

    def subset(self, rows: np.ndarray) -> Snap:
        """The snaps of ``rows`` (positions or a mask)."""
        return Snap(self.edge[rows], self.offset[rows], self.snap_m[rows], self.max_snap_m)

    def legs(self, net: Network) -> dict:
        """Per snapped point: its edge's end nodes and the distances to them; points by edge.

        Keys: ``rows`` (positions of the snapped points), ``u``/``v`` (end nodes
        of their edge), ``to_u``/``to_v`` (snap leg included), ``by_edge`` and
        ``edge_sorted`` (the points ordered by edge). Computed once per network.
        """
        legs = self._cache.get("legs")
        if legs is None or legs["net"] is not net:
            rows = np.flatnonzero(self.ok)
            e = self.edge[rows]
            to_u = self.snap_m[rows] + self.offset[rows]
            to_v = self.snap_m[rows] + (net.length[e] - self.offset[rows])
            by_edge = np.argsort(e, kind="stable")
            legs = {
                "net": net,
                "rows": rows,
                "u": net.u[e],
                "v": net.v[e],
                "to_u": to_u,
                "to_v": to_v,
                "by_edge": by_edge,
                "edge_sorted": e[by_edge],
            }
            self._cache["legs"] = legs
        return legs

    def to_u(self, net: Network) -> np.ndarray:
        """Distance along the edge from each point to the edge's ``u`` end (NaN if not snapped)."""
        return np.where(self.ok, self.offset, np.nan)

    def to_v(self, net: Network) -> np.ndarray:
        """Distance along the edge from each point to the edge's ``v`` end (NaN if not snapped)."""
        e = np.clip(self.edge, 0, None)
        return np.where(self.ok, net.length[e] - self.offset, np.nan)

    def frame(self, index=None) -> pd.DataFrame:
        """The snaps as a table: ``edge``, ``offset_m``, ``snap_m``, ``snapped``."""
        return pd.DataFrame(
            {"edge": self.edge, "offset_m": self.offset, "snap_m": self.snap_m, "snapped": self.ok},
            index=index,
        )


def _points(points) -> tuple[np.ndarray, np.ndarray | None]:
    """``(xy, geoms)``: coordinates (NaN for missing/empty) and the geometries, if given as such.

    Accepts a GeoSeries/GeoDataFrame, an array of shapely geometries (polygons and
    lines are represented by their centroid) or an ``(n, 2)`` array of coordinates.
    """
    if isinstance(points, GeoDataFrame):
        points = points.geometry
    g = np.asarray(points.values) if isinstance(points, GeoSeries) else np.asarray(points)
    if g.dtype != object:
        xy = np.asarray(g, dtype=np.float64)
        if xy.shape == (2,) or xy.size == 0:
            xy = xy.reshape(-1, 2)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ValueError(f"coordinates must be an (n, 2) array of x, y; got shape {xy.shape}")
        return xy, None
    typ = shapely.get_type_id(g)
    if ((typ != 0) & (typ >= 0)).any():
        g = np.where(typ == 0, g, shapely.centroid(g))
    xy = np.full((len(g), 2), np.nan)
    valid = ~(shapely.is_missing(g) | shapely.is_empty(g))
    if valid.any():
        xy[valid] = shapely.get_coordinates(g[valid])
    return xy, g


def snap_points(net: Network, points, *, max_snap_m: float = 200.0) -> Snap:
    """Snap points to the nearest point on an edge.

    Parameters
    ----------
    net : Network
    points : GeoSeries, GeoDataFrame, array of shapely geometries, or (n, 2) array of coordinates
        Polygons are represented by their centroid. Same CRS as ``net``.
    max_snap_m : float, keyword-only
        Points farther than this from every edge are not snapped (``edge == -1``).

    Returns
    -------
    Snap

    Examples
    --------
    >>> from shapely import LineString, Point
    >>> from gridmap.network import build_network
    >>> net = build_network(GeoSeries([LineString([(0, 0), (100, 0)])], crs=4549))
    >>> s = snap_points(net, [Point(30, 40), Point(50, 500)], max_snap_m=100)
    >>> s.edge.tolist(), s.offset.tolist(), s.snap_m.tolist()
    ([0, -1], [30.0, nan], [40.0, 500.0])
    >>> snap_points(net, np.array([[30.0, 40.0]])).offset.tolist()
    [30.0]
    """
    geo = isinstance(points, (GeoSeries, GeoDataFrame))
    if geo and points.crs is not None and net.crs is not None:
        if not points.crs.equals(net.crs):
            raise ValueError(
                f"points are in {points.crs.name!r} but the network is in "
                f"{net.crs.name!r}; use to_crs() first"
            )
    xy, g = _points(points)
    n = len(xy)
    edge = np.full(n, -1, dtype=np.int64)
    offset = np.full(n, np.nan)
    snap_m = np.full(n, np.nan)
    if n == 0 or net.n_edges == 0:
        return Snap(edge, offset, snap_m, float(max_snap_m))
    valid = np.isfinite(xy).all(axis=1)
    vi = np.flatnonzero(valid)
    if len(vi) >= FAST_SNAP_MIN:
        fe, fo, fd, exact = _snap_fast(net, xy if len(vi) == n else xy[vi])
        done = exact & (fd <= max_snap_m)
        rows = vi[done]
        edge[rows], offset[rows], snap_m[rows] = fe[done], fo[done], fd[done]
        # provably nearest but beyond the limit: not snapped; the distance is kept for the report
        # (the STRtree, built on first use, is not needed for them)
        far = exact & ~done
        snap_m[vi[far]] = fd[far]
        vi = vi[~exact]
    if len(vi) == 0:
        return Snap(edge, offset, snap_m, float(max_snap_m))
    pts = shapely.points(xy[vi]) if g is None else g[vi]
    (pi, ei), dist = net.tree.query_nearest(
        pts, max_distance=max_snap_m, return_distance=True, all_matches=True
    )
    # equidistant edges (within _TIE_M; a point nearest to a node): the lowest edge id, as the
    # fast path does
    order = np.lexsort((dist, pi))
    pi, ei, dist = pi[order], ei[order], dist[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    group_min = dist[first][np.cumsum(first) - 1]
    tie = dist <= group_min + _TIE_M
    pi, ei, dist = pi[tie], ei[tie], dist[tie]
    order = np.lexsort((ei, pi))
    pi, ei, dist = pi[order], ei[order], dist[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    pi, ei, dist = pi[first], ei[first], dist[first]
    rows = vi[pi]
    edge[rows] = ei
    snap_m[rows] = dist
    offset[rows] = np.clip(
        shapely.line_locate_point(net.geometry[ei], pts[pi]), 0.0, net.length[ei]
    )
    # the distance to the edge of points beyond the limit, for the report
    far = np.flatnonzero(edge[vi] < 0)
    if len(far):
        (fi, _), fd = net.tree.query_nearest(pts[far], return_distance=True, all_matches=False)
        nearest = np.full(len(far), np.nan)
        nearest[fi] = fd
        snap_m[vi[far]] = nearest
    return Snap(edge, offset, snap_m, float(max_snap_m))


def _segments(net: Network) -> dict:
    """The 2-point segments of every edge and a KD-tree of sample points on them.

    Segment ``c`` runs from vertex ``c`` to ``c + 1`` of the edges' concatenated
    coordinates. The samples are the midpoints of pieces ≤ ``_SAMPLE_M`` long, so
    every point of a segment is within ``half`` (half a piece) of one of its samples.
    """
    seg = net._cache.get("segments")
    if seg is not None:
        return seg

    idx_type = np.int32 if net.n_edges < 2**31 else np.int64
    cached = net._cache.get("coords")  # kept by build_network
    if cached is not None:
        coords, n_coords = cached
        idx = np.repeat(np.arange(net.n_edges, dtype=idx_type), n_coords)
    else:
        coords, idx = shapely.get_coordinates(net.geometry, return_index=True)
        idx = idx.astype(idx_type)
    c = np.flatnonzero(idx[1:] == idx[:-1])  # segment starts
    ln = np.hypot(*(np.take(coords, c + 1, axis=0) - np.take(coords, c, axis=0)).T)
    along = np.zeros(len(coords))  # distance of every vertex along its edge
    along[c + 1] = ln
    np.cumsum(along, out=along)
    # each edge's first vertex
    edge_start = np.flatnonzero(np.concatenate([[True], idx[1:] != idx[:-1]]))
    along -= np.repeat(along[edge_start], np.diff(np.append(edge_start, len(idx))))
    n_s = np.maximum(np.ceil(ln / _SAMPLE_M), 1.0)
    counts = n_s.astype(np.int64)
    ends = np.cumsum(counts)
    half = float((ln / n_s).max()) / 2.0 if len(ln) else 0.0
    # samples in batches of segments: the temporaries stay small and are reused
    total = int(ends[-1]) if len(ends) else 0
    pts = np.empty((total, 2))
    start = np.empty(total, dtype=np.int32 if len(coords) < 2**31 else np.int64)
    for lo in range(0, len(c), _CHUNK):
        hi = min(lo + _CHUNK, len(c))
        cnt = counts[lo:hi]
        first = ends[lo] - cnt[0]
        a = np.take(coords, c[lo:hi], axis=0)
        step = np.take(coords, c[lo:hi] + 1, axis=0) - a
        step /= n_s[lo:hi, None]
        a += 0.5 * step  # the first sample of each segment
        k = np.ones(int(ends[hi - 1] - first))  # sample number within its segment
        k[0] = 0.0
        k[(ends[lo : hi - 1] - first)] = 1.0 - cnt[:-1]
        np.cumsum(k, out=k)
        out = pts[first : ends[hi - 1]]
        out[:] = np.repeat(a, cnt, axis=0)
        out += np.repeat(step, cnt, axis=0) * k[:, None]
        start[first : ends[hi - 1]] = np.repeat(c[lo:hi], cnt)
    seg = {
        "coords": coords,
        "edge": idx,
        "along": along,
        "start": start,
        "half": half,
        "tree": cKDTree(pts, leafsize=16, balanced_tree=False, compact_nodes=False),
    }
    net._cache["segments"] = seg
    return seg


def _snap_k(seg: dict, xy: np.ndarray, k: int):
    """Nearest of the segments of the ``k`` nearest samples, and whether it is provably nearest.

    ``exact`` where no other segment can be as near (every sample not returned
    is farther than the best distance + half a piece).
    """
    sd, si = seg["tree"].query(xy, k=k, workers=-1)
    if k == 1:
        sd, si = sd[:, None], si[:, None]
    cand = seg["start"][si]  # (n, k) segment starts (vertex positions)
    coords = seg["coords"]
    a = np.take(coords, cand, axis=0)  # (n, k, 2); take: much faster than fancy indexing of rows
    d = np.take(coords, cand + 1, axis=0)
    d -= a
    r = xy[:, None, :] - a
    dd = np.einsum("nkj,nkj->nk", d, d)
    t = np.einsum("nkj,nkj->nk", r, d)
    t /= np.where(dd > 0, dd, 1.0)
    np.clip(t, 0.0, 1.0, out=t)
    r -= d * t[..., None]
    d2 = np.einsum("nkj,nkj->nk", r, r)  # squared distance to each candidate segment
    # the closest; ties (within 1e-9 m, e.g. a point nearest to a node): the lowest edge id, as the
    # STRtree path does
    dmin = np.sqrt(d2.min(axis=1))
    tie = d2 <= ((dmin + _TIE_M) ** 2)[:, None]
    ce = seg["edge"][cand]
    best = np.argmin(np.where(tie, ce, np.iinfo(ce.dtype).max), axis=1)
    rows = np.arange(len(xy))
    bd = np.sqrt(d2[rows, best])
    bc = cand[rows, best]
    exact = sd[:, -1] > bd + seg["half"] + 2 * _TIE_M + 1e-6  # + a margin for rounding
    off = seg["along"][bc] + t[rows, best] * np.sqrt(dd[rows, best])
    return seg["edge"][bc], off, bd, exact


def _snap_fast(net: Network, xy: np.ndarray):
    """Nearest edge point via a KD-tree of segment samples.

    k = 8, then 32 where 8 cannot prove the answer; ``exact`` is False where
    neither can (those go to the STRtree). The points are queried in spatial
    order (cells of 8 sample spacings) and in batches, which keeps the KD-tree
    walk and the segment look-ups cache-friendly.
    """
    seg = _segments(net)
    n_samples = seg["tree"].n
    cell = 8 * _SAMPLE_M
    cx = np.floor((xy[:, 0] - xy[:, 0].min()) / cell).astype(np.int64)
    cy = np.floor((xy[:, 1] - xy[:, 1].min()) / cell).astype(np.int64)
    order = np.argsort(cx * (int(cy.max()) + 1) + cy, kind="stable")
    n = len(xy)
    edge, offset = np.empty(n, dtype=np.int64), np.empty(n)
    dist, ok = np.empty(n), np.empty(n, dtype=bool)
    for lo in range(0, n, _CHUNK):
        rows = order[lo : lo + _CHUNK]
        sxy = np.take(xy, rows, axis=0)
        e, off, bd, exact = _snap_k(seg, sxy, min(_K, n_samples))
        redo = np.flatnonzero(~exact)
        if len(redo) and n_samples > _K:
            e2, off2, bd2, ex2 = _snap_k(seg, sxy[redo], min(4 * _K, n_samples))
            e[redo], off[redo], bd[redo], exact[redo] = e2, off2, bd2, ex2
        edge[rows], offset[rows], dist[rows], ok[rows] = e, off, bd, exact
    np.clip(offset, 0.0, net.length[edge], out=offset)
    return edge, offset, dist, ok
