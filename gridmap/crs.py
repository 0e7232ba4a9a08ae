"""CRS discipline in one place.

Everything gridmap does with coordinate reference systems goes through this
module: parsing what the user or a file says the CRS is, converting the Chinese
pseudo-CRSs GCJ-02 and BD-09 that PROJ does not know, and choosing the metric
CRS in which every length and area is computed.

Coordinate systems
------------------
WGS84 and CGCS2000
    WGS 84 (EPSG:4326) and CGCS2000 (EPSG:4490) differ by a few centimetres
    today (well under 1 m at city scale). gridmap treats them as identical:
    PROJ's transformation between them is a null shift, and nothing here
    applies a datum shift between them.
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

GCJ-02 and BD-09 coordinates are lon/lat in degrees. They are converted to
WGS84 lon/lat (:func:`to_geographic`) and from there reprojected with PROJ like
any other data; in the other direction (:func:`from_geographic`) data is first
reprojected to WGS84 lon/lat and then obfuscated. A GeoSeries holding GCJ-02
or BD-09 coordinates is labelled EPSG:4326, its nominal lon/lat CRS, since
PROJ has no better label for it.

Lengths and areas
-----------------
Lengths and areas are only ever computed in a projected CRS whose unit is the
metre (:func:`require_metric`). :func:`metric_crs` keeps the data's CRS when it
already is one (including custom local systems such as Suzhou's "2000SZ"
given as WKT), and otherwise picks the CGCS2000 3-degree Gauss-Krüger zone
(EPSG:4534-4554, "CM" variants without zone prefix, false easting 500 000 m)
whose central meridian is nearest the centre of the data.

Metres on the map are not always metres on the ground: Web Mercator
(EPSG:3857) inflates areas by 1/cos²(latitude), ×1.37 at Suzhou; an equal-area
conic keeps areas but stretches distances by several per cent; a Gauss-Krüger
zone 9° away is 1.5 % off. :func:`scale_error` measures the largest of the
areal and the two linear scale errors with PROJ (``Proj.get_factors``) at the
centre of the data, and a CRS whose error exceeds :data:`MAX_SCALE_ERROR`
(0.5 %: 5 m on a 1 km service radius, 15 户 on a 3000-户 density) is not used
for measuring: :func:`metric_crs` falls back to the Gauss-Krüger zone (a zone's
own error is below 0.06 % within 1.5° of its meridian; the custom "2000SZ" is
1.6e-6 at Suzhou and is kept).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from pyproj.exceptions import CRSError

from gridmap._errors import GeographicCRSError

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
    "parse_crs",
    "to_geographic",
    "from_geographic",
    "gk_zone_crs",
    "is_metric",
    "metric_crs",
    "scale_error",
    "scale_factors",
    "MAX_SCALE_ERROR",
    "require_metric",
    "to_metric",
    "area_m2",
    "length_m",
    "crs_label",
]

GCJ02 = "gcj02"
"""Name of the GCJ-02 pseudo-CRS (火星坐标; AMap, Tencent)."""

BD09 = "bd09"
"""Name of the BD-09 pseudo-CRS (百度坐标; Baidu lon/lat)."""

_PSEUDO = (GCJ02, BD09)

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

# CGCS2000 3-degree Gauss-Krüger, "CM" variants: EPSG:4534 (75E) ... 4554 (135E).
_GK_FIRST_EPSG = 4534
_GK_CM_RANGE = (75, 135)

_ACCEPTED_FORMS = (
    'accepted forms / 可用写法: "gcj02" (also "GCJ-02", "火星坐标", "高德"), '
    '"bd09" (also "BD-09", "百度"), "EPSG:4490", "4490", "WGS84", "CGCS2000", '
    "a WKT string, a path to a .prj/.wkt file, or a pyproj.CRS"
)

G = TypeVar("G", gpd.GeoSeries, gpd.GeoDataFrame)


# ---------------------------------------------------------------------------
# GCJ-02 / BD-09 arithmetic (vectorised)
# ---------------------------------------------------------------------------


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


_TO_WGS84 = {GCJ02: gcj02_to_wgs84, BD09: bd09_to_wgs84}
_FROM_WGS84 = {GCJ02: wgs84_to_gcj02, BD09: wgs84_to_bd09}


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------

_ALIASES = {
    GCJ02: {
        "gcj02",
        "gcj",
        "gcj2",
        "火星",
        "火星坐标",
        "火星坐标系",
        "国测局",
        "国测局坐标",
        "国测局坐标系",
        "高德",
        "高德坐标",
        "腾讯",
        "腾讯坐标",
        "amap",
        "gaode",
    },
    BD09: {"bd09", "bd09ll", "bd", "百度", "百度坐标", "百度坐标系", "百度经纬度", "baidu"},
}
_NAMED = {"wgs84": "EPSG:4326", "cgcs2000": "EPSG:4490", "cgcs": "EPSG:4490"}


def _norm(text: str) -> str:
    return "".join(ch for ch in text.strip().lower() if ch not in " -_")


def _read_crs_file(path: Path) -> str:
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "gbk"):
        try:
            return raw.decode(enc).strip()
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1").strip()


def parse_crs(value: Any) -> pyproj.CRS | str:
    """Turn a user- or file-supplied CRS into a :class:`pyproj.CRS` or a pseudo-CRS name.

    Parameters
    ----------
    value : str, int, os.PathLike or pyproj.CRS
        One of: ``"gcj02"`` / ``"GCJ-02"`` / ``"火星坐标"`` / ``"高德"``
        (-> :data:`GCJ02`); ``"bd09"`` / ``"BD-09"`` / ``"百度"`` (-> :data:`BD09`);
        ``"EPSG:4490"``, ``"4490"`` or ``4490``; ``"WGS84"``, ``"CGCS2000"``;
        a WKT string (or anything else :meth:`pyproj.CRS.from_user_input` takes);
        a path to a ``.prj`` / ``.wkt`` file; a :class:`pyproj.CRS`.

    Returns
    -------
    pyproj.CRS or str
        The CRS, or :data:`GCJ02` / :data:`BD09`.

    Raises
    ------
    ValueError
        If the value is none of the above; the message lists the accepted forms.
    """
    if isinstance(value, pyproj.CRS):
        return value
    if value is None or isinstance(value, bool):
        raise ValueError(f"CRS 为空或无效 / no CRS given: {value!r}; {_ACCEPTED_FORMS}")
    if isinstance(value, (int, np.integer)):
        return _crs_from(int(value), value)
    if isinstance(value, os.PathLike):
        path = Path(value)
        if not path.is_file():
            raise ValueError(f"CRS 文件不存在 / CRS file not found: {path}; {_ACCEPTED_FORMS}")
        return _crs_from(_read_crs_file(path), value)
    if not isinstance(value, str):
        return _crs_from(value, value)

    text = value.strip()
    key = _norm(text)
    if not key:
        raise ValueError(f"CRS 为空 / empty CRS string; {_ACCEPTED_FORMS}")
    for name, aliases in _ALIASES.items():
        if key in aliases:
            return name
    if key in ("bd09mc", "bdmc", "百度墨卡托"):
        raise ValueError(
            f"不支持 BD-09MC（百度墨卡托）/ BD-09MC (Baidu Mercator) is not supported: {value!r}; "
            "convert to BD-09 lon/lat first. " + _ACCEPTED_FORMS
        )
    if key in _NAMED:
        return pyproj.CRS.from_user_input(_NAMED[key])
    if key.isdigit():
        return _crs_from(int(key), value)
    # A path to a .prj / .wkt file (WKT itself never ends in these suffixes).
    if len(text) < 4096 and "[" not in text:
        path = Path(text).expanduser()
        if path.suffix.lower() in (".prj", ".wkt") or path.is_file():
            if not path.is_file():
                raise ValueError(f"CRS 文件不存在 / CRS file not found: {text}; {_ACCEPTED_FORMS}")
            return _crs_from(_read_crs_file(path), value)
    return _crs_from(text, value)


def _crs_from(spec: Any, original: Any) -> pyproj.CRS:
    try:
        return pyproj.CRS.from_user_input(spec)
    except (CRSError, TypeError, ValueError) as exc:
        shown = repr(original)
        if len(shown) > 200:
            shown = shown[:200] + "..."
        raise ValueError(
            f"无法识别的坐标系 / unrecognised CRS {shown}: {exc}. {_ACCEPTED_FORMS}"
        ) from None


# ---------------------------------------------------------------------------
# Geometry conversion
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Metric CRS
# ---------------------------------------------------------------------------


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
            "outside the CGCS2000 3-degree Gauss-Krüger zones (CM 75E-135E); pass an explicit "
            "metric CRS with --crs (e.g. --crs EPSG:32650)"
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
    """PROJ's scale factors of ``crs`` at the centre of ``data`` (see :func:`scale_error`), or None."""
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
    >>> metric_crs(("EPSG:3857", (13435000, 3670000, 13465000, 3690000))).to_epsg()  # Suzhou in Web Mercator
    4549
    """
    if crs is not None:
        chosen = parse_crs(crs)
        if not is_metric(chosen):
            raise GeographicCRSError(
                f"指定的坐标系不是米制投影坐标系 / the CRS given is not a projected CRS in metres: "
                f"{crs_label(chosen)}; 请使用如 / use e.g. --crs EPSG:4549 (CGCS2000 GK CM 120E)"
            )
        err = scale_error(chosen, data) if data is not None and _has_bounds(data) else float("nan")
        if err > MAX_SCALE_ERROR:
            raise GeographicCRSError(
                f"指定的米制坐标系 {crs_label(chosen)} 在数据所在位置比例失真 {err:.1%}（上限 {MAX_SCALE_ERROR:.1%}）"
                f"，长度和面积会算错 / the metric CRS given is {err:.1%} off true scale where the data is; "
                f"use e.g. {_suggest_gk(data)} (CGCS2000 Gauss-Krüger zone of the data)"
            )
        return chosen
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
            "set it first (GeoDataFrame.set_crs) or pass --crs EPSG:45xx"
        )
    if isinstance(data_crs, str):
        raise GeographicCRSError(
            f"数据为 {data_crs} 伪坐标，请先用 to_geographic 转换 / the data is in {data_crs}; "
            "convert with gridmap.crs.to_geographic first"
        )
    if is_metric(data_crs) and not scale_error(data_crs, (data_crs, bounds)) > MAX_SCALE_ERROR:
        return data_crs
    return gk_zone_crs(_lonlat_centre(data_crs, bounds))


def _has_bounds(data: Any) -> bool:
    if isinstance(data, (gpd.GeoSeries, gpd.GeoDataFrame)):
        return data.crs is not None and len(data) > 0 and bool(np.isfinite(data.total_bounds).all())
    return isinstance(data, tuple) and len(data) == 2 and data[0] is not None


def _suggest_gk(data: Any) -> str:
    try:
        crs, bounds = (data.crs, data.total_bounds) if isinstance(data, (gpd.GeoSeries, gpd.GeoDataFrame)) else data
        return f"--metric-crs EPSG:{gk_zone_crs(_lonlat_centre(parse_crs(crs), bounds)).to_epsg()}"
    except Exception:  # only a hint in an error message
        return "--metric-crs EPSG:45xx"


def _suggest(gdf: Any) -> str:
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
        f"请先用 gridmap.crs.to_metric(gdf) 投影，或在命令行指定 --crs {hint}。 / "
        f"Cannot measure {what} in {label}: a projected CRS in metres is needed. "
        f"Reproject with gridmap.crs.to_metric(gdf) or pass --crs {hint}."
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


def crs_label(crs: Any) -> str:
    """Short human-readable label for a CRS (cached: the authority lookup is slow).

    Parameters
    ----------
    crs : pyproj.CRS, pseudo-CRS name, anything :func:`parse_crs` accepts, or None

    Returns
    -------
    str
        ``"EPSG:4549 CGCS2000 / 3-degree Gauss-Kruger CM 120E"`` for a CRS
        with an authority code, ``"2000SZ (custom WKT)"`` for one without,
        ``"GCJ-02 (pseudo-CRS, lon/lat)"`` for a pseudo-CRS, ``"no CRS (未设置坐标系)"``
        for ``None``.
    """
    if crs is None:
        return "no CRS (未设置坐标系)"
    key = crs.to_wkt() if isinstance(crs, pyproj.CRS) else crs
    try:
        return _crs_label(key)
    except TypeError:  # unhashable input
        return _crs_label.__wrapped__(key)


@functools.lru_cache(maxsize=64)
def _crs_label(crs: Any) -> str:
    try:
        parsed = parse_crs(crs)
    except ValueError:
        return repr(crs)
    if parsed == GCJ02:
        return "GCJ-02 (pseudo-CRS, lon/lat)"
    if parsed == BD09:
        return "BD-09 (pseudo-CRS, lon/lat)"
    assert isinstance(parsed, pyproj.CRS)
    name = parsed.name or ""
    auth = parsed.to_authority(min_confidence=100)
    if auth is not None:
        return f"{auth[0]}:{auth[1]} {name}".strip()
    if name.lower() not in ("", "unknown", "unnamed"):
        return f"{name} (custom WKT)"
    kind = (
        "projected" if parsed.is_projected else "geographic" if parsed.is_geographic else "custom"
    )
    op = parsed.coordinate_operation
    method = f", {op.method_name}" if op is not None and op.method_name else ""
    return f"unnamed {kind} CRS{method} (custom definition)"
