"""Bad input is never silently wrong: config typos, empty layers, implausible counts, broken rings, web-map offsets."""

import struct

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import Point

import gridmap
from gridmap import InputError, datasets
from gridmap.cli import main
from gridmap.columns import PLAUSIBLE_MAX, clean_counts
from gridmap.crs import from_geographic
from gridmap.io import read_layer
from gridmap.study import load_config
from tests.conftest import X0, Y0, make_layers


def _codes(exc) -> list[str]:
    return [p.code for p in exc.value.problems]


# ---------------------------------------------------------------- config keys
@pytest.mark.parametrize(
    ("text", "wrong", "right"),
    [
        ('[study]\nprofle = "hangzhou-2008"\n', "profle", "profile"),
        ('[stduy]\nprofile = "hangzhou-2008"\n', "stduy", "study"),
        ('[layers]\ncomunities = "x.gpkg"\n', "comunities", "communities"),
        ('[layers]\ncommunities = { path = "x.gpkg", layr = "社区" }\n', "layr", "layer"),
        ('[map.grid]\ncoordinators = "网格员"\n', "grid", "grids"),
    ],
)
def test_unknown_config_key_is_an_error_suggesting_the_closest(tmp_path, text, wrong, right):
    cfg = tmp_path / "gridmap.toml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_config(cfg)
    p = exc.value.problems[0]
    assert p.code == "config.unknown_key" and p.file == str(cfg)
    assert repr(wrong) in p.message and repr(right) in p.fix


def test_every_documented_dashboard_key_is_accepted(tmp_path):
    """The keys `gridmap serve` reads ([dashboard] threads, running) are not 'unknown' to check."""
    cfg = tmp_path / "gridmap.toml"
    cfg.write_text('[dashboard]\nthreads = 8\nrunning = 2\nallowed_hosts = ["a.local"]\n')
    load_config(cfg)  # no InputError: every key is known
    cfg.write_text("[dashboard]\nrunnig = 2\n")
    with pytest.raises(InputError) as exc:
        load_config(cfg)
    assert "'running'" in exc.value.problems[0].fix


def test_config_typo_exits_2_on_the_cli(tmp_path, capsys):
    cfg = tmp_path / "gridmap.toml"
    cfg.write_text(
        datasets.demo_config_toml(str(datasets.get_path("demo"))).replace("profile =", "profle ="),
        encoding="utf-8",
    )
    assert main(["check", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "profle" in err and "'profile'" in err


def test_the_demo_config_has_only_known_keys(tmp_path):
    cfg = tmp_path / "gridmap.toml"
    cfg.write_text(datasets.demo_config_toml(str(datasets.get_path("demo"))), encoding="utf-8")
    assert load_config(cfg)["facilities_crs"] == "gcj02"


# ---------------------------------------------------------------- empty layers
def test_households_csv_with_a_header_and_no_rows_is_an_error(layers, tmp_path, capsys):
    comm, grids, _ = layers
    csv = tmp_path / "households.csv"
    csv.write_text("经度,纬度,户数\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        gridmap.read_study(comm, grids, households=str(csv))
    assert "layer.empty" in _codes(exc)
    gpkg = tmp_path / "study.gpkg"
    comm.to_file(gpkg, layer="communities")
    assert main(["check", "--communities", f"{gpkg}:communities", "--households", str(csv)]) == 2
    assert "households.csv" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["communities", "households", "grids"])
def test_empty_geopackage_layer_is_an_error_naming_file_and_layer(layers, tmp_path, kind):
    comm, grids, hh = layers
    frames = {"communities": comm, "grids": grids, "households": hh}
    gpkg = tmp_path / "empty.gpkg"
    frames[kind].iloc[:0].to_file(gpkg, layer="empty")
    args = {**frames, kind: f"{gpkg}:empty"}
    with pytest.raises(InputError) as exc:
        gridmap.read_study(**args)
    p = next(p for p in exc.value.problems if p.code == "layer.empty")
    assert p.file.endswith("empty.gpkg") and p.layer == "empty"


def test_households_without_any_usable_count_is_an_error(layers):
    comm, grids, hh = layers
    hh = hh.assign(户数=["约300", "", "?", None])
    with pytest.raises(InputError) as exc:
        gridmap.read_study(comm, grids, households=hh)
    assert "value.households.none" in _codes(exc)


# ---------------------------------------------------------------- implausible counts
def test_implausible_household_count_is_reported_and_excluded(layers):
    comm, grids, hh = layers
    study = gridmap.read_study(comm, grids, households=hh.assign(户数=[500, 1e12, 1200, 800]))
    bad = [p for p in study.problems if p.code == "value.households.implausible"]
    assert (
        len(bad) == 1 and bad[0].row == 2 and bad[0].column == "户数" and "10,000" in bad[0].message
    )
    assert np.isnan(study.households["households"].iloc[1])
    s = gridmap.check(study).summary()
    assert s["households_total"] == 2500  # 1e12 is never summed


def test_implausible_grid_attribute_is_not_assessed(layers):
    comm, grids, _ = layers
    grids = grids.assign(户数=[400, 250_000, 300, 300])
    study = gridmap.read_study(comm, grids)
    bad = [p for p in study.problems if p.code == "value.households.implausible"]
    assert [p.row for p in bad] == [2] and "100,000" in bad[0].message
    assert np.isnan(study.grids["households"].iloc[1])


def test_implausible_row_in_a_csv_names_the_spreadsheet_row(layers, tmp_path):
    comm, grids, _ = layers
    csv = tmp_path / "楼栋.csv"
    csv.write_text(
        f"x,y,户数\n{X0 + 250},{Y0 + 500},80\n{X0 + 260},{Y0 + 500},99999\n", encoding="utf-8"
    )
    study = gridmap.read_study(comm, grids, households={"path": str(csv), "crs": "EPSG:4549"})
    bad = next(p for p in study.problems if p.code == "value.households.implausible")
    assert bad.row == 3 and "表格第 3 行" in bad.message  # the header is row 1


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 10**13), min_size=1, max_size=30))
def test_counts_above_the_bound_are_excluded_and_below_kept(values):
    limit = PLAUSIBLE_MAX["households"]["households"]
    clean, bad = clean_counts(pd.Series(values, dtype="float64"), maximum=limit)
    v = np.array(values, dtype=float)
    assert (clean[v <= limit] == v[v <= limit]).all()
    assert clean[v > limit].isna().all()
    assert sorted(b[0] for b in bad) == list(np.flatnonzero(v > limit))


# ---------------------------------------------------------------- rings GEOS refuses
def _poly_wkb(points) -> bytes:
    return (
        struct.pack("<bII", 1, 3, 1)
        + struct.pack("<I", len(points))
        + b"".join(struct.pack("<dd", *p) for p in points)
    )


def _write(path, rings):
    table = pa.table(
        {
            "社区编码": [f"33010600100{i}" for i in range(len(rings))],
            "geom": pa.array([_poly_wkb(r) for r in rings]),
        }
    )
    pyogrio.write_arrow(
        table,
        path,
        layer="communities",
        driver="GPKG",
        geometry_name="geom",
        geometry_type="Polygon",
        crs="EPSG:4549",
    )


SQUARE = [(X0, Y0), (X0 + 1000, Y0), (X0 + 1000, Y0 + 1000), (X0, Y0 + 1000), (X0, Y0)]


def test_two_point_ring_is_reported_and_dropped_not_a_traceback(tmp_path):
    path = tmp_path / "bad.gpkg"
    _write(path, [SQUARE, [(X0, Y0), (X0, Y0)], [(X0, Y0), (X0 + 5, Y0 + 5)]])
    gdf = read_layer(f"{path}:communities")
    assert len(gdf) == 3 and gdf.geometry.iloc[1] is None
    found = {p.code: p for p in gdf.attrs["problems"]}
    assert (
        found["geometry.unreadable"].row == 2
        and found["geometry.unreadable"].layer == "communities"
    )
    assert (
        found["geometry.unclosed"].row == 3
    )  # an unclosed ring is closed, then repaired by validation
    study = gridmap.read_study(str(path))
    assert len(study.communities) == 3
    assert any(p.code == "geometry.unreadable" and p.row == 2 for p in study.problems)


def test_nothing_usable_left_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.gpkg"
    _write(path, [[(X0, Y0), (X0, Y0)]])
    assert main(["check", "--communities", str(path)]) == 2
    err = capsys.readouterr().err
    assert "layer.no_geometry" in err and "bad.gpkg" in err


# ---------------------------------------------------------------- web-map offsets
def _demo_with_gcj02_households():
    cfg = datasets.demo_config()
    spec = cfg["households"]
    hh = read_layer(spec["path"], layer=spec["layer"])
    cfg["households"] = from_geographic(
        hh.to_crs(4326), "gcj02"
    )  # GCJ-02 coordinates labelled EPSG:4326
    return cfg


def test_gcj02_households_labelled_wgs84_get_a_hint_naming_the_fix():
    cfg = _demo_with_gcj02_households()
    study = gridmap.read_study(**cfg)
    hint = next(
        p
        for p in study.problems
        if p.code == "crs.maybe_gcj02" and p.extra.get("kind") == "households"
    )
    assert hint.severity == "warning"
    assert hint.extra["outside_before"] > 0.10 and hint.extra["outside_after"] < 0.01
    assert 100 < hint.extra["shift_m"] < 700
    assert 'households_crs="gcj02"' in hint.fix and "GCJ-02" in hint.message
    # following the advice removes the warning and the unassigned households
    fixed = gridmap.read_study(**cfg, households_crs="gcj02")
    assert not any(
        p.code == "crs.maybe_gcj02" and p.extra.get("kind") == "households" for p in fixed.problems
    )
    before, after = gridmap.check(study).summary(), gridmap.check(fixed).summary()
    assert before["households_unassigned"] > 0.1 * before["households_total"]
    assert after["households_unassigned"] < 0.01 * after["households_total"]


def test_no_offset_hint_on_correct_data():
    study = gridmap.read_study(**datasets.demo_config())
    assert not any(p.code == "crs.maybe_gcj02" for p in study.problems)
    cfg = datasets.demo_config()
    spec = cfg["households"]
    cfg["households"] = read_layer(spec["path"], layer=spec["layer"]).to_crs(4326)  # true WGS84
    assert not any(p.code == "crs.maybe_gcj02" for p in gridmap.read_study(**cfg).problems)


def test_bd09_facilities_are_recognised_as_bd09():
    cfg = datasets.demo_config()
    spec = cfg["facilities"]
    wgs = read_layer(spec["path"], layer=spec["layer"], crs="gcj02")
    # spread the facilities over the communities so many of them leave it when shifted
    comm = gridmap.read_study(**datasets.demo_config()).communities
    pts = comm.geometry.sample_points(20, rng=0).explode(index_parts=False)
    fac = gpd.GeoDataFrame(
        {"类型": [wgs["类型"].iloc[0]] * len(pts)}, geometry=list(pts.values), crs=comm.crs
    )
    cfg["facilities"] = from_geographic(fac.to_crs(4326), "bd09")
    cfg.pop("facilities_crs")
    study = gridmap.read_study(**cfg)
    hint = [p for p in study.problems if p.code == "crs.maybe_gcj02"]
    assert len(hint) == 1 and hint[0].extra["crs"] == "bd09"
    assert 'facilities_crs="bd09"' in hint[0].fix


def test_outside_households_without_an_offset_get_no_hint(layers):
    comm, grids, hh = layers
    far = gpd.GeoDataFrame(
        {"户数": [100, 200]}, geometry=[Point(X0 + 5000, Y0), Point(X0 - 3000, Y0)], crs=4549
    )
    hh = pd.concat([hh, far], ignore_index=True).to_crs(4326)
    study = gridmap.read_study(comm, grids, households=hh)
    assert not any(p.code == "crs.maybe_gcj02" for p in study.problems)


def test_make_layers_still_reads():
    comm, grids, hh = make_layers()
    assert len(gridmap.read_study(comm, grids, households=hh).households) == 4


def test_two_point_ring_in_geoparquet_is_reported(tmp_path, layers):
    import json

    import pyarrow.parquet as pq

    comm = layers[0]
    path = tmp_path / "communities.parquet"
    comm.to_parquet(path)
    table = pq.read_table(path)
    wkb = pa.array([_poly_wkb(SQUARE), _poly_wkb([(X0, Y0), (X0, Y0)])])
    table = table.set_column(table.schema.get_field_index("geometry"), "geometry", wkb)
    pq.write_table(table, path)
    assert json.loads(table.schema.metadata[b"geo"])["primary_column"] == "geometry"
    gdf = read_layer(path)
    assert gdf.crs.to_epsg() == 4549 and gdf.geometry.iloc[1] is None
    assert [(p.code, p.row) for p in gdf.attrs["problems"]] == [("geometry.unreadable", 2)]


def test_dashboard_section_is_known_and_checked(tmp_path):
    cfg = tmp_path / "gridmap.toml"
    cfg.write_text('[dashboard]\nworkspace = "plans.gpkg"\n', encoding="utf-8")
    load_config(cfg)
    cfg.write_text('[dashboard]\nbasemp = "https://t/{z}/{x}/{y}.png"\n', encoding="utf-8")
    with pytest.raises(InputError, match="basemap"):
        load_config(cfg)


def test_communities_traced_on_a_web_map_are_named_as_the_culprit():
    cfg = datasets.demo_config()
    spec = cfg["communities"]
    comm = read_layer(spec["path"], layer=spec["layer"])
    cfg["communities"] = from_geographic(comm.to_crs(4326), "gcj02")
    hh = cfg["households"]
    cfg["households"] = read_layer(hh["path"], layer=hh["layer"]).to_crs(4326)  # true WGS84
    study = gridmap.read_study(**cfg)
    hints = [p for p in study.problems if p.code == "crs.maybe_gcj02"]
    assert (
        len(hints) == 1
        and hints[0].extra["kind"] == "communities"
        and hints[0].extra["crs"] == "gcj02"
    )
    assert (
        'communities = { path = "…", crs = "gcj02" }' in hints[0].fix
        and "社区图层很可能是 GCJ-02" in hints[0].message
    )


# ---------------------------------------------------------------- community type (社区类型)
def _four_communities(types):
    from shapely import box

    return gpd.GeoDataFrame(
        {"社区编码": [f"c{i}" for i in range(len(types))], "社区类型": types},
        geometry=[
            box(X0 + 1000 * i, Y0, X0 + 1000 * (i + 1), Y0 + 1000) for i in range(len(types))
        ],
        crs=4549,
    )


def test_unrecognised_community_types_are_warned_with_their_rows(tmp_path):
    path = tmp_path / "c.gpkg"
    _four_communities(["城市", "城中村", "", "农村", "城中村", "urban", "城镇社区"]).to_file(
        path, layer="社区", engine="pyogrio"
    )
    study = gridmap.read_study(f"{path}:社区")
    warned = [p for p in study.problems if p.code == "value.type.unrecognised"]
    assert len(warned) == 2  # one per value: 城中村 (rows 2 and 5) and the blank (row 3)
    by_value = {p.extra["value"]: p for p in warned}
    p = by_value["城中村"]
    assert (p.severity, p.file, p.layer, p.column) == ("warning", str(path), "社区", "社区类型")
    assert p.extra["rows"] == [2, 5] and p.row == 2
    assert "“城中村”" in p.message and "第 2、5 条记录" in p.message
    assert "城市" in p.fix and "农村" in p.fix
    assert by_value[""].extra["rows"] == [3] and "为空" in by_value[""].message
    # recognised spellings (城镇社区, urban) are not warned about
    assert not any(p.extra["value"] in ("urban", "城镇社区") for p in warned)


def test_community_type_warning_names_the_spreadsheet_row():
    from gridmap.validation import prepare_layer

    raw = _four_communities(["农村", "混合"])
    raw.attrs["source"] = {"file": "社区.xlsx", "layer": "Sheet1", "format": "xlsx"}
    _, problems = prepare_layer(raw, "communities")
    (p,) = [p for p in problems if p.code == "value.type.unrecognised"]
    assert "（表格第 3 行）" in p.message and p.file == "社区.xlsx"
    assert p.row == 3 and p.extra["rows"] == [3]  # the row Excel shows: the header is row 1
    raw.attrs["source"] = {"file": "社区.gpkg", "layer": "社区", "format": "gpkg"}
    _, problems = prepare_layer(raw, "communities")
    (p,) = [p for p in problems if p.code == "value.type.unrecognised"]
    assert "（第 2 条记录）" in p.message and p.row == 2  # a GIS layer: the 1-based record


def test_recognised_community_types_give_no_warning():
    from gridmap.validation import prepare_layer

    _, problems = prepare_layer(_four_communities(["城市", "农村", "rural", "村"]), "communities")
    assert not [p for p in problems if p.code == "value.type.unrecognised"]
