"""Coordinate columns of a table → point geometry.

Columns are recognised by name (经度/纬度, lon/lat, X/Y, 东坐标/北坐标 …) or
given as ``x=``/``y=``. Values are cleaned (full-width digits, a trailing °,
thousands commas); every bad row is reported at once. Lon/lat is checked for
swapped columns and ranges; projected X/Y without a CRS is an error whose
fix guesses the Gauss-Krüger zone from the values.
"""

from __future__ import annotations

import re
import unicodedata

import geopandas
import numpy as np
import pandas as pd
import pyproj

from gridmap._errors import InputError
from gridmap.io._problems import _fail, _problem

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


def _normalize_name(name: object) -> str:
    text = unicodedata.normalize("NFKC", str(name)).strip().lower()
    text = re.sub(r"[(\[【].*?[)\]】]", "", text)
    return re.sub(r"\s+", "", text)


def _coordinate_candidates(columns: list) -> dict[str, list]:
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


def _role_of(col: object) -> str | None:
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

        def clean(value: object) -> str:
            v = str(value).translate(_FULLWIDTH).strip()
            if v.endswith("°"):
                v = v[:-1].strip()
            if _THOUSANDS.match(v):
                v = v.replace(",", "")
            return v

        cleaned = text[retry].map(clean)
        numbers[retry] = pd.to_numeric(cleaned, errors="coerce").astype(float)
    return numbers, text


def _points_from_table(
    frame: pd.DataFrame,
    x: str | None,
    y: str | None,
    shown: str,
    layer: object,
    crs: pyproj.CRS | str | None,
) -> tuple[geopandas.GeoDataFrame, str, tuple[str, str]]:
    """Build point geometry from coordinate columns.

    ``crs`` is the parsed ``crs=`` option (None, "gcj02"/"bd09" or a CRS).
    Lon/lat checks (swapped columns, ranges) run when the coordinates are
    lon/lat: by their column names when no CRS is given, otherwise by the CRS.

    Returns (GeoDataFrame without CRS, kind, (x column, y column)); kind is
    "lonlat" or "projected".
    """
    columns = list(frame.columns)
    if (x is None) != (y is None):
        raise _fail(
            "coordinates.incomplete",
            "只给出了一个坐标列；x= 和 y= 需要一起给出",
            "Pass both x= (longitude/easting column) and y= (latitude/northing column).",
            file=shown,
            layer=layer,
        )
    if x is not None and y is not None:
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
    xs, ys = _coordinates(frame, xcol, ycol, shown, layer)
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


def _coordinates(
    frame: pd.DataFrame, xcol: str, ycol: str, shown: str, layer: object
) -> tuple[pd.Series, pd.Series]:
    """The coordinate columns as numbers, or one InputError listing every bad value."""
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
                    f"表格第 {pos + 2} 行的坐标 {col} 不是数字：{shown_value}",
                    "Correct or delete these rows (coordinates must be plain numbers).",
                    file=shown,
                    layer=layer,
                    column=col,
                    row=int(pos) + 2,  # the row Excel shows: the header is row 1
                    value=None if raw is None else str(raw),
                )
            )
    if problems:
        problems.sort(key=lambda p: (p.row, str(p.column) != str(xcol)))
        raise InputError(problems)
    return xs, ys


def _detect_pair(frame: pd.DataFrame, shown: str, layer: object) -> tuple[str, str, str]:
    """The coordinate columns recognised by name, and whether they are lon/lat or projected."""
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


def _check_lonlat(
    xs: pd.Series, ys: pd.Series, xcol: str, ycol: str, shown: str, layer: object
) -> None:
    """Lon/lat that look swapped, projected or out of range: an InputError naming the rows."""
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
            '(crs="EPSG:45xx").',
            file=shown,
            layer=layer,
            column=f"{xcol}, {ycol}",
            param="crs",
        )
    problems = []
    for col, values, mask, limit in ((xcol, xs, out_x, 180), (ycol, ys, out_y, 90)):
        for pos in np.flatnonzero(mask.to_numpy()):
            problems.append(
                _problem(
                    "coordinates.out_of_range",
                    f"表格第 {pos + 2} 行的 {col} = {values.iloc[pos]} 超出 −{limit}…{limit}",
                    "Correct or delete these rows.",
                    file=shown,
                    layer=layer,
                    column=col,
                    row=int(pos) + 2,  # the row Excel shows: the header is row 1
                    value=float(values.iloc[pos]),
                )
            )
    if problems:
        problems.sort(key=lambda p: (p.row,))
        raise InputError(problems)


def _gk_hint(xs: pd.Series, ys: pd.Series) -> str:
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


def _crs_required(
    xs: pd.Series, ys: pd.Series, xcol: str, ycol: str, shown: str, layer: object
) -> InputError:
    """Projected X/Y without a CRS: the error, with a guess of the zone from the values."""
    return _fail(
        "crs.required",
        f"列 {xcol!r}/{ycol!r} 是投影坐标（X/Y），但没有给出坐标系",
        'Projected coordinates without a CRS are ambiguous: pass crs="EPSG:45xx" '
        '(e.g. crs="EPSG:4549" for CGCS2000 3° GK CM 120°E).' + _gk_hint(xs, ys),
        file=shown,
        layer=layer,
        column=f"{xcol}, {ycol}",
        param="crs",
    )
