"""Reports a planner can hand in: PDF (A4, Chinese), offline HTML map, Excel tables, GIS layers.

One entry point, :func:`write_report`, picks the format from the file suffix;
each format also has its own function, and the dashboard's export buttons can
call the byte-returning ones (:func:`findings_xlsx`, :func:`report_html_text`,
:func:`gridmap.maps.map_png`).

* **PDF** (:func:`report_pdf`): cover (study, date, profile, data sources),
  summary KPIs, an overview compliance map, one gap map per failing rule with a
  table of its violations and the rule's citation, data-quality findings,
  coverage gap maps when coverage results are present, before/after maps and
  the change list when a plan is given. The bundled CJK font is embedded.
* **HTML** (:func:`report_html`): one self-contained file, no network access at
  all (no CDN, no tiles): an SVG map with pan/zoom, layer switches, tooltips,
  a findings table and search.
* **XLSX** (:func:`report_xlsx`): sheets 汇总, 社区, 网格, 问题清单, 覆盖 (and
  方案变更 with a plan), Chinese headers, frozen header rows, red/green status.
* **Layers** (:func:`export_layers`): GeoPackage, or Shapefiles in GBK (older
  ArcGIS) or UTF-8, of every unit with its status and one gap layer per failing rule.

Every file is written to a temporary file next to the target and moved into
place with :func:`os.replace`: a report is either complete or absent.

Examples
--------
>>> import gridmap, tempfile, os
>>> from gridmap import datasets, report
>>> result = gridmap.check(gridmap.read_study(**datasets.demo_config()))
>>> out = tempfile.mkdtemp()
>>> report.write_report(result, os.path.join(out, "检查报告.xlsx")).name
'检查报告.xlsx'
>>> {"communities", "grids", "gap_community_size"} <= set(report.gap_layers(result))
True
"""

from __future__ import annotations

import datetime as _dt
import html
import io
import json
import math
import os
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame

from gridmap import maps
from gridmap._atomic import atomic_path, staged_dir
from gridmap.crs import crs_label
from gridmap.evaluation import rule_summary, size_counts

__all__ = [
    "write_report",
    "report_pdf",
    "report_html",
    "report_html_text",
    "report_xlsx",
    "report_xlsx_bytes",
    "findings_xlsx",
    "gap_layers",
    "export_layers",
    "STATUS_ZH",
    "FORMATS",
]

#: output formats by file suffix
FORMATS = {".pdf": "pdf", ".html": "html", ".htm": "html", ".xlsx": "xlsx", ".gpkg": "layers", ".shp": "layers"}
#: statuses in Chinese (findings and units)
STATUS_ZH = {"pass": "合规", "fail": "不合规", "warning": "仅警告项不合规", "not_assessed": "未评估"}
_SEVERITY_ZH = {"error": "强制", "warning": "建议", "info": "提示"}
NOT_ASSESSED_ZH = "未评估"
SIZE_ZH = {"pass": "达标", "too_small": "过小", "too_large": "过大", "not_assessed": NOT_ASSESSED_ZH}
_LEVEL_ZH = {"community": "社区", "grid": "网格", "study": "全区", "facility": "设施"}
_COMMUNITY_ZH = {
    "community_id": "社区编码", "name": "社区名称", "street": "街道", "households": "户数", "grids": "网格数",
    "coordinators": "协理员人数", "coordinators_required": "应配协理员", "status": "综合状态", "size_status": "规模状态",
    "sparse": "居民分散",
    "old_estate": "老旧小区", "population": "常住人口", "staff": "专职工作人员", "volunteers": "注册志愿者",
    "area_km2": "面积(km²)", "facility_types": "已有设施类型", "facilities": "设施数",
}
_GRID_ZH = {
    "grid_id": "网格编码", "name": "网格名称", "community_id": "所在社区编码", "community_attr": "所属社区(属性)",
    "households": "户数", "households_source": "户数来源", "coordinators": "协理员人数",
    "coordinators_required": "应配协理员", "status": "综合状态", "area_km2": "面积(km²)",
    "share_in_community": "位于所在社区比例", "second_community": "跨入社区", "second_share": "跨入比例",
}
_FINDING_ZH = {
    "level": "层级", "unit_id": "单位编码", "unit_name": "单位名称", "rule_id": "规则编号", "rule_title": "规则",
    "value": "实测值", "threshold": "标准", "status": "状态", "gap": "差距", "message": "说明",
    "severity": "性质", "source": "依据",
}


# =========================================================================== helpers




def _date_text(date) -> str:
    if date is None:
        return _dt.date.today().isoformat()
    return date if isinstance(date, str) else date.isoformat()


def _width(text: str) -> float:
    """Display width in CJK character units (ASCII ≈ 0.55)."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.55 for ch in text)


def _wrap(text: str, width: float) -> list[str]:
    lines: list[str] = []
    for para in str(text).split("\n"):
        line, w = "", 0.0
        for ch in para:
            cw = 1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.55
            if w + cw > width and line:
                lines.append(line)
                line, w = "", 0.0
            line += ch
            w += cw
        lines.append(line)
    return lines or [""]


def _num(x, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA:
        return ""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if digits == 0 or abs(x - round(x)) < 1e-9:
        return f"{round(x):,}"
    return f"{x:,.{digits}f}"


def _value_text(row, *, upper: bool = False) -> str:
    """A finding's value as text; ``upper``: the value is an upper bound (``≤62.1%``)."""
    v, threshold = row.value, row.threshold
    if threshold and "%" in str(threshold) and isinstance(v, float) and not math.isnan(v):
        return ("≤" if upper else "") + f"{v:.1%}"
    return _num(v, 1)


def _bounded_rules(result) -> set[str]:
    """Ids of the walking coverage rules measured by their straight-line upper bound (no network)."""
    cov = getattr(result, "coverage_result", None)
    return set(getattr(cov, "unassessed", None) or ())


def _failing(result, rule_id: str | None = None) -> pd.DataFrame:
    f = result.findings
    f = f[(f["status"] == "fail") & ~f["rule_id"].str.startswith("qa.")]
    if rule_id is not None:
        f = f[f["rule_id"] == rule_id]
    return f.sort_values("gap", ascending=False, kind="stable")


#: the 口径 of a coverage row: measured, or the straight-line bound of a walking share without a network
_COV_MEASURED = "实测"
_COV_BOUND = "直线距离上限（无路网）"


def _coverage_rows(cov, findings: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per coverage spec: the study-wide numbers of :meth:`CoverageResult.summary`.

    A walking spec without a network has no measured numbers: its row carries the
    straight-line bound instead (口径 = :data:`_COV_BOUND`: 覆盖户数 and 覆盖率 are upper
    bounds, 未覆盖户数 a lower bound), or blanks when there is no bound. With
    ``findings``, the units per status of the rule with the spec's id (as in findings.csv).
    """
    from gridmap.facilities import type_label

    if cov is None:
        return pd.DataFrame()
    rows = []
    for sid, s in cov.summary().items():
        bound = s["share"] is None and s.get("share_bound") is not None
        covered = s.get("covered_bound") if bound else s["covered"]
        mode = "步行距离" if s["mode"] == "network" else "直线距离"
        row = {"覆盖指标": sid, "设施类型": type_label(s["facility_type"]), "计算方式": mode,
               "服务半径(米)": s["radius_m"], "要求覆盖率": s.get("min_share", 1.0), "总户数": s["households"],
               "口径": _COV_BOUND if bound else (_COV_MEASURED if s["share"] is not None else "未评估（无路网）"),
               "覆盖户数": covered, "未覆盖户数": None if covered is None else s["households"] - covered,
               "覆盖率": s.get("share_bound") if bound else s["share"]}
        if findings is not None:  # blank for a spec that is not a rule (e.g. ``gridmap coverage --types``)
            vc = findings.loc[findings["rule_id"] == sid, "status"].value_counts()
            row.update({k: int(vc.get(v, 0)) if len(vc) else None for k, v in _COV_UNITS.items()})
        rows.append(row)
    out = pd.DataFrame(rows)
    for k in _COV_UNITS:
        if k in out.columns:
            out[k] = out[k].astype("Int64")
    return out


#: unit counts of a coverage row, by finding status
_COV_UNITS = {"合规单位": "pass", "不合规单位": "fail", "未评估单位": "not_assessed"}


def _coverage_units_text(row, keys=("不合规单位", "未评估单位")) -> str:
    """``3 / 27``: units per status of the coverage rule; blank when the spec is not a rule."""
    if any(k not in row.index or pd.isna(row[k]) for k in keys):
        return ""
    return " / ".join(str(int(row[k])) for k in keys)


def _coverage_share_text(row) -> str:
    """覆盖率 of a coverage row as text: ``62.1%``, ``≤62.1%`` for a bound, blank when not measured."""
    share = row["覆盖率"]
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return ""
    return ("≤" if row["口径"] == _COV_BOUND else "") + f"{share:.1%}"


def _coverage_uncovered_text(row) -> str:
    """未覆盖户数 as text: ``1,234``, ``≥1,234`` for a bound (at least that many beyond the radius)."""
    text = _num(row["未覆盖户数"])
    return ("≥" + text) if text and row["口径"] == _COV_BOUND else text


#: how a report explains the straight-line bound
_COV_BOUND_NOTE = ("无路网时，按步行距离的指标以直线距离估计：直线距离不会长于步行距离，“≤”为步行覆盖率的上限，"
                   "“≥”为步行半径外住户的下限；上限已低于要求的单位判为不合规（差距按上限计算，为最少需覆盖的户数），其余未评估。")


def _rule_counts(result) -> pd.DataFrame:
    f = result.findings
    rows = []
    for rule in result.profile.rules:
        g = f[f["rule_id"] == rule.id]
        if not len(g):
            continue
        vc = g["status"].value_counts()
        rows.append({"规则编号": rule.id, "规则": rule.title_zh, "层级": _LEVEL_ZH.get(rule.level, rule.level),
                     "性质": _SEVERITY_ZH.get(rule.severity, rule.severity), "合规": int(vc.get("pass", 0)),
                     "不合规": int(vc.get("fail", 0)), "未评估": int(vc.get("not_assessed", 0)), "依据": rule.source})
    return pd.DataFrame(rows, columns=["规则编号", "规则", "层级", "性质", "合规", "不合规", "未评估", "依据"])


def plan_rows(plan) -> pd.DataFrame:
    """The plan's before/after table (指标, 调整前（现状）, 调整后（方案）) from :meth:`gridmap.plans.Plan.kpis`:
    the same figures the dashboard and ``gridmap rebalance`` show."""
    before, after = plan.kpis(base=True), plan.kpis()
    band = plan.band

    def count(k, key):
        return NOT_ASSESSED_ZH if k[key] is None else f"{k[key]:,}"

    rows = [("规则配置", plan.profile.id, plan.profile.id),
            ("户数范围", band.label() if band else NOT_ASSESSED_ZH, band.label() if band else NOT_ASSESSED_ZH),
            ("户数达标社区", *(NOT_ASSESSED_ZH if k["in_band"] is None else f"{k['in_band']} / {k['communities']}"
                         for k in (before, after))),
            ("户数过小", count(before, "too_small"), count(after, "too_small")),
            ("户数过大", count(before, "too_large"), count(after, "too_large")),
            ("户数未评估", count(before, "size_not_assessed"), count(after, "size_not_assessed")),
            ("不连续社区", count(before, "non_contiguous"), count(after, "non_contiguous")),
            ("调整单元", "0", count(after, "units_moved")),
            ("涉及住户", "0", count(after, "households_moved"))]
    return pd.DataFrame(rows, columns=["指标", "调整前（现状）", "调整后（方案）"])


def plan_sentence(plan) -> str:
    """One sentence on the plan's result (the figures of :meth:`gridmap.plans.Plan.kpis`)."""
    kp, band = plan.kpis(), plan.band
    unit = {"grids": "网格", "blocks": "小区", "buildings": "楼栋"}.get(plan.unit_kind, "单元")
    head = f"调整 {kp['units_moved']} 个{unit}、{kp['households_moved']:,} 户；"
    if kp["in_band"] is None:
        return head + f"规则配置 {plan.profile.id} 无户数范围，规模未评估；不连续 {kp['non_contiguous']}。"
    na = f"，未评估 {kp['size_not_assessed']}" if kp["size_not_assessed"] else ""
    return head + (f"调整后 {kp['in_band']} / {kp['communities']} 个社区在 {band.label()}范围内（{plan.profile.id}），"
                   f"过大 {kp['too_large']}，过小 {kp['too_small']}{na}，不连续 {kp['non_contiguous']}。")


def _kpis(result) -> list[tuple[str, str, str]]:
    """(label, value, note) headline figures."""
    s = result.summary()
    cs, gs = s["communities_status"], s["grids_status"]
    out = [("社区", f"{s['communities']:,}", f"不合规 {cs.get('fail', 0)}，仅警告 {cs.get('warning', 0)}，合规 {cs.get('pass', 0)}")]
    if s["grids"]:
        out.append(("网格", f"{s['grids']:,}", f"不合规 {gs.get('fail', 0)}，合规 {gs.get('pass', 0)}"))
    out.append(("住户（户）", f"{s['households_total']:,}", f"未能分配到社区 {s['households_unassigned']:,} 户"))
    band = result.profile.size_band()
    if band is not None:
        sc = size_counts(result)
        off = sc["too_small"] + sc["too_large"]
        assessed = len(result.communities) - sc["not_assessed"]
        note = f"过小 {sc['too_small']}，过大 {sc['too_large']}（{band.label()}）"
        if sc["not_assessed"]:
            note += f"，未评估 {sc['not_assessed']}"
        out.append(("规模不达标社区", f"{off}" if assessed else NOT_ASSESSED_ZH,
                    note if assessed else "缺少户数数据，无法评估社区规模"))
    coord_rule = result.profile.first("coordinators", "grid")
    if coord_rule is not None and s["grids"]:
        cs_ = rule_summary(result.findings, coord_rule.id)
        if cs_["assessed"]:
            note = f"{cs_['fail']} 个网格配备不足" + (f"，{cs_['not_assessed']} 个网格未评估" if cs_["not_assessed"] else "")
            out.append(("协理员缺口（人）", _num(cs_["gap"]), note))
        else:
            out.append(("协理员缺口（人）", NOT_ASSESSED_ZH, f"{cs_['not_assessed']} 个网格缺少网格员人数，未评估"))
    out.append(("数据质量问题", f"{sum(s['qa'].values()):,}", f"输入警告 {s['problems']['warning']}，已自动修复 {s['problems']['info']}"))
    return out


# =========================================================================== PDF

_A4 = (8.27, 11.69)
_LEFT, _RIGHT = 0.07, 0.93


class _Pages:
    """A4 pages with a running header and page numbers."""

    def __init__(self, pdf, header: str, date: str):
        self.pdf, self.header, self.date, self.n = pdf, header, date, 0

    def new(self):
        from matplotlib.figure import Figure

        return Figure(figsize=_A4)

    def save(self, fig, *, furniture: bool = True) -> None:
        self.n += 1
        if furniture:
            fig.text(_LEFT, 0.972, self.header, fontsize=8, color="#666666", ha="left")
            fig.text(_RIGHT, 0.972, self.date, fontsize=8, color="#666666", ha="right")
            fig.add_artist(_hline(fig, 0.967))
            fig.text(0.5, 0.012, f"— {self.n} —", fontsize=8, color="#666666", ha="center")
        self.pdf.savefig(fig, facecolor="white")


def _hline(fig, y: float, *, x0: float = _LEFT, x1: float = _RIGHT, color: str = "#999999", lw: float = 0.6):
    from matplotlib.lines import Line2D

    return Line2D([x0, x1], [y, y], transform=fig.transFigure, color=color, linewidth=lw)


def _section_title(fig, text: str, y: float = 0.935) -> None:
    fig.text(_LEFT, y, text, fontsize=15, fontweight="bold", ha="left", va="baseline")
    fig.add_artist(_hline(fig, y - 0.01, color="#c0392b", lw=1.2))


class _Table:
    """Draws a table over as many pages as it needs; wraps cells by display width."""

    FONT = 7.5

    def __init__(self, pages: _Pages, columns: list[str], widths: list[float], *, aligns: list[str] | None = None):
        self.pages, self.columns = pages, columns
        total = sum(widths)
        self.widths = [w / total * (_RIGHT - _LEFT) for w in widths]
        self.aligns = aligns or ["left"] * len(columns)
        self.line_h = self.FONT * 1.45 / 72 / _A4[1]
        self.chars = [w * _A4[0] * 72 / self.FONT - 0.8 for w in self.widths]

    def _header(self, fig, y: float) -> float:
        from matplotlib.patches import Rectangle

        h = self.line_h * 1.5
        fig.add_artist(Rectangle((_LEFT, y - h), _RIGHT - _LEFT, h, transform=fig.transFigure,
                                 facecolor="#34495e", edgecolor="none"))
        x = _LEFT
        for col, w in zip(self.columns, self.widths, strict=True):
            fig.text(x + 0.004, y - h / 2, col, fontsize=self.FONT, fontweight="bold", color="white", va="center")
            x += w
        return y - h

    def draw(self, rows: list[list[str]], *, title: str, intro: str = "", fig=None, top: float = 0.935,
             note: str = "") -> None:
        from matplotlib.patches import Rectangle

        if fig is None:
            fig = self.pages.new()
            _section_title(fig, title, top)
            y = top - 0.03
        else:
            y = top
        if intro:
            for line in _wrap(intro, (_RIGHT - _LEFT) * _A4[0] * 72 / 8 - 1):
                fig.text(_LEFT, y, line, fontsize=8, color="#333333", va="top")
                y -= 8 * 1.5 / 72 / _A4[1]
            y -= 0.006
        y = self._header(fig, y)
        bottom = 0.05
        for i, row in enumerate(rows):
            cells = [_wrap(str(v), c) for v, c in zip(row, self.chars, strict=True)]
            n = max(len(c) for c in cells)
            h = n * self.line_h + self.line_h * 0.5
            if y - h < bottom:
                self.pages.save(fig)
                fig = self.pages.new()
                fig.text(_LEFT, 0.935, f"{title}（续）", fontsize=11, fontweight="bold", va="baseline")
                y = self._header(fig, 0.92)
            if i % 2:
                fig.add_artist(Rectangle((_LEFT, y - h), _RIGHT - _LEFT, h, transform=fig.transFigure,
                                         facecolor="#f2f4f5", edgecolor="none"))
            x = _LEFT
            for lines, w, align in zip(cells, self.widths, self.aligns, strict=True):
                tx = x + w - 0.004 if align == "right" else x + 0.004
                fig.text(tx, y - self.line_h * 0.25, "\n".join(lines), fontsize=self.FONT, va="top", ha=align,
                         linespacing=1.2)
                x += w
            y -= h
            fig.add_artist(_hline(fig, y, color="#dddddd", lw=0.4))
        if note:
            fig.text(_LEFT, max(y - 0.015, 0.03), note, fontsize=7.5, color="#555555", va="top")
        self.pages.save(fig)


def _cover(pages: _Pages, result, *, title: str, date: str, plan, cov) -> None:
    from matplotlib.patches import Rectangle

    from gridmap._version import __version__

    fig = pages.new()
    fig.add_artist(Rectangle((0, 0.83), 1, 0.17, transform=fig.transFigure, facecolor="#1f3a5f", edgecolor="none"))
    fig.text(_LEFT, 0.93, title, fontsize=24, fontweight="bold", color="white", va="center")
    fig.text(_LEFT, 0.875, "社区规模 · 网格配置 · 服务设施 合规检查", fontsize=12, color="#dfe6ee", va="center")
    fig.text(_LEFT, 0.76, result.study.name, fontsize=20, fontweight="bold", va="center")
    p = result.profile
    rows = [("编制日期", date), ("规则配置", f"{p.id}（{p.title_zh}）"), ("计算坐标系", crs_label(result.study.crs))]
    zh = {"communities": "社区边界", "grids": "网格", "households": "住户（户数）", "facilities": "设施",
          "network": "步行路网"}
    for kind, src in result.study.sources.items():
        layer = result.study.layers().get(kind)
        n = f"{len(layer):,} 个要素" if layer is not None else ""
        file = str(src.get("file", "")).replace("\\", "/").rsplit("/", 1)[-1]
        lay = f" 图层“{src['layer']}”" if src.get("layer") else ""
        rows.append((f"数据：{zh.get(kind, kind)}", f"{file}{lay}，{n}；原坐标系 {src.get('crs') or '—'}"))
    if cov is not None:
        rows.append(("服务覆盖", f"已计算 {len(cov.specs)} 项（{'、'.join(s.id for s in cov.specs)[:60]}）"))
    if plan is not None:
        rows.append(("调整方案", f"{getattr(plan, 'name', '方案')}（{len(plan.changes())} 个单元调整）"))
    rows.append(("生成软件", f"gridmap {__version__}（离线运行，无需联网）"))
    y = 0.68
    for key, val in rows:
        fig.text(_LEFT, y, key, fontsize=10, color="#555555", va="top")
        lines = _wrap(val, 37)
        fig.text(_LEFT + 0.2, y, "\n".join(lines), fontsize=10, va="top", linespacing=1.4)
        y -= 0.0168 * len(lines) + 0.02
        fig.add_artist(_hline(fig, y + 0.01, color="#e0e0e0", lw=0.5))
    if p.description_zh:
        fig.text(_LEFT, y - 0.01, "\n".join(_wrap("标准概要：" + p.description_zh, 60)), fontsize=8.5,
                 color="#333333", va="top", linespacing=1.5)
    fig.text(_LEFT, 0.05, "本报告由 gridmap 根据所列数据自动生成；各项结论均附规则依据，可逐条复核。"
             "“未评估”表示缺少所需数据，不代表合规。", fontsize=8, color="#666666")
    pages.save(fig, furniture=False)


def _summary_page(pages: _Pages, result) -> None:
    from matplotlib.patches import FancyBboxPatch

    fig = pages.new()
    _section_title(fig, "一、检查结果概要")
    kpis = _kpis(result)
    cols, w, h = 3, 0.27, 0.085
    for i, (label, value, note) in enumerate(kpis):
        r, c = divmod(i, cols)
        x, y = _LEFT + c * (w + 0.025), 0.81 - r * (h + 0.02)
        fig.add_artist(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.004,rounding_size=0.01",
                                      transform=fig.transFigure, facecolor="#f4f6f8", edgecolor="#c8d0d8", lw=0.6))
        fig.text(x + 0.015, y + h - 0.018, label, fontsize=9, color="#555555", va="top")
        fig.text(x + 0.015, y + 0.03, value, fontsize=20, fontweight="bold", color="#1f3a5f", va="bottom")
        fig.text(x + 0.015, y + 0.012, note, fontsize=7, color="#666666", va="bottom")
    rows_used = math.ceil(len(kpis) / cols)
    top = 0.81 - (rows_used - 1) * (h + 0.02) - 0.04
    counts = _rule_counts(result)
    table = _Table(pages, ["规则", "层级", "性质", "合规", "不合规", "未评估"], [9, 1.3, 1.3, 1.3, 1.5, 1.5],
                   aligns=["left", "left", "left", "right", "right", "right"])
    rows = [[r["规则"], r["层级"], r["性质"], str(r["合规"]), str(r["不合规"]), str(r["未评估"])]
            for _, r in counts.iterrows()]
    na = counts[(counts["未评估"] > 0) & (counts["合规"] == 0) & (counts["不合规"] == 0)]
    note = ""
    if len(na):
        note = "\n".join(_wrap(f"注：{len(na)} 项规则因缺少数据全部未评估（{'、'.join(na['规则编号'])}），补充相应数据列后可评估。", 75))
    fig.text(_LEFT, top, "各项规则检查结果（单位个数）", fontsize=11, fontweight="bold", va="top")
    table.draw(rows, title="各项规则检查结果", fig=fig, top=top - 0.025, note=note)


def _map_page(pages: _Pages, result, family: str, *, date: str, cov) -> None:
    fig = maps.map_figure(result, family, page="a4", date=date, header=None, coverage=cov)
    # key points under the legend
    rule = maps._rule_of(result, family) if not family.startswith("coverage:") and family != "overview" else None
    if rule is not None:
        fail = _failing(result, rule.id)
        text = f"依据：{rule.source}"
        lines = _wrap(text, 64)[:5]
        fig.text(_LEFT, 0.095, "\n".join(lines), fontsize=7.5, color="#333333", va="top", linespacing=1.4)
        fig.text(_LEFT, 0.115, f"不符合 {len(fail)} 个单位；详见下页问题清单。", fontsize=8, fontweight="bold",
                 va="bottom")
    pages.save(fig)


def _violations(pages: _Pages, result, rule_id: str, *, max_rows: int) -> None:
    rule = result.profile.rule(rule_id)
    fail = _failing(result, rule_id)
    level = _LEVEL_ZH.get(rule.level, rule.level)
    shown = fail.head(max_rows)
    upper = rule_id in _bounded_rules(result)
    rows = [[r.unit_id, r.unit_name, _value_text(r, upper=upper), str(r.threshold), r.message] for r in shown.itertuples()]
    table = _Table(pages, [f"{level}编码", f"{level}名称", "实测值", "标准", "问题说明"], [3.2, 3.4, 1.6, 2.0, 4.2],
                   aligns=["left", "left", "right", "left", "left"])
    note = ""
    if len(fail) > len(shown):
        note = f"共 {len(fail):,} 条，此处按差距从大到小列出前 {len(shown)} 条；完整清单见 Excel 报表“问题清单”工作表。"
    intro = f"规则：{rule.title_zh}（{rule.id}，{_SEVERITY_ZH.get(rule.severity, rule.severity)}性）\n依据：{rule.source}"
    table.draw(rows, title=f"问题清单：{maps.family_title(result, rule_id)}", intro=intro, note=note)


def _qa_pages(pages: _Pages, result, *, max_rows: int) -> None:
    f = result.findings
    qa = f[f["rule_id"].str.startswith("qa.")]
    probs = [p for p in result.problems if p.severity in ("warning", "error")]
    if not len(qa) and not probs:
        return
    rows = [[r.rule_title, r.unit_id, r.unit_name, r.message] for r in qa.head(max_rows).itertuples()]
    rows += [["输入数据：" + p.code, str(p.layer or ""), str(p.column or ""), p.message] for p in probs[:max_rows]]
    table = _Table(pages, ["问题类型", "单位编码", "名称/图层", "说明"], [3.5, 2.8, 2.4, 6.5])
    table.draw(rows, title="数据质量问题", intro="以下问题不影响上述检查的进行，但可能影响结论的准确性，建议核实源数据。")


def _coverage_table(pages: _Pages, cov, findings: pd.DataFrame | None = None) -> None:
    t = _coverage_rows(cov, findings)
    if not len(t):
        return
    has_units = "不合规单位" in t.columns
    rows = []
    for _, r in t.iterrows():
        how = r["计算方式"] + ("（直线上限）" if r["口径"] == _COV_BOUND else "")
        row = [r["设施类型"], how, _num(r["服务半径(米)"], 2), _num(r["总户数"]), _coverage_uncovered_text(r),
               _coverage_share_text(r)]
        if has_units:
            row.append(_coverage_units_text(r))
        rows.append(row)
    head = ["设施类型", "计算方式", "半径(米)", "总户数", "未覆盖户数", "覆盖率"] + (["不合规/未评估"] if has_units else [])
    widths = [3.2, 3.2, 1.4, 1.7, 1.9, 1.6] + ([2.0] if has_units else [])
    table = _Table(pages, head, widths, aligns=["left", "left", "right", "right", "right", "right", "right"][:len(head)])
    intro = "按住户到最近同类设施的距离统计；距离不超过服务半径即为覆盖。"
    if has_units:
        intro += "“不合规/未评估”为该项规则的单位个数（与问题清单一致）。"
    if (t["口径"] == _COV_BOUND).any():
        intro += "\n" + _COV_BOUND_NOTE
    table.draw(rows, title="服务设施覆盖", intro=intro)


def _plan_spec(units: GeoDataFrame, status: pd.Series, households: pd.Series, names: pd.Series, *, band):
    spec = maps._Spec()
    pal = {"too_large": "#e8553e", "too_small": "#6baed6", "pass": "#b8e186", "not_assessed": "#d9d9d9"}
    colors = status.map(pal).fillna("#d9d9d9").tolist()
    spec.layers.append(maps._Layer(units, colors, edge="#252525", width=0.8, zorder=2))
    vc = status.value_counts()
    lo = "—" if band is None or band.min is None else f"{_num(band.min)}"
    hi = "—" if band is None or band.max is None else f"{_num(band.max)}"
    for key, text in (("too_large", f"超过 {hi} 户"), ("too_small", f"少于 {lo} 户（未豁免）"),
                      ("pass", band.label() if band is not None else "达标"), ("not_assessed", NOT_ASSESSED_ZH)):
        if key != "not_assessed" or vc.get(key, 0):
            spec.legend.append((f"{text}（{int(vc.get(key, 0))} 个）", pal[key], None))
    xy = maps._label_points(units.geometry.to_numpy())
    spec.labels = [(xy[i, 0], xy[i, 1], f"{names.iloc[i]}\n{_num(households.iloc[i])} 户", status.iloc[i] != "pass")
                   for i in range(min(len(units), maps.MAX_LABELS))]
    return spec


def _plan_pages(pages: _Pages, result, plan, *, date: str, max_rows: int) -> None:
    band = plan.band
    before = result.communities
    base = plan.communities(base=True)
    b_status = base["status"].reindex(before.index.astype(str)).fillna("not_assessed").set_axis(before.index)
    hh = base["households"].reindex(before.index.astype(str)).set_axis(before.index)
    after = plan.dissolve()
    names_b = before["name"].astype(str) if "name" in before.columns else before.index.to_series().astype(str)
    fig = pages.new()
    _section_title(fig, f"调整方案：{getattr(plan, 'name', '方案')}（调整前后对比）")
    for k, (units, status, households, names, label) in enumerate((
        (before, b_status, hh, names_b, "调整前（现状）"),
        (after, after["status"], after["households"], after["name"].astype(str), "调整后（方案）"),
    )):
        ax = fig.add_axes((0.12, 0.5 - k * 0.42, 0.76, 0.37))
        info = maps.draw_map(ax, result, _plan_spec(units, status, households, names, band=band))
        ax.set_title(label, fontsize=11, fontweight="bold")
        maps._legend(ax, info["spec"], loc="upper left", bbox=(1.005, 1.0), ncol=1, fontsize=6.5)
    fig.text(_LEFT, 0.045, plan_sentence(plan), fontsize=8)
    fig.text(_LEFT, 0.028, maps.source_note(result, date=date).split("\n")[0], fontsize=6.5, color="#555555")
    pages.save(fig)
    cmp_rows = plan_rows(plan)
    _Table(pages, list(cmp_rows.columns), [4, 4, 4], aligns=["left", "right", "right"]).draw(
        cmp_rows.astype(str).values.tolist(), title="调整前后对比", intro="两栏均按同一规则配置、同一户数口径（含网格外住户）计算。")
    ch = plan.changes()
    rows = [[r.unit_id, r.unit_name, f"{r.from_name}（{r.from_community}）", f"{r.to_name}（{r.to_community}）",
             _num(r.households)] for r in ch.head(max_rows).itertuples()]
    if not rows:
        rows = [["—", "方案未作调整", "", "", ""]]
    table = _Table(pages, ["网格编码", "网格名称", "原社区", "新社区", "户数"], [3, 3.2, 3.6, 3.6, 1.4],
                   aligns=["left", "left", "left", "left", "right"])
    note = f"共 {len(ch):,} 条，仅列出前 {max_rows} 条。" if len(ch) > max_rows else ""
    table.draw(rows, title="调整方案变更清单", note=note)


def report_pdf(result, path: str | os.PathLike, *, plan=None, coverage=None, date: _dt.date | str | None = None,
               title: str = "社区网格合规检查报告", max_rows: int = 60) -> Path:
    """Write the A4 PDF report (Chinese, fonts embedded).

    Parameters
    ----------
    result
        A :class:`gridmap.CheckResult`.
    path
        The ``.pdf`` to write (atomically).
    plan
        A :class:`gridmap.plans.Plan`: adds before/after maps and the change list.
    coverage
        A :class:`gridmap.coverage.CoverageResult` (default ``result.coverage`` when
        present): adds the coverage table and one gap map per facility type.
    date
        Report date (default today).
    title
        Report title on the cover.
    max_rows
        At most this many violations per rule in the PDF tables (largest gaps
        first); the XLSX has them all.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import gridmap, tempfile, os
    >>> from gridmap import datasets, report
    >>> r = gridmap.check(gridmap.read_study(**datasets.demo_config()))
    >>> pdf = report.report_pdf(r, os.path.join(tempfile.mkdtemp(), "r.pdf"), date="2026-11-23")
    >>> pdf.read_bytes()[:5]
    b'%PDF-'
    """
    from matplotlib.backends.backend_pdf import PdfPages

    path = Path(path)
    cov = maps.coverage_of(result, coverage)
    when = _date_text(date)
    with atomic_path(path, suffix=".pdf") as tmp, maps.style():
        meta = {"Title": f"{result.study.name} {title}", "Author": "gridmap", "Subject": result.profile.title_zh,
                "Creator": "gridmap"}
        with PdfPages(tmp, metadata=meta) as pdf:
            pages = _Pages(pdf, f"{result.study.name} · {title}", when)
            _cover(pages, result, title=title, date=when, plan=plan, cov=cov)
            _summary_page(pages, result)
            for family in maps.map_families(result, coverage=cov):
                _map_page(pages, result, family, date=when, cov=cov)
                if family != "overview" and not family.startswith("coverage:"):
                    _violations(pages, result, family, max_rows=max_rows)
                if family == "overview" and cov is not None:
                    pass
            if cov is not None:
                _coverage_table(pages, cov, result.findings)
            if plan is not None:
                _plan_pages(pages, result, plan, date=when, max_rows=max_rows)
            _qa_pages(pages, result, max_rows=max_rows)
    return path


# =========================================================================== XLSX


def _status_zh(s: pd.Series) -> pd.Series:
    return s.map(lambda v: STATUS_ZH.get(v, v))


def _communities_sheet(result) -> pd.DataFrame:
    t = result.communities_table()
    fail = _failing(result)
    fail = fail[fail["level"] == "community"].groupby("unit_id")["rule_title"].agg("；".join)
    t["status"] = _status_zh(t["status"])
    if "size_status" in t.columns:
        t["size_status"] = t["size_status"].map(lambda v: SIZE_ZH.get(v, v))
    t["failing"] = t["community_id"].astype(str).map(fail).fillna("")
    rename = dict(_COMMUNITY_ZH)
    rename["failing"] = "不合规项"
    for c in t.columns:
        if c.startswith("floor_area_m2:"):
            rename[c] = "服务用房面积(m²)"
    return t.rename(columns=rename)


def _grids_sheet(result) -> pd.DataFrame:
    t = result.grids_table()
    if t is None:
        return pd.DataFrame({"说明": ["未提供网格图层"]})
    t["status"] = _status_zh(t["status"])
    return t.rename(columns=_GRID_ZH)


def _findings_sheet(result) -> pd.DataFrame:
    f = result.findings.copy()
    order = {"fail": 0, "not_assessed": 1, "pass": 2}
    f = f.assign(_o=f["status"].map(order).fillna(3)).sort_values(["_o", "level", "rule_id", "gap"],
                                                                  ascending=[True, True, True, False], kind="stable")
    f["status"] = _status_zh(f["status"])
    f["level"] = f["level"].map(lambda v: _LEVEL_ZH.get(v, v))
    f["severity"] = f["severity"].map(lambda v: _SEVERITY_ZH.get(v, v))
    f["value"] = pd.to_numeric(f["value"], errors="coerce")
    cols = ["level", "unit_id", "unit_name", "rule_id", "rule_title", "value", "threshold", "status", "gap",
            "message", "severity", "source"]
    return f[cols].rename(columns=_FINDING_ZH).reset_index(drop=True)


def _summary_sheet(result, cov, plan) -> pd.DataFrame:
    from gridmap._version import __version__

    rows = [("研究区", result.study.name), ("规则配置", f"{result.profile.id}（{result.profile.title_zh}）"),
            ("计算坐标系", crs_label(result.study.crs))]
    rows += [(label, f"{value}（{note}）") for label, value, note in _kpis(result)]
    if cov is not None:
        for _, r in _coverage_rows(cov, result.findings).iterrows():
            key = f"覆盖：{r['设施类型']} {r['计算方式']} {r['服务半径(米)']:g} 米"
            if r["口径"] == _COV_MEASURED:
                text = f"覆盖率 {_coverage_share_text(r)}，未覆盖 {_coverage_uncovered_text(r)} 户"
            elif r["口径"] == _COV_BOUND:
                text = (f"未实测（无路网），直线距离上限：覆盖率 {_coverage_share_text(r)}，"
                        f"未覆盖 {_coverage_uncovered_text(r)} 户")
            else:
                text = "未评估（无路网）"
            if _coverage_units_text(r):
                text += f"；不合规 {r['不合规单位']}、未评估 {r['未评估单位']} 个单位"
            rows.append((key, text))
    if plan is not None:
        rows.append(("调整方案", f"{plan.name}：{plan_sentence(plan)}"))
    rows.append(("生成软件", f"gridmap {__version__}"))
    return pd.DataFrame(rows, columns=["项目", "内容"])


_STATUS_FILLS = (("不合规", "#F8CBAD", "#9C0006"), ("合规", "#C6EFCE", "#006100"),
                 ("仅警告项不合规", "#FFEB9C", "#9C5700"), ("未评估", "#E7E6E6", "#595959"))


def _workbook(buf):
    """An xlsxwriter workbook: text is text (no formulas or links made from strings), with the shared formats."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    fmt = {
        "head": wb.add_format({"bold": True, "font_color": "#FFFFFF", "bg_color": "#34495E", "valign": "vcenter",
                               "text_wrap": True}),
        "bold": wb.add_format({"bold": True}),
        "int": wb.add_format({"num_format": "#,##0"}),
        "float": wb.add_format({"num_format": "#,##0.0#"}),
        "share": wb.add_format({"num_format": "0.0%"}),
        "ok": wb.add_format({"bg_color": "#C6EFCE"}),
        "bad": wb.add_format({"bg_color": "#F8CBAD"}),
    }
    for text, fill, font in _STATUS_FILLS:
        fmt[text] = wb.add_format({"bg_color": fill, "font_color": font})
    return wb, fmt


def _cell_value(v):
    """A value xlsxwriter can write: None for blanks (NaN, NA, NaT, ±inf), text for dates."""
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and not math.isfinite(v)):
        return None
    if isinstance(v, (pd.Timestamp, _dt.date)):
        return str(v)
    return v


def _write_sheet(wb, fmt: dict, name: str, df: pd.DataFrame, *, status_cols=("综合状态", "状态"),
                 freeze_cols: int = 0) -> Any:
    """One table per sheet: dark header, number formats and widths per column, status colours,
    frozen header (and ``freeze_cols`` columns), a filter."""
    ws = wb.add_worksheet(name)
    ws.write_row(0, 0, [str(c) for c in df.columns], fmt["head"])
    n = len(df)
    for j, col in enumerate(df.columns):
        values = df[col].tolist()
        if pd.api.types.is_bool_dtype(df[col]):
            writer = ws.write_boolean
        elif pd.api.types.is_numeric_dtype(df[col]):
            writer = ws.write_number
        else:
            writer = ws.write
        for i, v in enumerate(values, start=1):
            v = _cell_value(v)
            if v is not None:
                writer(i, j, v)
        sample = [str(col)] + [str(v) for v in values[:300]]
        width = min(60, max(6, max(_width(t) for t in sample) * 2 + 2))
        col_fmt = None
        if pd.api.types.is_float_dtype(df[col]):
            col_fmt = fmt["share"] if "比例" in str(col) or "率" in str(col) else fmt["float"]
        elif pd.api.types.is_integer_dtype(df[col]):
            col_fmt = fmt["int"]
        ws.set_column(j, j, width, col_fmt)
        if col in status_cols and n:
            for text, _, _ in _STATUS_FILLS:
                ws.conditional_format(1, j, n, j, {"type": "cell", "criteria": "==", "value": f'"{text}"',
                                                   "format": fmt[text]})
    ws.freeze_panes(1, freeze_cols)
    if n:
        ws.autofilter(0, 0, n, len(df.columns) - 1)
    return ws


def report_xlsx_bytes(result, *, plan=None, coverage=None) -> bytes:
    """The Excel workbook as bytes: 汇总, 社区, 网格, 问题清单, 覆盖 (+ 方案变更)."""
    from xlsxwriter.utility import xl_col_to_name

    cov = maps.coverage_of(result, coverage)
    buf = io.BytesIO()
    wb, fmt = _workbook(buf)
    summary = _summary_sheet(result, cov, plan)
    ws = _write_sheet(wb, fmt, "汇总", summary)
    counts = _rule_counts(result)
    start = len(summary) + 2  # a blank row, then the per-rule table (0-based rows)
    ws.write(start, 0, "各项规则检查结果", fmt["bold"])
    ws.write_row(start + 1, 0, [str(c) for c in counts.columns], fmt["head"])
    for i, row in enumerate(counts.itertuples(index=False), start=start + 2):
        for j, v in enumerate(row):
            v = _cell_value(v)
            if v is not None:
                ws.write(i, j, v)
    if len(counts):
        first, last = start + 2, start + 1 + len(counts)
        ws.conditional_format(first, 5, last, 5, {"type": "cell", "criteria": ">", "value": 0, "format": fmt["bad"]})
        ws.conditional_format(first, 5, last, 5, {"type": "cell", "criteria": "==", "value": 0, "format": fmt["ok"]})
    widths = [_width(str(c)) * 2 + 2 for c in summary.columns]
    for j, w in enumerate((26, 60, 8, 8, 8, 8, 8, 60)):
        ws.set_column(j, j, max(widths[j] if j < len(widths) else 0, w))
    _write_sheet(wb, fmt, "社区", _communities_sheet(result), freeze_cols=2)
    _write_sheet(wb, fmt, "网格", _grids_sheet(result), freeze_cols=2)
    _write_sheet(wb, fmt, "问题清单", _findings_sheet(result), freeze_cols=3)
    cov_rows = _coverage_rows(cov, result.findings)
    if len(cov_rows):
        ws = _write_sheet(wb, fmt, "覆盖", cov_rows)
        j = list(cov_rows.columns).index("覆盖率")
        letter = xl_col_to_name(j)
        for i, (_, r) in enumerate(cov_rows.iterrows(), start=1):
            need, basis = r["要求覆盖率"] - 1e-9, r["口径"]
            if basis == _COV_MEASURED:
                ws.conditional_format(i, j, i, j, {"type": "formula", "criteria": f"={letter}{i + 1}>={need}", "format": fmt["ok"]})
            elif basis != _COV_BOUND:  # not measured: grey, never green or red
                ws.conditional_format(i, j, i, j, {"type": "no_errors", "format": fmt["未评估"]})
                continue
            else:  # an upper bound: red when even the bound is short, else grey (not assessed)
                ws.conditional_format(i, j, i, j, {"type": "formula", "criteria": f"={letter}{i + 1}>={need}", "format": fmt["未评估"]})
            ws.conditional_format(i, j, i, j, {"type": "formula", "criteria": f"={letter}{i + 1}<{need}", "format": fmt["bad"]})
        ws.write_comment(0, list(cov_rows.columns).index("口径"), _COV_BOUND_NOTE)
        comm = getattr(cov, "communities", None)
        if comm is not None and len(comm):
            t = pd.DataFrame(comm).copy()
            t.insert(0, "社区编码", t.index.astype(str))
            names = result.communities["name"].astype(str) if "name" in result.communities.columns else None
            if names is not None:
                t.insert(1, "社区名称", t["社区编码"].map(names).fillna(""))
            t = t.rename(columns=lambda c: c.replace("coverage:", "覆盖率:").replace("covered:", "覆盖户数:")
                         .replace("coverage_bound:", "覆盖率上限(直线):").replace("covered_bound:", "覆盖户数上限(直线):")
                         .replace("households", "户数"))
            _write_sheet(wb, fmt, "社区覆盖", t.reset_index(drop=True), freeze_cols=2)
    else:
        _write_sheet(wb, fmt, "覆盖", pd.DataFrame({"说明": ["未计算服务设施覆盖（运行 gridmap coverage 或在报告中提供覆盖结果后生成）"]}))
    if plan is not None:
        from gridmap.plans import CHANGE_COLUMNS_ZH

        _write_sheet(wb, fmt, "方案对比", plan_rows(plan))
        _write_sheet(wb, fmt, "方案变更", plan.changes().rename(columns=CHANGE_COLUMNS_ZH))
    wb.close()
    return buf.getvalue()


def findings_xlsx(result) -> bytes:
    """The findings table alone as an XLSX (one sheet 问题清单), for the dashboard's export button.

    >>> import gridmap, io, openpyxl
    >>> from gridmap import datasets
    >>> r = gridmap.check(gridmap.read_study(**datasets.demo_config()))
    >>> wb = openpyxl.load_workbook(io.BytesIO(findings_xlsx(r)))
    >>> wb.sheetnames, wb["问题清单"]["H1"].value
    (['问题清单'], '状态')
    """
    buf = io.BytesIO()
    wb, fmt = _workbook(buf)
    _write_sheet(wb, fmt, "问题清单", _findings_sheet(result), freeze_cols=3)
    wb.close()
    return buf.getvalue()


def report_xlsx(result, path: str | os.PathLike, *, plan=None, coverage=None) -> Path:
    """Write the Excel report (atomically); see :func:`report_xlsx_bytes`."""
    path = Path(path)
    data = report_xlsx_bytes(result, plan=plan, coverage=coverage)
    with atomic_path(path, suffix=".xlsx") as tmp:
        tmp.write_bytes(data)
    return path


# =========================================================================== layers


def _shp_text(s: pd.Series, limit: int = 120) -> pd.Series:
    return s.astype(object).map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)[:limit])


_GBK_FIX = str.maketrans({"²": "2", "³": "3", "–": "-", "‑": "-", "•": "·", "≈": "约", "\u00a0": " "})


def _gbk_safe(gdf: GeoDataFrame, codec: str) -> GeoDataFrame:
    """Replace characters the codec cannot encode (m² → m2, – → -, others → ?)."""
    gdf = gdf.copy()
    for col in gdf.columns:
        if col != gdf.geometry.name and (gdf[col].dtype == object or pd.api.types.is_string_dtype(gdf[col])):
            gdf[col] = gdf[col].map(lambda v: v if not isinstance(v, str) else
                                    v.translate(_GBK_FIX).encode(codec, errors="replace").decode(codec))
    return gdf


def _dbf_names(columns: list[str], encoding: str) -> dict[str, str]:
    """Field names cut to the DBF limit of 10 bytes in ``encoding`` (whole characters), unique."""
    codec = "utf-8" if encoding.upper() == "UTF-8" else "gbk"
    out, used = {}, set()
    for col in columns:
        name = col
        while len(name.encode(codec, errors="replace")) > 10:
            name = name[:-1]
        base, k = name, 1
        while name in used:
            k += 1
            name = base[: max(1, len(base) - 1)] + str(k)
        used.add(name)
        out[col] = name
    return out


def gap_layers(result, *, coverage=None) -> dict[str, GeoDataFrame]:
    """The GIS layers: every unit with its status, and one gap layer per failing rule.

    Field names are Chinese and at most 5 characters (10 bytes in GBK, the DBF
    limit), so the same layers can go to a GBK Shapefile unchanged.

    Returns
    -------
    dict
        ``communities``, ``grids``, ``gap_<rule id>`` (failing units of a rule,
        e.g. ``gap_community_size``), ``gap_coverage_<n>`` (uncovered cells).
    """
    from gridmap.facilities import type_label

    out: dict[str, GeoDataFrame] = {}
    c = result.communities
    fail = _failing(result)
    per_unit = fail.groupby(["level", "unit_id"])["rule_title"].agg("；".join)
    comm = GeoDataFrame({
        "社区编码": c.index.astype(str), "社区名称": _shp_text(c.get("name", pd.Series(index=c.index, dtype=object))),
        "街道": _shp_text(c["street"]) if "street" in c.columns else None,
        "户数": pd.to_numeric(c["households"], errors="coerce").to_numpy(),
        "协理员": pd.to_numeric(c.get("coordinators"), errors="coerce") if "coordinators" in c.columns else np.nan,
        "应配协理员": pd.to_numeric(c["coordinators_required"], errors="coerce").to_numpy(),
        "状态": _status_zh(c["status"]).to_numpy(),
        "不合规项": [str(per_unit.get(("community", i), ""))[:200] for i in c.index.astype(str)],
    }, geometry=c.geometry.to_numpy(), crs=c.crs)
    out["communities"] = comm
    if result.grids is not None:
        g = result.grids
        out["grids"] = GeoDataFrame({
            "网格编码": g.index.astype(str), "网格名称": _shp_text(g["name"]) if "name" in g.columns else None,
            "社区编码": _shp_text(g["community_id"]), "户数": pd.to_numeric(g["households"], errors="coerce").to_numpy(),
            "协理员": pd.to_numeric(g["coordinators"], errors="coerce").to_numpy(),
            "应配协理员": pd.to_numeric(g["coordinators_required"], errors="coerce").to_numpy(),
            "状态": _status_zh(g["status"]).to_numpy(),
            "不合规项": [str(per_unit.get(("grid", i), ""))[:200] for i in g.index.astype(str)],
        }, geometry=g.geometry.to_numpy(), crs=g.crs)
    for rule in result.profile.rules:
        f = fail[fail["rule_id"] == rule.id]
        if not len(f):
            continue
        units = c if rule.level == "community" else result.grids
        if units is None:
            continue
        geom = units.geometry
        geom.index = units.index.astype(str)
        out[f"gap_{rule.id.replace('.', '_')}"] = GeoDataFrame({
            "编码": f["unit_id"].astype(str).to_numpy(), "名称": _shp_text(f["unit_name"]).to_numpy(),
            "规则": rule.title_zh[:60], "实测值": pd.to_numeric(f["value"], errors="coerce").to_numpy(),
            "标准": _shp_text(f["threshold"]).to_numpy(), "差距": pd.to_numeric(f["gap"], errors="coerce").to_numpy(),
            "说明": _shp_text(f["message"]).to_numpy(), "依据": rule.source[:120],
        }, geometry=geom.reindex(f["unit_id"].astype(str)).to_numpy(), crs=units.crs)
    cov = maps.coverage_of(result, coverage)
    for i, (sid, spec) in enumerate(maps._coverage_gaps(result, cov).items(), start=1):
        cells = cov.gaps[cov.gaps[f"uncovered:{sid}"] > 0]
        out[f"gap_coverage_{i}"] = GeoDataFrame({
            "格网编号": cells["cell_id"].astype(str).to_numpy() if "cell_id" in cells.columns else np.arange(len(cells)).astype(str),
            "设施类型": type_label(spec.facility_type), "服务半径": float(spec.radius_m),
            "计算方式": "步行" if spec.mode == "network" else "直线",
            "户数": cells["households"].to_numpy(), "未覆盖户": cells[f"uncovered:{sid}"].to_numpy(),
        }, geometry=cells.geometry.to_numpy(), crs=cells.crs)
    return out


def export_layers(result, path: str | os.PathLike, *, encoding: str = "gbk", coverage=None) -> list[Path]:
    """Write :func:`gap_layers` as one GeoPackage (``*.gpkg``) or as Shapefiles in a folder.

    Parameters
    ----------
    path
        ``layers.gpkg`` → one GeoPackage with a layer each (UTF-8, as the format
        requires). A folder (or ``*.shp``, meaning its folder) → one Shapefile per layer.
    encoding
        Shapefile text encoding: ``"gbk"`` (default; what older ArcGIS installations
        read) or ``"utf-8"``; a ``.cpg`` file records it.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Examples
    --------
    >>> import gridmap, tempfile, pyogrio
    >>> from gridmap import datasets, report
    >>> r = gridmap.check(gridmap.read_study(**datasets.demo_config()))
    >>> files = report.export_layers(r, tempfile.mkdtemp(), encoding="gbk")
    >>> shp = [f for f in files if f.name == "gap_community_size.shp"][0]
    >>> pyogrio.read_dataframe(shp, encoding="gbk")["名称"].iloc[0]  # largest gap first
    '保俶社区'
    """
    import pyogrio

    layers = gap_layers(result, coverage=coverage)
    path = Path(path)
    if path.suffix.lower() == ".gpkg":
        with atomic_path(path, suffix=".gpkg") as tmp:
            for name, gdf in layers.items():
                pyogrio.write_dataframe(gdf, tmp, layer=name, driver="GPKG", append=tmp.exists())
        return [path]
    if encoding.lower().replace("-", "") not in ("gbk", "utf8", "gb18030", "cp936"):
        raise ValueError(f"Shapefile encoding must be 'gbk' or 'utf-8', not {encoding!r}")
    folder = path.parent if path.suffix.lower() == ".shp" else path
    with staged_dir(folder) as (stage, written):
        enc = "GBK" if encoding.lower() in ("gbk", "cp936") else encoding.upper().replace("UTF8", "UTF-8")
        for name, gdf in layers.items():
            if enc != "UTF-8":
                gdf = _gbk_safe(gdf, "gb18030" if enc == "GB18030" else "gbk")
            gdf = gdf.rename(columns=_dbf_names(list(gdf.columns.drop(gdf.geometry.name)), enc))
            pyogrio.write_dataframe(gdf, stage / f"{name}.shp", driver="ESRI Shapefile", encoding=enc)
            cpg = stage / f"{name}.cpg"
            if not cpg.exists() or cpg.read_text().strip().upper() != enc:
                cpg.write_text(enc, encoding="ascii")
    return list(written.values())


# =========================================================================== HTML


def _svg_path(geom, x0: float, y1: float, tol: float) -> str:
    if geom is None or geom.is_empty:
        return ""
    geom = shapely.simplify(geom, tol, preserve_topology=True) if tol > 0 else geom
    polys = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
    parts = []
    for poly in polys:
        for ring in (poly.exterior, *poly.interiors):
            xy = np.asarray(ring.coords)[:-1]
            if len(xy) < 3:
                continue
            pts = " ".join(f"{x - x0:.1f} {y1 - y:.1f}" for x, y in xy)
            parts.append(f"M{pts}Z")
    return "".join(parts)


def _html_data(result, *, cov, date: str, max_grids: int = 20000) -> dict:
    from gridmap.facilities import type_label

    x0, y0, x1, y1 = result.communities.total_bounds
    tol = max(x1 - x0, y1 - y0) / 4000
    f = result.findings
    fails = f[(f["status"] == "fail")]
    by_unit: dict[tuple[str, str], list] = {}
    for r in fails.itertuples():
        by_unit.setdefault((r.level, r.unit_id), []).append([r.rule_title, r.message, str(r.threshold), r.source])

    def units(gdf, level, extra):
        rows = []
        for uid, geom, row in zip(gdf.index.astype(str), gdf.geometry, gdf.itertuples(), strict=True):
            props = {k: fn(row) for k, fn in extra.items()}
            rows.append({"id": uid, "d": _svg_path(geom, x0, y1, tol), "s": getattr(row, "status", "not_assessed"),
                         "p": props, "f": by_unit.get((level, uid), [])})
        return rows

    def hh(row):
        return _num(getattr(row, "households", None))

    data: dict[str, Any] = {
        "title": result.study.name, "date": date, "crs": crs_label(result.study.crs),
        "profile": f"{result.profile.id}（{result.profile.title_zh}）",
        "note": maps.source_note(result, date=date),
        "width": float(x1 - x0), "height": float(y1 - y0),
        "status": {k: [STATUS_ZH[k], maps.STATUS_COLORS[k]] for k in maps.STATUS_COLORS},
        "kpis": [list(k) for k in _kpis(result)],
        "communities": units(result.communities, "community", {
            "名称": lambda r: str(getattr(r, "name", "")), "户数": hh,
            "网格数": lambda r: _num(getattr(r, "grids", None)), "街道": lambda r: str(getattr(r, "street", "") or "")}),
        "grids": [], "facilities": [], "gaps": [],
    }
    if result.grids is not None and len(result.grids) <= max_grids:
        data["grids"] = units(result.grids, "grid", {
            "名称": lambda r: str(getattr(r, "name", "")), "户数": hh,
            "协理员": lambda r: f"{_num(getattr(r, 'coordinators', None))} / 应配 {_num(getattr(r, 'coordinators_required', None))}"})
    fac = result.facilities
    if fac is not None and len(fac) <= 20000 and "facility_type" in fac.columns:
        xy = shapely.get_coordinates(shapely.point_on_surface(fac.geometry.to_numpy()))
        data["facilities"] = [[round(float(x - x0), 1), round(float(y1 - y), 1), type_label(t), str(n)]
                              for (x, y), t, n in zip(xy, fac["facility_type"], fac.get("name", fac["facility_type"]), strict=True)]
    for sid in maps._coverage_gaps(result, cov):
        cells = cov.gaps[cov.gaps[f"uncovered:{sid}"] > 0]
        data["gaps"].append({"id": sid, "label": maps.family_title(result, f"coverage:{sid}", coverage=cov),
                             "cells": [[_svg_path(g, x0, y1, 0), int(u)] for g, u in
                                       zip(cells.geometry, cells[f"uncovered:{sid}"], strict=True)]})
    data["findings"] = [[r.level, r.unit_id, r.unit_name, r.rule_title, r.message, str(r.threshold), r.source]
                        for r in _failing(result).itertuples()]
    data["coverage"] = _coverage_html(cov, result.findings)
    return data


def _coverage_html(cov, findings: pd.DataFrame) -> dict:
    """The coverage table of the HTML report: header, rows of text, and the note on the straight-line bound."""
    t = _coverage_rows(cov, findings)
    if not len(t):
        return {"head": [], "rows": [], "note": ""}
    head = ["设施类型", "计算方式", "服务半径(米)", "口径", "总户数", "未覆盖户数", "覆盖率", "合规/不合规/未评估（单位）"]
    rows = [[r["设施类型"], r["计算方式"], _num(r["服务半径(米)"], 2), r["口径"], _num(r["总户数"]),
             _coverage_uncovered_text(r), _coverage_share_text(r),
             _coverage_units_text(r, tuple(_COV_UNITS))] for _, r in t.iterrows()]
    return {"head": head, "rows": rows, "note": _COV_BOUND_NOTE if (t["口径"] == _COV_BOUND).any() else ""}


_HTML = r"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
body{margin:0;font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC","SimHei",sans-serif;color:#222;background:#f4f6f8}
header{background:#1f3a5f;color:#fff;padding:10px 18px}header h1{margin:0;font-size:20px}header div{font-size:12px;color:#dfe6ee;margin-top:3px}
#kpis{display:flex;flex-wrap:wrap;gap:8px;padding:10px 18px}.kpi{background:#fff;border:1px solid #c8d0d8;border-radius:6px;padding:6px 12px;min-width:140px}
.kpi b{display:block;font-size:22px;color:#1f3a5f}.kpi span{font-size:12px;color:#555}.kpi small{font-size:11px;color:#777}
#main{display:flex;gap:10px;padding:0 18px 10px}#mapbox{position:relative;flex:1;background:#fff;border:1px solid #c8d0d8;height:72vh;min-height:420px;overflow:hidden}
#map{width:100%;height:100%;cursor:grab;display:block}#side{width:330px;display:flex;flex-direction:column;gap:8px}
.panel{background:#fff;border:1px solid #c8d0d8;padding:8px 10px;font-size:13px}.panel h3{margin:0 0 6px;font-size:14px}
#legend div{display:flex;align-items:center;gap:6px;margin:2px 0}#legend i{width:16px;height:12px;border:1px solid #555;display:inline-block}
#info{max-height:32vh;overflow:auto}#info .f{border-left:3px solid #e8553e;padding-left:6px;margin:5px 0}#info .src{color:#666;font-size:11px}
#tip{position:absolute;pointer-events:none;background:rgba(255,255,255,.95);border:1px solid #888;padding:4px 7px;font-size:12px;display:none;z-index:5;max-width:260px}
#north{position:absolute;right:12px;top:10px;font-weight:bold;text-align:center;font-size:13px}#scale{position:absolute;left:12px;bottom:12px;background:rgba(255,255,255,.85);padding:3px 6px;font-size:12px}
#scale div{height:6px;border:1px solid #000;border-top:none;margin-top:2px}#note{padding:0 18px 8px;font-size:11px;color:#555;white-space:pre-line}
table{border-collapse:collapse;width:100%;font-size:12px}th{background:#34495e;color:#fff;text-align:left;padding:4px;position:sticky;top:0}td{padding:3px 4px;border-bottom:1px solid #e3e3e3}
tr.sel{background:#fff3cd}#tablebox{margin:0 18px 18px;background:#fff;border:1px solid #c8d0d8;max-height:40vh;overflow:auto}tbody tr{cursor:pointer}
#controls{padding:6px 18px;font-size:13px}input[type=search]{width:220px;padding:3px}
path.u{stroke:#252525;stroke-width:.9;vector-effect:non-scaling-stroke}path.g{stroke:#8c8c8c;stroke-width:.4;vector-effect:non-scaling-stroke}
path.hl{stroke:#0057d9!important;stroke-width:3!important}circle.fac{stroke:#fff;stroke-width:.5;vector-effect:non-scaling-stroke}
</style></head><body>
<header><h1>__TITLE__</h1><div id="sub"></div></header>
<div id="kpis"></div>
<div id="controls">图层：<label><input type="checkbox" id="lyr-comm" checked> 社区（合规状态）</label>
 <label><input type="checkbox" id="lyr-grid"> 网格</label> <label><input type="checkbox" id="lyr-fac"> 设施</label>
 <span id="gapctl"></span> &nbsp; 查找：<input type="search" id="q" placeholder="社区/网格名称或编码"> <button id="reset">全图</button></div>
<div id="main"><div id="mapbox"><svg id="map" xmlns="http://www.w3.org/2000/svg"><g id="vp"><g id="l-gap"></g><g id="l-comm"></g><g id="l-grid"></g><g id="l-fac"></g></g></svg>
<div id="north">▲<br>N</div><div id="scale"><span id="scalet"></span><div id="scaleb"></div></div><div id="tip"></div></div>
<div id="side"><div class="panel" id="legend"><h3>图例</h3></div><div class="panel" id="info"><h3>单位详情</h3><div id="infobody">点击地图上的社区或网格查看不合规项及依据。</div></div></div></div>
<div id="note"></div>
<div id="covbox" style="display:none;margin:0 18px 10px;background:#fff;border:1px solid #c8d0d8"><table><thead><tr id="covhead"></tr></thead><tbody id="covrows"></tbody></table><div id="covnote" style="font-size:11px;color:#555;padding:4px 6px"></div></div>
<div id="tablebox"><table><thead><tr><th>层级</th><th>编码</th><th>名称</th><th>规则</th><th>问题说明</th><th>标准</th></tr></thead><tbody id="rows"></tbody></table></div>
<script id="data" type="application/json">__DATA__</script>
<script>
"use strict";
const D=JSON.parse(document.getElementById("data").textContent);
const NS="http://www.w3.org/2000/svg",svg=document.getElementById("map"),vp=document.getElementById("vp");
const $=id=>document.getElementById(id);
$("sub").textContent=D.title+" · 规则配置 "+D.profile+" · "+D.date;$("note").textContent=D.note;
D.kpis.forEach(k=>{const e=document.createElement("div");e.className="kpi";e.innerHTML="<span></span><b></b><small></small>";
 e.children[0].textContent=k[0];e.children[1].textContent=k[1];e.children[2].textContent=k[2];$("kpis").appendChild(e)});
const esc=s=>String(s).replace(/[&<>"]/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
let view={x:0,y:0,w:D.width,h:D.height};const pad=Math.max(D.width,D.height)*0.03;
function fit(){view={x:-pad,y:-pad,w:D.width+2*pad,h:D.height+2*pad};apply()}
function apply(){svg.setAttribute("viewBox",view.x+" "+view.y+" "+view.w+" "+view.h);scalebar()}
function scalebar(){const px=svg.clientWidth||800,ph=svg.clientHeight||600;const mpp=Math.max(view.w/px,view.h/ph);
 let L=mpp*120,e=Math.pow(10,Math.floor(Math.log10(L))),m=L/e>=5?5:L/e>=2?2:1;L=m*e;
 $("scaleb").style.width=(L/mpp)+"px";$("scalet").textContent=L>=1000?(L/1000)+" 千米":L+" 米"}
const byId={};
function addUnits(list,layer,cls,level){const g=$(layer);list.forEach(u=>{const p=document.createElementNS(NS,"path");
 p.setAttribute("d",u.d);p.setAttribute("class",cls);p.setAttribute("fill-rule","evenodd");
 p.setAttribute("fill",level==="community"?(D.status[u.s]||D.status.not_assessed)[1]:(u.s==="fail"?"#fdae6b":"rgba(0,0,0,0)"));
 p.dataset.id=u.id;p.dataset.level=level;u.level=level;u.el=p;byId[level+":"+u.id]=u;g.appendChild(p)})}
addUnits(D.communities,"l-comm","u","community");addUnits(D.grids,"l-grid","g","grid");
const fg=$("l-fac");D.facilities.forEach(f=>{const c=document.createElementNS(NS,"circle");c.setAttribute("cx",f[0]);c.setAttribute("cy",f[1]);
 c.setAttribute("r",Math.max(D.width,D.height)/400);c.setAttribute("class","fac");c.setAttribute("fill","#08519c");c.dataset.tip=f[2]+"："+f[3];fg.appendChild(c)});
const gg=$("l-gap");D.gaps.forEach((gap,i)=>{const grp=document.createElementNS(NS,"g");grp.id="gap-"+i;grp.style.display="none";
 const mx=Math.max(...gap.cells.map(c=>c[1]),1);gap.cells.forEach(c=>{const p=document.createElementNS(NS,"path");p.setAttribute("d",c[0]);
 p.setAttribute("fill","rgba(203,24,29,"+(0.25+0.65*c[1]/mx).toFixed(2)+")");p.dataset.tip=gap.label+"：半径外 "+c[1]+" 户";grp.appendChild(p)});gg.appendChild(grp);
 const l=document.createElement("label");l.innerHTML=' <input type="checkbox"> ';l.appendChild(document.createTextNode(gap.label));
 l.firstElementChild.addEventListener("change",ev=>{grp.style.display=ev.target.checked?"":"none"});$("gapctl").appendChild(l)});
$("l-grid").style.display="none";$("l-fac").style.display="none";
[["lyr-comm","l-comm"],["lyr-grid","l-grid"],["lyr-fac","l-fac"]].forEach(([c,l])=>$(c).addEventListener("change",e=>{$(l).style.display=e.target.checked?"":"none"}));
Object.entries(D.status).forEach(([k,v])=>{const n=D.communities.filter(u=>u.s===k).length;if(!n)return;const d=document.createElement("div");
 d.innerHTML="<i></i><span></span>";d.firstChild.style.background=v[1];d.lastChild.textContent=v[0]+"（"+n+" 个社区）";$("legend").appendChild(d)});
[["#fdae6b","不合规网格（网格图层）"],["#08519c","设施（设施图层）"],["rgba(203,24,29,.7)","服务半径外的住户（覆盖图层）"]].forEach(([c,t])=>{const d=document.createElement("div");
 d.innerHTML="<i></i><span></span>";d.firstChild.style.background=c;d.lastChild.textContent=t;$("legend").appendChild(d)});
const tip=$("tip");
function unitTip(u){return "<b>"+esc(u.p["名称"]||u.id)+"</b>（"+esc(u.id)+"）<br>"+Object.entries(u.p).filter(([k])=>k!=="名称").map(([k,v])=>esc(k)+"："+esc(v)).join("<br>")
 +"<br>状态："+esc((D.status[u.s]||["—"])[0])+(u.f.length?"<br>不合规 "+u.f.length+" 项":"")}
svg.addEventListener("mousemove",e=>{const t=e.target,box=$("mapbox").getBoundingClientRect();let h="";
 if(t.dataset&&t.dataset.id){h=unitTip(byId[t.dataset.level+":"+t.dataset.id])}else if(t.dataset&&t.dataset.tip){h=esc(t.dataset.tip)}
 if(h&&!drag){tip.innerHTML=h;tip.style.display="block";tip.style.left=(e.clientX-box.left+14)+"px";tip.style.top=(e.clientY-box.top+10)+"px"}else tip.style.display="none"});
svg.addEventListener("mouseleave",()=>{tip.style.display="none"});
let sel=null;
function select(u,zoom){if(sel)sel.el.classList.remove("hl");sel=u;if(!u)return;u.el.classList.add("hl");u.el.parentNode.appendChild(u.el);
 $("infobody").innerHTML=unitTip(u)+(u.f.length?u.f.map(f=>'<div class="f"><b>'+esc(f[0])+"</b><br>"+esc(f[1])+"（标准 "+esc(f[2])+'）<div class="src">依据：'+esc(f[3])+"</div></div>").join(""):"<p>全部已评估规则均符合。</p>");
 if(zoom){const b=u.el.getBBox(),m=Math.max(b.width,b.height)*1.2+50;view={x:b.x+b.width/2-m,y:b.y+b.height/2-m,w:2*m,h:2*m};apply()}}
let drag=null,moved=false;
svg.addEventListener("mousedown",e=>{drag={x:e.clientX,y:e.clientY,v:Object.assign({},view)};moved=false;svg.style.cursor="grabbing"});
window.addEventListener("mousemove",e=>{if(!drag)return;const s=Math.max(view.w/svg.clientWidth,view.h/svg.clientHeight);
 const dx=e.clientX-drag.x,dy=e.clientY-drag.y;if(Math.abs(dx)+Math.abs(dy)>3)moved=true;view.x=drag.v.x-dx*s;view.y=drag.v.y-dy*s;apply()});
window.addEventListener("mouseup",e=>{if(drag&&!moved){const t=e.target;if(t.dataset&&t.dataset.id)select(byId[t.dataset.level+":"+t.dataset.id],false)}drag=null;svg.style.cursor="grab"});
svg.addEventListener("wheel",e=>{e.preventDefault();const r=svg.getBoundingClientRect(),s=Math.max(view.w/r.width,view.h/r.height);
 const cx=view.x+(e.clientX-r.left)*s-(r.width*s-view.w)/2,cy=view.y+(e.clientY-r.top)*s-(r.height*s-view.h)/2,k=e.deltaY>0?1.25:0.8;
 view={x:cx-(cx-view.x)*k,y:cy-(cy-view.y)*k,w:view.w*k,h:view.h*k};apply()},{passive:false});
$("reset").addEventListener("click",fit);window.addEventListener("resize",scalebar);
const tb=$("rows");D.findings.forEach(r=>{const tr=document.createElement("tr");[r[0]==="community"?"社区":r[0]==="grid"?"网格":r[0],r[1],r[2],r[3],r[4],r[5]].forEach(v=>{
 const td=document.createElement("td");td.textContent=v;tr.appendChild(td)});tr.title="依据："+r[6];
 tr.addEventListener("click",()=>{const u=byId[r[0]+":"+r[1]];if(u){if(r[0]==="grid"){$("lyr-grid").checked=true;$("l-grid").style.display=""}select(u,true)}
 document.querySelectorAll("tr.sel").forEach(x=>x.classList.remove("sel"));tr.classList.add("sel")});tb.appendChild(tr)});
if(D.coverage.rows.length){$("covbox").style.display="";D.coverage.head.forEach(h=>{const th=document.createElement("th");th.textContent=h;$("covhead").appendChild(th)});
 D.coverage.rows.forEach(r=>{const tr=document.createElement("tr");r.forEach(v=>{const td=document.createElement("td");td.textContent=v;tr.appendChild(td)});$("covrows").appendChild(tr)});
 $("covnote").textContent=D.coverage.note}
$("q").addEventListener("change",e=>{const q=e.target.value.trim();if(!q)return;const u=Object.values(byId).find(u=>u.id===q||(u.p["名称"]||"").includes(q));
 if(u){if(u.level==="grid"){$("lyr-grid").checked=true;$("l-grid").style.display=""}select(u,true)}});
fit();document.body.dataset.ready="1";
</script></body></html>
"""


def report_html_text(result, *, coverage=None, date: _dt.date | str | None = None,
                     title: str = "社区网格合规检查 交互地图") -> str:
    """The self-contained HTML report as a string (no external resources of any kind).

    >>> import gridmap
    >>> from gridmap import datasets
    >>> r = gridmap.check(gridmap.read_study(**datasets.demo_config()))
    >>> text = report_html_text(r)
    >>> "http://" in text.replace("http://www.w3.org/2000/svg", ""), "https://" in text
    (False, False)
    """
    cov = maps.coverage_of(result, coverage)
    data = _html_data(result, cov=cov, date=_date_text(date))
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    full = f"{result.study.name} · {title}"
    return _HTML.replace("__TITLE__", html.escape(full)).replace("__DATA__", payload)


def report_html(result, path: str | os.PathLike, *, coverage=None, date: _dt.date | str | None = None,
                title: str = "社区网格合规检查 交互地图") -> Path:
    """Write the offline interactive HTML map report (atomically); see :func:`report_html_text`."""
    path = Path(path)
    text = report_html_text(result, coverage=coverage, date=date, title=title)
    with atomic_path(path, suffix=".html") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


# =========================================================================== dispatch


def write_report(result, path: str | os.PathLike, *, plan=None, coverage=None, date: _dt.date | str | None = None,
                 encoding: str = "gbk") -> Path:
    """Write a report, the format chosen by the suffix of ``path``.

    ``.pdf`` → :func:`report_pdf`, ``.html`` → :func:`report_html`, ``.xlsx`` →
    :func:`report_xlsx`, ``.gpkg`` or ``.shp`` → :func:`export_layers` (``encoding``
    applies to Shapefiles).

    Raises
    ------
    ValueError
        For any other suffix (the message lists the valid ones).
    """
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind == "pdf":
        return report_pdf(result, path, plan=plan, coverage=coverage, date=date)
    if kind == "html":
        return report_html(result, path, coverage=coverage, date=date)
    if kind == "xlsx":
        return report_xlsx(result, path, plan=plan, coverage=coverage)
    if kind == "layers":
        export_layers(result, path, encoding=encoding, coverage=coverage)
        return path
    raise ValueError(f"报告格式无法识别 / unknown report format {path.suffix!r}; use one of: {', '.join(FORMATS)}")
