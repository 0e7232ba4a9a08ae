"""The metric CRS every length and area is computed in, and how true to scale a CRS is.

:func:`metric_crs` keeps the data's CRS when it is projected in metres and
true to scale where the data is (:func:`scale_error` at most
:data:`MAX_SCALE_ERROR`), and otherwise picks the CGCS2000 3-degree
Gauss-Krüger zone (:func:`gk_zone_crs`) whose central meridian is nearest the
centre of the data.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
from pyproj.exceptions import CRSError

from gridmap._errors import GeographicCRSError
from gridmap.crs.parse import crs_label, parse_crs

__all__ = [
    "gk_zone_crs",
    "is_metric",
    "metric_crs",
    "scale_error",
    "scale_factors",
    "MAX_SCALE_ERROR",
]


# CGCS2000 3-degree Gauss-Krüger, "CM" variants: EPSG:4534 (75E) ... 4554 (135E).
_GK_FIRST_EPSG = 4534
_GK_CM_RANGE = (75, 135)


def gk_zone_crs(lon: float) -> pyproj.CRS:
    """CGCS2000 3-degree Gauss-Krüger zone CRS for a longitude.

    The "CM" variants EPSG:4534 (CM 75E) ... EPSG:4554 (CM 135E): false
    easting 500 000 m, no zone number prefix. The central meridian is
    ``3 * round(lon / 3)`` (halves rounded up, e.g. 121.5 -> 123E).

    Parameters
    ----------
    lon : float
        Longitude in degrees east.

    Returns
    -------
    pyproj.CRS

    Raises
    ------
    ValueError
        If the nearest central meridian is outside 75E-135E (China).
    """
    lon_f = float(lon)
    cm = 3 * math.floor(lon_f / 3.0 + 0.5) if math.isfinite(lon_f) else None
    if cm is None or not _GK_CM_RANGE[0] <= cm <= _GK_CM_RANGE[1]:
        raise ValueError(
            f"经度 {lon!r} 不在 CGCS2000 3 度带范围（中央经线 75E-135E）内 / longitude {lon!r} is "
            "outside the CGCS2000 3-degree Gauss-Krüger zones (CM 75E-135E); name a metric CRS "
            "explicitly (e.g. EPSG:32650, UTM zone 50N)"
        )
    return pyproj.CRS.from_epsg(_GK_FIRST_EPSG + (cm - _GK_CM_RANGE[0]) // 3)


def _horizontal(crs: pyproj.CRS) -> pyproj.CRS:
    if crs.is_compound and crs.sub_crs_list:
        return crs.sub_crs_list[0]
    if crs.is_bound and crs.source_crs is not None:
        return crs.source_crs
    return crs


def is_metric(crs: Any) -> bool:
    """Whether a CRS is projected with metre axes.

    Parameters
    ----------
    crs : pyproj.CRS or anything :func:`parse_crs` accepts, or None

    Returns
    -------
    bool
        ``True`` for a projected CRS whose horizontal axes are in metres;
        ``False`` for geographic CRSs, feet, pseudo-CRSs and ``None``.
    """
    if crs is None:
        return False
    parsed = parse_crs(crs)
    if not isinstance(parsed, pyproj.CRS):
        return False
    horiz = _horizontal(parsed)
    if not horiz.is_projected:
        return False
    axes = horiz.axis_info[:2]
    if len(axes) < 2:
        return False
    return all(
        ax.unit_name in ("metre", "meter", "m") or math.isclose(ax.unit_conversion_factor, 1.0)
        for ax in axes
    )


#: largest scale error (areal, or linear along either axis) accepted in a CRS used for measuring
MAX_SCALE_ERROR = 0.005


def scale_error(crs: Any, data: Any) -> float:
    """How far measuring in ``crs`` is from true ground lengths and areas at the data's centre.

    Parameters
    ----------
    crs
        A projected CRS (anything :func:`parse_crs` accepts).
    data
        A GeoDataFrame/GeoSeries in ``crs``, or ``(crs_of_bounds, (minx, miny, maxx, maxy))``.

    Returns
    -------
    float
        ``max(|areal scale − 1|, |meridional scale − 1|, |parallel scale − 1|)``
        from PROJ's ``get_factors`` at the centre of the data; NaN when PROJ
        cannot tell (or the CRS is not projected).

    Examples
    --------
    >>> bounds = ("EPSG:4326", (120.6, 31.2, 120.9, 31.4))  # Suzhou Industrial Park
    >>> round(scale_error("EPSG:3857", bounds), 2), scale_error("EPSG:4549", bounds) < 1e-3
    (0.37, True)
    """
    f = scale_factors(crs, data)
    if f is None:
        return float("nan")
    err = max(abs(f.areal_scale - 1.0), abs(f.meridional_scale - 1.0), abs(f.parallel_scale - 1.0))
    return float(err) if math.isfinite(err) else float("nan")


def scale_factors(crs: Any, data: Any) -> pyproj.proj.Factors | None:
    """PROJ's scale factors of ``crs`` at the centre of ``data`` (see :func:`scale_error`).

    Parameters
    ----------
    crs, data
        As for :func:`scale_error`.

    Returns
    -------
    pyproj.proj.Factors or None
        None when the CRS is not projected or PROJ cannot tell.
    """
    parsed = parse_crs(crs)
    if not isinstance(parsed, pyproj.CRS) or not _horizontal(parsed).is_projected:
        return None
    if isinstance(data, (gpd.GeoSeries, gpd.GeoDataFrame)):
        data_crs, bounds = data.crs, data.total_bounds
    else:
        data_crs, bounds = data
        data_crs = parse_crs(data_crs)
    try:
        lon, lat = _lonlat_point(data_crs, bounds)
        return pyproj.Proj(_horizontal(parsed)).get_factors(lon, lat)
    except (CRSError, ValueError, TypeError, pyproj.exceptions.ProjError):
        return None


def _lonlat_centre(crs: pyproj.CRS, bounds: Any) -> float:
    return _lonlat_point(crs, bounds)[0]


def _lonlat_point(crs: pyproj.CRS, bounds: Any) -> tuple[float, float]:
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    if not all(math.isfinite(b) for b in (minx, miny, maxx, maxy)):
        raise ValueError(
            "无法选择米制坐标系：数据为空 / cannot choose a metric CRS: no data (empty bounds)"
        )
    tr = pyproj.Transformer.from_crs(crs, pyproj.CRS.from_epsg(4490), always_xy=True)
    w, s, e, n = tr.transform_bounds(minx, miny, maxx, maxy, densify_pts=21)
    if not (math.isfinite(w) and math.isfinite(e)):
        raise ValueError(
            f"无法把数据范围转换为经纬度 / cannot transform the data bounds to lon/lat ({crs_label(crs)})"
        )
    if e < w:  # crosses the antimeridian; not a Chinese dataset
        e += 360.0
    return (w + e) / 2.0, (s + n) / 2.0


def metric_crs(data: Any, *, crs: Any = None) -> pyproj.CRS:
    """Choose the metric CRS in which to measure data.

    Parameters
    ----------
    data : geopandas.GeoDataFrame, geopandas.GeoSeries or tuple
        The data, or a ``(crs, (minx, miny, maxx, maxy))`` pair.
    crs : optional
        An explicit choice (anything :func:`parse_crs` accepts). It is
        returned if it is metric.

    Returns
    -------
    pyproj.CRS
        ``crs`` if given; else the data's own CRS when it is projected in
        metres and true to scale where the data is (:func:`scale_error` at
        most :data:`MAX_SCALE_ERROR`; the same object, so custom WKT such as
        the "2000SZ" local system is kept intact); else the CGCS2000 3-degree Gauss-Krüger zone
        (:func:`gk_zone_crs`) of the data's centre, computed in lon/lat
        (bounds reprojected to EPSG:4490). Data spanning several zones is
        measured in the zone of its centre, with growing scale error away
        from it (about 1e-4 at 1.5 degrees); choose a CRS for such data.

    Raises
    ------
    GeographicCRSError
        If ``crs`` is given and not metric (or, with data, not true to scale
        where the data is), or the data has no CRS.
    ValueError
        If the data is empty or its centre is outside the zones 75E-135E.

    Examples
    --------
    >>> suzhou = ("EPSG:3857", (13435000, 3670000, 13465000, 3690000))  # in Web Mercator
    >>> metric_crs(suzhou).to_epsg()
    4549
    """
    if crs is not None:
        return _explicit(crs, data)
    if isinstance(data, (gpd.GeoSeries, gpd.GeoDataFrame)):
        data_crs, bounds = data.crs, data.total_bounds
    else:
        try:
            data_crs, bounds = data
        except (TypeError, ValueError):
            raise TypeError(
                "metric_crs expects a GeoDataFrame, GeoSeries or (crs, bounds) pair, "
                f"got {type(data).__name__}"
            ) from None
        data_crs = None if data_crs is None else parse_crs(data_crs)
    if data_crs is None:
        raise GeographicCRSError(
            "数据没有坐标系，无法选择米制坐标系 / the data has no CRS, cannot choose a metric CRS; "
            'set it first (GeoDataFrame.set_crs("EPSG:45xx"))'
        )
    if isinstance(data_crs, str):
        raise GeographicCRSError(
            f"数据为 {data_crs} 伪坐标，请先用 to_geographic 转换 / the data is in {data_crs}; "
            "convert with gridmap.crs.to_geographic first"
        )
    if is_metric(data_crs) and not scale_error(data_crs, (data_crs, bounds)) > MAX_SCALE_ERROR:
        return data_crs
    return gk_zone_crs(_lonlat_centre(data_crs, bounds))


def _explicit(crs: Any, data: Any) -> pyproj.CRS:
    """A CRS the caller chose, refused when it is not metric or not true to scale at the data."""
    chosen = parse_crs(crs)
    if not is_metric(chosen):
        raise GeographicCRSError(
            f"指定的坐标系不是米制投影坐标系 / the CRS given is not a projected CRS in metres: "
            f"{crs_label(chosen)}; 请使用如 / use e.g. EPSG:4549 (CGCS2000 GK CM 120E)"
        )
    assert isinstance(chosen, pyproj.CRS)  # is_metric is False for the pseudo-CRS names
    err = scale_error(chosen, data) if data is not None and _has_bounds(data) else float("nan")
    if err > MAX_SCALE_ERROR:
        raise GeographicCRSError(
            f"指定的米制坐标系 {crs_label(chosen)} 在数据所在位置比例失真 {err:.1%}"
            f"（上限 {MAX_SCALE_ERROR:.1%}），长度和面积会算错 / the metric CRS given is "
            f"{err:.1%} off true scale where the data is; use e.g. {_suggest_gk(data)} "
            "(CGCS2000 Gauss-Krüger zone of the data)"
        )
    return chosen


def _has_bounds(data: Any) -> bool:
    if isinstance(data, (gpd.GeoSeries, gpd.GeoDataFrame)):
        return data.crs is not None and len(data) > 0 and bool(np.isfinite(data.total_bounds).all())
    return isinstance(data, tuple) and len(data) == 2 and data[0] is not None


def _suggest_gk(data: Any) -> str:
    """The Gauss-Krüger zone of the data as ``EPSG:…``, for an error message."""
    try:
        if isinstance(data, (gpd.GeoSeries, gpd.GeoDataFrame)):
            crs, bounds = data.crs, data.total_bounds
        else:
            crs, bounds = data
        parsed = parse_crs(crs)
        if not isinstance(parsed, pyproj.CRS):
            return "EPSG:45xx"
        return f"EPSG:{gk_zone_crs(_lonlat_centre(parsed, bounds)).to_epsg()}"
    except Exception:  # only a hint in an error message
        return "EPSG:45xx"
