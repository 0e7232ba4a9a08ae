"""Assignment: households → grids → communities, facilities → grids and communities.

Rules (deterministic and documented, so a planner can defend every count):

* **Household points** go to the grid that *covers* them (interior or boundary).
  A point on a boundary shared by several grids goes to the grid whose id sorts
  first; the result never depends on row order. A point in no grid goes directly
  to the community that covers it (same tie rule) and is reported as "not in any
  grid"; a point in neither is *unassigned* and reported — never dropped.
* **Household polygons** (小区 / buildings) go wholly to the grid they overlap
  most (``method="largest"``, default: a building is managed by one grid,
  管理到户), or are apportioned by overlapping area with largest-remainder
  rounding so every polygon's count is conserved exactly (``method="area"``).
  The part of a polygon outside every grid is unassigned.
* **Grids → communities** by largest overlapping area; each grid also gets the
  share of its area in that community, outside every community, and its second
  community (QA: > 10 % elsewhere). A grid whose largest overlap is less than
  :data:`MIN_GRID_SHARE` (1 %) of its own area is in *no* community: a few m²
  of a neighbouring boundary touched while digitising (SIP: a 8.7 ha grid
  sharing 0.002 m² with 熙岸社区) must not hand it 938 households. Its
  households then go to a community only where they themselves lie in one
  (as households outside every grid), else they are unassigned — and the grid
  is reported (``qa.grid.outside``) with its households.
* **Facilities** (points; polygons by their representative point) → grid and
  community by covering, as household points.

All functions are pure: GeoSeries/GeoDataFrames in, new arrays/frames out,
positional results aligned with the input. Areas need a metric CRS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame, GeoSeries

from gridmap.crs import require_metric
from gridmap.locate import NO_ZONE, id_rank, locate_points

__all__ = [
    "overlap_table",
    "largest_overlap",
    "apportion",
    "assign_grids",
    "assign_households",
    "grid_shares",
    "GridShares",
    "assign_facilities",
    "MIN_GRID_SHARE",
]


#: digitising tolerance (m): a part this close to a zone's boundary counts as wholly inside
SNAP_TOLERANCE_M = 1.0


def overlap_table(
    parts: GeoSeries,
    zones: GeoSeries,
    *,
    tolerance: float = SNAP_TOLERANCE_M,
    part_area: np.ndarray | None = None,
) -> pd.DataFrame:
    """Overlap area of every (part, zone) pair that shares area.

    Returns a frame with positional ``part`` and ``zone`` and ``area`` (m²),
    only rows with area > 0. A part that lies inside a zone grown by
    ``tolerance`` metres (boundaries digitised separately never match exactly)
    counts as wholly in that zone, with its full area and no intersection with
    the neighbours (most pairs: fast). Every other pair gets its exact
    intersection area. ``part_area``: each part's own area when the caller has it
    (``shapely.area`` of ``parts``), so it is not computed again.
    """
    require_metric(parts, what="重叠面积 overlap area")
    a = np.asarray(parts.values)
    z = np.asarray(zones.values)
    empty = pd.DataFrame(
        {
            "part": np.array([], dtype=np.int64),
            "zone": np.array([], dtype=np.int64),
            "area": np.array([], dtype=float),
        }
    )
    if len(a) == 0 or len(z) == 0:
        return empty
    # bounding-box pairs; the parts a zone grown by the tolerance covers first (most parts of a
    # tiling), each pair then tested against the prepared zone itself only where it counts:
    # whether a covering zone is met at all, and every zone of a part no zone holds whole
    part_pos, zone_pos = shapely.STRtree(z).query(a)
    if len(part_pos) == 0:
        return empty
    shapely.prepare(z)
    grown = shapely.buffer(z, tolerance, quad_segs=2, join_style="mitre") if tolerance > 0 else z
    shapely.prepare(grown)
    covers = shapely.covers(grown[zone_pos], a[part_pos])
    hit = np.zeros(len(part_pos), dtype=bool)
    hit[covers] = shapely.intersects(z[zone_pos[covers]], a[part_pos[covers]])
    covered = covers & hit
    # a part wholly inside one zone needs no intersections with its neighbours
    # (overlapping zones are a QA finding of their own)
    whole = np.zeros(len(a), dtype=bool)
    whole[part_pos[covered]] = True
    rest = ~whole[part_pos]
    todo = rest & ~covers
    hit[todo] = shapely.intersects(z[zone_pos[todo]], a[part_pos[todo]])
    rest &= hit
    if not (covered.any() or rest.any()):
        return empty
    n_cov = int(covered.sum())
    part_pos = np.concatenate([part_pos[covered], part_pos[rest]])
    zone_pos = np.concatenate([zone_pos[covered], zone_pos[rest]])
    area = np.concatenate(
        [
            shapely.area(a[part_pos[:n_cov]]) if part_area is None else part_area[part_pos[:n_cov]],
            shapely.area(shapely.intersection(a[part_pos[n_cov:]], z[zone_pos[n_cov:]])),
        ]
    )
    keep = area > 0
    return pd.DataFrame({"part": part_pos[keep], "zone": zone_pos[keep], "area": area[keep]})


def largest_overlap(
    parts: GeoSeries,
    zones: GeoSeries,
    *,
    table: pd.DataFrame | None = None,
    part_area: np.ndarray | None = None,
) -> pd.DataFrame:
    """For each part: the zone with the largest overlap and the shares.

    ``part_area``: each part's own area (``shapely.area`` of ``parts``) when the caller has it;
    computed once here otherwise, and shared with :func:`overlap_table`.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``parts``: ``zone`` (position, -1 if none), ``share`` (of
        the part's area in that zone), ``outside`` (share in no zone, from the
        union of the overlaps, clipped at 0), ``second`` (position or -1) and
        ``second_share``. Ties go to the zone whose id sorts first.
    """
    total = shapely.area(np.asarray(parts.values)) if part_area is None else part_area
    if table is None:
        table = overlap_table(parts, zones, part_area=total)
    n = len(parts)
    out = pd.DataFrame(
        {
            "zone": np.full(n, NO_ZONE),
            "share": np.zeros(n),
            "outside": np.ones(n),
            "second": np.full(n, NO_ZONE),
            "second_share": np.zeros(n),
        },
        index=parts.index,
    )
    if len(table) == 0:
        return out
    rank = id_rank(zones.index)
    t = table.assign(rank=rank[table["zone"].to_numpy()])
    t = t.sort_values(["part", "area", "rank"], ascending=[True, False, True], kind="stable")
    first = t.groupby("part", sort=False).nth(0)
    second = t.groupby("part", sort=False).nth(1)
    covered = t.groupby("part")["area"].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, 1.0, 0.0)
        p1, p2 = first["part"].to_numpy(), second["part"].to_numpy()
        out.iloc[p1, out.columns.get_loc("zone")] = first["zone"].to_numpy()
        out.iloc[p1, out.columns.get_loc("share")] = first["area"].to_numpy() / total[p1]
        out.iloc[p2, out.columns.get_loc("second")] = second["zone"].to_numpy()
        out.iloc[p2, out.columns.get_loc("second_share")] = second["area"].to_numpy() / total[p2]
        cov = np.zeros(n)
        cov[covered.index.to_numpy()] = covered.to_numpy()
        out["outside"] = np.clip(1.0 - cov / np.where(total > 0, total, 1.0), 0.0, 1.0) * share
    return out


def apportion(
    counts: np.ndarray, table: pd.DataFrame, part_area: np.ndarray | None = None
) -> pd.DataFrame:
    """Split integer ``counts`` of parts over zones in proportion to overlap area.

    Largest-remainder rounding conserves each part's integer count exactly. With
    ``part_area`` (each part's own area) the share outside every zone is kept as
    zone -1 (unassigned); without it the overlaps are the whole part, and a part
    with no overlap goes wholly to zone -1. Ties go to the lower zone position.

    Examples
    --------
    >>> t = pd.DataFrame({"part": [0, 0], "zone": [0, 1], "area": [2.0, 1.0]})
    >>> apportion(np.array([10]), t)[["zone", "count"]].values.tolist()
    [[0, 7], [1, 3]]
    >>> ap = apportion(np.array([10]), t, part_area=np.array([4.0]))
    >>> ap[["zone", "count"]].values.tolist()
    [[-1, 3], [0, 5], [1, 2]]
    """
    counts = np.asarray(counts, dtype=np.int64)
    n = len(counts)
    t = table[["part", "zone", "area"]]
    covered = np.bincount(t["part"].to_numpy(), weights=t["area"].to_numpy(), minlength=n)
    if part_area is not None:
        outside = np.asarray(part_area, dtype=float) - covered
        idx = np.flatnonzero(outside > 1e-9 * np.maximum(part_area, 1.0))
        extra = pd.DataFrame({"part": idx, "zone": NO_ZONE, "area": outside[idx]})
    else:
        idx = np.flatnonzero(covered <= 0)
        extra = pd.DataFrame({"part": idx, "zone": NO_ZONE, "area": 1.0})
    t = pd.concat([t, extra], ignore_index=True)
    denom = t.groupby("part")["area"].transform("sum").to_numpy()
    exact = counts[t["part"].to_numpy()] * t["area"].to_numpy() / denom
    base = np.floor(exact + 1e-9).astype(np.int64)
    t = t.assign(count=base, rem=exact - base)
    short = counts - np.bincount(t["part"], weights=t["count"], minlength=n).astype(np.int64)
    t = t.sort_values(["part", "rem", "zone"], ascending=[True, False, True], kind="stable")
    rank_in_part = t.groupby("part").cumcount().to_numpy()
    extra_one = (rank_in_part < short[t["part"].to_numpy()]).astype(np.int64)
    t["count"] = t["count"].to_numpy() + extra_one
    return t.drop(columns="rem").sort_values(["part", "zone"], kind="stable").reset_index(drop=True)


#: a grid with less than this share of its area in any community belongs to none (module docs)
MIN_GRID_SHARE = 0.01


def assign_grids(
    grids: GeoDataFrame,
    communities: GeoDataFrame,
    *,
    min_share: float = MIN_GRID_SHARE,
    grid_area: np.ndarray | None = None,
) -> pd.DataFrame:
    """Each grid's community by largest overlap, with the shares for QA.

    Returns a frame indexed like ``grids``: ``community_geom`` (id, or NA when
    the largest overlap is below ``min_share`` of the grid's area), ``share``
    (the largest overlap share, also when below ``min_share``), ``outside``,
    ``second_community``, ``second_share``. ``grid_area``: each grid's area in m²
    (``shapely.area`` of the grids) when the caller has it, so it is computed once.

    Examples
    --------
    >>> from shapely import box
    >>> comm = GeoDataFrame(geometry=[box(0, 0, 100, 100)], index=["A"], crs=4549)
    >>> grids = GeoDataFrame(geometry=[box(10, 10, 60, 60), box(99.9, 0, 200, 100)],
    ...                      index=["g1", "g2"], crs=4549)
    >>> assign_grids(grids, comm)["community_geom"].tolist()
    ['A', <NA>]
    """
    lo = largest_overlap(grids.geometry, communities.geometry, part_area=grid_area)
    ids = communities.index.to_numpy()

    def label(pos: np.ndarray) -> pd.api.extensions.ExtensionArray:
        return pd.array([ids[p] if p >= 0 else pd.NA for p in pos], dtype="string")

    zone = lo["zone"].to_numpy()
    zone = np.where(lo["share"].to_numpy() >= min_share, zone, NO_ZONE)
    return pd.DataFrame(
        {
            "community_geom": label(zone),
            "share": lo["share"].to_numpy(),
            "outside": lo["outside"].to_numpy(),
            "second_community": label(lo["second"].to_numpy()),
            "second_share": lo["second_share"].to_numpy(),
        },
        index=grids.index,
    )


@dataclass(frozen=True)
class GridShares:
    """The grid step of :func:`assign_households`: each household record's share per grid.

    Attributes
    ----------
    record
        Positions into the household layer (a polygon apportioned by area has several rows).
    grid
        The grid (position into ``grids``, -1: none) of each share.
    households
        The households of each share; their sum equals the layer's total exactly.
    """

    record: np.ndarray
    grid: np.ndarray
    households: np.ndarray


def grid_shares(
    households: GeoDataFrame, grids: GeoDataFrame | None, *, method: str = "largest"
) -> GridShares:
    """The grid of every household record (the first step of :func:`assign_households`).

    It needs neither the communities nor the grids' communities, so it can run while
    :func:`assign_grids` does (:func:`gridmap.check` runs it on a thread of its own).

    Parameters
    ----------
    households
        Points or polygons with an integer ``households`` column.
    grids
        Zones (index = id), or None.
    method
        ``"largest"`` or ``"area"`` for polygons (see module docs). Points ignore it.

    Returns
    -------
    GridShares
    """
    if method not in ("largest", "area"):
        raise ValueError(f"method must be 'largest' or 'area', not {method!r}")
    counts = households["households"].fillna(0).to_numpy().astype(np.int64)
    records, grid_pos, counts_out = _grid_shares(households.geometry, counts, grids, method)
    return GridShares(np.concatenate(records), np.concatenate(grid_pos), np.concatenate(counts_out))


def assign_households(
    households: GeoDataFrame,
    grids: GeoDataFrame | None,
    communities: GeoDataFrame,
    grid_community: pd.Series | None,
    *,
    method: str = "largest",
    shares: GridShares | None = None,
) -> pd.DataFrame:
    """Assign every household record to a grid and a community.

    Parameters
    ----------
    households
        Points or polygons with an integer ``households`` column (NaN = unusable,
        carried as 0 households and reported by validation).
    grids, communities
        Zones (index = id). ``grids`` may be None (households go straight to communities).
    grid_community
        The community id of each grid (from :func:`assign_grids`), indexed like ``grids``.
    method
        ``"largest"`` or ``"area"`` for polygons (see module docs). Points ignore it.
    shares
        The grid step already done (:func:`grid_shares` of the same households, grids and
        method); None computes it.

    Returns
    -------
    pandas.DataFrame
        One row per (household record, grid) share: ``record`` (index label of
        the household row), ``grid_id`` and ``community_id`` (categoricals, NA
        when none), ``households``. The sum of ``households`` equals the input total exactly.
    """
    if shares is None:
        shares = grid_shares(households, grids, method=method)
    rec, gpos = shares.record, shares.grid
    comm_ids = communities.index.astype(str)
    cpos = _community_positions(households.geometry, rec, gpos, grids, communities, grid_community)
    grid_ids = grids.index.astype(str) if grids is not None else pd.Index([], dtype=str)
    return pd.DataFrame(
        {
            "record": households.index.to_numpy()[rec],
            "grid_id": pd.Categorical.from_codes(gpos, categories=grid_ids),
            "community_id": pd.Categorical.from_codes(cpos, categories=comm_ids),
            "households": shares.households,
        }
    )


def _grid_shares(
    geoms: GeoSeries, counts: np.ndarray, grids: GeoDataFrame | None, method: str
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Records, grid positions (-1: none) and households of each (record, grid) share."""
    is_point = shapely.get_type_id(np.asarray(geoms.values)) == 0
    n = len(geoms)
    records: list[np.ndarray] = []
    grid_pos: list[np.ndarray] = []
    counts_out: list[np.ndarray] = []
    if is_point.all() or grids is None or len(grids) == 0:
        if grids is not None and len(grids):
            pts = geoms if is_point.all() else geoms.representative_point()
            pos = locate_points(pts, grids.geometry)
        else:
            pos = np.full(n, NO_ZONE)
        records.append(np.arange(n))
        grid_pos.append(pos)
        counts_out.append(counts)
    else:
        pt = np.flatnonzero(is_point)
        if len(pt):
            records.append(pt)
            grid_pos.append(locate_points(geoms.iloc[pt], grids.geometry))
            counts_out.append(counts[pt])
        poly = np.flatnonzero(~is_point)
        pg = geoms.iloc[poly]
        table = overlap_table(pg, grids.geometry)
        if method == "largest":
            lo = largest_overlap(pg, grids.geometry, table=table)
            records.append(poly)
            grid_pos.append(lo["zone"].to_numpy())
            counts_out.append(counts[poly])
        else:
            ap = apportion(counts[poly], table, part_area=shapely.area(np.asarray(pg.values)))
            records.append(poly[ap["part"].to_numpy()])
            grid_pos.append(ap["zone"].to_numpy())
            counts_out.append(ap["count"].to_numpy())
    return records, grid_pos, counts_out


def _community_positions(
    geoms: GeoSeries,
    rec: np.ndarray,
    gpos: np.ndarray,
    grids: GeoDataFrame | None,
    communities: GeoDataFrame,
    grid_community: pd.Series | None,
) -> np.ndarray:
    """The community (position, -1: none) of each share: its grid's, else where the record is."""
    comm_ids = communities.index.astype(str)
    cpos = np.full(len(rec), NO_ZONE, dtype=np.int64)
    if grid_community is not None and grids is not None and len(grids):
        # the community of each grid, as a position into ``communities``
        gc = comm_ids.get_indexer(grid_community.astype("string").fillna("").to_numpy())
        cpos = np.where(gpos >= 0, gc[np.clip(gpos, 0, None)], NO_ZONE)
    # records outside every grid (or whose grid has no community) go straight to a community
    loose = np.flatnonzero(cpos < 0)
    if len(loose):
        uniq, inv = np.unique(rec[loose], return_inverse=True)
        pts = geoms.iloc[uniq]
        is_point = shapely.get_type_id(np.asarray(pts.values)) == 0
        pts = pts.where(is_point, pts.representative_point())
        cpos[loose] = locate_points(pts, communities.geometry)[inv]
    return cpos


def assign_facilities(
    facilities: GeoDataFrame, grids: GeoDataFrame | None, communities: GeoDataFrame
) -> pd.DataFrame:
    """Grid and community of each facility (points, or polygons by representative point)."""
    geoms = facilities.geometry
    types = shapely.get_type_id(np.asarray(geoms.values))
    pts = geoms if (types == 0).all() else geoms.representative_point()
    cpos = locate_points(pts, communities.geometry)
    cids = communities.index.astype(str).to_numpy()
    community = pd.array([cids[p] if p >= 0 else pd.NA for p in cpos], dtype="string")
    out = pd.DataFrame({"community_id": community}, index=facilities.index)
    if grids is not None and len(grids):
        gpos = locate_points(pts, grids.geometry)
        gids = grids.index.astype(str).to_numpy()
        out["grid_id"] = pd.array([gids[p] if p >= 0 else pd.NA for p in gpos], dtype="string")
    else:
        out["grid_id"] = pd.array([pd.NA] * len(out), dtype="string")
    return out
