"""One entry point for every report format: :func:`write_report` picks it from the file suffix."""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

from gridmap.change import Projection
from gridmap.check import CheckResult
from gridmap.coverage import CoverageResult
from gridmap.plans import Plan
from gridmap.report.html_map import report_html
from gridmap.report.layers import export_layers
from gridmap.report.pdf import report_pdf
from gridmap.report.xlsx import report_xlsx

__all__ = ["FORMATS", "write_report"]

#: output formats by file suffix
FORMATS = {
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
    ".xlsx": "xlsx",
    ".gpkg": "layers",
    ".shp": "layers",
}


def write_report(
    result: CheckResult,
    path: str | os.PathLike,
    *,
    plan: Plan | None = None,
    coverage: CoverageResult | None = None,
    date: _dt.date | str | None = None,
    encoding: str = "gbk",
    forecast: Projection | None = None,
) -> Path:
    """Write a report, the format chosen by the suffix of ``path``.

    ``.pdf`` → :func:`~gridmap.report.report_pdf`, ``.html`` →
    :func:`~gridmap.report.report_html`, ``.xlsx`` → :func:`~gridmap.report.report_xlsx`,
    ``.gpkg`` or ``.shp`` → :func:`~gridmap.report.export_layers`.

    Parameters
    ----------
    result
        A :class:`gridmap.CheckResult`.
    path
        The file to write (atomically).
    plan
        A :class:`gridmap.plans.Plan` (PDF and XLSX).
    coverage
        Coverage results to report instead of ``result.coverage_result``.
    date
        Report date (PDF, HTML and the XLSX page footer; default today).
    encoding
        Text encoding of Shapefiles (``"gbk"`` or ``"utf-8"``).
    forecast
        A :class:`gridmap.change.Projection` of the study (e.g. of its residential projects,
        :func:`gridmap.change.project`): the 预测 section of the PDF and the HTML report and the
        预测 sheets of the XLSX (the first year of each violation). The layers show today.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        For any other suffix (the message lists the valid ones).
    """
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind == "pdf":
        return report_pdf(result, path, plan=plan, coverage=coverage, date=date, forecast=forecast)
    if kind == "html":
        return report_html(result, path, coverage=coverage, date=date, forecast=forecast)
    if kind == "xlsx":
        return report_xlsx(result, path, plan=plan, coverage=coverage, date=date, forecast=forecast)
    if kind == "layers":
        export_layers(result, path, encoding=encoding, coverage=coverage)
        return path
    raise ValueError(
        f"报告格式无法识别 / unknown report format {path.suffix!r}; "
        f"use one of: {', '.join(FORMATS)}"
    )
