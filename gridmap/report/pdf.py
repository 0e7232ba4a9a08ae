"""The PDF report (A4, Chinese, the font embedded).

Cover, summary, one map and violation table per failing rule, coverage, the
before/after pages of a plan, data quality.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from pathlib import Path

import pandas as pd
from geopandas import GeoDataFrame

from gridmap._atomic import atomic_path
from gridmap._version import __version__
from gridmap.change import Projection
from gridmap.check import CheckResult
from gridmap.coverage import CoverageResult
from gridmap.crs import crs_label
from gridmap.maps import (
    MAX_LABELS,
    MapLayer,
    MapSpec,
    add_legend,
    draw_map,
    family_rule,
    family_title,
    label_points,
    map_families,
    map_figure,
    source_note,
    status_fill,
    style,
)
from gridmap.maps.families import spec_text
from gridmap.plans import Plan
from gridmap.report._coverage import (
    COV_BOUND,
    COV_BOUND_NOTE,
    coverage_rows,
    share_text,
    uncovered_text,
    units_text,
)
from gridmap.report._forecast import forecast_pages
from gridmap.report._layout import (
    BOOKMARK_GID,
    LEFT,
    RIGHT,
    Pages,
    Table,
    fit_size,
    hline,
    section_title,
)
from gridmap.report._text import (
    LEVEL_ZH,
    NOT_ASSESSED_ZH,
    SEVERITY_ZH,
    date_text,
    num,
    qa_code_text,
    value_text,
    wrap,
)
from gridmap.report.figures import (
    bounded_rules,
    failing,
    headline_figures,
    plan_rows,
    plan_sentence,
    rule_counts,
)
from gridmap.rules import SizeBand

__all__ = ["report_pdf"]


def _cover(pages: Pages, result: CheckResult, *, title: str, date: str, plan: Plan | None) -> None:
    from matplotlib.patches import Rectangle

    cov = result.coverage_result
    fig = pages.new()
    fig.add_artist(
        Rectangle(
            (0, 0.83), 1, 0.17, transform=fig.transFigure, facecolor="#1f3a5f", edgecolor="none"
        )
    )
    fig.text(
        LEFT,
        0.93,
        title,
        fontsize=fit_size(title, 24, RIGHT - LEFT, smallest=14),
        fontweight="bold",
        color="white",
        va="center",
        gid=BOOKMARK_GID,
    )
    fig.text(
        LEFT,
        0.875,
        "社区规模 · 网格配置 · 服务设施 合规检查",
        fontsize=12,
        color="#dfe6ee",
        va="center",
    )
    name = result.study.name
    fig.text(
        LEFT,
        0.76,
        name,
        fontsize=fit_size(name, 20, RIGHT - LEFT, smallest=12),
        fontweight="bold",
        va="center",
    )
    p = result.profile
    rows = [
        ("编制日期", date),
        ("规则配置", f"{p.id}（{p.title_zh}）"),
        ("计算坐标系", crs_label(result.study.crs)),
    ]
    zh = {
        "communities": "社区边界",
        "grids": "网格",
        "households": "住户（户数）",
        "facilities": "设施",
        "network": "步行路网",
    }
    for kind, src in result.study.sources.items():
        layer = result.study.layers().get(kind)
        n = f"{len(layer):,} 个要素" if layer is not None else ""
        file = str(src.get("file", "")).replace("\\", "/").rsplit("/", 1)[-1]
        lay = f" 图层“{src['layer']}”" if src.get("layer") else ""
        rows.append(
            (f"数据：{zh.get(kind, kind)}", f"{file}{lay}，{n}；原坐标系 {src.get('crs') or '—'}")
        )
    if cov is not None:
        rows.append(
            (
                "服务覆盖",
                f"已计算 {len(cov.specs)} 项（{'、'.join(spec_text(s) for s in cov.specs)}）",
            )
        )
    if plan is not None:
        rows.append(
            ("调整方案", f"{getattr(plan, 'name', '方案')}（{len(plan.changes())} 个单元调整）")
        )
    rows.append(("生成软件", f"gridmap {__version__}（离线运行，无需联网）"))
    y = 0.68
    for key, val in rows:
        fig.text(LEFT, y, key, fontsize=10, color="#555555", va="top")
        lines = wrap(val, 37)
        fig.text(LEFT + 0.2, y, "\n".join(lines), fontsize=10, va="top", linespacing=1.4)
        y -= 0.0168 * len(lines) + 0.02
        fig.add_artist(hline(fig, y + 0.01, color="#e0e0e0", lw=0.5))
    if p.description_zh:
        fig.text(
            LEFT,
            y - 0.01,
            "\n".join(wrap("标准概要：" + p.description_zh, 60)),
            fontsize=8.5,
            color="#333333",
            va="top",
            linespacing=1.5,
        )
    fig.text(
        LEFT,
        0.05,
        "本报告由 gridmap 根据所列数据自动生成；各项结论均附规则依据，可逐条复核。"
        "“未评估”表示缺少所需数据，不代表合规。",
        fontsize=8,
        color="#666666",
    )
    pages.save(fig, furniture=False)


def _summary_page(pages: Pages, result: CheckResult) -> None:
    from matplotlib.patches import FancyBboxPatch

    fig = pages.new()
    section_title(fig, "一、检查结果概要")
    kpis = headline_figures(result)
    cols, w, h = 3, 0.27, 0.085
    for i, (label, value, note) in enumerate(kpis):
        r, c = divmod(i, cols)
        x, y = LEFT + c * (w + 0.025), 0.81 - r * (h + 0.02)
        fig.add_artist(
            FancyBboxPatch(
                (x, y),
                w,
                h,
                boxstyle="round,pad=0.004,rounding_size=0.01",
                transform=fig.transFigure,
                facecolor="#f4f6f8",
                edgecolor="#c8d0d8",
                lw=0.6,
            )
        )
        fig.text(x + 0.015, y + h - 0.018, label, fontsize=9, color="#555555", va="top")
        fig.text(
            x + 0.015, y + 0.03, value, fontsize=20, fontweight="bold", color="#1f3a5f", va="bottom"
        )
        fig.text(x + 0.015, y + 0.012, note, fontsize=7, color="#666666", va="bottom")
    rows_used = math.ceil(len(kpis) / cols)
    top = 0.81 - (rows_used - 1) * (h + 0.02) - 0.04
    counts = rule_counts(result)
    table = Table(
        pages,
        ["规则", "层级", "性质", "合规", "不合规", "未评估"],
        [9, 1.3, 1.3, 1.3, 1.5, 1.5],
        aligns=["left", "left", "left", "right", "right", "right"],
    )
    rows = [
        [r["规则"], r["层级"], r["性质"], str(r["合规"]), str(r["不合规"]), str(r["未评估"])]
        for _, r in counts.iterrows()
    ]
    na = counts[(counts["未评估"] > 0) & (counts["合规"] == 0) & (counts["不合规"] == 0)]
    note = ""
    if len(na):
        note = "\n".join(
            wrap(
                f"注：{len(na)} 项规则因缺少数据全部未评估（上表中合规、不合规均为 0 的规则），"
                "补充相应数据列后可评估。",
                75,
            )
        )
    fig.text(LEFT, top, "各项规则检查结果（单位个数）", fontsize=11, fontweight="bold", va="top")
    table.draw(rows, title="各项规则检查结果", fig=fig, top=top - 0.025, note=note)


def _map_page(pages: Pages, result: CheckResult, family: str, *, date: str) -> None:
    fig = map_figure(result, family, page="a4", date=date, header=None, key_bottom=0.13)
    # key points under the legend
    rule = family_rule(result, family)
    if rule is not None:
        fail = failing(result, rule.id)
        text = f"依据：{rule.source}"
        lines = wrap(text, 64)[:5]
        fig.text(
            LEFT, 0.095, "\n".join(lines), fontsize=7.5, color="#333333", va="top", linespacing=1.4
        )
        fig.text(
            LEFT,
            0.115,
            f"不符合 {len(fail)} 个单位；详见下页问题清单。",
            fontsize=8,
            fontweight="bold",
            va="bottom",
        )
    pages.save(fig)


def _violations(pages: Pages, result: CheckResult, rule_id: str, *, max_rows: int) -> None:
    rule = result.profile.rule(rule_id)
    fail = failing(result, rule_id)
    level = LEVEL_ZH.get(rule.level, rule.level)
    shown = fail.head(max_rows)
    upper = rule_id in bounded_rules(result)
    rows = [
        [r.unit_id, r.unit_name, value_text(r, upper=upper), str(r.threshold), r.message]
        for r in shown.itertuples()
    ]
    table = Table(
        pages,
        [f"{level}编码", f"{level}名称", "实测值", "标准", "问题说明"],
        [3.2, 3.4, 1.6, 2.0, 4.2],
        aligns=["left", "left", "right", "left", "left"],
    )
    note = ""
    if len(fail) > len(shown):
        note = f"共 {len(fail):,} 条，此处按差距从大到小列出前 {len(shown)} 条；完整清单见 Excel 报表“问题清单”工作表。"
    severity = SEVERITY_ZH.get(rule.severity, rule.severity)
    intro = f"规则：{rule.title_zh}（{rule.id}，{severity}性）\n依据：{rule.source}"
    table.draw(rows, title=f"问题清单：{family_title(result, rule_id)}", intro=intro, note=note)


def _layer_zh(layer: object) -> str:
    """A problem's layer: the study's layer kind in Chinese, a file's layer name as given."""
    kinds = {
        "communities": "社区",
        "grids": "网格",
        "households": "住户",
        "facilities": "设施",
        "network": "路网",
    }
    return kinds.get(str(layer), str(layer or ""))


def _qa_pages(pages: Pages, result: CheckResult, *, max_rows: int) -> None:
    f = result.findings
    qa = f[f["rule_id"].str.startswith("qa.")]
    probs = [p for p in result.problems if p.severity in ("warning", "error")]
    if not len(qa) and not probs:
        return
    rows = [
        [r.rule_title, r.unit_id, r.unit_name, r.message] for r in qa.head(max_rows).itertuples()
    ]
    rows += [
        ["输入数据：" + qa_code_text(p.code), _layer_zh(p.layer), str(p.column or ""), p.message]
        for p in probs[:max_rows]
    ]
    table = Table(pages, ["问题类型", "单位编码", "名称/图层", "说明"], [3.5, 2.8, 2.4, 6.5])
    table.draw(
        rows,
        title="数据质量问题",
        intro="以下问题不影响上述检查的进行，但可能影响结论的准确性，建议核实源数据。",
    )


def _coverage_table(pages: Pages, result: CheckResult) -> None:
    t = coverage_rows(result)
    if not len(t):
        return
    rows = []
    for _, r in t.iterrows():
        how = r["计算方式"] + ("（直线上限）" if r["口径"] == COV_BOUND else "")
        rows.append(
            [
                r["设施类型"],
                how,
                num(r["服务半径(米)"], 2),
                num(r["总户数"]),
                uncovered_text(r),
                share_text(r),
                units_text(r),
            ]
        )
    head = ["设施类型", "计算方式", "半径(米)", "总户数", "未覆盖户数", "覆盖率", "不合规/未评估"]
    table = Table(
        pages,
        head,
        [3.2, 3.2, 1.4, 1.7, 1.9, 1.6, 2.0],
        aligns=["left", "left", "right", "right", "right", "right", "right"],
    )
    intro = (
        "按住户到最近同类设施的距离统计；距离不超过服务半径即为覆盖。"
        "“不合规/未评估”为该项规则的单位个数（与问题清单一致）。"
    )
    if (t["口径"] == COV_BOUND).any():
        intro += "\n" + COV_BOUND_NOTE
    table.draw(rows, title="服务设施覆盖", intro=intro)


def _plan_spec(
    units: GeoDataFrame,
    status: pd.Series,
    households: pd.Series,
    names: pd.Series,
    *,
    band: SizeBand | None,
) -> MapSpec:
    spec = MapSpec()
    pal = {
        "too_large": status_fill("fail"),
        "too_small": "#6baed6",
        "pass": status_fill("pass"),
        "not_assessed": status_fill("not_assessed"),
    }
    colors = status.map(pal).fillna(pal["not_assessed"]).tolist()
    spec.layers.append(MapLayer(units, colors, edge="#252525", width=0.8, zorder=2))
    vc = status.value_counts()
    lo = "—" if band is None or band.min is None else f"{num(band.min)}"
    hi = "—" if band is None or band.max is None else f"{num(band.max)}"
    for key, text in (
        ("too_large", f"超过 {hi} 户"),
        ("too_small", f"少于 {lo} 户（未豁免）"),
        ("pass", band.label() if band is not None else "达标"),
        ("not_assessed", NOT_ASSESSED_ZH),
    ):
        if key != "not_assessed" or vc.get(key, 0):
            spec.legend.append((f"{text}（{int(vc.get(key, 0))} 个）", pal[key], None))
    xy = label_points(units.geometry.to_numpy())
    spec.labels = [
        (
            xy[i, 0],
            xy[i, 1],
            f"{names.iloc[i]}\n{num(households.iloc[i])} 户",
            status.iloc[i] != "pass",
        )
        for i in range(min(len(units), MAX_LABELS))
    ]
    return spec


def _plan_pages(pages: Pages, result: CheckResult, plan: Plan, *, date: str, max_rows: int) -> None:
    band = plan.band
    before = result.communities
    base = plan.communities(base=True)
    b_status = (
        base["status"]
        .reindex(before.index.astype(str))
        .fillna("not_assessed")
        .set_axis(before.index)
    )
    hh = base["households"].reindex(before.index.astype(str)).set_axis(before.index)
    after = plan.dissolve()
    names_b = (
        before["name"].astype(str)
        if "name" in before.columns
        else before.index.to_series().astype(str)
    )
    fig = pages.new()
    section_title(fig, f"调整方案：{getattr(plan, 'name', '方案')}（调整前后对比）")
    for k, (units, status, households, names, label) in enumerate(
        (
            (before, b_status, hh, names_b, "调整前（现状）"),
            (
                after,
                after["status"],
                after["households"],
                after["name"].astype(str),
                "调整后（方案）",
            ),
        )
    ):
        ax = fig.add_axes((0.12, 0.5 - k * 0.42, 0.76, 0.37))
        info = draw_map(ax, result, _plan_spec(units, status, households, names, band=band))
        ax.set_title(label, fontsize=11, fontweight="bold")
        add_legend(ax, info["spec"], loc="upper left", bbox=(1.005, 1.0), ncol=1, fontsize=6.5)
    fig.text(LEFT, 0.045, plan_sentence(plan), fontsize=8)
    fig.text(
        LEFT, 0.028, source_note(result, date=date).split("\n")[0], fontsize=6.5, color="#555555"
    )
    pages.save(fig)
    cmp_rows = plan_rows(plan)
    Table(pages, list(cmp_rows.columns), [4, 4, 4], aligns=["left", "right", "right"]).draw(
        cmp_rows.astype(str).values.tolist(),
        title="调整前后对比",
        intro="两栏均按同一规则配置、同一户数口径（含网格外住户）计算。",
    )
    ch = plan.changes()
    rows = [
        [
            r.unit_id,
            r.unit_name,
            f"{r.from_name}（{r.from_community}）",
            f"{r.to_name}（{r.to_community}）",
            num(r.households),
        ]
        for r in ch.head(max_rows).itertuples()
    ]
    if not rows:
        rows = [["—", "方案未作调整", "", "", ""]]
    table = Table(
        pages,
        ["网格编码", "网格名称", "原社区", "新社区", "户数"],
        [3, 3.2, 3.6, 3.6, 1.4],
        aligns=["left", "left", "left", "left", "right"],
    )
    note = f"共 {len(ch):,} 条，仅列出前 {max_rows} 条。" if len(ch) > max_rows else ""
    table.draw(rows, title="调整方案变更清单", note=note)


def report_pdf(
    result: CheckResult,
    path: str | os.PathLike,
    *,
    plan: Plan | None = None,
    coverage: CoverageResult | None = None,
    date: _dt.date | str | None = None,
    forecast: Projection | None = None,
    title: str = "社区网格合规检查报告",
    max_rows: int = 60,
) -> Path:
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
        A :class:`gridmap.coverage.CoverageResult` to report instead of
        ``result.coverage_result``: with either, the coverage table and one gap map per
        coverage spec that leaves households uncovered.
    date
        Report date (default today).
    forecast
        A :class:`gridmap.change.Projection` of the same study: adds the 预测 section (the
        first year of each violation).
    title
        Report title on the cover.
    max_rows
        At most this many violations per rule in the PDF tables (largest gaps
        first); the XLSX has them all.

    Returns
    -------
    pathlib.Path

    See the example of :mod:`gridmap.report`.
    """
    from matplotlib.backends.backend_pdf import PdfPages

    path = Path(path)
    result = result.with_coverage(coverage)
    when = date_text(date)
    with atomic_path(path, suffix=".pdf") as tmp, style():
        meta = {
            "Title": f"{result.study.name} {title}",
            "Author": f"gridmap {__version__}",
            "Subject": f"{result.study.name}：社区规模、网格配置、服务设施合规检查"
            f"（规则配置 {result.profile.id}：{result.profile.title_zh}）",
            "Keywords": "社区网格, 合规检查, gridmap",
            "Creator": "gridmap",
        }
        with PdfPages(tmp, metadata=meta) as pdf:
            pages = Pages(pdf, f"{result.study.name} · {title}", when)
            _cover(pages, result, title=title, date=when, plan=plan)
            _summary_page(pages, result)
            for family in map_families(result):
                _map_page(pages, result, family, date=when)
                if family != "overview" and not family.startswith("coverage:"):
                    _violations(pages, result, family, max_rows=max_rows)
            _coverage_table(pages, result)
            if plan is not None:
                _plan_pages(pages, result, plan, date=when, max_rows=max_rows)
            if forecast is not None:
                forecast_pages(pages, forecast, max_rows=max_rows)
            _qa_pages(pages, result, max_rows=max_rows)
        _add_bookmarks(tmp, pages.bookmarks)
    return path


def _add_bookmarks(path: Path, bookmarks: list[tuple[str, int]]) -> None:
    """Write the PDF's outline: one bookmark per section, opened in the reader's side panel."""
    # pypdf loads only when a PDF is written, like matplotlib: `import gridmap.report` stays fast
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=str(path))
    for text, page in bookmarks:
        writer.add_outline_item(title=text, page_number=page)
    writer.page_mode = "/UseOutlines"
    with open(path, "wb") as f:
        writer.write(f)
