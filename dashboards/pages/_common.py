"""Small helpers shared by the pages, and the layout of the map pages."""

from __future__ import annotations

from typing import Any

from dash import html

from dashboards.components import map_view
from dashboards.messages import message
from dashboards.provider import DashboardProvider, RejectedInput


def geo_url(app: Any, provider: DashboardProvider, level: str) -> str:
    """Where the browser fetches a level's geometry (once; the response is cached)."""
    return app.get_relative_path(f"/_gridmap/geo/{provider.key}/{level}.geojson")


def map_payload(
    app: Any, provider: DashboardProvider, level: str, mode: str, profile: str | None, lang: str
) -> dict:
    """The values store of a map of ``level`` coloured by ``mode`` (see :meth:`map_values`).

    ``borders`` (:func:`borders_url`) has the map draw community borders heavier than grid lines.
    """
    values = provider.map_values(level, mode, profile, lang)
    payload = values.payload(
        geo_url(app, provider, level), version=f"{profile}|{level}|{mode}|{lang}"
    )
    payload["borders"] = borders_url(app, provider)
    return payload


def borders_url(app: Any, provider: DashboardProvider) -> str | None:
    """The community geometry, drawn as heavy border lines over any map (None without it)."""
    return geo_url(app, provider, "community") if provider.has_level("community") else None


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

    Returns
    -------
    dash.html.Div
        The page.
    """
    map_column = html.Div(
        [
            map_view(page, basemap=provider.basemap, attribution=provider.basemap_attribution),
            html.Div(id=legend_id),
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
