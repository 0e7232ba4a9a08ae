"""Which maps a result has (*map families*) and what each is called.

A family is ``"overview"`` (every community by its overall status), the id of a rule
with failures (``"community.size"``, ``"grid.coordinators"``, …) or
``"coverage:<spec id>"`` for a coverage spec that leaves households uncovered.
Coverage is read from ``result.coverage_result`` (see
:meth:`gridmap.CheckResult.with_coverage` to report other coverage results).
"""

from __future__ import annotations

from typing import Any

from gridmap.check import CheckResult
from gridmap.coverage import CoverageResult
from gridmap.facilities import type_label
from gridmap.rules import Rule

__all__ = ["coverage_gaps", "family_rule", "family_title", "map_families", "spec_text"]

_FAMILY_TITLES = {
    "overview": "社区合规总览",
    "community.size": "社区规模（户数）超出标准范围",
    "grid.coordinators": "网格协理员配备不足",
    "community.floor_area": "社区服务用房面积不足",
    "community.facilities": "社区配套设施缺项",
    "community.service_station": "缺少社区服务站",
}


def family_rule(result: CheckResult, family: str) -> Rule | None:
    """The profile's rule a family maps, or None (overview, coverage family, unknown id)."""
    try:
        return result.profile.rule(family)
    except KeyError:
        return None


def coverage_gaps(result: CheckResult) -> dict[str, Any]:
    """``{spec id: spec}`` of the coverage specs that leave households uncovered.

    Read from the gap cells of ``result.coverage_result``; empty without it.
    """
    cov = result.coverage_result
    gaps = None if cov is None else cov.gaps
    if cov is None or gaps is None or not len(gaps):
        return {}
    out = {}
    for spec in cov.specs:
        col = f"uncovered:{spec.id}"
        if col in gaps.columns and float(gaps[col].sum()) > 0:
            out[spec.id] = spec
    return out


def map_families(result: CheckResult, *, coverage: CoverageResult | None = None) -> list[str]:
    """The maps a report of ``result`` contains: the overview, then one per failing rule.

    Rule families come in profile order; QA findings are not mapped. Coverage
    gap maps (``"coverage:<spec id>"``) follow when coverage results leave
    households uncovered.

    Parameters
    ----------
    result
        A :class:`gridmap.CheckResult`.
    coverage
        A :class:`gridmap.coverage.CoverageResult` to map instead of
        ``result.coverage_result``.

    Returns
    -------
    list of str
    """
    result = result.with_coverage(coverage)
    f = result.findings
    failing = set(f.loc[(f["status"] == "fail") & ~f["rule_id"].str.startswith("qa."), "rule_id"])
    out = ["overview"]
    for rule in result.profile.rules:
        if rule.id in failing and (rule.level == "community" or result.grids is not None):
            out.append(rule.id)
    out += [f"coverage:{k}" for k in coverage_gaps(result)]
    return out


def spec_text(spec: Any) -> str:
    """A coverage spec in words: ``幼儿园（步行距离 300 米）``."""
    mode = "步行距离" if spec.mode == "network" else "直线距离"
    return f"{type_label(spec.facility_type)}（{mode} {spec.radius_m:g} 米）"


def family_title(
    result: CheckResult, family: str, *, coverage: CoverageResult | None = None
) -> str:
    """Chinese map title of a family.

    Parameters
    ----------
    result
        A :class:`gridmap.CheckResult`.
    family
        A map family (see :func:`map_families`).
    coverage
        Coverage results to read instead of ``result.coverage_result``.

    Returns
    -------
    str
    """
    if family in _FAMILY_TITLES:
        return _FAMILY_TITLES[family]
    if family.startswith("coverage:"):
        spec = coverage_gaps(result.with_coverage(coverage)).get(family.split(":", 1)[1])
        return f"{spec_text(spec)}服务覆盖缺口" if spec is not None else family
    rule = family_rule(result, family)
    return f"不符合：{rule.title_zh}" if rule is not None else family
