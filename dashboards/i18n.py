"""The dashboard's words in 中文 (default) and English.

>>> t("nav.overview"), t("nav.overview", "en")
('概览', 'Overview')
>>> t("no.such.key", "en")
'no.such.key'
"""

from __future__ import annotations

__all__ = ["t", "LANGS", "WORDS"]

LANGS = ("zh", "en")

WORDS: dict[str, tuple[str, str]] = {
    "app.title": ("网格化管理 合规地图", "Grid management compliance maps"),
    "app.profile": ("规则配置", "Rule profile"),
    "nav.overview": ("概览", "Overview"),
    "nav.map": ("合规地图", "Compliance map"),
    "nav.coverage": ("服务覆盖", "Coverage"),
    "nav.findings": ("问题清单", "Findings"),
    # KPIs
    "kpi.communities": ("合规社区", "Compliant communities"),
    "kpi.communities.note": ("不合规 {fail}，仅警告 {warning}，未评估 {na}", "failing {fail}, warnings only {warning}, not assessed {na}"),
    "kpi.households": ("住户", "Households"),
    "kpi.households.note": ("未分配到社区 {n} 户", "{n} not assigned to a community"),
    "kpi.grids_short": ("网格员不足的网格", "Grids short of coordinators"),
    "kpi.grids_short.note": ("共 {n} 个网格，缺 {gap} 人", "of {n} grids, {gap} coordinators short"),
    "kpi.coverage": ("服务覆盖", "Coverage"),
    "kpi.coverage.none": ("未计算", "not computed"),
    "kpi.coverage.note": ("住户在服务半径内的比例", "share of households within the service radius"),
    "kpi.coverage.rule": ("规则的覆盖要求", "coverage rules of the profile"),
    "ov.worst": ("问题最多的社区", "Worst offenders"),
    "ov.chart": ("各规则结果", "Results per rule"),
    "ov.map": ("社区总体状态", "Overall status of communities"),
    "col.name": ("名称", "Name"),
    "col.street": ("街道", "Street"),
    "col.households": ("户数", "Households"),
    "col.fails": ("不合规条数", "Failed rules"),
    "col.worst": ("主要问题", "Main issue"),
    # status
    "status.pass": ("合规", "compliant"),
    "status.warning": ("仅警告", "warnings only"),
    "status.fail": ("不合规", "failing"),
    "status.not_assessed": ("未评估", "not assessed"),
    "status.nodata": ("无数据", "no data"),
    # compliance map
    "cm.level": ("单元", "Units"),
    "level.community": ("社区", "Communities"),
    "level.grid": ("网格", "Grids"),
    "cm.color_by": ("着色依据", "Colour by"),
    "cm.opt.status": ("总体状态", "Overall status"),
    "cm.group.rule": ("规则", "Rule"),
    "cm.group.metric": ("指标", "Metric"),
    "metric.households": ("户数", "Households"),
    "metric.coordinator_gap": ("网格员缺口（人）", "Coordinator gap (persons)"),
    "metric.floor_area_gap": ("服务用房缺口（m²）", "Floor-area gap (m²)"),
    "metric.coverage_share": ("服务覆盖率", "Coverage share"),
    "cm.legend": ("图例", "Legend"),
    "cm.detail.empty": ("点击地图上的单元查看详情（每条规则的数值、标准和依据）。",
                        "Click a unit on the map for its details (every rule's value, threshold and source)."),
    "detail.rule": ("规则", "Rule"),
    "detail.value": ("数值", "Value"),
    "detail.threshold": ("标准", "Threshold"),
    "detail.status": ("结果", "Result"),
    "detail.gap": ("缺口", "Gap"),
    "detail.message": ("说明", "Message"),
    "detail.source": ("依据", "Source"),
    "detail.metrics": ("基本数据", "Figures"),
    # coverage
    "cv.type": ("设施类型", "Facility type"),
    "cv.radius": ("服务半径（米）", "Radius (m)"),
    "cv.method": ("距离", "Distance"),
    "cv.method.euclidean": ("直线距离", "Straight line"),
    "cv.method.network": ("步行路网", "Walking network"),
    "cv.none": ("覆盖分析未计算（此 gridmap 没有 gridmap.coverage）。地图只显示该类设施的位置。",
                "Coverage not computed (this gridmap has no gridmap.coverage). The map shows where the facilities are."),
    "cv.failed": ("覆盖分析失败：{err}", "Coverage failed: {err}"),
    "cv.facilities": ("设施", "Facilities"),
    "cv.gaps": ("覆盖缺口", "Gap cells"),
    "cv.uncovered": ("半径外住户", "Households beyond the radius"),
    "cv.share": ("覆盖率", "Covered share"),
    # findings
    "ft.search": ("搜索名称、编码、规则或说明…", "Search name, code, rule or message…"),
    "ft.status": ("结果", "Result"),
    "ft.level": ("单元", "Units"),
    "ft.all": ("全部", "all"),
    "ft.count": ("共 {n} 条", "{n} findings"),
    "ft.hint": ("点击一行，地图缩放到该单元。", "Click a row to zoom the map to that unit."),
    "col.level": ("层级", "Level"),
    "col.unit_id": ("编码", "Code"),
    "col.unit_name": ("名称", "Name"),
    "col.rule": ("规则", "Rule"),
    "col.value": ("数值", "Value"),
    "col.threshold": ("标准", "Threshold"),
    "col.status": ("结果", "Result"),
    "col.gap": ("缺口", "Gap"),
    "col.message": ("说明", "Message"),
    "col.source": ("依据", "Source"),
    "basemap.warning": ("底图为 GCJ-02（高德/腾讯）坐标时会与 CGCS2000 数据错开数百米。",
                        "GCJ-02 basemap tiles (Amap/Tencent) are offset by hundreds of metres from CGCS2000 data."),
}


def t(key: str, lang: str = "zh", **fmt) -> str:
    """The text for ``key`` in ``lang`` (the key itself when unknown)."""
    pair = WORDS.get(key)
    if pair is None:
        return key
    text = pair[1] if lang == "en" else pair[0]
    return text.format(**fmt) if fmt else text
