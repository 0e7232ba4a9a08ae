"""The report's 预测 Forecast section: the first year of each violation as projects fill up.

From a :class:`gridmap.change.Projection` (the check re-run per year): a table per year (住户总数,
不合规社区/网格, 新增违规) and the violations with the year each first fails, new ones (not
failing today) first. :func:`forecast_tables` gives both as Chinese-headed tables (the XLSX
sheets); :func:`forecast_pages` draws them in the PDF and :func:`forecast_html` gives them as the
text of the HTML report's tables: one source, the same numbers in every format.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from gridmap.change import Projection
from gridmap.report._layout import Pages, Table
from gridmap.report._text import num

__all__ = [
    "forecast_tables",
    "forecast_pages",
    "forecast_html",
    "YEARS_SHEET",
    "VIOLATIONS_SHEET",
    "YEARS_TITLE",
    "VIOLATIONS_TITLE",
]

#: the XLSX sheet names
YEARS_SHEET = "预测概况"
VIOLATIONS_SHEET = "预测"
#: the section titles (PDF and HTML)
YEARS_TITLE = "预测：各年概况"
VIOLATIONS_TITLE = "预测：违规首次出现年份"
VIOLATIONS_INTRO = "每个（单元，规则）首次不合规的年份；“新增违规”为今天合规、将来不合规者。"
NO_VIOLATIONS = "预测期内没有违规"
LEVEL_ZH = {"community": "社区", "grid": "网格"}
VIOLATION_COLUMNS = {
    "first_year": "首次违规年份",
    "new": "新增违规",
    "level": "层级",
    "unit_id": "单元编码",
    "name": "名称",
    "rule_title": "规则",
    "message": "说明",
}


def _years(projection: Projection) -> pd.DataFrame:
    rows = []
    for year, y in projection.summary()["years"].items():
        rows.append(
            {
                "年份": int(year),
                "住户总数": int(y["households_total"]),
                "不合规社区": int(y["communities_status"].get("fail", 0)),
                "规模偏大社区": int(y["communities_size"].get("too_large", 0) or 0),
                "不合规网格": int(y["grids_status"].get("fail", 0)),
                "新增违规": int(y["new_violations"]),
            }
        )
    return pd.DataFrame(rows)


def _violations(projection: Projection) -> pd.DataFrame:
    v = projection.violations()
    v = v.sort_values(
        ["new", "first_year", "level", "unit_id"], ascending=[False, True, True, True]
    )
    out = v.assign(
        level=v["level"].map(LEVEL_ZH).fillna(v["level"]),
        new=v["new"].map({True: "是", False: "否（今天已不合规）"}),
    )
    return out[list(VIOLATION_COLUMNS)].rename(columns=VIOLATION_COLUMNS).reset_index(drop=True)


def forecast_tables(projection: Projection) -> dict[str, pd.DataFrame]:
    """``{sheet name: table}``: the years (预测概况) and the first year of each violation (预测)."""
    return {YEARS_SHEET: _years(projection), VIOLATIONS_SHEET: _violations(projection)}


def _intro(projection: Projection) -> str:
    s = projection.summary()
    ramp = "、".join(f"{f:.0%}" for f in projection.ramp.fractions)
    return (
        f"{s['projects']} 个在建住宅项目，规划 {s['planned_households']:,} 户，"
        f"基准年 {s['base_year']}（即本报告的检查）。未入住的住户自入住（否则竣工）年份起按入住比例 "
        f"{ramp} 逐年到位，各年按同一规则配置重新检查。"
    )


def _year_rows(years: pd.DataFrame) -> list[list[str]]:
    """The years table as text: the year, then the counts with thousands separators."""
    return [[str(r[0])] + [num(x) for x in r[1:]] for r in years.itertuples(index=False)]


def _violation_rows(violations: pd.DataFrame) -> list[list[str]]:
    """The violations table as text, one row saying so when there is none."""
    rows = [[str(x) for x in r] for r in violations.itertuples(index=False)]
    return rows or [["—", "", "", "", "", "", NO_VIOLATIONS]]


def forecast_html(projection: Projection) -> dict[str, Any]:
    """The 预测 section of the HTML report: the intro and both tables as text, every row.

    Returns
    -------
    dict
        ``{"intro": str, "years": {"title", "head", "rows"}, "violations": {...}}``, the
        rows those of :func:`forecast_tables` (header = the XLSX sheet's columns).
    """
    tables = forecast_tables(projection)
    years, v = tables[YEARS_SHEET], tables[VIOLATIONS_SHEET]
    return {
        "intro": _intro(projection),
        "years": {"title": YEARS_TITLE, "head": list(years.columns), "rows": _year_rows(years)},
        "violations": {
            "title": VIOLATIONS_TITLE,
            "intro": VIOLATIONS_INTRO,
            "head": list(v.columns),
            "rows": _violation_rows(v),
        },
    }


def forecast_pages(pages: Pages, projection: Projection, *, max_rows: int) -> None:
    """Draw the 预测 section: the years, then the violations with their first year."""
    tables = forecast_tables(projection)
    years = tables[YEARS_SHEET]
    Table(
        pages, list(years.columns), [1.2, 1.8, 1.6, 1.6, 1.6, 1.4], aligns=["left"] + ["right"] * 5
    ).draw(_year_rows(years), title=YEARS_TITLE, intro=_intro(projection))
    v = tables[VIOLATIONS_SHEET]
    shown = v.head(max_rows)
    rows = _violation_rows(shown)
    note = ""
    if len(v) > len(shown):
        note = f"共 {len(v):,} 条，此处列出前 {len(shown)} 条（新增违规在前）；完整清单见 Excel 报表“预测”工作表。"
    Table(pages, list(v.columns), [1.5, 1.6, 0.9, 2.6, 2.6, 3.0, 4.0]).draw(
        rows,
        title=VIOLATIONS_TITLE,
        intro=VIOLATIONS_INTRO,
        note=note,
    )
