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
import shapely
from geopandas import GeoDataFrame

from gridmap.tiles._mvt import ValueColumn

__all__ = ["PreparedLayer", "prepare_layer", "to_mercator", "EARTH_RADIUS", "MAX_LAT"]

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
        The features' polygons in Web Mercator (EPSG:3857), one per feature id.
    table
        Their properties, one row per feature id (any index; it is dropped).
    lonlat_bounds
        ``(west, south, east, north)`` of the features in degrees.
    min_zoom
        The lowest zoom at which the layer's tiles have features.
    """

    def __init__(
        self,
        mercator: np.ndarray,
        table: pd.DataFrame,
        lonlat_bounds: tuple[float, float, float, float],
        min_zoom: int,
    ) -> None:
        self.mercator = mercator
        self.table = table.reset_index(drop=True)
        self.lonlat_bounds = lonlat_bounds
        self.min_zoom = min_zoom
        self._tree: shapely.STRtree | None = None
        self.keys = [str(c) for c in self.table.columns]
        self.values = [ValueColumn(self.table[c]) for c in self.table.columns]
        self._zooms: dict[int, _Zoom] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.mercator)

    @property
    def tree(self) -> shapely.STRtree:
        """The spatial index of :attr:`mercator` (made on first use, or by :meth:`prepare`)."""
        with self._lock:
            if self._tree is None:
                self._tree = shapely.STRtree(self.mercator)
            return self._tree

    def prepare(self) -> None:
        """Make the spatial index and find each property's distinct values now."""
        self.tree  # noqa: B018 - made on access
        for column in self.values:
            column.prepare()

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
                geoms = shapely.simplify(self.mercator[need], tol, preserve_topology=True)
                zoom.geoms[need] = geoms
                zoom.bounds[need] = shapely.bounds(geoms)
                zoom.done[need] = True
            return zoom.geoms[rows], zoom.bounds[rows]


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
