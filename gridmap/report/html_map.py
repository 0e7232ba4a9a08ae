"""The offline HTML map: one self-contained file, no network access at all (no CDN, no tiles).

An SVG map with pan/zoom, layer switches, tooltips, a findings table and search. The
page is the package file ``templates/map.html``; the data goes in as JSON.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from geopandas import GeoDataFrame

from gridmap._atomic import atomic_path
from gridmap.check import CheckResult
from gridmap.coverage import CoverageResult
from gridmap.crs import crs_label
from gridmap.facilities import type_label
from gridmap.labels import STATUS_COLORS, status_label
from gridmap.maps import coverage_gaps, family_title, source_note, status_fill
from gridmap.report._coverage import (
    COV_BOUND,
    COV_BOUND_NOTE,
    COV_UNITS,
    coverage_rows,
    share_text,
    uncovered_text,
    units_text,
)
from gridmap.report._text import date_text, num
from gridmap.report.figures import failing, headline_figures

__all__ = ["report_html", "report_html_text"]


@cache
def _template() -> str:
    """The page, with ``__TITLE__``, ``__FAIL_COLOR__`` and ``__DATA__`` to fill in."""
    return files("gridmap.report").joinpath("templates/map.html").read_text(encoding="utf-8")


def _svg_path(geom: Any, x0: float, y1: float, tol: float) -> str:
    """SVG path data of a (multi)polygon, y flipped, simplified to ``tol``."""
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


def _html_data(result: CheckResult, *, date: str, max_grids: int = 20000) -> dict:
    """The JSON the page draws: units as SVG paths with status and findings, KPIs, gaps, tables."""
    x0, y0, x1, y1 = result.communities.total_bounds
    tol = max(x1 - x0, y1 - y0) / 4000
    f = result.findings
    fails = f[(f["status"] == "fail")]
    by_unit: dict[tuple[str, str], list] = {}
    for r in fails.itertuples():
        by_unit.setdefault((r.level, r.unit_id), []).append(
            [r.rule_title, r.message, str(r.threshold), r.source]
        )

    def units(gdf: GeoDataFrame, level: str, extra: dict[str, Callable[[Any], str]]) -> list[dict]:
        rows = []
        for uid, geom, row in zip(
            gdf.index.astype(str), gdf.geometry, gdf.itertuples(), strict=True
        ):
            props = {k: fn(row) for k, fn in extra.items()}
            rows.append(
                {
                    "id": uid,
                    "d": _svg_path(geom, x0, y1, tol),
                    "s": getattr(row, "status", "not_assessed"),
                    "p": props,
                    "f": by_unit.get((level, uid), []),
                }
            )
        return rows

    def hh(row: Any) -> str:
        return num(getattr(row, "households", None))

    data: dict[str, Any] = {
        "title": result.study.name,
        "date": date,
        "crs": crs_label(result.study.crs),
        "profile": f"{result.profile.id}（{result.profile.title_zh}）",
        "note": source_note(result, date=date),
        "width": float(x1 - x0),
        "height": float(y1 - y0),
        "status": {
            k: [status_label(k), status_fill(k)]
            for k in ("fail", "warning", "pass", "not_assessed")
        },
        "kpis": [list(k) for k in headline_figures(result)],
        "communities": units(
            result.communities,
            "community",
            {
                "名称": lambda r: str(getattr(r, "name", "")),
                "户数": hh,
                "网格数": lambda r: num(getattr(r, "grids", None)),
                "街道": lambda r: str(getattr(r, "street", "") or ""),
            },
        ),
        "grids": [],
        "facilities": [],
        "gaps": [],
    }
    if result.grids is not None and len(result.grids) <= max_grids:
        data["grids"] = units(
            result.grids,
            "grid",
            {
                "名称": lambda r: str(getattr(r, "name", "")),
                "户数": hh,
                "协理员": lambda r: (
                    f"{num(getattr(r, 'coordinators', None))} / 应配 {num(getattr(r, 'coordinators_required', None))}"
                ),
            },
        )
    fac = result.facilities
    if fac is not None and len(fac) <= 20000 and "facility_type" in fac.columns:
        xy = shapely.get_coordinates(shapely.point_on_surface(fac.geometry.to_numpy()))
        data["facilities"] = [
            [round(float(x - x0), 1), round(float(y1 - y), 1), type_label(t), str(n)]
            for (x, y), t, n in zip(
                xy, fac["facility_type"], fac.get("name", fac["facility_type"]), strict=True
            )
        ]
    cov = result.coverage_result
    for sid in coverage_gaps(result):
        assert cov is not None and cov.gaps is not None  # coverage_gaps found uncovered cells
        cells = cov.gaps[cov.gaps[f"uncovered:{sid}"] > 0]
        data["gaps"].append(
            {
                "id": sid,
                "label": family_title(result, f"coverage:{sid}"),
                "cells": [
                    [_svg_path(g, x0, y1, 0), int(u)]
                    for g, u in zip(cells.geometry, cells[f"uncovered:{sid}"], strict=True)
                ],
            }
        )
    data["findings"] = [
        [r.level, r.unit_id, r.unit_name, r.rule_title, r.message, str(r.threshold), r.source]
        for r in failing(result).itertuples()
    ]
    data["coverage"] = _coverage_html(result)
    return data


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


def report_html_text(
    result: CheckResult,
    *,
    coverage: CoverageResult | None = None,
    date: _dt.date | str | None = None,
    title: str = "社区网格合规检查 交互地图",
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

    Returns
    -------
    str
    """
    result = result.with_coverage(coverage)
    data = _html_data(result, date=date_text(date))
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    full = f"{result.study.name} · {title}"
    page = _template().replace("__FAIL_COLOR__", STATUS_COLORS["fail"])
    return page.replace("__TITLE__", html.escape(full)).replace("__DATA__", payload)


def report_html(
    result: CheckResult,
    path: str | os.PathLike,
    *,
    coverage: CoverageResult | None = None,
    date: _dt.date | str | None = None,
    title: str = "社区网格合规检查 交互地图",
) -> Path:
    """Write the offline interactive HTML map report (atomically); see :func:`report_html_text`.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    text = report_html_text(result, coverage=coverage, date=date, title=title)
    with atomic_path(path, suffix=".html") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
