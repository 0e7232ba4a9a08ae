"""Small helpers shared by the pages, and the layout of the map pages."""

from __future__ import annotations

from typing import Any

from dash import html
from flask import current_app, has_app_context

from dashboards.components import map_view
from dashboards.messages import message
from dashboards.provider import DashboardProvider, RejectedInput
from dashboards.tiles import BORDERS, study_tiles

#: where :func:`remember_app` keeps the Dash app on its Flask server
_APP_KEY = "gridmap_dash_app"


def remember_app(app: Any) -> None:
    """Keep ``app`` on its Flask server, for layouts built while it serves (:func:`serving_app`)."""
    app.server.extensions[_APP_KEY] = app


def serving_app() -> Any | None:
    """The Dash app of the request being served (:func:`remember_app`), or None outside one.

    A page's layout uses it to put the map's first values in the page (its addresses come
    from the app), so the map does not wait for the page's callbacks.
    """
    return current_app.extensions.get(_APP_KEY) if has_app_context() else None


def already_drawn(payload: dict, drawn: object) -> bool:
    """Whether the map has these values already (its ``done`` store holds their version).

    A values callback then sends nothing: the page's layout gave the map its first values
    (:func:`dashboards.components.map_view`).
    """
    version = payload.get("version")
    return version is not None and version == drawn


def geo_url(app: Any, provider: DashboardProvider, level: str) -> str:
    """Where the browser fetches a level's geometry (once; the response is cached)."""
    return app.get_relative_path(f"/_gridmap/geo/{provider.key}/{level}.geojson")


def map_payload(
    app: Any, provider: DashboardProvider, level: str, mode: str, profile: str | None, lang: str
) -> dict:
    """The values store of a map of ``level`` coloured by ``mode`` (see :meth:`map_values`).

    ``borders`` (:func:`borders_url`) has the map draw community borders heavier than grid lines.
    Without any value to show on hover (colour by status), ``v`` is empty rather than a
    ``null`` per unit (a third of the bytes at 50 k grids).
    """
    values = provider.map_values(level, mode, profile, lang)
    payload = values.payload(
        geo_url(app, provider, level), version=f"{profile}|{level}|{mode}|{lang}"
    )
    if all(v is None for v in payload["v"]):
        payload["v"] = []
    payload["borders"] = borders_url(app, provider)
    return with_tiles(app, provider, payload)


def with_tiles(app: Any, provider: DashboardProvider, payload: dict) -> dict:
    """``payload`` with ``meta``: the TileJSON of its level and of its borders, by their address.

    The map then adds its sources at once instead of asking for each TileJSON first.
    """
    tiles = study_tiles(app.server)
    if tiles is None:
        return payload
    meta = {}
    for url in (payload.get("url"), payload.get("borders")):
        level = next(
            (lv for lv in ("community", "grid") if url == geo_url(app, provider, lv)), None
        )
        if url is not None and url == borders_url(app, provider):
            level = BORDERS
        if level is not None and tiles.has(level):
            base = app.get_relative_path(f"/_gridmap/tiles/{provider.key}/{level}")
            meta[url] = tiles.meta(level, base + "/{z}/{x}/{y}.pbf")
    payload["meta"] = meta
    return payload


def borders_url(app: Any, provider: DashboardProvider) -> str | None:
    """The communities' borders, drawn as heavy lines over any map (None without communities).

    The TileJSON of their line tiles (:data:`dashboards.tiles.BORDERS`: each border two
    communities share once).
    """
    if not provider.has_level("community"):
        return None
    return app.get_relative_path(f"/_gridmap/tiles/{provider.key}/{BORDERS}.json")


def refused(exc: RejectedInput, lang: str | None) -> html.Div:
    """The page's message for a refused browser value (:class:`RejectedInput`)."""
    text = message(exc.key, "en" if lang == "en" else "zh", **exc.params)
    return html.Div(text, className="gm-note gm-refused", role="alert")


def map_page(
    provider: DashboardProvider,
    page: str,
    controls: Any,
    *,
    legend_id: str,
    detail: Any = None,
    detail_id: str | None = None,
    note_id: str | None = None,
    values: dict | None = None,
    legend: Any = None,
) -> html.Div:
    """The layout of a map page: controls, a note, the map with its legend beside the detail.

    Parameters
    ----------
    provider
        The page's provider (the basemap and its attribution).
    page
        The page name: the map's id prefix (:func:`dashboards.components.map_view`) and the
        page's element id ``page-<page>``.
    controls
        The row of controls above the map.
    legend_id
        The id of the legend under the map.
    detail
        What the detail column beside the map shows at first.
    detail_id
        The id of the detail column, when a callback fills it.
    note_id
        The id of a note between the controls and the map (refused values, failures).
    values
        The map's first values (see :func:`dashboards.components.map_view`), or None (its
        callback sends them).
    legend
        The legend of those values.

    Returns
    -------
    dash.html.Div
        The page.
    """
    map_column = html.Div(
        [
            map_view(
                page,
                basemap=provider.basemap,
                attribution=provider.basemap_attribution,
                values=values,
            ),
            html.Div(legend, id=legend_id),
        ],
        className="gm-col gm-col-map",
    )
    detail_column = (
        html.Div(detail, id=detail_id, className="gm-col gm-col-detail")
        if detail_id
        else html.Div(detail, className="gm-col gm-col-detail")
    )
    parts = [controls]
    if note_id:
        parts.append(html.Div(id=note_id, className="gm-note"))
    parts.append(html.Div([map_column, detail_column], className="gm-row"))
    return html.Div(parts, className="gm-page", id=f"page-{page}")
