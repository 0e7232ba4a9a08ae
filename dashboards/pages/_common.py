"""Small helpers shared by the pages."""

from __future__ import annotations

from typing import Any

from dash import html

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
