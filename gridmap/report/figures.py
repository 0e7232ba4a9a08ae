"""The figures every report format shows: headline KPIs, results per rule, failing findings, plan.

Each is read from the one evaluation (the check's findings and summary, the plan's
:meth:`~gridmap.plans.Plan.kpis`), so the PDF, the Excel workbook, the HTML map, the
dashboard and ``gridmap rebalance`` show the same numbers.
"""

from __future__ import annotations

import pandas as pd

from gridmap.check import CheckResult
from gridmap.evaluation import rule_summary, size_counts
from gridmap.labels import UNIT_KIND_LABELS
from gridmap.plans import Plan
from gridmap.report._text import LEVEL_ZH, NOT_ASSESSED_ZH, SEVERITY_ZH, num

__all__ = [
    "bounded_rules",
    "failing",
    "headline_figures",
    "plan_rows",
    "plan_sentence",
    "rule_counts",
]


def bounded_rules(result: CheckResult) -> set[str]:
    """Ids of the walking coverage rules measured by their straight-line bound (no network)."""
    cov = result.coverage_result
    return set(cov.unassessed or ()) if cov is not None else set()


def failing(result: CheckResult, rule_id: str | None = None) -> pd.DataFrame:
    """Failing findings of the profile's rules (QA apart), largest gap first.

    Parameters
    ----------
    result
        A :class:`gridmap.CheckResult`.
    rule_id
        Only this rule's.
    """
    f = result.findings
    f = f[(f["status"] == "fail") & ~f["rule_id"].str.startswith("qa.")]
    if rule_id is not None:
        f = f[f["rule_id"] == rule_id]
    return f.sort_values("gap", ascending=False, kind="stable")


def rule_counts(result: CheckResult) -> pd.DataFrame:
    """Units per status of each rule with findings, in profile order.

    Columns 规则编号, 规则, 层级, 性质, 合规, 不合规, 未评估, 依据.
    """
    f = result.findings
    rows = []
    for rule in result.profile.rules:
        g = f[f["rule_id"] == rule.id]
        if not len(g):
            continue
        vc = g["status"].value_counts()
        rows.append(
            {
                "规则编号": rule.id,
                "规则": rule.title_zh,
                "层级": LEVEL_ZH.get(rule.level, rule.level),
                "性质": SEVERITY_ZH.get(rule.severity, rule.severity),
                "合规": int(vc.get("pass", 0)),
                "不合规": int(vc.get("fail", 0)),
                "未评估": int(vc.get("not_assessed", 0)),
                "依据": rule.source,
            }
        )
    return pd.DataFrame(
        rows, columns=["规则编号", "规则", "层级", "性质", "合规", "不合规", "未评估", "依据"]
    )


def plan_rows(plan: Plan) -> pd.DataFrame:
    """The plan's before/after table (指标, 调整前（现状）, 调整后（方案）).

    From :meth:`gridmap.plans.Plan.kpis`: the same figures the dashboard and
    ``gridmap rebalance`` show.
    """
    before, after = plan.kpis(base=True), plan.kpis()
    band = plan.band
    band_text = band.label() if band else NOT_ASSESSED_ZH

    def count(k: dict, key: str) -> str:
        return NOT_ASSESSED_ZH if k[key] is None else f"{k[key]:,}"

    def in_band(k: dict) -> str:
        return NOT_ASSESSED_ZH if k["in_band"] is None else f"{k['in_band']} / {k['communities']}"

    rows = [
        ("规则配置", plan.profile.id, plan.profile.id),
        ("户数范围", band_text, band_text),
        ("户数达标社区", in_band(before), in_band(after)),
        ("户数过小", count(before, "too_small"), count(after, "too_small")),
        ("户数过大", count(before, "too_large"), count(after, "too_large")),
        ("户数未评估", count(before, "size_not_assessed"), count(after, "size_not_assessed")),
        ("不连续社区", count(before, "non_contiguous"), count(after, "non_contiguous")),
        ("调整单元", "0", count(after, "units_moved")),
        ("涉及住户", "0", count(after, "households_moved")),
    ]
    return pd.DataFrame(rows, columns=["指标", "调整前（现状）", "调整后（方案）"])


def plan_sentence(plan: Plan) -> str:
    """One sentence on the plan's result (the figures of :meth:`gridmap.plans.Plan.kpis`)."""
    kp, band = plan.kpis(), plan.band
    unit = UNIT_KIND_LABELS[plan.unit_kind][0] if plan.unit_kind in UNIT_KIND_LABELS else "单元"
    head = f"调整 {kp['units_moved']} 个{unit}、{kp['households_moved']:,} 户；"
    if kp["in_band"] is None or band is None:
        return (
            head
            + f"规则配置 {plan.profile.id} 无户数范围，规模未评估；不连续 {kp['non_contiguous']}。"
        )
    na = f"，未评估 {kp['size_not_assessed']}" if kp["size_not_assessed"] else ""
    return head + (
        f"调整后 {kp['in_band']} / {kp['communities']} 个社区在 {band.label()}范围内"
        f"（{plan.profile.id}），过大 {kp['too_large']}，过小 {kp['too_small']}{na}，"
        f"不连续 {kp['non_contiguous']}。"
    )


def headline_figures(result: CheckResult) -> list[tuple[str, str, str]]:
    """``(label, value, note)`` headline figures: the KPI boxes of the PDF and HTML, the 汇总 sheet.

    Communities, grids, households, size, coordinators, data quality.
    """
    s = result.summary()
    cs, gs = s["communities_status"], s["grids_status"]
    out = [
        (
            "社区",
            f"{s['communities']:,}",
            f"不合规 {cs.get('fail', 0)}，仅警告 {cs.get('warning', 0)}，合规 {cs.get('pass', 0)}",
        )
    ]
    if s["grids"]:
        out.append(
            ("网格", f"{s['grids']:,}", f"不合规 {gs.get('fail', 0)}，合规 {gs.get('pass', 0)}")
        )
    out.append(
        (
            "住户（户）",
            f"{s['households_total']:,}",
            f"未能分配到社区 {s['households_unassigned']:,} 户",
        )
    )
    band = result.profile.size_band()
    if band is not None:
        sc = size_counts(result)
        off = sc["too_small"] + sc["too_large"]
        assessed = len(result.communities) - sc["not_assessed"]
        note = f"过小 {sc['too_small']}，过大 {sc['too_large']}（{band.label()}）"
        if sc["not_assessed"]:
            note += f"，未评估 {sc['not_assessed']}"
        out.append(
            (
                "规模不达标社区",
                f"{off}" if assessed else NOT_ASSESSED_ZH,
                note if assessed else "缺少户数数据，无法评估社区规模",
            )
        )
    coord_rule = result.profile.first("coordinators", "grid")
    if coord_rule is not None and s["grids"]:
        cs_ = rule_summary(result.findings, coord_rule.id)
        if cs_["assessed"]:
            note = f"{cs_['fail']} 个网格配备不足"
            if cs_["not_assessed"]:
                note += f"，{cs_['not_assessed']} 个网格未评估"
            out.append(("协理员缺口（人）", num(cs_["gap"]), note))
        else:
            out.append(
                (
                    "协理员缺口（人）",
                    NOT_ASSESSED_ZH,
                    f"{cs_['not_assessed']} 个网格缺少网格员人数，未评估",
                )
            )
    out.append(
        (
            "数据质量问题",
            f"{sum(s['qa'].values()):,}",
            f"输入警告 {s['problems']['warning']}，已自动修复 {s['problems']['info']}",
        )
    )
    return out
