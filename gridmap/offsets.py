"""Web-map offsets: households or facilities that look like GCJ-02/BD-09 labelled as WGS84.

When many points of a layer fall outside every community and moving them by the GCJ-02
(or BD-09) offset brings them in, :func:`offset_hints` says so and names the keyword
(``households_crs="gcj02"``) that fixes it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import shapely
from geopandas import GeoDataFrame, GeoSeries

from gridmap._errors import Problem
from gridmap.crs import from_geographic, to_geographic
from gridmap.locate import locate_points
from gridmap.validation import CRS_PARAM, KIND_ZH, layer_source

__all__ = ["offset_hints", "OFFSET_MIN_OUTSIDE", "OFFSET_SAMPLE"]


#: a layer with at least this share (of households, else of records) outside every community is
#: tested for a web-map offset
OFFSET_MIN_OUTSIDE = 0.01
#: records sampled for the test (deterministic): enough for ±0.5 percentage points
OFFSET_SAMPLE = 20_000


def _outside_share(points: GeoSeries, weights: np.ndarray, communities: GeoDataFrame) -> float:
    """Share of the weights whose point lies outside every community."""
    out = locate_points(points, communities.geometry) < 0
    total = weights.sum()
    return float(weights[out].sum() / total) if total > 0 else 0.0


def offset_hints(layers: Mapping[str, GeoDataFrame], lonlat: set[str]) -> list[Problem]:
    """Warn when a layer looks like GCJ-02/BD-09 web-map coordinates labelled WGS84.

    For each layer with at least :data:`OFFSET_MIN_OUTSIDE` of its households
    (or records) outside every community, a deterministic sample of up to
    :data:`OFFSET_SAMPLE` records is converted as if the layer were GCJ-02, and
    as if BD-09 (when it was read as lon/lat, ``lonlat``, and not converted) —
    and as if the *communities* were GCJ-02/BD-09 (boundaries traced over a
    web map; when they were read as lon/lat). When a conversion at least halves
    the share outside (and by at least one percentage point), the warning names
    the likely culprit, the shift it would undo (GCJ-02: 100–700 m in China) and
    the fix (``households_crs="gcj02"``, ``facilities_crs="gcj02"``, or
    ``crs = "gcj02"`` for the layer in gridmap.toml). ``layers`` are in one
    metric CRS; nothing is changed.
    """
    problems: list[Problem] = []
    comm = layers.get("communities")
    if comm is None or len(comm) == 0:
        return problems
    blamed_communities = False
    for kind in ("households", "facilities", "grids"):
        layer = layers.get(kind)
        if layer is None or len(layer) == 0 or not ({kind, "communities"} & lonlat):
            continue
        geoms = layer.geometry
        pos = np.flatnonzero(~(geoms.isna() | geoms.is_empty).to_numpy())
        if len(pos) == 0:
            continue
        if len(pos) > OFFSET_SAMPLE:
            pos = np.sort(np.random.default_rng(0).choice(pos, OFFSET_SAMPLE, replace=False))
        sample = geoms.iloc[pos]
        points_only = (shapely.get_type_id(np.asarray(sample.values)) == 0).all()
        pts = sample if points_only else sample.representative_point()
        weights = (
            layer["households"].iloc[pos].fillna(0).to_numpy(dtype=float)
            if kind == "households" and "households" in layer.columns
            else np.ones(len(pos))
        )
        if weights.sum() <= 0:
            weights = np.ones(len(pos))
        before = _outside_share(pts, weights, comm)
        if before < OFFSET_MIN_OUTSIDE:
            continue
        lonlat_pts = pts.to_crs(4326)
        best = None
        for culprit in (kind, "communities"):
            if culprit not in lonlat:
                continue
            for pseudo in ("gcj02", "bd09"):
                # the layer in the communities' frame: convert it, or (communities to blame)
                # obfuscate it alike
                move = to_geographic if culprit == kind else from_geographic
                moved = move(lonlat_pts, pseudo).to_crs(comm.crs)
                after = _outside_share(moved, weights, comm)
                if best is None or after < best[2]:
                    distance = shapely.distance(np.asarray(moved.values), np.asarray(pts.values))
                    shift = float(np.median(distance))
                    best = (culprit, pseudo, after, shift)
        assert best is not None  # the kind or the communities were read as lon/lat
        culprit, pseudo, after, shift = best
        again = culprit == "communities" and blamed_communities
        if after > before / 2 or before - after < 0.01 or again:
            continue
        blamed_communities |= culprit == "communities"
        problems.append(
            _offset_problem(kind, culprit, layers[culprit], pseudo, before, after, shift)
        )
    return problems


def _offset_problem(kind, culprit, layer, pseudo, before, after, shift) -> Problem:
    name = {"gcj02": "GCJ-02", "bd09": "BD-09"}[pseudo]
    maps = "高德/腾讯" if pseudo == "gcj02" else "百度"
    what = "住户" if kind == "households" else "记录"
    param = CRS_PARAM.get(culprit, "")
    keyword = f'{param}="{pseudo}"'
    fix = (
        (f"若坐标来自网络地图，加 {keyword}" if param else "若坐标来自网络地图")
        + f'（或在 gridmap.toml 中写 {culprit} = {{ path = "…", crs = "{pseudo}" }}），坐标会先纠偏再计算'
    )
    if param:
        fix += f" (add {keyword})"
    src = layer_source(layer)
    return Problem(
        "warning",
        "crs.maybe_gcj02",
        f"{KIND_ZH[kind]}图层有 {before:.1%} 的{what}不在任何社区内；若把{KIND_ZH[culprit]}图层的坐标当作 {name}"
        f"（{maps}网络地图坐标）纠偏（平移约 {shift:,.0f} m），只剩 {after:.1%}。"
        f"{KIND_ZH[culprit]}图层很可能是 {name} 坐标却标注为 WGS84/CGCS2000 "
        f"(the {culprit} layer looks like {name} web-map coordinates labelled WGS84: "
        f"{before:.1%} of the {kind} "
        f"outside every community, {after:.1%} after converting)",
        fix=fix,
        file=str(src.get("file", "")),
        layer=str(src.get("layer") or KIND_ZH[culprit]),
        param=param,
        extra={
            "kind": culprit,
            "tested": kind,
            "outside_before": before,
            "outside_after": after,
            "shift_m": shift,
            "crs": pseudo,
        },
    )
