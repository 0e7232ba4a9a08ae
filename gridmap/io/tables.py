"""Reading CSV and Excel tables as text, and restoring numbers that are not codes.

A CSV's encoding is its BOM, else UTF-8, else GB18030 (a superset of GBK),
else charset-normalizer's guess; its separator is the most frequent of
comma, tab, semicolon and bar in the header row. Every cell is read as text, then
:func:`_infer_numbers` turns all-numeric columns back into numbers except
codes (编码, 代码, 编号, id, leading zeros).
"""

from __future__ import annotations

import codecs
import re
import zipfile
from pathlib import Path

import pandas as pd

from gridmap.io._problems import _fail, _unreadable
from gridmap.io.encodings import _charset_normalizer_guess, _explicit_codec
from gridmap.io.sources import _choose_layer, _excel_sheets, _import_xlrd, _quiet_openpyxl


def _read_csv(file: Path, encoding: object, shown: str) -> tuple[pd.DataFrame, dict]:
    """A CSV as text, in the encoding given or detected, and how the encoding was decided."""
    if encoding is not None:
        tries = [(_explicit_codec(encoding, shown), "explicit")]
    else:
        with open(file, "rb") as stream:
            head = stream.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            tries = [("UTF-16", "bom")]
        else:
            tries = [("utf-8-sig", "detected"), ("GB18030", "detected")]
    last: UnicodeDecodeError | None = None
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
        param="encoding",
    )


def _parse_csv(file: Path, codec: str) -> pd.DataFrame:
    """Every cell as text; the separator is the most frequent candidate in the header row."""
    with open(file, encoding=codec, newline="") as stream:
        first = stream.readline()
    counts = {sep: first.count(sep) for sep in (",", "\t", ";", "|")}
    sep = max(counts, key=lambda c: counts[c]) if any(counts.values()) else ","
    return pd.read_csv(file, encoding=codec, sep=sep, dtype=str, skipinitialspace=True)


def _read_excel(file: Path, fmt: str, layer: object, shown: str) -> tuple[pd.DataFrame, dict]:
    """One sheet as text: the one named, else the only sheet with data."""
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


def _infer_numbers(frame: pd.DataFrame, skip: set) -> pd.DataFrame:
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
