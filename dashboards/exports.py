"""What the export buttons download: the compliance map as PNG/PDF, the findings table as XLSX.

Pure functions of the provider (no Dash), so the callbacks stay one line and the
fast tests call these directly. Files are rendered by gridmap itself
(:func:`gridmap.maps.map_png`, :func:`gridmap.report.findings_xlsx`) in Chinese;
file names are Chinese too: ``合规地图_<study>_<date>.png``.
"""

from __future__ import annotations

import copy
import datetime as _dt
import re

import pandas as pd

from dashboards.provider import DashboardProvider, filter_findings
from gridmap import maps
from gridmap.report import findings_xlsx

__all__ = ["export_filename", "map_family", "map_export", "findings_export", "MAP_FORMATS"]

MAP_FORMATS = ("png", "pdf")
_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')


def export_filename(kind: str, study: str, ext: str, date: _dt.date | None = None) -> str:
    """``<kind>_<study>_<YYYY-MM-DD>.<ext>``, characters unsafe in file names replaced by ``_``.

    >>> export_filename("合规地图", "示范区", "png", _dt.date(2026, 11, 23))
    '合规地图_示范区_2026-11-23.png'
    >>> export_filename("问题清单", "a/b c", "xlsx", _dt.date(2026, 1, 2))
    '问题清单_a_b_c_2026-01-02.xlsx'
    """
    date = date or _dt.date.today()
    name = _UNSAFE.sub("_", str(study)).strip("_.") or "study"
    return f"{kind}_{name}_{date.isoformat()}.{ext}"


def map_family(
    provider: DashboardProvider, level: str, mode: str | None, profile: str | None = None
) -> str:
    """The :mod:`gridmap.maps` family drawing the map as shown.

    ``"overview"`` for the overall status (and metrics), a rule's own family when maps
    draws one for it, else ``"overview"``.

    ``level`` only matters through the rule: grid rules have grid maps; the overview
    shows communities by status with the grid boundaries.
    """
    if not mode or not mode.startswith("rule:"):
        return "overview"
    rid = mode.split(":", 1)[1]
    res = provider.result(profile)
    rule = next((r for r in res.profile.rules if r.id == rid), None)
    if rule is None or (level in ("community", "grid") and rule.level != level):
        return "overview"
    return rid if rid in maps.map_families(res) else "overview"


def map_export(
    provider: DashboardProvider,
    level: str,
    mode: str | None,
    profile: str | None = None,
    fmt: str = "png",
    *,
    date: _dt.date | None = None,
    dpi: int = 150,
) -> tuple[bytes, str]:
    """(bytes, file name) of the current map rendered server-side as ``fmt`` (png or pdf)."""
    if fmt not in MAP_FORMATS:
        raise ValueError(f"fmt must be one of {MAP_FORMATS}, got {fmt!r}")
    date = date or _dt.date.today()
    res = provider.result(profile)
    family = map_family(provider, level, mode, profile)
    data = maps.map_png(res, family, dpi=dpi, date=date, fmt=fmt)
    return data, export_filename("合规地图", provider.study.name, fmt, date)


def findings_export(
    provider: DashboardProvider,
    profile: str | None = None,
    *,
    search: str | None = None,
    status: str | None = None,
    level: str | None = None,
    lang: str = "zh",
    date: _dt.date | None = None,
) -> tuple[bytes, str]:
    """(bytes, file name) of the findings table as XLSX (sheet 问题清单, Chinese headers).

    With ``search``/``status``/``level`` only the rows the findings page shows (the
    search matches in ``lang``, as on the page); the workbook is always in Chinese.
    """
    date = date or _dt.date.today()
    res = provider.result(profile)
    if any(v and v != "all" for v in (search, status, level)):
        shown = filter_findings(
            provider.findings(profile, lang), search=search, status=status, level=level
        )
        keys = ["level", "unit_id", "rule_id"]
        f = res.findings
        wanted = pd.MultiIndex.from_frame(shown[keys].astype(str))
        mask = pd.MultiIndex.from_frame(f[keys].astype(str)).isin(wanted)
        res = copy.copy(res)  # shallow: only ``findings`` differs
        res.findings = f[mask]
    return findings_xlsx(res), export_filename("问题清单", provider.study.name, "xlsx", date)
