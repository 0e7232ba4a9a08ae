"""The dashboard's words in 中文 (default) and English; status names are gridmap.labels'.

>>> t("nav.overview"), t("nav.overview", "en")
('概览', 'Overview')
>>> t("no.such.key", "en")
'no.such.key'
"""

from __future__ import annotations

from typing import Any

from gridmap.labels import STATUS_LABELS

__all__ = ["t", "LANGS", "WORDS", "dropdown_labels"]

LANGS = ("zh", "en")

WORDS: dict[str, tuple[str, str]] = {
    "app.title": ("网格化管理 合规地图", "Grid management compliance maps"),
    "app.profile": ("规则配置", "Rule profile"),
    "nav.overview": ("概览", "Overview"),
    # the texts inside every dropdown (Dash's own are English)
    "dd.select": ("请选择…", "Select…"),
    "dd.search": ("搜索…", "Search…"),
    "dd.clear_search": ("清除搜索", "Clear search"),
    "dd.clear_selection": ("清除选择", "Clear selection"),
    "dd.no_options_found": ("没有匹配的选项", "No options found"),
    "dd.select_all": ("全选", "Select all"),
    "dd.deselect_all": ("全不选", "Deselect all"),
    "dd.selected_count": ("已选 {num_selected} 项", "{num_selected} selected"),
    "nav.map": ("合规地图", "Compliance map"),
    "nav.coverage": ("服务覆盖", "Coverage"),
    "nav.findings": ("问题清单", "Findings"),
    "nav.plans": ("边界调整", "Plans"),
    # KPIs
    "kpi.communities": ("合规社区", "Compliant communities"),
    "kpi.communities.note": (
        "不合规 {fail}，仅警告 {warning}，未评估 {na}",
        "failing {fail}, warnings only {warning}, not assessed {na}",
    ),
    "kpi.households": ("住户", "Households"),
    "kpi.households.note": ("未分配到社区 {n} 户", "{n} not assigned to a community"),
    "kpi.grids_short": ("网格员不足的网格", "Grids short of coordinators"),
    "kpi.grids_short.note": (
        "共 {n} 个网格，缺 {gap} 人",
        "of {n} grids, {gap} coordinators short",
    ),
    "kpi.grids_short.partial": (
        "共 {n} 个网格，缺 {gap} 人；{na} 个网格未评估",
        "of {n} grids, {gap} coordinators short; {na} grids not assessed",
    ),
    "kpi.grids_short.na": (
        "{na} 个网格缺少网格员人数，无法评估",
        "{na} grids lack coordinator counts: cannot be assessed",
    ),
    "kpi.na": ("未评估", "not assessed"),
    "kpi.grids_short.nogrids": ("未提供网格图层", "no grids layer"),
    "kpi.grids_short.norule": ("规则配置无网格员配备规则", "the profile has no coordinator rule"),
    "kpi.size": ("户数不达标社区", "Communities out of band"),
    "kpi.size.note": (
        "偏小 {small}，偏大 {large}（{band}）",
        "too small {small}, too large {large} ({band})",
    ),
    "kpi.size.partial": (
        "偏小 {small}，偏大 {large}（{band}）；未评估 {na}",
        "too small {small}, too large {large} ({band}); {na} not assessed",
    ),
    "kpi.size.na": ("缺少户数数据，无法评估", "no household counts: cannot be assessed"),
    "kpi.size.none": ("规则配置无户数范围", "the profile has no household band"),
    "kpi.coverage": ("服务覆盖", "Coverage"),
    "kpi.coverage.none": ("未计算", "not computed"),
    "kpi.coverage.note": (
        "住户在服务半径内的比例",
        "share of households within the service radius",
    ),
    "kpi.coverage.rule": ("规则的覆盖要求", "coverage rules of the profile"),
    "ov.worst": ("问题最多的社区", "Worst offenders"),
    "ov.chart": ("各规则结果", "Results per rule"),
    "ov.map": ("社区总体状态", "Overall status of communities"),
    "col.name": ("名称", "Name"),
    "col.street": ("街道", "Street"),
    "col.households": ("户数", "Households"),
    "col.fails": ("不合规条数", "Failed rules"),
    "col.errors": ("其中严重", "Of which serious"),
    "ov.share": ("占该层级单元的比例", "share of the rule's units"),
    "col.worst": ("主要问题", "Main issue"),
    # status: ``status.<status>`` from gridmap.labels, added below
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
    "cm.export.png": ("导出地图 PNG", "Export map (PNG)"),
    "cm.export.pdf": ("导出地图 PDF", "Export map (PDF)"),
    "cm.detail.empty": (
        "点击地图上的单元查看详情（每条规则的数值、标准和依据）。",
        "Click a unit on the map for its details (every rule's value, threshold and source).",
    ),
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
    "cv.none": (
        "覆盖分析未计算（此 gridmap 没有 gridmap.coverage）。地图只显示该类设施的位置。",
        "Coverage not computed (this gridmap has no gridmap.coverage). The map shows where the facilities are.",
    ),
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
    "ft.export.xlsx": ("导出 Excel", "Export Excel"),
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
    # plans (边界调整)
    "pl.kpi.in_band": ("户数达标社区", "Communities in band"),
    "pl.kpi.in_band.note": (
        "偏小 {small}，偏大 {large}（{band}，{profile}）",
        "too small {small}, too large {large} ({band}, {profile})",
    ),
    "pl.kpi.in_band.partial": (
        "偏小 {small}，偏大 {large}，未评估 {na}（{band}，{profile}）",
        "too small {small}, too large {large}, {na} not assessed ({band}, {profile})",
    ),
    "pl.kpi.in_band.na": (
        "规则配置 {profile} 无户数范围或缺少户数",
        "profile {profile} has no band, or households are missing",
    ),
    "pl.kpi.units_moved": ("调整网格", "Units moved"),
    "pl.kpi.units_moved.note": ("已记录 {n} 步编辑", "{n} edits in the journal"),
    "pl.kpi.households_moved": ("涉及住户", "Households moved"),
    "pl.kpi.households_moved.note": ("共 {n} 户", "of {n} households"),
    "pl.kpi.contiguity": ("不连续社区", "Non-contiguous communities"),
    "pl.kpi.contiguity.note": ("每个社区应连成一片", "every community should be one piece"),
    "pl.map.plan": ("调整方案", "Plan"),
    "pl.map.base": ("现状", "As-is"),
    "pl.color": ("着色", "Colour by"),
    "pl.color.community": ("社区", "Community"),
    "pl.color.status": ("户数是否达标", "Band status"),
    "pl.status.pass": ("户数达标", "in band"),
    "pl.status.too_small": ("户数偏小", "too small"),
    "pl.status.too_large": ("户数偏大", "too large"),
    "pl.status.not_assessed": ("未评估", "not assessed"),
    "pl.hint": (
        "点击地图上的网格选中/取消选中（可多选），再选择操作。",
        "Click grids on the map to select or deselect them (several at once), then choose an edit.",
    ),
    "pl.selection": (
        "已选 {n} 个网格（{hh:,} 户）：{names}",
        "{n} grids selected ({hh:,} households): {names}",
    ),
    "pl.selection.none": ("未选择网格", "No grid selected"),
    "pl.move_to": ("移入相邻社区", "Move to neighbouring community"),
    "pl.move": ("移动", "Move"),
    "pl.create": ("选中网格设为新社区", "New community from selection"),
    "pl.clear": ("清除选择", "Clear selection"),
    "pl.split": ("拆分社区", "Split community"),
    "pl.split.k": ("份数", "parts"),
    "pl.split.go": ("拆分", "Split"),
    "pl.merge": ("合并社区", "Merge communities"),
    "pl.merge.go": ("合并", "Merge"),
    "pl.undo": ("撤销", "Undo"),
    "pl.redo": ("重做", "Redo"),
    "pl.reset": ("重新开始（现状）", "Start over (as-is)"),
    "pl.band": ("户数范围", "Household band"),
    "pl.band.value": (
        "{band}（规则配置 {profile}，可在页首切换）",
        "{band} (profile {profile}; switch it at the top)",
    ),
    "pl.band.none": (
        "规则配置 {profile} 无户数范围，无法自动调整",
        "profile {profile} has no household band: nothing to rebalance to",
    ),
    "pl.rb": ("自动调整（最少变动）", "Rebalance (fewest changes)"),
    "pl.rb.time": ("计算量（秒，同样输入得同样方案）", "Work budget (s, same input → same plan)"),
    "pl.rb.run": ("计算", "Run"),
    "pl.rb.apply": ("应用结果", "Apply result"),
    "pl.rb.result": (
        "结果：{status}，移动 {units} 个网格（{hh:,} 户），剩余不达标 {left} 个，用时 {s:.1f} 秒。",
        "Result: {status}, {units} grids moved ({hh:,} households), {left} violations left, {s:.1f} s.",
    ),
    "pl.rb.status.fixed": ("全部达标", "all in band"),
    "pl.rb.status.partial": ("部分达标", "partly fixed"),
    "pl.rb.status.infeasible": ("无法调整", "cannot be fixed"),
    "pl.rb.status.budget_exhausted": (
        "计算量用尽（可加大计算量）",
        "work budget used up (raise it)",
    ),
    "pl.rb.opt.hops": ("相邻范围", "neighbour range"),
    "pl.rb.opt.time_limit": ("计算量", "work budget"),
    "pl.rb.none": ("所有社区已在范围内，无需调整。", "Every community is already within the band."),
    "pl.rb.applied": ("已应用自动调整：移动 {n} 个网格。", "Rebalance applied: {n} grids moved."),
    "pl.rb.stale": ("方案已改变，请重新计算。", "The plan changed since; run again."),
    "pl.save": ("保存", "Save"),
    "pl.name": ("方案名称", "Plan name"),
    "pl.saved": ("已保存的方案", "Saved plans"),
    "pl.load": ("载入", "Load"),
    "pl.saved.ok": ("方案“{name}”已保存到 {path}", "Plan “{name}” saved to {path}"),
    "pl.loaded": ("已载入方案“{name}”（{n} 步编辑）", "Loaded plan “{name}” ({n} edits)"),
    "pl.workspace": ("工作区：{path}", "Workspace: {path}"),
    "pl.export.xlsx": ("下载调整清单 XLSX", "Download change list (XLSX)"),
    "pl.export.gpkg": ("下载新社区边界 GeoPackage", "Download new boundaries (GeoPackage)"),
    "pl.done": ("{op}：完成，涉及 {n} 个网格。", "{op}: done, {n} grids changed."),
    "pl.refused": ("{op}：未执行。", "{op}: refused."),
    "pl.nothing": ("没有可执行的操作。", "Nothing to do."),
    "pl.need.selection": ("请先在地图上选择网格。", "Select grids on the map first."),
    "pl.need.target": ("请选择目标社区。", "Choose the target community."),
    "pl.need.community": ("请选择社区。", "Choose a community."),
    "pl.need.saved": ("请选择已保存的方案。", "Choose a saved plan."),
    "pl.need.two": ("请至少选择两个社区。", "Choose at least two communities."),
    "pl.reset.ok": ("已恢复为现状。", "Back to the as-is assignment."),
    "pl.compare": ("方案与现状对比", "Plan vs as-is"),
    "pl.compare.metric": ("指标", "Metric"),
    "pl.changes": ("调整清单", "Change list"),
    "pl.changes.none": ("尚无调整。", "No changes yet."),
    "pl.takeover": ("其他标签页的草稿", "Drafts of your other tabs"),
    "pl.takeover.button": ("接管到本页", "Take over here"),
    "pl.takeover.option": (
        "{name} · {n} 步未保存 · {when}",
        "{name} · {n} unsaved edits · {when}",
    ),
    "pl.takeover.none": (
        "没有可接管的草稿：请从列表中选择您另一个标签页的草稿。",
        "No such draft: choose one of your other tabs' drafts from the list.",
    ),
    "pl.takeover.dirty": (
        "本页有未保存的编辑：请先保存或重新开始，再接管另一个标签页的草稿。本次没有改动。",
        "This tab has unsaved edits: save or start over first, then take over the other "
        "draft. Nothing was changed.",
    ),
    "pl.takeover.failed": (
        "未能接管草稿：{why}。本次没有改动。",
        "Could not take over the draft: {why}. Nothing was changed.",
    ),
    "pl.takeover.done": (
        "已接管另一个标签页的草稿“{name}”（{n} 步未保存的编辑，最后修改于 {when} UTC），"
        "现在在本页继续编辑。那个标签页如果仍开着，将从现状重新开始，不会再改动这份草稿。",
        "Took over the draft “{name}” of another tab ({n} unsaved edits, last changed {when} "
        "UTC): carry on here. That tab, if still open, starts over from the as-is and no longer "
        "changes this draft.",
    ),
    "pl.warn.too_large": (
        "注意：{name} 调整后 {hh} 户，超出范围 {band}",
        "Note: {name} now has {hh} households, above the band {band}",
    ),
    "pl.warn.too_small": (
        "注意：{name} 调整后 {hh} 户，低于范围 {band}",
        "Note: {name} now has {hh} households, below the band {band}",
    ),
    "pl.proposal.title": (
        "自动调整建议（尚未应用）：移动 {n} 个网格，户数在范围内的社区 {before}/{total} → "
        "{after}/{total}。地图显示调整后的社区，移动的网格以虚线粗框标出；点“应用结果”采用。",
        "Rebalancer's proposal (not applied yet): {n} grids move, communities within the band "
        "{before}/{total} → {after}/{total}. The map shows the communities after it, the moved "
        "grids outlined (dashed); press “Apply result” to take it.",
    ),
    "pl.col.unit": ("网格", "Grid"),
    "pl.col.from": ("原社区", "From"),
    "pl.col.to": ("新社区", "To"),
    "pl.op.move": ("移动", "Move"),
    "pl.op.create": ("新建社区", "New community"),
    "pl.op.split": ("拆分", "Split"),
    "pl.op.merge": ("合并", "Merge"),
    "pl.op.undo": ("撤销", "Undo"),
    "pl.op.redo": ("重做", "Redo"),
    "pl.op.rebalance": ("自动调整", "Rebalance"),
    "basemap.warning": (
        "底图为 GCJ-02（高德/腾讯）坐标时会与 CGCS2000 数据错开数百米。",
        "GCJ-02 basemap tiles (Amap/Tencent) are offset by hundreds of metres from CGCS2000 data.",
    ),
}

WORDS.update({f"status.{status}": zh_en for status, zh_en in STATUS_LABELS.items()})

# Plans page: sessions, drafts, save conflicts, roles, numbers, workspace errors (issue 13)
WORDS.update(
    {
        "pl.tab.login": ("请先登录。", "Please log in first."),
        "pl.tab.invalid": (
            "本页的会话无效或已属于另一位用户：请刷新页面。",
            "This page's session is not valid for you: reload the page.",
        ),
        "pl.tab.renewed": (
            "本页的会话无效，已开始新的会话（现状）。",
            "This page's session was not valid; a new one starts from the as-is assignment.",
        ),
        "pl.viewer": (
            "用户 {user} 为查看者：只能查看和导出，不能编辑或保存方案。",
            "{user} is a viewer: look and export only; editing and saving need an editor.",
        ),
        "pl.readonly": ("（查看者：只能查看和导出）", "(viewer: look and export only)"),
        "pl.bad.k": (
            "份数须为 {low}–{high} 之间的整数。",
            "Parts must be a whole number from {low} to {high}.",
        ),
        "pl.bad.time_limit": (
            "计算量须为 {low}–{high} 之间的数字（秒）。",
            "The work budget must be a number from {low} to {high} (seconds).",
        ),
        "pl.draft.restored": (
            "已恢复 {when} 的草稿“{name}”（{n} 步未保存的编辑）。",
            "Restored the draft “{name}” of {when} ({n} unsaved edits).",
        ),
        "pl.draft.unwritten": (
            "草稿未能写入工作区：{why} 编辑仍在本页，请尽快保存或导出。",
            "The draft could not be written to the workspace: {why} The edit is kept in this "
            "page: save or export soon.",
        ),
        "pl.draft.full.user": (
            "您已有 {n} 个标签页的方案有未保存的编辑（上限）：请先在其中一个保存或重新开始"
            "（已关闭的标签页：在“其他标签页的草稿”中接管到本页），再编辑。本次没有改动。",
            "You already have {n} tabs with unsaved plan edits (the limit): save or start over "
            "in one of them first (a closed tab's: take it over here under “Drafts of your other "
            "tabs”). Nothing was changed.",
        ),
        "pl.draft.full.all": (
            "工作区中未保存的方案草稿已达上限（{n} 个）：请先保存或重新开始已有的方案。本次没有改动。",
            "The workspace holds the most unsaved plan drafts it keeps ({n}): save or start "
            "over existing plans first. Nothing was changed.",
        ),
        "pl.ws.no_space": (
            "工作区所在磁盘空间不足，未保存：请管理员清理磁盘。已保存的方案未受影响。",
            "The workspace's disk is full; nothing was saved. Ask the administrator to free "
            "space; saved plans are intact.",
        ),
        "pl.ws.read_only": (
            "工作区所在磁盘为只读，未保存：请管理员换一个可写的工作区。已保存的方案未受影响。",
            "The workspace is on a read-only disk; nothing was saved. Ask the administrator "
            "for a writable workspace; saved plans are intact.",
        ),
        "pl.ws.permission": (
            "没有写入工作区的权限，未保存：请管理员开放写权限。已保存的方案未受影响。",
            "No permission to write the workspace; nothing was saved. Ask the administrator; "
            "saved plans are intact.",
        ),
        "pl.ws.other": (
            "无法写入工作区，未保存。已保存的方案未受影响。",
            "The workspace cannot be written; nothing was saved. Saved plans are intact.",
        ),
        "pl.saved.as": (
            "已另存为新方案“{name}”（{path}），原方案保持不变。",
            "Saved as the new plan “{name}” ({path}); the other plan is unchanged.",
        ),
        "pl.conflict": (
            "未保存：方案“{name}”在您载入后已由 {who} 于 {when} 保存（{n} 步编辑，改动 {units} "
            "个网格）。您的版本仍在本页：输入新的方案名称后再点“保存”，即另存为新方案。",
            "Not saved: plan “{name}” was saved by {who} at {when} since you loaded it ({n} "
            "edits, {units} grids changed). Your version is still here: enter a new name and "
            "save to keep it as a new plan.",
        ),
        "pl.news.reload": ("重新载入", "Reload"),
        "pl.news.rebase": ("合并我的修改", "Merge my edits"),
    }
)


def t(key: str, lang: str = "zh", **fmt) -> str:
    """The text for ``key`` in ``lang`` (the key itself when unknown)."""
    pair = WORDS.get(key)
    if pair is None:
        return key
    text = pair[1] if lang == "en" else pair[0]
    return text.format(**fmt) if fmt else text


def dropdown_labels(lang: str = "zh") -> Any:
    """The ``labels`` of a ``dcc.Dropdown`` in ``lang`` (its search box, clear buttons, …).

    >>> dropdown_labels()["search"]
    '搜索…'
    """
    keys = ("search", "clear_search", "clear_selection", "no_options_found", "select_all")
    # Any: dcc.Dropdown types the dict as its own TypedDict (Dropdown.Labels)
    return {k: t(f"dd.{k}", lang) for k in (*keys, "deselect_all", "selected_count")}


# Forecast & compare page (issue 18)
WORDS.update(
    {
        "nav.changes": ("预测与对比", "Forecast & compare"),
        "ch.mode": ("模式", "Mode"),
        "ch.mode.forecast": ("预测", "Forecast"),
        "ch.mode.compare": ("对比", "Compare"),
        "ch.year": ("年份", "Year"),
        "ch.target": ("对比对象", "Compare with"),
        "ch.target.year": ("{year} 年预测", "forecast for {year}"),
        "ch.target.plan": ("方案“{name}”", "plan “{name}”"),
        "ch.level": ("层级", "Level"),
        "ch.level.community": ("社区", "community"),
        "ch.level.grid": ("网格", "grid"),
        "ch.level.communities": ("社区", "community"),
        "ch.level.grids": ("网格", "grid"),
        "ch.no_projects": (
            '没有在建项目图层：在配置文件 [study] 中写 projects = "项目.gpkg:图层" 后重新启动。',
            'No projects layer: set projects = "projects.gpkg:layer" in the config\'s [study] '
            "table and restart.",
        ),
        "ch.projects_error": (
            "在建项目图层无法读取：{err}",
            "The projects layer cannot be read: {err}",
        ),
        "ch.no_targets": (
            "没有可对比的对象：需要在建项目（预测年份）或工作区中已保存的方案。",
            "Nothing to compare with: needs projects (forecast years) or a plan saved in the "
            "workspace.",
        ),
        "ch.first_in": ("{year} 年首次出现的违规：{n} 项", "Violations first seen in {year}: {n}"),
        "ch.today": (
            "{year} 年（今天）不合规的规则：{n} 项",
            "Rules failing in {year} (today): {n}",
        ),
        "ch.none_new": ("这一年没有新增违规。", "No new violations this year."),
        "ch.households": ("住户总数", "Households"),
        "ch.fail": ("不合规社区", "Communities failing"),
        "ch.new": ("新增违规", "New violations"),
        "ch.changed": ("变化单元：{n} 个", "Units changed: {n}"),
        "ch.unchanged_all": ("没有变化。", "Nothing changed."),
        "ch.col.level": ("层级", "Level"),
        "ch.col.unit_id": ("编码", "Code"),
        "ch.col.name": ("名称", "Name"),
        "ch.col.rule_title": ("规则", "Rule"),
        "ch.col.households": ("该年户数", "Households that year"),
        "ch.col.message": ("说明", "Message"),
        "ch.col.change": ("变化类型", "Change"),
        "ch.col.community_old": ("原所属社区", "Community before"),
        "ch.col.community_new": ("现所属社区", "Community after"),
        "ch.col.households_old": ("原户数", "Households before"),
        "ch.col.households_new": ("现户数", "Households after"),
        "ch.col.status_old": ("原状态", "Status before"),
        "ch.col.status_new": ("现状态", "Status after"),
        "ch.kind.added": ("新增", "added"),
        "ch.kind.removed": ("撤销", "removed"),
        "ch.kind.recoded": ("改编码", "recoded"),
        "ch.kind.redrawn": ("边界调整", "redrawn"),
        "ch.kind.reassigned": ("改属社区（移动）", "moved to another community"),
        "ch.kind.modified": ("户数/状态变化", "households/status changed"),
        "ch.kind.unchanged": ("未变", "unchanged"),
        "ch.failed": ("计算失败：{err}", "Could not compute: {err}"),
    }
)


# National page (issue 17)
WORDS.update(
    {
        "nav.national": ("全国", "National"),
        "na.mode.status": ("总体状态", "Overall status"),
        "na.mode.households": ("户数", "Households"),
        "na.mode.coordinator_gap": ("网格员缺口", "Coordinators short"),
        "na.mode.fail_share": ("不合规社区占比", "Share of communities failing"),
        "na.gap.none": ("无缺口", "none short"),
        "na.hint": (
            "缩放：区县汇总 → 社区（8 级起）→ 网格（12 级起）",
            "Zoom in: district roll-ups → communities (zoom 8) → grids (zoom 12)",
        ),
        "na.summary": (
            "全国检查结果 {folder}：{districts:,} 个区县，{communities:,} 个社区，{grids:,} 个网格",
            "National result {folder}: {districts:,} districts, {communities:,} communities, "
            "{grids:,} grids",
        ),
        "na.error": (
            "无法打开全国检查结果 {folder}：{err}（[dashboard] national 应指向 "
            "gridmap check --engine dask 的输出文件夹）",
            "Cannot open the national result {folder}: {err} ([dashboard] national must name "
            "the output folder of gridmap check --engine dask)",
        ),
        "na.detail.empty": (
            "点击地图上的单元查看详情。",
            "Click a unit on the map for its figures.",
        ),
        "na.layer.rollup": ("区县", "Districts"),
        "na.layer.communities": ("社区", "Communities"),
        "na.layer.grids": ("网格", "Grids"),
        "na.col.code": ("编码", "Code"),
        "na.col.status": ("总体状态", "Status"),
        "na.col.households": ("户数", "Households"),
        "na.col.coordinators": ("网格员", "Coordinators"),
        "na.col.coordinators_required": ("应配网格员", "Coordinators required"),
        "na.col.communities": ("社区数", "Communities"),
        "na.col.fail": ("不合规社区", "Communities failing"),
        "na.col.in_band": ("户数达标社区", "Communities in the size band"),
        "na.col.fail_share": ("不合规占比", "Share failing"),
        "na.col.size_status": ("户数状态", "Size status"),
        "na.col.community_id": ("所属社区", "Community"),
    }
)
