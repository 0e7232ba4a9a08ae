"""The offline HTML report: one self-contained file, no network access at all (no CDN, no tiles).

The map is the folium map of :func:`gridmap.maps.explore_check` (Leaflet inlined); around
it the page puts the study's name, the headline figures, the coverage table, the 预测
forecast section when a projection is given (the same tables, from the same projection, as
the PDF and the XLSX) and the findings table with search — a
click on a finding zooms the map to its unit and opens its details. Page data (figures,
tables) go in as JSON (``<script id="data">``).
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
from pathlib import Path
from typing import Any

from gridmap._atomic import atomic_path
from gridmap.change import Projection
from gridmap.check import CheckResult
from gridmap.coverage import CoverageResult
from gridmap.crs import crs_label
from gridmap.labels import STATUS_COLORS
from gridmap.maps import source_note
from gridmap.maps.explore import explore_check, pane_layers
from gridmap.report._coverage import (
    COV_BOUND,
    COV_BOUND_NOTE,
    COV_UNITS,
    coverage_rows,
    share_text,
    uncovered_text,
    units_text,
)
from gridmap.report._forecast import forecast_html
from gridmap.report._text import date_text, num
from gridmap.report.figures import failing, headline_figures

__all__ = ["report_html", "report_html_text"]

_CSS = """
html,body{height:auto!important;width:100%;margin:0}
body{display:flex;flex-direction:column;font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC","SimHei",sans-serif;color:#222;background:#f4f6f8}
.folium-map{order:3;height:72vh!important;min-height:420px;margin:0 18px;width:auto!important;border:1px solid #c8d0d8}
#gm-head{order:1}#gm-kpis{order:2}#gm-foot{order:4}
header{background:#1f3a5f;color:#fff;padding:10px 18px}header h1{margin:0;font-size:20px}header div{font-size:12px;color:#dfe6ee;margin-top:3px}
#gm-kpis{display:flex;flex-wrap:wrap;gap:8px;padding:10px 18px}.kpi{background:#fff;border:1px solid #c8d0d8;border-radius:6px;padding:6px 12px;min-width:140px}
.kpi b{display:block;font-size:22px;color:#1f3a5f}.kpi span{font-size:12px;color:#555}.kpi small{font-size:11px;color:#777}
#note{padding:6px 18px;font-size:11px;color:#555;white-space:pre-line}
table{border-collapse:collapse;width:100%;font-size:12px}th{background:#34495e;color:#fff;text-align:left;padding:4px;position:sticky;top:0}td{padding:3px 4px;border-bottom:1px solid #e3e3e3}
.box{margin:0 18px 12px;background:#fff;border:1px solid #c8d0d8}#tablebox{max-height:45vh;overflow:auto}tbody#rows tr{cursor:pointer}tr.sel{background:#fff3cd}
.box h2{font-size:14px;margin:0;padding:6px;color:#1f3a5f}.box p{font-size:12px;color:#555;margin:0;padding:0 6px 6px}
#controls{padding:6px 18px;font-size:13px}input[type=search]{width:260px;padding:3px}
td.fail{border-left:3px solid __FAIL__}.leaflet-tooltip,.leaflet-popup-content{font-family:inherit;font-size:12px;max-width:380px;white-space:normal}
"""

_JS = """
"use strict";
document.addEventListener("DOMContentLoaded",function(){
const D=JSON.parse(document.getElementById("data").textContent),$=id=>document.getElementById(id);
const esc=s=>String(s).replace(/[&<>"]/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
$("sub").textContent=D.title+" · 规则配置 "+D.profile+" · 坐标系 "+D.crs+" · "+D.date;$("note").textContent=D.note;
D.kpis.forEach(k=>{const e=document.createElement("div");e.className="kpi";e.innerHTML="<span></span><b></b><small></small>";
 e.children[0].textContent=k[0];e.children[1].textContent=k[1];e.children[2].textContent=k[2];$("gm-kpis").appendChild(e)});
const tab=(id,t)=>{$(id+"head").innerHTML=t.head.map(h=>"<th>"+esc(h)+"</th>").join("");
 $(id+"rows").innerHTML=t.rows.map(r=>"<tr>"+r.map(c=>"<td>"+esc(c)+"</td>").join("")+"</tr>").join("")};
if(D.coverage.rows.length){$("covbox").style.display="";tab("cov",D.coverage);$("covnote").textContent=D.coverage.note}
if(D.forecast){const F=D.forecast;$("fcbox").style.display="";$("fcytitle").textContent=F.years.title;$("fcyintro").textContent=F.intro;tab("fcy",F.years);
 $("fcvtitle").textContent=F.violations.title;$("fcvintro").textContent=F.violations.intro;tab("fcv",F.violations)}
const map=window[D.map],lv={community:window[D.layers.community],grid:window[D.layers.grid]};
const rows=$("rows");rows.innerHTML=D.findings.map((r,i)=>'<tr data-i="'+i+'"><td class="fail">'+esc(r[0]==="community"?"社区":"网格")+"</td><td>"+esc(r[1])+"</td><td>"+esc(r[2])+"</td><td>"+esc(r[3])+"</td><td>"+esc(r[4])+"</td><td>"+esc(r[5])+"</td><td>"+esc(r[6])+"</td></tr>").join("");
let sel=null;rows.addEventListener("click",ev=>{const tr=ev.target.closest("tr");if(!tr)return;const r=D.findings[+tr.dataset.i];
 if(sel)sel.classList.remove("sel");sel=tr;tr.classList.add("sel");const g=lv[r[0]];if(!g)return;
 if(!map.hasLayer(g))map.addLayer(g);g.eachLayer(l=>{if(l.feature&&l.feature.properties.unit_id===r[1]){map.fitBounds(l.getBounds(),{maxZoom:17});l.fire("click",{latlng:l.getBounds().getCenter()},true)}});
 $("gm-map-anchor").scrollIntoView({behavior:"smooth"})});
$("q").addEventListener("input",ev=>{const q=ev.target.value.trim().toLowerCase();let n=0;
 Array.from(rows.children).forEach(tr=>{const show=!q||tr.textContent.toLowerCase().includes(q);tr.style.display=show?"":"none";n+=show?1:0});$("count").textContent=n+" 条"});
$("count").textContent=D.findings.length+" 条";document.body.dataset.ready="1"});
"""


def _page_data(
    result: CheckResult, *, date: str, names: dict[str, str], forecast: Projection | None
) -> dict[str, Any]:
    """The JSON of the page: header, KPIs, coverage, forecast, findings, the map's variables."""
    return {
        "title": result.study.name,
        "date": date,
        "crs": crs_label(result.study.crs),
        "profile": f"{result.profile.id}（{result.profile.title_zh}）",
        "note": source_note(result, date=date),
        "kpis": [list(k) for k in headline_figures(result)],
        "findings": [
            [r.level, r.unit_id, r.unit_name, r.rule_title, r.message, str(r.threshold), r.source]
            for r in failing(result).itertuples()
        ],
        "coverage": _coverage_html(result),
        "forecast": forecast_html(forecast) if forecast is not None else None,
        "map": names["map"],
        "layers": {"community": names.get("gm_communities"), "grid": names.get("gm_grids")},
    }


def _coverage_html(result: CheckResult) -> dict:
    """The coverage table of the HTML report: header, rows of text, the note on the bound."""
    t = coverage_rows(result)
    if not len(t):
        return {"head": [], "rows": [], "note": ""}
    head = [
        "设施类型",
        "计算方式",
        "服务半径(米)",
        "口径",
        "总户数",
        "未覆盖户数",
        "覆盖率",
        "合规/不合规/未评估（单位）",
    ]
    rows = [
        [
            r["设施类型"],
            r["计算方式"],
            num(r["服务半径(米)"], 2),
            r["口径"],
            num(r["总户数"]),
            uncovered_text(r),
            share_text(r),
            units_text(r, tuple(COV_UNITS)),
        ]
        for _, r in t.iterrows()
    ]
    return {
        "head": head,
        "rows": rows,
        "note": COV_BOUND_NOTE if (t["口径"] == COV_BOUND).any() else "",
    }


def _chrome(full_title: str, payload: str) -> tuple[str, str, str]:
    """The page around the map: ``(head, top, bottom)`` HTML."""
    title = html.escape(full_title)
    head = f"<style>{_CSS.replace('__FAIL__', STATUS_COLORS['fail'])}</style>"
    top = (
        f'<header id="gm-head"><h1>{title}</h1><div id="sub"></div></header>'
        '<div id="gm-kpis"></div><a id="gm-map-anchor"></a>'
    )
    bottom = (
        '<div id="gm-foot"><div id="note"></div>'
        '<div id="covbox" class="box" style="display:none"><table><thead><tr id="covhead"></tr>'
        '</thead><tbody id="covrows"></tbody></table>'
        '<div id="covnote" style="font-size:11px;color:#555;padding:4px 6px"></div></div>'
        '<div id="fcbox" style="display:none">'
        '<div class="box"><h2 id="fcytitle"></h2><p id="fcyintro"></p><table><thead>'
        '<tr id="fcyhead"></tr></thead><tbody id="fcyrows"></tbody></table></div>'
        '<div class="box" id="fcvbox" style="max-height:45vh;overflow:auto"><h2 id="fcvtitle"></h2>'
        '<p id="fcvintro"></p><table><thead><tr id="fcvhead"></tr></thead>'
        '<tbody id="fcvrows"></tbody></table></div></div>'
        '<div id="controls">不合规项：<input type="search" id="q" placeholder="搜索社区、网格、规则…"> '
        '<span id="count"></span>（点击一行在地图上定位）</div>'
        '<div id="tablebox" class="box"><table><thead><tr><th>层级</th><th>编码</th><th>名称</th>'
        "<th>规则</th><th>问题说明</th><th>标准</th><th>依据</th></tr></thead>"
        '<tbody id="rows"></tbody></table></div></div>'
        f'<script id="data" type="application/json">{payload}</script><script>{_JS}</script>'
    )
    return head, top, bottom


def report_html_text(
    result: CheckResult,
    *,
    coverage: CoverageResult | None = None,
    date: _dt.date | str | None = None,
    title: str = "社区网格合规检查 交互地图",
    forecast: Projection | None = None,
) -> str:
    """The self-contained HTML report as a string (no external resources of any kind).

    Parameters
    ----------
    result
        A :class:`gridmap.CheckResult`.
    coverage
        Coverage results to show instead of ``result.coverage_result``.
    date
        Report date (default today).
    title
        The page title, after the study's name.
    forecast
        A :class:`gridmap.change.Projection` of the study: the 预测 section (the years and the
        first year of each violation, as in the PDF and the XLSX).

    Returns
    -------
    str
    """
    # branca comes with folium, the optional heavy map dependency: imported only here
    from branca.element import Element

    result = result.with_coverage(coverage)
    day = date_text(date)
    m = explore_check(result)
    names = {"map": m.get_name(), **pane_layers(m)}
    data = _page_data(result, date=day, names=names, forecast=forecast)
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    head, top, bottom = _chrome(f"{result.study.name} · {title}", payload)
    fig = m.get_root()
    fig.title = html.escape(f"{result.study.name} · {title}")
    fig.header.add_child(Element(head), name="gm_head", index=0)
    fig.html.add_child(Element(top), name="gm_top")
    fig.html.add_child(Element(bottom), name="gm_bottom")
    return fig.render()


def report_html(
    result: CheckResult,
    path: str | os.PathLike,
    *,
    coverage: CoverageResult | None = None,
    date: _dt.date | str | None = None,
    title: str = "社区网格合规检查 交互地图",
    forecast: Projection | None = None,
) -> Path:
    """Write the offline interactive HTML map report (atomically); see :func:`report_html_text`.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    text = report_html_text(result, coverage=coverage, date=date, title=title, forecast=forecast)
    with atomic_path(path, suffix=".html") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
