"""Tests for gridmap.crs: GCJ-02 / BD-09 conversion, CRS parsing, metric CRS choice."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import (
    GeometryCollection,
    LineString,
    MultiPolygon,
    Point,
    Polygon,
    box,
)

from gridmap import GeographicCRSError
from gridmap import crs as gcrs

GEOD = pyproj.Geod(ellps="WGS84")


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance in metres (WGS84 ellipsoid)."""
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


# ---------------------------------------------------------------------------
# Independent scalar reference: the standard published algorithm, written
# literally with `math` as in coordtransform (wandergis) / eviltransform.
# ---------------------------------------------------------------------------

REF_A = 6378245.0
REF_EE = 0.00669342162296594323
REF_X_PI = math.pi * 3000.0 / 180.0


def _ref_transformlat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _ref_transformlng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _ref_out_of_china(lng: float, lat: float) -> bool:
    return lng < 72.004 or lng > 137.8347 or lat < 0.8293 or lat > 55.8271


def ref_wgs84_to_gcj02(lng: float, lat: float) -> tuple[float, float]:
    if _ref_out_of_china(lng, lat):
        return lng, lat
    dlat = _ref_transformlat(lng - 105.0, lat - 35.0)
    dlng = _ref_transformlng(lng - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = math.sin(radlat)
    magic = 1 - REF_EE * magic * magic
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((REF_A * (1 - REF_EE)) / (magic * sqrtmagic) * math.pi)
    dlng = (dlng * 180.0) / (REF_A / sqrtmagic * math.cos(radlat) * math.pi)
    return lng + dlng, lat + dlat


def ref_gcj02_to_bd09(lng: float, lat: float) -> tuple[float, float]:
    z = math.sqrt(lng * lng + lat * lat) + 0.00002 * math.sin(lat * REF_X_PI)
    theta = math.atan2(lat, lng) + 0.000003 * math.cos(lng * REF_X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def ref_bd09_to_gcj02_approx(lng: float, lat: float) -> tuple[float, float]:
    x = lng - 0.0065
    y = lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * REF_X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * REF_X_PI)
    return z * math.cos(theta), z * math.sin(theta)


# (name, WGS84 lon, WGS84 lat)
CITIES = [
    ("Beijing Tiananmen", 116.391265, 39.907339),
    ("Shanghai People's Square", 121.4737, 31.2304),
    ("Suzhou", 120.62, 31.32),
    ("Chengdu", 104.0665, 30.5723),
    ("Guangzhou", 113.2644, 23.1291),
    ("Urumqi", 87.6168, 43.8256),
    ("Harbin", 126.5349, 45.8038),
    ("Haikou", 110.3312, 20.0311),
]

# Published test vectors from eviltransform's test suite (wgsLat, wgsLng,
# gcjLat, gcjLng); they were produced by the same standard algorithm.
EVILTRANSFORM_VECTORS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]

OUTSIDE = [
    (-0.1276, 51.5072),  # London
    (-74.006, 40.7128),  # New York
    (151.2093, -33.8688),  # Sydney
    (0.0, 0.0),
    (139.6917, 35.6895),  # Tokyo (east of 137.8347)
    (100.5018, 0.5),  # south of 0.8293
]

china_lon = st.floats(min_value=73.0, max_value=135.0, allow_nan=False)
china_lat = st.floats(min_value=18.0, max_value=53.0, allow_nan=False)


# ---------------------------------------------------------------------------
# Point conversions
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("wlat", "wlng", "glat", "glng"), EVILTRANSFORM_VECTORS)
def test_wgs84_to_gcj02_published_vectors(wlat, wlng, glat, glng):
    lon, lat = gcrs.wgs84_to_gcj02(wlng, wlat)
    assert float(lon) == pytest.approx(glng, abs=1e-11)
    assert float(lat) == pytest.approx(glat, abs=1e-11)


@pytest.mark.parametrize(("name", "lon", "lat"), CITIES)
def test_wgs84_to_gcj02_matches_reference_and_offset_range(name, lon, lat):
    glon, glat = gcrs.wgs84_to_gcj02(lon, lat)
    rlon, rlat = ref_wgs84_to_gcj02(lon, lat)
    assert float(glon) == pytest.approx(rlon, abs=1e-12)
    assert float(glat) == pytest.approx(rlat, abs=1e-12)
    offset = float(metres(lon, lat, glon, glat))
    assert 100.0 < offset < 700.0, f"{name}: GCJ-02 offset {offset:.1f} m"


def test_tiananmen_value():
    # Standard algorithm: WGS84 (116.391265, 39.907339) -> GCJ-02 (116.397506, 39.908740)
    glon, glat = gcrs.wgs84_to_gcj02(116.391265, 39.907339)
    assert float(glon) == pytest.approx(116.3975061, abs=1e-7)
    assert float(glat) == pytest.approx(39.9087403, abs=1e-7)


@pytest.mark.parametrize(("name", "lon", "lat"), CITIES)
def test_bd09_matches_reference(name, lon, lat):
    glon, glat = ref_wgs84_to_gcj02(lon, lat)
    blon, blat = gcrs.gcj02_to_bd09(glon, glat)
    rlon, rlat = ref_gcj02_to_bd09(glon, glat)
    assert float(blon) == pytest.approx(rlon, abs=1e-12)
    assert float(blat) == pytest.approx(rlat, abs=1e-12)
    w2b = gcrs.wgs84_to_bd09(lon, lat)
    assert float(w2b[0]) == pytest.approx(rlon, abs=1e-12)
    assert float(w2b[1]) == pytest.approx(rlat, abs=1e-12)
    # BD-09 sits roughly 0.0065/0.006 degrees from GCJ-02: several hundred metres.
    assert 500.0 < float(metres(glon, glat, blon, blat)) < 1200.0
    # The refined inverse is better than the published approximate inverse.
    alon, alat = ref_bd09_to_gcj02_approx(rlon, rlat)
    ilon, ilat = gcrs.bd09_to_gcj02(rlon, rlat)
    assert float(metres(glon, glat, ilon, ilat)) <= float(metres(glon, glat, alon, alat)) + 1e-6
    assert float(metres(glon, glat, ilon, ilat)) < 1e-3


@settings(max_examples=300, deadline=None)
@given(lon=china_lon, lat=china_lat)
def test_gcj02_round_trip_hypothesis(lon, lat):
    glon, glat = gcrs.wgs84_to_gcj02(lon, lat)
    wlon, wlat = gcrs.gcj02_to_wgs84(glon, glat)
    assert float(metres(lon, lat, wlon, wlat)) < 1e-3  # 1 mm (requirement: 0.5 m)
    # and the forward matches the scalar reference
    rlon, rlat = ref_wgs84_to_gcj02(lon, lat)
    assert abs(float(glon) - rlon) < 1e-12 and abs(float(glat) - rlat) < 1e-12


@settings(max_examples=300, deadline=None)
@given(lon=china_lon, lat=china_lat)
def test_bd09_round_trip_hypothesis(lon, lat):
    blon, blat = gcrs.gcj02_to_bd09(lon, lat)
    glon, glat = gcrs.bd09_to_gcj02(blon, blat)
    assert float(metres(lon, lat, glon, glat)) < 1e-3
    blon, blat = gcrs.wgs84_to_bd09(lon, lat)
    wlon, wlat = gcrs.bd09_to_wgs84(blon, blat)
    assert float(metres(lon, lat, wlon, wlat)) < 1e-3


def test_gcj02_to_wgs84_inverts_gcj_input():
    # Starting from GCJ-02 coordinates: forward(inverse(g)) == g.
    rng = np.random.default_rng(42)
    glon = rng.uniform(73, 135, 20_000)
    glat = rng.uniform(18, 53, 20_000)
    wlon, wlat = gcrs.gcj02_to_wgs84(glon, glat)
    flon, flat = gcrs.wgs84_to_gcj02(wlon, wlat)
    assert metres(glon, glat, flon, flat).max() < 1e-3


def test_vectorised_round_trip_large_array():
    rng = np.random.default_rng(0)
    lon = rng.uniform(73, 135, 200_000)
    lat = rng.uniform(18, 53, 200_000)
    glon, glat = gcrs.wgs84_to_gcj02(lon, lat)
    d = metres(lon, lat, glon, glat)
    assert d.min() > 0 and d.max() < 1000
    wlon, wlat = gcrs.gcj02_to_wgs84(glon, glat)
    assert metres(lon, lat, wlon, wlat).max() < 1e-3
    blon, blat = gcrs.wgs84_to_bd09(lon, lat)
    wlon, wlat = gcrs.bd09_to_wgs84(blon, blat)
    assert metres(lon, lat, wlon, wlat).max() < 1e-3


def test_vectorised_equals_scalar_reference():
    rng = np.random.default_rng(7)
    lon = rng.uniform(60, 150, 500)  # includes points outside China
    lat = rng.uniform(-10, 65, 500)
    glon, glat = gcrs.wgs84_to_gcj02(lon, lat)
    ref = np.array([ref_wgs84_to_gcj02(a, b) for a, b in zip(lon, lat, strict=True)])
    np.testing.assert_allclose(glon, ref[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(glat, ref[:, 1], rtol=0, atol=1e-12)


@pytest.mark.parametrize(("lon", "lat"), OUTSIDE)
def test_points_outside_china_unchanged(lon, lat):
    assert bool(gcrs.out_of_china(lon, lat))
    for func in (gcrs.wgs84_to_gcj02, gcrs.gcj02_to_wgs84):
        olon, olat = func(lon, lat)
        assert float(olon) == lon and float(olat) == lat


def test_out_of_china_box():
    lon = np.array([72.0, 72.005, 137.83, 137.84, 120.0, 120.0, 120.0, np.nan])
    lat = np.array([30.0, 30.0, 30.0, 30.0, 0.82, 55.82, 55.83, 30.0])
    expected = [True, False, False, True, True, False, True, True]
    assert gcrs.out_of_china(lon, lat).tolist() == expected


def test_shapes_nan_and_no_mutation():
    lon = np.array([[116.39, 0.0], [np.nan, 120.62]])
    lat = np.array([[39.9, 51.5], [31.0, 31.32]])
    lon0, lat0 = lon.copy(), lat.copy()
    for func in (
        gcrs.wgs84_to_gcj02,
        gcrs.gcj02_to_wgs84,
        gcrs.gcj02_to_bd09,
        gcrs.bd09_to_gcj02,
        gcrs.wgs84_to_bd09,
        gcrs.bd09_to_wgs84,
    ):
        olon, olat = func(lon, lat)
        assert olon.shape == (2, 2) and olat.shape == (2, 2)
        assert olon.dtype == np.float64
        assert np.isnan(olon[1, 0])
        assert np.isfinite(olon[0, 0]) and np.isfinite(olon[1, 1])
        np.testing.assert_array_equal(lon, lon0)
        np.testing.assert_array_equal(lat, lat0)
    # scalars and lists
    olon, olat = gcrs.wgs84_to_gcj02(120.62, 31.32)
    assert np.ndim(olon) == 0
    olon, olat = gcrs.gcj02_to_wgs84([120.62, 0.0], [31.32, 0.0])
    assert olon.shape == (2,) and olon[1] == 0.0
    olon, olat = gcrs.gcj02_to_wgs84(np.array([]), np.array([]))
    assert olon.shape == (0,)


# ---------------------------------------------------------------------------
# parse_crs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["gcj02", "GCJ02", "GCJ-02", "gcj-02", "gcj_02", " 火星坐标 ", "火星坐标系", "高德"]
)
def test_parse_crs_gcj02(value):
    assert gcrs.parse_crs(value) == gcrs.GCJ02


@pytest.mark.parametrize("value", ["bd09", "BD-09", "BD09", "bd-09", "百度", "百度坐标", "baidu"])
def test_parse_crs_bd09(value):
    assert gcrs.parse_crs(value) == gcrs.BD09


@pytest.mark.parametrize(
    "value", ["EPSG:4490", "epsg:4490", "4490", 4490, np.int64(4490), "CGCS2000"]
)
def test_parse_crs_epsg(value):
    crs = gcrs.parse_crs(value)
    assert isinstance(crs, pyproj.CRS)
    assert crs.to_epsg() == 4490


def test_parse_crs_wkt_path_and_object(tmp_path):
    crs = pyproj.CRS.from_epsg(4549)
    assert gcrs.parse_crs(crs) is crs
    wkt = crs.to_wkt()
    assert gcrs.parse_crs(wkt) == crs
    prj = tmp_path / "zone.prj"
    prj.write_text(crs.to_wkt(pyproj.enums.WktVersion.WKT1_ESRI), encoding="utf-8")
    from_file = gcrs.parse_crs(str(prj))
    assert from_file.is_projected and gcrs.is_metric(from_file)
    assert gcrs.parse_crs(prj) == from_file
    wktfile = tmp_path / "zone.wkt"
    wktfile.write_text(wkt, encoding="utf-8")
    assert gcrs.parse_crs(str(wktfile)) == crs
    assert gcrs.parse_crs("WGS84").to_epsg() == 4326


@pytest.mark.parametrize("value", ["not a crs", "EPSG:999999", "", None, True, 3.5, "bd09mc"])
def test_parse_crs_bad_values(value):
    with pytest.raises(ValueError, match="accepted forms"):
        gcrs.parse_crs(value)


def test_parse_crs_missing_file(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        gcrs.parse_crs(str(tmp_path / "missing.prj"))


# ---------------------------------------------------------------------------
# Gauss-Krüger zones, is_metric, labels
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lon", "epsg"),
    [
        (120.6, 4549),
        (120.62, 4549),
        (104.06, 4544),
        (75.0, 4534),
        (73.6, 4534),
        (135.0, 4554),
        (116.39, 4548),
        (113.26, 4547),
    ],
)
def test_gk_zone_crs(lon, epsg):
    crs = gcrs.gk_zone_crs(lon)
    assert crs.to_epsg() == epsg
    params = {p.name: p.value for p in crs.coordinate_operation.params}
    assert params["Longitude of natural origin"] == 3 * round(lon / 3)
    assert params["False easting"] == 500000.0
    assert "CGCS2000" in crs.name


@pytest.mark.parametrize("lon", [73.4, 136.6, 0.0, -120.0, float("nan")])
def test_gk_zone_crs_out_of_range(lon):
    with pytest.raises(ValueError, match="metric CRS explicitly"):
        gcrs.gk_zone_crs(lon)


SZ_LIKE_WKT = (
    'PROJCRS["2000SZ",BASEGEOGCRS["China Geodetic Coordinate System 2000",'
    'DATUM["China 2000",ELLIPSOID["CGCS2000",6378137,298.257222101,LENGTHUNIT["metre",1]]],'
    'PRIMEM["Greenwich",0,ANGLEUNIT["Degree",0.0174532925199433]]],'
    'CONVERSION["unnamed",METHOD["Transverse Mercator",ID["EPSG",9807]],'
    'PARAMETER["Latitude of natural origin",0,ANGLEUNIT["Degree",0.0174532925199433]],'
    'PARAMETER["Longitude of natural origin",120.783333333333,ANGLEUNIT["Degree",0.0174532925199433]],'
    'PARAMETER["Scale factor at natural origin",1,SCALEUNIT["unity",1]],'
    'PARAMETER["False easting",350000,LENGTHUNIT["metre",1]],'
    'PARAMETER["False northing",-2800000,LENGTHUNIT["metre",1]]],'
    'CS[Cartesian,2],AXIS["easting",east,ORDER[1],LENGTHUNIT["metre",1]],'
    'AXIS["northing",north,ORDER[2],LENGTHUNIT["metre",1]]]'
)


@pytest.mark.parametrize(
    ("crs", "expected"),
    [
        (4549, True),
        ("EPSG:3857", True),
        (SZ_LIKE_WKT, True),
        (4326, False),
        (4490, False),
        ("EPSG:2264", False),  # NAD83 / North Carolina (ftUS)
        (None, False),
        ("gcj02", False),
    ],
)
def test_is_metric(crs, expected):
    assert gcrs.is_metric(crs) is expected


def test_crs_label():
    assert gcrs.crs_label(4549) == "EPSG:4549 CGCS2000 / 3-degree Gauss-Kruger CM 120E"
    assert gcrs.crs_label(pyproj.CRS.from_wkt(SZ_LIKE_WKT)) == "2000SZ (custom WKT)"
    assert gcrs.crs_label("EPSG:4326") == "EPSG:4326 WGS 84"
    assert "GCJ-02" in gcrs.crs_label("gcj02")
    assert "BD-09" in gcrs.crs_label(gcrs.BD09)
    assert "no CRS" in gcrs.crs_label(None)
    proj = "+proj=tmerc +lon_0=120.7833333 +x_0=350000 +y_0=-2800000 +ellps=GRS80 +units=m"
    assert gcrs.crs_label(proj) == "unnamed projected CRS, Transverse Mercator (custom definition)"


# ---------------------------------------------------------------------------
# metric_crs / require_metric / to_metric / area / length
# ---------------------------------------------------------------------------


def _suzhou_square(crs="EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["a", "b"]},
        geometry=[box(120.60, 31.30, 120.61, 31.31), box(120.62, 31.32, 120.63, 31.33)],
        crs=crs,
        index=[10, 20],
    )


def test_metric_crs_choice():
    gdf = _suzhou_square()
    assert gcrs.metric_crs(gdf).to_epsg() == 4549
    assert gcrs.metric_crs(gdf.geometry).to_epsg() == 4549
    chengdu = gpd.GeoSeries([Point(104.06, 30.67)], crs=4490)
    assert gcrs.metric_crs(chengdu).to_epsg() == 4544
    # projected in metres: kept, same object
    projected = gdf.to_crs(4549)
    assert gcrs.metric_crs(projected) is projected.crs
    # Web Mercator has metre axes but areas x1.37 at Suzhou: replaced by the GK zone
    assert gcrs.metric_crs(gdf.to_crs(3857)).to_epsg() == 4549
    # explicit choice
    assert gcrs.metric_crs(gdf, crs="EPSG:4550").to_epsg() == 4550
    custom = gcrs.metric_crs(gdf, crs=SZ_LIKE_WKT)
    assert custom.name == "2000SZ"
    # (crs, bounds) pair
    assert gcrs.metric_crs(("EPSG:4326", (120.6, 31.3, 120.7, 31.4))).to_epsg() == 4549


def test_metric_crs_errors():
    gdf = _suzhou_square()
    with pytest.raises(GeographicCRSError, match="EPSG:4326"):
        gcrs.metric_crs(gdf, crs="EPSG:4326")
    with pytest.raises(GeographicCRSError, match="no CRS"):
        gcrs.metric_crs(gdf.set_crs(None, allow_override=True))
    with pytest.raises(ValueError, match="EPSG:32650"):
        gcrs.metric_crs(gpd.GeoSeries([Point(-74.0, 40.7)], crs=4326))
    with pytest.raises(ValueError, match="empty"):
        gcrs.metric_crs(gpd.GeoSeries([], crs=4326))


def test_require_metric_and_area_on_geographic_raise():
    gdf = _suzhou_square()
    with pytest.raises(GeographicCRSError, match=r"EPSG:4326.*to_metric"):
        gcrs.require_metric(gdf)
    with pytest.raises(GeographicCRSError, match=r'to_crs\("EPSG:4549"\)'):
        gcrs.area_m2(gdf)
    with pytest.raises(GeographicCRSError, match="面积"):
        gcrs.area_m2(gdf)
    with pytest.raises(GeographicCRSError, match="长度"):
        gcrs.length_m(gdf.geometry)
    with pytest.raises(GeographicCRSError, match="no CRS"):
        gcrs.area_m2(gdf.set_crs(None, allow_override=True))
    assert issubclass(GeographicCRSError, ValueError)


def test_area_and_length_in_metric_crs():
    gdf = gpd.GeoDataFrame(
        {"v": [1, 2]},
        geometry=[box(500000, 3400000, 500100, 3400100), LineString([(0, 0), (30, 40)])],
        crs=4549,
        index=["x", "y"],
    )
    gcrs.require_metric(gdf)  # no error
    area = gcrs.area_m2(gdf)
    length = gcrs.length_m(gdf)
    assert isinstance(area, pd.Series) and list(area.index) == ["x", "y"]
    assert area.tolist() == pytest.approx([10000.0, 0.0])
    assert length.tolist() == pytest.approx([400.0, 50.0])
    assert gcrs.length_m(gdf.geometry).tolist() == pytest.approx([400.0, 50.0])


def test_to_metric():
    gdf = _suzhou_square()
    before = gdf.copy()
    out = gcrs.to_metric(gdf)
    assert isinstance(out, gpd.GeoDataFrame)
    assert out.crs.to_epsg() == 4549
    assert list(out.index) == [10, 20]
    pd.testing.assert_frame_equal(gdf, before)
    # ~ 950 m x 1110 m at 31.3N
    area = gcrs.area_m2(out)
    assert 1.0e6 < area.iloc[0] < 1.1e6
    again = gcrs.to_metric(out)
    assert again is not out and again.crs == out.crs
    assert gcrs.to_metric(gdf.geometry, crs="EPSG:4550").crs.to_epsg() == 4550
    with pytest.raises(GeographicCRSError):
        gcrs.to_metric(gdf, crs=4490)
    with pytest.raises(GeographicCRSError):
        gcrs.to_metric(gdf.set_crs(None, allow_override=True))


@pytest.mark.realdata
def test_metric_crs_keeps_sip_2000sz(sip):
    # `sip` (tests/conftest.py) is the real data folder; the test skips when absent.
    gdf = gpd.read_file(sip / "sip.gpkg", layer="communities")
    assert gdf.crs.name == "2000SZ"
    assert gcrs.is_metric(gdf.crs)
    chosen = gcrs.metric_crs(gdf)
    assert chosen == gdf.crs
    assert chosen.to_wkt() == gdf.crs.to_wkt()
    assert gcrs.crs_label(chosen) == "2000SZ (custom WKT)"
    out = gcrs.to_metric(gdf)
    assert out.crs == gdf.crs
    assert (gcrs.area_m2(out) == gdf.area).all()
    # The same data in lon/lat goes to the CGCS2000 zone of Suzhou (CM 120E),
    # and areas agree with the local system to within 0.1 %.
    lonlat = gdf.to_crs(4326)
    assert gcrs.metric_crs(lonlat).to_epsg() == 4549
    ratio = gcrs.area_m2(gcrs.to_metric(lonlat)) / gcrs.area_m2(gdf)
    assert np.allclose(ratio, 1.0, atol=1e-3)


# ---------------------------------------------------------------------------
# to_geographic / from_geographic
# ---------------------------------------------------------------------------


def _mixed_gdf(crs="EPSG:4326") -> gpd.GeoDataFrame:
    outer = [(120.60, 31.30), (120.64, 31.30), (120.64, 31.34), (120.60, 31.34)]
    hole = [(120.61, 31.31), (120.62, 31.31), (120.62, 31.32), (120.61, 31.32)]
    geoms = [
        Point(120.62, 31.32),
        LineString([(116.39, 39.90), (116.40, 39.91), (116.41, 39.90)]),
        Polygon(outer, [hole]),
        MultiPolygon([box(104.0, 30.6, 104.1, 30.7), box(113.2, 23.1, 113.3, 23.2)]),
        GeometryCollection([Point(121.47, 31.23), LineString([(121.4, 31.2), (121.5, 31.3)])]),
        None,
        Polygon(),
        Point(120.62, 31.32, 12.5),
    ]
    return gpd.GeoDataFrame(
        {"name": list("abcdefgh"), "v": range(8)},
        geometry=geoms,
        crs=crs,
        index=[f"r{i}" for i in range(8)],
    )


@pytest.mark.parametrize("target", [gcrs.GCJ02, gcrs.BD09])
def test_from_to_geographic_round_trip(target):
    gdf = _mixed_gdf()
    before = gdf.copy()
    obf = gcrs.from_geographic(gdf, target)
    pd.testing.assert_frame_equal(gdf, before)  # not mutated
    assert isinstance(obf, gpd.GeoDataFrame)
    assert obf.crs.to_epsg() == 4326
    assert list(obf.index) == list(gdf.index)
    assert obf["name"].tolist() == gdf["name"].tolist()
    # every vertex moved by the point function
    forward = gcrs.wgs84_to_gcj02 if target == gcrs.GCJ02 else gcrs.wgs84_to_bd09
    src = shapely.get_coordinates(gdf.geometry.values)
    got = shapely.get_coordinates(obf.geometry.values)
    exp = np.column_stack(forward(src[:, 0], src[:, 1]))
    np.testing.assert_allclose(got, exp, rtol=0, atol=1e-12)
    assert metres(src[:, 0], src[:, 1], got[:, 0], got[:, 1]).min() > 50
    # types, None, empty and Z preserved
    assert obf.geometry.iloc[5] is None
    assert obf.geometry.iloc[6].is_empty
    assert list(obf.geom_type.iloc[:5]) == list(gdf.geom_type.iloc[:5])
    assert obf.geometry.iloc[7].has_z and obf.geometry.iloc[7].z == 12.5
    assert not obf.geometry.iloc[0].has_z
    assert len(obf.geometry.iloc[2].interiors) == 1

    back = gcrs.to_geographic(obf, target)
    assert back.crs.to_epsg() == 4326
    b = shapely.get_coordinates(back.geometry.values)
    assert metres(src[:, 0], src[:, 1], b[:, 0], b[:, 1]).max() < 1e-3
    assert back.geometry.iloc[7].z == 12.5


def test_to_geographic_geoseries_aliases_and_crs_labels():
    gs = gpd.GeoSeries([Point(120.62, 31.32)], index=[5], name="geom")  # no CRS
    out = gcrs.to_geographic(gs, "火星坐标")
    assert isinstance(out, gpd.GeoSeries)
    assert out.crs.to_epsg() == 4326 and out.name == "geom" and list(out.index) == [5]
    lon, lat = gcrs.gcj02_to_wgs84(120.62, 31.32)
    assert out.iloc[0].x == pytest.approx(float(lon), abs=1e-12)
    assert out.iloc[0].y == pytest.approx(float(lat), abs=1e-12)
    assert gs.crs is None  # input untouched
    # A CGCS2000 lon/lat label is accepted; result labelled EPSG:4326.
    out2 = gcrs.to_geographic(_mixed_gdf("EPSG:4490"), "BD-09")
    assert out2.crs.to_epsg() == 4326
    # A real CRS as source: plain reprojection.
    pts = gpd.GeoSeries([Point(500000, 3465000)])
    out3 = gcrs.to_geographic(pts, "EPSG:4549")
    assert out3.crs.to_epsg() == 4326 and out3.iloc[0].x == pytest.approx(120.0)


def test_geometry_conversion_duplicate_index_and_renamed_column():
    pts = [Point(120.0, 31.0), Point(121.0, 31.0), Point(122.0, 31.0)]
    gdf = gpd.GeoDataFrame(
        {"a": [1, 2, 3]}, geometry=pts, index=[1, 1, 2], crs=4490
    ).rename_geometry("geom")
    out = gcrs.from_geographic(gdf, "gcj02")
    assert out.geometry.name == "geom" and list(out.index) == [1, 1, 2]
    assert out.crs.to_epsg() == 4326
    lon, lat = gcrs.wgs84_to_gcj02([120.0, 121.0, 122.0], [31.0, 31.0, 31.0])
    np.testing.assert_allclose(out.geometry.x, lon, rtol=0, atol=1e-9)
    np.testing.assert_allclose(out.geometry.y, lat, rtol=0, atol=1e-9)
    back = gcrs.to_geographic(out, "gcj02")
    np.testing.assert_allclose(back.geometry.x, [120.0, 121.0, 122.0], rtol=0, atol=1e-9)


def test_to_geographic_rejects_projected_data():
    gdf = _mixed_gdf().to_crs(4549)
    with pytest.raises(ValueError, match="lon/lat"):
        gcrs.to_geographic(gdf, "gcj02")
    # the label is overridden: lon/lat coordinates wrongly labelled projected are fine
    mislabelled = _mixed_gdf().set_crs(4549, allow_override=True)
    assert gcrs.to_geographic(mislabelled, "gcj02").crs.to_epsg() == 4326
    with pytest.raises(ValueError, match="lon/lat"):
        gcrs.to_geographic(gpd.GeoSeries([Point(500000, 3465000)]), "gcj02")
    with pytest.raises(ValueError, match="accepted forms"):
        gcrs.to_geographic(gdf, "mars")
    with pytest.raises(TypeError):
        gcrs.to_geographic([Point(1, 2)], "gcj02")


def test_from_geographic_reprojects_first():
    gdf = _mixed_gdf().iloc[:5]
    direct = gcrs.from_geographic(gdf, "gcj02")
    via_metric = gcrs.from_geographic(gdf.to_crs(4549), "gcj02")
    via_cgcs = gcrs.from_geographic(gdf.set_crs(4490, allow_override=True), "gcj02")
    a = shapely.get_coordinates(direct.geometry.values)
    b = shapely.get_coordinates(via_metric.geometry.values)
    c = shapely.get_coordinates(via_cgcs.geometry.values)
    assert metres(a[:, 0], a[:, 1], b[:, 0], b[:, 1]).max() < 0.05
    assert metres(a[:, 0], a[:, 1], c[:, 0], c[:, 1]).max() < 1.0
    assert via_metric.crs.to_epsg() == 4326
    # outside China: unchanged
    london = gpd.GeoSeries([Point(-0.1276, 51.5072)], crs=4326)
    assert gcrs.from_geographic(london, "gcj02").iloc[0].equals(london.iloc[0])


# ---------------------------------------------------------------------------
# Measuring CRS must be true to scale where the data is
# ---------------------------------------------------------------------------

_SUZHOU = ("EPSG:4326", (120.6, 31.2, 120.9, 31.4))


@pytest.mark.parametrize(
    ("crs", "replaced"),
    [
        ("EPSG:3857", True),  # Web Mercator: areas x1.37 at Suzhou
        ("EPSG:4552", True),  # GK CM 129E, 8.3 degrees away: 1.6 %
        ("ESRI:102025", True),  # Asia North Albers: equal area, distances 7 % off
        ("EPSG:4549", False),  # the right GK zone
        ("EPSG:32651", False),  # UTM 51N: 0.04 %
    ],
)
def test_metric_crs_replaces_a_crs_untrue_to_scale(crs, replaced):
    bounds = pyproj.Transformer.from_crs(4326, crs, always_xy=True).transform_bounds(*_SUZHOU[1])
    chosen = gcrs.metric_crs((crs, bounds))
    assert (chosen.to_epsg() == 4549) if replaced else chosen.equals(pyproj.CRS(crs))
    assert (gcrs.scale_error(crs, (crs, bounds)) > gcrs.MAX_SCALE_ERROR) == replaced


def test_explicit_metric_crs_untrue_to_scale_is_refused():
    bounds = pyproj.Transformer.from_crs(4326, 3857, always_xy=True).transform_bounds(*_SUZHOU[1])
    with pytest.raises(GeographicCRSError, match="EPSG:4549"):
        gcrs.metric_crs(("EPSG:3857", bounds), crs="EPSG:3857")


@settings(max_examples=30, deadline=None)
@given(st.floats(75.0, 134.0), st.floats(18.0, 53.0))
def test_web_mercator_error_is_the_secant_squared_and_gk_zone_is_true(lon, lat):
    box = ("EPSG:4326", (lon - 0.05, lat - 0.05, lon + 0.05, lat + 0.05))
    assert gcrs.scale_error("EPSG:3857", box) == pytest.approx(
        1 / math.cos(math.radians(lat)) ** 2 - 1, rel=0.02
    )
    assert gcrs.scale_error(gcrs.gk_zone_crs(lon), box) < 1e-3


def test_study_in_web_mercator_is_measured_in_the_gk_zone_with_a_warning():
    import gridmap
    from gridmap import datasets

    ref = gridmap.read_study(**datasets.demo_config())
    study = gridmap.read_study(ref.communities.to_crs(3857).reset_index())
    assert study.crs.to_epsg() == 4549
    warn = next(p for p in study.problems if p.code == "crs.not_true_scale")
    assert warn.severity == "warning" and "EPSG:3857" in warn.message
    assert 'metric="EPSG:4549"' in warn.fix
    assert study.communities.area.sum() == pytest.approx(ref.communities.area.sum(), rel=1e-4)
