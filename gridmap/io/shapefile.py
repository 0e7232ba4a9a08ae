"""The one Shapefile writer: DBF code page marked, text kept, default styles beside the file.

:func:`write_shapefile` writes a layer as a Shapefile the way older GIS and office programs
read it:

- **Encoding.** ``GBK`` (default for planners: what older ArcGIS, Excel and WPS assume on
  Chinese Windows) or ``UTF-8``. A ``.cpg`` file names it, and for GBK the DBF header's
  language-driver byte (LDID, byte 29) is set to ``0x4D`` (code page 936), so programs that
  read the DBF itself and ignore ``.cpg`` (LibreOffice Calc, older Excel/WPS and ArcGIS)
  decode the Chinese correctly. UTF-8 has no LDID: the byte stays ``0`` and only the
  ``.cpg`` says UTF-8 (GDAL, QGIS and ArcGIS 10.x+ read it). GB18030 has no LDID either.
- **Text.** Every character the encoding holds is kept ("–", "≈", "·" are in GBK); only the
  others are replaced, by a look-alike (``m²`` → ``m2``, no-break space → space) or ``?``.
- **Field names** are cut to the DBF limit of 10 bytes in the encoding (whole characters),
  kept unique.
- **Styles.** With ``style=``, ``name.qml`` (QGIS loads it automatically) and ``name.sld``
  (GeoServer, ArcGIS Pro's importer) beside the ``.shp``, their field names matching the cut
  DBF names.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio

from gridmap.io.styles import LayerStyle

__all__ = ["DBF_LDID", "dbf_field_names", "write_shapefile"]

#: DBF language-driver IDs (byte 29 of the header) of the encodings written; UTF-8 has none.
DBF_LDID = {"GBK": 0x4D, "UTF-8": 0x00, "GB18030": 0x00}

#: Look-alikes for characters GBK cannot hold (anything else becomes "?").
_LOOKALIKE = str.maketrans({"²": "2", "³": "3", "‑": "-", "•": "·", "\u00a0": " "})


def _encoding(encoding: str) -> str:
    """``"GBK"``, ``"UTF-8"`` or ``"GB18030"`` for the spellings people use."""
    key = encoding.lower().replace("-", "").replace("_", "")
    known = {"gbk": "GBK", "cp936": "GBK", "utf8": "UTF-8", "gb18030": "GB18030"}
    if key not in known:
        raise ValueError(f"Shapefile encoding must be 'gbk' or 'utf-8', not {encoding!r}")
    return known[key]


def _keep_encodable(text: str, codec: str) -> str:
    """``text`` with only the characters ``codec`` cannot encode replaced."""
    try:
        text.encode(codec)
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for ch in text:
        try:
            ch.encode(codec)
            out.append(ch)
        except UnicodeEncodeError:
            out.append(ch.translate(_LOOKALIKE).encode(codec, errors="replace").decode(codec))
    return "".join(out)


def dbf_field_names(columns: list[str], encoding: str) -> dict[str, str]:
    """Field names cut to the DBF limit of 10 bytes in ``encoding`` (whole characters), unique.

    Parameters
    ----------
    columns
        The column names.
    encoding
        ``"gbk"`` or ``"utf-8"``.

    Returns
    -------
    dict
        ``column -> DBF field name``.

    Examples
    --------
    >>> dbf_field_names(["应配协理员人数", "status"], "gbk")
    {'应配协理员人数': '应配协理员', 'status': 'status'}
    """
    codec = "utf-8" if _encoding(encoding) == "UTF-8" else "gbk"
    out: dict[str, str] = {}
    used: set[str] = set()
    for col in columns:
        name = col
        while len(name.encode(codec, errors="replace")) > 10:
            name = name[:-1]
        base, k = name, 1
        while name in used:
            k += 1
            name = base[: max(1, len(base) - 1)] + str(k)
        used.add(name)
        out[col] = name
    return out


def _text_columns(gdf: Any, codec: str) -> Any:
    gdf = gdf.copy()
    for col in gdf.columns:
        if col != gdf.geometry.name and (
            gdf[col].dtype == object or pd.api.types.is_string_dtype(gdf[col])
        ):
            gdf[col] = gdf[col].map(
                lambda v: _keep_encodable(v, codec) if isinstance(v, str) else v
            )
    return gdf


def _set_ldid(dbf: Path, ldid: int) -> None:
    """Write the language-driver byte (offset 29) of a DBF header."""
    with open(dbf, "r+b") as fh:
        fh.seek(29)
        fh.write(bytes([ldid]))


def write_shapefile(
    gdf: Any,
    path: str | os.PathLike,
    *,
    encoding: str = "gbk",
    style: LayerStyle | None = None,
) -> list[Path]:
    """Write a GeoDataFrame as a Shapefile with ``.cpg``, LDID and optional ``.qml``/``.sld``.

    Parameters
    ----------
    gdf
        The layer.
    path
        The ``.shp`` file.
    encoding
        ``"gbk"`` (default) or ``"utf-8"`` (also ``"gb18030"``).
    style
        Default style written beside it as ``.qml`` and ``.sld`` (field names as in the DBF).

    Returns
    -------
    list of pathlib.Path
        The files written (``.shp``, ``.shx``, ``.dbf``, ``.prj``, ``.cpg``, styles).

    Examples
    --------
    >>> import geopandas, shapely, tempfile
    >>> gdf = geopandas.GeoDataFrame(
    ...     {"说明": ["1,000–3,000 户 ≈ 1 个社区"]}, geometry=[shapely.Point(0, 0)], crs=4547
    ... )
    >>> shp = Path(tempfile.mkdtemp()) / "x.shp"
    >>> _ = write_shapefile(gdf, shp)
    >>> (shp.with_suffix(".dbf").read_bytes()[29], shp.with_suffix(".cpg").read_text())
    (77, 'GBK')
    """
    enc = _encoding(encoding)
    path = Path(path).with_suffix(".shp")
    if enc != "UTF-8":
        gdf = _text_columns(gdf, enc.lower())
    names = dbf_field_names([str(c) for c in gdf.columns.drop(gdf.geometry.name)], enc)
    gdf = gdf.rename(columns=names)
    pyogrio.write_dataframe(gdf, path, driver="ESRI Shapefile", encoding=enc)
    _set_ldid(path.with_suffix(".dbf"), DBF_LDID[enc])
    path.with_suffix(".cpg").write_text(enc, encoding="ascii")
    if style is not None:
        style = dataclasses.replace(
            style,
            field=names.get(style.field, style.field) if style.field else None,
            label_field=names.get(style.label_field, style.label_field)
            if style.label_field
            else None,
        )
        path.with_suffix(".qml").write_text(style.qml(), encoding="utf-8")
        path.with_suffix(".sld").write_text(style.sld(path.stem), encoding="utf-8")
    suffixes = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qml", ".sld")
    return [p for p in (path.with_suffix(s) for s in suffixes) if p.exists()]
