"""Straight-line distance to the nearest facility: exact, with a KD-tree (no buffer polygons)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoSeries
from scipy.spatial import cKDTree

from gridmap.coverage.spec import _TOL

__all__ = ["straight_distance", "point_xy"]


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
    bound = limit * (1 + 1e-12) + _TOL if np.isfinite(limit) else np.inf
    if n and len(sources_xy) and target_groups is None and _finite(targets_xy, sources_xy):
        return _nearest_all(targets_xy, sources_xy, bound)
    dist = np.full(n, np.inf)
    nearest = np.full(n, -1, dtype=np.int64)
    if n == 0 or len(sources_xy) == 0:
        return dist, nearest
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


def _finite(*arrays: np.ndarray) -> bool:
    """Whether every coordinate is finite (one pass, no temporary: a sum is finite only then)."""
    return all(bool(np.isfinite(a.sum())) for a in arrays)


def _nearest_all(
    targets_xy: np.ndarray, sources_xy: np.ndarray, bound: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`straight_distance` when every point has a location and there are no groups.

    The KD-tree's own answer arrays are returned (misses set in place): no masks, copies or
    scatters, which on large inputs cost as much as the queries themselves.
    """
    d, i = cKDTree(sources_xy).query(targets_xy, k=1, distance_upper_bound=bound, workers=-1)
    miss = i >= len(sources_xy)
    if np.isfinite(bound):
        miss |= d > bound
    d[miss] = np.inf
    i[miss] = -1
    return d, i.astype(np.int64, copy=False)


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

    The queries run on every core (each query's answer does not depend on the others);
    when every target or source is valid, the arrays are used as they are, not copied.
    """
    all_rows = len(rows) == len(targets_xy)
    pts = targets_xy if all_rows else targets_xy[rows]
    srcs = sources_xy if len(src) == len(sources_xy) else sources_xy[src]
    d, i = cKDTree(srcs).query(pts, k=1, distance_upper_bound=bound, workers=-1)
    ok = d <= bound if np.isfinite(bound) else np.isfinite(d)
    hit = np.flatnonzero(ok) if all_rows else rows[ok]
    dist[hit] = d[ok]
    nearest[hit] = src[i[ok]]
