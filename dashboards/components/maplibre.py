"""A small MapLibre GL JS map for Dash: a div, a values store and a clientside callback.

The JavaScript side lives in ``dashboards/assets/gridmap_map.js`` and MapLibre
itself is vendored in ``dashboards/assets/vendor`` (no CDN). Communities and grids are
drawn from gridmap's vector tiles (:mod:`dashboards.tiles`). A server callback
writes the map's *values* store (class per feature + palette + legend, see
:meth:`dashboards.provider.MapValues.payload`), or the page's layout holds the first values
(``map_view(values=...)``); the clientside callback applies them as feature-state, so
geometry is never re-sent. Clicks come back in the
``click`` store (``{"index", "unit_id", "level"}``); writing ``{"bbox", "index"}``
to the ``focus`` store zooms to a unit.

A page's *first* map can start with the index page, before Dash boots
(:func:`first_map_script`): the map is made in a hidden copy of the page's layout while Dash
loads, and moves into the page's div once Dash renders it.
"""

from __future__ import annotations

import json
from typing import Any

from dash import ClientsideFunction, Input, Output, State, dcc, html

from dashboards.ids import map_ids

__all__ = ["map_view", "register_map", "first_map_script", "MAP_HEIGHT"]

#: a map's height unless its page says otherwise
MAP_HEIGHT = "560px"


def map_view(
    page: str,
    *,
    basemap: str | None = None,
    attribution: str = "",
    height: str = MAP_HEIGHT,
    values: dict | None = None,
) -> html.Div:
    """The map's div and its stores for ``page``.

    Parameters
    ----------
    page
        The page name (the ids' prefix, :func:`dashboards.ids.map_ids`).
    basemap, attribution
        A raster basemap's tile URL and its attribution (none: a plain background).
    height
        The map's CSS height.
    values
        The first values (:meth:`dashboards.provider.MapValues.payload`), so the map starts
        with the page instead of after its callbacks: they sit in a store of their own that
        no callback writes (Dash would hold a callback of the values store until the page's
        callbacks that write it have answered). The ``done`` store starts with their
        ``version``, which a values callback compares to skip sending them again.
    """
    ids = map_ids(page)
    data: dict[str, Any] = {"data-basemap": basemap or "", "data-attribution": attribution or ""}
    return html.Div(
        [
            html.Div(id=ids.div, className="gm-map", style={"height": height}, **data),
            dcc.Store(id=ids.values),
            dcc.Store(id=_first(page), data=values),
            dcc.Store(id=_first(page) + "-done"),
            dcc.Store(id=ids.click),
            dcc.Store(id=ids.focus),
            dcc.Store(id=ids.done, data=values.get("version") if values else None),
            dcc.Store(id=ids.focus_done),
        ],
        className="gm-map-wrap",
    )


def _first(page: str) -> str:
    """The id of the store of the map's first values (:func:`map_view`)."""
    return map_ids(page).values + "-first"


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
        ClientsideFunction(namespace="gridmap", function_name="render"),
        Output(_first(page) + "-done", "data"),
        Input(_first(page), "data"),
        State(ids.div, "id"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="gridmap", function_name="focus"),
        Output(ids.focus_done, "data"),
        Input(ids.focus, "data"),
        State(ids.div, "id"),
    )


def first_map_script(
    page: str,
    values: dict,
    *,
    basemap: str | None = None,
    attribution: str = "",
    height: str = MAP_HEIGHT,
) -> str:
    """The index page's ``<script id="gm-first-map">``: the first map of ``page``, before Dash.

    ``gridmap_map.js`` reads it as soon as MapLibre has loaded and starts the map (its tiles
    fetched and parsed on MapLibre's workers) while Dash boots; the map moves into
    ``page``'s map div (:func:`map_view`, the same ``height``) once Dash renders it, and is
    shown from then on. The page's own first values are the same ``values``, so nothing is
    drawn twice; other values (a remembered profile or language) recolour it.

    Parameters
    ----------
    page
        The page name (the map's ids, :func:`dashboards.ids.map_ids`).
    values
        The map's first values (:meth:`dashboards.provider.MapValues.payload` with its tiles).
    basemap, attribution, height
        As :func:`map_view` of that page.

    Returns
    -------
    str
        The script element (JSON, not run), safe inside HTML.

    Examples
    --------
    >>> tag = first_map_script("map", {"url": "/x</script><!--"})
    >>> tag[:60]
    '<script id="gm-first-map" type="application/json">{"div":"gm'
    >>> "<" in tag[len("<script>") : -len("</script>")].split(">", 1)[1]
    False
    >>> json.loads(tag.split(">", 1)[1][: -len("</script>")])["payload"]["url"]
    '/x</script><!--'
    """
    first = {
        "div": map_ids(page).div,
        "height": height,
        "basemap": basemap or "",
        "attribution": attribution or "",
        "payload": values,
    }
    text = json.dumps(first, separators=(",", ":"), allow_nan=False)
    # "</script" or "<!--" in a label would end or upset the script element: every "<" is
    # written as its JSON escape (outside its strings JSON has none)
    return (
        '<script id="gm-first-map" type="application/json">'
        + text.replace("<", "\\u003c")
        + "</script>"
    )
