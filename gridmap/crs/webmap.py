"""GCJ-02 and BD-09, the web-map pseudo-CRSs PROJ does not know: the point arithmetic.

GCJ-02 (``"gcj02"``, 火星坐标)
    The state-mandated obfuscation of WGS84 lon/lat used by AMap (高德),
    Tencent and Google China. It moves points by roughly 100-700 m in a
    smooth, non-linear way. The forward formula (on the Krasovsky ellipsoid
    constants ``a = 6378245.0``, ``ee = 0.00669342162296594323``) is public;
    the inverse is computed here exactly (to ~1e-9 degree) by fixed-point
    iteration.
BD-09 (``"bd09"``, 百度坐标)
    Baidu's further obfuscation of GCJ-02 lon/lat. (Baidu's Web-Mercator
    variant BD-09MC is *not* supported.)

Every function takes and returns lon/lat arrays (vectorised, broadcast
together); :mod:`gridmap.crs.convert` applies them to geometries.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "GCJ02",
    "BD09",
    "out_of_china",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "gcj02_to_bd09",
    "bd09_to_gcj02",
    "wgs84_to_bd09",
    "bd09_to_wgs84",
]


GCJ02 = "gcj02"
"""Name of the GCJ-02 pseudo-CRS (火星坐标; AMap, Tencent)."""

BD09 = "bd09"
"""Name of the BD-09 pseudo-CRS (百度坐标; Baidu lon/lat)."""


# Krasovsky 1940 ellipsoid, as used by the published GCJ-02 algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323
# BD-09 constant.
_X_PI = math.pi * 3000.0 / 180.0

# The usual "in China" bounding box (eviltransform).
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)
# GCJ-02 offsets are < 0.01 degree; a margin around the box catches every
# obfuscated point whose true position is inside it.
_MARGIN = 0.1

_TOL_DEG = 1e-9
_MAX_ITER = 30


def _as_arrays(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    lon_a, lat_a = np.broadcast_arrays(
        np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    )
    return lon_a, lat_a


def _in_box(lon: np.ndarray, lat: np.ndarray, margin: float = 0.0) -> np.ndarray:
    # Written positively so that NaN counts as "not in China".
    return (
        (lon >= _CHINA_LON[0] - margin)
        & (lon <= _CHINA_LON[1] + margin)
        & (lat >= _CHINA_LAT[0] - margin)
        & (lat <= _CHINA_LAT[1] + margin)
    )


def out_of_china(lon: Any, lat: Any) -> np.ndarray:
    """Test whether points lie outside the GCJ-02 bounding box of China.

    The usual box: lon 72.004-137.8347, lat 0.8293-55.8271. Points outside it
    are not obfuscated by GCJ-02.

    Parameters
    ----------
    lon, lat : array_like
        Longitude and latitude in degrees (broadcast together).

    Returns
    -------
    numpy.ndarray of bool
        ``True`` where the point is outside the box (NaN counts as outside).
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    return ~_in_box(lon_a, lat_a)


def _sines(t: np.ndarray) -> tuple[np.ndarray, ...]:
    """``sin(a), cos(a), sin(a/3), sin(a/12), sin(a/30)`` for ``a = pi * t``.

    Three trigonometric calls instead of five (the multiple-angle identities
    are exact; the rounding difference to direct evaluation is < 1e-16 degree
    in the final offset). Trigonometry dominates the cost of the conversion.
    """
    a12 = t * (np.pi / 12.0)
    s12 = np.sin(a12)
    c12 = np.cos(a12)
    s6 = 2.0 * s12 * c12
    c6 = 1.0 - 2.0 * s12 * s12
    s3 = 2.0 * s6 * c6
    c3 = 1.0 - 2.0 * s6 * s6
    s1 = s3 * (3.0 - 4.0 * s3 * s3)
    c1 = c3 * (4.0 * c3 * c3 - 3.0)
    return s1, c1, s3, s12, np.sin(t * (np.pi / 30.0))


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 offset (dlon, dlat) in degrees at WGS84 (lon, lat), no box test.

    The standard published formula::

        x, y = lon - 105, lat - 35
        dlat = -100 + 2x + 3y + 0.2y^2 + 0.1xy + 0.2 sqrt|x|
               + (20 sin 6pi x + 20 sin 2pi x) 2/3
               + (20 sin pi y + 40 sin(pi y/3)) 2/3
               + (160 sin(pi y/12) + 320 sin(pi y/30)) 2/3
        dlon = 300 + x + 2y + 0.1x^2 + 0.1xy + 0.1 sqrt|x|
               + (20 sin 6pi x + 20 sin 2pi x) 2/3
               + (20 sin pi x + 40 sin(pi x/3)) 2/3
               + (150 sin(pi x/12) + 300 sin(pi x/30)) 2/3

    scaled from metres on the Krasovsky ellipsoid to degrees at ``lat``.
    """
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    sx1, cx1, sx3, sx12, sx30 = _sines(x)
    sy1, _cy1, sy3, sy12, sy30 = _sines(y)
    s2x = 2.0 * sx1 * cx1  # sin(2 pi x)
    s6x = s2x * (3.0 - 4.0 * s2x * s2x)  # sin(6 pi x)
    common = (20.0 * s6x + 20.0 * s2x) * (2.0 / 3.0)

    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlat += common
    dlat += (20.0 * sy1 + 40.0 * sy3) * (2.0 / 3.0)
    dlat += (160.0 * sy12 + 320.0 * sy30) * (2.0 / 3.0)

    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    dlon += common
    dlon += (20.0 * sx1 + 40.0 * sx3) * (2.0 / 3.0)
    dlon += (150.0 * sx12 + 300.0 * sx30) * (2.0 / 3.0)

    radlat = lat * (np.pi / 180.0)
    sinlat = np.sin(radlat)
    coslat = np.cos(radlat)
    magic = 1.0 - _EE * sinlat * sinlat
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * coslat * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS84 lon/lat to GCJ-02 (火星坐标).

    The standard published algorithm (Krasovsky ellipsoid constants).
    Points outside China (:func:`out_of_china`) are returned unchanged.

    Parameters
    ----------
    lon, lat : array_like
        WGS84 longitude and latitude in degrees (broadcast together).

    Returns
    -------
    lon, lat : numpy.ndarray
        GCJ-02 longitude and latitude, float64, in the broadcast shape
        (0-d arrays for scalar input).
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    inside = _in_box(lon_a, lat_a)
    if inside.all():
        dlon, dlat = _gcj_offset(lon_a, lat_a)
        return lon_a + dlon, lat_a + dlat
    out_lon = lon_a.copy()
    out_lat = lat_a.copy()
    if inside.any():
        dlon, dlat = _gcj_offset(lon_a[inside], lat_a[inside])
        out_lon[inside] += dlon
        out_lat[inside] += dlat
    return out_lon, out_lat


def _invert(
    forward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    lon: np.ndarray,
    lat: np.ndarray,
    guess: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(p) == (lon, lat)`` for 1-d arrays by fixed-point iteration.

    ``p <- p + (target - forward(p))`` converges because ``forward`` is the
    identity plus a slowly varying offset (contraction factor ~1e-3). A point
    stops once its change is below 1e-9 degree; at most 30 iterations.
    NaN drops out at once.
    """
    p_lon = np.array(guess[0], dtype=np.float64)
    p_lat = np.array(guess[1], dtype=np.float64)
    active: np.ndarray | None = None  # None: every point is still active
    for _ in range(_MAX_ITER):
        if active is None:
            f_lon, f_lat = forward(p_lon, p_lat)
            d_lon = lon - f_lon
            d_lat = lat - f_lat
            p_lon += d_lon
            p_lat += d_lat
            moving = np.maximum(np.abs(d_lon), np.abs(d_lat)) >= _TOL_DEG
            if moving.all():
                continue
            active = np.flatnonzero(moving)
        else:
            f_lon, f_lat = forward(p_lon[active], p_lat[active])
            d_lon = lon[active] - f_lon
            d_lat = lat[active] - f_lat
            p_lon[active] += d_lon
            p_lat[active] += d_lat
            active = active[np.maximum(np.abs(d_lon), np.abs(d_lat)) >= _TOL_DEG]
        if active.size == 0:
            break
    return p_lon, p_lat


def _gcj_forward_unmasked(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 lon/lat to WGS84, exactly.

    Inverts :func:`wgs84_to_gcj02` by fixed-point iteration until the largest
    change is below 1e-9 degree (at most 30 iterations; 3-4 are typical), so
    the round trip WGS84 -> GCJ-02 -> WGS84 is exact to well under 1 mm.
    A point whose WGS84 position would fall outside China (:func:`out_of_china`)
    is returned unchanged, like the forward conversion.

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 longitude and latitude in degrees (broadcast together).

    Returns
    -------
    lon, lat : numpy.ndarray
        WGS84 longitude and latitude, float64, in the broadcast shape.
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    out_lon = lon_a.copy()
    out_lat = lat_a.copy()
    cand = _in_box(lon_a, lat_a, _MARGIN)
    if not cand.any():
        return out_lon, out_lat
    g_lon = lon_a[cand]
    g_lat = lat_a[cand]
    dlon, dlat = _gcj_offset(g_lon, g_lat)
    w_lon, w_lat = _invert(_gcj_forward_unmasked, g_lon, g_lat, (g_lon - dlon, g_lat - dlat))
    # Only points whose true position is in China were obfuscated.
    ok = _in_box(w_lon, w_lat)
    idx = np.flatnonzero(cand)[ok]
    out_lon.flat[idx] = w_lon[ok]
    out_lat.flat[idx] = w_lat[ok]
    return out_lon, out_lat


def gcj02_to_bd09(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 lon/lat to BD-09 (Baidu lon/lat).

    The standard published formula with ``x_pi = pi * 3000 / 180``, applied
    to every point (no China bounding-box test, as in coordtransform).

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 longitude and latitude in degrees.

    Returns
    -------
    lon, lat : numpy.ndarray
        BD-09 longitude and latitude, float64.
    """
    x, y = _as_arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd09_to_gcj02_approx(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 0.0065
    y = lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def bd09_to_gcj02(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Convert BD-09 (Baidu lon/lat) to GCJ-02.

    Starts from the usual published approximate inverse (error up to a few
    metres) and refines it by fixed-point iteration on :func:`gcj02_to_bd09`
    until the largest change is below 1e-9 degree.

    Parameters
    ----------
    lon, lat : array_like
        BD-09 longitude and latitude in degrees.

    Returns
    -------
    lon, lat : numpy.ndarray
        GCJ-02 longitude and latitude, float64.
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    ok = np.isfinite(lon_a) & np.isfinite(lat_a)
    out_lon = np.full(lon_a.shape, np.nan)
    out_lat = np.full(lat_a.shape, np.nan)
    if ok.any():
        b_lon = lon_a[ok]
        b_lat = lat_a[ok]
        g_lon, g_lat = _invert(gcj02_to_bd09, b_lon, b_lat, _bd09_to_gcj02_approx(b_lon, b_lat))
        out_lon[ok] = g_lon
        out_lat[ok] = g_lat
    return out_lon, out_lat


def wgs84_to_bd09(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS84 lon/lat to BD-09 (via GCJ-02).

    Parameters
    ----------
    lon, lat : array_like
        WGS84 longitude and latitude in degrees.

    Returns
    -------
    lon, lat : numpy.ndarray
        BD-09 longitude and latitude, float64.
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Convert BD-09 (Baidu lon/lat) to WGS84 (via GCJ-02).

    Parameters
    ----------
    lon, lat : array_like
        BD-09 longitude and latitude in degrees.

    Returns
    -------
    lon, lat : numpy.ndarray
        WGS84 longitude and latitude, float64.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
