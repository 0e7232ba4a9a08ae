"""The GIS files' bytes, without the GIS programs (issue #15): fast, in the default run.

GeoPackage version and triggers, the ``layer_styles`` table, DBF language-driver byte read
back without the ``.cpg``, characters GBK holds kept, field names every GIS accepts, the
``.qml``/``.sld`` beside each Shapefile.
"""

from __future__ import annotations

import re
import sqlite3
import xml.etree.ElementTree as ET
from contextlib import closing

import geopandas as gpd
import pyogrio
import pytest
import shapely

from gridmap import report
from gridmap.io.gpkg import field_name, write_gpkg
from gridmap.io.shapefile import write_shapefile
from gridmap.io.styles import gap_style, status_style
from gridmap.labels import STATUS_COLORS, STATUS_ORDER, status_label, tint

VALID_FIELD = re.compile(r"^[^\W\d]\w*$")


@pytest.fixture(scope="module")
def shp_gbk(tmp_path_factory, demo_result):
    folder = tmp_path_factory.mktemp("shp")
    report.export_layers(demo_result, folder)
    return folder


def _sql(path, query):
    with closing(sqlite3.connect(path)) as db:
        return db.execute(query).fetchall()


def test_geopackage_is_version_1_2_with_the_triggers_gdal_3_6_knows(demo_check_out):
    path = demo_check_out / "result.gpkg"
    assert _sql(path, "PRAGMA user_version") == [(10200,)]
    triggers = {
        name for (name,) in _sql(path, "SELECT name FROM sqlite_master WHERE type='trigger'")
    }
    assert {"rtree_communities_geom_update1", "rtree_communities_geom_update3"} <= triggers
    assert not any(t.endswith(("_update6", "_update7")) for t in triggers)
    stamps = [s for (s,) in _sql(path, "SELECT last_change FROM gpkg_contents")]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", s) for s in stamps), stamps


def test_layer_styles_hold_the_report_palette_for_the_unit_layers(demo_check_out):
    rows = _sql(
        demo_check_out / "result.gpkg",
        "SELECT f_table_name, f_geometry_column, styleQML, styleSLD, useAsDefault FROM layer_styles",
    )
    by_table = {r[0]: r for r in rows}
    assert {"communities", "grids", "coverage_gaps"} <= set(by_table)
    _, column, qml, sld, default = by_table["communities"]
    assert column == "geom" and default == 1
    renderer = ET.fromstring(qml.split("\n", 1)[1]).find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "status"
    cats = [(c.get("value"), c.get("label")) for c in renderer.iter("category")]
    assert cats == [(s, status_label(s)) for s in STATUS_ORDER]
    fills = [p.get("v") for p in renderer.iter("prop") if p.get("k") == "color"]
    want = tint(STATUS_COLORS["fail"])
    assert ",".join(str(int(want[i : i + 2], 16)) for i in (1, 3, 5)) + ",255" in fills
    assert "<ogc:Literal>fail</ogc:Literal>" in sld and want in sld


def test_the_styles_follow_the_palette_at_write_time(monkeypatch, tmp_path):
    """A palette retuned in gridmap.labels shows in the next file written."""
    monkeypatch.setitem(STATUS_COLORS, "fail", "#000000")
    gdf = gpd.GeoDataFrame({"status": ["fail"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4547)
    path = write_gpkg(tmp_path / "x.gpkg", {"u": gdf}, styles={"u": status_style()})
    (qml,) = _sql(path, "SELECT styleQML FROM layer_styles")[0]
    grey = int(tint("#000000")[1:3], 16)
    assert f'v="{grey},{grey},{grey},255"' in qml  # the map tint of the new fail colour


def test_dbf_names_its_code_page_and_reads_back_without_the_cpg(shp_gbk, demo_result):
    dbf = shp_gbk / "communities.dbf"
    assert dbf.read_bytes()[29] == 0x4D  # LDID 0x4D: code page 936 (GBK)
    assert (shp_gbk / "communities.cpg").read_text() == "GBK"
    (shp_gbk / "communities.cpg").unlink()
    back = pyogrio.read_dataframe(shp_gbk / "communities.shp")  # GDAL: the LDID alone
    assert set(back["社区名称"]) == set(demo_result.communities["name"])
    assert "不合规" in set(back["状态"])


def test_utf8_shapefile_has_no_ldid_and_says_utf8_in_the_cpg(tmp_path, demo_result):
    report.export_layers(demo_result, tmp_path, encoding="utf-8")
    assert (tmp_path / "communities.dbf").read_bytes()[29] == 0
    assert (tmp_path / "communities.cpg").read_text() == "UTF-8"
    back = pyogrio.read_dataframe(tmp_path / "communities.shp")
    # 社区名称 is 12 bytes in UTF-8: cut to whole characters within the DBF's 10
    assert set(back["社区名"]) == set(demo_result.communities["name"])


def test_gbk_keeps_every_character_it_holds(tmp_path):
    text = "1,000–3,000 户 ≈ 1 个社区 · 面积 20 m²\u00a0"
    gdf = gpd.GeoDataFrame({"说明": [text]}, geometry=[shapely.Point(0, 0)], crs=4547)
    write_shapefile(gdf, tmp_path / "x.shp", encoding="gbk")
    raw = (tmp_path / "x.dbf").read_bytes()
    assert "1,000–3,000 户 ≈ 1 个社区 · 面积 20 m2".encode("gbk") in raw
    back = pyogrio.read_dataframe(tmp_path / "x.shp", encoding="gbk")
    assert back["说明"][0] == "1,000–3,000 户 ≈ 1 个社区 · 面积 20 m2"


def test_demo_gap_layers_keep_the_dash_in_the_dbf(shp_gbk):
    raw = (shp_gbk / "communities.dbf").read_bytes().decode("gbk", errors="replace")
    assert "–" in raw and "1000-3000" not in raw


def test_every_shapefile_has_its_qml_and_sld(shp_gbk):
    for shp in shp_gbk.glob("*.shp"):
        qml = shp.with_suffix(".qml").read_text(encoding="utf-8")
        sld = ET.parse(shp.with_suffix(".sld")).getroot()
        assert sld.tag.endswith("StyledLayerDescriptor"), shp.name
        fields = set(pyogrio.read_info(shp, encoding="gbk")["fields"])
        renderer = ET.fromstring(qml.split("\n", 1)[1]).find("renderer-v2")
        if shp.stem in ("communities", "grids"):
            assert renderer.get("attr") in fields and renderer.get("attr") == "状态"
        else:
            assert renderer.get("type") == "singleSymbol"


def test_result_gpkg_field_names_are_valid_everywhere(demo_check_out):
    for name, _ in pyogrio.list_layers(demo_check_out / "result.gpkg"):
        for field in pyogrio.read_info(demo_check_out / "result.gpkg", layer=name)["fields"]:
            assert VALID_FIELD.match(field), f"{name}.{field}"


def test_field_name_rule():
    assert field_name("coverage:community.coverage.service_station") == (
        "coverage__community_coverage_service_station"
    )
    assert field_name("面积(km²)") == "面积_km²_"
    assert field_name("1st") == "f_1st"


def test_style_geometries():
    point = gap_style(geometry="point").qml()
    assert 'class="SimpleMarker"' in point and "<layerGeometryType>0<" in point
    line = status_style(geometry="line").sld("x")
    assert "LineSymbolizer" in line
    with pytest.raises(ValueError, match="geometry"):
        gap_style(geometry="raster")
