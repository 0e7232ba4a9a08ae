"""Geometries converted between WGS84 lon/lat and GCJ-02/BD-09 (every vertex, Z kept).

GCJ-02 and BD-09 coordinates are lon/lat in degrees. They are converted to
WGS84 lon/lat (:func:`to_geographic`) and from there reprojected with PROJ like
any other data; in the other direction (:func:`from_geographic`) data is first
reprojected to WGS84 lon/lat and then obfuscated. A GeoSeries holding GCJ-02
or BD-09 coordinates is labelled EPSG:4326, its nominal lon/lat CRS, since
PROJ has no better label for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from gridmap.crs.parse import parse_crs
from gridmap.crs.webmap import (
    BD09,
    GCJ02,
    bd09_to_wgs84,
    gcj02_to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

__all__ = ["to_geographic", "from_geographic"]


G = TypeVar("G", gpd.GeoSeries, gpd.GeoDataFrame)


_TO_WGS84 = {GCJ02: gcj02_to_wgs84, BD09: bd09_to_wgs84}
_FROM_WGS84 = {GCJ02: wgs84_to_gcj02, BD09: wgs84_to_bd09}


def _check_geo(geoms: Any, func: str) -> None:
    if not isinstance(geoms, (gpd.GeoSeries, gpd.GeoDataFrame)):
        raise TypeError(f"{func} expects a GeoSeries or GeoDataFrame, got {type(geoms).__name__}")


def _transform_values(
    values: np.ndarray, func: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Apply a lon/lat point function to every vertex, keeping Z where present."""

    def xy(coords: np.ndarray) -> np.ndarray:
        out = coords.copy()
        lon, lat = func(coords[:, 0], coords[:, 1])
        out[:, 0] = lon
        out[:, 1] = lat
        return out

    values = np.asarray(values, dtype=object)
    has_z = shapely.has_z(values)
    if not has_z.any():
        return shapely.transform(values, xy, include_z=False)
    result = np.empty(len(values), dtype=object)
    result[~has_z] = shapely.transform(values[~has_z], xy, include_z=False)
    result[has_z] = shapely.transform(values[has_z], xy, include_z=True)
    return result


def _with_geometry(geoms: G, values: np.ndarray, crs: Any) -> G:
    new = gpd.GeoSeries(values, index=geoms.index, crs=crs)
    if isinstance(geoms, gpd.GeoSeries):
        new.name = geoms.name
        return new
    out = geoms.copy()
    # Assign the array, not the Series: no index alignment (duplicate labels).
    out[geoms.geometry.name] = new.values
    if out.crs is None or not out.crs.equals(new.crs):
        out = out.set_crs(new.crs, allow_override=True)
    return out


def _check_lonlat_bounds(geoms: gpd.GeoSeries | gpd.GeoDataFrame, func: str) -> None:
    minx, miny, maxx, maxy = geoms.total_bounds
    if np.isnan(minx):
        return
    if minx < -180.0 or maxx > 180.0 or miny < -90.0 or maxy > 90.0:
        raise ValueError(
            f"{func}: 坐标不是经纬度 / coordinates are not lon/lat degrees "
            f"(bounds {minx:.6g}, {miny:.6g}, {maxx:.6g}, {maxy:.6g})"
        )


def to_geographic(geoms: G, source: Any) -> G:
    """Convert geometries from GCJ-02 or BD-09 to WGS84 lon/lat.

    Every vertex of every geometry (any type, Z kept) is converted with
    :func:`gcj02_to_wgs84` / :func:`bd09_to_wgs84`. Only the active geometry
    column of a GeoDataFrame is converted. The input is not modified.

    Parameters
    ----------
    geoms : geopandas.GeoSeries or geopandas.GeoDataFrame
        Geometries whose coordinates are GCJ-02 or BD-09 lon/lat. Their CRS
        label, if any, is ignored (it is usually missing or EPSG:4326): the
        caller says what the coordinates are.
    source : str or pyproj.CRS
        :data:`GCJ02` or :data:`BD09` (any alias :func:`parse_crs` accepts).
        A real CRS is accepted too: the coordinates are then taken to be in
        that CRS (overriding the label) and reprojected to EPSG:4326 with PROJ.

    Returns
    -------
    geopandas.GeoSeries or geopandas.GeoDataFrame
        Same type and index, CRS EPSG:4326.

    Raises
    ------
    ValueError
        If ``source`` is not understood, or (for GCJ-02 / BD-09) the
        coordinates are not lon/lat degrees.
    """
    _check_geo(geoms, "to_geographic")
    src = parse_crs(source)
    if isinstance(src, pyproj.CRS):
        return geoms.set_crs(src, allow_override=True).to_crs(4326)
    _check_lonlat_bounds(geoms, "to_geographic")
    values = _transform_values(geoms.geometry.values, _TO_WGS84[src])
    return _with_geometry(geoms, values, "EPSG:4326")


def from_geographic(geoms: G, target: Any) -> G:
    """Convert WGS84 / CGCS2000 lon/lat geometries to GCJ-02 or BD-09.

    Data in any other CRS is first reprojected to EPSG:4326 (WGS84 and
    CGCS2000 are treated as identical). The input is not modified.

    Parameters
    ----------
    geoms : geopandas.GeoSeries or geopandas.GeoDataFrame
        Geometries with a CRS. Without one, the coordinates are taken to be
        WGS84 lon/lat.
    target : str or pyproj.CRS
        :data:`GCJ02` or :data:`BD09` (any alias :func:`parse_crs` accepts).
        A real CRS is accepted too and simply reprojected to.

    Returns
    -------
    geopandas.GeoSeries or geopandas.GeoDataFrame
        Same type and index. The coordinates are the *obfuscated* GCJ-02 /
        BD-09 lon/lat, but the CRS label is EPSG:4326, their nominal lon/lat
        CRS (PROJ knows no GCJ-02 / BD-09): do not reproject the result.
    """
    _check_geo(geoms, "from_geographic")
    tgt = parse_crs(target)
    if geoms.crs is None:
        _check_lonlat_bounds(geoms, "from_geographic")
        geoms = geoms.set_crs(4326)
    if isinstance(tgt, pyproj.CRS):
        return geoms.to_crs(tgt)
    if not geoms.crs.equals(pyproj.CRS.from_epsg(4326)):
        geoms = geoms.to_crs(4326)
    values = _transform_values(geoms.geometry.values, _FROM_WGS84[tgt])
    return _with_geometry(geoms, values, "EPSG:4326")
