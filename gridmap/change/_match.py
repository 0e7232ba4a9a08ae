"""Geometry matching between two layers of units: exact overlaps and intersection over union.

Used by :mod:`~gridmap.change.compare` (a unit of last year's snapshot and this year's) and
:mod:`~gridmap.change.reconcile` (a unit of one department's grid layer and another's).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoSeries

from gridmap.crs import require_metric


def overlaps(a: GeoSeries, b: GeoSeries) -> pd.DataFrame:
    """Every pair of ``a`` and ``b`` that shares area, with exact areas.

    Returns positional ``a`` and ``b``, ``area`` (m² shared), ``share_a`` / ``share_b`` (of
    each unit's own area) and ``iou`` (intersection over union). Missing geometries match
    nothing.
    """
    require_metric(a, what="重叠面积 overlap area")
    ga, gb = np.asarray(a.values), np.asarray(b.values)
    cols = {"a": np.int64, "b": np.int64, "area": float, "share_a": float, "share_b": float}
    empty = pd.DataFrame({k: np.array([], dtype=t) for k, t in cols.items()})
    empty["iou"] = np.array([], dtype=float)
    ok_a, ok_b = ~shapely.is_missing(ga), ~shapely.is_missing(gb)
    if not ok_a.any() or not ok_b.any():
        return empty
    idx_b = np.flatnonzero(ok_b)
    tree = shapely.STRtree(gb[idx_b])
    pa, pb = tree.query(ga, predicate="intersects")
    pb = idx_b[pb]
    if not len(pa):
        return empty
    area = shapely.area(shapely.intersection(ga[pa], gb[pb], grid_size=None))
    aa, ab = shapely.area(ga[pa]), shapely.area(gb[pb])
    keep = area > 0
    pa, pb, area, aa, ab = pa[keep], pb[keep], area[keep], aa[keep], ab[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.DataFrame(
            {
                "a": pa.astype(np.int64),
                "b": pb.astype(np.int64),
                "area": area,
                "share_a": np.where(aa > 0, area / aa, 0.0),
                "share_b": np.where(ab > 0, area / ab, 0.0),
                "iou": area / np.maximum(aa + ab - area, 1e-12),
            }
        )


def mutual_best(pairs: pd.DataFrame, *, min_iou: float) -> pd.DataFrame:
    """The pairs that are each other's best match by intersection over union, at ``min_iou`` or more.

    Each unit of either side appears at most once (ties: the lower position).
    """
    p = pairs[pairs["iou"] >= min_iou].sort_values(
        ["iou", "a", "b"], ascending=[False, True, True], kind="stable"
    )
    best_a = p.drop_duplicates("a")
    best_b = p.drop_duplicates("b")
    both = best_a.merge(best_b[["a", "b"]], on=["a", "b"])
    return both.reset_index(drop=True)


def iou_of(a: GeoSeries, b: GeoSeries) -> np.ndarray:
    """Intersection over union of ``a[i]`` and ``b[i]`` (NaN where either geometry is missing)."""
    ga, gb = np.asarray(a.values), np.asarray(b.values)
    out = np.full(len(ga), np.nan)
    ok = ~shapely.is_missing(ga) & ~shapely.is_missing(gb)
    if ok.any():
        inter = shapely.area(shapely.intersection(ga[ok], gb[ok]))
        union = shapely.area(ga[ok]) + shapely.area(gb[ok]) - inter
        out[ok] = np.where(union > 0, inter / np.maximum(union, 1e-12), 1.0)
    return out
