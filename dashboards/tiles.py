"""The dashboard's vector tiles: the study's map (communities, grids) and a national result.

* :class:`StudyTiles` and :func:`register_study_tiles`: every map page draws communities and
  grids from ``/_gridmap/tiles/<key>/<level>/<z>/<x>/<y>.pbf`` (feature id = the unit's
  position, as in the values the callbacks send; properties ``n`` name and ``u`` unit id),
  described by ``/_gridmap/tiles/<key>/<level>.json`` (bounds, feature count, zooms). The
  map derives these from the level's GeoJSON address (``/_gridmap/geo/<key>/<level>.geojson``),
  which stays for small overlays. Each level's tile set is made once per loaded study.
* :func:`register_tiles`: a national result's tiles at ``/tiles/<layer>/<z>/<x>/<y>.pbf``.

Both answer ``application/vnd.mapbox-vector-tile``, 204 for a tile with nothing in it
(MapLibre draws it empty) and 404 for an unknown layer or a tile outside its zoom's range;
they sit behind the same guard as every page (:func:`dashboards.server.protect`).
"""

from __future__ import annotations

import json
import threading
from typing import Any

import geopandas as gpd
from flask import Flask, Response, request

from dashboards.provider import DashboardProvider
from gridmap.tiles import TileSet, tiles_covering

__all__ = ["register_tiles", "register_study_tiles", "StudyTiles", "TILE_URL", "MVT_MIME"]

#: the national route, in the ``{z}/{x}/{y}`` form MapLibre's tile sources take
TILE_URL = "/tiles/{layer}/{z}/{x}/{y}.pbf"
MVT_MIME = "application/vnd.mapbox-vector-tile"
#: the study map's highest tile zoom (MapLibre over-zooms beyond it)
STUDY_MAX_ZOOM = 16
#: :meth:`StudyTiles.warm` encodes every zoom whose view of the whole study takes at most this
#: many tiles (the first map of every page shows the whole study)
WARM_TILES = 16
_LEVELS = ("community", "grid")


def _not_found(what: str) -> Response:
    body = json.dumps({"error": f"no tile {what}"})
    return Response(body, status=404, mimetype="application/json")


def _tile_response(tiles: TileSet, layer: str, z: int, x: int, y: int, cache: str) -> Response:
    try:
        data = tiles.tile(layer, z, x, y)
    except (KeyError, ValueError):
        return _not_found(f"{layer}/{z}/{x}/{y}")
    if not data:
        return Response(status=204)
    return Response(data, mimetype=MVT_MIME, headers={"Cache-Control": cache})


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
        return _tile_response(tiles, layer, z, x, y, "private, max-age=600")


class StudyTiles:
    """The tile set of each map level of a provider's study, made on first use.

    Parameters
    ----------
    provider
        The dashboard's provider (its geometry in WGS84, ids and names).
    """

    def __init__(self, provider: DashboardProvider) -> None:
        self.provider = provider
        self._sets: dict[str, TileSet] = {}
        self._locks = {level: threading.Lock() for level in _LEVELS}

    def tileset(self, level: str) -> TileSet:
        """The tiles of ``level`` (one layer named after it).

        Raises
        ------
        KeyError
            For a level the study does not have.
        """
        if level not in _LEVELS or not self.provider.has_level(level):
            raise KeyError(level)
        with self._locks[level]:
            if level not in self._sets:
                self._sets[level] = TileSet.from_layers({level: self._units(level)})
            return self._sets[level]

    def _units(self, level: str) -> gpd.GeoDataFrame:
        study = self.provider.study
        layer = study.communities if level == "community" else study.grids
        ids = self.provider.ids(level)
        names = layer["name"].astype(str) if "name" in layer.columns else ids.to_series()
        geom = self.provider.wgs84(level)
        return gpd.GeoDataFrame(
            {"n": names.to_numpy(), "u": ids.to_numpy()}, geometry=geom.to_numpy(), crs=geom.crs
        )

    def warm(self) -> int:
        """Make every level's tile set and the tiles of the whole study's view now.

        For ``gridmap serve`` before it listens: the zooms at which a map shows the whole
        study (from the last one where it fits in one tile, while it fits in
        :data:`WARM_TILES` tiles) are encoded, so a page's first map only fetches them.

        Returns
        -------
        int
            How many tiles were encoded.
        """
        done = 0
        for level in _LEVELS:
            if not self.provider.has_level(level):
                continue
            ts = self.tileset(level)
            views = [tiles_covering(ts.bounds(level), z) for z in range(STUDY_MAX_ZOOM + 1)]
            # the last zoom at which one tile holds the study, then those it fits in a few
            first = max(z for z, v in enumerate(views) if len(v) == 1)
            for tiles in views[first:]:
                if len(tiles) > WARM_TILES:
                    break
                for tile in tiles:
                    ts.tile(level, *tile)
                done += len(tiles)
        return done

    def meta(self, level: str, tiles: str) -> dict[str, Any]:
        """The level's TileJSON: ``tiles`` (the address template), bounds, zooms, ``count``."""
        ts = self.tileset(level)
        return {
            "tilejson": "3.0.0",
            "tiles": [tiles],
            "bounds": list(ts.bounds(level)),
            "minzoom": 0,
            "maxzoom": STUDY_MAX_ZOOM,
            "layer": level,
            "count": ts.count(level),
            "vector_layers": [{"id": level, "fields": {"n": "String", "u": "String"}}],
        }


def register_study_tiles(server: Flask, provider: DashboardProvider) -> StudyTiles:
    """Serve the study's map tiles under ``/_gridmap/tiles/<key>/`` on ``server``.

    Parameters
    ----------
    server
        The dashboard's Flask server (``app.server``).
    provider
        The dashboard's provider; ``key`` in the address is :attr:`DashboardProvider.key`.

    Returns
    -------
    StudyTiles
        The tile sets (made on first request; :meth:`StudyTiles.warm` makes them now), also
        kept as ``server.extensions["gridmap_study_tiles"]``.
    """
    study = StudyTiles(provider)
    server.extensions["gridmap_study_tiles"] = study
    cache = "private, max-age=86400"  # the key changes with the loaded study

    @server.route("/_gridmap/tiles/<key>/<level>.json")
    def _study_meta(key: str, level: str) -> Response:
        if key != provider.key:
            return _not_found(f"{key}/{level}")
        base = request.script_root + request.path[: -len(".json")]
        try:
            meta = study.meta(level, base + "/{z}/{x}/{y}.pbf")
        except KeyError:
            return _not_found(f"{key}/{level}")
        return Response(
            json.dumps(meta), mimetype="application/json", headers={"Cache-Control": cache}
        )

    @server.route("/_gridmap/tiles/<key>/<level>/<int:z>/<int:x>/<int:y>.pbf")
    def _study_tile(key: str, level: str, z: int, x: int, y: int) -> Response:
        if key != provider.key:
            return _not_found(f"{key}/{level}")
        try:
            tiles = study.tileset(level)
        except KeyError:
            return _not_found(f"{key}/{level}")
        return _tile_response(tiles, level, z, x, y, cache)

    return study
