"""A Study: the input layers in one metric CRS, validated, plus where they came from.

:func:`read_study` reads each layer (paths, ``file.gpkg:layer`` strings or
GeoDataFrames), maps columns, validates everything, reprojects to one metric
CRS and raises a single :class:`~gridmap._errors.InputError` listing every
problem when the input is unusable. Usable input with problems comes back with
``study.problems`` (warnings and repairs) for the report.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import pyproj
from geopandas import GeoDataFrame

from gridmap._errors import InputError, Problem
from gridmap._gcpause import gc_paused
from gridmap.columns import ALIASES, parse_mapping
from gridmap.config import LAYER_KINDS, load_config, read_toml
from gridmap.crs import (
    MAX_SCALE_ERROR,
    crs_label,
    is_metric,
    metric_crs,
    scale_error,
    scale_factors,
)
from gridmap.io import read_layer, state_crs
from gridmap.offsets import offset_hints
from gridmap.osm import walking_lines
from gridmap.validation import KIND_ZH, check_layers, layer_source, mapping_text, prepare_layer

__all__ = ["Study", "read_study", "load_config", "read_toml", "LAYER_KINDS"]

#: a layer in a PostgreSQL database (read_layer reads it; not a path relative to the config)
_DB_SCHEMES = ("postgresql://", "postgres://")
#: files read through GDAL or pandas' CSV reader (optionally ``:layer``): safe to read side by side
_CONCURRENT_FILE = re.compile(
    r"\.(gpkg|shp|geojson|json|fgb|parquet|geoparquet|csv|txt)(:[^/\\]*)?$", re.IGNORECASE
)
_EXCEL = re.compile(r"\.xlsx?(:|$)", re.IGNORECASE)

LayerSpec: TypeAlias = str | Path | GeoDataFrame | Mapping[str, Any] | None


@dataclass
class Study:
    """The layers of one study area in one metric CRS.

    Attributes
    ----------
    communities, grids, households, facilities, network
        Canonical GeoDataFrames (``grids`` … may be None). Zones are indexed by id.
    crs
        The metric CRS every layer is in.
    problems
        Warnings and repairs found while reading (errors raise instead).
    sources
        Per layer: file, layer, encoding, CRS as read.
    """

    communities: GeoDataFrame
    crs: pyproj.CRS
    grids: GeoDataFrame | None = None
    households: GeoDataFrame | None = None
    facilities: GeoDataFrame | None = None
    network: GeoDataFrame | None = None
    problems: list[Problem] = field(default_factory=list)
    sources: dict[str, dict] = field(default_factory=dict)
    name: str = "gridmap"
    profile: str = "national"
    households_method: str = "largest"

    def layers(self) -> dict[str, GeoDataFrame]:
        """The layers present, by kind (``communities`` first)."""
        return {k: getattr(self, k) for k in LAYER_KINDS if getattr(self, k) is not None}

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}={len(v)}" for k, v in self.layers().items())
        return f"Study({self.name!r}, {parts}, crs={crs_label(self.crs)!r})"


def _split_mapping(
    mapping: Mapping[str, Any] | list[str] | None, present: dict[str, list[str]]
) -> tuple[dict, list[Problem]]:
    """Route ``{canonical: source}`` / ``{"grids.canonical": source}`` / ``{kind: {...}}``."""
    per_kind: dict[str, dict[str, str]] = {k: {} for k in LAYER_KINDS}
    problems: list[Problem] = []
    if mapping is None:
        return per_kind, problems
    flat: dict[str, str] = {}
    if isinstance(mapping, Mapping):
        for key, value in mapping.items():
            if isinstance(value, Mapping):
                if key not in per_kind:
                    problems.append(
                        Problem(
                            "error",
                            "mapping.layer_unknown",
                            f"列映射中的未知图层 {key!r}",
                            fix="可用的图层 / valid layers: "
                            + ", ".join(LAYER_KINDS)
                            + "".join(
                                f"（是不是想写 {c!r}？）"
                                for c in difflib.get_close_matches(str(key), LAYER_KINDS, n=1)
                            ),
                        )
                    )
                    continue
                per_kind[key].update(parse_mapping(value))
            else:
                flat[key] = str(value)
    else:
        flat = parse_mapping(mapping)
    for key, source in flat.items():
        if "." in key and key.split(".", 1)[0] in LAYER_KINDS:
            kind, canonical = key.split(".", 1)
            per_kind[kind][canonical] = source
            continue
        targets = [k for k, cols in present.items() if source in cols]
        if not targets:
            known = [k for k in present if key in ALIASES[k]]
            problems.append(
                Problem(
                    "error",
                    "mapping.column_missing",
                    f"{mapping_text(key, source)}：任何图层中都没有列 {source!r}",
                    fix="检查列名；可写成 图层.标准列名=源列名，例如 grids.households=住户数"
                    + (f"（{key} 属于图层：{', '.join(known)}）" if known else ""),
                    column=source,
                    param="mapping",
                )
            )
        for kind in targets:
            per_kind[kind][key] = source
    return per_kind, problems


def _read(kind: str, spec: LayerSpec, *, crs, encoding, base: Path | None) -> GeoDataFrame:
    if isinstance(spec, GeoDataFrame):
        gdf = spec.copy()
        file = gdf.attrs.get("source", {}).get("file", "(GeoDataFrame)")
        gdf.attrs = {"source": {"file": file, "layer": kind}}
        if crs is not None:
            attrs = gdf.attrs
            gdf = state_crs(gdf, crs, layer=kind)
            gdf.attrs = {**attrs, **gdf.attrs}
        return gdf
    options: dict[str, Any] = {}
    if isinstance(spec, Mapping):
        options = dict(spec)
        path = options.pop("path")
    else:
        path = spec
    source = str(path)
    if not source.startswith(_DB_SCHEMES):  # a database URL is no file (Path drops a '/')
        path = Path(source)
        if base is not None and not path.is_absolute() and not path.exists():
            path = base / path
        source = str(path)
    layer_crs = options.pop("crs", None) or crs
    return read_layer(
        source,
        layer=options.pop("layer", None),
        encoding=options.pop("encoding", None) or encoding,
        crs=layer_crs,
        x=options.pop("x", None),
        y=options.pop("y", None),
    )


@gc_paused()
def read_study(
    communities: LayerSpec,
    grids: LayerSpec = None,
    households: LayerSpec = None,
    facilities: LayerSpec = None,
    network: LayerSpec = None,
    *,
    crs: Any = None,
    facilities_crs: Any = None,
    households_crs: Any = None,
    metric: Any = None,
    mapping: Mapping[str, Any] | list[str] | None = None,
    encoding: str | None = None,
    name: str | None = None,
    profile: str = "national",
    households_method: str = "largest",
    base: Path | None = None,
) -> Study:
    """Read, map, validate and reproject the layers of a study.

    Parameters
    ----------
    communities, grids, households, facilities, network
        A path (``"file.gpkg:图层"`` selects a layer), a dict with ``path`` and
        optional ``layer``, ``crs``, ``encoding``, ``x``, ``y``, or a GeoDataFrame.
    crs
        Override the CRS of every layer (what the coordinates are; not a reprojection).
    facilities_crs
        Override for the facilities layer: ``"gcj02"``, ``"bd09"`` (converted to
        WGS84 before anything is measured) or a CRS.
    households_crs
        The same for the households layer (building points scraped from a web map).
    metric
        The metric CRS to work in; default: the communities' CRS when it is
        projected in metres, else the CGCS2000 3° Gauss-Krüger zone of the data.
    mapping
        Column mapping: ``{"households": "住户数"}``, ``{"grids": {...}}``, or the
        CLI's list ``["households=住户数", "grids.coordinators=网格员"]``.
    encoding
        Shapefile/CSV encoding when detection is not enough (e.g. ``"gbk"``).
    households_method
        ``"largest"`` or ``"area"`` for household polygons (see :mod:`gridmap.assign`).

    Raises
    ------
    InputError
        Listing every problem, when any layer is unusable.

    Examples
    --------
    >>> import gridmap
    >>> from gridmap import datasets
    >>> study = gridmap.read_study(**datasets.demo_config())
    >>> len(study.communities), study.crs.to_epsg()
    (30, 4549)
    """
    specs = {
        "communities": communities,
        "grids": grids,
        "households": households,
        "facilities": facilities,
        "network": network,
    }
    own_crs = {"facilities": facilities_crs, "households": households_crs}
    raw, problems = _read_layers(specs, own_crs, crs=crs, encoding=encoding, base=base)
    present = {k: [str(c) for c in v.columns] for k, v in raw.items()}
    per_kind, map_problems = _split_mapping(mapping, present)
    problems += map_problems
    layers, sources, found = _prepare_layers(raw, per_kind, facilities_crs)
    problems += found
    if any(p.severity == "error" for p in problems):
        raise InputError(problems)

    try:
        target = metric_crs(layers["communities"], crs=metric)
    except ValueError as exc:  # GeographicCRSError included: a metric= that is not metric-true
        raise InputError(
            problems
            + [
                Problem(
                    "error",
                    "crs.metric",
                    str(exc),
                    param="metric",
                    fix="换用数据所在的 CGCS2000 高斯-克吕格 3 度带，或不指定 metric=（自动选择）",
                )
            ]
        ) from exc
    problems += _scale_problems(layers["communities"], target, sources["communities"])
    problems += _reproject(layers, raw, target, sources)
    problems += check_layers(layers)
    lonlat = {
        k
        for k, g in raw.items()
        if g.crs is not None and g.crs.is_geographic and not g.attrs.get("coordinate_conversion")
    }
    hints = offset_hints(layers, lonlat) if not any(p.severity == "error" for p in problems) else []
    if any(h.extra.get("kind") == "facilities" for h in hints):
        # the evidence replaces the general caution
        problems = [p for p in problems if p.code != "crs.maybe_gcj02"]
    problems += hints
    if any(p.severity == "error" for p in problems):
        raise InputError(problems)
    assert is_metric(target)
    return Study(
        communities=layers["communities"],
        crs=target,
        grids=layers.get("grids"),
        households=layers.get("households"),
        facilities=layers.get("facilities"),
        network=layers.get("network"),
        problems=problems,
        sources=sources,
        name=name or "gridmap",
        profile=profile,
        households_method=households_method,
    )


def _read_layers(
    specs: Mapping[str, LayerSpec],
    own_crs: Mapping[str, Any],
    *,
    crs: Any,
    encoding: str | None,
    base: Path | None,
) -> tuple[dict[str, GeoDataFrame], list[Problem]]:
    """Every layer given, as read (an OSM extract reduced to its walking lines), and problems."""
    problems: list[Problem] = []
    raw: dict[str, GeoDataFrame] = {}
    given = {kind: spec for kind, spec in specs.items() if spec is not None}

    def read(kind: str) -> GeoDataFrame:
        own = own_crs.get(kind)
        layer_crs = own if own is not None else crs
        return _read(kind, given[kind], crs=layer_crs, encoding=encoding, base=base)

    # GDAL reads a layer without holding the GIL: the layers of GIS files are read side by
    # side (an Excel sheet or a database is read alone: openpyxl's warning filters are global)
    files = [
        str(s.get("path", "")) if isinstance(s, Mapping) else str(s)
        for s in given.values()
        if not isinstance(s, GeoDataFrame)
    ]
    together = len(files) > 1 and all(
        _CONCURRENT_FILE.search(f) and not _EXCEL.search(f) for f in files
    )
    pool = ThreadPoolExecutor(len(given), "gridmap-read") if together else None
    pending = {kind: pool.submit(read, kind) for kind in given} if pool else {}
    try:
        for kind in given:  # in order: the problems as a sequential read lists them
            try:
                raw[kind] = pending[kind].result() if pool else read(kind)
                problems += list(raw[kind].attrs.pop("problems", None) or [])
            except InputError as exc:
                problems += exc.problems
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    if "network" in raw and (raw["network"].attrs.get("source") or {}).get("format") == "osm":
        attrs = raw["network"].attrs
        raw["network"], found = walking_lines(raw["network"])
        raw["network"].attrs = attrs
        problems += found
    if "communities" not in raw and not problems:
        problems.append(
            Problem(
                "error",
                "layer.missing",
                "缺少社区图层",
                fix="用 communities= 指定社区边界文件",
                param="communities",
            )
        )
    return raw, problems


def _prepare_layers(
    raw: Mapping[str, GeoDataFrame], per_kind: Mapping[str, dict], facilities_crs: Any
) -> tuple[dict[str, GeoDataFrame], dict[str, dict], list[Problem]]:
    """Each layer validated into canonical columns, where it came from, and the problems."""
    problems: list[Problem] = []
    layers: dict[str, GeoDataFrame] = {}
    sources: dict[str, dict] = {}
    for kind, gdf in raw.items():
        src = layer_source(gdf)
        sources[kind] = {**src, "crs": crs_label(gdf.crs) if gdf.crs is not None else None}
        where: dict[str, Any] = {
            "file": str(src.get("file", "")),
            "layer": str(src.get("layer") or ""),
        }
        if gdf.crs is None:
            problems.append(
                Problem(
                    "error",
                    "crs.missing",
                    f"{KIND_ZH[kind]}图层没有坐标系信息（缺少 .prj 或 CRS）",
                    fix='用 crs= 指定，例如 crs="EPSG:4549"（CGCS2000 3度带 120E）或 crs="EPSG:4490"',
                    **where,
                    param="crs",
                )
            )
        layer, found = prepare_layer(gdf, kind, mapping=per_kind.get(kind))
        problems += found
        layers[kind] = layer
        lonlat = gdf.crs is not None and gdf.crs.is_geographic
        if kind == "facilities" and facilities_crs is None and lonlat:
            problems.append(
                Problem(
                    "warning",
                    "crs.maybe_gcj02",
                    "设施图层为经纬度坐标且未声明 facilities_crs=；若设施点来自高德/腾讯（GCJ-02）"
                    "或百度（BD-09）地图，坐标偏移100–700米",
                    fix='来自网络地图的 POI 请加 facilities_crs="gcj02" 或 facilities_crs="bd09"',
                    **where,
                    param="facilities_crs",
                )
            )
    return layers, sources, problems


def _reproject(
    layers: dict[str, GeoDataFrame],
    raw: Mapping[str, GeoDataFrame],
    target: pyproj.CRS,
    sources: Mapping[str, dict],
) -> list[Problem]:
    """Every layer into ``target``, in place; the reprojections and web-map conversions noted."""
    problems: list[Problem] = []
    target_wkt = target.to_wkt()
    differ = {k: layer.crs for k, layer in layers.items() if layer.crs.to_wkt() != target_wkt}
    if differ:
        was = "；".join(f"{KIND_ZH[k]}图层原为 {crs_label(c)}" for k, c in differ.items())
        problems.append(
            Problem(
                "info",
                "crs.reprojected",
                "已统一投影到 " + crs_label(target) + "：" + was,
                fix="无需处理 (reprojected automatically)",
            )
        )
    for kind, layer in raw.items():
        conversion = layer.attrs.get("coordinate_conversion")
        if conversion:
            problems.append(
                Problem(
                    "info",
                    "crs.converted",
                    f"{KIND_ZH[kind]}图层坐标已纠偏：{conversion}",
                    fix="无需处理 (converted before any measurement)",
                    file=str(sources[kind].get("file", "")),
                    layer=str(sources[kind].get("layer") or ""),
                )
            )
    for kind, layer in layers.items():
        if layer.crs.to_wkt() != target_wkt and not layer.crs.equals(target):
            attrs = layer.attrs
            layer = layer.to_crs(target)
            layer.attrs = attrs
            layers[kind] = layer
    return problems


def _scale_problems(communities: GeoDataFrame, target: pyproj.CRS, source: dict) -> list[Problem]:
    """A warning when the communities' metric CRS was set aside for being untrue to scale."""
    own = communities.crs
    if not is_metric(own) or own.to_wkt() == target.to_wkt():
        return []
    err = scale_error(own, communities)
    f = scale_factors(own, communities)
    detail = (
        (
            f"面积 ×{f.areal_scale:.3f}，长度 ×{f.meridional_scale:.3f}（南北）"
            f"/ ×{f.parallel_scale:.3f}（东西）"
        )
        if f
        else "长度或面积"
    )
    return [
        Problem(
            "warning",
            "crs.not_true_scale",
            f"社区图层的坐标系 {crs_label(own)} 在数据所在位置比例失真 {err:.1%}（{detail}；上限 {MAX_SCALE_ERROR:.1%}），"
            f"不适合量算：已改用 {crs_label(target)} 计算所有长度和面积 "
            f"(the layer's CRS is {err:.1%} off true scale here; lengths and areas are measured in "
            f"{crs_label(target)})",
            fix=f'无需处理；如需指定量算坐标系用 metric="EPSG:{target.to_epsg() or "45xx"}"，'
            "或在 GIS 中把数据重新投影到 CGCS2000 高斯-克吕格坐标系后再导入 (or reproject the data)",
            file=str(source.get("file", "")),
            layer=str(source.get("layer") or ""),
            param="metric",
        )
    ]
