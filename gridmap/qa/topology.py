"""Topology QA of polygon layers: community overlaps and gaps, grid overlaps, multi-part units.

Areas are in m² of the study's metric CRS; overlaps and gaps under :data:`MIN_AREA_M2` are
digitising noise and not reported.
"""

from __future__ import annotations

import threading
from concurrent.futures import Executor
from typing import Any

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame, GeoSeries

from gridmap.qa._rows import GRID_TOPOLOGY_SOURCE, finding_rows, unit_names
from gridmap.qa._slab import corners, shared_area_bound

__all__ = [
    "GAP_DECIMALS",
    "MIN_AREA_M2",
    "number_gaps",
    "community_topology",
    "grid_overlaps",
    "multipart",
]

#: overlaps and gaps smaller than this (m²) are digitising noise and ignored
MIN_AREA_M2 = 1.0
#: decimals of a degree (≈ 1 m) gap centres are rounded to before they are numbered
GAP_DECIMALS = 5
#: DE-9IM of two surfaces that overlap (:func:`shapely.overlaps` for polygons, computed
#: without the prepared geometry ``overlaps`` would use when another thread prepared one)
_OVERLAPS_PATTERN = "T*T***T**"
#: candidate pairs per GEOS call when the DE-9IM test of :func:`grid_overlaps` is shared
_PAIRS_PER_CHUNK = 8192


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
    """Overlapping community pairs, gaps (holes in their union) with areas in m², multi-parts.

    Reads the geometries only, and never through a prepared geometry (DE-9IM patterns, not
    the predicates that use one): it may run on a thread while another thread prepares the
    same polygons (:func:`gridmap.check`), as GEOS prepared geometries are not thread-safe.
    """
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
    if len(a):  # pairs proved to share less than half the tolerance: dropped below anyway
        keep = shared_area_bound(corners(geoms), a, b) >= MIN_AREA_M2 / 2
        a, b = a[keep], b[keep]
    if len(a):  # ``overlaps`` of two surfaces, as a pattern: never a prepared geometry
        hit = shapely.relate_pattern(geoms[a], geoms[b], _OVERLAPS_PATTERN)
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


def grid_overlaps(
    grids: GeoDataFrame, *, min_area: float = MIN_AREA_M2, executor: Executor | None = None
) -> pd.DataFrame:
    """Grids that claim the same ground as another grid of the layer, with the shared area in m².

    Two grids overlap when their interiors meet: crossing boundaries, one grid inside another,
    or the same grid drawn twice all count; a shared edge does not. Each pair is reported once
    (``qa.grid.overlap``), on the grid whose code sorts first, the other named in the message:
    the same rows whatever order the layer is in, so a partitioned check finds them as a
    single-machine one does. Pairs of grids whose boundaries meet are many (every neighbour);
    those proved to share less than half of ``min_area`` (neighbours with a straight common
    edge, by the strips of :mod:`gridmap.qa._slab`) skip the DE-9IM test, which would find
    them touching or below the tolerance: the same rows, at a fraction of the cost.

    Parameters
    ----------
    grids
        The grids in a metric CRS (the study's).
    min_area
        Shared areas smaller than this (m²) are digitising slivers and not reported (the
        tolerance of the community overlap check, :data:`MIN_AREA_M2`).
    executor
        When given, one of its workers shares the DE-9IM test of the candidate pairs with the
        calling thread, chunk by chunk, as soon as it is free (the same test, the same rows).
        The caller may itself run on a worker of ``executor``.
        Like :func:`community_topology` it reads the geometries only, never through a prepared
        geometry: another thread may prepare the same grids meanwhile.

    Returns
    -------
    pandas.DataFrame
        Findings rows: ``value`` and ``gap`` the shared area in m², in the order of the layer.

    Examples
    --------
    >>> from shapely import box
    >>> g = GeoDataFrame({"name": ["甲", "乙", "丙"]}, index=["g2", "g1", "g3"],
    ...                  geometry=[box(0, 0, 100, 100), box(90, 0, 200, 100),
    ...                            box(200, 0, 300, 100)], crs=4549)
    >>> f = grid_overlaps(g)
    >>> f[["unit_id", "value"]].values.tolist(), f["message"].iloc[0][:20]
    ([['g1', 1000.0]], '与网格 甲（g2）重叠 1,000 m²')
    """
    geoms = np.asarray(grids.geometry.values)
    ids = grids.index.astype(str).to_numpy()
    names = unit_names(grids).to_numpy()
    a, b = shapely.STRtree(geoms).query(geoms)  # bounding boxes meet
    first = (ids[a] < ids[b]) | ((ids[a] == ids[b]) & (a < b))
    a, b = a[first], b[first]
    if len(a):  # pairs that provably share less than half of min_area: dropped below anyway
        bound = shared_area_bound(corners(geoms), a, b)  # most neighbours of a tiling
        a, b = a[bound >= min_area / 2], b[bound >= min_area / 2]
    if len(a):  # the interiors meet (DE-9IM), not only the boundaries
        meet = _interiors_meet(geoms[a], geoms[b], executor)
        a, b = a[meet], b[meet]
    area = shapely.area(shapely.intersection(geoms[a], geoms[b])) if len(a) else np.empty(0)
    big = area >= min_area
    a, b, area = a[big], b[big], area[big]
    order = np.lexsort((b, a))
    a, b, area = a[order], b[order], area[order]
    return finding_rows(
        "grid",
        ids[a],
        names[a],
        "qa.grid.overlap",
        area,
        f"<{min_area:g} m²",
        area,
        [
            f"与网格 {names[j]}（{ids[j]}）重叠 {ar:,.0f} m²（overlaps grid {ids[j]} by {ar:,.0f} m²）"
            for j, ar in zip(b, area, strict=True)
        ],
        source=GRID_TOPOLOGY_SOURCE,
        title="网格之间重叠",
    )


def _interiors_meet(left: np.ndarray, right: np.ndarray, executor: Executor | None) -> np.ndarray:
    """DE-9IM ``T********`` of each pair, chunks shared with one idle worker of ``executor``.

    The calling thread works through the chunks itself; the helper task takes chunks from the
    same queue once a worker is free and is cancelled if none became free in time, so the
    caller never waits for work nobody has started (it may itself be a worker of ``executor``).
    """
    if executor is None or len(left) <= _PAIRS_PER_CHUNK:
        return shapely.relate_pattern(left, right, "T********")
    out = np.empty(len(left), dtype=bool)
    starts = iter(range(0, len(left), _PAIRS_PER_CHUNK))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                start = next(starts, None)
            if start is None:
                return
            end = start + _PAIRS_PER_CHUNK
            out[start:end] = shapely.relate_pattern(left[start:end], right[start:end], "T********")

    helper = executor.submit(work)
    work()
    if not helper.cancel():
        helper.result()
    return out


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
