"""Read the layers planners actually have into GeoDataFrames.

One entry point, :func:`read_layer`, reads GeoPackage, Shapefile (also zipped),
GeoJSON, GeoParquet, FlatGeobuf, File Geodatabase, and CSV/Excel tables with
coordinate columns. It deals with the traps of Chinese government data:

- Shapefiles in GBK with or without a ``.cpg`` (the encoding is detected from
  the raw ``.dbf`` bytes: strict UTF-8 first, then GBK/GB18030);
- GeoJSON with a non-standard top-level ``"crs_wkt"`` member;
- CSV in GBK, full-width digits in coordinates, swapped lon/lat columns,
  projected X/Y columns without a coordinate system;
- GCJ-02 / BD-09 coordinates (converted to WGS84 when ``crs="gcj02"``/``"bd09"``).

Every failure raises :class:`~gridmap._errors.InputError` naming the file,
layer, column and row, and how to fix it. Inputs are only ever read.

The result always has a fresh ``RangeIndex``, its geometry column is named
``"geometry"``, and ``gdf.attrs["source"]`` records where it came from::

    {"file": ..., "layer": ..., "encoding": ..., "crs_from": ..., "format": ...}
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import re
import unicodedata
import warnings
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from gridmap._errors import InputError, Problem

__all__ = ["read_layer", "list_layers", "state_crs", "SUPPORTED_FORMATS"]

#: File extensions :func:`read_layer` understands, and the format name recorded
#: in ``gdf.attrs["source"]["format"]``.
SUPPORTED_FORMATS: dict[str, str] = {
    ".gpkg": "gpkg",
    ".shp": "shapefile",
    ".zip": "shapefile-zip",
    ".geojson": "geojson",
    ".json": "geojson",
    ".parquet": "geoparquet",
    ".geoparquet": "geoparquet",
    ".fgb": "flatgeobuf",
    ".gdb": "filegdb",
    ".osm": "osm",
    ".pbf": "osm",
    ".csv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".xls": "xls",
}

# Formats whose text encoding is fixed to UTF-8 by their specification.
_UTF8_FORMATS = {"gpkg", "geojson", "flatgeobuf", "filegdb", "geoparquet", "osm"}
_VECTOR_FORMATS = {"gpkg", "shapefile", "shapefile-zip", "geojson", "flatgeobuf", "filegdb", "osm"}

# GeoJSON: a file smaller than this is json-loaded when it mentions "crs_wkt";
# a larger one is only scanned in its first _JSON_HEAD_BYTES.
_JSON_FULL_LOAD_LIMIT = 50 * 1024 * 1024
_JSON_HEAD_BYTES = 1024 * 1024

_DBF_CHUNK_BYTES = 16 * 1024 * 1024


# --------------------------------------------------------------------------- errors


def _problem(code, message, fix="", *, file="", layer=None, column="", row=None, **extra):
    return Problem(
        "error",
        code,
        message,
        fix=fix,
        file=str(file),
        layer="" if layer is None else str(layer),
        column="" if column is None else str(column),
        row=row,
        extra=extra,
    )


def _fail(code, message, fix="", **where) -> InputError:
    """Build an :class:`InputError` with one problem (the caller raises it)."""
    return InputError(_problem(code, message, fix, **where))


# --------------------------------------------------------------------------- paths


def _split_layer(path) -> tuple[Path, str | None, str]:
    """Split ``"file.gpkg:layer"`` into the file and the layer name.

    Split on the last ``:`` only when the whole string is not an existing path,
    the left part exists (or at least has a supported extension), and the left
    part is not a Windows drive letter.
    Returns (path, layer or None, the string to show the user).
    """
    if isinstance(path, os.PathLike):
        return Path(path), None, os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"path must be a str or os.PathLike, not {type(path).__name__}")
    text = path
    if ":" in text and not os.path.exists(text):
        left, right = text.rsplit(":", 1)
        drive_letter = len(left) == 1 and left.isalpha()
        # A missing left part with a known extension is split too, so the error
        # names the missing file rather than an extension ".gpkg:图层".
        known = Path(left).suffix.lower() in SUPPORTED_FORMATS
        if right and not drive_letter and (os.path.exists(left) or known):
            return Path(left), right, left
    return Path(text), None, text


def _format_of(path: Path, shown: str) -> str:
    fmt = SUPPORTED_FORMATS.get(path.suffix.lower())
    if fmt is None:
        supported = ", ".join(SUPPORTED_FORMATS)
        raise _fail(
            "file.format",
            f"不支持的文件类型 {path.suffix or '（无扩展名）'!r}；支持：{supported}",
            "Save or export the layer as GeoPackage (.gpkg), Shapefile, GeoJSON, "
            f"GeoParquet, or a CSV/Excel table with coordinate columns. Supported: {supported}",
            file=shown,
        )
    return fmt


def _missing_file(path: Path, shown: str) -> InputError:
    hint = ""
    parent = path.parent if str(path.parent) else Path(".")
    if parent.is_dir():
        try:
            near = sorted(
                p.name
                for p in parent.iterdir()
                if p.name.lower() == path.name.lower()
                or (p.stem.lower() == path.stem.lower() and p.suffix.lower() in SUPPORTED_FORMATS)
            )
        except OSError:
            near = []
        if near:
            hint = f" Files with a similar name: {', '.join(near)}."
    elif str(parent) not in ("", "."):
        hint = f" The folder {parent} does not exist either."
    return _fail(
        "file.missing",
        f"找不到文件 {shown}",
        f"Check the path (relative paths start from {Path.cwd()}).{hint}",
        file=shown,
    )


def _resolve(path) -> tuple[Path, str | None, str, str]:
    """Path, layer from ``file:layer``, the string to show, and the format."""
    file, layer, shown = _split_layer(path)
    fmt = _format_of(file, shown)
    exists = file.is_dir() if fmt == "filegdb" else file.is_file()
    if not exists:
        raise _missing_file(file, shown)
    return file, layer, shown, fmt


def _sidecar(shp: Path, ext: str) -> Path | None:
    """The ``.dbf``/``.cpg``/... next to a shapefile, whatever the letter case."""
    for candidate in (shp.with_suffix(ext), shp.with_suffix(ext.upper())):
        if candidate.is_file():
            return candidate
    stem = shp.stem.lower()
    try:
        for p in shp.parent.iterdir():
            if p.stem.lower() == stem and p.suffix.lower() == ext and p.is_file():
                return p
    except OSError:
        pass
    return None


# --------------------------------------------------------------------------- layers


def _pyogrio_layers(path: Path, shown: str) -> list[str]:
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    try:
        listed = pyogrio.list_layers(path)
    except (DataSourceError, DataLayerError, UnicodeDecodeError, OSError) as exc:
        raise _unreadable(shown, None, exc) from exc
    return [str(name) for name in listed[:, 0]] if len(listed) else []


def _excel_sheets(path: Path, fmt: str, shown: str) -> dict[str, bool]:
    """Sheet name -> whether it has any value in its first two rows."""
    if fmt == "xls":
        xlrd = _import_xlrd(shown)
        try:
            book = xlrd.open_workbook(path, on_demand=True)
        except Exception as exc:  # xlrd raises its own XLRDError and others
            raise _unreadable(shown, None, exc) from exc
        try:
            return {name: book.sheet_by_name(name).nrows > 0 for name in book.sheet_names()}
        finally:
            book.release_resources()
    import openpyxl

    try:
        with _quiet_openpyxl():
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise _unreadable(shown, None, exc) from exc
    try:
        sheets = {}
        for ws in book.worksheets:
            rows = ws.iter_rows(max_row=2, values_only=True)
            sheets[ws.title] = any(v not in (None, "") for row in rows for v in row)
        return sheets
    finally:
        book.close()


def _choose_layer(available: list[str], layer, shown: str, *, what="图层") -> str | None:
    names = ", ".join(repr(n) for n in available) or "（无）"
    if layer is None:
        if len(available) == 1:
            return available[0]
        if not available:
            raise _fail(
                "layer.not_found",
                f"文件中没有可读的{what}",
                "The file contains no layers; export the data again.",
                file=shown,
            )
        example = available[0]
        raise _fail(
            "layer.required",
            f"文件有 {len(available)} 个{what}：{names}；请指定要读取哪一个",
            f"Pass layer={example!r}, or on the command line append it to the file name: "
            f"{shown}:{example} (e.g. --grids {shown}:{example}).",
            file=shown,
            layers=list(available),
        )
    if str(layer) in available:
        return str(layer)
    # Tolerate a difference in letter case or surrounding spaces only.
    folded = [n for n in available if n.strip().casefold() == str(layer).strip().casefold()]
    if len(folded) == 1:
        return folded[0]
    raise _fail(
        "layer.not_found",
        f"文件中没有{what} {layer!r}；可用的{what}：{names}",
        f"Use one of the available layers: {names}.",
        file=shown,
        layer=layer,
        layers=list(available),
    )


def list_layers(path) -> list[str]:
    """List the layers (or Excel sheets) a file holds.

    Parameters
    ----------
    path : str or os.PathLike
        A file of a format :func:`read_layer` reads. A ``"file.gpkg:layer"``
        string is accepted; the layer part is ignored.

    Returns
    -------
    list of str
        Layer names for GeoPackage / File Geodatabase / zipped shapefiles,
        sheet names for Excel, and the single layer of the other formats.

    Raises
    ------
    InputError
        The file is missing, of an unsupported type, or unreadable.

    Examples
    --------
    >>> from gridmap import datasets
    >>> list_layers(datasets.get_path("demo"))[:3]
    ['街道网', '小区', '楼栋']
    """
    file, _, shown, fmt = _resolve(path)
    if fmt in _VECTOR_FORMATS:
        return _pyogrio_layers(file, shown)
    if fmt in ("xlsx", "xls"):
        return list(_excel_sheets(file, fmt, shown))
    return [file.stem]


# --------------------------------------------------------------------------- encodings


def _explicit_codec(encoding, shown, *, layer=None) -> str:
    """The codec of a user-given ``encoding=``, or an InputError naming the file."""
    codec = _codec_name(str(encoding))
    if codec is None:
        raise _fail(
            "encoding.unknown",
            f"未知的编码 {encoding!r}",
            "Pass a known encoding such as 'GBK', 'GB18030' or 'UTF-8'.",
            file=shown,
            layer=layer,
        )
    return codec


def _codec_name(name: str) -> str | None:
    """A name both Python and GDAL (iconv) understand, or None if unknown."""
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        return None
    return {
        "utf-8": "UTF-8",
        "gbk": "GBK",
        "gb2312": "GBK",  # GBK is a superset; files labelled GB2312 often hold GBK
        "gb18030": "GB18030",
        "big5": "BIG5",
        "big5hkscs": "BIG5-HKSCS",
        "iso8859-1": "ISO-8859-1",
        "latin-1": "ISO-8859-1",
        "ascii": "UTF-8",
    }.get(canonical, canonical.upper())


def _codec_from_cpg(text: str) -> str | None:
    """Map the content of a ``.cpg`` file to an encoding name (None if unknown)."""
    value = text.strip().strip("\ufeff").strip()
    if not value:
        return None
    upper = value.upper()
    number = re.fullmatch(r"(?:ANSI|OEM|CP|WINDOWS-|MS)?\s*(\d{3,5})", upper)
    if number:
        page = number.group(1)
        if page == "65001":
            return "UTF-8"
        if page in ("88591", "28591"):
            return "ISO-8859-1"
        return _codec_name(f"cp{page}")
    if upper in ("SYSTEM", "OEM", "ANSI"):  # "the machine's code page": unknown
        return None
    return _codec_name(value.replace("_", "-"))


# dBase language driver ids of CJK code pages (used only as a hint).
_LDID_CJK = {
    0x4D: "GBK",
    0x7A: "GBK",
    0x4F: "BIG5",
    0x78: "BIG5",
    0x4E: "CP949",
    0x79: "CP949",
    0x7B: "CP932",
    0x4C: "CP932",
}


def _dbf_strings(stream):
    """Yield the non-ASCII text of a DBF as ``(kind, value)`` pairs.

    Parses the dBase header (record count, header and record length, 32-byte
    field descriptors) and reads the records in chunks. The first pair is
    ``("ldid", language driver id)``; then ``("name", bytes)`` for field names
    and ``("value", bytes)`` for character values holding a byte >= 0x80, each
    distinct value once per chunk.
    """
    header = stream.read(32)
    if len(header) < 32:
        return
    yield ("ldid", header[29])
    n_records = int.from_bytes(header[4:8], "little")
    header_len = int.from_bytes(header[8:10], "little")
    record_len = int.from_bytes(header[10:12], "little")
    descriptors = stream.read(max(header_len - 32, 0))
    fields = []
    offset = 1  # the deletion flag
    for i in range(0, len(descriptors) - 31, 32):
        d = descriptors[i : i + 32]
        if d[0] == 0x0D:
            break
        name = d[:11].split(b"\x00", 1)[0]
        ftype = chr(d[11]).upper()
        # shapelib: numeric fields use byte 16 as width, others bytes 16-17.
        width = d[16] if ftype in "NF" else d[16] + 256 * d[17]
        if any(b >= 0x80 for b in name):
            yield ("name", name)
        if ftype == "C" and width:
            fields.append((offset, width))
        offset += width
    if not fields or record_len <= 0 or n_records <= 0:
        return
    per_chunk = max(1, _DBF_CHUNK_BYTES // record_len)
    remaining = n_records
    while remaining > 0:
        want = min(per_chunk, remaining)
        buf = stream.read(want * record_len)
        got = len(buf) // record_len
        if got == 0:
            break
        rows = np.frombuffer(buf, dtype=np.uint8, count=got * record_len).reshape(got, record_len)
        for start, width in fields:
            if start + width > record_len:
                continue
            block = rows[:, start : start + width]
            high = block[(block >= 0x80).any(axis=1)]
            if len(high):
                values = np.unique(np.ascontiguousarray(high).view(f"S{width}").ravel())
                for value in values.tolist():
                    yield ("value", value)
        remaining -= got


def _decodes(values: list[bytes], encoding: str) -> bool:
    """Whether every value decodes strictly (a cut-off last character is allowed).

    DBF fields have a fixed byte width, so a writer may cut a multi-byte
    character in half at the end of a value; that alone does not disqualify an
    encoding.
    """
    whole = [v.rstrip(b" \x00") for v in values]
    complete = [v for v in whole if v and v[-1] < 0x80]
    cut = [v for v in whole if v and v[-1] >= 0x80]
    try:
        b"\n".join(complete).decode(encoding)
        for value in cut:
            codecs.getincrementaldecoder(encoding)("strict").decode(value, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _detect_dbf_encoding(stream, preferred: str | None = None) -> tuple[str | None, str]:
    """Detect the encoding of a DBF's text from its raw bytes.

    Returns (encoding, how) where encoding is None when the text is pure ASCII
    and ``how`` is ``"ascii"``, ``"bytes"`` or ``"charset-normalizer"``; returns
    (None, "unknown") when nothing fits. Tried in order: strict UTF-8, then
    ``preferred`` (from a ``.cpg``), the DBF's CJK language driver id if any,
    GBK and GB18030, and last charset-normalizer's guess.
    """
    ldid = 0
    values: list[bytes] = []
    for kind, value in _dbf_strings(stream):
        if kind == "ldid":
            ldid = value
        else:
            values.append(value)
    if not values:
        return None, "ascii"
    # Strict UTF-8 first even over a .cpg: GBK text is practically never valid
    # UTF-8 (a cpg saying "UTF-8" over GBK data is the common lie), while UTF-8
    # Chinese often also decodes, wrongly, as GBK.
    candidates = ["UTF-8"]
    if preferred:
        candidates.append(preferred)
    if ldid in _LDID_CJK:
        candidates.append(_LDID_CJK[ldid])
    candidates += ["GBK", "GB18030"]
    seen = set()
    for enc in candidates:
        if enc in seen:
            continue
        seen.add(enc)
        if _decodes(values, enc):
            return enc, "bytes"
    guess = _charset_normalizer_guess(b"\n".join(values))
    if guess and _decodes(values, guess):
        return guess, "charset-normalizer"
    return None, "unknown"


def _charset_normalizer_guess(sample: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes
    except ModuleNotFoundError:  # optional helper; detection above covers Chinese data
        return None
    best = from_bytes(sample[: 4 * 1024 * 1024]).best()
    return None if best is None else _codec_name(best.encoding)


def _shapefile_encoding(file: Path, fmt: str, layer: str | None, encoding, shown: str):
    """Decide the encoding to read a shapefile with.

    Returns (encoding, how): ``how`` is "explicit", "cpg", "detected", or
    "detected (cpg X does not decode the data)".
    """
    if encoding is not None:
        return _explicit_codec(encoding, shown, layer=layer), "explicit"

    if fmt == "shapefile-zip":
        with zipfile.ZipFile(file) as archive:
            members = {Path(n).name.lower(): n for n in archive.namelist()}
            stem = (layer or "").lower()
            cpg_name = members.get(f"{stem}.cpg")
            dbf_name = members.get(f"{stem}.dbf")
            cpg_text = archive.read(cpg_name).decode("ascii", "replace") if cpg_name else None
            if dbf_name is None:
                return "UTF-8", "detected"
            with archive.open(dbf_name) as stream:
                return _decide_encoding(stream, cpg_text, shown, layer)
    cpg = _sidecar(file, ".cpg")
    cpg_text = cpg.read_bytes().decode("ascii", "replace") if cpg else None
    dbf = _sidecar(file, ".dbf")
    if dbf is None:
        raise _fail(
            "file.unreadable",
            f"Shapefile 缺少属性文件 {file.with_suffix('.dbf').name}",
            "A shapefile is several files (.shp, .shx, .dbf, .prj, .cpg); copy all of them "
            "together.",
            file=shown,
            layer=layer,
        )
    with open(dbf, "rb") as stream:
        return _decide_encoding(stream, cpg_text, shown, layer)


def _decide_encoding(stream, cpg_text, shown, layer):
    stated = _codec_from_cpg(cpg_text) if cpg_text is not None else None
    found, how = _detect_dbf_encoding(stream, preferred=stated)
    if found is None and how == "ascii":
        return (stated or "UTF-8"), ("cpg" if stated else "detected")
    if found is None:
        raise _fail(
            "encoding.unknown",
            "无法识别 Shapefile 属性表 (.dbf) 的文字编码（既不是 UTF-8 也不是 GBK/GB18030）",
            "Pass encoding= (e.g. 'BIG5'), or add a .cpg file next to the .shp naming the "
            "encoding.",
            file=shown,
            layer=layer,
        )
    if stated and found == stated:
        return found, "cpg"
    if stated:
        return found, f"detected (.cpg says {cpg_text.strip()!r} but the data is not in it)"
    return found, "detected"


# --------------------------------------------------------------------------- vector


def _unreadable(shown, layer, exc) -> InputError:
    text = str(exc).strip() or type(exc).__name__
    return _fail(
        "file.unreadable",
        f"无法读取文件：{text}",
        "The file may be damaged, incomplete, or not what its extension says; "
        "open it in QGIS to check, or export it again.",
        file=shown,
        layer=layer,
        error=text,
    )


def _read_pyogrio(file: Path, layer, encoding, shown, *, shapefile=False):
    import pyogrio
    import shapely
    from pyogrio.errors import DataLayerError, DataSourceError

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


def _decode_wkb(wkb, shown, layer):
    """WKB to geometries one by one: unclosed rings closed, unbuildable ones None, each reported."""
    import shapely

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
            "(repair the feature in QGIS: Vector > Geometry Tools > Fix Geometries, and export again)",
            file=shown, layer=layer, row=pos + 1, reason=reason,
        )
        problems.append(replace(problem, severity="info" if kept else "warning"))
    return geoms, problems


def _read_broken_geometries(file: Path, layer, encoding, shown):
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
    import geopandas
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    try:
        frame = pyogrio.read_dataframe(file, layer=layer, encoding=encoding, read_geometry=False)
        meta, _fids, wkb, _fields = pyogrio.raw.read(file, layer=layer, encoding=encoding, columns=[])
    except (DataSourceError, DataLayerError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise _unreadable(shown, layer, exc) from exc
    geoms, problems = _decode_wkb(wkb, shown, layer)
    gdf = geopandas.GeoDataFrame(frame, geometry=geopandas.GeoSeries(geoms, index=frame.index), crs=meta.get("crs"))
    gdf.attrs["problems"] = problems
    return gdf


def _read_cut_characters(file: Path, layer, encoding, shown, error):
    """Read a shapefile whose names or values end in a cut multi-byte character.

    A DBF field name has at most 10 bytes and a value a fixed width, so a
    writer may cut a character in half (GDAL writing "网格编码" in UTF-8 keeps
    10 of its 12 bytes). The encoding was checked on the raw bytes, which
    allows such a cut tail; here the file is read byte-for-byte (ISO-8859-1)
    and decoded again, dropping only the incomplete last character.
    """
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    try:
        frame = pyogrio.read_dataframe(file, layer=layer, encoding="ISO-8859-1", use_arrow=False)
    except (DataSourceError, DataLayerError, OSError, ValueError) as exc:
        raise _unreadable(shown, layer, error) from exc

    def recode(value):
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


def _read_vector(file: Path, fmt: str, layer, encoding, shown):
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
    if size < _JSON_FULL_LOAD_LIMIT:
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


def _apply_crs_wkt(frame, info, wkt: str, shown):
    import pyproj

    try:
        stated = pyproj.CRS.from_user_input(wkt)
    except pyproj.exceptions.CRSError as exc:
        raise _fail(
            "crs.invalid",
            f"GeoJSON 的 crs_wkt 无法解析：{exc}",
            "Fix the crs_wkt member, or remove it and pass crs= (CLI: --crs).",
            file=shown,
            layer=info["layer"],
        ) from exc
    if frame.crs is None or not frame.crs.equals(stated, ignore_axis_order=True):
        frame = frame.set_crs(stated, allow_override=True)
        info = {**info, "crs_from": "crs_wkt"}
    return frame, info


def _read_parquet(file: Path, shown):
    import geopandas
    import pyarrow
    import pyproj
    import shapely

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
            geoms, problems = _decode_wkb(table.column(column).to_numpy(zero_copy_only=False), shown, None)
        except (*errors, KeyError, ValueError) as exc:
            raise _unreadable(shown, None, exc) from exc
        crs = geo.get("columns", {}).get(column, {}).get("crs", "OGC:CRS84")
        crs = pyproj.CRS.from_json_dict(crs) if isinstance(crs, dict) else crs
        frame = geopandas.GeoDataFrame(frame, geometry=geopandas.GeoSeries(geoms, index=frame.index), crs=crs)
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


# --------------------------------------------------------------------------- tables


def _read_csv(file: Path, encoding, shown):
    if encoding is not None:
        tries = [(_explicit_codec(encoding, shown), "explicit")]
    else:
        with open(file, "rb") as stream:
            head = stream.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            tries = [("UTF-16", "bom")]
        else:
            tries = [("utf-8-sig", "detected"), ("GB18030", "detected")]
    last = None
    for codec, how in tries:
        try:
            frame = _parse_csv(file, codec)
        except UnicodeDecodeError as exc:
            last = exc
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
            raise _unreadable(shown, None, exc) from exc
        name = "UTF-8" if codec == "utf-8-sig" else codec
        return frame, {"layer": None, "encoding": name, "encoding_from": how, "crs_from": None}
    guess = None
    if encoding is None:
        with open(file, "rb") as stream:
            guess = _charset_normalizer_guess(stream.read(4 * 1024 * 1024))
    if guess:
        try:
            frame = _parse_csv(file, guess)
        except UnicodeDecodeError as exc:
            last = exc
        else:
            info = {"layer": None, "encoding": guess, "encoding_from": "charset-normalizer"}
            return frame, {**info, "crs_from": None}
    raise _fail(
        "encoding.unknown",
        f"无法识别 CSV 的文字编码（试过 {', '.join(c for c, _ in tries)}）：{last}",
        "Save the table as 'CSV UTF-8' in Excel/WPS, or pass encoding= (e.g. 'GBK').",
        file=shown,
    )


def _parse_csv(file: Path, codec: str) -> pd.DataFrame:
    with open(file, encoding=codec, newline="") as stream:
        first = stream.readline()
    counts = {sep: first.count(sep) for sep in (",", "\t", ";", "|")}
    sep = max(counts, key=counts.get) if any(counts.values()) else ","
    return pd.read_csv(file, encoding=codec, sep=sep, dtype=str, skipinitialspace=True)


@contextlib.contextmanager
def _quiet_openpyxl():
    """Silence openpyxl's harmless notices about styles/extensions it skips."""
    with warnings.catch_warnings():
        for message in (
            "Workbook contains no default style",
            ".*extension is not supported and will be removed",
            "Cell .* is marked as a date but the serial value",
        ):
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        yield


def _import_xlrd(shown):
    try:
        import xlrd
    except ModuleNotFoundError as exc:
        raise _fail(
            "file.format",
            "读取旧版 Excel (.xls) 需要 xlrd",
            "Save the workbook as .xlsx (Excel/WPS: 另存为 .xlsx), or `pip install xlrd`.",
            file=shown,
        ) from exc
    return xlrd


def _read_excel(file: Path, fmt: str, layer, shown):
    sheets = _excel_sheets(file, fmt, shown)
    if layer is None:
        filled = [name for name, has_data in sheets.items() if has_data]
        sheet = _choose_layer(filled or list(sheets), None, shown, what="工作表")
    else:
        sheet = _choose_layer(list(sheets), layer, shown, what="工作表")
    if fmt == "xls":
        _import_xlrd(shown)
    try:
        with _quiet_openpyxl():
            frame = pd.read_excel(
                file, sheet_name=sheet, dtype=str, engine="xlrd" if fmt == "xls" else "openpyxl"
            )
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise _unreadable(shown, sheet, exc) from exc
    return frame, {"layer": sheet, "encoding": None, "crs_from": None}


_CODE_NAME = re.compile(r"(编码|代码|编号|code|(^|[_\s])id$|^id($|[_\s]))", re.IGNORECASE)
_LEADING_ZERO = re.compile(r"^[+-]?0\d")


def _infer_numbers(frame: pd.DataFrame, skip) -> pd.DataFrame:
    """Turn all-numeric text columns into numbers, as pandas would, except codes.

    Columns named like codes (编码, 代码, 编号, code, id) and values with a
    leading zero ("007") or more than 15 digits stay text: a code is not a
    number.
    """
    out = {}
    for col in frame.columns:
        s = frame[col]
        if col in skip or not (pd.api.types.is_string_dtype(s) or s.dtype == object):
            continue
        if _CODE_NAME.search(str(col)):
            continue
        text = s.dropna().astype(str).str.strip()
        if text.empty:
            continue
        # A cheap look at the first values rules out most text columns.
        if pd.to_numeric(text.iloc[:1000], errors="coerce").isna().any():
            continue
        if text.str.match(_LEADING_ZERO).any() or (text.str.len() > 15).any():
            continue
        numbers = pd.to_numeric(text, errors="coerce")
        if numbers.isna().any():
            continue
        out[col] = numbers.reindex(s.index)
    if out:
        frame = frame.copy()
        for key, value in out.items():
            frame[key] = value
    return frame


# --------------------------------------------------------------------------- coordinates

_ALIASES = {
    "lon": ("lon", "lng", "long", "longitude", "经度", "东经"),
    "lat": ("lat", "latitude", "纬度", "北纬"),
    "x": ("x", "东坐标", "横坐标", "x坐标", "坐标x"),
    "y": ("y", "北坐标", "纵坐标", "y坐标", "坐标y"),
}
# Tokens that identify a column inside a longer name ("gcj_lng", "POINT_X").
_TOKENS = {"lon": ("lon", "lng", "longitude"), "lat": ("lat", "latitude"), "x": ("x",), "y": ("y",)}
_SUBSTRINGS = {
    "lon": ("经度", "东经"),
    "lat": ("纬度", "北纬"),
    "x": ("东坐标", "横坐标", "x坐标"),
    "y": ("北坐标", "纵坐标", "y坐标"),
}

_FULLWIDTH = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        "．": ".",
        "－": "-",
        "＋": "+",
        "−": "-",
        "　": "",
    }
)
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


def _normalize_name(name) -> str:
    text = unicodedata.normalize("NFKC", str(name)).strip().lower()
    text = re.sub(r"[(\[【].*?[)\]】]", "", text)
    return re.sub(r"\s+", "", text)


def _coordinate_candidates(columns) -> dict[str, list]:
    """For each role (lon, lat, x, y): the matching columns, best tier only."""
    found = {}
    for role in _ALIASES:
        exact, fuzzy = [], []
        for col in columns:
            name = _normalize_name(col)
            if name in _ALIASES[role]:
                exact.append(col)
                continue
            tokens = re.split(r"[_\-.\s/]+", name)
            if any(t in _TOKENS[role] for t in tokens) or any(s in name for s in _SUBSTRINGS[role]):
                fuzzy.append(col)
        found[role] = exact or fuzzy
    return found


def _role_of(col) -> str | None:
    for role, cols in _coordinate_candidates([col]).items():
        if cols:
            return role
    return None


def _clean_numbers(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse coordinate text; returns (numbers, text as read).

    Plain numbers are parsed in one vectorised pass; only the rest is cleaned
    (spaces, full-width digits and signs, a trailing "°", thousands commas).
    """
    if pd.api.types.is_numeric_dtype(s):
        return s.astype(float), s
    text = s.astype(object).where(s.notna(), None)
    numbers = pd.to_numeric(text, errors="coerce").astype(float)
    retry = numbers.isna() & text.notna()
    if retry.any():

        def clean(value):
            v = str(value).translate(_FULLWIDTH).strip()
            if v.endswith("°"):
                v = v[:-1].strip()
            if _THOUSANDS.match(v):
                v = v.replace(",", "")
            return v

        cleaned = text[retry].map(clean)
        numbers[retry] = pd.to_numeric(cleaned, errors="coerce").astype(float)
    return numbers, text


def _points_from_table(frame: pd.DataFrame, x, y, shown, layer, crs):
    """Build point geometry from coordinate columns.

    ``crs`` is the parsed ``crs=`` option (None, "gcj02"/"bd09" or a CRS).
    Lon/lat checks (swapped columns, ranges) run when the coordinates are
    lon/lat: by their column names when no CRS is given, otherwise by the CRS.

    Returns (GeoDataFrame without CRS, kind, (x column, y column)); kind is
    "lonlat" or "projected".
    """
    import geopandas

    columns = list(frame.columns)
    if (x is None) != (y is None):
        raise _fail(
            "coordinates.incomplete",
            "只给出了一个坐标列；x= 和 y= 需要一起给出",
            "Pass both x= (longitude/easting column) and y= (latitude/northing column).",
            file=shown,
            layer=layer,
        )
    if x is not None:
        for col in (x, y):
            if col not in columns:
                raise _fail(
                    "column.missing",
                    f"表中没有列 {col!r}；现有列：{', '.join(map(str, columns))}",
                    "Pass x=/y= names exactly as in the header row.",
                    file=shown,
                    layer=layer,
                    column=col,
                )
        roles = (_role_of(x), _role_of(y))
        kind = "lonlat" if roles == ("lon", "lat") else "projected"
        xcol, ycol = x, y
    else:
        xcol, ycol, kind = _detect_pair(frame, shown, layer)

    xs, x_text = _clean_numbers(frame[xcol])
    ys, y_text = _clean_numbers(frame[ycol])
    problems = []
    for col, values, text in ((xcol, xs, x_text), (ycol, ys, y_text)):
        bad = ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
        for pos in np.flatnonzero(bad):
            raw = text.iloc[pos]
            if raw is None or (not isinstance(raw, str) and pd.isna(raw)):
                raw = None
            shown_value = "（空）" if raw is None or str(raw).strip() == "" else repr(str(raw))
            problems.append(
                _problem(
                    "coordinates.invalid",
                    f"第 {pos + 1} 行数据（表格第 {pos + 2} 行）的坐标 {col} 不是数字：{shown_value}",
                    "Correct or delete these rows (coordinates must be plain numbers).",
                    file=shown,
                    layer=layer,
                    column=col,
                    row=pos + 1,
                    value=None if raw is None else str(raw),
                )
            )
    if problems:
        problems.sort(key=lambda p: (p.row, str(p.column) != str(xcol)))
        raise InputError(problems)

    if crs is None:
        if kind != "lonlat":
            raise _crs_required(xs, ys, xcol, ycol, shown, layer)
        _check_lonlat(xs, ys, xcol, ycol, shown, layer)
    elif isinstance(crs, str) or crs.is_geographic:
        _check_lonlat(xs, ys, xcol, ycol, shown, layer)
    frame = frame.copy()
    frame[xcol] = xs.to_numpy()
    frame[ycol] = ys.to_numpy()
    gdf = geopandas.GeoDataFrame(
        frame, geometry=geopandas.points_from_xy(xs.to_numpy(), ys.to_numpy()), crs=None
    )
    return gdf, kind, (xcol, ycol)


def _detect_pair(frame, shown, layer):
    columns = list(frame.columns)
    found = _coordinate_candidates(columns)
    for role in found:
        if len(found[role]) > 1:
            names = ", ".join(map(repr, found[role]))
            raise _fail(
                "coordinates.ambiguous",
                f"有多个列都像坐标列（{role}）：{names}",
                "Say which to use with x= and y= (in a config file: the layer's x/y keys).",
                file=shown,
                layer=layer,
                columns=list(found[role]),
            )
    if found["lon"] and found["lat"]:
        return found["lon"][0], found["lat"][0], "lonlat"
    if found["x"] and found["y"]:
        return found["x"][0], found["y"][0], "projected"
    tried = "; ".join(f"{role}: {', '.join(names)}" for role, names in _ALIASES.items())
    partial = [c for cols in found.values() for c in cols]
    note = f"（只找到 {', '.join(map(str, partial))}，缺少与之配对的列）" if partial else ""
    unnamed = sum(str(c).startswith("Unnamed:") for c in columns)
    title = (
        " The first row does not look like a header (many 'Unnamed' columns): delete any "
        "title rows above the header row."
        if columns and unnamed * 2 >= len(columns)
        else ""
    )
    raise _fail(
        "geometry.missing",
        f"没有几何列，也没有找到坐标列{note}；现有列：{', '.join(map(str, columns))}",
        f"Add longitude/latitude (or X/Y) columns, or pass x= and y= with the column names. "
        f"Names recognised: {tried}.{title}",
        file=shown,
        layer=layer,
        columns=[str(c) for c in columns],
    )


def _check_lonlat(xs, ys, xcol, ycol, shown, layer):
    if len(xs) == 0:
        return
    mx, my = float(np.median(xs)), float(np.median(ys))
    if 18 <= mx <= 54 and 73 <= my <= 135:
        raise _fail(
            "coordinates.swapped",
            f"经纬度列好像反了：{xcol!r} 的值约为 {mx:.4g}（像纬度），{ycol!r} 的值约为 {my:.4g}（像经度）",
            f"Swap the columns: pass x={ycol!r}, y={xcol!r}, or rename the header row.",
            file=shown,
            layer=layer,
            column=f"{xcol}, {ycol}",
        )
    out_x = (xs < -180) | (xs > 180)
    out_y = (ys < -90) | (ys > 90)
    if out_x.mean() > 0.5 or out_y.mean() > 0.5:
        raise _fail(
            "coordinates.not_lonlat",
            f"列 {xcol!r}/{ycol!r} 应为经纬度，但多数值超出经纬度范围（中位数 {mx:.6g}, {my:.6g}），"
            "像是投影坐标",
            "If these are projected coordinates, pass crs= naming the projection "
            "(CLI: --crs EPSG:45xx).",
            file=shown,
            layer=layer,
            column=f"{xcol}, {ycol}",
        )
    problems = []
    for col, values, mask, limit in ((xcol, xs, out_x, 180), (ycol, ys, out_y, 90)):
        for pos in np.flatnonzero(mask.to_numpy()):
            problems.append(
                _problem(
                    "coordinates.out_of_range",
                    f"第 {pos + 1} 行数据（表格第 {pos + 2} 行）的 {col} = {values.iloc[pos]} "
                    f"超出 −{limit}…{limit}",
                    "Correct or delete these rows.",
                    file=shown,
                    layer=layer,
                    column=col,
                    row=pos + 1,
                    value=float(values.iloc[pos]),
                )
            )
    if problems:
        problems.sort(key=lambda p: p.row)
        raise InputError(problems)


def _gk_hint(xs, ys) -> str:
    """A guess of the CRS of projected X/Y values, for the error message."""
    if len(xs) == 0:
        return ""
    mx, my = float(np.median(xs)), float(np.median(ys))
    if -180 <= mx <= 180 and -90 <= my <= 90:
        return (
            " The values look like longitude/latitude: pass crs='EPSG:4490' (CGCS2000) or "
            "'EPSG:4326' (WGS84), or 'gcj02'/'bd09' for web-map coordinates."
        )
    zone = int(mx // 1_000_000)
    if 25 <= zone <= 45 and 1_000_000 <= my <= 6_500_000:
        return (
            f" X starts with the 3° Gauss-Krüger zone number {zone}: "
            f"CGCS2000 would be crs='EPSG:{4513 + zone - 25}'."
        )
    if 1_500_000 <= mx <= 6_500_000 and (100_000 <= my <= 900_000 or my >= 13_000_000):
        return (
            " X looks like a northing and Y like an easting (the surveying convention "
            "X=北, Y=东): pass x= the Y column and y= the X column."
        )
    return ""


def _crs_required(xs, ys, xcol, ycol, shown, layer) -> InputError:
    return _fail(
        "crs.required",
        f"列 {xcol!r}/{ycol!r} 是投影坐标（X/Y），但没有给出坐标系",
        "Projected coordinates without a CRS are ambiguous: pass crs= "
        "(CLI: --crs EPSG:45xx, e.g. EPSG:4549 for CGCS2000 3° GK CM 120°E)." + _gk_hint(xs, ys),
        file=shown,
        layer=layer,
        column=f"{xcol}, {ycol}",
    )


# --------------------------------------------------------------------------- CRS


def _parse_crs(value, shown, layer):
    import pyproj

    from gridmap.crs import parse_crs

    try:
        return parse_crs(value)
    except InputError as exc:
        raise InputError([_with_place(p, shown, layer) for p in exc.problems]) from exc
    except (pyproj.exceptions.CRSError, ValueError, TypeError) as exc:
        raise _fail(
            "crs.invalid",
            f"无法识别坐标系 {value!r}：{exc}",
            "Pass an EPSG code (e.g. 'EPSG:4490', 'EPSG:4549'), a WKT/.prj text, "
            "or 'gcj02'/'bd09'.",
            file=shown,
            layer=layer,
        ) from exc


def _with_place(problem: Problem, shown, layer) -> Problem:
    return replace(
        problem,
        file=problem.file or str(shown),
        layer=problem.layer or ("" if layer is None else str(layer)),
    )


def state_crs(gdf, crs, *, file: str = "(GeoDataFrame)", layer: str | None = None):
    """Apply a user's ``crs=`` override to a layer already in memory, as :func:`read_layer` does.

    ``"gcj02"``/``"bd09"`` convert the coordinates to WGS84 (``attrs["coordinate_conversion"]``
    records it); any other CRS states what the coordinates are (no reprojection).
    """
    from gridmap.crs import parse_crs

    out, _ = _apply_crs(gdf, parse_crs(crs), {"layer": layer}, file)
    return out


def _apply_crs(gdf, parsed, info, shown):
    if isinstance(parsed, str):  # "gcj02" / "bd09": web-map offsets, convert
        bounds = gdf.total_bounds
        if len(gdf) and not (
            np.all(np.isfinite(bounds))
            and -180 <= bounds[0] <= bounds[2] <= 180
            and -90 <= bounds[1] <= bounds[3] <= 90
        ):
            raise _fail(
                "crs.conflict",
                f"坐标不是经纬度（范围 {bounds.round(3).tolist()}），不可能是 {parsed.upper()}",
                f"{parsed.upper()} coordinates are longitude/latitude degrees; check crs= "
                "(CLI: --crs / --facilities-crs).",
                file=shown,
                layer=info["layer"],
            )
        from gridmap.crs import to_geographic

        # The file's label (often a nominal EPSG:4326) is what is being overridden.
        labelled = gdf.set_crs("EPSG:4326", allow_override=True)
        try:
            converted = to_geographic(labelled, parsed)
        except ValueError as exc:
            raise _fail(
                "crs.conflict",
                f"无法把坐标从 {parsed.upper()} 转换为 WGS84：{exc}",
                "Check crs= (CLI: --crs / --facilities-crs).",
                file=shown,
                layer=info["layer"],
            ) from exc
        converted.attrs["coordinate_conversion"] = f"{parsed}->wgs84"
        return converted, {**info, "crs_from": "override"}
    return gdf.set_crs(parsed, allow_override=True), {**info, "crs_from": "override"}


# --------------------------------------------------------------------------- main


def read_layer(path, *, layer=None, encoding=None, crs=None, x=None, y=None):
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

    if fmt in _VECTOR_FORMATS:
        frame, info = _read_vector(file, fmt, layer, encoding, shown)
    elif fmt == "geoparquet":
        frame, info = _read_parquet(file, shown)
    elif fmt == "csv":
        frame, info = _read_csv(file, encoding, shown)
    else:
        frame, info = _read_excel(file, fmt, layer, shown)
    if layer is not None and fmt in ("geoparquet", "csv"):
        if str(layer) != file.stem:
            raise _fail(
                "layer.not_found",
                f"{fmt} 文件只有一个图层 {file.stem!r}，没有 {layer!r}",
                "Leave out the layer for this kind of file.",
                file=shown,
                layer=layer,
            )

    import geopandas

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


def _finish(gdf):
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
