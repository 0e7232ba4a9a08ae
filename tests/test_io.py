"""Tests for gridmap.io: reading the files planners actually have."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import stat
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyproj
import pytest
import shapely
from shapely.geometry import Point, Polygon

from gridmap import InputError
from gridmap.io import SUPPORTED_FORMATS, encodings, list_layers, read_layer, vector
from gridmap.io.encodings import detect_dbf_encoding

SIP_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "sip"

# An easting/northing near Suzhou in CGCS2000 3° GK CM 120°E (EPSG:4549).
E0, N0 = 475_000.0, 3_465_000.0

SZ_WKT = (
    'PROJCS["2000SZ",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",'
    'DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],'
    'PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",350000.0],'
    'PARAMETER["False_Northing",-2800000.0],PARAMETER["Central_Meridian",120.783333333333],'
    'PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
)


def grids(crs="EPSG:4549") -> gpd.GeoDataFrame:
    """Three small square grids with Chinese names and codes."""
    squares = [
        Polygon(
            [
                (E0 + i * 100, N0),
                (E0 + i * 100 + 90, N0),
                (E0 + i * 100 + 90, N0 + 90),
                (E0 + i * 100, N0 + 90),
            ]
        )
        for i in range(3)
    ]
    return gpd.GeoDataFrame(
        {
            "网格编码": ["320505006023001", "320505006023002", "320505006023003"],
            "网格名称": ["综合网格1", "湖东网格", "星湖街网格"],
            "所属社区": ["荷韵社区", "湖东社区", "玲珑湾社区"],
            "户数": np.array([320, 512, 96], dtype="int32"),
        },
        geometry=squares,
        crs=crs,
    )


def snapshot(folder: Path) -> dict:
    """Bytes and modification time of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def problem(excinfo):
    """The single problem an InputError carries."""
    assert len(excinfo.value.problems) == 1, excinfo.value.problems
    return excinfo.value.problems[0]


def write_shapefile(gdf, path: Path, *, encoding="UTF-8", cpg=True) -> Path:
    with warnings.catch_warnings():
        # writing a layer without a CRS on purpose
        warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
        gdf.to_file(path, engine="pyogrio", encoding=encoding)
    if not cpg:
        path.with_suffix(".cpg").unlink()
    return path


def write_csv(path: Path, text: str, encoding="utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# GDAL keeps 10 bytes of a DBF field name: 3 Chinese characters in UTF-8 (4 in GBK).
CUT_NAMES = {"网格编码": "网格编", "网格名称": "网格名", "所属社区": "所属社"}


def assert_like_grids(gdf, expected=None, *, names=None):
    expected = grids() if expected is None else expected
    names = names or {}
    assert isinstance(gdf, gpd.GeoDataFrame)
    assert isinstance(gdf.index, pd.RangeIndex) and gdf.index.start == 0
    assert gdf.geometry.name == "geometry"
    assert list(gdf.columns) == [names.get(c, c) for c in expected.columns]
    assert list(gdf[names.get("网格名称", "网格名称")]) == list(expected["网格名称"])
    assert list(gdf[names.get("所属社区", "所属社区")]) == list(expected["所属社区"])
    assert [str(v) for v in gdf[names.get("网格编码", "网格编码")]] == list(expected["网格编码"])
    assert list(gdf["户数"].astype(int)) == list(expected["户数"])
    assert shapely.equals(gdf.geometry.to_numpy(), expected.geometry.to_numpy()).all()


# --------------------------------------------------------------------------- formats


def _write_gpkg(gdf, folder):
    path = folder / "grids.gpkg"
    gdf.to_file(path, layer="网格", engine="pyogrio")
    return path, "网格"


def _write_shp(gdf, folder):
    return write_shapefile(gdf, folder / "grids.shp"), "grids"


def _write_zip(gdf, folder):
    src = folder / "src"
    src.mkdir()
    write_shapefile(gdf, src / "grids.shp", encoding="GBK")
    path = folder / "grids.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(src.iterdir()):
            archive.write(file, file.name)
    shutil.rmtree(src)
    return path, "grids"


def _write_geojson(gdf, folder):
    path = folder / "grids.geojson"
    gdf.to_file(path, driver="GeoJSON", engine="pyogrio")
    return path, "grids"


def _write_parquet(gdf, folder):
    path = folder / "grids.parquet"
    gdf.to_parquet(path)
    return path, None


def _write_fgb(gdf, folder):
    path = folder / "grids.fgb"
    # Without the spatial index FlatGeobuf keeps the features in the order written.
    gdf.to_file(path, driver="FlatGeobuf", engine="pyogrio", SPATIAL_INDEX="NO")
    return path, "grids"


def _write_gdb(gdf, folder):
    path = folder / "grids.gdb"
    gdf.to_file(path, driver="OpenFileGDB", layer="网格", engine="pyogrio")
    return path, "网格"


WRITERS = {
    "gpkg": _write_gpkg,
    "shapefile": _write_shp,
    "shapefile-zip": _write_zip,
    "geojson": _write_geojson,
    "geoparquet": _write_parquet,
    "flatgeobuf": _write_fgb,
    "filegdb": _write_gdb,
}


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_reads_every_vector_format(tmp_path, fmt):
    path, layer = WRITERS[fmt](grids(), tmp_path)
    before = snapshot(tmp_path)

    gdf = read_layer(path)

    assert_like_grids(gdf, names=CUT_NAMES if fmt == "shapefile" else None)
    assert gdf.crs.equals(pyproj.CRS("EPSG:4549"))
    source = gdf.attrs["source"]
    assert source["format"] == fmt
    assert source["file"] == str(path)
    assert source["layer"] == layer
    assert source["crs_from"] == "file"
    assert source["encoding"] == ("GBK" if fmt == "shapefile-zip" else "UTF-8")
    assert snapshot(tmp_path) == before


def test_supported_formats_cover_the_brief():
    for ext in (
        ".gpkg",
        ".shp",
        ".geojson",
        ".json",
        ".parquet",
        ".geoparquet",
        ".fgb",
        ".csv",
        ".txt",
        ".xlsx",
        ".xls",
        ".zip",
    ):
        assert ext in SUPPORTED_FORMATS


def test_extension_is_case_insensitive(tmp_path):
    path, _ = _write_gpkg(grids(), tmp_path)
    upper = path.rename(tmp_path / "GRIDS.GPKG")
    assert read_layer(upper).attrs["source"]["format"] == "gpkg"


def test_uppercase_shapefile_sidecars(tmp_path):
    write_shapefile(grids(), tmp_path / "grids.shp", encoding="GBK", cpg=False)
    for file in list(tmp_path.iterdir()):
        file.rename(file.with_name("GRIDS" + file.suffix.upper()))
    gdf = read_layer(tmp_path / "GRIDS.SHP")
    assert_like_grids(gdf)
    assert gdf.attrs["source"]["encoding"] == "GBK"


def test_index_and_geometry_name_are_normalised(tmp_path):
    gdf = grids().set_index("网格编码").rename_geometry("shape")
    path = tmp_path / "grids.parquet"
    gdf.to_parquet(path)

    back = read_layer(path)

    assert isinstance(back.index, pd.RangeIndex)
    assert back.geometry.name == "geometry"
    assert list(back["网格编码"]) == list(grids()["网格编码"])  # the named index is kept


# --------------------------------------------------------------------------- layers


@pytest.fixture
def two_layer_gpkg(tmp_path):
    path = tmp_path / "demo.gpkg"
    grids().to_file(path, layer="网格", engine="pyogrio")
    grids().dissolve().to_file(path, layer="社区", engine="pyogrio")
    return path


def test_gpkg_with_several_layers_requires_a_choice(two_layer_gpkg):
    with pytest.raises(InputError, match="2 个图层") as excinfo:
        read_layer(two_layer_gpkg)
    p = problem(excinfo)
    assert p.code == "layer.required"
    assert p.file == str(two_layer_gpkg)
    assert set(p.extra["layers"]) == {"网格", "社区"}
    assert "'网格'" in p.message and "'社区'" in p.message
    assert "layer=" in p.fix and f"{two_layer_gpkg}:" in p.fix


@pytest.mark.parametrize("how", ["keyword", "colon", "both"])
def test_gpkg_layer_by_keyword_or_colon(two_layer_gpkg, how):
    if how == "keyword":
        gdf = read_layer(two_layer_gpkg, layer="网格")
    elif how == "colon":
        gdf = read_layer(f"{two_layer_gpkg}:网格")
    else:
        gdf = read_layer(f"{two_layer_gpkg}:网格", layer="网格")
    assert_like_grids(gdf)
    assert gdf.attrs["source"]["layer"] == "网格"
    assert gdf.attrs["source"]["file"] == str(two_layer_gpkg)


def test_missing_layer_lists_the_available_ones(two_layer_gpkg):
    with pytest.raises(InputError, match="没有图层 '小区'") as excinfo:
        read_layer(two_layer_gpkg, layer="小区")
    p = problem(excinfo)
    assert p.code == "layer.not_found"
    assert p.layer == "小区"
    assert "'网格'" in p.message and "'社区'" in p.message


def test_conflicting_layers_are_an_error(two_layer_gpkg):
    with pytest.raises(InputError, match="不一致") as excinfo:
        read_layer(f"{two_layer_gpkg}:网格", layer="社区")
    assert problem(excinfo).code == "layer.conflict"


def test_single_layer_is_used_without_naming_it(tmp_path):
    path, _ = _write_gpkg(grids(), tmp_path)
    assert read_layer(path).attrs["source"]["layer"] == "网格"


def test_list_layers(two_layer_gpkg, tmp_path):
    assert sorted(list_layers(two_layer_gpkg)) == ["社区", "网格"]
    assert sorted(list_layers(f"{two_layer_gpkg}:网格")) == ["社区", "网格"]
    shp = write_shapefile(grids(), tmp_path / "grids.shp")
    assert list_layers(shp) == ["grids"]
    csv = write_csv(tmp_path / "pts.csv", "lon,lat\n120.7,31.3\n")
    assert list_layers(csv) == ["pts"]


def test_colon_is_not_split_when_left_part_is_missing(tmp_path):
    missing = tmp_path / "nothing.gpkg"
    with pytest.raises(InputError, match="找不到文件") as excinfo:
        read_layer(f"{missing}:网格")
    assert problem(excinfo).code == "file.missing"


def test_windows_drive_letter_is_not_a_layer_separator(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "C").write_text("not a GIS file")  # a file named like a drive letter
    with pytest.raises(InputError, match="找不到文件") as excinfo:
        read_layer("C:grids.gpkg")
    p = problem(excinfo)
    assert p.code == "file.missing"
    assert p.file == "C:grids.gpkg"


def test_zip_with_several_shapefiles(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    write_shapefile(grids(), src / "网格.shp", encoding="GBK", cpg=False)
    write_shapefile(grids().dissolve(), src / "社区.shp")
    path = tmp_path / "layers.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(src.iterdir()):
            archive.write(file, file.name)

    assert sorted(list_layers(path)) == ["社区", "网格"]
    with pytest.raises(InputError) as excinfo:
        read_layer(path)
    assert problem(excinfo).code == "layer.required"
    gdf = read_layer(f"{path}:网格")
    assert_like_grids(gdf)
    assert gdf.attrs["source"]["encoding"] == "GBK"


# --------------------------------------------------------------------------- shapefile encodings


@pytest.mark.parametrize(
    ("written", "keep_cpg", "expected", "how"),
    [
        ("GBK", False, "GBK", "detected"),
        ("GBK", True, "GBK", "cpg"),
        ("UTF-8", False, "UTF-8", "detected"),
        ("UTF-8", True, "UTF-8", "cpg"),
        ("GB18030", False, "GBK", "detected"),  # GB18030 is GBK for these characters
    ],
)
def test_shapefile_encoding(tmp_path, written, keep_cpg, expected, how):
    path = write_shapefile(grids(), tmp_path / "grids.shp", encoding=written, cpg=keep_cpg)
    before = snapshot(tmp_path)

    gdf = read_layer(path)

    assert_like_grids(gdf, names=CUT_NAMES if written == "UTF-8" else None)
    assert gdf.attrs["source"]["encoding"] == expected
    assert gdf.attrs["source"]["encoding_from"] == how
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("cpg", ["936", "GBK", "ANSI 936", "CP936", "gb2312", "GBK\r\n"])
def test_cpg_spellings_of_gbk(tmp_path, cpg):
    path = write_shapefile(grids(), tmp_path / "grids.shp", encoding="GBK")
    path.with_suffix(".cpg").write_text(cpg)
    gdf = read_layer(path)
    assert_like_grids(gdf)
    assert gdf.attrs["source"]["encoding"] == "GBK"
    assert gdf.attrs["source"]["encoding_from"] == "cpg"


@pytest.mark.parametrize("cpg", ["65001", "UTF-8", "utf8"])
def test_cpg_spellings_of_utf8(tmp_path, cpg):
    path = write_shapefile(grids(), tmp_path / "grids.shp")
    path.with_suffix(".cpg").write_text(cpg)
    gdf = read_layer(path)
    assert_like_grids(gdf, names=CUT_NAMES)
    assert gdf.attrs["source"]["encoding"] == "UTF-8"


def test_wrong_cpg_is_overruled_by_the_bytes(tmp_path):
    path = write_shapefile(grids(), tmp_path / "grids.shp", encoding="GBK")
    path.with_suffix(".cpg").write_text("UTF-8")
    gdf = read_layer(path)
    assert_like_grids(gdf)
    assert gdf.attrs["source"]["encoding"] == "GBK"
    assert "UTF-8" in gdf.attrs["source"]["encoding_from"]


def test_gbk_cpg_over_utf8_data(tmp_path):
    path = write_shapefile(grids(), tmp_path / "grids.shp")
    path.with_suffix(".cpg").write_text("GBK")
    gdf = read_layer(path)
    assert_like_grids(gdf, names=CUT_NAMES)
    assert gdf.attrs["source"]["encoding"] == "UTF-8"
    assert "GBK" in gdf.attrs["source"]["encoding_from"]


def test_explicit_encoding_wins(tmp_path):
    path = write_shapefile(grids(), tmp_path / "grids.shp", encoding="GBK")
    gdf = read_layer(path, encoding="gb18030")
    assert_like_grids(gdf)
    assert gdf.attrs["source"]["encoding"] == "GB18030"
    assert gdf.attrs["source"]["encoding_from"] == "explicit"

    mojibake = read_layer(path, encoding="latin1")  # wrong, but what was asked for
    assert mojibake.attrs["source"]["encoding"] == "ISO-8859-1"
    assert "湖东网格" not in set(mojibake.iloc[:, 1])


def test_explicit_encoding_that_does_not_fit(tmp_path):
    path = write_shapefile(grids(), tmp_path / "grids.shp", encoding="GBK", cpg=False)
    with pytest.raises(InputError, match="不是 UTF-8 编码") as excinfo:
        read_layer(path, encoding="UTF-8")
    assert problem(excinfo).code == "encoding.mismatch"


def test_unknown_explicit_encoding(tmp_path):
    path = write_shapefile(grids(), tmp_path / "grids.shp")
    with pytest.raises(InputError, match="未知的编码") as excinfo:
        read_layer(path, encoding="no-such-codec")
    assert problem(excinfo).code == "encoding.unknown"


def test_utf8_names_cut_mid_character_by_the_writer(tmp_path):
    path = write_shapefile(grids(), tmp_path / "grids.shp")
    raw = path.with_suffix(".dbf").read_bytes()
    assert "网格编码".encode()[:10] in raw  # the 4th character is cut in half
    gdf = read_layer(path)
    assert list(gdf.columns[:3]) == ["网格编", "网格名", "所属社"]
    assert list(gdf["网格名"]) == list(grids()["网格名称"])


def test_ascii_only_shapefile_without_cpg(tmp_path):
    gdf = gpd.GeoDataFrame({"code": ["a", "b"]}, geometry=[Point(0, 0), Point(1, 1)], crs=4549)
    path = write_shapefile(gdf, tmp_path / "ascii.shp", cpg=False)
    back = read_layer(path)
    assert list(back["code"]) == ["a", "b"]
    assert back.attrs["source"]["encoding"] == "UTF-8"


def _dbf(width: int, values: list[bytes]) -> bytes:
    """A minimal dBase III file with one character field ``NAME``."""
    header_len = 32 + 32 + 1
    record_len = 1 + width
    header = bytearray(32)
    header[0] = 0x03
    header[4:8] = len(values).to_bytes(4, "little")
    header[8:10] = header_len.to_bytes(2, "little")
    header[10:12] = record_len.to_bytes(2, "little")
    field = bytearray(32)
    field[:4] = b"NAME"
    field[11] = ord("C")
    field[16] = width
    records = b"".join(b" " + v.ljust(width, b" ") for v in values)
    return bytes(header) + bytes(field) + b"\x0d" + records + b"\x1a"


def test_detection_tolerates_a_character_cut_at_the_field_end():
    # A writer cut "社区" (6 bytes of UTF-8) to the field width of 5 bytes.
    values = ["湖东社区".encode()[:11], "社区".encode()[:5], b"abc"]
    found, how = detect_dbf_encoding(io.BytesIO(_dbf(11, values)))
    assert (found, how) == ("UTF-8", "bytes")


@pytest.mark.parametrize("encoding", ["GBK", "UTF-8"])
def test_detection_on_raw_dbf(encoding):
    values = [s.encode(encoding) for s in ("湖东社区", "星湖街", "玲珑湾社区")]
    found, _ = detect_dbf_encoding(io.BytesIO(_dbf(20, values)))
    assert found == encoding


def test_detection_reads_many_records_in_chunks(monkeypatch):
    monkeypatch.setattr(encodings, "DBF_CHUNK_BYTES", 64)
    values = [b"plain"] * 50 + ["最后一行才有中文".encode("gbk")]
    found, _ = detect_dbf_encoding(io.BytesIO(_dbf(20, values)))
    assert found == "GBK"


@pytest.mark.realdata
def test_real_sip_grids_gbk_without_cpg(tmp_path):
    if not SIP_DIR.is_dir():
        pytest.skip("../shared/data/sip is absent")
    for file in SIP_DIR.glob("sip_grids_2000SZ.*"):
        copy = tmp_path / file.name
        shutil.copyfile(file, copy)
        copy.chmod(stat.S_IRUSR | stat.S_IWUSR)
    (tmp_path / "sip_grids_2000SZ.cpg").unlink()

    gdf = read_layer(tmp_path / "sip_grids_2000SZ.shp")

    assert gdf.attrs["source"]["encoding"] == "GBK"
    assert gdf.attrs["source"]["encoding_from"] == "detected"
    assert gdf["网格名称"].str.contains("网格").all()
    assert gdf["所属社区"].dropna().str.endswith("社区").mean() > 0.9
    assert gdf.crs.name == "2000SZ"  # the custom WKT is kept, not matched to an EPSG code
    assert gdf.crs.to_epsg() is None


@pytest.mark.realdata
def test_real_sip_gpkg_layers_and_no_writes():
    if not SIP_DIR.is_dir():
        pytest.skip("../shared/data/sip is absent")
    before = snapshot(SIP_DIR)
    gpkg = SIP_DIR / "sip.gpkg"
    with pytest.raises(InputError) as excinfo:
        read_layer(gpkg)
    assert set(problem(excinfo).extra["layers"]) >= {"communities", "grids_comprehensive"}
    communities = read_layer(f"{gpkg}:communities")
    assert len(communities) == 138
    assert communities.crs.name == "2000SZ"
    assert snapshot(SIP_DIR) == before


# --------------------------------------------------------------------------- GeoJSON CRS


def _geojson(path: Path, members: dict, *, coords=(E0, N0), at_end=False) -> Path:
    feature = {
        "type": "Feature",
        "properties": {"名称": "湖东社区"},
        "geometry": {"type": "Point", "coordinates": list(coords)},
    }
    doc = {"type": "FeatureCollection"}
    if not at_end:
        doc.update(members)
    doc["features"] = [feature]
    if at_end:
        doc.update(members)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_geojson_crs_wkt_custom_crs(tmp_path):
    path = _geojson(tmp_path / "a.geojson", {"crs_wkt": SZ_WKT}, coords=(350000, 660000))
    before = snapshot(tmp_path)
    gdf = read_layer(path)
    assert gdf.crs.name == "2000SZ"
    assert gdf.attrs["source"]["crs_from"] == "crs_wkt"
    assert gdf.geometry.iloc[0].equals(Point(350000, 660000))
    assert snapshot(tmp_path) == before


def test_geojson_old_crs_member(tmp_path):
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}}
    gdf = read_layer(_geojson(tmp_path / "a.geojson", {"crs": crs}, coords=(120.7, 31.3)))
    assert gdf.crs.to_epsg() == 4490
    assert gdf.attrs["source"]["crs_from"] == "file"


def test_geojson_crs_wkt_wins_over_crs_member(tmp_path):
    members = {
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}},
        "crs_wkt": pyproj.CRS("EPSG:4549").to_wkt(),
    }
    gdf = read_layer(_geojson(tmp_path / "a.geojson", members))
    assert gdf.crs.to_epsg() == 4549
    assert gdf.attrs["source"]["crs_from"] == "crs_wkt"


def test_geojson_crs_wkt_equal_to_file_crs(tmp_path):
    members = {"crs_wkt": pyproj.CRS("EPSG:4326").to_wkt()}
    gdf = read_layer(_geojson(tmp_path / "a.geojson", members, coords=(120.7, 31.3)))
    assert gdf.crs.to_epsg() == 4326
    assert gdf.attrs["source"]["crs_from"] == "file"


def test_geojson_crs_wkt_after_the_features(tmp_path):
    path = _geojson(tmp_path / "a.geojson", {"crs_wkt": SZ_WKT}, at_end=True)
    assert read_layer(path).crs.name == "2000SZ"


def test_geojson_large_file_scans_only_the_head(tmp_path, monkeypatch):
    monkeypatch.setattr(vector, "JSON_FULL_LOAD_LIMIT", 10)
    path = _geojson(tmp_path / "a.geojson", {"crs_wkt": SZ_WKT})
    assert read_layer(path).crs.name == "2000SZ"


def test_geojson_bad_crs_wkt(tmp_path):
    path = _geojson(tmp_path / "a.geojson", {"crs_wkt": "PROJCS[nonsense"})
    with pytest.raises(InputError, match="crs_wkt") as excinfo:
        read_layer(path)
    assert problem(excinfo).code == "crs.invalid"


def test_crs_wkt_as_a_feature_property_is_ignored(tmp_path):
    path = tmp_path / "a.geojson"
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"crs_wkt": SZ_WKT},
                "geometry": {"type": "Point", "coordinates": [120.7, 31.3]},
            }
        ],
    }
    path.write_text(json.dumps(doc))
    gdf = read_layer(path)
    assert gdf.crs.to_epsg() == 4326
    assert gdf.attrs["source"]["crs_from"] == "file"


# --------------------------------------------------------------------------- CSV


@pytest.mark.parametrize(
    ("xname", "yname"),
    [
        ("lon", "lat"),
        ("lng", "lat"),
        ("LONGITUDE", "LATITUDE"),
        ("Long", "Lat"),
        ("经度", "纬度"),
        ("经度（WGS84）", "纬度（WGS84）"),
        ("gcj_lng", "gcj_lat"),
        ("东经", "北纬"),
    ],
)
def test_csv_lonlat_aliases(tmp_path, xname, yname):
    path = write_csv(
        tmp_path / "pts.csv", f"名称,{xname},{yname}\n卫生站,120.70,31.30\n学校,120.71,31.31\n"
    )
    gdf = read_layer(path)
    assert gdf.crs.to_epsg() == 4326
    assert gdf.attrs["source"]["crs_from"] == "default-lonlat"
    assert gdf.attrs["source"]["format"] == "csv"
    assert gdf.geometry.iloc[1].equals(Point(120.71, 31.31))
    assert list(gdf["名称"]) == ["卫生站", "学校"]
    assert isinstance(gdf.index, pd.RangeIndex)


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8"), ("gbk", "GB18030"), ("gb18030", "GB18030")],
)
def test_csv_encodings(tmp_path, encoding, expected):
    path = write_csv(tmp_path / "pts.csv", "名称,经度,纬度\n湖东社区卫生站,120.7,31.3\n", encoding)
    before = snapshot(tmp_path)
    gdf = read_layer(path)
    assert list(gdf["名称"]) == ["湖东社区卫生站"]
    assert gdf.attrs["source"]["encoding"] == expected
    assert snapshot(tmp_path) == before


def test_csv_explicit_encoding(tmp_path):
    path = write_csv(tmp_path / "pts.csv", "名称,经度,纬度\n湖东,120.7,31.3\n", "gbk")
    gdf = read_layer(path, encoding="GBK")
    assert list(gdf["名称"]) == ["湖东"]
    assert gdf.attrs["source"]["encoding_from"] == "explicit"


def test_txt_utf16_tab_separated(tmp_path):
    path = tmp_path / "pts.txt"
    path.write_bytes("名称\t经度\t纬度\r\n湖东\t120.7\t31.3\r\n".encode("utf-16"))
    gdf = read_layer(path)
    assert list(gdf["名称"]) == ["湖东"]
    assert gdf.geometry.iloc[0].equals(Point(120.7, 31.3))


def test_txt_tab_separated(tmp_path):
    path = write_csv(tmp_path / "pts.txt", "名称\tlon\tlat\n湖东\t120.7\t31.3\n")
    assert read_layer(path).geometry.iloc[0].equals(Point(120.7, 31.3))


def test_csv_full_width_and_padded_numbers(tmp_path):
    text = "名称,经度,纬度\n甲, １２０．７ ,３１．３\n乙,120.8°,31.4\n丙,－120.5,－31.5\n"
    gdf = read_layer(write_csv(tmp_path / "pts.csv", text))
    assert gdf.geometry.iloc[0].equals(Point(120.7, 31.3))
    assert gdf.geometry.iloc[1].equals(Point(120.8, 31.4))
    assert gdf.geometry.iloc[2].equals(Point(-120.5, -31.5))
    assert gdf["经度"].dtype.kind == "f"


def test_csv_bad_coordinates_are_all_listed(tmp_path):
    text = (
        "名称,经度,纬度\n"
        "甲,120.7,31.3\n"
        "乙,,31.3\n"  # Excel row 3 (header row 1): blank lon
        "丙,120.7,31.3\n"
        "丁,120.7,abc\n"  # Excel row 5: text lat
        "戊,约120,北纬31\n"  # Excel row 6: both bad
    )
    path = write_csv(tmp_path / "pts.csv", text)
    with pytest.raises(InputError, match="不是数字") as excinfo:
        read_layer(path)
    problems = excinfo.value.problems
    assert [(p.row, p.column) for p in problems] == [
        (3, "经度"),  # the rows Excel shows: the header is row 1
        (5, "纬度"),
        (6, "经度"),
        (6, "纬度"),
    ]
    assert all(p.code == "coordinates.invalid" and p.file == str(path) for p in problems)
    assert problems[1].extra["value"] == "abc"
    assert "表格第 5 行" in problems[1].message  # data row 4 is line 5 with the header
    assert "表格第 3 行" in problems[0].message and "数据" not in problems[0].message
    assert "delete" in problems[0].fix


def test_csv_out_of_range_rows(tmp_path):
    text = "名称,lon,lat\n甲,120.7,31.3\n乙,200.5,31.3\n丙,120.7,31.3\n"
    with pytest.raises(InputError) as excinfo:
        read_layer(write_csv(tmp_path / "pts.csv", text))
    p = problem(excinfo)
    assert (p.code, p.row, p.column) == ("coordinates.out_of_range", 3, "lon")


def test_csv_swapped_lonlat(tmp_path):
    text = "名称,lon,lat\n甲,31.3,120.7\n乙,31.4,120.8\n"
    with pytest.raises(InputError, match="反了") as excinfo:
        read_layer(write_csv(tmp_path / "pts.csv", text))
    p = problem(excinfo)
    assert p.code == "coordinates.swapped"
    assert "x='lat'" in p.fix


def test_csv_lonlat_columns_holding_projected_values(tmp_path):
    text = f"名称,经度,纬度\n甲,{E0},{N0}\n乙,{E0 + 10},{N0 + 10}\n"
    with pytest.raises(InputError, match="投影坐标") as excinfo:
        read_layer(write_csv(tmp_path / "pts.csv", text))
    assert problem(excinfo).code == "coordinates.not_lonlat"


@pytest.mark.parametrize(
    ("xname", "yname"),
    [("X", "Y"), ("x", "y"), ("东坐标", "北坐标"), ("横坐标", "纵坐标"), ("POINT_X", "POINT_Y")],
)
def test_csv_projected_xy_needs_a_crs(tmp_path, xname, yname):
    path = write_csv(tmp_path / "pts.csv", f"名称,{xname},{yname}\n甲,{E0},{N0}\n")
    with pytest.raises(InputError, match="没有给出坐标系") as excinfo:
        read_layer(path)
    p = problem(excinfo)
    assert p.code == "crs.required"
    assert 'crs="EPSG:45' in p.fix

    gdf = read_layer(path, crs="EPSG:4549")
    assert gdf.crs.to_epsg() == 4549
    assert gdf.attrs["source"]["crs_from"] == "override"
    assert gdf.geometry.iloc[0].equals(Point(E0, N0))  # an override does not reproject


def test_lonlat_named_columns_with_a_projected_crs(tmp_path):
    path = write_csv(tmp_path / "pts.csv", f"名称,经度,纬度\n甲,{E0},{N0}\n")
    gdf = read_layer(path, crs="EPSG:4549")  # the user says what they are
    assert gdf.geometry.iloc[0].equals(Point(E0, N0))


def test_xy_columns_with_a_geographic_crs_are_checked_as_lonlat(tmp_path):
    path = write_csv(tmp_path / "pts.csv", "X,Y\n31.3,120.7\n31.4,120.8\n")
    with pytest.raises(InputError) as excinfo:
        read_layer(path, crs="EPSG:4490")
    assert problem(excinfo).code == "coordinates.swapped"
    ok = write_csv(tmp_path / "ok.csv", "X,Y\n120.7,31.3\n")
    gdf = read_layer(ok, crs="EPSG:4490")
    assert gdf.crs.to_epsg() == 4490


def test_title_row_above_the_header(tmp_path):
    text = "苏州工业园区设施清单,,\n名称,经度,纬度\n甲,120.7,31.3\n"
    with pytest.raises(InputError) as excinfo:
        read_layer(write_csv(tmp_path / "pts.csv", text))
    p = problem(excinfo)
    assert p.code == "geometry.missing"
    assert "title rows" in p.fix


@pytest.mark.parametrize(
    ("x", "y", "hint"),
    [
        (40_000_000 + E0, N0, "EPSG:4528"),  # zone-prefixed easting: zone 40
        (N0, E0, "X=北"),  # surveying convention: X is the northing
        (120.7, 31.3, "EPSG:4490"),  # lon/lat values in X/Y columns
    ],
)
def test_crs_required_hints(tmp_path, x, y, hint):
    path = write_csv(tmp_path / "pts.csv", f"X,Y\n{x},{y}\n")
    with pytest.raises(InputError, match="没有给出坐标系") as excinfo:
        read_layer(path)
    assert hint in problem(excinfo).fix


def test_csv_explicit_columns(tmp_path):
    path = write_csv(tmp_path / "pts.csv", f"名称,E,N\n甲,{E0},{N0}\n")
    gdf = read_layer(path, x="E", y="N", crs=4549)
    assert gdf.geometry.iloc[0].equals(Point(E0, N0))
    lonlat = write_csv(tmp_path / "ll.csv", "名称,经度2,纬度2\n甲,120.7,31.3\n")
    assert read_layer(lonlat, x="经度2", y="纬度2").crs.to_epsg() == 4326


def test_csv_explicit_columns_errors(tmp_path):
    path = write_csv(tmp_path / "pts.csv", "名称,E,N\n甲,1,2\n")
    with pytest.raises(InputError) as excinfo:
        read_layer(path, x="E")
    assert problem(excinfo).code == "coordinates.incomplete"
    with pytest.raises(InputError, match="没有列 'east'") as excinfo:
        read_layer(path, x="east", y="N", crs=4549)
    p = problem(excinfo)
    assert (p.code, p.column) == ("column.missing", "east")


def test_csv_ambiguous_coordinate_columns(tmp_path):
    path = write_csv(tmp_path / "pts.csv", "lng,lon,lat\n120.7,120.7,31.3\n")
    with pytest.raises(InputError, match="多个列") as excinfo:
        read_layer(path)
    assert problem(excinfo).code == "coordinates.ambiguous"


def test_csv_without_coordinates(tmp_path):
    path = write_csv(tmp_path / "pts.csv", "名称,户数\n甲,100\n")
    with pytest.raises(InputError, match="没有找到坐标列") as excinfo:
        read_layer(path)
    p = problem(excinfo)
    assert p.code == "geometry.missing"
    assert "名称, 户数" in p.message
    assert "经度" in p.fix and "纬度" in p.fix
    assert p.extra["columns"] == ["名称", "户数"]


def test_csv_keeps_codes_as_text_and_counts_as_numbers(tmp_path):
    text = (
        "社区编码,编号,户数,备注,lon,lat\n320505006023,007,1200,约300,120.7,31.3\n"
        "320505006024,008,800,,120.8,31.4\n"
    )
    gdf = read_layer(write_csv(tmp_path / "pts.csv", text))
    assert list(gdf["社区编码"]) == ["320505006023", "320505006024"]
    assert list(gdf["编号"]) == ["007", "008"]
    assert list(gdf["户数"]) == [1200, 800]
    assert gdf["备注"].iloc[0] == "约300"


def test_csv_layer_must_match(tmp_path):
    path = write_csv(tmp_path / "pts.csv", "lon,lat\n120.7,31.3\n")
    assert len(read_layer(path, layer="pts")) == 1
    with pytest.raises(InputError) as excinfo:
        read_layer(path, layer="other")
    assert problem(excinfo).code == "layer.not_found"


def test_plain_parquet_with_coordinates(tmp_path):
    path = tmp_path / "pts.parquet"
    pd.DataFrame({"名称": ["甲"], "lon": [120.7], "lat": [31.3]}).to_parquet(path)
    gdf = read_layer(path)
    assert gdf.geometry.iloc[0].equals(Point(120.7, 31.3))
    assert gdf.attrs["source"]["crs_from"] == "default-lonlat"


# --------------------------------------------------------------------------- Excel


def _workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        ws = book.create_sheet(name)
        for row in rows:
            ws.append(row)
    book.save(path)
    return path


POINTS = [
    ["名称", "经度", "纬度", "社区编码"],
    ["卫生站", 120.7, 31.3, "320505006023"],
    ["学校", "120.8", "31.4", 320505006024],
]


def test_xlsx_single_sheet_with_empty_extra_sheets(tmp_path):
    path = _workbook(tmp_path / "pts.xlsx", {"设施": POINTS, "Sheet2": [], "Sheet3": []})
    before = snapshot(tmp_path)
    gdf = read_layer(path)
    assert gdf.attrs["source"]["layer"] == "设施"
    assert gdf.attrs["source"]["format"] == "xlsx"
    assert gdf.crs.to_epsg() == 4326
    assert gdf.geometry.iloc[1].equals(Point(120.8, 31.4))
    assert list(gdf["社区编码"]) == ["320505006023", "320505006024"]
    assert snapshot(tmp_path) == before


def test_xlsx_several_sheets_with_data(tmp_path):
    path = _workbook(tmp_path / "pts.xlsx", {"设施": POINTS, "说明": [["数据来源", "2024"]]})
    assert list_layers(path) == ["设施", "说明"]
    with pytest.raises(InputError, match="2 个工作表") as excinfo:
        read_layer(path)
    assert problem(excinfo).code == "layer.required"
    assert len(read_layer(path, layer="设施")) == 2
    assert len(read_layer(f"{path}:设施")) == 2


def test_xlsx_bad_coordinates_name_the_row(tmp_path):
    rows = [*POINTS, ["公园", None, 31.3]]
    path = _workbook(tmp_path / "pts.xlsx", {"设施": rows})
    with pytest.raises(InputError) as excinfo:
        read_layer(path)
    p = problem(excinfo)
    assert (p.code, p.row, p.column, p.layer) == ("coordinates.invalid", 4, "经度", "设施")


def test_xls_without_xlrd(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_xlrd(name, *args, **kwargs):
        if name == "xlrd":
            raise ModuleNotFoundError("No module named 'xlrd'", name="xlrd")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_xlrd)
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0not really")
    with pytest.raises(InputError, match="xlrd") as excinfo:
        read_layer(path)
    assert ".xlsx" in problem(excinfo).fix


# --------------------------------------------------------------------------- CRS overrides


def test_crs_override_does_not_reproject(tmp_path):
    path, _ = _write_gpkg(grids(), tmp_path)
    gdf = read_layer(path, crs="EPSG:4547")
    assert gdf.crs.to_epsg() == 4547
    assert gdf.attrs["source"]["crs_from"] == "override"
    assert shapely.equals_exact(gdf.geometry.to_numpy(), grids().geometry.to_numpy(), 0).all()


def test_custom_wkt_override_is_kept(tmp_path):
    path = write_shapefile(grids(), tmp_path / "grids.shp")
    gdf = read_layer(path, crs=SZ_WKT)
    assert gdf.crs.name == "2000SZ"
    assert gdf.crs.to_epsg() is None


def test_file_without_crs_gives_none(tmp_path):
    path = write_shapefile(grids(crs=None), tmp_path / "grids.shp")
    assert not path.with_suffix(".prj").exists()
    gdf = read_layer(path)
    assert gdf.crs is None
    assert gdf.attrs["source"]["crs_from"] is None


def test_invalid_crs(tmp_path):
    path = write_csv(tmp_path / "pts.csv", "lon,lat\n120.7,31.3\n")
    with pytest.raises(InputError, match="无法识别坐标系") as excinfo:
        read_layer(path, crs="EPSG:999999")
    p = problem(excinfo)
    assert (p.code, p.file) == ("crs.invalid", str(path))


@pytest.mark.parametrize(
    ("source", "func"), [("gcj02", "gcj02_to_wgs84"), ("bd09", "bd09_to_wgs84")]
)
def test_web_map_coordinates_are_converted(tmp_path, source, func):
    gcrs = pytest.importorskip("gridmap.crs")
    path = write_csv(
        tmp_path / "pois.csv", "名称,lng,lat\n卫生站,120.70,31.30\n学校,120.75,31.32\n"
    )
    gdf = read_layer(path, crs=source)
    assert gdf.crs.to_epsg() == 4326
    assert gdf.attrs["coordinate_conversion"] == f"{source}->wgs84"
    assert gdf.attrs["source"]["crs_from"] == "override"
    lon, lat = getattr(gcrs, func)(np.array([120.70, 120.75]), np.array([31.30, 31.32]))
    np.testing.assert_allclose(gdf.geometry.x, lon, atol=1e-9)
    np.testing.assert_allclose(gdf.geometry.y, lat, atol=1e-9)
    assert abs(gdf.geometry.x.iloc[0] - 120.70) > 1e-3  # the offset is real


def test_web_map_crs_on_projected_coordinates(tmp_path):
    pytest.importorskip("gridmap.crs")
    path, _ = _write_gpkg(grids(), tmp_path)
    with pytest.raises(InputError, match="不可能是 GCJ02") as excinfo:
        read_layer(path, crs="gcj02")
    assert problem(excinfo).code == "crs.conflict"


# --------------------------------------------------------------------------- failures


def test_missing_file(tmp_path):
    path = tmp_path / "nothing.gpkg"
    with pytest.raises(InputError, match="找不到文件") as excinfo:
        read_layer(path)
    p = problem(excinfo)
    assert (p.code, p.file, p.severity) == ("file.missing", str(path), "error")


def test_missing_file_suggests_a_similar_name(tmp_path):
    _write_gpkg(grids(), tmp_path)
    with pytest.raises(InputError) as excinfo:
        read_layer(tmp_path / "GRIDS.gpkg")
    assert "grids.gpkg" in problem(excinfo).fix


def test_unknown_extension(tmp_path):
    path = tmp_path / "plan.dwg"
    path.write_bytes(b"AC1032")
    with pytest.raises(InputError, match="不支持的文件类型 '.dwg'") as excinfo:
        read_layer(path)
    p = problem(excinfo)
    assert p.code == "file.format"
    assert ".gpkg" in p.message and ".csv" in p.message


@pytest.mark.parametrize(
    "name",
    ["broken.gpkg", "broken.geojson", "broken.fgb", "broken.parquet", "broken.xlsx", "broken.zip"],
)
def test_unreadable_file_wraps_the_error(tmp_path, name):
    path = tmp_path / name
    path.write_text("this is not what the extension says")
    with pytest.raises(InputError, match="无法读取文件") as excinfo:
        read_layer(path)
    p = problem(excinfo)
    assert p.code == "file.unreadable"
    assert p.file == str(path)
    assert p.extra["error"]


@pytest.mark.parametrize("sidecar", [".dbf", ".shx"])
def test_shapefile_missing_sidecar(tmp_path, sidecar):
    path = write_shapefile(grids(), tmp_path / "grids.shp")
    path.with_suffix(sidecar).unlink()
    with pytest.raises(InputError, match=sidecar.replace(".", r"\.")) as excinfo:
        read_layer(path)
    assert problem(excinfo).code == "file.unreadable"


def test_xy_options_on_a_layer_with_geometry(tmp_path):
    path, _ = _write_gpkg(grids(), tmp_path)
    with pytest.raises(InputError, match="x=/y=") as excinfo:
        read_layer(path, x="lon", y="lat")
    assert problem(excinfo).code == "coordinates.unexpected"


def test_options_are_keyword_only(tmp_path):
    path, _ = _write_gpkg(grids(), tmp_path)
    with pytest.raises(TypeError):
        read_layer(path, "网格")  # the layer must be named: layer=
