"""Small helpers shared by the pages."""

from __future__ import annotations

from typing import Any

from dashboards.provider import DashboardProvider


def geo_url(app: Any, provider: DashboardProvider, level: str) -> str:
    """Where the browser fetches a level's geometry (once; the response is cached)."""
    return app.get_relative_path(f"/_gridmap/geo/{provider.key}/{level}.geojson")


def map_payload(
    app: Any, provider: DashboardProvider, level: str, mode: str, profile: str | None, lang: str
) -> dict:
    """The values store of a map of ``level`` coloured by ``mode`` (see :meth:`map_values`)."""
    values = provider.map_values(level, mode, profile, lang)
    return values.payload(geo_url(app, provider, level), version=f"{profile}|{level}|{mode}|{lang}")
