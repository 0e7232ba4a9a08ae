"""Every component id of the dashboard, in one place.

Map ids are per page (each page that shows a map has its own MapLibre instance):
:func:`map_ids` derives them from :attr:`ID.MAP` so the JavaScript side can find
the click store of a map from the map's own id (``<map id>-click``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # pragma: no cover - Python 3.10
    from enum import Enum

    class StrEnum(str, Enum):
        def __str__(self) -> str:
            return str(self.value)


__all__ = ["ID", "MapIds", "map_ids", "PAGES"]


class ID(StrEnum):
    # shell
    URL = "gm-url"
    NAV = "gm-nav"
    PAGE = "gm-page"
    LANG = "gm-lang"
    PROFILE = "gm-profile"
    PROFILE_LABEL = "gm-profile-label"
    TITLE = "gm-title"
    SUBTITLE = "gm-subtitle"
    # overview
    OV_KPIS = "ov-kpis"
    OV_WORST = "ov-worst"
    OV_CHART = "ov-chart"
    OV_LEGEND = "ov-legend"
    # compliance map
    CM_LEVEL = "cm-level"
    CM_COLOR_BY = "cm-color-by"
    CM_LEGEND = "cm-legend"
    CM_DETAIL = "cm-detail"
    # coverage
    CV_TYPE = "cv-type"
    CV_RADIUS = "cv-radius"
    CV_METHOD = "cv-method"
    CV_NOTE = "cv-note"
    CV_STATS = "cv-stats"
    CV_LEGEND = "cv-legend"
    # findings table
    FT_SEARCH = "ft-search"
    FT_STATUS = "ft-status"
    FT_LEVEL = "ft-level"
    FT_TABLE = "ft-table"
    FT_COUNT = "ft-count"
    FT_LEGEND = "ft-legend"
    # map (prefix; see map_ids)
    MAP = "gm-map"


#: page key -> URL path
PAGES = {"overview": "/", "map": "/map", "coverage": "/coverage", "findings": "/findings"}


@dataclass(frozen=True)
class MapIds:
    """Ids of one map instance: the div, the values it draws, clicks, zoom requests."""

    div: str
    values: str
    click: str
    focus: str
    done: str
    focus_done: str


def map_ids(page: str) -> MapIds:
    base = f"{ID.MAP}-{page}"
    return MapIds(div=base, values=f"{base}-values", click=f"{base}-click", focus=f"{base}-focus",
                  done=f"{base}-done", focus_done=f"{base}-focus-done")
