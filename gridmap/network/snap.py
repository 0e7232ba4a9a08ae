"""Snapping points onto the network: the nearest point *on an edge*, with its offset along it.

The edge is split virtually, so a snapped point's distance to both end nodes
is exact. Points farther than ``max_snap_m`` from every edge are not snapped
(``edge == -1``) and keep their distance for the report.

Large batches use a grid index of the edge segments (:mod:`~gridmap.network._snapgrid`,
compiled with Numba): a point is compared with the segments of the 2 × 2 grid
cells around it, and the nearest of those is provably the nearest of all when it
is nearer than the block's border; the rare rest go to wider blocks, then to the
exact STRtree search. Ties (equidistant edges, e.g. at a node) go to the lowest edge id on
every path, so the result is the same either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame, GeoSeries

from gridmap.network.graph import TIE_M, Network

__all__ = ["Snap", "snap_points", "prepare_snapping", "FAST_SNAP_MIN"]

#: points per batch from which the grid index is used (below it the STRtree alone is as fast)
FAST_SNAP_MIN = 2000


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
        """Per snapped point: its edge, the edge's end nodes and the distances to them.

        Keys: ``rows`` (positions of the snapped points), ``edge``, ``u``/``v``
        (end nodes of their edge), ``to_u``/``to_v`` (snap leg included).
        Computed once per network.
        """
        legs = self._cache.get("legs")
        if legs is None or legs["net"] is not net:
            rows = np.flatnonzero(self.ok)
            e = self.edge[rows]
            snap_m, offset = self.snap_m[rows], self.offset[rows]
            to_u = snap_m + offset
            to_v = net.length[e]
            to_v -= offset
            to_v += snap_m
            legs = {
                "net": net,
                "rows": rows,
                "edge": e,
                "u": net.u[e],
                "v": net.v[e],
                "to_u": to_u,
                "to_v": to_v,
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


def prepare_snapping(net: Network) -> None:
    """Build the segment index that large batches are snapped with, and load its search, now.

    Otherwise the first batch of at least :data:`FAST_SNAP_MIN` points builds it
    (once per network) and loads the compiled search (once per process; compiled
    on a machine's first use). For a server that snaps later, or to time the
    build on its own.

    Examples
    --------
    >>> from shapely import LineString
    >>> from gridmap.network import build_network
    >>> prepare_snapping(build_network(GeoSeries([LineString([(0, 0), (100, 0)])], crs=4549)))
    """
    if net.n_edges:
        from gridmap.network._snapgrid import snap_grid  # Numba: imported on first use

        snap_grid(net, np.zeros((0, 2)))


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
        from gridmap.network._snapgrid import snap_grid  # Numba: imported on first use

        order, (fe, fo, fd, exact) = snap_grid(net, xy if len(vi) == n else xy[vi])
        at = order if len(vi) == n else vi[order]  # the points' rows, in the order handled
        done = exact & (fd <= max_snap_m)
        rows = at[done]
        edge[rows], offset[rows], snap_m[rows] = fe[done], fo[done], fd[done]
        # provably nearest but beyond the limit: not snapped; the distance is kept for the report
        # (the STRtree, built on first use, is not needed for them)
        beyond = exact & ~done
        snap_m[at[beyond]] = fd[beyond]
        vi = np.sort(at[~exact])
    if len(vi) == 0:
        return Snap(edge, offset, snap_m, float(max_snap_m))
    pts = shapely.points(xy[vi]) if g is None else g[vi]
    pi, ei, dist = _nearest_edges(net, pts, max_snap_m)
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


def _nearest_edges(net: Network, pts: np.ndarray, max_snap_m: float):
    """The STRtree search: per point within ``max_snap_m`` of an edge, the nearest edge and distance.

    Returns ``(point position, edge, distance)``. Equidistant edges (within
    ``TIE_M``; a point nearest to a node): the lowest edge id, as on the grid path.
    ``query_nearest`` gives only edges at exactly the same distance, while the
    distances from a node's point to its edges differ in the last bits; the
    edges within ``TIE_M`` of the nearest are searched for that.
    """
    (pi, ei), dist = net.tree.query_nearest(
        pts, max_distance=max_snap_m, return_distance=True, all_matches=True
    )
    if len(pi):
        up, at = np.unique(pi, return_inverse=True)
        dmin = np.full(len(up), np.inf)
        np.minimum.at(dmin, at, dist)
        qi, qe = net.tree.query(pts[up], predicate="dwithin", distance=dmin + TIE_M)
        qd = shapely.distance(net.geometry[qe], pts[up[qi]])
        pi, ei = np.concatenate([pi, up[qi]]), np.concatenate([ei, qe])
        dist = np.concatenate([dist, qd])
    order = np.lexsort((dist, pi))
    pi, ei, dist = pi[order], ei[order], dist[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    group_min = dist[first][np.cumsum(first) - 1]
    tie = dist <= group_min + TIE_M
    pi, ei, dist = pi[tie], ei[tie], dist[tie]
    order = np.lexsort((ei, pi))
    pi, ei, dist = pi[order], ei[order], dist[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    return pi[first], ei[first], dist[first]
