"""Vector tiles (Mapbox Vector Tile, MVT) of polygon and line layers: a study's map, a national result.

:class:`TileSet` cuts layers of polygons into ``z/x/y`` tiles (Web Mercator, the scheme
MapLibre and every web map read). Each feature's id is its row position in its layer, and
every other column of the layer is a property, so a map recolours by feature state (values
aligned with the rows) without fetching tiles again.

Geometries are projected once and simplified per zoom (to a quarter of a screen pixel at
that zoom) for the features a tile asks for, then kept; a tile holds the features that meet it, those crossing its edge
clipped to it (plus a small buffer so strokes join across tiles), encoded by the vectorised
encoder of :mod:`gridmap.tiles._mvt`. Encoded tiles are kept (least recently used first out),
with their gzip form once asked for (what a server sends a browser).

:meth:`TileSet.national` is the national result's set (issue #17):

* ``rollup``: the communities dissolved per 区县 (first 6 digits of the 12-digit code) with
  the roll-up figures (communities, failing, in the size band), at every zoom;
* ``communities`` from zoom :data:`MIN_ZOOM` ``["communities"]``, ``grids`` from
  :data:`MIN_ZOOM` ``["grids"]`` (below it a tile of that layer is empty: a province's grids
  never go to the browser at once).

:meth:`TileSet.from_check_dir` stores the prepared set beside the result
(:mod:`gridmap.tiles.store`) and reads it from there while the result is unchanged.
"""

from __future__ import annotations

import gzip as gzip_codec
import logging
import math
import os
import threading
from collections.abc import Mapping

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame

from gridmap.lru import BoundedLRU
from gridmap.tiles._layer import EARTH_RADIUS as _R
from gridmap.tiles._layer import PreparedLayer, prepare_layer, to_mercator
from gridmap.tiles._mvt import encode_layer
from gridmap.tiles.national import MIN_ZOOM, national_layers, read_national, source_files
from gridmap.tiles.store import load_layers, save_layers, source_key, store_dir

__all__ = ["TileSet", "MIN_ZOOM", "TILE_LAYERS", "tile_bounds", "tiles_covering"]

TILE_LAYERS = tuple(MIN_ZOOM)
#: tile coordinates per side (the MVT default)
EXTENT = 4096
#: tile buffer, in tile coordinates (strokes join across tile edges)
_BUFFER = 64
_MAX_ZOOM = 24
#: encoded tiles kept per set
_CACHE_TILES = 4096
_log = logging.getLogger(__name__)


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """A tile's box in Web Mercator metres (EPSG:3857): ``(minx, miny, maxx, maxy)``.

    Examples
    --------
    >>> [round(v) for v in tile_bounds(0, 0, 0)]
    [-20037508, -20037508, 20037508, 20037508]
    """
    size = 2 * math.pi * _R / 2**z
    minx = -math.pi * _R + x * size
    maxy = math.pi * _R - y * size
    return (minx, maxy - size, minx + size, maxy)


def tiles_covering(bounds: tuple[float, float, float, float], z: int) -> list[tuple[int, int, int]]:
    """The ``(z, x, y)`` tiles that cover ``(west, south, east, north)`` (degrees) at zoom ``z``.

    Examples
    --------
    >>> tiles_covering((120.0, 31.0, 120.1, 31.1), 8)
    [(8, 213, 104)]
    """
    n = 2**z
    (x0, y1), (x1, y0) = (
        to_mercator(np.array([[bounds[0], bounds[1]], [bounds[2], bounds[3]]])) / (2 * math.pi * _R)
        + 0.5
    ) * [n, -n] + [0, n]
    cols = range(max(0, int(x0)), min(n - 1, int(x1)) + 1)
    rows = range(max(0, int(y0)), min(n - 1, int(y1)) + 1)
    return [(z, x, y) for x in cols for y in rows]


class TileSet:
    """MVT tiles of polygon layers (feature id = row position, other columns = properties).

    ``TileSet(communities, grids)`` is the national set (see :meth:`national`); any other
    layers go through :meth:`from_layers`.

    Parameters
    ----------
    communities
        The checked communities (index = community code; ``name``, ``status``,
        ``size_status``, ``households`` are carried when present).
    grids
        The checked grids (index = grid code), or None.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> comms = gpd.GeoDataFrame({"status": ["fail"]}, geometry=[shapely.box(120, 31, 120.1, 31.1)],
    ...                          index=pd.Index(["320501001001"]), crs="EPSG:4326")
    >>> tiles = TileSet(comms)
    >>> len(tiles.tile("rollup", 0, 0, 0)) > 0, tiles.tile("communities", 0, 0, 0)
    (True, b'')
    """

    def __init__(self, communities: GeoDataFrame, grids: GeoDataFrame | None = None) -> None:
        self._setup(_prepare(national_layers(communities, grids), MIN_ZOOM))

    @classmethod
    def national(cls, communities: GeoDataFrame, grids: GeoDataFrame | None = None) -> TileSet:
        """The national set: ``rollup`` per 区县, ``communities`` and ``grids`` (``code`` = id)."""
        return cls(communities, grids)

    #: how far beyond its edges a tile holds features, in tile units (see :meth:`from_layers`)
    buffer = _BUFFER

    @classmethod
    def from_layers(
        cls,
        layers: Mapping[str, GeoDataFrame],
        *,
        min_zoom: Mapping[str, int] | None = None,
        buffer: int = _BUFFER,
    ) -> TileSet:
        """A set of any polygon layers: each row a feature (id = its position), columns its properties.

        Parameters
        ----------
        layers
            Layer name → GeoDataFrame (any CRS; none = longitude/latitude).
        min_zoom
            Layer name → the lowest zoom at which its tiles have features (default 0).
        buffer
            How far beyond its edges a tile holds features (clipped there), in tile units
            (:data:`EXTENT` per side): strokes up to twice as wide join across tile edges.
            Features that only meet the buffer are drawn by the next tile; a map whose lines
            are a few pixels wide needs less than the default 64 (a pixel is 8 units on a
            512-pixel tile), and its browser parses fewer features.
        """
        out = cls._of(_prepare(layers, min_zoom or {}))
        out.buffer = buffer
        return out

    @classmethod
    def _of(cls, layers: dict[str, PreparedLayer]) -> TileSet:
        self = cls.__new__(cls)
        self._setup(layers)
        return self

    def _setup(self, layers: dict[str, PreparedLayer]) -> None:
        self._layers = layers
        # tile -> [MVT bytes, their gzip form once asked for]
        self._cache: BoundedLRU[tuple[str, int, int, int], list[bytes | None]] = BoundedLRU(
            _CACHE_TILES
        )
        #: where the set came from: "made", "stored" (read from disk) or "made, stored"
        self.origin = "made"

    @classmethod
    def from_check_dir(cls, folder: str | os.PathLike, *, store: bool = True) -> TileSet:
        """The tiles of a ``gridmap check --engine dask --out FOLDER`` result.

        Reads ``national/communities`` and ``national/grids`` (partitioned GeoParquet). With
        ``store``, the prepared set is kept in ``national/.tiles/`` (see
        :mod:`gridmap.tiles.store`) and read from there while the result's files are
        unchanged: a later start reads it in seconds instead of making it again. A folder that
        cannot be written is only read (the set is made each time). :attr:`origin` says
        which happened.

        Raises
        ------
        FileNotFoundError
            When the folder holds no ``national/communities``.
        """
        files = source_files(folder)
        if not store or not files:
            return cls(*read_national(folder))
        target = store_dir(folder)
        key = source_key(files, target.parent, extra=[MIN_ZOOM, "national"])
        stored = load_layers(target, key)
        if stored is not None:
            out = cls._of(stored)
            out.origin = "stored"
        else:
            out = cls(*read_national(folder))
            try:
                save_layers(target, key, out._layers)
                out.origin = "made, stored"
            except (OSError, ValueError) as exc:  # read-only, or unstorable: serve, keep nothing
                _log.warning("national tile set not stored in %s: %s", target, exc)
        out.prepare(background=True)
        return out

    def prepare(self, *, background: bool = False) -> None:
        """Make every layer's spatial index (of the features' boxes) and property arrays now.

        Until then a tile finds its features by scanning their boxes (a few tens of
        milliseconds at a million features); with it, by a tree query.

        Parameters
        ----------
        background
            Do it in a daemon thread and return at once (a server answers meanwhile); a
            later call without it waits for that thread's work instead of repeating it.
        """
        if background:
            threading.Thread(target=self.prepare, name="gridmap-tiles", daemon=True).start()
            return
        for lay in self._layers.values():
            lay.prepare()

    @property
    def layers(self) -> list[str]:
        """The layers this set has (a national set: ``grids`` only with grids)."""
        return list(self._layers)

    def count(self, layer: str) -> int:
        """How many features ``layer`` has."""
        return len(self._layers[layer])

    def bounds(self, layer: str) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` of ``layer`` in degrees."""
        return self._layers[layer].lonlat_bounds

    def table(self, layer: str) -> pd.DataFrame:
        """The properties of ``layer``'s features, one row per feature id (0, 1, …)."""
        return self._layers[layer].table

    def min_zoom(self, layer: str) -> int:
        """The lowest zoom at which ``layer``'s tiles have features."""
        return self._layers[layer].min_zoom

    def geometries(self, layer: str, z: int) -> np.ndarray:
        """The layer's geometries in Web Mercator, simplified for zoom ``z`` (made once per zoom)."""
        return self._layers[layer].simplified(z)[0]

    def tile(self, layer: str, z: int, x: int, y: int, *, gzip: bool = False) -> bytes:
        """The MVT bytes of one tile of ``layer`` (``b""`` when it has no features).

        Parameters
        ----------
        layer
            One of :attr:`layers`.
        z, x, y
            The tile (XYZ scheme, y down from the north).
        gzip
            Return the tile gzip-compressed (made once and kept with the tile); an empty
            tile stays ``b""``.

        Raises
        ------
        KeyError
            For a layer this set does not have.
        ValueError
            For a tile outside the zoom's range.
        """
        if layer not in self._layers:
            raise KeyError(layer)
        if not (0 <= z <= _MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z):
            raise ValueError(f"no tile {z}/{x}/{y}")
        if z < self._layers[layer].min_zoom:
            return b""
        # once per tile however many threads ask (a request waits for a warming thread's tile)
        entry = self._cache.get_or_create(
            (layer, z, x, y), lambda: [self._encode(layer, z, x, y), None]
        )
        raw = entry[0]
        assert raw is not None
        if not gzip or not raw:
            return raw
        packed = entry[1]
        if packed is None:  # a fast level: a 1.5 MB tile in ~20 ms, about a third of its size
            packed = entry[1] = gzip_codec.compress(raw, compresslevel=3, mtime=0)
        return packed

    def _encode(self, layer: str, z: int, x: int, y: int) -> bytes:
        lay = self._layers[layer]
        minx, miny, maxx, maxy = tile_bounds(z, x, y)
        pad = (maxx - minx) * self.buffer / EXTENT
        box = (minx - pad, miny - pad, maxx + pad, maxy + pad)
        hits = lay.query(box)
        if not len(hits):
            return b""
        geoms, b = lay.simplified(z, hits)
        # only features crossing the buffered tile's edge are clipped
        out = (b[:, 0] < box[0]) | (b[:, 1] < box[1]) | (b[:, 2] > box[2]) | (b[:, 3] > box[3])
        if out.any():
            geoms[out] = shapely.clip_by_rect(geoms[out], *box)
        # a unit narrower than two tile units would vanish when rounded: draw it as a small box
        # (as tippecanoe keeps tiny polygons), so every unit stays on the map at every zoom
        # (a line that short is left to vanish: a border too short to see)
        unit = 2 * (maxx - minx) / EXTENT
        tiny = ~out & (((b[:, 2] - b[:, 0]) < unit) | ((b[:, 3] - b[:, 1]) < unit))
        tiny &= np.isin(shapely.get_type_id(geoms), (3, 6))
        if tiny.any():
            cx, cy = (b[tiny, 0] + b[tiny, 2]) / 2, (b[tiny, 1] + b[tiny, 3]) / 2
            hw = np.maximum(b[tiny, 2] - b[tiny, 0], unit) / 2
            hh = np.maximum(b[tiny, 3] - b[tiny, 1], unit) / 2
            geoms[tiny] = shapely.box(cx - hw, cy - hh, cx + hw, cy + hh)
        return encode_layer(
            layer,
            geoms,
            hits,
            lay.keys,
            lay.values,
            rows=hits,
            to_tile=(minx, maxy, EXTENT / (maxx - minx)),
            extent=EXTENT,
        )


def _prepare(
    layers: Mapping[str, GeoDataFrame], min_zoom: Mapping[str, int]
) -> dict[str, PreparedLayer]:
    return {k: prepare_layer(v, min_zoom.get(k, 0)) for k, v in layers.items()}
