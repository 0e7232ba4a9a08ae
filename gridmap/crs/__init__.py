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
GCJ-02 (``"gcj02"``, 火星坐标) and BD-09 (``"bd09"``, 百度坐标)
    The web-map obfuscations of WGS84 lon/lat (AMap, Tencent; Baidu), 100-700 m
    apart from it: described and computed in :mod:`gridmap.crs.webmap`.

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

The package, by idea: :mod:`~gridmap.crs.webmap` (the GCJ-02/BD-09 point
arithmetic), :mod:`~gridmap.crs.parse` (:func:`parse_crs`, :func:`crs_label`),
:mod:`~gridmap.crs.convert` (geometries to and from GCJ-02/BD-09),
:mod:`~gridmap.crs.metric` (the metric CRS and its scale error) and
:mod:`~gridmap.crs.measure` (lengths and areas, refused on degrees).
"""

from gridmap.crs.convert import from_geographic, to_geographic
from gridmap.crs.measure import area_m2, length_m, require_metric, to_metric
from gridmap.crs.metric import (
    MAX_SCALE_ERROR,
    gk_zone_crs,
    is_metric,
    metric_crs,
    scale_error,
    scale_factors,
)
from gridmap.crs.parse import crs_label, parse_crs
from gridmap.crs.webmap import (
    BD09,
    GCJ02,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

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
