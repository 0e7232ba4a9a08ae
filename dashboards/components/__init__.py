"""Reusable pieces: the MapLibre map, its legend, KPI cards, the unit detail panel."""

from dashboards.components.detail import detail_panel
from dashboards.components.legend import legend
from dashboards.components.maplibre import MAP_HEIGHT, first_map_script, map_view, register_map

__all__ = [
    "map_view",
    "register_map",
    "first_map_script",
    "MAP_HEIGHT",
    "legend",
    "detail_panel",
]
