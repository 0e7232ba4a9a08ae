"""The coverage table of the reports: one row per coverage spec, measured or bounded.

Every format (PDF, XLSX, HTML) shows the same rows, read from ``result.coverage_result``.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from gridmap.check import CheckResult
from gridmap.facilities import type_label
from gridmap.report._text import num

#: the 口径 of a coverage row: measured, or the straight-line bound of a walking share
#: without a network
COV_MEASURED = "实测"
COV_BOUND = "直线距离上限（无路网）"
#: unit counts of a coverage row, by finding status
COV_UNITS = {"合规单位": "pass", "不合规单位": "fail", "未评估单位": "not_assessed"}
#: how a report explains the straight-line bound
COV_BOUND_NOTE = (
    "无路网时，按步行距离的指标以直线距离估计：直线距离不会长于步行距离，“≤”为步行覆盖率的上限，"
    "“≥”为步行半径外住户的下限；上限已低于要求的单位判为不合规（差距按上限计算，为最少需覆盖的户数），"
    "其余未评估。"
)


def coverage_rows(result: CheckResult) -> pd.DataFrame:
    """One row per coverage spec: the study-wide numbers of :meth:`CoverageResult.summary`.

    A walking spec without a network has no measured numbers: its row carries the
    straight-line bound instead (口径 = :data:`COV_BOUND`: 覆盖户数 and 覆盖率 are upper
    bounds, 未覆盖户数 a lower bound), or blanks when there is no bound. The units per
    status of the rule with the spec's id follow (as in findings.csv; blank for a spec
    that is not a rule). Empty without ``result.coverage_result``.
    """
    cov, findings = result.coverage_result, result.findings
    if cov is None:
        return pd.DataFrame()
    rows = []
    for sid, s in cov.summary().items():
        bound = s["share"] is None and s.get("share_bound") is not None
        covered = s.get("covered_bound") if bound else s["covered"]
        measured = COV_MEASURED if s["share"] is not None else "未评估（无路网）"
        row = {
            "覆盖指标": sid,
            "设施类型": type_label(s["facility_type"]),
            "计算方式": "步行距离" if s["mode"] == "network" else "直线距离",
            "服务半径(米)": s["radius_m"],
            "要求覆盖率": s.get("min_share", 1.0),
            "总户数": s["households"],
            "口径": COV_BOUND if bound else measured,
            "覆盖户数": covered,
            "未覆盖户数": None if covered is None else s["households"] - covered,
            "覆盖率": s.get("share_bound") if bound else s["share"],
        }
        vc = findings.loc[findings["rule_id"] == sid, "status"].value_counts()
        row.update({k: int(vc.get(v, 0)) if len(vc) else None for k, v in COV_UNITS.items()})
        rows.append(row)
    out = pd.DataFrame(rows)
    for k in COV_UNITS:
        if k in out.columns:
            out[k] = out[k].astype("Int64")
    return out


def units_text(row: Any, keys: tuple[str, ...] = ("不合规单位", "未评估单位")) -> str:
    """``3 / 27``: units per status of the coverage rule; blank when the spec is not a rule."""
    if any(k not in row.index or pd.isna(row[k]) for k in keys):
        return ""
    return " / ".join(str(int(row[k])) for k in keys)


def share_text(row: Any) -> str:
    """覆盖率 of a coverage row as text: ``62.1%``, ``≤62.1%`` for a bound, blank if unmeasured."""
    share = row["覆盖率"]
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return ""
    return ("≤" if row["口径"] == COV_BOUND else "") + f"{share:.1%}"


def uncovered_text(row: Any) -> str:
    """未覆盖户数 as text: ``1,234``, or ``≥1,234`` for a bound (at least that many beyond)."""
    text = num(row["未覆盖户数"])
    return ("≥" + text) if text and row["口径"] == COV_BOUND else text
