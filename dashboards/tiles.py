"""The dashboard's vector tiles: the study's map (communities, grids) and a national result.

* :class:`StudyTiles` and :func:`register_study_tiles`: every map page draws communities and
  grids from ``/_gridmap/tiles/<key>/<level>/<z>/<x>/<y>.pbf`` (feature id = the unit's
  position, as in the values the callbacks send; no properties: the tiles carry geometry
  only), described by ``/_gridmap/tiles/<key>/<level>.json`` (bounds, feature count, zooms).
  The units' names and ids come once, apart from the geometry, from
  ``/_gridmap/tiles/<key>/<level>/names.json`` (``{"n": [names], "u": [unit ids]}`` in
  feature order), which the map fetches after its first frame (for hover and click). The
  map derives these from the level's GeoJSON address (``/_gridmap/geo/<key>/<level>.geojson``),
  which stays for small overlays. The communities' borders, drawn over every map, are the
  line tiles of ``/_gridmap/tiles/<key>/borders.json`` (:data:`BORDERS`: each border two
  communities share once). Each tile set is made once per loaded study, from its load on.
* :func:`register_tiles`: a national result's tiles at ``/tiles/<layer>/<z>/<x>/<y>.pbf``.

Both answer ``application/vnd.mapbox-vector-tile`` (gzip-compressed when the browser accepts
it, as every browser does), 204 for a tile with nothing in it (MapLibre draws it empty) and
404 for an unknown layer or a tile outside its zoom's range; they sit behind the same guard as
every page (:func:`dashboards.server.protect`).
"""

from __future__ import annotations

import gzip
import json
import math
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import geopandas as gpd
from flask import Flask, Response, request

from dashboards.components.maplibre import MAP_HEIGHT
from dashboards.provider import DashboardProvider
from gridmap.tiles import TileSet, border_lines, tiles_covering

T = TypeVar("T")

__all__ = [
    "register_tiles",
    "national_tiles",
    "register_study_tiles",
    "study_tiles",
    "StudyTiles",
    "view_zooms",
    "BORDERS",
    "TILE_URL",
    "MVT_MIME",
]

#: the national route, in the ``{z}/{x}/{y}`` form MapLibre's tile sources take
TILE_URL = "/tiles/{layer}/{z}/{x}/{y}.pbf"
MVT_MIME = "application/vnd.mapbox-vector-tile"
#: the study map's highest tile zoom (MapLibre over-zooms beyond it)
STUDY_MAX_ZOOM = 16
#: how far beyond its edges a study tile holds features, in tile units (4096 per side): 2 px
#: of a 512-pixel tile, as wide as half the widest line the map draws on them (a selection
#: outline, 3.2 px; community borders 1.4–2.6 px); the default 64 would have the browser
#: parse ~9 % more grids at a city's first view
STUDY_BUFFER = 16
#: :meth:`StudyTiles.warm` encodes every zoom whose view of the whole study takes at most this
#: many tiles (the first map of every page shows the whole study)
WARM_TILES = 16
#: the height of a page's map (:data:`dashboards.components.MAP_HEIGHT`) in pixels: its first
#: view's likeliest tile zoom (:func:`view_zooms`)
FIRST_VIEW_PX = int(MAP_HEIGHT.removesuffix("px"))
_LEVELS = ("community", "grid")
#: the communities' border network (:func:`gridmap.tiles.border_lines`): the heavy lines every
#: map draws over its units, each shared border once (drawn from the communities' polygons,
#: every border two communities share would be stroked, parsed and sent twice)
BORDERS = "borders"
#: every tile set of a study: its levels and the borders
_SETS = (*_LEVELS, BORDERS)


def _units_of(tile_set: str) -> str:
    """The map level whose units a tile set is made from (the borders: the communities')."""
    return "community" if tile_set == BORDERS else tile_set


#: where :func:`register_study_tiles` keeps the study's tiles on the Flask server
_EXTENSION = "gridmap_study_tiles"


def _not_found(what: str) -> Response:
    body = json.dumps({"error": f"no tile {what}"})
    return Response(body, status=404, mimetype="application/json")


def _accepts_gzip() -> bool:
    return "gzip" in request.headers.get("Accept-Encoding", "")


def _tile_response(tiles: TileSet, layer: str, z: int, x: int, y: int, cache: str) -> Response:
    packed = _accepts_gzip()
    try:
        data = tiles.tile(layer, z, x, y, gzip=packed)
    except (KeyError, ValueError):
        return _not_found(f"{layer}/{z}/{x}/{y}")
    if not data:
        return Response(status=204)
    headers = {"Cache-Control": cache, "Vary": "Accept-Encoding"}
    if packed:
        headers["Content-Encoding"] = "gzip"
    return Response(data, mimetype=MVT_MIME, headers=headers)


#: where :func:`register_tiles` keeps the national tile set on the Flask server
_NATIONAL_EXTENSION = "gridmap_national_tiles"


def national_tiles(server: Flask) -> TileSet | None:
    """The national tile set :func:`register_tiles` serves on ``server`` (None: not served)."""
    return server.extensions.get(_NATIONAL_EXTENSION)


def register_tiles(server: Flask, tiles: TileSet) -> None:
    """Serve ``tiles`` at ``/tiles/<layer>/<z>/<x>/<y>.pbf`` on ``server``.

    Parameters
    ----------
    server
        The dashboard's Flask server (``app.server``).
    tiles
        The tile set of a national result (:meth:`gridmap.tiles.TileSet.from_check_dir`),
        also kept on the server (:func:`national_tiles`).
    """
    server.extensions[_NATIONAL_EXTENSION] = tiles

    @server.route("/tiles/<layer>/<int:z>/<int:x>/<int:y>.pbf")
    def _tile(layer: str, z: int, x: int, y: int) -> Response:
        return _tile_response(tiles, layer, z, x, y, "private, max-age=600")


def view_zooms(bounds: tuple[float, float, float, float], height: int = FIRST_VIEW_PX) -> list[int]:
    """The tile zooms of a map that shows all of ``bounds``, the likeliest first.

    Every zoom from the last at which one tile covers ``bounds`` while they fit in
    :data:`WARM_TILES` tiles. First the zoom at which they fill a map ``height`` pixels tall
    (a page's map, padded 20 px each side; 512-pixel tiles), then the lower ones (a map
    narrower than it is tall), then the higher ones.

    Examples
    --------
    >>> view_zooms((120.5, 31.2, 120.9, 31.5))
    [10, 9, 8, 11]
    """
    views = [tiles_covering(bounds, z) for z in range(STUDY_MAX_ZOOM + 1)]
    first = max(z for z, v in enumerate(views) if len(v) == 1)
    zooms = []
    for z in range(first, STUDY_MAX_ZOOM + 1):
        if len(views[z]) > WARM_TILES:
            break
        zooms.append(z)
    south, north = (math.log(math.tan(math.pi / 4 + math.radians(v) / 2)) for v in bounds[1::2])
    share = max(north - south, 1e-12) / (2 * math.pi)  # of the world's height
    fit = math.floor(math.log2(max(height - 40, 1) / (512 * share)))
    return sorted(zooms, key=lambda z: (z > fit, -z if z <= fit else z))


class StudyTiles:
    """The tile set of each map level of a provider's study, and of its borders, made once.

    Parameters
    ----------
    provider
        The dashboard's provider (its geometry in WGS84, ids and names).
    """

    def __init__(self, provider: DashboardProvider) -> None:
        self.provider = provider
        self._sets: dict[str, TileSet] = {}
        self._names: dict[str, bytes] = {}
        self._locks = {level: threading.Lock() for level in _SETS}
        self._started: set[str] = set()  # sets :meth:`start` was asked for
        self._started_lock = threading.Lock()

    def has(self, level: str) -> bool:
        """Whether the study has this tile set (a level it has; borders: with communities)."""
        return level in _SETS and self.provider.has_level(_units_of(level))

    def _once(self, cache: dict[str, T], level: str, make: Callable[[], T]) -> T:
        """``cache[level]``, made by ``make()`` on first use, once however many threads ask."""
        if not self.has(level):
            raise KeyError(level)
        with self._locks[level]:
            if level not in cache:
                cache[level] = make()
            return cache[level]

    def tileset(self, level: str) -> TileSet:
        """The tiles of ``level`` (one layer named after it, geometry only), or of :data:`BORDERS`.

        Raises
        ------
        KeyError
            For a level the study does not have.
        """

        def make() -> TileSet:
            geom = self.provider.wgs84(_units_of(level))
            shapes = geom.to_numpy()
            if level == BORDERS:
                shapes = border_lines(shapes)
            units = gpd.GeoDataFrame(geometry=shapes, crs=geom.crs)
            return TileSet.from_layers({level: units}, buffer=STUDY_BUFFER)

        return self._once(self._sets, level, make)

    def start(self, levels: Iterable[str]) -> None:
        """Make the tile sets of ``levels`` and their first view's tiles in a daemon thread, now.

        What :meth:`warm` does, for ``levels``, without waiting for it: the app starts it when
        it loads the study (:func:`register_study_tiles`), so on a server that did not
        :meth:`warm` the tiles of a page's first map are being made while the browser loads the
        page, the likeliest first (:func:`view_zooms`), instead of once each is asked for. A
        tile asked for meanwhile waits for its encoding rather than repeating it. Each set is
        started once; levels the study does not have are skipped. ``levels`` may name
        :data:`BORDERS`.
        """
        with self._started_lock:
            todo = [lv for lv in dict.fromkeys(levels) if lv not in self._started and self.has(lv)]
            self._started.update(todo)
        if todo:
            threading.Thread(
                target=self._warm, args=(todo,), name="gridmap-tiles", daemon=True
            ).start()

    def names(self, level: str) -> bytes:
        """Gzip-compressed JSON ``{"n": [names], "u": [unit ids]}`` of ``level``, in feature order.

        Raises
        ------
        KeyError
            For a level the study does not have (and for :data:`BORDERS`: they have none).
        """
        if level not in _LEVELS:
            raise KeyError(level)

        def make() -> bytes:
            study = self.provider.study
            layer = study.communities if level == "community" else study.grids
            ids = self.provider.ids(level)
            names = layer["name"].astype(str) if "name" in layer.columns else ids.to_series()
            text = json.dumps(
                {"n": names.tolist(), "u": ids.tolist()},
                ensure_ascii=False,
                separators=(",", ":"),
            )
            return gzip.compress(text.encode("utf-8"), compresslevel=5, mtime=0)

        return self._once(self._names, level, make)

    def warm(self) -> int:
        """Make every tile set (the levels', the borders'), names and whole-study view tiles now.

        For ``gridmap serve`` before it listens: the zooms at which a map shows the whole
        study (:func:`view_zooms`) are encoded and gzip-compressed, so a page's first map
        only fetches them.

        Returns
        -------
        int
            How many tiles were encoded (or found made).
        """
        return self._warm([lv for lv in _SETS if self.has(lv)])

    def _warm(self, sets: list[str]) -> int:
        """:meth:`warm` of ``sets``: their tile sets, their view tiles, the levels' names.

        Zoom by zoom: every set's likeliest zoom (:func:`view_zooms`) before any set's next,
        so a first map's tiles are the first made.
        """
        made = {lv: self.tileset(lv) for lv in sets}
        views = {
            lv: [tiles_covering(ts.bounds(lv), z) for z in view_zooms(ts.bounds(lv))]
            for lv, ts in made.items()
        }
        done = 0
        for rank in range(max((len(v) for v in views.values()), default=0)):
            for lv, zooms in views.items():
                for tile in zooms[rank] if rank < len(zooms) else []:
                    made[lv].tile(lv, *tile, gzip=True)
                    done += 1
        for lv in sets:
            if lv in _LEVELS:
                self.names(lv)
        return done

    def meta(self, level: str, tiles: str) -> dict[str, Any]:
        """The level's TileJSON: ``tiles`` (the address template), bounds, zooms, ``count``.

        ``names`` is where the units' names and ids are (:meth:`names`): the address of
        ``tiles`` up to the zoom, then ``names.json``. Bounds and count come from the
        provider's geometry, not the tile set: a page that carries its map's TileJSON does not
        wait for the tile set (its tiles' requests do, on a fresh server). Of
        :data:`BORDERS`: the communities' bounds, ``count`` the communities they outline, no
        ``names``.

        Raises
        ------
        KeyError
            For a level the study does not have.
        """
        if not self.has(level):
            raise KeyError(level)
        of = _units_of(level)
        meta = {
            "tilejson": "3.0.0",
            "tiles": [tiles],
            "bounds": [float(v) for v in self.provider.bounds(of)],
            "minzoom": 0,
            "maxzoom": STUDY_MAX_ZOOM,
            "layer": level,
            "count": len(self.provider.ids(of)),
            "names": tiles.split("{z}")[0] + "names.json",
            "vector_layers": [{"id": level, "fields": {}}],
        }
        if level == BORDERS:
            del meta["names"]
        return meta


def study_tiles(server: Flask) -> StudyTiles | None:
    """The study tiles :func:`register_study_tiles` serves on ``server`` (None: not served)."""
    return server.extensions.get(_EXTENSION)


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
        The tile sets, being made in the background from now on (:meth:`StudyTiles.start`;
        :meth:`StudyTiles.warm` waits for them), also kept on the server (:func:`study_tiles`).
    """
    study = StudyTiles(provider)
    server.extensions[_EXTENSION] = study
    study.start(_SETS)  # made from the study's load on, not once a page asks
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

    @server.route("/_gridmap/tiles/<key>/<level>/names.json")
    def _study_names(key: str, level: str) -> Response:
        if key != provider.key:
            return _not_found(f"{key}/{level}")
        try:
            packed = study.names(level)
        except KeyError:
            return _not_found(f"{key}/{level}")
        headers = {"Cache-Control": cache, "Vary": "Accept-Encoding"}
        if _accepts_gzip():
            headers["Content-Encoding"] = "gzip"
            return Response(packed, mimetype="application/json", headers=headers)
        return Response(gzip.decompress(packed), mimetype="application/json", headers=headers)

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
