"""The one entry point: :func:`read_layer` reads any supported file into a GeoDataFrame."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import geopandas
import pandas as pd

from gridmap.io._problems import _fail
from gridmap.io.crs_override import _apply_crs, _parse_crs
from gridmap.io.points import _points_from_table
from gridmap.io.sources import _VECTOR_FORMATS, _resolve
from gridmap.io.tables import _infer_numbers, _read_csv, _read_excel
from gridmap.io.vector import _read_parquet, _read_vector

__all__ = ["read_layer"]


def read_layer(
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    encoding: str | None = None,
    crs: Any = None,
    x: str | None = None,
    y: str | None = None,
) -> geopandas.GeoDataFrame:
    """Read one layer of a GIS file or a coordinate table into a GeoDataFrame.

    Parameters
    ----------
    path : str or os.PathLike
        The file. The format follows the extension (any letter case):
        ``.gpkg``, ``.shp``, ``.zip`` (zipped shapefiles), ``.geojson``/``.json``,
        ``.parquet``/``.geoparquet``, ``.fgb``, ``.gdb`` (a File Geodatabase
        folder), ``.osm``/``.osm.pbf`` (OpenStreetMap, GDAL's OSM driver),
        ``.csv``/``.txt``, ``.xlsx``/``.xls``. A string
        ``"file.gpkg:图层名"`` names the layer (as the CLI accepts it).
    layer : str, optional
        Layer (GeoPackage, File Geodatabase, zipped shapefiles, OSM) or sheet
        (Excel). May be omitted when the file has exactly one layer (or one
        sheet with data); an OSM extract defaults to its ``lines`` (the ways).
    encoding : str, optional
        Text encoding of a Shapefile's ``.dbf`` or of a CSV. Wins over the
        ``.cpg`` and over detection. Formats that are UTF-8 by specification
        (GeoPackage, GeoJSON, GeoParquet, FlatGeobuf, File Geodatabase) and
        Excel ignore it.
    crs : str, int or pyproj.CRS, optional
        What the coordinates are, overriding the file (an override does not
        reproject). ``"gcj02"`` or ``"bd09"`` (web-map coordinates) are
        converted to WGS84 (EPSG:4326), and ``gdf.attrs["coordinate_conversion"]``
        records it.
    x, y : str, optional
        Coordinate columns of a table. By default they are recognised by name:
        longitude/latitude (lon, lng, longitude, 经度 / lat, latitude, 纬度) or
        projected X/Y (x, 东坐标, 横坐标 / y, 北坐标, 纵坐标). Lon/lat without
        ``crs`` is taken as EPSG:4326; X/Y without ``crs`` is an error.

    Returns
    -------
    geopandas.GeoDataFrame
        A fresh ``RangeIndex``, the geometry column named ``"geometry"``, and
        ``attrs["source"] = {"file", "layer", "encoding", "crs_from",
        "format"}`` (``crs_from`` is ``"file"``, ``"override"``, ``"crs_wkt"``,
        ``"default-lonlat"`` or None). A file without a CRS and no ``crs=``
        gives ``crs=None``; validation reports it. ``attrs["problems"]`` lists
        what was repaired or dropped while reading (a polygon ring GEOS cannot
        build: closed when it only lacked closing, else its geometry dropped
        and the record kept with an empty geometry), each a
        :class:`~gridmap._errors.Problem` naming file, layer and record.

    Raises
    ------
    InputError
        The file is missing, of an unknown type or unreadable; the layer is
        missing or must be chosen; no geometry or coordinate columns; bad
        coordinate values (every bad row is listed); swapped lon/lat; projected
        X/Y without a CRS.

    Examples
    --------
    >>> from gridmap import datasets
    >>> demo = datasets.get_path("demo")
    >>> gdf = read_layer(f"{demo}:社区")
    >>> gdf.attrs["source"]["crs_from"], gdf.crs.to_epsg()
    ('file', 4549)
    >>> pois = read_layer(f"{demo}:设施", crs="gcj02")
    >>> pois.crs.to_epsg(), pois.attrs["coordinate_conversion"]
    (4326, 'gcj02->wgs84')
    """
    file, split_layer, shown, fmt = _resolve(path)
    if split_layer is not None:
        if layer is not None and str(layer) != split_layer:
            raise _fail(
                "layer.conflict",
                f"图层给了两次且不一致：路径中的 {split_layer!r} 和 layer={layer!r}",
                "Name the layer once: either in the path (file.gpkg:layer) or with layer=.",
                file=shown,
                layer=layer,
            )
        layer = split_layer
    frame, info = _read_frame(file, fmt, layer, encoding, shown)
    has_geometry = isinstance(frame, geopandas.GeoDataFrame)
    if has_geometry and (x is not None or y is not None):
        raise _fail(
            "coordinates.unexpected",
            "该图层已有几何，x=/y= 只用于表格（CSV/Excel）",
            "Leave out x=/y= for layers that already have geometry.",
            file=shown,
            layer=info["layer"],
        )
    parsed = None if crs is None else _parse_crs(crs, shown, info["layer"])
    kind = None
    if not has_geometry:
        table = pd.DataFrame(frame)
        gdf, kind, coords = _points_from_table(table, x, y, shown, info["layer"], parsed)
        if fmt in ("csv", "xlsx", "xls"):  # read as text: restore numbers, keep codes
            gdf = _infer_numbers(gdf, skip=set(coords) | {"geometry"})
    else:
        gdf = frame

    if parsed is not None:
        gdf, info = _apply_crs(gdf, parsed, info, shown)
    elif kind == "lonlat":
        gdf = gdf.set_crs("EPSG:4326")
        info["crs_from"] = "default-lonlat"

    gdf = _finish(gdf)
    gdf.attrs.setdefault("problems", [])
    gdf.attrs["source"] = {
        "file": shown,
        "layer": info["layer"],
        "encoding": info["encoding"],
        "crs_from": info["crs_from"],
        "format": fmt,
        **({"encoding_from": info["encoding_from"]} if info.get("encoding_from") else {}),
    }
    return gdf


def _read_frame(
    file: Path, fmt: str, layer: str | None, encoding: str | None, shown: str
) -> tuple[Any, dict]:
    """The layer as its format's reader gives it (a table: no geometry yet), and what was learnt."""
    if fmt in _VECTOR_FORMATS:
        frame, info = _read_vector(file, fmt, layer, encoding, shown)
    elif fmt == "geoparquet":
        frame, info = _read_parquet(file, shown)
    elif fmt == "csv":
        frame, info = _read_csv(file, encoding, shown)
    else:
        frame, info = _read_excel(file, fmt, layer, shown)
    if layer is not None and fmt in ("geoparquet", "csv") and str(layer) != file.stem:
        raise _fail(
            "layer.not_found",
            f"{fmt} 文件只有一个图层 {file.stem!r}，没有 {layer!r}",
            "Leave out the layer for this kind of file.",
            file=shown,
            layer=layer,
        )
    return frame, info


def _finish(gdf: geopandas.GeoDataFrame) -> geopandas.GeoDataFrame:
    """Fresh RangeIndex (keeping a meaningful index as a column), geometry named "geometry"."""
    attrs = dict(gdf.attrs)
    named = any(n is not None for n in gdf.index.names)
    gdf = gdf.reset_index(drop=not named)
    name = gdf.geometry.name
    if name != "geometry":
        if "geometry" in gdf.columns:
            gdf = gdf.rename(columns={"geometry": "geometry_attribute"})
        gdf = gdf.rename_geometry("geometry")
    gdf.attrs.update(attrs)
    return gdf
