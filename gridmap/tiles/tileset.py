"""Vector tiles (Mapbox Vector Tile, MVT) of polygon layers: a study's map, a national result.

:class:`TileSet` cuts layers of polygons into ``z/x/y`` tiles (Web Mercator, the scheme
MapLibre and every web map read). Each feature's id is its row position in its layer, and
every other column of the layer is a property, so a map recolours by feature state (values
aligned with the rows) without fetching tiles again.

Geometries are projected once, simplified once per zoom (to a quarter of a screen pixel at
that zoom) and cached; a tile holds the features that meet it, those crossing its edge
clipped to it (plus a small buffer so strokes join across tiles), encoded by the vectorised
encoder of :mod:`gridmap.tiles._mvt`. Encoded tiles are kept (least recently used first out),
with their gzip form once asked for (what a server sends a browser).

:meth:`TileSet.national` is the national result's set (issue #17):

* ``rollup``: the communities dissolved per 区县 (first 6 digits of the 12-digit code) with
  the roll-up figures (communities, failing, in the size band), at every zoom;
* ``communities`` from zoom :data:`MIN_ZOOM` ``["communities"]``, ``grids`` from
  :data:`MIN_ZOOM` ``["grids"]`` (below it a tile of that layer is empty: a province's grids
  never go to the browser at once).
"""

from __future__ import annotations

import gzip as gzip_codec
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame

from gridmap.tiles._mvt import encode_layer, value_field

__all__ = ["TileSet", "MIN_ZOOM", "TILE_LAYERS", "tile_bounds", "tiles_covering"]

#: the layers of a national tile set, and the lowest zoom at which each has features
MIN_ZOOM = {"rollup": 0, "communities": 8, "grids": 12}
TILE_LAYERS = tuple(MIN_ZOOM)
#: tile coordinates per side (the MVT default)
EXTENT = 4096
#: tile buffer, in tile coordinates (strokes join across tile edges)
_BUFFER = 64
_R = 6378137.0  # Web Mercator sphere
_MAX_LAT = 85.0511287798066
_MAX_ZOOM = 24
#: beyond this zoom geometries are not simplified further (a quarter pixel is < 1 cm)
_MAX_SIMPLIFY_ZOOM = 18
#: encoded tiles kept per set
_CACHE_TILES = 4096
#: properties of a national set's features, when the result has them
_NATIONAL_PROPERTIES = (
    "name",
    "status",
    "size_status",
    "households",
    "coordinators",
    "coordinators_required",
    "communities",
    "fail",
    "in_band",
    "fail_share",
    "community_id",
)


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
        _to_mercator(np.array([[bounds[0], bounds[1]], [bounds[2], bounds[3]]]))
        / (2 * math.pi * _R)
        + 0.5
    ) * [n, -n] + [0, n]
    cols = range(max(0, int(x0)), min(n - 1, int(x1)) + 1)
    rows = range(max(0, int(y0)), min(n - 1, int(y1)) + 1)
    return [(z, x, y) for x in cols for y in rows]


def _to_mercator(coords: np.ndarray) -> np.ndarray:
    lon = coords[:, 0]
    lat = np.clip(coords[:, 1], -_MAX_LAT, _MAX_LAT)
    x = np.radians(lon) * _R
    y = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * _R
    return np.column_stack([x, y])


def _rollup_units(communities: GeoDataFrame) -> GeoDataFrame:
    """Communities dissolved per district code, with their counts."""
    codes = communities.index.to_series().astype(str)
    key = codes.str[:6].where(codes.str.fullmatch(r"\d{12}"), "unknown")
    status = communities.get("status", pd.Series("", index=communities.index)).astype(str)
    size = communities.get("size_status", pd.Series("", index=communities.index)).astype(str)
    table = pd.DataFrame(
        {
            "key": key.to_numpy(),
            "fail": (status == "fail").to_numpy(),
            "in_band": (size == "pass").to_numpy(),
            "households": pd.to_numeric(communities.get("households"), errors="coerce")
            if "households" in communities
            else np.nan,
        }
    )
    agg = table.groupby("key", sort=True).agg(
        communities=("fail", "size"),
        fail=("fail", "sum"),
        in_band=("in_band", "sum"),
        households=("households", "sum"),
    )
    geoms = [
        shapely.union_all(np.asarray(communities.geometry.values)[(key == k).to_numpy()])
        for k in agg.index
    ]
    share = agg["fail"] / agg["communities"]
    sums = {
        col: pd.to_numeric(communities[col], errors="coerce").groupby(key.to_numpy()).sum()
        for col in ("coordinators", "coordinators_required")
        if col in communities.columns
    }
    out = GeoDataFrame(
        {
            "name": agg.index.to_numpy(),
            "status": np.where(agg["fail"] > 0, "fail", "pass"),
            "communities": agg["communities"].astype(int).to_numpy(),
            "fail": agg["fail"].astype(int).to_numpy(),
            "in_band": agg["in_band"].astype(int).to_numpy(),
            "fail_share": share.round(4).to_numpy(),
            "households": agg["households"].round(0).to_numpy(),
        },
        geometry=geoms,
        crs=communities.crs,
        index=pd.Index(agg.index.astype(str), name="code"),
    )
    for col, total in sums.items():
        out[col] = total.reindex(agg.index).round(1).to_numpy()
    return out


def _national_table(units: GeoDataFrame) -> GeoDataFrame:
    """The national properties a layer has, plus ``code`` (its index as text)."""
    keep = [c for c in _NATIONAL_PROPERTIES if c in units.columns]
    out = GeoDataFrame(units[keep].copy(), geometry=units.geometry.values, crs=units.crs)
    out["code"] = units.index.astype(str)
    return out


def _value_fields(column: pd.Series) -> list[bytes | None]:
    """Each value of a property column as MVT value bytes (None for a missing one)."""
    out: list[bytes | None] = []
    for v in column.astype(object).tolist():
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            out.append(None)
        elif isinstance(v, np.generic):
            out.append(value_field(v.item()))
        elif isinstance(v, (str, int, float, bool)):
            out.append(value_field(v))
        else:
            out.append(value_field(str(v)))
    return out


class _Layer:
    """One layer: its geometry in Web Mercator, its spatial index and encoded properties."""

    def __init__(self, units: GeoDataFrame, min_zoom: int) -> None:
        lonlat = units.to_crs("EPSG:4326") if units.crs else units
        geoms = np.asarray(lonlat.geometry.values)
        self.lonlat_bounds = tuple(float(v) for v in shapely.total_bounds(geoms))
        self.mercator = shapely.transform(geoms, _to_mercator)
        self.tree = shapely.STRtree(self.mercator)
        self.min_zoom = min_zoom
        props = [c for c in units.columns if c != units.geometry.name]
        self.table = pd.DataFrame(units[props]).reset_index(drop=True)
        self.keys = [str(c) for c in props]
        self.values = [_value_fields(units[c]) for c in props]
        self.simplified: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.mercator)


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
        comms = communities.to_crs("EPSG:4326") if communities.crs else communities.copy()
        comms.index = comms.index.astype(str)
        layers = {
            "rollup": _national_table(_rollup_units(comms)),
            "communities": _national_table(comms),
        }
        if grids is not None:
            layers["grids"] = _national_table(grids)
        self._setup(layers, MIN_ZOOM)

    @classmethod
    def national(cls, communities: GeoDataFrame, grids: GeoDataFrame | None = None) -> TileSet:
        """The national set: ``rollup`` per 区县, ``communities`` and ``grids`` (``code`` = id)."""
        return cls(communities, grids)

    @classmethod
    def from_layers(
        cls, layers: Mapping[str, GeoDataFrame], *, min_zoom: Mapping[str, int] | None = None
    ) -> TileSet:
        """A set of any polygon layers: each row a feature (id = its position), columns its properties.

        Parameters
        ----------
        layers
            Layer name → GeoDataFrame (any CRS; none = longitude/latitude).
        min_zoom
            Layer name → the lowest zoom at which its tiles have features (default 0).
        """
        self = cls.__new__(cls)
        self._setup(dict(layers), dict(min_zoom or {}))
        return self

    def _setup(self, layers: dict[str, GeoDataFrame], min_zoom: Mapping[str, int]) -> None:
        self._layers = {k: _Layer(v, min_zoom.get(k, 0)) for k, v in layers.items()}
        self._lock = threading.Lock()
        # tile -> [MVT bytes, their gzip form once asked for]
        self._cache: OrderedDict[tuple[str, int, int, int], list[bytes | None]] = OrderedDict()

    @classmethod
    def from_check_dir(cls, folder: str | os.PathLike) -> TileSet:
        """The tiles of a ``gridmap check --engine dask --out FOLDER`` result.

        Reads ``national/communities`` and ``national/grids`` (partitioned GeoParquet).

        Raises
        ------
        FileNotFoundError
            When the folder holds no ``national/communities``.
        """
        root = Path(folder) / "national"
        if not (root / "communities").exists():
            raise FileNotFoundError(
                f"{folder} 中没有 national/communities（全国检查的结果）/ no national result"
            )

        def read(kind: str) -> GeoDataFrame:
            gdf = gpd.read_parquet(root / kind)
            drop = [c for c in ("province", "city", "district") if c in gdf.columns]
            return gdf.drop(columns=drop)

        comms = read("communities")
        id_col = "community_id" if "community_id" in comms.columns else comms.columns[0]
        comms = comms.set_index(id_col)
        grids = None
        if (root / "grids").exists():
            grids = read("grids")
            if "grid_id" in grids.columns:
                grids = grids.set_index("grid_id")
        return cls(comms, grids)

    @property
    def layers(self) -> list[str]:
        """The layers this set has (a national set: ``grids`` only with grids)."""
        return list(self._layers)

    def count(self, layer: str) -> int:
        """How many features ``layer`` has."""
        return len(self._layers[layer])

    def bounds(self, layer: str) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` of ``layer`` in degrees."""
        return self._layers[layer].lonlat_bounds  # type: ignore[return-value]

    def table(self, layer: str) -> pd.DataFrame:
        """The properties of ``layer``'s features, one row per feature id (0, 1, …)."""
        return self._layers[layer].table

    def min_zoom(self, layer: str) -> int:
        """The lowest zoom at which ``layer``'s tiles have features."""
        return self._layers[layer].min_zoom

    def geometries(self, layer: str, z: int) -> np.ndarray:
        """The layer's geometries in Web Mercator, simplified for zoom ``z`` (made once per zoom)."""
        return self._simplified(layer, z)[0]

    def _simplified(self, layer: str, z: int) -> tuple[np.ndarray, np.ndarray]:
        """Simplified geometries and their bounds, for zoom ``z``."""
        z = min(z, _MAX_SIMPLIFY_ZOOM)
        lay = self._layers[layer]
        with self._lock:
            if z not in lay.simplified:
                tol = 2 * math.pi * _R / 2**z / 256 / 4  # a quarter of a screen pixel
                geoms = shapely.simplify(lay.mercator, tol, preserve_topology=True)
                lay.simplified[z] = (geoms, shapely.bounds(geoms))
            return lay.simplified[z]

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
        key = (layer, z, x, y)
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None:
                self._cache.move_to_end(key)
        if entry is None:
            entry = [self._encode(layer, z, x, y), None]
            with self._lock:
                self._cache[key] = entry
                while len(self._cache) > _CACHE_TILES:
                    self._cache.popitem(last=False)
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
        pad = (maxx - minx) * _BUFFER / EXTENT
        box = (minx - pad, miny - pad, maxx + pad, maxy + pad)
        hits = np.sort(lay.tree.query(shapely.box(*box)))
        if not len(hits):
            return b""
        geoms, bounds = self._simplified(layer, z)
        geoms, b = geoms[hits], bounds[hits]
        # only features crossing the buffered tile's edge are clipped
        out = (b[:, 0] < box[0]) | (b[:, 1] < box[1]) | (b[:, 2] > box[2]) | (b[:, 3] > box[3])
        geoms = geoms.copy()
        if out.any():
            geoms[out] = shapely.clip_by_rect(geoms[out], *box)
        # a unit narrower than two tile units would vanish when rounded: draw it as a small box
        # (as tippecanoe keeps tiny polygons), so every unit stays on the map at every zoom
        unit = 2 * (maxx - minx) / EXTENT
        tiny = ~out & (((b[:, 2] - b[:, 0]) < unit) | ((b[:, 3] - b[:, 1]) < unit))
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
