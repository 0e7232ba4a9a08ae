"""Reading GIS layers through pyogrio (GDAL) and GeoParquet through geopandas.

Besides the plain read: geometries GEOS refuses to build are closed or dropped
one by one (each reported), shapefile text cut in the middle of a multi-byte
character is decoded without its broken tail, and a GeoJSON's non-standard
top-level ``"crs_wkt"`` is honoured.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import geopandas
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely
from pyogrio.errors import DataLayerError, DataSourceError

from gridmap._errors import Problem
from gridmap.io._problems import _fail, _problem, _unreadable
from gridmap.io.encodings import _shapefile_encoding
from gridmap.io.sources import _UTF8_FORMATS, _choose_layer, _pyogrio_layers, _sidecar

__all__ = ["JSON_FULL_LOAD_LIMIT"]


#: GeoJSON: a file smaller than this is json-loaded when it mentions "crs_wkt";
#: a larger one is only scanned in its first megabyte.
JSON_FULL_LOAD_LIMIT = 50 * 1024 * 1024
_JSON_HEAD_BYTES = 1024 * 1024


def _read_pyogrio(
    file: Path, layer: str | None, encoding: str | None, shown: str, *, shapefile: bool = False
) -> Any:
    """A layer through pyogrio: Arrow first, then the slower path; broken text or rings rescued."""
    errors = (DataSourceError, DataLayerError, OSError, ValueError)
    for use_arrow in (True, False):  # Arrow is much faster; not every file reads with it
        try:
            return pyogrio.read_dataframe(file, layer=layer, encoding=encoding, use_arrow=use_arrow)
        except shapely.errors.GEOSException:  # a geometry GEOS cannot even build (2-point ring)
            return _read_broken_geometries(file, layer, encoding, shown)
        except UnicodeDecodeError as exc:
            if shapefile and encoding is not None:
                return _read_cut_characters(file, layer, encoding, shown, exc)
            raise _unreadable(shown, layer, exc) from exc
        except errors as exc:
            if not use_arrow:
                raise _unreadable(shown, layer, exc) from exc
    raise AssertionError("unreachable")


def _decode_wkb(wkb: Any, shown: str, layer: str | None) -> tuple[np.ndarray, list[Problem]]:
    """WKB to geometries one by one: unclosed rings closed, unbuildable ones None, each reported."""
    wkb = np.asarray(wkb, dtype=object)
    geoms = shapely.from_wkb(wkb, on_invalid="fix")
    strict = shapely.from_wkb(wkb, on_invalid="ignore")
    problems = []
    for pos in np.flatnonzero(pd.notna(wkb) & pd.isna(strict)):
        try:
            shapely.from_wkb(wkb[pos])
            reason = "GEOS 无法构建"
        except shapely.errors.GEOSException as exc:
            reason = str(exc).split(":", 1)[-1].strip()
        kept = geoms[pos] is not None
        problem = _problem(
            "geometry.unclosed" if kept else "geometry.unreadable",
            f"第 {pos + 1} 条记录的几何无法读取（{reason}）"
            + ("，已闭合其环后使用" if kept else "，已舍弃该几何（记录保留，不参与空间分析）"),
            "在 QGIS 中修复该要素（矢量 > 几何工具 > 修复几何）后重新导出 "
            "(repair the feature in QGIS: Vector > Geometry Tools > Fix Geometries, "
            "and export again)",
            file=shown,
            layer=layer,
            row=pos + 1,
            reason=reason,
        )
        problems.append(replace(problem, severity="info" if kept else "warning"))
    return geoms, problems


def _read_broken_geometries(
    file: Path, layer: str | None, encoding: str | None, shown: str
) -> geopandas.GeoDataFrame:
    """Read a layer holding geometries GEOS refuses to build, keeping every record.

    Some exports hold polygons whose ring has two points, or is not closed;
    shapely cannot even create them (``GEOSException: Invalid number of points
    in LinearRing``). Each geometry is decoded on its own: an unclosed ring is
    closed (shapely ``on_invalid="fix"``; validation then repairs what remains
    with ``make_valid`` and reports it); a geometry that still cannot be built
    is dropped — the record stays, with an empty geometry, so validation
    reports it and leaves it out of every spatial step. Each is a Problem
    naming file, layer and record (``row`` = record number; the first record
    is 1). The problems travel in ``attrs["problems"]``.
    """
    try:
        frame = pyogrio.read_dataframe(file, layer=layer, encoding=encoding, read_geometry=False)
        meta, _fids, wkb, _fields = pyogrio.raw.read(
            file, layer=layer, encoding=encoding, columns=[]
        )
    except (DataSourceError, DataLayerError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise _unreadable(shown, layer, exc) from exc
    geoms, problems = _decode_wkb(wkb, shown, layer)
    geometry = geopandas.GeoSeries(geoms, index=frame.index)
    gdf = geopandas.GeoDataFrame(frame, geometry=geometry, crs=meta.get("crs"))
    gdf.attrs["problems"] = problems
    return gdf


def _read_cut_characters(
    file: Path, layer: str | None, encoding: str, shown: str, error: Exception
) -> Any:
    """Read a shapefile whose names or values end in a cut multi-byte character.

    A DBF field name has at most 10 bytes and a value a fixed width, so a
    writer may cut a character in half (GDAL writing "网格编码" in UTF-8 keeps
    10 of its 12 bytes). The encoding was checked on the raw bytes, which
    allows such a cut tail; here the file is read byte-for-byte (ISO-8859-1)
    and decoded again, dropping only the incomplete last character.
    """
    try:
        frame = pyogrio.read_dataframe(file, layer=layer, encoding="ISO-8859-1", use_arrow=False)
    except (DataSourceError, DataLayerError, OSError, ValueError) as exc:
        raise _unreadable(shown, layer, error) from exc

    def recode(value: object) -> object:
        if not isinstance(value, str):
            return value
        # final=False: an incomplete last character is dropped, anything else invalid raises
        return codecs.getincrementaldecoder(encoding)("strict").decode(
            value.encode("latin-1"), final=False
        )

    geometry = frame.geometry.name if hasattr(frame, "geometry") else None
    try:
        names, seen = [], set()
        for col in frame.columns:
            name = col if col == geometry else recode(col)
            base, n = name, 1
            while name in seen:
                n += 1
                name = f"{base}_{n}"
            seen.add(name)
            names.append(name)
        frame.columns = names
        for col in frame.columns:
            if col != geometry and (
                pd.api.types.is_string_dtype(frame[col]) or frame[col].dtype == object
            ):
                frame[col] = frame[col].map(recode, na_action="ignore")
    except UnicodeDecodeError as exc:
        raise _fail(
            "encoding.mismatch",
            f"Shapefile 属性表的文字不是 {encoding} 编码：{exc}",
            "Pass the right encoding= (e.g. 'GBK' or 'UTF-8'), or leave it out to detect it.",
            file=shown,
            layer=layer,
        ) from exc
    return frame


def _read_vector(
    file: Path, fmt: str, layer: str | None, encoding: object, shown: str
) -> tuple[Any, dict]:
    """A layer of a GDAL-readable file and what was learnt reading it (layer, encoding, CRS)."""
    layers = _pyogrio_layers(file, shown)
    if fmt == "osm" and layer is None:
        layer = "lines"  # the ways; a walking network is what an OSM extract is read for
    layer = _choose_layer(layers, layer, shown)
    info = {"layer": layer, "encoding": "UTF-8" if fmt in _UTF8_FORMATS else None}
    read_encoding = None
    if fmt in ("shapefile", "shapefile-zip"):
        if fmt == "shapefile" and _sidecar(file, ".shx") is None:
            raise _fail(
                "file.unreadable",
                f"Shapefile 缺少索引文件 {file.with_suffix('.shx').name}",
                "A shapefile is several files (.shp, .shx, .dbf, .prj, .cpg); copy all of them "
                "together.",
                file=shown,
                layer=layer,
            )
        read_encoding, how = _shapefile_encoding(file, fmt, layer, encoding, shown)
        info.update(encoding=read_encoding, encoding_from=how)
    shapefile = fmt in ("shapefile", "shapefile-zip")
    frame = _read_pyogrio(file, layer, read_encoding, shown, shapefile=shapefile)
    info["crs_from"] = "file" if getattr(frame, "crs", None) is not None else None
    if fmt == "geojson" and "geometry" in getattr(frame, "columns", []):
        wkt = _geojson_crs_wkt(file)
        if wkt is not None:
            frame, info = _apply_crs_wkt(frame, info, wkt, shown)
    return frame, info


def _geojson_crs_wkt(file: Path) -> str | None:
    """The top-level non-standard ``"crs_wkt"`` member of a GeoJSON, if any."""
    size = file.stat().st_size
    if size < JSON_FULL_LOAD_LIMIT:
        data = file.read_bytes()
        if b'"crs_wkt"' not in data:
            return None
        try:
            doc = json.loads(data.decode("utf-8-sig", errors="replace"))
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            value = doc.get("crs_wkt")
            return value if isinstance(value, str) and value.strip() else None
        head = data[:_JSON_HEAD_BYTES]
    else:
        with open(file, "rb") as stream:
            head = stream.read(_JSON_HEAD_BYTES)
    text = head.decode("utf-8-sig", errors="replace")
    match = re.search(r'"crs_wkt"\s*:\s*', text)
    if match is None:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(text, match.end())
    except ValueError:
        return None
    return value if isinstance(value, str) and value.strip() else None


def _apply_crs_wkt(frame: Any, info: dict, wkt: str, shown: str) -> tuple[Any, dict]:
    """Label the frame with a GeoJSON's ``crs_wkt`` (``crs_from`` says so when it differs)."""
    try:
        stated = pyproj.CRS.from_user_input(wkt)
    except pyproj.exceptions.CRSError as exc:
        raise _fail(
            "crs.invalid",
            f"GeoJSON 的 crs_wkt 无法解析：{exc}",
            "Fix the crs_wkt member, or remove it and pass crs=.",
            file=shown,
            layer=info["layer"],
            param="crs",
        ) from exc
    if frame.crs is None or not frame.crs.equals(stated, ignore_axis_order=True):
        frame = frame.set_crs(stated, allow_override=True)
        info = {**info, "crs_from": "crs_wkt"}
    return frame, info


def _read_parquet(file: Path, shown: str) -> tuple[Any, dict]:
    """A GeoParquet file (a plain Parquet table without "geo" metadata falls back to a table)."""
    import pyarrow  # heavy, and only GeoParquet needs it

    errors = (OSError, pyarrow.ArrowException)
    try:
        frame = geopandas.read_parquet(file)
    except shapely.errors.GEOSException:  # a geometry GEOS cannot build (2-point ring)
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(file)
            geo = json.loads(table.schema.metadata[b"geo"])
            column = geo["primary_column"]
            frame = table.drop([column]).to_pandas()
            wkb = table.column(column).to_numpy(zero_copy_only=False)
            geoms, problems = _decode_wkb(wkb, shown, None)
        except (*errors, KeyError, ValueError) as exc:
            raise _unreadable(shown, None, exc) from exc
        crs = geo.get("columns", {}).get(column, {}).get("crs", "OGC:CRS84")
        crs = pyproj.CRS.from_json_dict(crs) if isinstance(crs, dict) else crs
        geometry = geopandas.GeoSeries(geoms, index=frame.index)
        frame = geopandas.GeoDataFrame(frame, geometry=geometry, crs=crs)
        frame.attrs["problems"] = problems
    except ValueError as exc:
        if "geo" not in str(exc).lower():  # only "no geo metadata" falls back to a table
            raise _unreadable(shown, None, exc) from exc
        try:
            frame = pd.read_parquet(file)
        except errors as exc2:
            raise _unreadable(shown, None, exc2) from exc2
    except errors as exc:
        raise _unreadable(shown, None, exc) from exc
    crs_from = "file" if getattr(frame, "crs", None) is not None else None
    return frame, {"layer": None, "encoding": "UTF-8", "crs_from": crs_from}
