"""Where a layer comes from: formats by extension, ``file.gpkg:layer`` strings, layers and sheets.

:func:`list_layers` lists what a file holds; the private helpers resolve a path
to (file, layer, the text to show the user, format), find a shapefile's
sidecar files whatever their letter case, and choose a layer or Excel sheet,
naming the ones that exist when the choice is missing or wrong.
"""

from __future__ import annotations

import contextlib
import os
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import openpyxl
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError

from gridmap._errors import InputError
from gridmap.io._problems import _fail, _unreadable

__all__ = ["SUPPORTED_FORMATS", "list_layers"]


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


def _split_layer(path: str | os.PathLike[str]) -> tuple[Path, str | None, str]:
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
    """The format name of a file's extension, or an InputError listing the supported ones."""
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
    """The file is missing: name files with a similar name, or the missing folder."""
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


def _resolve(path: str | os.PathLike[str]) -> tuple[Path, str | None, str, str]:
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


def _pyogrio_layers(path: Path, shown: str) -> list[str]:
    """The layers GDAL sees in a file."""
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


def _choose_layer(available: list[str], layer: object, shown: str, *, what: str = "图层") -> str:
    """The layer to read: the one given (letter case tolerated), else the only one there is."""
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
            f"Pass layer={example!r}, or append it to the file name: {shown}:{example} "
            "(a path with :layer works wherever a layer's file is asked for).",
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


def list_layers(path: str | os.PathLike[str]) -> list[str]:
    """List the layers (or Excel sheets) a file holds.

    Parameters
    ----------
    path : str or os.PathLike
        A file of a format :func:`~gridmap.io.read_layer` reads. A ``"file.gpkg:layer"``
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


@contextlib.contextmanager
def _quiet_openpyxl() -> Iterator[None]:
    """Silence openpyxl's harmless notices about styles/extensions it skips."""
    with warnings.catch_warnings():
        for message in (
            "Workbook contains no default style",
            ".*extension is not supported and will be removed",
            "Cell .* is marked as a date but the serial value",
        ):
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        yield


def _import_xlrd(shown: str) -> ModuleType:
    """xlrd, an optional dependency for old .xls workbooks, or an InputError saying so."""
    try:
        import xlrd  # optional: only old .xls workbooks need it
    except ModuleNotFoundError as exc:
        raise _fail(
            "file.format",
            "读取旧版 Excel (.xls) 需要 xlrd",
            "Save the workbook as .xlsx (Excel/WPS: 另存为 .xlsx), or `pip install xlrd`.",
            file=shown,
        ) from exc
    return xlrd
