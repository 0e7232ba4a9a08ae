"""Straight-line distance to the nearest facility: exact, with a KD-tree (no buffer polygons)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoSeries
from scipy.spatial import cKDTree

from gridmap.coverage.spec import _TOL

__all__ = ["straight_distance", "point_xy"]

#: Below this many targets the queries are made in the order given (sorting costs more than it saves).
SORT_MIN = 20_000


def point_xy(geoms: GeoSeries | np.ndarray) -> np.ndarray:
    """Coordinates (n × 2) of points; other shapes by their centroid.

    Examples
    --------
    >>> from shapely import Point, box
    >>> point_xy(np.array([Point(1, 2), box(0, 0, 2, 2)])).tolist()
    [[1.0, 2.0], [1.0, 1.0]]
    """
    g = np.asarray(geoms.values if isinstance(geoms, GeoSeries) else geoms)
    typ = shapely.get_type_id(g)
    if (typ != 0).any():
        g = np.where(typ == 0, g, shapely.centroid(g))
    return shapely.get_coordinates(g) if len(g) else np.empty((0, 2))


def straight_distance(
    targets_xy: np.ndarray,
    sources_xy: np.ndarray,
    *,
    limit: float = np.inf,
    target_groups: np.ndarray | None = None,
    source_groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact straight-line distance to the nearest source (KD-tree).

    Parameters
    ----------
    targets_xy, sources_xy : ndarray, shape (n, 2)
    limit : float, keyword-only
        Sources farther than this are not searched (distance ``inf``).
    target_groups, source_groups : ndarray, optional, keyword-only
        Group labels (e.g. community ids): a target only sees sources of its own group.

    Returns
    -------
    dist : ndarray (``inf`` when no source within ``limit``)
    nearest : ndarray of int (position in ``sources_xy``, -1 when none)

    Examples
    --------
    >>> d, i = straight_distance(np.array([[300.0, 0], [0, 301]]), np.array([[0.0, 0]]),
    ...                          limit=300)
    >>> d.tolist(), i.tolist()
    ([300.0, inf], [0, -1])
    """
    n = len(targets_xy)
    dist = np.full(n, np.inf)
    nearest = np.full(n, -1, dtype=np.int64)
    if n == 0 or len(sources_xy) == 0:
        return dist, nearest
    bound = limit * (1 + 1e-12) + _TOL if np.isfinite(limit) else np.inf
    # no location (e.g. a grid without geometry): no distance
    t_ok = np.isfinite(targets_xy).all(axis=1)
    s_ok = np.isfinite(sources_xy).all(axis=1)
    if target_groups is None:
        tv, sv = np.flatnonzero(t_ok), np.flatnonzero(s_ok)
        if len(tv) == 0 or len(sv) == 0:
            return dist, nearest
        _nearest_within(targets_xy, tv, sources_xy, sv, bound, dist, nearest)
        return dist, nearest
    tg = pd.Series(np.asarray(target_groups, dtype=object))
    sg = pd.Series(np.asarray(source_groups, dtype=object))
    t_pos, s_pos = np.flatnonzero(t_ok), np.flatnonzero(s_ok)
    src_by = sg[s_ok].groupby(sg[s_ok], sort=False).indices
    for key, rows in tg[t_ok].groupby(tg[t_ok], sort=False).indices.items():
        src = src_by.get(key)
        if src is None or pd.isna(key):
            continue
        _nearest_within(targets_xy, t_pos[rows], sources_xy, s_pos[src], bound, dist, nearest)
    return dist, nearest


def _nearest_within(
    targets_xy: np.ndarray,
    rows: np.ndarray,
    sources_xy: np.ndarray,
    src: np.ndarray,
    bound: float,
    dist: np.ndarray,
    nearest: np.ndarray,
) -> None:
    """Fill ``dist``/``nearest`` at ``rows`` with the nearest of the sources ``src`` within ``bound``.

    Large batches are queried in spatial order (cells of about the search radius), so
    consecutive queries walk the same tree nodes (cache-friendly), on every core; each
    query's answer does not depend on the order, so the result is the same as one by one.
    """
    all_rows = len(rows) == len(targets_xy)
    pts = targets_xy if all_rows else targets_xy[rows]
    if len(pts) >= SORT_MIN:
        order = _cell_order(pts, bound)
        pts = pts[order]
        rows = order if all_rows else rows[order]
    elif all_rows:
        rows = np.arange(len(pts))
    srcs = sources_xy if len(src) == len(sources_xy) else sources_xy[src]
    d, i = cKDTree(srcs).query(pts, k=1, distance_upper_bound=bound, workers=-1)
    ok = d <= bound if np.isfinite(bound) else np.isfinite(d)
    hit = rows[ok]
    dist[hit] = d[ok]
    nearest[hit] = src[i[ok]]


def _cell_order(xy: np.ndarray, bound: float) -> np.ndarray:
    """Positions of ``xy`` sorted by square cell (row by row), cells about the search radius wide."""
    lo = xy.min(axis=0)
    span = float((xy.max(axis=0) - lo).max())
    # cells about the radius wide, at most 2048 per side (also for an infinite radius)
    cell = max(bound if np.isfinite(bound) else 0.0, span / 2048, 1e-9)
    cx = ((xy[:, 0] - lo[0]) / cell).astype(np.int64)
    cy = ((xy[:, 1] - lo[1]) / cell).astype(np.int64)
    return np.argsort(cy * (int(cx.max()) + 1) + cx, kind="stable")
