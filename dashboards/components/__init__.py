"""Reusable pieces: the MapLibre map, its legend, KPI cards, the unit detail panel."""

from dashboards.components.detail import detail_panel
from dashboards.components.legend import legend
from dashboards.components.maplibre import map_view, register_map

__all__ = ["map_view", "register_map", "legend", "detail_panel"]
