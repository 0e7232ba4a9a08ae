"""The one entry point: :func:`read_layer` reads any supported file into a GeoDataFrame.

Besides files, a PostGIS table or query: ``postgresql://user@host/db#schema.table`` (or
``#SELECT …``), so a city's own database can be checked without exporting files.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import geopandas
import pandas as pd
from pyproj import CRS

from gridmap.io._problems import _fail, _unreadable
from gridmap.io.crs_override import _apply_crs, _parse_crs
from gridmap.io.points import _points_from_table
from gridmap.io.sources import _VECTOR_FORMATS, _resolve
from gridmap.io.tables import _infer_numbers, _read_csv, _read_excel
from gridmap.io.vector import _decode_wkb, _read_parquet, _read_vector

#: a layer in a PostgreSQL database (read with psycopg, PostGIS geometry)
_DB_SCHEMES = ("postgresql://", "postgres://")
_QUERY = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)

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
        A PostGIS layer is a URL string ``postgresql://user@host/db#schema.table``
        (or ``#SELECT …`` with one geometry column; needs psycopg, ``gridmap[postgis]``).
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
    if isinstance(path, str) and path.startswith(_DB_SCHEMES):
        frame, info, shown, fmt = *_read_database(path, layer), "postgis"
    else:
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


def _read_database(url: str, layer: str | None) -> tuple[geopandas.GeoDataFrame, dict, str]:
    """A PostGIS table (``#schema.table``) or query (``#SELECT …``); what was learnt; the URL shown."""
    parts = urlsplit(url)
    source = str(layer) if layer is not None else unquote(parts.fragment)
    dsn = urlunsplit(parts._replace(fragment=""))
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@") if parts.password else None
    shown = urlunsplit(parts._replace(fragment="", netloc=netloc or parts.netloc))
    if not source.strip():
        raise _fail(
            "layer.missing",
            "数据库图层需要指明表或查询：postgresql://…#模式.表名",
            "Name the table after '#': postgresql://user@host/db#schema.table (or #SELECT …).",
            file=shown,
        )
    if _QUERY.match(source):
        query = source.strip().rstrip(";")
    else:
        query = "SELECT * FROM " + ".".join(
            '"' + p.replace('"', '""') + '"' for p in source.split(".")
        )
    try:
        # psycopg: an optional dependency, needed only for database layers
        import psycopg
    except ImportError as exc:
        raise _fail(
            "file.format",
            "读取数据库图层需要 psycopg",
            "Install it: pip install 'gridmap[postgis]'.",
            file=shown,
            layer=source,
        ) from exc
    try:
        with psycopg.connect(dsn, connect_timeout=10) as con:
            con.read_only = True
            frame, srid = _query_geometries(con, query, shown, source)
            crs = _srid_crs(con, srid)
    except psycopg.Error as exc:
        raise _unreadable(shown, source, exc) from exc
    info = {"layer": source, "encoding": None, "crs_from": "file" if crs is not None else None}
    return frame.set_crs(crs) if crs is not None else frame, info, shown


def _query_geometries(con: Any, query: str, shown: str, source: str) -> tuple[Any, int]:
    """The rows of ``query`` with its (first) geometry column decoded; the geometries' SRID."""
    described = con.execute(f"SELECT * FROM ({query}) AS q LIMIT 0").description or []
    oid = con.execute("SELECT oid FROM pg_type WHERE typname = 'geometry'").fetchone()
    geoms = [c.name for c in described if oid is not None and c.type_code == oid[0]]
    if not geoms:
        raise _fail(
            "geometry.missing",
            f"数据库图层 {source} 没有 PostGIS 几何列",
            "Name a table or query with a geometry column.",
            file=shown,
            layer=source,
        )
    geom = geoms[0]
    others = [c.name for c in described if c.name != geom]
    cols = [f'q."{c}"' for c in others] + [f'ST_AsBinary(q."{geom}")', f'ST_SRID(q."{geom}")']
    rows = con.execute(f"SELECT {', '.join(cols)} FROM ({query}) AS q").fetchall()
    table = pd.DataFrame([r[:-2] for r in rows], columns=others)
    wkb = [None if r[-2] is None else bytes(r[-2]) for r in rows]
    srids = {r[-1] for r in rows if r[-1]}
    if len(srids) > 1:
        raise _fail(
            "crs.mixed",
            f"数据库图层 {source} 的几何混有多个坐标系 (SRID {sorted(srids)})",
            "Select rows of one SRID, or ST_Transform them to one.",
            file=shown,
            layer=source,
        )
    decoded, problems = _decode_wkb(wkb, shown, source)
    frame = geopandas.GeoDataFrame(table, geometry=geopandas.GeoSeries(decoded, index=table.index))
    frame.attrs["problems"] = problems
    return frame, srids.pop() if srids else 0


def _srid_crs(con: Any, srid: int) -> CRS | None:
    """The CRS of ``srid`` in ``spatial_ref_sys`` (an EPSG code, else its WKT); None for 0."""
    if not srid:
        return None
    row = con.execute(
        "SELECT auth_name, auth_srid, srtext FROM spatial_ref_sys WHERE srid = %s", (srid,)
    ).fetchone()
    if row is None:
        return None
    auth, code, text = row
    if str(auth).upper() == "EPSG" and code:
        return CRS.from_epsg(int(code))
    return CRS.from_wkt(text) if text else None
