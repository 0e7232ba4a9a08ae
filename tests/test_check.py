"""End to end on tiny studies: read → validate → assign → rules → contract outputs."""

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import X0, Y0, make_layers
from shapely import Point, box

import gridmap
from gridmap import InputError


def _write(tmp_path, comm, grids, hh):
    path = tmp_path / "study.gpkg"
    comm.to_file(path, layer="社区")
    grids.to_file(path, layer="网格")
    hh.to_file(path, layer="楼栋")
    return path


def test_check_counts_and_statuses(tmp_path):
    comm, grids, hh = make_layers(coordinators=(2, 1))  # 甲1: 500 户, 2 协理员
    path = _write(tmp_path, comm, grids, hh)
    study = gridmap.read_study(f"{path}:社区", grids=f"{path}:网格", households=f"{path}:楼栋")
    result = gridmap.check(study)
    c = result.communities
    assert c.loc["330106001001", "households"] == 1200
    assert c.loc["330106001002", "households"] == 2000
    assert c.loc["330106001001", "grids"] == 2
    g = result.grids
    # 甲2 has 700 户 → 3 coordinators required, it has 1
    assert g.loc["330106001001002", "coordinators_required"] == 3
    assert g.loc["330106001001002", "status"] == "fail"
    assert g.loc["330106001001001", "status"] == "pass"
    f = result.findings
    row = f[(f.unit_id == "330106001001002") & (f.rule_id == "grid.coordinators")].iloc[0]
    assert row.message == "需增配 2 名协理员"
    s = result.summary()
    assert s["households_total"] == 3200 and s["households_unassigned"] == 0


def test_contract_outputs(tmp_path, layers):
    path = _write(tmp_path, *layers)
    result = gridmap.check(
        gridmap.read_study(f"{path}:社区", grids=f"{path}:网格", households=f"{path}:楼栋")
    )
    out = tmp_path / "out"
    written = result.to_dir(out)
    assert {
        "communities.csv",
        "grids.csv",
        "findings.csv",
        "result.gpkg",
        "summary.json",
        "problems.csv",
    } <= set(written)
    comm = pd.read_csv(out / "communities.csv", dtype={"community_id": str})
    assert list(comm.columns[:7]) == [
        "community_id",
        "name",
        "households",
        "grids",
        "coordinators",
        "coordinators_required",
        "status",
    ]
    grids = pd.read_csv(out / "grids.csv", dtype={"grid_id": str})
    assert list(grids.columns[:6]) == [
        "grid_id",
        "community_id",
        "households",
        "coordinators",
        "coordinators_required",
        "status",
    ]
    findings = pd.read_csv(out / "findings.csv")
    assert list(findings.columns[:10]) == [
        "level",
        "unit_id",
        "unit_name",
        "rule_id",
        "value",
        "threshold",
        "status",
        "gap",
        "message",
        "source",
    ]
    assert set(findings.status) <= {"pass", "fail", "not_assessed"}
    layers_out = set(gpd.list_layers(out / "result.gpkg")["name"])
    assert {"communities", "grids", "findings"} <= layers_out
    back = gpd.read_file(out / "result.gpkg", layer="communities")
    assert back.crs.equals(result.study.crs) and len(back) == 2
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["communities"] == 2
    assert not list(out.glob(".gridmap-*")), "staging folder left behind"


def test_failed_run_leaves_earlier_results_intact(tmp_path, layers, monkeypatch):
    path = _write(tmp_path, *layers)
    result = gridmap.check(
        gridmap.read_study(f"{path}:社区", grids=f"{path}:网格", households=f"{path}:楼栋")
    )
    out = tmp_path / "out"
    result.to_dir(out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(gridmap.CheckResult, "to_gpkg", boom)
    with pytest.raises(OSError):
        result.to_dir(out)
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before


def test_inputs_are_never_modified(tmp_path, layers):
    path = _write(tmp_path, *layers)
    before = path.read_bytes()
    gridmap.check(
        gridmap.read_study(f"{path}:社区", grids=f"{path}:网格", households=f"{path}:楼栋")
    ).to_dir(tmp_path / "o")
    assert path.read_bytes() == before


def test_households_as_grid_attribute():
    comm, grids, _ = make_layers()
    grids = grids.assign(户数=["250", "301", "1,200", "800"])
    result = gridmap.check(gridmap.read_study(comm, grids=grids))
    assert result.communities.loc["330106001001", "households"] == 551
    assert result.grids.loc["330106001001002", "coordinators_required"] == 2


def test_unassigned_and_outside_grid_households_reported_not_dropped():
    comm, grids, hh = make_layers()
    grids = grids.iloc[[0, 2, 3]]  # 甲2 missing: its households go straight to 甲社区
    extra = gpd.GeoDataFrame({"户数": ["55"]}, geometry=[Point(X0 + 5000, Y0)], crs=4549)
    hh = pd.concat([hh, extra], ignore_index=True)
    result = gridmap.check(gridmap.read_study(comm, grids=grids, households=hh))
    assert result.communities.loc["330106001001", "households"] == 1200
    s = result.summary()
    assert s["households_total"] == 3255 and s["households_unassigned"] == 55
    qa = result.findings[result.findings.rule_id.str.startswith("qa.households")]
    assert set(qa.rule_id) == {"qa.households.outside_grids", "qa.households.unassigned"}


def test_grid_qa_mismatch_straddle_and_code_prefix():
    comm, grids, hh = make_layers()
    grids = grids.copy()
    grids.loc[0, "所属社区"] = "乙社区"  # attribute says 乙, geometry is in 甲
    grids.loc[2, "网格编码"] = "330106001009001"  # prefix of a community that does not contain it
    grids.loc[3, "geometry"] = box(
        X0 + 1500, Y0, X0 + 2400, Y0 + 1000
    )  # 4/9 outside every community
    result = gridmap.check(gridmap.read_study(comm, grids=grids, households=hh))
    qa = result.findings[result.findings.rule_id.str.startswith("qa.")]
    assert qa[qa.rule_id == "qa.grid.community_mismatch"].unit_id.tolist() == ["330106001001001"]
    assert qa[qa.rule_id == "qa.grid.code_prefix"].unit_id.tolist() == ["330106001009001"]
    assert qa[qa.rule_id == "qa.grid.partly_outside"].unit_id.tolist() == ["330106001002002"]


def test_community_overlap_and_gap_areas():
    comm, grids, hh = make_layers()
    comm = comm.copy()
    # 甲 overlaps 乙 by 10 x 1000 m; a 100 x 100 hole inside 乙
    comm.loc[0, "geometry"] = box(X0, Y0, X0 + 1010, Y0 + 1000)
    comm.loc[1, "geometry"] = box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000).difference(
        box(X0 + 1400, Y0 + 400, X0 + 1500, Y0 + 500)
    )
    result = gridmap.check(gridmap.read_study(comm, grids=grids, households=hh))
    f = result.findings
    assert f[f.rule_id == "qa.community.overlap"].value.iloc[0] == pytest.approx(10_000)
    assert f[f.rule_id == "qa.community.gap"].value.iloc[0] == pytest.approx(10_000)


def test_unusable_input_raises_one_report_with_everything():
    comm, grids, hh = make_layers()
    comm = comm.rename(columns={"社区编码": "CODE_X"})
    grids = grids.drop(columns=["网格编码"])
    with pytest.raises(InputError) as err:
        gridmap.read_study(comm, grids=grids, households=hh)
    codes = [p.code for p in err.value.problems if p.severity == "error"]
    assert codes.count("column.missing") == 2
    text = str(err.value)
    assert "社区编码" in text and "网格编码" in text and "mapping=" in text


def test_layers_that_do_not_overlap_are_an_error_with_a_hint():
    comm, grids, hh = make_layers()
    far = grids.set_crs(4549, allow_override=True).translate(xoff=300_000)  # wrong GK zone
    with pytest.raises(InputError, match="不重叠"):
        gridmap.read_study(
            comm, grids=gpd.GeoDataFrame(grids.drop(columns="geometry"), geometry=far)
        )


def test_missing_crs_is_an_error_naming_the_fix():
    comm, grids, hh = make_layers()
    with pytest.raises(InputError, match="crs="):
        gridmap.read_study(comm.set_crs(None, allow_override=True))


def test_crs_override_states_the_coordinates():
    comm, grids, hh = make_layers()
    study = gridmap.read_study(comm.set_crs(None, allow_override=True), crs="EPSG:4549")
    assert study.crs.to_epsg() == 4549


def test_mixed_crs_layers_are_reprojected_and_reported():
    comm, grids, hh = make_layers()
    study = gridmap.read_study(comm, grids=grids.to_crs(4490), households=hh)
    assert study.grids.crs.equals(study.crs)
    assert any(p.code == "crs.reprojected" for p in study.problems)
    result = gridmap.check(study)
    assert result.communities.loc["330106001002", "households"] == 2000


def test_geographic_communities_get_a_gk_zone():
    comm, grids, hh = make_layers()
    study = gridmap.read_study(comm.to_crs(4490), grids=grids.to_crs(4490))
    assert study.crs.to_epsg() == 4549
    areas = study.communities.area
    assert np.allclose(areas, 1_000_000, rtol=1e-3)


def test_explicit_mapping_and_bad_mapping():
    comm, grids, hh = make_layers()
    hh = hh.rename(columns={"户数": "HH_2023"})
    study = gridmap.read_study(comm, grids=grids, households=hh, mapping=["households=HH_2023"])
    assert gridmap.check(study).communities["households"].sum() == 3200
    with pytest.raises(InputError, match="HH_2024"):
        gridmap.read_study(comm, grids=grids, households=hh, mapping=["households=HH_2024"])


def test_dirty_counts_cleaned_or_reported_with_row():
    comm, grids, hh = make_layers()
    hh = hh.assign(户数=["1,200", "３００", "约300", "-5"])
    study = gridmap.read_study(comm, grids=grids, households=hh)
    bad = [p for p in study.problems if p.code == "value.households"]
    assert [(p.row, p.column) for p in bad] == [(3, "户数"), (4, "户数")]
    assert "约300" in bad[0].message
    assert gridmap.check(study).summary()["households_total"] == 1500


def test_invalid_geometry_repaired_and_reported():
    comm, grids, hh = make_layers()
    bowtie = gpd.GeoSeries.from_wkt(
        [
            f"POLYGON(({X0} {Y0}, {X0 + 1000} {Y0 + 1000}, {X0 + 1000} {Y0}, {X0} {Y0 + 1000}, {X0} {Y0}))"
        ],
        crs=4549,
    )
    comm = comm.copy()
    comm.loc[0, "geometry"] = bowtie.iloc[0]
    study = gridmap.read_study(comm, grids=grids, households=hh)
    assert study.communities.geometry.is_valid.all()
    rep = [p for p in study.problems if p.code == "geometry.repaired"]
    assert rep and rep[0].row == 1


def test_duplicate_ids_are_disambiguated_and_reported():
    comm, grids, hh = make_layers()
    comm = comm.assign(社区编码=["330106001001", "330106001001"])
    study = gridmap.read_study(comm, grids=grids, households=hh)
    assert study.communities.index.tolist() == ["330106001001", "330106001001-2"]
    dup = [p for p in study.problems if p.code == "id.duplicate"]
    assert dup and "甲社区" in dup[0].message and dup[0].row == 1


def test_multipart_units_are_reported():
    comm, grids, hh = make_layers()
    grids = grids.copy()
    grids.loc[0, "geometry"] = box(X0, Y0, X0 + 200, Y0 + 1000).union(
        box(X0 + 300, Y0, X0 + 500, Y0 + 1000)
    )
    f = gridmap.check(gridmap.read_study(comm, grids=grids, households=hh)).findings
    row = f[f.rule_id == "qa.grid.multipart"]
    assert row.unit_id.tolist() == ["330106001001001"]
    assert "2 个不相连" in row.message.iloc[0]


def test_grid_attribute_households_outside_every_community_count_in_the_total():
    comm, grids, _ = make_layers()
    far = gpd.GeoDataFrame(
        {
            "网格编码": ["330106001009001"],
            "网格名称": ["飞地"],
            "所属社区": ["丙社区"],
            "协理员人数": [1],
        },
        geometry=[box(X0 + 3000, Y0, X0 + 3500, Y0 + 1000)],
        crs=4549,
    )
    grids = pd.concat([grids, far], ignore_index=True).assign(
        户数=["250", "301", "1,200", "800", "400"]
    )
    s = gridmap.check(gridmap.read_study(comm, grids=grids)).summary()
    assert (
        s["households_total"] == 2951
        and s["households_assigned"] == 2551
        and s["households_unassigned"] == 400
    )


def _gpkg_rows(path, layer):
    import pyogrio

    frame = pyogrio.read_dataframe(path, layer=layer, fid_as_index=True)
    return frame.to_wkb() if "geometry" in frame.columns else frame


def test_to_gpkg_in_chunks_appended_equals_the_whole(tmp_path):
    """``to_gpkg(append=True)``: a result written chunk by chunk gives the whole result's rows,
    fields, geometry types and styles; ``layers=`` writes only those."""
    import sqlite3
    from dataclasses import replace

    import pyogrio

    from gridmap import datasets

    result = gridmap.check(gridmap.read_study(**datasets.demo_config()))
    whole = result.to_gpkg(tmp_path / "whole.gpkg")
    chunked = tmp_path / "chunked.gpkg"
    kinds = {
        layer: pyogrio.read_info(whole, layer=layer)["geometry_type"]
        for layer in ("communities", "grids")
    }
    assert "MultiPolygon" in kinds.values()  # and the first chunk holds polygons only
    for k, (lo, hi) in enumerate([(0, 3), (3, None)]):
        part = replace(
            result,
            communities=result.communities.iloc[lo:hi],
            grids=result.grids.iloc[lo * 4 : None if hi is None else hi * 4],
            findings=result.findings.iloc[lo * 50 : None if hi is None else hi * 50],
            facilities=result.facilities.iloc[lo:hi],
        )
        rows = ["communities", "grids", "facilities", "findings"] if k else None  # coverage once
        part.to_gpkg(chunked, layers=rows, append=True, geometry_types=kinds)  # 1st: new file
    names = [name for name, _ in pyogrio.list_layers(whole)]
    assert names == [name for name, _ in pyogrio.list_layers(chunked)]
    assert {"coverage_gaps", "findings", "grids"} <= set(names)
    for layer in set(names) - {"layer_styles"}:  # the styles: compared below
        pd.testing.assert_frame_equal(_gpkg_rows(chunked, layer), _gpkg_rows(whole, layer))
        assert (
            pyogrio.read_info(chunked, layer=layer)["geometry_type"]
            == (pyogrio.read_info(whole, layer=layer)["geometry_type"])
        )
    query = "SELECT f_table_name, styleQML FROM layer_styles ORDER BY 1"
    with sqlite3.connect(chunked) as db, sqlite3.connect(whole) as db_whole:
        assert db.execute(query).fetchall() == db_whole.execute(query).fetchall()
    only = result.to_gpkg(tmp_path / "only.gpkg", layers=["findings"])
    assert [name for name, _ in pyogrio.list_layers(only)] == ["findings"]
    with pytest.raises(ValueError, match="unknown"):
        result.to_gpkg(tmp_path / "x.gpkg", layers=["网格"])
