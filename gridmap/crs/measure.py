"""Lengths and areas in metres, refused in any CRS that is not metric."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap._errors import GeographicCRSError
from gridmap.crs.convert import G, _check_geo
from gridmap.crs.metric import is_metric, metric_crs
from gridmap.crs.parse import crs_label

__all__ = ["require_metric", "to_metric", "area_m2", "length_m"]


def _suggest(gdf: Any) -> str:
    """The metric CRS :func:`metric_crs` would choose, as ``EPSG:…``, for an error message."""
    try:
        return f"EPSG:{metric_crs(gdf).to_epsg()}"
    except Exception:  # only a hint in an error message
        return "EPSG:45xx"


def require_metric(gdf: Any, *, what: str = "面积/长度") -> None:
    """Refuse to measure in a CRS that is not metric.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame or geopandas.GeoSeries
    what : str, keyword-only
        What was to be measured, for the message (Chinese).

    Raises
    ------
    GeographicCRSError
        If ``gdf.crs`` is ``None`` or not a projected CRS in metres. The
        message (Chinese and English) names the CRS and the fix.
    """
    crs = getattr(gdf, "crs", None)
    if crs is not None and is_metric(crs):
        return
    label = crs_label(crs)
    hint = _suggest(gdf) if crs is not None else "EPSG:45xx"
    raise GeographicCRSError(
        f"不能在 {label} 中计算{what}：需要以米为单位的投影坐标系。"
        f'请先用 gridmap.crs.to_metric(gdf) 或 gdf.to_crs("{hint}") 投影。 / '
        f"Cannot measure {what} in {label}: a projected CRS in metres is needed. "
        f'Reproject with gridmap.crs.to_metric(gdf) or gdf.to_crs("{hint}").'
    )


def to_metric(gdf: G, *, crs: Any = None) -> G:
    """Reproject to the metric CRS chosen by :func:`metric_crs`.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame or geopandas.GeoSeries
        Data with a CRS (not modified).
    crs : optional, keyword-only
        Explicit metric CRS (anything :func:`parse_crs` accepts).

    Returns
    -------
    geopandas.GeoDataFrame or geopandas.GeoSeries
        A new object in the metric CRS (a copy when already in it).

    Raises
    ------
    GeographicCRSError
        If the data has no CRS or ``crs`` is not metric.
    """
    _check_geo(gdf, "to_metric")
    if gdf.crs is None:
        raise GeographicCRSError(
            "数据没有坐标系，无法投影 / the data has no CRS, cannot reproject; "
            "set it first (GeoDataFrame.set_crs)"
        )
    target = metric_crs(gdf, crs=crs)
    if gdf.crs is target or gdf.crs == target:
        return gdf.copy()
    return gdf.to_crs(target)


def area_m2(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> pd.Series:
    """Area of each geometry in square metres.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame or geopandas.GeoSeries
        Data in a metric CRS (see :func:`to_metric`).

    Returns
    -------
    pandas.Series
        Float areas, same index.

    Raises
    ------
    GeographicCRSError
        If the CRS is missing or not metric.
    """
    require_metric(gdf, what="面积 (area)")
    return pd.Series(np.asarray(gdf.area, dtype=np.float64), index=gdf.index, name="area_m2")


def length_m(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> pd.Series:
    """Length (perimeter for polygons) of each geometry in metres.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame or geopandas.GeoSeries
        Data in a metric CRS (see :func:`to_metric`).

    Returns
    -------
    pandas.Series
        Float lengths, same index.

    Raises
    ------
    GeographicCRSError
        If the CRS is missing or not metric.
    """
    require_metric(gdf, what="长度 (length)")
    return pd.Series(np.asarray(gdf.length, dtype=np.float64), index=gdf.index, name="length_m")
