"""A small MapLibre GL JS map for Dash: a div, a values store and a clientside callback.

The JavaScript side lives in ``dashboards/assets/gridmap_map.js`` and MapLibre
itself is vendored in ``dashboards/assets/vendor`` (no CDN). Communities and grids are
drawn from gridmap's vector tiles (:mod:`dashboards.tiles`). A server callback
writes the map's *values* store (class per feature + palette + legend, see
:meth:`dashboards.provider.MapValues.payload`); the clientside callback applies
them as feature-state, so geometry is never re-sent. Clicks come back in the
``click`` store (``{"index", "unit_id", "level"}``); writing ``{"bbox", "index"}``
to the ``focus`` store zooms to a unit.
"""

from __future__ import annotations

from typing import Any

from dash import ClientsideFunction, Input, Output, State, dcc, html

from dashboards.ids import map_ids

__all__ = ["map_view", "register_map"]


def map_view(
    page: str, *, basemap: str | None = None, attribution: str = "", height: str = "560px"
) -> html.Div:
    """The map's div and its stores for ``page``."""
    ids = map_ids(page)
    data: dict[str, Any] = {"data-basemap": basemap or "", "data-attribution": attribution or ""}
    return html.Div(
        [
            html.Div(id=ids.div, className="gm-map", style={"height": height}, **data),
            dcc.Store(id=ids.values),
            dcc.Store(id=ids.click),
            dcc.Store(id=ids.focus),
            dcc.Store(id=ids.done),
            dcc.Store(id=ids.focus_done),
        ],
        className="gm-map-wrap",
    )


def register_map(app, page: str) -> None:
    """Wire the clientside callbacks of ``page``'s map (values → colours, focus → zoom)."""
    ids = map_ids(page)
    app.clientside_callback(
        ClientsideFunction(namespace="gridmap", function_name="render"),
        Output(ids.done, "data"),
        Input(ids.values, "data"),
        State(ids.div, "id"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="gridmap", function_name="focus"),
        Output(ids.focus_done, "data"),
        Input(ids.focus, "data"),
        State(ids.div, "id"),
    )
