"""One layer of a tile set, prepared: Web Mercator geometry, spatial index, property columns.

A :class:`PreparedLayer` is what a :class:`~gridmap.tiles.TileSet` needs before it can answer a
tile; :mod:`gridmap.tiles.store` writes its parts (geometry, properties, bounds) to disk and
reads them back. Geometries are simplified per zoom only for the features a tile asks for
(a quarter of a screen pixel at that zoom), and kept: the first tile at a grid zoom costs its
own features, not the whole country's.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from geopandas import GeoDataFrame

from gridmap.tiles._mvt import ValueColumn

__all__ = ["PreparedLayer", "prepare_layer", "simplify", "to_mercator", "EARTH_RADIUS", "MAX_LAT"]

EARTH_RADIUS = 6378137.0  # Web Mercator sphere
MAX_LAT = 85.0511287798066
#: beyond this zoom geometries are not simplified further (a quarter pixel is < 1 cm)
_MAX_SIMPLIFY_ZOOM = 18


def to_mercator(coords: np.ndarray) -> np.ndarray:
    """Longitude/latitude pairs (n × 2) in Web Mercator metres."""
    lon = coords[:, 0]
    lat = np.clip(coords[:, 1], -MAX_LAT, MAX_LAT)
    x = np.radians(lon) * EARTH_RADIUS
    y = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * EARTH_RADIUS
    return np.column_stack([x, y])


class _Zoom:
    """A zoom's simplified geometries and their bounds, filled feature by feature."""

    def __init__(self, n: int) -> None:
        self.geoms = np.empty(n, dtype=object)
        self.bounds = np.zeros((n, 4))
        self.done = np.zeros(n, dtype=bool)


class PreparedLayer:
    """A layer ready to cut into tiles.

    Parameters
    ----------
    mercator
        The features' polygons in Web Mercator (EPSG:3857), one per feature id; or their WKB
        (a pyarrow binary array, decoded only for the features tiles ask for), with
        ``bounds``.
    table
        Their properties, one row per feature id (any index; it is dropped).
    lonlat_bounds
        ``(west, south, east, north)`` of the features in degrees.
    min_zoom
        The lowest zoom at which the layer's tiles have features.
    bounds
        Each feature's ``(minx, miny, maxx, maxy)`` in Web Mercator (n × 4; NaN for an empty
        one); computed from ``mercator`` when None.
    """

    def __init__(
        self,
        mercator: np.ndarray | pa.Array | pa.ChunkedArray,
        table: pd.DataFrame,
        lonlat_bounds: tuple[float, float, float, float],
        min_zoom: int,
        *,
        bounds: np.ndarray | None = None,
    ) -> None:
        if isinstance(mercator, np.ndarray):
            self._geoms = mercator
            self._have = np.ones(len(mercator), dtype=bool)
            self._wkb = None
        else:
            self._geoms = np.empty(len(mercator), dtype=object)
            self._have = np.zeros(len(mercator), dtype=bool)
            self._wkb = (
                mercator.combine_chunks() if isinstance(mercator, pa.ChunkedArray) else mercator
            )
        self.bounds = shapely.bounds(self._geoms) if bounds is None else np.asarray(bounds)
        self.table = table.reset_index(drop=True)
        self.lonlat_bounds = lonlat_bounds
        self.min_zoom = min_zoom
        self.keys = [str(c) for c in self.table.columns]
        self.values = [ValueColumn(self.table[c]) for c in self.table.columns]
        self._zooms: dict[int, _Zoom] = {}
        self._lock = threading.Lock()
        self._tree: tuple[shapely.STRtree, np.ndarray] | None = None
        self._preparing = threading.Lock()  # a second prepare() waits for the first

    def __len__(self) -> int:
        return len(self._geoms)

    @property
    def mercator(self) -> np.ndarray:
        """Every feature's polygon in Web Mercator (decoded now where it was not yet)."""
        return self.geometries(np.arange(len(self)))

    def geometries(self, rows: np.ndarray) -> np.ndarray:
        """The Web Mercator polygons of ``rows`` (decoded from WKB on first use)."""
        with self._lock:
            return self._decoded(np.asarray(rows, dtype=np.int64))

    def query(self, box: tuple[float, float, float, float]) -> np.ndarray:
        """The feature ids whose bounds meet ``box`` (``minx, miny, maxx, maxy``), in order.

        With the index of :meth:`prepare`, a tree query; before it, a scan of the bounds.
        """
        if self._tree is not None:
            tree, ids = self._tree
            return np.sort(ids[tree.query(shapely.box(*box))])
        b = self.bounds
        hit = (b[:, 0] <= box[2]) & (b[:, 2] >= box[0]) & (b[:, 1] <= box[3]) & (b[:, 3] >= box[1])
        return np.flatnonzero(hit)

    def prepare(self) -> None:
        """Make the spatial index (of the features' boxes) and the property arrays now."""
        with self._preparing:
            if self._tree is None:
                ids = np.flatnonzero(np.isfinite(self.bounds).all(axis=1))
                boxes = shapely.box(*self.bounds[ids].T)
                self._tree = (shapely.STRtree(boxes), ids)
            for column in self.values:
                column.prepare()

    def _decoded(self, rows: np.ndarray) -> np.ndarray:
        """:meth:`geometries` for a caller that holds the lock."""
        need = rows[~self._have[rows]]
        if len(need) and self._wkb is not None:
            wkb = self._wkb.take(pa.array(need)).to_numpy(zero_copy_only=False)
            self._geoms[need] = shapely.from_wkb(wkb)
            self._have[need] = True
        return self._geoms[rows]

    def simplified(self, z: int, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Geometries simplified for zoom ``z`` and their bounds: of ``rows``, or of all."""
        z = min(z, _MAX_SIMPLIFY_ZOOM)
        rows = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64)
        with self._lock:
            zoom = self._zooms.get(z)
            if zoom is None:
                zoom = self._zooms[z] = _Zoom(len(self))
            need = rows[~zoom.done[rows]]
            if len(need):
                tol = 2 * math.pi * EARTH_RADIUS / 2**z / 256 / 4  # a quarter of a screen pixel
                geoms = simplify(self._decoded(need), tol)
                zoom.geoms[need] = geoms
                zoom.bounds[need] = shapely.bounds(geoms)
                zoom.done[need] = True
            return zoom.geoms[rows], zoom.bounds[rows]


def simplify(geoms: np.ndarray, tolerance: float) -> np.ndarray:
    """Polygons simplified within ``tolerance``, each as valid as it was, no part or hole lost.

    Douglas-Peucker first (about 10× faster than GEOS's topology-preserving simplifier at a
    city's 50 k grids); a polygon it made invalid or empty, or whose parts or holes it
    dropped, is simplified again by the topology-preserving simplifier (what every polygon
    went through before).

    Examples
    --------
    >>> ring = shapely.Polygon([(0, 0), (5, 0.01), (10, 0), (10, 10), (0, 10)])
    >>> simplify(np.array([ring]), 0.1)[0].wkt
    'POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))'
    """
    out = shapely.simplify(geoms, tolerance, preserve_topology=False)
    broken = (
        ~shapely.is_valid(out)
        | shapely.is_empty(out)
        | (shapely.get_num_geometries(out) != shapely.get_num_geometries(geoms))
        | (_holes(out) != _holes(geoms))
    )
    broken &= ~shapely.is_empty(geoms)
    if broken.any():
        out[broken] = shapely.simplify(geoms[broken], tolerance, preserve_topology=True)
    return out


def _holes(geoms: np.ndarray) -> np.ndarray:
    """Each (multi)polygon's number of holes."""
    out = shapely.get_num_interior_rings(geoms)  # 0 for a multipolygon: counted by its parts
    multi = np.flatnonzero(shapely.get_type_id(geoms) == 6)
    if len(multi):
        parts, index = shapely.get_parts(geoms[multi], return_index=True)
        holes = np.bincount(
            index, weights=shapely.get_num_interior_rings(parts), minlength=len(multi)
        )
        out[multi] = holes.astype(out.dtype)
    return out


def prepare_layer(units: GeoDataFrame, min_zoom: int) -> PreparedLayer:
    """A layer of ``units`` (each row a feature, every other column a property)."""
    lonlat = units.to_crs("EPSG:4326") if units.crs else units
    geoms = np.asarray(lonlat.geometry.values)
    bounds = tuple(float(v) for v in shapely.total_bounds(geoms))
    props = [c for c in units.columns if c != units.geometry.name]
    table = pd.DataFrame(units[props]).reset_index(drop=True)
    return PreparedLayer(
        shapely.transform(geoms, to_mercator),
        table,
        bounds,  # type: ignore[arg-type]
        min_zoom,
    )
