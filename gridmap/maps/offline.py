"""Folium maps that work with no internet: Leaflet inlined, every CDN link removed.

folium's :class:`~folium.Map` loads Leaflet, jQuery, Bootstrap and Font Awesome from
CDNs; offline (an intranet machine, a report opened years later) such a page draws
nothing. :func:`make_offline` drops those links from a map and puts Leaflet 1.9.4 (the
version vendored in ``gridmap/maps/vendor/leaflet``, BSD-2-Clause, licence file beside
it) into the page itself, with the layer-control icons as ``data:`` URIs. The maps of
:mod:`gridmap.maps.explore` use nothing else (vector layers, tooltips, popups, the
layer control and the scale bar are plain Leaflet), so they need nothing else.
"""

from __future__ import annotations

import base64
from functools import cache
from importlib.resources import files
from typing import Any

__all__ = ["LEAFLET_VERSION", "leaflet_assets", "make_offline"]

#: The vendored Leaflet (npm ``leaflet``): ``gridmap/maps/vendor/leaflet``.
LEAFLET_VERSION = "1.9.4"

#: folium's default assets a gridmap map does not use (jQuery, Bootstrap, icons).
_UNUSED = {
    "jquery",
    "bootstrap",
    "bootstrap_css",
    "glyphicons_css",
    "awesome_markers",
    "awesome_markers_css",
    "awesome_markers_font_css",
    "awesome_rotate_css",
}
_VENDORED = {"leaflet", "leaflet_css"}


def _vendor(name: str) -> bytes:
    return files("gridmap.maps").joinpath(f"vendor/leaflet/{name}").read_bytes()


@cache
def leaflet_assets() -> str:
    """Leaflet's CSS and JavaScript as inline ``<style>`` and ``<script>`` elements.

    The CSS's image references become ``data:`` URIs (layer-control icons) or ``none``
    (marker icons, unused), so the page requests nothing.

    Returns
    -------
    str
        HTML for the page's ``<head>``.
    """
    css = _vendor("leaflet.css").decode("utf-8")
    for png in ("layers-2x.png", "layers.png"):
        uri = "data:image/png;base64," + base64.b64encode(_vendor(png)).decode("ascii")
        css = css.replace(f"url(images/{png})", f"url({uri})")
    css = css.replace("url(images/marker-icon.png)", "none")
    js = _vendor("leaflet.js").decode("utf-8").replace("</script", "<\\/script")
    return f"<style>{css}</style>\n<script>{js}</script>"


def make_offline(m: Any) -> Any:
    """Make a folium map self-contained: Leaflet inlined, no CDN link left.

    Parameters
    ----------
    m
        A :class:`folium.Map` whose children use plain Leaflet only.

    Returns
    -------
    folium.Map
        ``m`` itself, changed in place.

    Raises
    ------
    ValueError
        When a child needs a JavaScript or CSS asset that is not vendored (a folium
        plugin): such a map would not render offline.
    """
    # folium is an optional heavy dependency: imported only when a map is built
    from branca.element import Element

    needed = {n for n, _ in [*m.default_js, *m.default_css]} - _UNUSED
    m.default_js, m.default_css = [], []
    for child in _descendants(m):
        names = {
            n for n, _ in [*getattr(child, "default_js", []), *getattr(child, "default_css", [])]
        }
        if names - _VENDORED:
            raise ValueError(
                f"{type(child).__name__} needs {sorted(names - _VENDORED)}, not available offline"
            )
        if names:
            child.default_js, child.default_css = [], []
    if needed - _VENDORED:
        raise ValueError(f"the map needs {sorted(needed - _VENDORED)}, not available offline")
    m.get_root().header.add_child(Element(leaflet_assets()), name="gridmap_leaflet")
    return m


def _descendants(element: Any) -> list[Any]:
    out = []
    for child in element._children.values():
        out.append(child)
        out.extend(_descendants(child))
    return out
