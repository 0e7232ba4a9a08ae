"""The map geometry: each level once in WGS84 (ids ``0..n-1``), and as gzip-compressed GeoJSON.

:meth:`GeometryCache.wgs84` is what the dashboard's vector tiles are cut from
(:mod:`dashboards.tiles`: simplified per zoom on the server); the GeoJSON of a level is
served for small overlays (facility points) and exports, and its address names the level's
tiles. Everything after the geometry travels as small per-feature arrays aligned with the
feature ids. Here only sub-metre vertices (digitising noise) are dropped.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from dashboards.provider.results import KeyedLocks

__all__ = ["LEVELS", "SUB_METRE", "GeometryCache", "drop_vertices", "geojson_text", "layer_ids"]

#: The planning levels a map can show (facilities are drawn as points on top).
LEVELS = ("community", "grid")
#: vertices closer than this to a unit's outline are digitising noise (metres)
SUB_METRE = 0.5


def drop_vertices(geoms: np.ndarray, tolerance: float) -> np.ndarray:
    """Polygons without the vertices that move them by less than ``tolerance``.

    Douglas–Peucker (``shapely.simplify(preserve_topology=False)``, ~10× faster than the
    topology-preserving simplifier), and the topology-preserving simplifier for the polygons
    where that broke something: made one invalid or empty, or dropped a part or a hole.

    Parameters
    ----------
    geoms
        Shapely geometries in a metric CRS.
    tolerance
        How far a dropped vertex may be from the simplified outline, in the CRS's units.

    Returns
    -------
    numpy.ndarray
        The simplified geometries, in the same order.

    Examples
    --------
    >>> ring = [(0, 0), (5, 0.1), (10, 0), (10, 10), (0, 10)]
    >>> [g.wkt for g in drop_vertices(np.array([shapely.Polygon(ring)]), 0.5)]
    ['POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))']
    """
    fast = shapely.simplify(geoms, tolerance, preserve_topology=False)
    broken = ~shapely.is_valid(fast) | shapely.is_empty(fast)
    broken |= shapely.get_num_geometries(fast) != shapely.get_num_geometries(geoms)
    broken |= shapely.get_num_interior_rings(fast) != shapely.get_num_interior_rings(geoms)
    if broken.any():
        fast[broken] = shapely.simplify(geoms[broken], tolerance, preserve_topology=True)
    return fast


def layer_ids(layer: Any) -> pd.Index:
    """A layer's unit ids as text, in feature order."""
    return layer.index.astype(str)


def geojson_text(
    geom: Any, names: Sequence[str], uids: Sequence[str], extra: Sequence[str] | None = None
) -> str:
    """A FeatureCollection: ``id`` = position, properties ``n`` (name), ``u`` (unit id) and more.

    Parameters
    ----------
    geom
        A GeoSeries in WGS84; coordinates are rounded to 6 decimals (about 0.1 m).
    names, uids
        Name and unit id per feature.
    extra
        Per feature, more JSON members without braces (e.g. ``"t":"school"``) or "".

    Returns
    -------
    str
        The GeoJSON text.
    """
    coords = shapely.transform(geom.to_numpy(), lambda xy: np.round(xy, 6))
    texts = shapely.to_geojson(coords)
    extra = extra if extra is not None else [""] * len(names)
    parts = []
    for i, (g, n, u, e) in enumerate(zip(texts, names, uids, extra, strict=True)):
        props = json.dumps({"n": n, "u": u}, ensure_ascii=False)
        if e:
            props = props[:-1] + "," + e + "}"
        parts.append(f'{{"type":"Feature","id":{i},"properties":{props},"geometry":{g}}}')
    return '{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}"


class GeometryCache:
    """The study's communities, grids and facilities in WGS84 and as GeoJSON, each made once.

    Parameters
    ----------
    study
        A :class:`gridmap.Study`.
    facilities
        Returns the facilities layer (of the default check result) when first needed.
    """

    def __init__(self, study: Any, facilities: Callable[[], Any]) -> None:
        self.study = study
        self._facilities = facilities
        self._key_lock = KeyedLocks()
        self._geo: dict[str, bytes] = {}
        self._wgs: dict[str, Any] = {}

    def layer(self, level: str) -> Any:
        """The GeoDataFrame of ``level`` (``"community"``, ``"grid"`` or ``"facility"``)."""
        if level == "facility":
            return self._facilities()
        return self.study.communities if level == "community" else self.study.grids

    def wgs84(self, level: str) -> Any:
        """The level's geometry in WGS84 (feature order), sub-metre vertices dropped."""
        with self._key_lock(("wgs", level)):
            if level not in self._wgs:
                geom = self.layer(level).geometry
                if level != "facility":
                    kept = drop_vertices(geom.to_numpy(), SUB_METRE)
                    geom = gpd.GeoSeries(kept, index=geom.index, crs=geom.crs)
                self._wgs[level] = geom.to_crs(4326)
            return self._wgs[level]

    def geojson(self, level: str) -> bytes:
        """Gzip-compressed GeoJSON of a level (see :func:`geojson_text`); facilities add ``t``."""
        with self._key_lock(("geo", level)):
            if level not in self._geo:
                text = self._geojson_text(level)
                self._geo[level] = gzip.compress(text.encode("utf-8"), compresslevel=5)
            return self._geo[level]

    def _geojson_text(self, level: str) -> str:
        layer = self.layer(level)
        if level == "facility":
            names = layer["name"].astype(str).tolist()
            extra = [
                json.dumps({"t": str(x)}, ensure_ascii=False)[1:-1] for x in layer["facility_type"]
            ]
            return geojson_text(self.wgs84(level), names, layer.index.astype(str).tolist(), extra)
        name = layer["name"] if "name" in layer.columns else pd.Series(layer.index)
        return geojson_text(self.wgs84(level), name.astype(str).tolist(), layer_ids(layer).tolist())

    def bounds(self, level: str, uid: str | None = None) -> list[float]:
        """[west, south, east, north] of one unit (or the whole level) in WGS84."""
        geom = self.wgs84(level)
        if uid is not None:
            pos = layer_ids(self.layer(level)).get_indexer([str(uid)])[0]
            if pos < 0:
                raise KeyError(f"no {level} with id {uid!r}")
            return [float(x) for x in geom.iloc[pos].bounds]
        return [float(x) for x in geom.total_bounds]
