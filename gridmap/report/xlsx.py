"""The Excel report: 汇总, 社区, 网格, 问题清单, 覆盖 (and a plan's sheets).

Chinese headers, frozen header rows, number formats and status colours, written with
xlsxwriter. What a planner reads is human: shares as percentages, 是/否 for yes/no,
Chinese names of coverage columns and sources; codes that look like numbers (社区编码)
are text, with Excel's "number stored as text" warning switched off for them.

Every sheet prints: landscape A4, one page wide, the header row (and the id columns)
repeated on each page, the sheet name in the page header and a footer with the study,
the profile, the date and 第 x 页 / 共 y 页.
"""

from __future__ import annotations

import datetime as _dt
import io
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from gridmap._atomic import atomic_path
from gridmap._version import __version__
from gridmap.change import Projection
from gridmap.check import CheckResult
from gridmap.columns import ALIASES
from gridmap.coverage import CoverageResult
from gridmap.crs import crs_label
from gridmap.facilities import type_label
from gridmap.labels import status_label, text_width
from gridmap.plans import CHANGE_COLUMNS_ZH, Plan
from gridmap.report._coverage import (
    COV_BOUND,
    COV_BOUND_NOTE,
    COV_MEASURED,
    coverage_rows,
    share_text,
    uncovered_text,
    units_text,
)
from gridmap.report._forecast import forecast_tables
from gridmap.report._text import (
    COMMUNITY_ZH,
    FINDING_ZH,
    GRID_ZH,
    LEVEL_ZH,
    NOT_ASSESSED_ZH,
    SEVERITY_ZH,
    SIZE_ZH,
    date_text,
    status_zh,
)
from gridmap.report.figures import failing, headline_figures, plan_rows, plan_sentence, rule_counts

__all__ = ["cell_value", "findings_xlsx", "report_xlsx", "report_xlsx_bytes"]


def _cjk_width(text: str) -> float:
    """Display width in CJK characters (a Latin character counts 0.55)."""
    return text_width(text, 1.0, 0.55)


#: where a grid's households come from (``households_source``)
_HOUSEHOLDS_SOURCE_ZH = {"layer": "住户图层汇总", "attribute": "网格属性", "none": "无"}
#: coverage columns ``prefix:spec id`` → Chinese header prefix
_COVERAGE_PREFIX_ZH = {
    "covered": "覆盖户数",
    "coverage": "覆盖率",
    "covered_bound": "覆盖户数上限(直线)",
    "coverage_bound": "覆盖率上限(直线)",
    "uncovered": "未覆盖户数",
    "floor_area_m2": "服务用房面积(m²)",
}


def _coverage_header(result: CheckResult, col: object) -> object:
    """``covered:community.coverage.service_station`` → ``覆盖户数:社区服务站（步行 500 米）``."""
    prefix, sep, sid = str(col).partition(":")
    if not sep or prefix not in _COVERAGE_PREFIX_ZH:
        return col
    if prefix == "floor_area_m2":
        return _COVERAGE_PREFIX_ZH[prefix]
    specs = result.coverage_result.specs if result.coverage_result is not None else []
    spec = next((s for s in specs if s.id == sid), None)
    if spec is None:
        return f"{_COVERAGE_PREFIX_ZH[prefix]}:{sid}"
    how = "步行" if spec.mode == "network" else "直线"
    return f"{_COVERAGE_PREFIX_ZH[prefix]}:{type_label(spec.facility_type)}（{how} {spec.radius_m:g} 米）"


def _communities_sheet(result: CheckResult) -> pd.DataFrame:
    t = result.communities_table()
    fail = failing(result)
    fail = fail[fail["level"] == "community"].groupby("unit_id")["rule_title"].agg("；".join)
    t["status"] = status_zh(t["status"])
    if "size_status" in t.columns:
        t["size_status"] = t["size_status"].map(lambda v: SIZE_ZH.get(v, v))
    t["failing"] = t["community_id"].astype(str).map(fail).fillna("")
    rename = {**_alias_headers("communities", map(str, t.columns)), **COMMUNITY_ZH}
    rename["failing"] = "不合规项"
    return t.rename(columns=rename).rename(columns=lambda c: _coverage_header(result, c))


def _alias_headers(layer: str, columns: Iterable[str]) -> dict[str, str]:
    """Chinese headers for input columns the tables above do not name (``type`` → 社区类型).

    The first Chinese alias gridmap reads the column by (:data:`gridmap.columns.ALIASES`).
    """
    aliases = ALIASES.get(layer, {})
    out: dict[str, str] = {}
    for col in columns:
        zh = [a for a in aliases.get(col, ()) if re.search(r"[\u4e00-\u9fff]", a)]
        if zh:
            out[col] = zh[0]
    return out


def _grids_sheet(result: CheckResult) -> pd.DataFrame:
    t = result.grids_table()
    if t is None:
        return pd.DataFrame({"说明": ["未提供网格图层"]})
    t["status"] = status_zh(t["status"])
    if "households_source" in t.columns:
        t["households_source"] = t["households_source"].map(
            lambda v: _HOUSEHOLDS_SOURCE_ZH.get(v, v)
        )
    rename = {**_alias_headers("grids", map(str, t.columns)), **GRID_ZH}
    return t.rename(columns=rename).rename(columns=lambda c: _coverage_header(result, c))


def _findings_sheet(result: CheckResult) -> pd.DataFrame:
    f = result.findings.copy()
    order = {"fail": 0, "not_assessed": 1, "pass": 2}
    f = f.assign(_o=f["status"].map(order).fillna(3)).sort_values(
        ["_o", "level", "rule_id", "gap"], ascending=[True, True, True, False], kind="stable"
    )
    f["status"] = status_zh(f["status"])
    f["level"] = f["level"].map(lambda v: LEVEL_ZH.get(v, v))
    f["severity"] = f["severity"].map(lambda v: SEVERITY_ZH.get(v, v))
    f["value"] = pd.to_numeric(f["value"], errors="coerce")
    cols = [
        "level",
        "unit_id",
        "unit_name",
        "rule_id",
        "rule_title",
        "value",
        "threshold",
        "status",
        "gap",
        "message",
        "severity",
        "source",
    ]
    return f[cols].rename(columns=FINDING_ZH).reset_index(drop=True)


def _findings(wb: Any, fmt: dict[str, Any], result: CheckResult) -> None:
    """问题清单: values of share rules (threshold in %) as percentages."""
    sheet = _findings_sheet(result)
    shares = sheet["标准"].astype(str).str.contains("%", regex=False)
    _write_sheet(wb, fmt, "问题清单", sheet, freeze_cols=3, share_rows=shares)


def _summary_sheet(result: CheckResult, plan: Plan | None) -> pd.DataFrame:
    rows = [
        ("研究区", result.study.name),
        ("规则配置", f"{result.profile.id}（{result.profile.title_zh}）"),
        ("计算坐标系", crs_label(result.study.crs)),
    ]
    rows += [(label, f"{value}（{note}）") for label, value, note in headline_figures(result)]
    for _, r in coverage_rows(result).iterrows():
        key = f"覆盖：{r['设施类型']} {r['计算方式']} {r['服务半径(米)']:g} 米"
        if r["口径"] == COV_MEASURED:
            text = f"覆盖率 {share_text(r)}，未覆盖 {uncovered_text(r)} 户"
        elif r["口径"] == COV_BOUND:
            text = (
                f"未实测（无路网），直线距离上限：覆盖率 {share_text(r)}，"
                f"未覆盖 {uncovered_text(r)} 户"
            )
        else:
            text = "未评估（无路网）"
        if units_text(r):
            text += f"；不合规 {r['不合规单位']}、未评估 {r['未评估单位']} 个单位"
        rows.append((key, text))
    if plan is not None:
        rows.append(("调整方案", f"{plan.name}：{plan_sentence(plan)}"))
    rows.append(("生成软件", f"gridmap {__version__}"))
    return pd.DataFrame(rows, columns=["项目", "内容"])


#: status cells: Excel's own 差 / 好 / 适中 / neutral cell styles (fill, font), by status name
_STATUS_FILLS = tuple(
    (status_label(s), fill, font)
    for s, fill, font in (
        ("fail", "#F8CBAD", "#9C0006"),
        ("pass", "#C6EFCE", "#006100"),
        ("warning", "#FFEB9C", "#9C5700"),
        ("not_assessed", "#E7E6E6", "#595959"),
    )
)


def _workbook(buf: io.BytesIO) -> tuple[Any, dict[str, Any]]:
    """An xlsxwriter workbook with the shared formats; text stays text (no formulas, no links)."""
    wb = xlsxwriter.Workbook(
        buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    fmt = {
        "head": wb.add_format(
            {
                "bold": True,
                "font_color": "#FFFFFF",
                "bg_color": "#34495E",
                "valign": "vcenter",
                "text_wrap": True,
            }
        ),
        "bold": wb.add_format({"bold": True}),
        "int": wb.add_format({"num_format": "#,##0"}),
        "float": wb.add_format({"num_format": "#,##0.0#"}),
        "share": wb.add_format({"num_format": "0.0%"}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top"}),
        "ok": wb.add_format({"bg_color": "#C6EFCE"}),
        "bad": wb.add_format({"bg_color": "#F8CBAD"}),
    }
    for text, fill, font in _STATUS_FILLS:
        fmt[text] = wb.add_format({"bg_color": fill, "font_color": font})
    return wb, fmt


def cell_value(v: Any) -> Any:
    """A value xlsxwriter can write: None for blanks (NaN, NA, NaT, ±inf), text for dates.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> values = (np.nan, np.inf, pd.NaT, pd.NA, np.int64(5), pd.Timestamp("2026-11-23"))
    >>> [cell_value(v) for v in values]
    [None, None, None, None, 5, '2026-11-23 00:00:00']
    """
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and not math.isfinite(v)):
        return None
    if isinstance(v, (pd.Timestamp, _dt.date)):
        return str(v)
    return v


#: columns holding a share (0.25 → 25.0 %), by header
_SHARE_HEADERS = ("比例", "率")
#: widest a column gets; longer text wraps (so a sheet fits one page wide)
_MAX_WIDTH = 36
#: yes/no cells
YES_NO = {True: "是", False: "否"}


def _human(v: Any) -> Any:
    """A cell as a planner reads it: 是/否 for booleans, blanks for missing."""
    v = cell_value(v)
    return YES_NO[v] if isinstance(v, bool) else v


def _is_share(col: object, values: pd.Series) -> bool:
    return any(k in str(col) for k in _SHARE_HEADERS) and pd.api.types.is_numeric_dtype(values)


def _write_sheet(
    wb,
    fmt: dict,
    name: str,
    df: pd.DataFrame,
    *,
    status_cols=("综合状态", "状态"),
    freeze_cols: int = 0,
    share_rows: pd.Series | None = None,
) -> Any:
    """Write ``df`` as the sheet ``name``.

    Dark header, number formats and widths per column, status colours, frozen header
    (and ``freeze_cols`` columns), a filter. ``share_rows`` (bool per row) marks the rows
    whose numbers in ``实测值`` are shares.
    """
    ws = wb.add_worksheet(name)
    ws.write_row(0, 0, [str(c) for c in df.columns], fmt["head"])
    n = len(df)
    for j, col in enumerate(df.columns):
        values = df[col].tolist()
        numeric = pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col])
        writer = ws.write_number if numeric else ws.write
        for i, v in enumerate(values, start=1):
            v = _human(v)
            if v is None:
                continue
            if share_rows is not None and col == "实测值" and share_rows.iloc[i - 1]:
                writer(i, j, v, fmt["share"])
            else:
                writer(i, j, v)
        sample = [str(col)] + [str(_human(v)) for v in values[:300]]
        width = min(60, max(6, max(_cjk_width(t) for t in sample) * 2 + 2))
        col_fmt = None
        if _is_share(col, df[col]):
            col_fmt = fmt["share"]
        elif pd.api.types.is_float_dtype(df[col]):
            col_fmt = fmt["float"]
        elif pd.api.types.is_integer_dtype(df[col]):
            col_fmt = fmt["int"]
        elif width > _MAX_WIDTH:
            col_fmt = fmt["wrap"]
        ws.set_column(j, j, min(width, _MAX_WIDTH), col_fmt)
        if col in status_cols and n:
            for text, _, _ in _STATUS_FILLS:
                ws.conditional_format(
                    1,
                    j,
                    n,
                    j,
                    {"type": "cell", "criteria": "==", "value": f'"{text}"', "format": fmt[text]},
                )
    _wrapped_row_heights(ws, df)
    ws.freeze_panes(1, freeze_cols)
    if n:
        ws.autofilter(0, 0, n, len(df.columns) - 1)
    # codes such as 330106001001 are text on purpose
    ws.ignore_errors(
        {"number_stored_as_text": f"A1:{xl_col_to_name(max(len(df.columns), 1) - 1)}{n + 1}"}
    )
    ws.repeat_rows(0)
    if freeze_cols:
        ws.repeat_columns(0, freeze_cols - 1)
    return ws


def _wrapped_row_heights(ws: Any, df: pd.DataFrame) -> None:
    """Rows tall enough for their wrapped text (Excel and Calc do not grow them on opening)."""
    lines = np.ones(len(df), dtype=int)
    for col in df.columns:
        if pd.api.types.is_numeric_dtype(df[col]):
            continue
        widths = df[col].map(lambda v: _cjk_width(str(_human(v) or "")) * 2).to_numpy()
        lines = np.maximum(lines, np.ceil(widths.astype(float) / (_MAX_WIDTH - 2)).astype(int))
    for i in np.flatnonzero(lines > 1):
        ws.set_row(int(i) + 1, 15 * min(int(lines[i]), 8))


def _print_setup(wb: Any, footer: str) -> None:
    """Every sheet: landscape A4, one page wide, sheet name on top, ``footer`` and page x/y below."""
    for ws in wb.worksheets():
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.fit_to_pages(1, 0)  # one page wide, as many tall as needed
        ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
        ws.set_header('&C&"-,Bold"&A')
        ws.set_footer(f"&L{footer}&R第 &P 页 / 共 &N 页")


def _footer_text(result: CheckResult, date: _dt.date | str | None) -> str:
    """``示范区 · 规则 national · 2026-11-23`` (``&`` doubled: Excel's footer codes)."""
    study = result.study.name if len(result.study.name) <= 60 else result.study.name[:59] + "…"
    text = f"{study} · 规则 {result.profile.id} · {date_text(date)}"
    return text.replace("&", "&&")


def _coverage_sheets(wb: Any, fmt: dict[str, Any], result: CheckResult) -> None:
    """覆盖 (one row per spec, the share green/red/grey against the requirement) and 社区覆盖."""
    cov_rows = coverage_rows(result)
    if not len(cov_rows):
        _write_sheet(
            wb,
            fmt,
            "覆盖",
            pd.DataFrame(
                {
                    "说明": [
                        "未计算服务设施覆盖（运行 gridmap coverage 或在报告中提供覆盖结果后生成）"
                    ]
                }
            ),
        )
        return
    ws = _write_sheet(wb, fmt, "覆盖", cov_rows)
    j = list(cov_rows.columns).index("覆盖率")
    letter = xl_col_to_name(j)
    for i, (_, r) in enumerate(cov_rows.iterrows(), start=1):
        need, basis = r["要求覆盖率"] - 1e-9, r["口径"]
        at_least = {"type": "formula", "criteria": f"={letter}{i + 1}>={need}"}
        if basis == COV_MEASURED:
            ws.conditional_format(i, j, i, j, {**at_least, "format": fmt["ok"]})
        elif basis != COV_BOUND:  # not measured: grey, never green or red
            ws.conditional_format(i, j, i, j, {"type": "no_errors", "format": fmt[NOT_ASSESSED_ZH]})
            continue
        else:  # an upper bound: red when even the bound is short, else grey (not assessed)
            ws.conditional_format(i, j, i, j, {**at_least, "format": fmt[NOT_ASSESSED_ZH]})
        ws.conditional_format(
            i,
            j,
            i,
            j,
            {"type": "formula", "criteria": f"={letter}{i + 1}<{need}", "format": fmt["bad"]},
        )
    ws.write_comment(0, list(cov_rows.columns).index("口径"), COV_BOUND_NOTE)
    comm = result.coverage_result.communities if result.coverage_result is not None else None
    if comm is not None and len(comm):
        t = pd.DataFrame(comm).copy()
        t.insert(0, "社区编码", t.index.astype(str))
        if "name" in result.communities.columns:
            names = result.communities["name"].astype(str)
            t.insert(1, "社区名称", t["社区编码"].map(names).fillna(""))
        t = t.rename(columns={"households": "户数"}).rename(
            columns=lambda c: _coverage_header(result, c)
        )
        _write_sheet(wb, fmt, "社区覆盖", t.reset_index(drop=True), freeze_cols=2)


def _summary_with_rules(
    wb: Any, fmt: dict[str, Any], result: CheckResult, plan: Plan | None
) -> None:
    """汇总: the summary rows, a blank row, then units per status of each rule."""
    summary = _summary_sheet(result, plan)
    ws = _write_sheet(wb, fmt, "汇总", summary)
    counts = rule_counts(result)
    start = len(summary) + 2  # a blank row, then the per-rule table (0-based rows)
    ws.write(start, 0, "各项规则检查结果", fmt["bold"])
    ws.write_row(start + 1, 0, [str(c) for c in counts.columns], fmt["head"])
    for i, row in enumerate(counts.itertuples(index=False), start=start + 2):
        for j, v in enumerate(row):
            v = cell_value(v)
            if v is not None:
                ws.write(i, j, v)
    if len(counts):
        first, last = start + 2, start + 1 + len(counts)
        ws.conditional_format(
            first, 5, last, 5, {"type": "cell", "criteria": ">", "value": 0, "format": fmt["bad"]}
        )
        ws.conditional_format(
            first, 5, last, 5, {"type": "cell", "criteria": "==", "value": 0, "format": fmt["ok"]}
        )
    widths = [_cjk_width(str(c)) * 2 + 2 for c in summary.columns]
    for j, w in enumerate((26, 60, 8, 8, 8, 8, 8, 60)):
        ws.set_column(j, j, max(widths[j] if j < len(widths) else 0, w))


def report_xlsx_bytes(
    result: CheckResult,
    *,
    plan: Plan | None = None,
    coverage: CoverageResult | None = None,
    date: _dt.date | str | None = None,
    forecast: Projection | None = None,
) -> bytes:
    """The Excel workbook as bytes: 汇总, 社区, 网格, 问题清单, 覆盖 (+ 社区覆盖, 方案对比, 方案变更).

    Parameters
    ----------
    result
        A :class:`gridmap.CheckResult`.
    plan
        A :class:`gridmap.plans.Plan`: adds 方案对比 and 方案变更.
    coverage
        Coverage results to report instead of ``result.coverage_result``.
    date
        Report date in the page footer (default today).
    forecast
        A :class:`gridmap.change.Projection`: adds 预测概况 and 预测 (first year of each
        violation).

    Returns
    -------
    bytes
    """
    result = result.with_coverage(coverage)
    buf = io.BytesIO()
    wb, fmt = _workbook(buf)
    _summary_with_rules(wb, fmt, result, plan)
    _write_sheet(wb, fmt, "社区", _communities_sheet(result), freeze_cols=2)
    _write_sheet(wb, fmt, "网格", _grids_sheet(result), freeze_cols=2)
    _findings(wb, fmt, result)
    _coverage_sheets(wb, fmt, result)
    if plan is not None:
        _write_sheet(wb, fmt, "方案对比", plan_rows(plan))
        _write_sheet(wb, fmt, "方案变更", plan.changes().rename(columns=CHANGE_COLUMNS_ZH))
    if forecast is not None:
        for name, table in forecast_tables(forecast).items():
            _write_sheet(wb, fmt, name, table)
    _print_setup(wb, _footer_text(result, date))
    wb.close()
    return buf.getvalue()


def findings_xlsx(result: CheckResult) -> bytes:
    """The findings table alone as an XLSX (one sheet 问题清单), for the dashboard's export button."""
    buf = io.BytesIO()
    wb, fmt = _workbook(buf)
    _findings(wb, fmt, result)
    _print_setup(wb, _footer_text(result, None))
    wb.close()
    return buf.getvalue()


def report_xlsx(
    result: CheckResult,
    path: str | os.PathLike,
    *,
    plan: Plan | None = None,
    coverage: CoverageResult | None = None,
    date: _dt.date | str | None = None,
    forecast: Projection | None = None,
) -> Path:
    """Write the Excel report (atomically); see :func:`report_xlsx_bytes`.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    data = report_xlsx_bytes(result, plan=plan, coverage=coverage, date=date, forecast=forecast)
    with atomic_path(path, suffix=".xlsx") as tmp:
        tmp.write_bytes(data)
    return path
