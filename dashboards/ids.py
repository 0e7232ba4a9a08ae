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


__all__ = ["ID", "MapIds", "map_ids", "PAGES", "FONT_URLS"]


class ID(StrEnum):
    """Every component id of the app, one place (prefix = page: ``ov``, ``cm``, ``cv``, …)."""

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
    CM_EXPORT_PNG = "cm-export-png"
    CM_EXPORT_PDF = "cm-export-pdf"
    CM_DOWNLOAD = "cm-download"
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
    FT_EXPORT_XLSX = "ft-export-xlsx"
    FT_DOWNLOAD = "ft-download"
    # plans (边界调整)
    PL_SESSION = "pl-session"
    PL_REV = "pl-rev"
    PL_SELECTION = "pl-selection"
    PL_KPIS = "pl-kpis"
    PL_MESSAGE = "pl-message"
    PL_SEL_INFO = "pl-sel-info"
    PL_MOVE_TO = "pl-move-to"
    PL_MOVE = "pl-move"
    PL_CREATE = "pl-create"
    PL_CLEAR = "pl-clear"
    PL_SPLIT_COMM = "pl-split-comm"
    PL_SPLIT_K = "pl-split-k"
    PL_SPLIT = "pl-split"
    PL_MERGE_COMMS = "pl-merge-comms"
    PL_MERGE = "pl-merge"
    PL_UNDO = "pl-undo"
    PL_REDO = "pl-redo"
    PL_RESET = "pl-reset"
    PL_COLOR = "pl-color"
    PL_BAND = "pl-band"
    PL_RB_TIME = "pl-rb-time"
    PL_RB_RUN = "pl-rb-run"
    PL_RB_APPLY = "pl-rb-apply"
    PL_RB_RESULT = "pl-rb-result"
    PL_NAME = "pl-name"
    PL_SAVE = "pl-save"
    PL_SAVED = "pl-saved"
    PL_LOAD = "pl-load"
    PL_DRAFTS = "pl-drafts"
    PL_TAKEOVER = "pl-takeover"
    PL_WORKSPACE = "pl-workspace"
    PL_EXPORT_XLSX = "pl-export-xlsx"
    PL_EXPORT_GPKG = "pl-export-gpkg"
    PL_DOWNLOAD = "pl-download"
    PL_LEGEND = "pl-legend"
    PL_BASE_LEGEND = "pl-base-legend"
    PL_COMPARE = "pl-compare"
    PL_CHANGES = "pl-changes"
    # map (prefix; see map_ids)
    MAP = "gm-map"
    # plans page: another planner saved the tab's plan
    PL_NEWS = "pl-news"
    PL_NEWS_TEXT = "pl-news-text"
    PL_NEWS_POLL = "pl-news-poll"
    PL_RELOAD = "pl-reload"
    PL_REBASE = "pl-rebase"
    # forecast & compare (预测与对比)
    CH_MODE = "ch-mode"
    CH_YEAR = "ch-year"
    CH_YEAR_BOX = "ch-year-box"
    CH_TARGET = "ch-target"
    CH_TARGET_BOX = "ch-target-box"
    CH_LEVEL = "ch-level"
    CH_NOTE = "ch-note"
    CH_LEGEND = "ch-legend"
    CH_HEADLINE = "ch-headline"
    CH_TABLE = "ch-table"


#: page key -> URL path
PAGES = {
    "overview": "/",
    "map": "/map",
    "coverage": "/coverage",
    "findings": "/findings",
    "plans": "/plans",
    "changes": "/changes",
}


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
    """The ids of ``page``'s map and its stores (the JS derives the stores from the div id)."""
    base = f"{ID.MAP}-{page}"
    return MapIds(
        div=base,
        values=f"{base}-values",
        click=f"{base}-click",
        focus=f"{base}-focus",
        done=f"{base}-done",
        focus_done=f"{base}-focus-done",
    )


#: The bundled CJK font (:mod:`gridmap.fonts`) under the app's assets route: URL → bold?
#: Served by :func:`dashboards.app.create_app`, named by gridmap.css and the login page, open
#: without a login (the login page needs it): Chinese renders on machines without a CJK font,
#: and nothing is fetched from the internet.
FONT_URLS = {
    "/assets/fonts/NotoSansSC-gridmap.ttf": False,
    "/assets/fonts/NotoSansSC-gridmap-Bold.ttf": True,
}
