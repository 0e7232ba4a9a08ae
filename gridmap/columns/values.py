"""Cleaning values: counts, measures, rates, yes/no flags and 社区类型, with what was unusable.

Counts are cleaned where the meaning is unambiguous ("1,200", "1200户", full-width "１２００",
"96.0") and reported where it is not ("约300", "-5", blank, "12.5户"): such values become
missing, never a guess.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from gridmap._errors import Problem
from gridmap.columns.matching import _key
from gridmap.columns.names import COMMUNITY_TYPES, IMPLAUSIBLE

__all__ = [
    "clean_counts",
    "clean_numbers",
    "clean_flags",
    "community_type",
    "problems_from_bad",
]

_THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+(\.0+)?$")
_PLAIN = re.compile(r"^\d+(\.\d+)?$")
_APPROX = re.compile(r"(约|大约|左右|余|多|以上|以下|~|～|≈|\?|？)")
_COUNT_UNITS = re.compile(r"(户|人|个|名|次|栋|间|套)$")
_AREA_UNITS = re.compile(r"(m2|m²|㎡|平方米|平米|平方)$", re.IGNORECASE)


def _normalise(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    text = text.replace("，", ",").replace(" ", "")
    return text or None


def _clean(
    values: pd.Series, *, integer: bool, units: re.Pattern, percent: bool = False
) -> tuple[pd.Series, list[tuple[object, object, str]]]:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype("float64")
        bad = []
        for label in numbers.index[numbers < 0]:
            bad.append((label, values[label], "负数"))
        if integer:
            frac = numbers[(numbers % 1 != 0) & numbers.notna()]
            for label in frac.index:
                bad.append((label, values[label], "不是整数"))
        bad_labels = [b[0] for b in bad]
        numbers = numbers.copy()
        numbers[bad_labels] = np.nan
        for label in numbers.index[numbers.isna()]:
            if label not in bad_labels:
                bad.append((label, None, "空值"))
        return numbers, bad
    out = np.full(len(values), np.nan)
    bad = []
    for i, (label, raw) in enumerate(values.items()):
        text = _normalise(raw)
        if text is None:
            bad.append((label, raw, "空值"))
            continue
        if _APPROX.search(text):
            bad.append((label, raw, "近似值，无法确定"))
            continue
        pct = percent and text.endswith("%")
        text = text.rstrip("%") if percent else text
        text = units.sub("", text)
        if _THOUSANDS.match(text):
            text = text.replace(",", "")
        if text.startswith("-") and _PLAIN.match(text[1:]):
            bad.append((label, raw, "负数"))
            continue
        if not _PLAIN.match(text):
            bad.append((label, raw, "不是数字"))
            continue
        number = float(text)
        if integer and number % 1 != 0:
            bad.append((label, raw, "不是整数"))
            continue
        if pct:
            number /= 100.0
        out[i] = number
    return pd.Series(out, index=values.index, name=values.name), bad


def clean_counts(
    values: pd.Series, *, maximum: float | None = None
) -> tuple[pd.Series, list[tuple[object, object, str]]]:
    """Clean a count column (户数, 人口, 协理员人数 …).

    Returns a float Series (NaN where unusable) and a list of
    ``(row label, raw value, reason)`` for every value that was not usable.
    A value above ``maximum`` (see :data:`PLAUSIBLE_MAX`) is unusable with the
    reason :data:`IMPLAUSIBLE`.

    Examples
    --------
    >>> s, bad = clean_counts(pd.Series(["1,200", "86户", "１２０", "约300", "-5", None]))
    >>> s.tolist()[:3]
    [1200.0, 86.0, 120.0]
    >>> [reason for _, _, reason in bad]
    ['近似值，无法确定', '负数', '空值']
    >>> _, bad = clean_counts(pd.Series([120, 1e12]), maximum=10_000)
    >>> [(label, reason) for label, _, reason in bad]
    [(1, '超出合理上限')]
    """
    series, bad = _clean(values, integer=True, units=_COUNT_UNITS)
    if maximum is not None:
        high = series.index[series > maximum]
        bad += [(label, values[label], IMPLAUSIBLE) for label in high]
        series = series.copy()
        series[high] = np.nan
    return series, bad


def clean_numbers(
    values: pd.Series, *, rate: bool = False
) -> tuple[pd.Series, list[tuple[object, object, str]]]:
    """Clean a non-negative measurement (m², 万元) or, with ``rate=True``, a rate.

    Rates accept ``"85%"`` (-> 0.85) and fractions ``0.85``; a bare number above 1
    is read as a percentage (85 -> 0.85).
    """
    units = _AREA_UNITS if not rate else _COUNT_UNITS
    series, bad = _clean(values, integer=False, units=units, percent=rate)
    if rate:
        series = series.where(~(series > 1), series / 100.0)
    return series, bad


_TYPE_OF = {_key(v): t for t, values in COMMUNITY_TYPES.items() for v in values}


def community_type(values: pd.Series) -> pd.Series:
    """城市 / 农村 per value of a 社区类型 column; None where blank or not recognised.

    Examples
    --------
    >>> community_type(pd.Series(["城镇社区", " 农村 ", "Rural", "混合", None])).tolist()
    ['城市', '农村', '农村', None, None]
    """

    def one(v: object) -> str | None:
        text = _normalise(v)
        return None if text is None else _TYPE_OF.get(_key(text))

    out = values.map(one).astype(object)
    return out.where(out.notna(), None)


_TRUE = {"是", "y", "yes", "true", "1", "t", "有", "√", "✓", "x"}
_FALSE = {"否", "n", "no", "false", "0", "f", "无", ""}


def clean_flags(values: pd.Series) -> tuple[pd.Series, list[tuple[object, object, str]]]:
    """Clean a yes/no flag (是/否, Y/N, 1/0). Blank is ``False``; anything else is reported."""
    out = []
    bad = []
    for label, raw in values.items():
        text = (_normalise(raw) or "").casefold()
        if text in _TRUE:
            out.append(True)
        elif text in _FALSE:
            out.append(False)
        else:
            out.append(False)
            bad.append((label, raw, "无法识别的是/否值"))
    return pd.Series(out, index=values.index, name=values.name, dtype=bool), bad


def problems_from_bad(
    bad: list[tuple[object, object, str]],
    *,
    code: str,
    column: str,
    source: Mapping,
    what: str,
    fix: str,
    row_of: Callable[[object], object] = lambda label: label,
) -> list[Problem]:
    """Turn the ``bad`` list of a cleaner into warnings naming file, layer, column and row."""
    return [
        Problem(
            "warning",
            code,
            f"{what}的值 {'（空）' if reason == '空值' else repr(raw)} 无法使用（{reason}），按缺失处理",
            fix=fix,
            file=str(source.get("file", "")),
            layer=str(source.get("layer") or ""),
            column=column,
            row=row_of(label),
        )
        for label, raw, reason in bad
    ]
