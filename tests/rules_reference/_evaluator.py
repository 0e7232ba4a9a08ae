"""What every rule evaluator shares: the per-rule result, numeric columns, comparisons, messages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridmap.columns import ALIASES
from gridmap.rules import FAIL, NOT_ASSESSED, PASS, Rule


@dataclass
class _Eval:
    """One rule on every unit: a value, threshold text, status, gap and message per unit."""

    value: pd.Series
    threshold: pd.Series  # text
    status: pd.Series
    gap: pd.Series
    message: pd.Series


def _column(units: pd.DataFrame, name: str) -> pd.Series:
    """The numeric column ``name`` (NaN where absent or not a number)."""
    if name in units.columns:
        return pd.to_numeric(units[name], errors="coerce").astype("float64")
    return pd.Series(np.nan, index=units.index, dtype="float64")


def _compare(value: pd.Series, required: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Status and gap for value ≥ required (a lower bound)."""
    known = value.notna() & required.notna()
    gap = (required - value).clip(lower=0).where(known)
    reached = np.where(value >= required - 1e-9, PASS, FAIL)
    status = pd.Series(np.where(~known, NOT_ASSESSED, reached), index=value.index)
    return status, gap


def _messages(
    status: pd.Series, cases: list[tuple[pd.Series, pd.Series | str]], na_msg: str, ok_msg: str
) -> pd.Series:
    """Per-row message: the first matching case, else compliant / not assessed."""
    out = pd.Series(ok_msg, index=status.index, dtype=object)
    out[status.to_numpy() == NOT_ASSESSED] = na_msg
    for mask, text in reversed(cases):
        m = mask.fillna(False).to_numpy(dtype=bool) & (status.to_numpy() != NOT_ASSESSED)
        if m.any():
            out[m] = text[m] if isinstance(text, pd.Series) else text
    return out


def _not_assessed_msg(rule: Rule, units: pd.DataFrame, lang: str) -> str:
    """Why ``rule`` is not assessed: no facilities layer, missing columns, or a missing value."""
    cols = [c for c in rule.inputs() if c]
    absent = [
        c
        for c in cols
        if c not in units.columns or (c != "facility_types" and units[c].isna().all())
    ]
    if rule.kind == "facilities" and "facility_types" not in units.columns:
        return "未评估：未提供设施图层" if lang == "zh" else "not assessed: no facilities layer"
    if absent:
        if lang == "zh":
            return "未评估：缺少数据列 " + "、".join(_column_label(c) for c in absent)
        return f"not assessed: missing column(s) {', '.join(absent)}"
    return "未评估：该单元数据缺失" if lang == "zh" else "not assessed: value missing for this unit"


def _column_label(canonical: str) -> str:
    """The Chinese name a planner's file would use for a column.

    ``health_record_rate`` -> ``居民健康档案建档率（health_record_rate）``.
    """
    for kind in ("communities", "grids", "households", "facilities"):
        names = ALIASES[kind].get(canonical)
        if names:
            zh = next((n for n in names if not n.isascii()), None)
            if zh:
                return f"{zh}（{canonical}）"
    if canonical == "facility_types":
        return "设施图层（facilities）"
    return canonical
