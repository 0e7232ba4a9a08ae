"""Topology QA of polygon layers: community overlaps and gaps, grid overlaps, multi-part units.

Areas are in m² of the study's metric CRS; overlaps and gaps under :data:`MIN_AREA_M2` are
digitising noise and not reported.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame, GeoSeries

from gridmap.qa._rows import finding_rows, unit_names

__all__ = ["GAP_DECIMALS", "MIN_AREA_M2", "number_gaps", "community_topology", "multipart"]

#: overlaps and gaps smaller than this (m²) are digitising noise and ignored
MIN_AREA_M2 = 1.0
#: decimals of a degree (≈ 1 m) gap centres are rounded to before they are numbered
GAP_DECIMALS = 5


def number_gaps(lonlat: np.ndarray) -> list[str]:
    """Gap ids ``gap-1`` … for gap centres: south to north, then west to east.

    Centres are rounded to :data:`GAP_DECIMALS` decimals of a degree first, so the ids hang
    neither on the order the union returns its holes in nor on the metric CRS of the centre —
    a partitioned run numbers its gaps as a single-machine run does.

    Parameters
    ----------
    lonlat : ndarray, shape (n, 2)
        Longitude/latitude of each gap's centre.

    Returns
    -------
    list of str
        The id of each gap, in the order given.

    Examples
    --------
    >>> number_gaps(np.array([[120.2, 30.3], [120.1, 30.3], [121.0, 30.1]]))
    ['gap-3', 'gap-2', 'gap-1']
    """
    r = np.round(np.asarray(lonlat, dtype=float).reshape(-1, 2), GAP_DECIMALS)
    rank = np.empty(len(r), dtype=int)
    rank[np.lexsort((r[:, 0], r[:, 1]))] = np.arange(len(r))
    return [f"gap-{i + 1}" for i in rank]


def community_topology(communities: GeoDataFrame) -> pd.DataFrame:
    """Overlapping community pairs, gaps (holes in their union) with areas in m², multi-parts."""
    geoms = np.asarray(communities.geometry.values)
    ids = communities.index.astype(str).to_numpy()
    names = (
        (communities["name"] if "name" in communities.columns else communities.index)
        .astype(str)
        .to_numpy()
    )
    frames = [multipart(communities, "community")]
    # bounding-box pairs first, each unordered pair once: ``overlaps`` is symmetric, and
    # the full DE-9IM test is the cost (half the pairs, half the time)
    a, b = shapely.STRtree(geoms).query(geoms)
    keep = a < b
    a, b = a[keep], b[keep]
    if len(a):
        hit = shapely.overlaps(geoms[a], geoms[b])
        a, b = a[hit], b[hit]
    if len(a):
        area = shapely.area(shapely.intersection(geoms[a], geoms[b]))
        big = area >= MIN_AREA_M2
        a, b, area = a[big], b[big], area[big]
        frames.append(
            finding_rows(
                "community",
                ids[a],
                names[a],
                "qa.community.overlap",
                area,
                f"<{MIN_AREA_M2:g} m²",
                area,
                [
                    f"与社区 {names[j]}（{ids[j]}）重叠 {ar:,.0f} m²"
                    for j, ar in zip(b, area, strict=True)
                ],
                title="社区边界重叠",
            )
        )
    union = shapely.union_all(geoms[~shapely.is_empty(geoms)])
    holes = [
        shapely.Polygon(ring)
        for poly in getattr(union, "geoms", [union])
        if poly.geom_type == "Polygon"
        for ring in poly.interiors
    ]
    holes = [h for h in holes if h.area >= MIN_AREA_M2]
    if holes:
        centroids = shapely.centroid(np.asarray(holes))
        ids_ = number_gaps(_lonlat(centroids, communities.crs))
        order = np.argsort([int(i.removeprefix("gap-")) for i in ids_])
        holes, centroids = [holes[i] for i in order], centroids[order]
        frames.append(
            finding_rows(
                "study",
                [f"gap-{i + 1}" for i in range(len(holes))],
                [f"({c.x:.0f}, {c.y:.0f})" for c in centroids],
                "qa.community.gap",
                [h.area for h in holes],
                f"<{MIN_AREA_M2:g} m²",
                [h.area for h in holes],
                [
                    f"社区之间的空隙 {h.area:,.0f} m²，中心 ({c.x:.0f}, {c.y:.0f})"
                    for h, c in zip(holes, centroids, strict=True)
                ],
                title="社区边界之间的空隙",
            )
        )
    return pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)


def _lonlat(points: np.ndarray, crs: Any) -> np.ndarray:
    """Longitude/latitude of ``points`` (their own x/y when the CRS is unknown)."""
    if crs is None:
        return shapely.get_coordinates(points)
    return shapely.get_coordinates(GeoSeries(points, crs=crs).to_crs(4490).values)


def multipart(units: GeoDataFrame, level: str) -> pd.DataFrame:
    """Units drawn as several disconnected parts (a MultiPolygon), with the smallest part's area.

    Real exports have them on purpose (an enclave across a road) and by accident
    (a sliver left by editing); either way a planner should look.
    """
    geoms = np.asarray(units.geometry.values)
    parts = shapely.get_num_geometries(geoms)
    multi = (shapely.get_type_id(geoms) == 6) & (parts > 1)
    if not multi.any():
        return finding_rows(level, [], [], "", [], "", [], [])
    ids = units.index.astype(str).to_numpy()[multi]
    names = unit_names(units).to_numpy()[multi]
    smallest = [min(p.area for p in g.geoms) for g in geoms[multi]]
    what = "社区" if level == "community" else "网格"
    msgs = [
        f"{what}由 {n} 个不相连的部分组成，最小部分 {a:,.0f} m²"
        for n, a in zip(parts[multi], smallest, strict=True)
    ]
    return finding_rows(
        level,
        ids,
        names,
        f"qa.{level}.multipart",
        parts[multi].astype(float),
        "1",
        parts[multi] - 1.0,
        msgs,
        title=f"{what}由多个不相连部分组成",
    )
