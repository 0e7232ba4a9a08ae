"""Topology and attribute QA: the data problems a planner must see next to the rule findings.

Each function returns findings rows (the :data:`gridmap.rules.FINDING_COLUMNS`
frame) with ``rule_id`` starting ``qa.`` and status ``fail``: community
overlaps and gaps (with areas), grids outside every community or straddling
two, grids whose 所属社区 disagrees with their geometry, grid codes whose
12-digit prefix disagrees with the containing community (CJ/T 349-2010), and
households or facilities that could not be placed.

The findings about households (:data:`HOUSEHOLD_RULES`) carry their number of
households in ``value`` (a grid outside every community: the grid's households;
households outside every grid: their total), so the console, summary.json and
reports all read one number: :func:`qa_counts` sums them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame, GeoSeries

from gridmap.assign import MIN_GRID_SHARE
from gridmap.rules import FINDING_COLUMNS

__all__ = [
    "GAP_DECIMALS",
    "number_gaps",
    "community_topology",
    "grid_qa",
    "community_attr_qa",
    "community_lookup",
    "assignment_qa",
    "multipart",
    "qa_counts",
    "STRADDLE_SHARE",
    "MIN_AREA_M2",
    "HOUSEHOLD_RULES",
]

#: a grid with more than this share of its area in another community is reported
STRADDLE_SHARE = 0.10
#: overlaps and gaps smaller than this (m²) are digitising noise and ignored
MIN_AREA_M2 = 1.0
#: QA rules whose ``value`` is a number of households (NaN when the households are unknown)
HOUSEHOLD_RULES = frozenset(
    {"qa.grid.outside", "qa.households.outside_grids", "qa.households.unassigned"}
)
_QA_SOURCE = "gridmap 数据质检 (data QA)"
_CODE_SOURCE = "CJ/T 349-2010 数字社区 网格划分与编码规则：网格编码 = 12位社区编码 + 3位顺序码"


def _rows(
    level: str,
    unit_id: Any,
    unit_name: Any,
    rule_id: str,
    value: Any,
    threshold: str,
    gap: Any,
    message: Any,
    *,
    source: str = _QA_SOURCE,
    title: str = "",
) -> pd.DataFrame:
    """Findings rows (status ``fail``, severity ``warning``) for the units ``unit_id``."""
    n = len(unit_id)
    return pd.DataFrame(
        {
            "level": level,
            "unit_id": list(map(str, unit_id)),
            "unit_name": list(map(str, unit_name)),
            "rule_id": rule_id,
            "value": value,
            "threshold": threshold,
            "status": "fail",
            "gap": gap,
            "message": message,
            "source": source,
            "severity": "warning",
            "rule_title": title,
        },
        index=range(n),
    )[FINDING_COLUMNS]


def _names(units: GeoDataFrame) -> pd.Series:
    """The units' ``name`` column as text, else their ids."""
    return (units["name"] if "name" in units.columns else units.index.to_series()).astype(str)


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
            _rows(
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
            _rows(
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
        return _rows(level, [], [], "", [], "", [], [])
    ids = units.index.astype(str).to_numpy()[multi]
    names = _names(units).to_numpy()[multi]
    smallest = [min(p.area for p in g.geoms) for g in geoms[multi]]
    what = "社区" if level == "community" else "网格"
    msgs = [
        f"{what}由 {n} 个不相连的部分组成，最小部分 {a:,.0f} m²"
        for n, a in zip(parts[multi], smallest, strict=True)
    ]
    return _rows(
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


def community_lookup(ids: Any, names: Any) -> dict[str, Any]:
    """What a grid's 所属社区 text resolves to: each community id, and each unique name.

    A name carried by two or more communities resolves to nothing (``pd.NA``): it is
    ambiguous. A national check builds this over the whole country and hands it to every
    partition, so a name repeated in another province is ambiguous there too.

    Parameters
    ----------
    ids, names
        Community ids and their names (same length; names may be missing).

    Returns
    -------
    dict
        Text → community id (``pd.NA`` for ambiguous names); ids win over names.

    Examples
    --------
    >>> community_lookup(["1", "2", "3"], ["东区", "西区", "东区"])
    {'东区': <NA>, '西区': '2', '1': '1', '2': '2', '3': '3'}
    """
    ids = pd.Series(ids, dtype=object).astype(str).to_numpy()
    names = pd.Series(names, dtype=object).to_numpy()
    lookup: dict[str, Any] = {}
    for cid, name in zip(ids, names, strict=True):
        if name is None or (not isinstance(name, str) and pd.isna(name)):
            continue
        name = str(name)
        lookup[name] = cid if name not in lookup else pd.NA
    lookup.update(zip(ids, ids, strict=True))
    return lookup


def _resolve_community(
    values: pd.Series, communities: GeoDataFrame, lookup: dict[str, Any] | None = None
) -> pd.Series:
    """A grid's 所属社区 as community id: matches an id, else a unique community name."""
    if lookup is None:
        names = communities["name"] if "name" in communities.columns else [None] * len(communities)
        lookup = community_lookup(communities.index, names)

    def one(v: Any) -> Any:
        if v is None or pd.isna(v):
            return pd.NA
        return lookup.get(str(v).strip(), pd.NA)

    if not isinstance(values.dtype, pd.StringDtype):
        return values.map(one).astype("string")
    # each distinct text resolved once (60 k grids name a few thousand communities)
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    resolved = pd.array([one(v) for v in uniques], dtype="string")
    return pd.Series(resolved.take(codes), index=values.index, name=values.name)


def grid_qa(
    grids: GeoDataFrame, grid_table: pd.DataFrame, communities: GeoDataFrame
) -> pd.DataFrame:
    """QA of grids against communities.

    ``grid_table`` is :func:`gridmap.metrics.grid_metrics` output (community by
    geometry, shares, the 所属社区 attribute).
    """
    frames = [multipart(grids, "grid")]
    cname = _names(communities)
    cname.index = cname.index.astype(str)
    frames += _placement_qa(grid_table, cname)
    if grid_table["community_attr"].notna().any():
        frames += _community_attr_qa(grid_table, communities, cname)
    frames += _code_prefix_qa(grid_table)
    return pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)


def _placement_qa(grid_table: pd.DataFrame, cname: pd.Series) -> list[pd.DataFrame]:
    """Grids outside every community, straddling two, or partly outside all."""
    frames = []
    gid = grid_table.index.astype(str).to_numpy()
    gname = grid_table["name"].astype(str).to_numpy()
    outside = grid_table["community_id"].astype("string").isna().to_numpy()
    share = grid_table["share_in_community"].to_numpy()
    if outside.any():
        hh = grid_table["households"].to_numpy(dtype=float)[outside]
        from_layer = (
            "households_source" in grid_table.columns
            and (grid_table["households_source"] == "layer").all()
        )
        fate = (
            "按各自位置计入所在社区，不在任何社区内的列为未分配" if from_layer else "不计入任何社区"
        )
        msgs = [
            (
                "网格不在任何社区内"
                if s <= 0
                else f"网格与社区的重叠只占其面积的 {s:.2%}（不足 {MIN_GRID_SHARE:.0%}），不计入任何社区"
            )
            + ("" if np.isnan(h) else f"；网格内 {h:,.0f} 户{fate}")
            for s, h in zip(share[outside], hh, strict=True)
        ]
        frames.append(
            _rows(
                "grid",
                gid[outside],
                gname[outside],
                "qa.grid.outside",
                hh,
                f"≥{MIN_GRID_SHARE:.0%} 面积在社区内",
                hh,
                msgs,
                title="网格不在任何社区内",
            )
        )
    second = grid_table["second_share"].to_numpy()
    straddle = ~outside & (second > STRADDLE_SHARE)
    if straddle.any():
        others = grid_table["second_community"].to_numpy()[straddle]
        msgs = [
            f"{s * 100:.0f}% 面积位于社区 {cname.get(str(c), c)}（{c}）"
            for s, c in zip(second[straddle], others, strict=True)
        ]
        frames.append(
            _rows(
                "grid",
                gid[straddle],
                gname[straddle],
                "qa.grid.straddles",
                second[straddle],
                f"≤{STRADDLE_SHARE:.0%}",
                second[straddle] - STRADDLE_SHARE,
                msgs,
                title="网格跨越社区边界",
            )
        )
    out_share = 1.0 - share - second
    partly = ~outside & (out_share > STRADDLE_SHARE) & ~straddle
    if partly.any():
        frames.append(
            _rows(
                "grid",
                gid[partly],
                gname[partly],
                "qa.grid.partly_outside",
                out_share[partly],
                f"≤{STRADDLE_SHARE:.0%}",
                out_share[partly] - STRADDLE_SHARE,
                [f"{s * 100:.0f}% 面积不在任何社区内" for s in out_share[partly]],
                title="网格部分位于社区之外",
            )
        )
    return frames


def community_attr_qa(
    grid_table: pd.DataFrame, communities: GeoDataFrame, lookup: dict[str, Any] | None = None
) -> pd.DataFrame:
    """Grids whose 所属社区 names no community, or a community other than their geometry's.

    Parameters
    ----------
    grid_table
        :func:`gridmap.metrics.grid_metrics` output (``community_attr``, ``community_id``).
    communities
        The communities the grids were placed in (their names label the findings).
    lookup
        What 所属社区 texts resolve to (:func:`community_lookup`); default: built from
        ``communities``. A national check passes the country's, so names resolve as on the
        whole data.

    Returns
    -------
    pandas.DataFrame
        The ``qa.grid.community_unknown`` and ``qa.grid.community_mismatch`` rows.
    """
    cname = _names(communities)
    cname.index = cname.index.astype(str)
    frames = _community_attr_qa(grid_table, communities, cname, lookup)
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else _rows("grid", [], [], "qa.grid.community_unknown", np.nan, "", np.nan, [], title="")
    )


def _community_attr_qa(
    grid_table: pd.DataFrame,
    communities: GeoDataFrame,
    cname: pd.Series,
    lookup: dict[str, Any] | None = None,
) -> list[pd.DataFrame]:
    """Grids whose 所属社区 names no community, or a community other than their geometry's."""
    frames = []
    gid = grid_table.index.astype(str).to_numpy()
    gname = grid_table["name"].astype(str).to_numpy()
    geom_c = grid_table["community_id"].astype("string")
    share = grid_table["share_in_community"].to_numpy()
    attr = _resolve_community(grid_table["community_attr"], communities, lookup)
    raw = grid_table["community_attr"].astype("string")
    unknown = (raw.notna() & attr.isna()).to_numpy()
    if unknown.any():
        frames.append(
            _rows(
                "grid",
                gid[unknown],
                gname[unknown],
                "qa.grid.community_unknown",
                np.nan,
                "",
                np.nan,
                [f"所属社区 {v!r} 不是任何社区的编码或名称" for v in raw[unknown]],
                title="所属社区无法识别",
            )
        )
    differ = (attr.notna() & geom_c.notna() & (attr != geom_c)).fillna(False).to_numpy()
    if differ.any():
        msgs = [
            f"属性“所属社区”为 {raw.iloc[i]}，但几何位于社区 "
            f"{cname.get(str(geom_c.iloc[i]), '')}（{geom_c.iloc[i]}，占 {share[i] * 100:.0f}%）"
            for i in np.flatnonzero(differ)
        ]
        frames.append(
            _rows(
                "grid",
                gid[differ],
                gname[differ],
                "qa.grid.community_mismatch",
                share[differ],
                "",
                np.nan,
                msgs,
                title="所属社区与空间位置不符",
            )
        )
    return frames


def _code_prefix_qa(grid_table: pd.DataFrame) -> list[pd.DataFrame]:
    """15-digit grid codes whose 12-digit prefix is not their community's code (CJ/T 349-2010)."""
    gid = grid_table.index.astype(str).to_numpy()
    gname = grid_table["name"].astype(str).to_numpy()
    codes = pd.Series(gid)
    comm = grid_table["community_id"].astype("string").to_numpy()
    is_code = codes.str.fullmatch(r"\d{15}").to_numpy()
    comm_is_code = (
        pd.Series(comm).astype("string").str.fullmatch(r"\d{12}").fillna(False).to_numpy()
    )
    check = is_code & comm_is_code
    prefix_bad = check & (codes.str[:12].to_numpy() != pd.Series(comm).astype(str).to_numpy())
    if not prefix_bad.any():
        return []
    msgs = [
        f"网格编码前12位 {c[:12]} 与所在社区编码 {k} 不一致"
        for c, k in zip(codes[prefix_bad], comm[prefix_bad], strict=True)
    ]
    return [
        _rows(
            "grid",
            gid[prefix_bad],
            gname[prefix_bad],
            "qa.grid.code_prefix",
            np.nan,
            "",
            np.nan,
            msgs,
            source=_CODE_SOURCE,
            title="网格编码与社区编码不符",
        )
    ]


def assignment_qa(
    households: pd.DataFrame | None,
    has_grids: bool,
    facility_assignment: pd.DataFrame | None,
    facilities: GeoDataFrame | None,
) -> pd.DataFrame:
    """Households outside every grid / every community; facilities outside every community."""
    frames = []
    if households is not None:
        nogrid = households[households["grid_id"].isna() & households["community_id"].notna()]
        if has_grids and len(nogrid):
            n = int(nogrid["households"].sum())
            frames.append(
                _rows(
                    "study",
                    ["households"],
                    ["户数"],
                    "qa.households.outside_grids",
                    float(n),
                    "0",
                    float(n),
                    f"{len(nogrid)} 条户数记录（{n:,} 户）不在任何网格内，已直接计入所在社区",
                    title="住户不在任何网格内",
                )
            )
        lost = households[households["community_id"].isna()]
        if len(lost):
            n = int(lost["households"].sum())
            frames.append(
                _rows(
                    "study",
                    ["households"],
                    ["户数"],
                    "qa.households.unassigned",
                    float(n),
                    "0",
                    float(n),
                    f"{len(lost)} 条户数记录（{n:,} 户）不在任何社区内，未分配",
                    title="住户未分配到社区",
                )
            )
    if facility_assignment is not None and facilities is not None:
        out = facility_assignment["community_id"].isna().to_numpy()
        if out.any():
            if "name" in facilities.columns:
                names = facilities["name"].astype(str).to_numpy()
            else:
                names = facilities.index.astype(str).to_numpy()
            frames.append(
                _rows(
                    "facility",
                    facilities.index.astype(str).to_numpy()[out],
                    names[out],
                    "qa.facility.outside",
                    np.nan,
                    "",
                    np.nan,
                    "设施不在任何社区内",
                    title="设施不在任何社区内",
                )
            )
    if not frames:
        return _rows("study", [], [], "", [], "", [], [])
    return pd.concat(frames, ignore_index=True)


def qa_counts(findings: pd.DataFrame) -> dict[str, dict[str, int | None]]:
    """Per QA rule: ``{"findings": n, "households": total or None}``, in order of appearance.

    ``households`` is the sum of ``value`` for :data:`HOUSEHOLD_RULES` (None for
    other rules, and when no finding of the rule knows its households).

    Examples
    --------
    >>> f = pd.DataFrame({"rule_id": ["qa.households.outside_grids", "qa.grid.multipart"],
    ...                   "value": [205214.0, 2.0]})
    >>> qa_counts(f)  # doctest: +NORMALIZE_WHITESPACE
    {'qa.households.outside_grids': {'findings': 1, 'households': 205214},
     'qa.grid.multipart': {'findings': 1, 'households': None}}
    """
    qa = findings[findings["rule_id"].str.startswith("qa.")]
    out: dict[str, dict[str, int | None]] = {}
    for rid, g in qa.groupby("rule_id", sort=False):
        values = pd.to_numeric(g["value"], errors="coerce")
        known = rid in HOUSEHOLD_RULES and values.notna().any()
        households = int(round(values.sum())) if known else None
        out[rid] = {"findings": int(len(g)), "households": households}
    return out
