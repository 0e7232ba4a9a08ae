"""GIS layers of a check: units with their status, gap layers, as GeoPackage or Shapefiles.

Every unit with its status, one gap layer per failing rule and per coverage gap; the
Shapefiles in GBK (older ArcGIS) or UTF-8. Each layer carries its default style (units by
status in the report's palette, gaps in red): in the GeoPackage's ``layer_styles`` table
(:func:`gridmap.io.gpkg.write_gpkg`), as ``.qml``/``.sld`` beside each Shapefile
(:func:`gridmap.io.shapefile.write_shapefile`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
from geopandas import GeoDataFrame

from gridmap._atomic import atomic_path, staged_dir
from gridmap.check import CheckResult
from gridmap.coverage import CoverageResult
from gridmap.facilities import type_label
from gridmap.io.gpkg import write_gpkg
from gridmap.io.shapefile import write_shapefile
from gridmap.io.styles import LayerStyle, gap_style, status_style
from gridmap.maps import coverage_gaps
from gridmap.report._text import status_zh
from gridmap.report.figures import failing

__all__ = ["export_layers", "gap_layers", "layer_styles"]


def _shp_text(s: pd.Series, limit: int = 120) -> pd.Series:
    """Text of at most ``limit`` characters, None for missing."""
    return s.astype(object).map(
        lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)[:limit]
    )


def gap_layers(
    result: CheckResult, *, coverage: CoverageResult | None = None
) -> dict[str, GeoDataFrame]:
    """The GIS layers: every unit with its status, and one gap layer per failing rule.

    Field names are Chinese and at most 5 characters (10 bytes in GBK, the DBF
    limit), so the same layers can go to a GBK Shapefile unchanged.

    Parameters
    ----------
    result
        A :class:`gridmap.CheckResult`.
    coverage
        Coverage results to export instead of ``result.coverage_result``.

    Returns
    -------
    dict
        ``communities``, ``grids``, ``gap_<rule id>`` (failing units of a rule,
        e.g. ``gap_community_size``), ``gap_coverage_<n>`` (uncovered cells).
    """
    result = result.with_coverage(coverage)
    out: dict[str, GeoDataFrame] = {}
    c = result.communities
    fail = failing(result)
    per_unit = fail.groupby(["level", "unit_id"])["rule_title"].agg("；".join)
    comm = GeoDataFrame(
        {
            "社区编码": c.index.astype(str),
            "社区名称": _shp_text(c.get("name", pd.Series(index=c.index, dtype=object))),
            "街道": _shp_text(c["street"]) if "street" in c.columns else None,
            "户数": pd.to_numeric(c["households"], errors="coerce").to_numpy(),
            "协理员": pd.to_numeric(c.get("coordinators"), errors="coerce")
            if "coordinators" in c.columns
            else np.nan,
            "应配协理员": pd.to_numeric(c["coordinators_required"], errors="coerce").to_numpy(),
            "状态": status_zh(c["status"]).to_numpy(),
            "不合规项": [
                str(per_unit.get(("community", i), ""))[:200] for i in c.index.astype(str)
            ],
        },
        geometry=c.geometry.to_numpy(),
        crs=c.crs,
    )
    out["communities"] = comm
    if result.grids is not None:
        g = result.grids
        out["grids"] = GeoDataFrame(
            {
                "网格编码": g.index.astype(str),
                "网格名称": _shp_text(g["name"]) if "name" in g.columns else None,
                "社区编码": _shp_text(g["community_id"]),
                "户数": pd.to_numeric(g["households"], errors="coerce").to_numpy(),
                "协理员": pd.to_numeric(g["coordinators"], errors="coerce").to_numpy(),
                "应配协理员": pd.to_numeric(g["coordinators_required"], errors="coerce").to_numpy(),
                "状态": status_zh(g["status"]).to_numpy(),
                "不合规项": [str(per_unit.get(("grid", i), ""))[:200] for i in g.index.astype(str)],
            },
            geometry=g.geometry.to_numpy(),
            crs=g.crs,
        )
    for rule in result.profile.rules:
        f = fail[fail["rule_id"] == rule.id]
        if not len(f):
            continue
        units = c if rule.level == "community" else result.grids
        if units is None:
            continue
        geom = units.geometry
        geom.index = units.index.astype(str)
        out[f"gap_{rule.id.replace('.', '_')}"] = GeoDataFrame(
            {
                "编码": f["unit_id"].astype(str).to_numpy(),
                "名称": _shp_text(f["unit_name"]).to_numpy(),
                "规则": rule.title_zh[:60],
                "实测值": pd.to_numeric(f["value"], errors="coerce").to_numpy(),
                "标准": _shp_text(f["threshold"]).to_numpy(),
                "差距": pd.to_numeric(f["gap"], errors="coerce").to_numpy(),
                "说明": _shp_text(f["message"]).to_numpy(),
                "依据": rule.source[:120],
            },
            geometry=geom.reindex(f["unit_id"].astype(str)).to_numpy(),
            crs=units.crs,
        )
    cov = result.coverage_result
    for i, (sid, spec) in enumerate(coverage_gaps(result).items(), start=1):
        assert cov is not None and cov.gaps is not None  # coverage_gaps found uncovered cells
        cells = cov.gaps[cov.gaps[f"uncovered:{sid}"] > 0]
        out[f"gap_coverage_{i}"] = GeoDataFrame(
            {
                "格网编号": cells["cell_id"].astype(str).to_numpy()
                if "cell_id" in cells.columns
                else np.arange(len(cells)).astype(str),
                "设施类型": type_label(spec.facility_type),
                "服务半径": float(spec.radius_m),
                "计算方式": "步行" if spec.mode == "network" else "直线",
                "户数": cells["households"].to_numpy(),
                "未覆盖户": cells[f"uncovered:{sid}"].to_numpy(),
            },
            geometry=cells.geometry.to_numpy(),
            crs=cells.crs,
        )
    return out


def export_layers(
    result: CheckResult,
    path: str | os.PathLike,
    *,
    encoding: str = "gbk",
    coverage: CoverageResult | None = None,
) -> list[Path]:
    """Write :func:`gap_layers` as one GeoPackage (``*.gpkg``) or as Shapefiles in a folder.

    Parameters
    ----------
    result
        A :class:`gridmap.CheckResult`.
    path
        ``layers.gpkg`` → one GeoPackage 1.2 with a layer each (UTF-8, as the format
        requires) and their styles. A folder (or ``*.shp``, meaning its folder) → one
        Shapefile per layer, with ``.qml`` and ``.sld`` styles beside it.
    encoding
        Shapefile text encoding: ``"gbk"`` (default; what older ArcGIS installations
        read; the DBF's language-driver byte says code page 936) or ``"utf-8"``; a
        ``.cpg`` file records it.
    coverage
        Coverage results to export instead of ``result.coverage_result``.

    Returns
    -------
    list of pathlib.Path
        The files written.

    See the example of :mod:`gridmap.report`.
    """
    layers = gap_layers(result, coverage=coverage)
    styles = layer_styles(layers)
    path = Path(path)
    if path.suffix.lower() == ".gpkg":
        with atomic_path(path, suffix=".gpkg") as tmp:
            write_gpkg(tmp, layers, styles=styles)
        return [path]
    folder = path.parent if path.suffix.lower() == ".shp" else path
    with staged_dir(folder) as (stage, written):
        for name, gdf in layers.items():
            write_shapefile(gdf, stage / f"{name}.shp", encoding=encoding, style=styles[name])
    return list(written.values())


def layer_styles(layers: dict[str, GeoDataFrame]) -> dict[str, LayerStyle]:
    """Default style of each layer of :func:`gap_layers`: units by status, gaps in red.

    Parameters
    ----------
    layers
        What :func:`gap_layers` returns.

    Returns
    -------
    dict
        ``layer name -> style`` (:mod:`gridmap.io.styles`).
    """
    styles: dict[str, LayerStyle] = {}
    for name in layers:
        if name == "communities":
            styles[name] = status_style("状态", chinese=True, label_field="社区名称")
        elif name == "grids":
            styles[name] = status_style("状态", chinese=True, label_field="网格名称")
        elif name.startswith("gap_coverage_"):
            styles[name] = gap_style()
        else:
            styles[name] = gap_style(label_field="名称")
    return styles
