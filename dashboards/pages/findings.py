"""问题清单 Findings table: every finding, filter/sort/search; click a row to zoom the map to it."""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag
import pandas as pd
from dash import Input, Output, State, ctx, dcc, html, no_update

from dashboards.components import legend, map_view, register_map
from dashboards.exports import findings_export
from dashboards.i18n import dropdown_labels, t
from dashboards.ids import ID, map_ids
from dashboards.pages._common import geo_url, map_payload, refused
from dashboards.provider import DashboardProvider, RejectedInput, filter_findings
from dashboards.provider.inputs import choice, text

PAGE = "findings"
MAX_ROWS = 5000
#: live search: the table filters this long after the last key press (no Enter needed)
SEARCH_DELAY_S = 0.3
STATUSES = ("all", "fail", "pass", "not_assessed")
LEVEL_FILTERS = ("all", "community", "grid")
COLUMNS = [
    ("level", "col.level"),
    ("unit_id", "col.unit_id"),
    ("unit_name", "col.unit_name"),
    ("rule_title", "col.rule"),
    ("value", "col.value"),
    ("threshold", "col.threshold"),
    ("status", "col.status"),
    ("gap", "col.gap"),
    ("message", "col.message"),
    ("source", "col.source"),
]


#: numbers stay numbers (sort, filter); shares show as percentages (see provider.with_value_text)
FORMATTERS = {
    c: {
        "valueFormatter": {
            "function": f"params.data && params.data.{c}_text != null"
            f" ? params.data.{c}_text : params.value"
        },
        "filter": "agNumberColumnFilter",
    }
    for c in ("value", "gap")
}
#: the smallest width of each column in pixels: the grid shares out the rest (FLEX), so
#: every column stays on screen; long texts wrap (WRAPPED) instead of being cut
WIDTHS = {
    "level": 46,
    "unit_id": 146,
    "unit_name": 84,
    "rule_title": 130,
    "value": 66,
    "threshold": 96,
    "status": 58,
    "gap": 62,
    "message": 120,
    "source": 100,
}
WRAPPED = ("unit_name", "rule_title", "threshold", "message")  # source: one line, full on hover
#: how much of the width each column takes once every minimum is met
FLEX = {"rule_title": 4, "message": 2, "source": 2}

LOCALE_ZH = {
    "page": "第",
    "of": "/",
    "to": "–",
    "pageSizeSelectorLabel": "每页",
    "noRowsToShow": "没有符合条件的记录",
    "filterOoo": "筛选…",
    "contains": "包含",
    "equals": "等于",
    "notContains": "不包含",
    "startsWith": "开头是",
    "endsWith": "结尾是",
    "andCondition": "且",
    "orCondition": "或",
}


def layout(provider: DashboardProvider, lang: str, query: dict | None = None) -> html.Div:
    """The page: search and filters, the findings table, a map of the clicked unit."""
    opt = lambda v, k: {"value": v, "label": t(k, lang)}  # noqa: E731
    narrow = {"minWidth": "140px"}
    controls = html.Div(
        [
            dcc.Input(
                id=ID.FT_SEARCH,
                type="search",
                placeholder=t("ft.search", lang),
                debounce=SEARCH_DELAY_S,
                style={"width": "320px"},
            ),
            html.Label(t("ft.status", lang)),
            dcc.Dropdown(
                labels=dropdown_labels(lang),
                placeholder=t("dd.select", lang),
                id=ID.FT_STATUS,
                value="fail",
                clearable=False,
                style=narrow,
                options=[
                    opt("all", "ft.all"),
                    opt("fail", "status.fail"),
                    opt("pass", "status.pass"),
                    opt("not_assessed", "status.not_assessed"),
                ],
            ),
            html.Label(t("ft.level", lang)),
            dcc.Dropdown(
                labels=dropdown_labels(lang),
                placeholder=t("dd.select", lang),
                id=ID.FT_LEVEL,
                value="all",
                clearable=False,
                style=narrow,
                options=[
                    opt("all", "ft.all"),
                    opt("community", "level.community"),
                    opt("grid", "level.grid"),
                ],
            ),
            html.Span(id=ID.FT_COUNT, className="gm-muted"),
            html.Button(
                t("ft.export.xlsx", lang), id=ID.FT_EXPORT_XLSX, n_clicks=0, className="gm-button"
            ),
            dcc.Loading(dcc.Download(id=ID.FT_DOWNLOAD), type="circle"),
        ],
        className="gm-controls",
    )
    table = dag.AgGrid(
        id=ID.FT_TABLE,
        columnDefs=[
            {
                "field": c,
                "headerName": t(k, lang),
                "filter": True,
                "sortable": True,
                "flex": FLEX.get(c, 1),
                "minWidth": WIDTHS[c],
                "tooltipField": c,
                **({"wrapText": True, "autoHeight": True} if c in WRAPPED else {}),
                **FORMATTERS.get(c, {}),
            }
            for c, k in COLUMNS
        ],
        defaultColDef={"wrapHeaderText": True, "autoHeaderHeight": True},
        rowData=[],
        getRowId="params.data.id",
        className="gm-findings-grid",
        style={"height": "100%", "width": "100%"},
        dashGridOptions={
            "localeText": LOCALE_ZH if lang == "zh" else {},
            "tooltipShowDelay": 300,
            "suppressHorizontalScroll": False,
            "rowSelection": {
                "mode": "singleRow",
                "checkboxes": False,
                "enableClickSelection": True,
            },
        },
        getRowStyle={
            "styleConditions": [
                {"condition": "params.data.status_key === 'fail'", "style": {"color": "#b2182b"}}
            ]
        },
    )
    return html.Div(
        [
            controls,
            html.Div(t("ft.hint", lang), className="gm-muted"),
            html.Div(
                [
                    html.Div(table, className="gm-findings-table"),
                    html.Div(
                        [
                            map_view(
                                PAGE,
                                basemap=provider.basemap,
                                attribution=provider.basemap_attribution,
                                height="100%",
                            ),
                            html.Div(id=ID.FT_LEGEND),
                        ],
                        className="gm-findings-map",
                    ),
                ],
                className="gm-findings-body",
            ),
        ],
        className="gm-page gm-findings",
        id="page-findings",
    )


def table_rows(shown: pd.DataFrame, lang: str) -> list[dict]:
    """The grid's rows: findings (with ``value_text``/``gap_text``) with statuses in ``lang``."""
    rows = shown[[c for c, _ in COLUMNS] + ["rule_id", "value_text", "gap_text"]].copy()
    rows["status_key"] = shown["status"]
    rows["status"] = rows["status"].map(lambda s: t(f"status.{s}", lang))
    rows["level_key"] = shown["level"]
    rows["level"] = shown["level"].map(lambda s: t(f"level.{s}", lang))
    rows["value"] = pd.to_numeric(rows["value"], errors="coerce").round(2)
    rows["gap"] = pd.to_numeric(rows["gap"], errors="coerce").round(2)
    rows["id"] = shown["level"] + "|" + shown["unit_id"] + "|" + shown.index.astype(str)
    return rows.astype(object).where(rows.notna(), None).to_dict("records")


def all_rows(provider: DashboardProvider, profile: str, lang: str) -> list[dict]:
    """:func:`table_rows` of every finding under ``profile`` (made once; read, never changed)."""
    return provider.derived(
        profile,
        ("findings.rows", lang),
        lambda: table_rows(
            provider.with_value_text(provider.findings(profile, lang), profile), lang
        ),
        shared=True,
    )


def filters(
    provider: DashboardProvider, search: object, status: object, level: object, profile: object
) -> tuple[str | None, str, str, str]:
    """The table's search, status, level and profile, checked (None status/level: all).

    Raises
    ------
    RejectedInput
        For a value outside the page's choices or a search longer than 200 characters.
    """
    return (
        text(search, what="what.search"),
        choice("all" if status is None else status, STATUSES, what="what.status"),
        choice("all" if level is None else level, LEVEL_FILTERS, what="what.level"),
        provider.profile_id(profile),
    )


def register(app: Any, provider: DashboardProvider) -> None:
    """Wire the page's callbacks: table, map (zoom to the clicked row's unit), export."""
    ids = map_ids(PAGE)
    register_map(app, PAGE)

    @app.callback(
        Output(ID.FT_TABLE, "rowData"),
        Output(ID.FT_COUNT, "children"),
        Input(ID.FT_SEARCH, "value"),
        Input(ID.FT_STATUS, "value"),
        Input(ID.FT_LEVEL, "value"),
        Input(ID.PROFILE, "value"),
        Input(ID.LANG, "value"),
    )
    def _table(search, status, level, profile, lang):
        lang = "en" if lang == "en" else "zh"
        try:
            search, status, level, profile = filters(provider, search, status, level, profile)
        except RejectedInput as exc:
            return [], refused(exc, lang)
        found = provider.findings(profile, lang)  # index 0..n-1: row i is rows[i]
        f = filter_findings(found, search=search, status=status, level=level)
        rows = all_rows(provider, profile, lang)
        more = f" (≤ {MAX_ROWS:,})" if len(f) > MAX_ROWS else ""
        shown = [rows[i] for i in f.index[:MAX_ROWS]]
        return shown, t("ft.count", lang, n=f"{len(f):,}") + more

    @app.callback(
        Output(ids.values, "data"),
        Output(ids.focus, "data"),
        Output(ID.FT_LEGEND, "children"),
        Input(ID.FT_TABLE, "cellClicked"),
        Input(ID.PROFILE, "value"),
        Input(ID.LANG, "value"),
        State(ids.values, "data"),
    )
    def _map(cell, profile, lang, current):
        level: str = "community"
        focus: Any = no_update
        lang = "en" if lang == "en" else "zh"
        try:
            profile = provider.profile_id(profile)
        except RejectedInput as exc:
            return no_update, no_update, refused(exc, lang)
        row_id = cell.get("rowId") if isinstance(cell, dict) else None
        if ctx.triggered_id == ID.FT_TABLE and isinstance(row_id, str):
            level, uid, _ = (row_id.split("|", 2) + ["", ""])[:3]
            if not provider.has_level(level):
                return no_update, no_update, no_update
            index = int(provider.ids(level).get_indexer([uid])[0])
            if index < 0:  # QA findings can name units outside the layer
                return no_update, no_update, no_update
            focus = {
                "bbox": provider.bounds(level, uid),
                "index": index,
                "unit_id": uid,
                "level": level,
                "url": geo_url(app, provider, level),
                "ts": cell.get("timestamp")
                if isinstance(cell.get("timestamp"), (int, float))
                else None,
            }
            same = (
                isinstance(current, dict)
                and current.get("level") == level
                and str(current.get("version", "")).startswith(f"{profile}|")
            )
            if same:
                return no_update, focus, no_update
        payload = map_payload(app, provider, level, "status", profile, lang)
        return payload, focus, legend(payload["legend"])

    @app.callback(
        Output(ID.FT_DOWNLOAD, "data"),
        Input(ID.FT_EXPORT_XLSX, "n_clicks"),
        State(ID.FT_SEARCH, "value"),
        State(ID.FT_STATUS, "value"),
        State(ID.FT_LEVEL, "value"),
        State(ID.PROFILE, "value"),
        State(ID.LANG, "value"),
        prevent_initial_call=True,
    )
    def _export(_n, search, status, level, profile, lang):
        try:  # the table beside the button already says what was refused
            search, status, level, profile = filters(provider, search, status, level, profile)
        except RejectedInput:
            return no_update
        data, name = findings_export(
            provider, profile, search=search, status=status, level=level, lang=lang or "zh"
        )
        return dcc.send_bytes(data, name)
