"""Coverage rules: the radius a rule uses, how it is worded, and its findings.

A coverage rule asks that a share (``min_share``) of a unit's households lie within a radius
of a facility of a type; :func:`gridmap.check` measures the share into the unit column
``coverage:{rule id}`` and this module turns it into findings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridmap.facilities import type_label
from gridmap.rules import FAIL, NOT_ASSESSED, PASS, Rule
from rules_reference._evaluator import _column, _Eval, _messages, _not_assessed_msg
from rules_reference._text import _fmt, _pct, _share_text

__all__ = ["coverage_radius", "radius_text"]


def coverage_radius(rule: Rule) -> float:
    """The radius in metres of a coverage rule.

    ``radius_m`` as written, or ``minutes`` × ``speed_kmh`` (default 4.8 km/h).

    The conversion from minutes is the rule's own, not GB 50180-2018's: that standard
    gives its life circles as walking distances (5 minutes ≈ 300 m, 10 minutes ≈
    500 m, 15 minutes 800–1000 m), so 10 minutes at 4.8 km/h (800 m) is not its
    10-minute circle. Findings state how the radius was obtained (see :func:`radius_text`).

    Examples
    --------
    >>> def rule(**p):
    ...     return Rule("x", "community", "coverage", "", "", "", params=p)
    >>> coverage_radius(rule(facility_type="market", radius_m=500))
    500.0
    >>> coverage_radius(rule(facility_type="market", minutes=10))
    800.0
    """
    p = rule.params
    if "radius_m" in p:
        return float(p["radius_m"])
    speed = float(p.get("speed_kmh", 4.8))
    if speed <= 0:
        raise ValueError(f"speed_kmh must be positive, got {speed}")
    return float(p["minutes"]) * speed * 1000.0 / 60.0


def radius_text(rule: Rule, lang: str = "zh") -> str:
    """The radius a coverage rule uses, exactly, and how it was obtained.

    Examples
    --------
    >>> def rule(**p):
    ...     return Rule("x", "community", "coverage", "", "", "", params=p)
    >>> radius_text(rule(facility_type="market", radius_m=500))
    '500 m'
    >>> radius_text(rule(facility_type="market", minutes=10))
    '800 m（按 10 分钟 × 4.8 km/h 折算）'
    >>> radius_text(rule(facility_type="m", minutes=7, speed_kmh=4.5), "en")
    '525 m (7 min at 4.5 km/h)'
    """
    metres, how = _radius_parts(rule, lang)
    if not how:
        return metres
    return f"{metres}（{how}）" if lang == "zh" else f"{metres} ({how})"


def _radius_parts(rule: Rule, lang: str) -> tuple[str, str]:
    """(``"800 m"``, ``"按 10 分钟 × 4.8 km/h 折算"``): the radius and, from minutes, how."""
    metres = f"{round(coverage_radius(rule), 2):g} m"
    p = rule.params
    if "radius_m" in p:
        return metres, ""
    minutes, speed = f"{float(p['minutes']):g}", f"{float(p.get('speed_kmh', 4.8)):g}"
    if lang == "zh":
        return metres, f"按 {minutes} 分钟 × {speed} km/h 折算"
    return metres, f"{minutes} min at {speed} km/h"


def _eval_coverage(units: pd.DataFrame, rule: Rule, lang: str) -> _Eval:
    """Share of households covered ≥ ``min_share``.

    A walking rule measured without a network has no share but may have the
    straight-line upper bound ``coverage_bound:{rule id}`` (households within the
    radius in a straight line / households; a walk is never shorter): the unit
    fails when even the bound is below ``min_share`` (gap from the bound: at least
    that many households still to cover), and is not assessed otherwise; the
    finding's value is the bound in both cases.
    """
    p = rule.params
    zh = lang == "zh"
    share = _column(units, f"coverage:{rule.id}")
    covered = _column(units, f"covered:{rule.id}")
    bound = _column(units, f"coverage_bound:{rule.id}").where(share.isna())
    covered_bound = _column(units, f"covered_bound:{rule.id}").where(bound.notna())
    total = _column(units, "households")
    need = float(p.get("min_share", 1.0))
    by_bound = bound < need - 1e-12  # False where NaN
    status = pd.Series(
        np.where(
            share.notna(),
            np.where(share >= need - 1e-12, PASS, FAIL),
            np.where(by_bound, FAIL, NOT_ASSESSED),
        ),
        index=units.index,
    )
    # gap: households that must still be covered to reach the share (from the bound: at least
    # that many)
    reach = covered.where(share.notna(), covered_bound.where(by_bound))
    gap = np.ceil((need * total - reach).clip(lower=0) - 1e-9).clip(lower=0)
    mode = p.get("mode", "straight")
    if zh:
        how = "步行" if mode == "network" else "直线"
    else:
        how = "walking" if mode == "network" else "straight-line"
    # the message names the metres, the threshold how they were obtained
    metres, derived = _radius_parts(rule, lang)
    msg = _messages(
        status,
        [
            (
                status == FAIL,
                _uncovered_text(
                    total,
                    covered,
                    share,
                    label=type_label(p["facility_type"], lang=lang),
                    how=how,
                    metres=metres,
                    zh=zh,
                ),
            )
        ],
        _coverage_not_assessed_msg(units, rule, lang),
        "符合" if zh else "compliant",
    )
    for i in np.flatnonzero(bound.notna().to_numpy()):
        msg.iloc[i] = _bound_message(
            bound.iloc[i], need, gap.iloc[i], fails=bool(by_bound.iloc[i]), zh=zh
        )
    derived = ("，" if zh else ", ") + derived if derived else ""
    if zh:
        threshold = f"≥{_pct(need)}（{how} {metres}{derived}）"
    else:
        threshold = f"≥{_pct(need)} ({how} {metres}{derived})"
    return _Eval(
        share.where(share.notna(), bound),
        pd.Series(threshold, index=units.index),
        status,
        gap.where(share.notna() | by_bound),
        msg,
    )


def _uncovered_text(
    total: pd.Series,
    covered: pd.Series,
    share: pd.Series,
    *,
    label: str,
    how: str,
    metres: str,
    zh: bool,
) -> pd.Series:
    """Per unit: how many households lie beyond the radius (empty where not measured)."""
    unc = (total - covered).where(share.notna())

    def text(g: float) -> str:
        if pd.isna(g):
            return ""
        if zh:
            return f"{_fmt(g)} 户在{label}{how} {metres} 范围外"
        return f"{_fmt(g)} households beyond {metres} ({how}) of a {label}"

    return unc.map(text)


def _coverage_not_assessed_msg(units: pd.DataFrame, rule: Rule, lang: str) -> str:
    """Why a unit's coverage is not assessed: nothing measured, not this rule, or no data."""
    zh = lang == "zh"
    if not any(str(c).startswith("coverage:") for c in units.columns):
        if zh:
            return "未评估：未计算覆盖率（缺少住户、设施或路网数据）"
        return "not assessed: coverage not computed (households, facilities or network missing)"
    if f"coverage:{rule.id}" not in units.columns:
        return _not_assessed_msg(rule, units, lang)
    if zh:
        return "未评估：该单元无住户或无路网数据"
    return "not assessed: no households (or no network) in this unit"


def _bound_message(bound: float, need: float, gap: float, *, fails: bool, zh: bool) -> str:
    """The message of a unit judged by its straight-line upper bound (no network)."""
    b = _share_text(bound, need)
    if fails and zh:
        return (
            f"无路网；直线距离上限 {b}（步行覆盖率不会更高），低于 {_share_text(need, need)}；"
            f"至少还需覆盖 {_fmt(gap)} 户（按上限计）"
        )
    if fails:
        return (
            f"no network; straight-line upper bound {b} (the walking share cannot be "
            f"higher), below the required {_share_text(need, need)}; at least {_fmt(gap)} "
            "more households to cover (gap from the bound)"
        )
    if zh:
        return f"未评估：无路网；直线距离上限 {b}（步行覆盖率不会更高）"
    return (
        "not assessed: no network; straight-line upper bound "
        f"{b} (the walking share cannot be higher)"
    )
