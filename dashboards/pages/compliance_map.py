"""合规地图 Compliance map: communities or grids coloured by status, a rule or a metric.

Clicking a unit shows its figures and every finding beside the map.
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, ctx, dcc, html, no_update

from dashboards.components import detail_panel, first_map_script, legend, register_map
from dashboards.exports import map_export
from dashboards.i18n import dropdown_labels, t
from dashboards.ids import ID, map_ids
from dashboards.pages._common import (
    already_drawn,
    map_page,
    map_payload,
    refused,
    remember_app,
    serving_app,
)
from dashboards.provider import LEVELS, DashboardProvider, RejectedInput

PAGE = "map"


def layout(provider: DashboardProvider, lang: str, query: dict | None = None) -> html.Div:
    """The page: level and colour-by controls, the map, the detail panel, map exports.

    ``query`` may preselect ``level`` (community/grid) and ``color`` (a colour-by value),
    e.g. ``/map?level=grid``.
    """
    query = query or {}
    level = _level(provider, query)
    levels = [
        {"value": lv, "label": t(f"level.{lv}", lang)} for lv in LEVELS if provider.has_level(lv)
    ]
    controls = html.Div(
        [
            html.Label(t("cm.level", lang)),
            dcc.RadioItems(
                id=ID.CM_LEVEL,
                options=levels,
                value=level,
                inline=True,
                persistence=True,
                persistence_type="session",
            ),
            html.Label(t("cm.color_by", lang)),
            dcc.Dropdown(
                labels=dropdown_labels(lang),
                placeholder=t("dd.select", lang),
                id=ID.CM_COLOR_BY,
                value=query.get("color", "status"),
                clearable=False,
                persistence=True,
                persistence_type="session",
                style={"minWidth": "340px"},
            ),
            html.Button(
                t("cm.export.png", lang), id=ID.CM_EXPORT_PNG, n_clicks=0, className="gm-button"
            ),
            html.Button(
                t("cm.export.pdf", lang), id=ID.CM_EXPORT_PDF, n_clicks=0, className="gm-button"
            ),
            dcc.Loading(dcc.Download(id=ID.CM_DOWNLOAD), type="circle"),
        ],
        className="gm-controls",
    )
    payload = _first_values(provider, level, query.get("color"), lang)
    return map_page(
        provider,
        PAGE,
        controls,
        legend_id=ID.CM_LEGEND,
        detail=detail_panel(None, lang),
        detail_id=ID.CM_DETAIL,
        values=payload,
        legend=legend(payload["legend"], t("cm.legend", lang)) if payload else None,
    )


def _level(provider: DashboardProvider, query: dict) -> str:
    """The level ``query`` asks for (``level=grid``), or communities."""
    level = query.get("level", "community")
    return level if level in LEVELS and provider.has_level(level) else "community"


def first_map(provider: DashboardProvider, query: dict) -> str | None:
    """The index page's first map of this page at ``query`` (:func:`first_map_script`).

    In Chinese under the default profile, as the page's layout starts (None outside a
    request): the map starts before Dash boots, and the page's values recolour it when a
    remembered profile or language differs. Its tiles are being made since the app loaded
    the study (:meth:`dashboards.tiles.StudyTiles.start`), on a server that did not warm them.
    """
    level = _level(provider, query)
    payload = _first_values(provider, level, query.get("color"), "zh")
    if payload is None:
        return None
    return first_map_script(
        PAGE, payload, basemap=provider.basemap, attribution=provider.basemap_attribution
    )


def _first_values(provider: DashboardProvider, level: str, color: object, lang: str) -> dict | None:
    """The map's values under the default profile, in the page itself (None outside a request).

    The map then starts loading with the page; ``_values`` sends nothing when they are
    what the page asks for (a remembered profile or colour differs: it sends those).
    """
    app = serving_app()
    if app is None:
        return None
    lang = "en" if lang == "en" else "zh"
    profile = provider.default_profile
    valid = {o["value"] for o in provider.color_options(level, profile, lang)}
    mode = color if isinstance(color, str) and color in valid else "status"
    return map_payload(app, provider, level, mode, profile, lang)


def clicked_unit(provider: DashboardProvider, click: object) -> tuple[str, str]:
    """(level, unit id) of a map click, both checked against the study.

    Raises
    ------
    RejectedInput
        ``"input.unit"`` for anything but ``{"level": ..., "unit_id": ...}`` naming a unit.
    """
    if not isinstance(click, dict):
        raise RejectedInput("input.unit")
    level, uid = provider.level(click.get("level")), click.get("unit_id")
    if not isinstance(uid, str) or uid not in provider.ids(level):
        raise RejectedInput("input.unit")
    return level, uid


def register(app: Any, provider: DashboardProvider) -> None:
    """Wire the page's callbacks: colour-by options, map values, detail panel, export."""
    ids = map_ids(PAGE)
    register_map(app, PAGE)
    remember_app(app)

    @app.callback(
        Output(ID.CM_COLOR_BY, "options"),
        Output(ID.CM_COLOR_BY, "value"),
        Input(ID.CM_LEVEL, "value"),
        Input(ID.PROFILE, "value"),
        Input(ID.LANG, "value"),
        State(ID.CM_COLOR_BY, "value"),
    )
    def _options(level, profile, lang, current):
        try:
            level, profile = provider.level(level), provider.profile_id(profile)
        except RejectedInput:  # _values says why
            return no_update, no_update
        opts = provider.color_options(level, profile, "en" if lang == "en" else "zh")
        valid = {o["value"] for o in opts}
        return opts, current if isinstance(current, str) and current in valid else "status"

    @app.callback(
        Output(ids.values, "data"),
        Output(ID.CM_LEGEND, "children"),
        Input(ID.CM_LEVEL, "value"),
        Input(ID.CM_COLOR_BY, "value"),
        Input(ID.PROFILE, "value"),
        Input(ID.LANG, "value"),
        State(ids.done, "data"),
    )
    def _values(level, mode, profile, lang, drawn):
        lang = "en" if lang == "en" else "zh"
        try:
            level, profile = provider.level(level), provider.profile_id(profile)
        except RejectedInput as exc:
            return no_update, refused(exc, lang)
        valid = {o["value"] for o in provider.color_options(level, profile, lang)}
        mode = mode if isinstance(mode, str) and mode in valid else "status"
        payload = map_payload(app, provider, level, mode, profile, lang)
        if already_drawn(payload, drawn):  # the page's layout gave the map these values
            return no_update, no_update
        return payload, legend(payload["legend"], t("cm.legend", lang))

    @app.callback(
        Output(ID.CM_DETAIL, "children"),
        Input(ids.click, "data"),
        Input(ID.PROFILE, "value"),
        Input(ID.LANG, "value"),
    )
    def _detail(click, profile, lang):
        if not click:
            return detail_panel(None, lang) if lang else no_update
        lang = "en" if lang == "en" else "zh"
        try:
            level, uid = clicked_unit(provider, click)
            detail = provider.unit_detail(level, uid, provider.profile_id(profile), lang)
        except RejectedInput as exc:
            return refused(exc, lang)
        return detail_panel(detail, lang)

    @app.callback(
        Output(ID.CM_DOWNLOAD, "data"),
        Input(ID.CM_EXPORT_PNG, "n_clicks"),
        Input(ID.CM_EXPORT_PDF, "n_clicks"),
        State(ID.CM_LEVEL, "value"),
        State(ID.CM_COLOR_BY, "value"),
        State(ID.PROFILE, "value"),
        prevent_initial_call=True,
    )
    def _export(_png, _pdf, level, mode, profile):
        fmt = "pdf" if ctx.triggered_id == ID.CM_EXPORT_PDF else "png"
        try:  # the map beside the buttons already says what was refused
            level, profile = provider.level(level), provider.profile_id(profile)
        except RejectedInput:
            return no_update
        mode = mode if isinstance(mode, str) else "status"
        data, name = map_export(provider, level, mode, profile, fmt)
        return dcc.send_bytes(data, name)
