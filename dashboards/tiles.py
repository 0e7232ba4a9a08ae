"""The dashboard's vector-tile route: ``/tiles/<layer>/<z>/<x>/<y>.pbf`` from a :class:`TileSet`.

:func:`register_tiles` adds the route to the dashboard's Flask server. It sits behind the same
guard as every page (:func:`dashboards.server.protect`: Host allow-list, login), answers
``application/vnd.mapbox-vector-tile``, 204 for a tile with nothing in it (MapLibre draws it
empty) and 404 for an unknown layer or a tile outside its zoom's range.
"""

from __future__ import annotations

import json

from flask import Flask, Response

from gridmap.tiles import TileSet

__all__ = ["register_tiles", "TILE_URL", "MVT_MIME"]

#: the route, in the ``{z}/{x}/{y}`` form MapLibre's tile sources take
TILE_URL = "/tiles/{layer}/{z}/{x}/{y}.pbf"
MVT_MIME = "application/vnd.mapbox-vector-tile"


def register_tiles(server: Flask, tiles: TileSet) -> None:
    """Serve ``tiles`` at ``/tiles/<layer>/<z>/<x>/<y>.pbf`` on ``server``.

    Parameters
    ----------
    server
        The dashboard's Flask server (``app.server``).
    tiles
        The tile set of a national result (:meth:`gridmap.tiles.TileSet.from_check_dir`).
    """

    @server.route("/tiles/<layer>/<int:z>/<int:x>/<int:y>.pbf")
    def _tile(layer: str, z: int, x: int, y: int) -> Response:
        try:
            data = tiles.tile(layer, z, x, y)
        except (KeyError, ValueError):
            body = json.dumps({"error": f"no tile {layer}/{z}/{x}/{y}"})
            return Response(body, status=404, mimetype="application/json")
        if not data:
            return Response(status=204)
        return Response(data, mimetype=MVT_MIME, headers={"Cache-Control": "private, max-age=600"})
