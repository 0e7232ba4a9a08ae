"""Validation: one report of every problem, each naming file, layer, column, row and fix.

:func:`prepare_layer` turns a layer as read into canonical columns (ids as
text, counts cleaned, geometries repaired) and lists what it found;
:func:`check_layers` looks across layers (CRS, overlap). Nothing raises here:
callers collect the problems and raise one :class:`~gridmap._errors.InputError`
when any is an error. Inputs are never modified: every function returns copies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame, GeoSeries

from gridmap._errors import Problem
from gridmap.columns import (
    ALIASES,
    COUNT_COLUMNS,
    FLAG_COLUMNS,
    IMPLAUSIBLE,
    NUMBER_COLUMNS,
    PLAUSIBLE_MAX,
    RATE_COLUMNS,
    REQUIRED,
    clean_counts,
    clean_flags,
    clean_numbers,
    community_type,
    find_columns,
    problems_from_bad,
)
from gridmap.facilities import normalise_types

__all__ = [
    "prepare_layer",
    "check_layers",
    "mapping_text",
    "layer_source",
    "CRS_PARAM",
    "ID_COLUMN",
    "KIND_ZH",
]

ID_COLUMN = {"communities": "community_id", "grids": "grid_id"}
KIND_ZH = {
    "communities": "社区",
    "grids": "网格",
    "households": "户数",
    "facilities": "设施",
    "network": "路网",
}
_GEOM_TYPES = {
    "communities": ({"Polygon", "MultiPolygon"}, "面 (Polygon)"),
    "grids": ({"Polygon", "MultiPolygon"}, "面 (Polygon)"),
    "households": ({"Point", "MultiPoint", "Polygon", "MultiPolygon"}, "点或面 (Point/Polygon)"),
    "facilities": ({"Point", "MultiPoint", "Polygon", "MultiPolygon"}, "点或面 (Point/Polygon)"),
    "network": ({"LineString", "MultiLineString"}, "线 (LineString)"),
}


#: the read_study keyword stating the CRS of a layer kind (``crs`` states every layer's)
CRS_PARAM = {"households": "households_crs", "facilities": "facilities_crs"}


def layer_source(gdf: GeoDataFrame) -> dict:
    """Where a layer was read from (file, layer …: ``gdf.attrs["source"]``), a copy; {} if unknown."""
    return dict(gdf.attrs.get("source") or {})


#: formats read as tables (CSV, Excel): rows are named as Excel numbers them
_TABLE_FORMATS = ("csv", "xlsx", "xls")


@dataclass(frozen=True)
class _Rows:
    """How a planner finds a row of a freshly read layer (labels are 0-based positions).

    In a CSV or Excel table the row Excel shows (the header is row 1, the first data row 2);
    in a GIS layer the 1-based record number (a GeoPackage's fid, QGIS's row). Labels that
    are not positions (a GeoDataFrame passed in with its own index) are named as they are.
    """

    table: bool

    @classmethod
    def of(cls, src: Mapping) -> _Rows:
        return cls(src.get("format") in _TABLE_FORMATS)

    def __call__(self, label: object) -> object:
        if isinstance(label, (int, np.integer)):
            return int(label) + (2 if self.table else 1)
        return label

    def text(self, rows: Sequence[object], more: str = "") -> str:
        """``表格第 2、5 行`` in a table, ``第 1、4 条记录`` in a GIS layer (``more`` appended)."""
        shown = "、".join(str(r) for r in rows)
        return f"表格第 {shown} 行{more}" if self.table else f"第 {shown} 条记录{more}"


def _ids(values: pd.Series) -> pd.Series:
    """Ids as clean text: 330106001001.0 -> '330106001001', strip spaces."""
    if pd.api.types.is_float_dtype(values):
        return values.map(
            lambda v: None if pd.isna(v) else (f"{int(v)}" if float(v).is_integer() else str(v))
        ).astype("string")
    if pd.api.types.is_integer_dtype(values):
        return values.astype("Int64").astype("string")
    text = values.astype("string").str.strip()
    return text.mask(text == "", pd.NA)


def prepare_layer(
    gdf: GeoDataFrame, kind: str, *, mapping: Mapping[str, str] | None = None
) -> tuple[GeoDataFrame, list[Problem]]:
    """Canonical columns, cleaned values and repaired geometry for one layer.

    Parameters
    ----------
    gdf
        The layer as read (``gdf.attrs["source"]`` names file and layer).
    kind
        ``communities``, ``grids``, ``households``, ``facilities`` or ``network``.
    mapping
        Explicit ``{canonical: source column}`` (``read_study(mapping=...)``).

    Returns
    -------
    layer, problems
        A new GeoDataFrame (index = ``community_id`` / ``grid_id`` for zones,
        the source record number otherwise) and every problem found. When a
        problem is an error, ``layer`` may be incomplete and must not be used.

    Examples
    --------
    >>> from shapely import box
    >>> raw = GeoDataFrame({"社区代码": [330106001001.0], "总户数": ["1,200户"]},
    ...                    geometry=[box(0, 0, 1, 1)], crs=4549)
    >>> layer, problems = prepare_layer(raw, "communities")
    >>> layer.index.tolist(), layer["households"].tolist(), problems
    (['330106001001'], [1200.0], [])
    """
    src = layer_source(gdf)
    where: dict[str, Any] = {
        "file": str(src.get("file", "")),
        "layer": str(src.get("layer") or KIND_ZH[kind]),
    }
    if len(gdf) == 0:
        # an empty layer would give 0 households and false "fail"s everywhere: unusable, not zeros
        return GeoDataFrame(gdf.copy()), [
            Problem(
                "error",
                "layer.empty",
                f"{KIND_ZH[kind]}图层没有任何记录（只有表头或空图层）",
                fix="检查是否选错了文件或图层；不需要该图层时不要指定它 "
                "(pick the right file/layer, or leave the layer out)",
                **where,
            )
        ]
    out, found, problems = _canonical_columns(gdf, kind, mapping, where)
    if any(p.severity == "error" for p in problems):
        return out, problems
    rows = _Rows.of(src)
    problems += _clean_values(out, kind, found, where, rows)
    id_col = ID_COLUMN.get(kind)
    if id_col:
        problems += _clean_ids(out, kind, id_col, found[id_col], where, rows)
    if "name" in out.columns:
        out["name"] = out["name"].astype("string").str.strip()
    elif id_col:
        out["name"] = out[id_col]
    if kind == "grids" and "community_id" in out.columns:
        out["community_id"] = _ids(out["community_id"])
    if kind == "facilities" and "facility_type" in out.columns:
        problems += _facility_types(out, found["facility_type"], where, rows)
    if kind == "communities" and "type" in found:
        problems += _community_types(out, found["type"], where, rows)
    problems += _repair_geometry(out, kind, where, rows)
    problems += _nothing_usable(out, kind, where, found)
    if id_col:
        out = out.set_index(id_col, drop=True)
        out.index.name = id_col
    return out, problems


def _canonical_columns(
    gdf: GeoDataFrame, kind: str, mapping: Mapping[str, str] | None, where: dict[str, Any]
) -> tuple[GeoDataFrame, dict[str, str], list[Problem]]:
    """The layer under canonical column names (other columns kept), and what is missing."""
    problems: list[Problem] = []
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    found, missing_explicit = find_columns(columns, kind, mapping=mapping)
    present = ", ".join(map(str, columns))
    for canonical, source in missing_explicit.items():
        problems.append(
            Problem(
                "error",
                "mapping.column_missing",
                f"{mapping_text(canonical, source)}：{KIND_ZH[kind]}图层中没有列 {source!r}；现有列：{present}",
                fix=f"检查列名拼写，例如 {mapping_text(canonical, columns[0] if columns else '列名')}",
                **where,
                column=source,
                param="mapping",
            )
        )
    for canonical in REQUIRED[kind]:
        if canonical not in found and canonical not in missing_explicit:
            tried = ", ".join(ALIASES[kind][canonical])
            problems.append(
                Problem(
                    "error",
                    "column.missing",
                    f"{KIND_ZH[kind]}图层缺少必需列 {canonical}（已尝试别名：{tried}）；现有列：{present}",
                    fix=f"用 {mapping_text(canonical, '你的列名')} 指定 "
                    f"(name the column with {mapping_text(canonical, '<column>')})",
                    **where,
                    column=canonical,
                    param="mapping",
                )
            )
    data = {canonical: _values(gdf[source]) for canonical, source in found.items()}
    # keep the source's other columns under their own names (reports show them)
    for col in columns:
        if col not in found.values() and col not in data and col != "geometry":
            data[col] = _values(gdf[col])
    out = GeoDataFrame(data, geometry=gdf.geometry.to_numpy(), crs=gdf.crs, index=gdf.index.copy())
    out.attrs = {"source": layer_source(gdf), "columns": found}
    return out, found, problems


#: pandas' default text type (Arrow-backed, NaN for missing)
_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


def _values(column: pd.Series) -> Any:
    """A column's values for the canonical layer, typed as the frame would infer them.

    Text stays in its Arrow array: through NumPy it would become Python strings and back
    (0.1 s for a layer of 150 000 records). A text column without any value goes through
    NumPy, as the frame then infers another type for it.
    """
    if column.dtype == _TEXT and column.notna().any():
        return column.array
    return column.to_numpy()


def _clean_values(
    out: GeoDataFrame, kind: str, found: Mapping[str, str], where: dict[str, Any], rows: _Rows
) -> list[Problem]:
    """Counts, rates, areas and flags cleaned in place; every unusable value reported."""
    problems: list[Problem] = []
    for canonical, source in found.items():
        col = out[canonical]
        fix = f"更正该值，或留空表示缺失 (correct the value in column {source})"
        if canonical in COUNT_COLUMNS:
            clean, bad = clean_counts(col, maximum=PLAUSIBLE_MAX.get(kind, {}).get(canonical))
        elif canonical in RATE_COLUMNS:
            clean, bad = clean_numbers(col, rate=True)
        elif canonical in NUMBER_COLUMNS:
            clean, bad = clean_numbers(col)
            bad = [b for b in bad if b[2] != "空值"]  # areas may legitimately be blank
        elif canonical in FLAG_COLUMNS:
            clean, bad = clean_flags(col)
        else:
            continue
        if kind != "households" or canonical != "households":
            # blank attribute = missing, reported as not assessed
            bad = [b for b in bad if b[2] != "空值"]
        out[canonical] = clean
        high = [b for b in bad if b[2] == IMPLAUSIBLE]
        problems += _implausible(kind, canonical, source, high, where, rows)
        bad = [b for b in bad if b[2] != IMPLAUSIBLE]
        problems += problems_from_bad(
            bad,
            code=f"value.{canonical}",
            column=source,
            source=where,
            what=f"{KIND_ZH[kind]}图层列“{source}”",
            fix=fix,
            row_of=rows,
        )
    return problems


def _clean_ids(
    out: GeoDataFrame, kind: str, id_col: str, source: str, where: dict[str, Any], rows: _Rows
) -> list[Problem]:
    """Ids as text, in place.

    A missing id is named after its row; duplicates after the first are numbered ``-2``, ``-3``.
    """
    problems: list[Problem] = []
    ids = _ids(out[id_col])
    for label in ids.index[ids.isna()]:
        ids[label] = f"无编码-{rows(label)}"
        problems.append(
            Problem(
                "warning",
                "id.missing",
                f"{KIND_ZH[kind]}编码为空，暂记为 {ids[label]}",
                fix="补全编码",
                **where,
                column=source,
                row=rows(label),
            )
        )
    dup = ids[ids.duplicated(keep=False)]
    for value, group in dup.groupby(dup):
        at = rows.text([rows(r) for r in group.index])
        names = "、".join(out.loc[group.index, "name"].astype(str)) if "name" in out.columns else ""
        for k, label in enumerate(group.index[1:], start=2):
            ids[label] = f"{value}-{k}"
        problems.append(
            Problem(
                "warning",
                "id.duplicate",
                f"{KIND_ZH[kind]}编码 {value} 重复出现在{at}（{names}）；后续记录暂记为 {value}-2 …",
                fix="每个单元的编码必须唯一：改正重复的编码",
                **where,
                column=source,
                row=rows(group.index[0]),
            )
        )
    out[id_col] = ids
    return problems


def _facility_types(
    out: GeoDataFrame, source: str, where: dict[str, Any], rows: _Rows
) -> list[Problem]:
    """Facility types as keys of the type table, in place (raw text kept); unknown ones noted."""
    problems: list[Problem] = []
    raw_type = out["facility_type"]
    keys, unknown = normalise_types(raw_type)
    out["facility_type_raw"] = raw_type.astype("string")
    out["facility_type"] = keys
    for value, group in raw_type[unknown].groupby(raw_type[unknown].fillna("（空）")):
        problems.append(
            Problem(
                "info",
                "facility.unknown_type",
                f"设施类型 {value!r}（{len(group)} 处）不在设施类型表中，不计入任何规则",
                fix="在 gridmap/facility_types.toml 中添加别名，或改正类型名称",
                **where,
                column=source,
                row=rows(group.index[0]),
            )
        )
    return problems


def _community_types(
    out: GeoDataFrame, source: str, where: dict[str, Any], rows: _Rows
) -> list[Problem]:
    """A warning per 社区类型 value that is not 城市/农村 (blank included), naming every row.

    Rules whose threshold differs between urban and rural communities are not assessed for
    those communities, so the planner is told which rows to fill in and with what.
    """
    raw = out["type"]
    unknown = community_type(raw).isna()
    if not unknown.any():
        return []
    text = raw[unknown].map(lambda v: "" if pd.isna(v) else str(v).strip())
    problems = []
    for value, group in text.groupby(text, sort=False):
        found = [rows(label) for label in group.index]
        at = rows.text(found[:20], f" 等 {len(found)} 条" if len(found) > 20 else "")
        shown = f"的值“{value}”" if value else "为空"
        problems.append(
            Problem(
                "warning",
                "value.type.unrecognised",
                f"社区图层列“{source}”{shown}，不能识别为城市或农村（{at}）："
                "按城乡区分标准的规则对这些社区不评估",
                fix=f"填写“城市”或“农村”（也可写 {_TYPE_EXAMPLES}）"
                f" (write 城市 or 农村 — or urban/rural — in column {source})",
                **where,
                column=source,
                row=found[0],
                extra={"rows": found, "value": value},
            )
        )
    return problems


#: the other spellings of 城市 / 农村 a warning suggests (gridmap.columns.COMMUNITY_TYPES has all)
_TYPE_EXAMPLES = "城镇、城市社区、农村社区、村、urban、rural"


def _repair_geometry(out: GeoDataFrame, kind: str, where: dict, rows: _Rows) -> list[Problem]:
    problems = []
    geoms = out.geometry.to_numpy()
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for label in out.index[empty]:
        problems.append(
            Problem(
                "warning",
                "geometry.empty",
                f"{KIND_ZH[kind]}几何为空，该记录不参与空间分析",
                fix="补绘该单元的边界或删除该记录",
                **where,
                row=rows(label),
            )
        )
    allowed, text = _GEOM_TYPES[kind]
    types = pd.Series(shapely.get_type_id(geoms), index=out.index)
    names = {
        0: "Point",
        1: "LineString",
        2: "LinearRing",
        3: "Polygon",
        4: "MultiPoint",
        5: "MultiLineString",
        6: "MultiPolygon",
        7: "GeometryCollection",
    }
    invalid = ~empty & ~shapely.is_valid(geoms)
    if invalid.any():
        reasons = shapely.is_valid_reason(geoms[invalid])
        fixed = shapely.make_valid(geoms[invalid])
        if kind in ("communities", "grids"):
            fixed = np.array([_polygonal(g) for g in fixed], dtype=object)
        geoms = geoms.copy()
        geoms[invalid] = fixed
        out[out.geometry.name] = GeoSeries(geoms, index=out.index, crs=out.crs)
        for label, reason in zip(out.index[invalid], reasons, strict=True):
            problems.append(
                Problem(
                    "info",
                    "geometry.repaired",
                    f"{KIND_ZH[kind]}几何无效（{reason}），已用 make_valid 修复",
                    fix="在 GIS 中检查并修正该多边形",
                    **where,
                    row=rows(label),
                )
            )
        types = pd.Series(shapely.get_type_id(geoms), index=out.index)
    wrong = ~empty & ~types.map(names).isin(allowed).to_numpy()
    for label in out.index[wrong]:
        problems.append(
            Problem(
                "error",
                "geometry.type",
                f"{KIND_ZH[kind]}图层应为{text}，此记录是 {names.get(types[label], '?')}",
                fix="检查是否选错了图层或文件",
                **where,
                row=rows(label),
            )
        )
    return problems


def _implausible(
    kind: str, canonical: str, source: str, bad: list, where: dict, rows: _Rows
) -> list[Problem]:
    """Values above :data:`~gridmap.columns.PLAUSIBLE_MAX`: each reported, treated as missing."""
    if not bad:
        return []
    limit = PLAUSIBLE_MAX[kind][canonical]
    unit = {
        "households": "每条户数记录（楼栋/小区）",
        "grids": "每个网格",
        "communities": "每个社区",
    }[kind]
    problems = []
    for label, raw, _reason in bad:
        row = rows(label)
        at = rows.text([row]) if isinstance(row, int) else f"行 {row}"
        shown = (
            str(raw) if isinstance(raw, (int, float, np.number)) else repr(raw)
        )  # not np.int64(…)
        problems.append(
            Problem(
                "warning",
                f"value.{canonical}.implausible",
                f"{KIND_ZH[kind]}图层列“{source}”{at}的值 {shown} 不合理：{unit}不超过 {limit:,}，"
                "该值不参与计算（按缺失处理，相关单元为未评估）",
                fix=f"更正该值（{canonical} ≤ {limit:,}），或留空表示缺失 (correct the value in column {source})",
                **where,
                column=source,
                row=row,
            )
        )
    return problems


def _nothing_usable(
    out: GeoDataFrame, kind: str, where: dict, found: Mapping[str, str]
) -> list[Problem]:
    """An error when no record is usable (every geometry empty, every household count missing)."""
    geoms = out.geometry.to_numpy()
    if (shapely.is_missing(geoms) | shapely.is_empty(geoms)).all():
        return [
            Problem(
                "error",
                "layer.no_geometry",
                f"{KIND_ZH[kind]}图层的 {len(out)} 条记录都没有可用的几何",
                fix="检查文件是否完整，或在 GIS 中修正几何后重新导出 (repair the geometries and export again)",
                **where,
            )
        ]
    if kind == "households" and "households" in out.columns and out["households"].isna().all():
        return [
            Problem(
                "error",
                "value.households.none",
                f"户数图层的 {len(out)} 条记录都没有可用的户数",
                fix=f"检查户数列（或用 {mapping_text('households', '列名')} 指定正确的列）",
                **where,
                column=str(found.get("households", "households")),
                param="mapping",
            )
        ]
    return []


def _polygonal(geom):
    if geom is None or geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [
        g for g in getattr(geom, "geoms", [geom]) if g.geom_type in ("Polygon", "MultiPolygon")
    ]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def check_layers(layers: Mapping[str, GeoDataFrame]) -> list[Problem]:
    """Cross-layer checks on layers already in one CRS: every layer must overlap the communities.

    A layer that does not overlap at all is an error with the likely cause:
    swapped lon/lat, GCJ-02 vs CGCS2000, a wrong Gauss-Krüger zone or a missing
    zone prefix.
    """
    problems: list[Problem] = []
    base = layers.get("communities")
    if base is None or len(base) == 0:
        return problems
    bx = base.total_bounds
    for kind, layer in layers.items():
        if kind == "communities" or layer is None or len(layer) == 0:
            continue
        lb = layer.total_bounds
        if np.isnan(lb).any():
            continue
        overlap = not (lb[0] > bx[2] or lb[2] < bx[0] or lb[1] > bx[3] or lb[3] < bx[1])
        if overlap:
            continue
        src = layer_source(layer)
        dx = (lb[0] + lb[2]) / 2 - (bx[0] + bx[2]) / 2
        dy = (lb[1] + lb[3]) / 2 - (bx[1] + bx[3]) / 2
        hint = _misalignment_hint(dx, dy, lb, bx)
        problems.append(
            Problem(
                "error",
                "crs.no_overlap",
                f"{KIND_ZH[kind]}图层与社区图层完全不重叠（中心相距 {np.hypot(dx, dy) / 1000:,.1f} km）。{hint}",
                fix=f"用 {CRS_PARAM.get(kind, 'crs')}= 指定该文件的真实坐标系 (state the file's real CRS)",
                file=str(src.get("file", "")),
                layer=str(src.get("layer") or KIND_ZH[kind]),
                param=CRS_PARAM.get(kind, "crs"),
            )
        )
    return problems


def _misalignment_hint(dx: float, dy: float, lb, bx) -> str:
    d = np.hypot(dx, dy)
    if d < 2_000:
        return "偏移较小（<2 km），可能是 GCJ-02/BD-09 网络地图坐标未转换。"
    if abs(abs(dx) % 1_000_000 - 0) < 200_000 and abs(dx) >= 800_000:
        return "东坐标相差约整百万米，可能是高斯-克吕格带号前缀（如 40500000 vs 500000）不一致。"
    if 200_000 < abs(dx) < 800_000:
        return "东西方向偏移数百公里，可能是高斯-克吕格投影带（中央经线）不一致。"
    if lb[0] > 0 and lb[1] > 0 and lb[2] < 90 and lb[3] > 70:
        return "经纬度可能写反了（纬度列里是经度）。"
    return "可能是坐标系声明错误（例如把投影坐标当作经纬度）。"


def mapping_text(canonical: str, source: str) -> str:
    """``mapping={"households": "住户数"}``: a column mapping as a ``read_study`` keyword."""
    return f'mapping={{"{canonical}": "{source}"}}'
