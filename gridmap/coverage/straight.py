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
        d, i = cKDTree(sources_xy[sv]).query(targets_xy[tv], k=1, distance_upper_bound=bound)
        ok = np.isfinite(d) & (d <= bound)
        dist[tv[ok]], nearest[tv[ok]] = d[ok], sv[i[ok]]
        return dist, nearest
    tg = pd.Series(np.asarray(target_groups, dtype=object))
    sg = pd.Series(np.asarray(source_groups, dtype=object))
    t_pos, s_pos = np.flatnonzero(t_ok), np.flatnonzero(s_ok)
    src_by = sg[s_ok].groupby(sg[s_ok], sort=False).indices
    for key, rows in tg[t_ok].groupby(tg[t_ok], sort=False).indices.items():
        src = src_by.get(key)
        if src is None or pd.isna(key):
            continue
        rows, src = t_pos[rows], s_pos[src]
        d, i = cKDTree(sources_xy[src]).query(targets_xy[rows], k=1, distance_upper_bound=bound)
        ok = np.isfinite(d) & (d <= bound)
        dist[rows[ok]] = d[ok]
        nearest[rows[ok]] = src[i[ok]]
    return dist, nearest
