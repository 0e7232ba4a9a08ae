"""Evaluators of the counting rule kinds: range, coordinators, staff, floor area, facilities, ratio.

Each takes the units, one :class:`~gridmap.rules.Rule` and a language and returns the rule's
value, threshold, status, gap and message per unit; :func:`gridmap.rules.evaluate` stacks them
into findings. The coverage kind is :mod:`gridmap.rules.coverage_rule`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from gridmap.facilities import type_label
from gridmap.rules._evaluator import (
    _column,
    _Eval,
    _message_array,
    _not_assessed_msg,
)
from gridmap.rules._text import _fmt, _map_text, _pct
from gridmap.rules.model import AREA_MEASURES, FAIL, NOT_ASSESSED, PASS, Rule

__all__ = ["required_coordinators", "exempt_flags"]


def required_coordinators(households: pd.Series, rule: Rule) -> pd.Series:
    """max(min_per_unit, ceil(households / per)); NaN where households is missing.

    Examples
    --------
    >>> from gridmap.rules import load_profile
    >>> r = load_profile("national").rule("grid.coordinators")
    >>> required_coordinators(pd.Series([0, 300, 301, 900.0]), r).tolist()
    [1.0, 1.0, 2.0, 3.0]
    """
    per = float(rule.params["per"])
    floor = float(rule.params.get("min_per_unit", 1))
    return np.maximum(floor, np.ceil(households / per)).where(households.notna())


def exempt_flags(units: pd.DataFrame, column: str | None) -> pd.Series:
    """The minimum-exemption flag per unit (e.g. ``sparse`` 居民分散).

    True only where the column says so; a missing column or value is not an exemption.
    The range rule and :meth:`SizeBand.classify` callers read the flag through this one
    function.

    Examples
    --------
    >>> exempt_flags(pd.DataFrame({"sparse": [True, None, 0]}), "sparse").tolist()
    [True, False, False]
    """
    if not column or column not in units.columns:
        return pd.Series(False, index=units.index, dtype=bool)
    flag = units[column]
    if flag.dtype == object:
        flag = flag.map(_is_set)
    return flag.fillna(False).astype(bool)


def _is_set(v: object) -> bool:
    """A flag cell of an object column: a true number or bool; anything else (text, NaN) is not."""
    numbers = (bool, np.bool_, int, float, np.integer, np.floating)
    if isinstance(v, numbers) and not (isinstance(v, float) and math.isnan(v)):
        return bool(v)
    return False


def _eval_range(units: pd.DataFrame, rule: Rule, lang: str) -> _Eval:
    p = rule.params
    return _range(
        units.index,
        _column(units, p["metric"]).to_numpy(),
        exempt_flags(units, p.get("exempt_min_if")).to_numpy(dtype=bool),
        rule,
        lang,
        lambda: _not_assessed_msg(rule, units, lang),
    )


def _range(
    index: pd.Index,
    v: np.ndarray,
    exempt: np.ndarray,
    rule: Rule,
    lang: str,
    not_assessed: Callable[[], str],
) -> _Eval:
    """A value per unit within ``rule``'s min/max (``exempt`` units waive the minimum).

    ``not_assessed()`` words the units without a value (called only when there are some).
    """
    # on arrays, not Series: a plan edit re-runs every rule, and pandas' per-call overhead
    # (alignment, masks, where) was most of its cost; wording only for the failing units
    p = rule.params
    n = len(v)
    lo, hi = p.get("min"), p.get("max")
    pct = rule.unit == "%"
    f: Callable[[Any], str] = _pct if pct else _fmt
    unit = "" if pct else rule.unit
    known = ~np.isnan(v)
    below = v < lo - 1e-9 if lo is not None else np.zeros(n, dtype=bool)
    under = below & ~exempt
    over = v > hi + 1e-9 if hi is not None else np.zeros(n, dtype=bool)
    status = np.where(~known, NOT_ASSESSED, np.where(under | over, FAIL, PASS))
    gap = np.zeros(n)
    if lo is not None:
        gap = np.where(under, lo - v, gap)
    if hi is not None:
        gap = np.where(over, v - hi, gap)
    gap = np.where(known, gap, np.nan)
    if lo is not None and hi is not None:
        threshold = f"{f(lo)}–{f(hi)}{unit}"
    elif lo is not None:
        threshold = f"≥{f(lo)}{unit}"
    else:
        threshold = f"≤{f(hi)}{unit}"
    zh = lang == "zh"
    words: dict[float, str] = {}

    def worded(prefix: str, mask: np.ndarray) -> np.ndarray:
        out = np.full(n, "", dtype=object)
        for i in np.flatnonzero(mask & known):
            g = float(gap[i])
            w = words.get(g)
            if w is None:
                w = words[g] = f"{f(g)} {unit}".rstrip()
            out[i] = prefix + w
        return out

    msg = _message_array(
        status,
        [
            (under, worded("低于下限 " if zh else "below minimum by ", under)),
            (over, worded("超出上限 " if zh else "above maximum by ", over)),
            (below & exempt, "居民分散，豁免下限" if zh else "sparse area: minimum waived"),
        ],
        not_assessed() if not known.all() else "",
        "符合" if zh else "compliant",
    )
    return _Eval(
        pd.Series(v, index=index),
        pd.Series(threshold, index=index, dtype=object),  # object: no Arrow string per rule
        pd.Series(status, index=index, dtype=object),
        pd.Series(gap, index=index),
        pd.Series(msg, index=index, dtype=object),
    )


def _eval_required(
    units: pd.DataFrame,
    rule: Rule,
    value: pd.Series,
    required: pd.Series,
    lang: str,
    *,
    zh_short: str,
    en_short: str,
    unit: str,
) -> _Eval:
    """A value that must reach a required amount per unit (the gap worded by ``*_short``)."""
    v, req = value.to_numpy(dtype="float64"), required.to_numpy(dtype="float64")
    known = ~np.isnan(v) & ~np.isnan(req)
    gap = np.where(known, np.clip(req - v, 0, None), np.nan)
    status = np.where(~known, NOT_ASSESSED, np.where(v >= req - 1e-9, PASS, FAIL))
    fail = status == FAIL
    template = zh_short if lang == "zh" else en_short
    text = np.full(len(v), "", dtype=object)
    for i in np.flatnonzero(fail):
        text[i] = template.format(gap=_fmt(float(gap[i])), unit=unit)
    msg = _message_array(
        status,
        [(fail, text)],
        _not_assessed_msg(rule, units, lang) if not known.all() else "",
        "符合" if lang == "zh" else "compliant",
    )
    threshold = _map_text(required, lambda r: f"≥{_fmt(r)}{unit}" if pd.notna(r) else "")
    index = units.index
    return _Eval(
        value,
        threshold,
        pd.Series(status, index=index, dtype=object),
        pd.Series(gap, index=index),
        pd.Series(msg, index=index, dtype=object),
    )


def _eval_coordinators(units: pd.DataFrame, rule: Rule, lang: str) -> _Eval:
    req = required_coordinators(_column(units, "households"), rule)
    return _eval_required(
        units,
        rule,
        _column(units, "coordinators"),
        req,
        lang,
        zh_short="需增配 {gap} 名协理员",
        en_short="{gap} more coordinator(s) needed",
        unit="人",
    )


def _eval_staff(units: pd.DataFrame, rule: Rule, lang: str) -> _Eval:
    p = rule.params
    h = _column(units, "households")
    # one more per *full* step above ``above`` ("每超过400户增配1人": 2,399 户 -> 5, 2,400 -> 6)
    req = (p["base"] + np.floor((h - p["above"]).clip(lower=0) / p["step"] + 1e-9)).where(h.notna())
    ev = _eval_required(
        units,
        rule,
        _column(units, "staff"),
        req,
        lang,
        zh_short="需增配 {gap} 名专职工作人员",
        en_short="{gap} more staff needed",
        unit="人",
    )
    if "max" in p:
        over = ev.value > p["max"]
        ev.status = ev.status.where(~over, FAIL)
        ev.gap = ev.gap.where(~over, ev.value - p["max"])
        cap = f"超出编制上限 {p['max']} 人" if lang == "zh" else f"above the cap of {p['max']}"
        ev.message = ev.message.where(~over, cap)
        ev.threshold = ev.threshold + f"，≤{p['max']}人"
    return ev


def _eval_floor_area(units: pd.DataFrame, rule: Rule, lang: str) -> _Eval:
    p = rule.params
    h = _column(units, "households")
    req = np.maximum(float(p.get("min_total", 0)), p["per_100"] * h / 100.0).where(h.notna())
    col = f"{AREA_MEASURES[p.get('area_measure', 'gross')]}:{rule.id}"
    if col not in units.columns:
        # no facilities layer: only a rule that names an attribute column falls back to it
        col = p.get("attribute", col)
    value = _column(units, col)
    return _eval_required(
        units,
        rule,
        value,
        req,
        lang,
        zh_short="服务用房缺 {gap} m²",
        en_short="service floor area short by {gap} m²",
        unit="m²",
    )


def _eval_facilities(units: pd.DataFrame, rule: Rule, lang: str) -> _Eval:
    required = list(rule.params["required"])
    if "facility_types" in units.columns:
        present = units["facility_types"].to_numpy(dtype=object)
    else:
        present = np.full(len(units), None, dtype=object)
    not_assessed = (np.nan, NOT_ASSESSED, np.nan, _not_assessed_msg(rule, units, lang))
    seen: dict[Any, tuple[float, str, float, str]] = {}  # units share a handful of type sets
    rows = []
    for have in present:
        if have is None or (isinstance(have, float) and math.isnan(have)):
            rows.append(not_assessed)
            continue
        key = have if isinstance(have, tuple) else tuple(have)
        row = seen.get(key)
        if row is None:
            row = seen[key] = _facilities_row(set(have), required, lang)
        rows.append(row)
    value, status, gap, msg = (list(col) for col in zip(*rows, strict=True)) if rows else ([],) * 4
    threshold = f"{len(required)}/{len(required)}"
    index = units.index
    return _Eval(
        pd.Series(value, index=index, dtype="float64"),
        pd.Series(threshold, index=index),
        pd.Series(status, index=index),
        pd.Series(gap, index=index, dtype="float64"),
        pd.Series(msg, index=index),
    )


def _facilities_row(
    have: set[Any], required: list[str], lang: str
) -> tuple[float, str, float, str]:
    """Value, status, gap and message of one unit with the facility types ``have``."""
    missing = [t for t in required if t not in have]
    if not missing:
        return float(len(required)), PASS, 0.0, "符合" if lang == "zh" else "compliant"
    sep = "、" if lang == "zh" else ", "
    names = sep.join(type_label(t, lang="zh" if lang == "zh" else "en") for t in missing)
    msg = f"缺少 {names}" if lang == "zh" else f"missing {names}"
    return float(len(required) - len(missing)), FAIL, float(len(missing)), msg


def _eval_ratio(units: pd.DataFrame, rule: Rule, lang: str) -> _Eval:
    p = rule.params
    num = _column(units, p["numerator"]).to_numpy()
    den = _column(units, p["denominator"]).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # as pandas: inf
        value = (num / np.where(den > 0, den, np.nan)) * float(p.get("scale", 1))
    shadow = Rule(
        rule.id,
        rule.level,
        "range",
        rule.title_zh,
        rule.title_en,
        rule.source,
        rule.severity,
        rule.unit or ("%" if p.get("scale", 1) == 1 else ""),
        {k: p[k] for k in ("min", "max") if k in p},
    )
    no_exemption = np.zeros(len(value), dtype=bool)
    # the ratio's own reason (its numerator or denominator) for units without a value
    return _range(
        units.index, value, no_exemption, shadow, lang, lambda: _not_assessed_msg(rule, units, lang)
    )
