"""Projection (issue #18): projects fill up, the check re-runs per year, violations are predicted."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import Point, box

import gridmap
from gridmap import InputError
from gridmap.change import Ramp, arrivals, forecast_years, parse_years, project, read_projects
from gridmap.cli import main
from tests.conftest import X0, Y0, make_layers

BASE = 2025


def _projects(points, planned, completion, **extra):
    data = {
        "项目名称": [f"项目{i}" for i in range(len(points))],
        "规划户数": planned,
        "计划竣工年份": completion,
        **extra,
    }
    return gpd.GeoDataFrame(data, geometry=list(points), crs=4549)


@pytest.fixture(scope="module")
def demo_projection(demo_study):
    comm = demo_study.communities
    # a passing community (in band today) gets a large estate; another gets a half-full one
    passing = "330106001002"
    pts = [
        comm.geometry[passing].representative_point(),
        comm.geometry.iloc[9].representative_point(),
    ]
    raw = _projects(pts, [1500, 600], [2026, 2024], 入住率=["0", "50%"])
    return project(demo_study, read_projects(raw), [2026, 2028], base_year=BASE)


def test_ramp_and_arrivals():
    assert Ramp.linear(3).fractions == pytest.approx((1 / 3, 2 / 3, 1.0))
    assert Ramp.step().share(np.array([2026, 2027]), 2027).tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="ramp="):
        Ramp((0.5, 0.4, 1.0))
    with pytest.raises(ValueError, match="ramp_years="):
        Ramp.linear(0)
    p = read_projects(
        _projects([Point(0, 0)] * 3, [900, 300, 100], [2027, 2023, 2030], 已入住户数=[0, 150, 0])
    )
    got = {
        y: arrivals(p, y, base_year=BASE, ramp=Ramp.linear(3)).tolist()
        for y in (2025, 2026, 2027, 2029, 2032)
    }
    # 2023 project with 2/3 of its ramp behind it but only half full fills the year after base
    assert got[2025] == [0, 0, 0]
    assert got[2026] == [0, 150, 0]
    assert got[2027] == [300, 150, 0]
    assert got[2029] == [900, 150, 0]
    assert got[2032] == [900, 150, 100]
    assert parse_years("2026-2028") == [2026, 2027, 2028]
    with pytest.raises(ValueError, match="years="):
        parse_years("2030-2026")


def test_projection_conserves_households(demo_projection, demo_result):
    base_total = demo_result.summary()["households_total"]
    hh = demo_projection.households("communities")
    assert hh[BASE].sum() == demo_result.communities["households"].sum()
    # 2028: the 2026 estate is full (1500) and the 2024 one (300 left) too
    assert demo_projection.results[2028].summary()["households_total"] == base_total + 1500 + 300
    assert hh[2028].sum() - hh[BASE].sum() == 1500 + 300
    assert demo_projection.results[2026].summary()["households_total"] == base_total + 500 + 300
    grids = demo_projection.households("grids")
    assert grids[2028].sum() - grids[BASE].sum() == 1800


def test_base_year_reproduces_todays_check(demo_projection, demo_result):
    base = demo_projection.results[BASE]
    a, b = base.summary(), demo_result.summary()
    a.pop("timings_s"), b.pop("timings_s")
    assert a == b
    pd.testing.assert_frame_equal(base.communities_table(), demo_result.communities_table())
    pd.testing.assert_frame_equal(base.grids_table(), demo_result.grids_table())


def test_predicted_violation_first_year(demo_projection, demo_result):
    v = demo_projection.violations()
    size = v[(v["rule_id"] == "community.size") & (v["unit_id"] == "330106001002")]
    today = demo_result.communities.loc["330106001002", "households"]
    assert today + 500 <= 3000 < today + 1500  # in band in 2026, over it in 2028
    assert size["first_year"].tolist() == [2028] and size["new"].all()
    # already failing today: first year is the base year, not new
    old = v[~v["new"]]
    assert len(old) and (old["first_year"] == BASE).all()
    layer = demo_projection.violation_layer()
    assert layer.loc["330106001002", "first_new_violation_year"] == 2028
    assert "community.size" in layer.loc["330106001002", "new_rules"]


def test_project_in_straddling_grid_follows_the_grid():
    comm, grids, hh = make_layers()
    # grid 乙1 reaches 200 m into 甲: it still belongs to 乙 (largest overlap)
    grids.loc[2, "geometry"] = box(X0 + 800, Y0, X0 + 1500, Y0 + 1000)
    grids.loc[1, "geometry"] = box(X0 + 500, Y0, X0 + 800, Y0 + 1000)
    study = gridmap.read_study(comm, grids, hh)
    pt = Point(X0 + 900, Y0 + 500)  # inside 甲 geometrically, inside grid 乙1
    assert comm.geometry[0].contains(pt)
    pr = project(
        study, read_projects(_projects([pt], [400], [2026])), 2027, base_year=BASE, ramp=Ramp.step()
    )
    assert pr.projects["grid_id"].tolist() == ["330106001002001"]
    assert pr.projects["community_id"].tolist() == ["330106001002"]
    hh_by_year = pr.households()
    assert (hh_by_year[2027] - hh_by_year[BASE]).to_dict() == {
        "330106001001": 0,
        "330106001002": 400,
    }


def test_projection_without_households_layer_adds_to_grid_attribute():
    comm, grids, _ = make_layers()
    grids["户数"] = [500, 700, 1200, 800]
    study = gridmap.read_study(comm, grids)
    pr = project(
        study,
        read_projects(_projects([Point(X0 + 250, Y0 + 500)], [300], [2026])),
        2026,
        base_year=BASE,
        ramp=Ramp.step(),
    )
    g = pr.households("grids")
    assert (g[2026] - g[BASE]).tolist() == [300, 0, 0, 0]


def test_bad_projects_are_reported_together():
    raw = _projects([Point(0, 0), Point(1, 1)], ["x", 100], ["2027", "明年"], 已入住户数=[0, 200])
    with pytest.raises(InputError) as exc:
        read_projects(raw)
    codes = [p.message for p in exc.value.problems]
    assert len(codes) == 3, codes
    missing = gpd.GeoDataFrame({"名称": ["a"]}, geometry=[Point(0, 0)], crs=4549)
    with pytest.raises(InputError, match="规划户数"):
        read_projects(missing)


def test_project_errors_name_the_row_as_the_file_shows_it(tmp_path):
    """A table's row as Excel numbers it (header = 1); a GIS layer's 1-based record number.

    The number in the message is the problem's ``row`` (what problems.csv and the CLI show).
    """
    table = tmp_path / "projects.csv"
    table.write_text(
        "项目名称,规划户数,计划竣工年份,x,y\nA,100,2026,500000,3400000\nB,200,明年,500100,3400000\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as exc:
        read_projects(table, crs=4549)
    (p,) = exc.value.problems
    assert p.row == 3 and "表格第 3 行" in p.message and "明年" in p.message
    raw = _projects([Point(0, 0), Point(1, 1), Point(2, 2)], [100, 200, 300], [2026, 2027, "明年"])
    raw.to_file(tmp_path / "p.gpkg", layer="项目", driver="GPKG")
    with pytest.raises(InputError) as exc:
        read_projects(f"{tmp_path / 'p.gpkg'}:项目")
    (p,) = exc.value.problems
    assert (p.row, p.layer) == (3, "项目") and "第 3 条记录" in p.message
    # a GeoDataFrame of the caller's: the record number, or its own labels when they are text
    with pytest.raises(InputError) as exc:
        read_projects(raw)
    assert exc.value.problems[0].row == 3
    with pytest.raises(InputError) as exc:
        read_projects(raw.set_axis(["a", "b", "c"]))
    assert exc.value.problems[0].row == "c" and "行 c" in exc.value.problems[0].message


def test_cli_check_with_projects(tmp_path, demo_check_out, capsys):
    ws = demo_check_out.parent
    comm = gpd.read_file(ws / "demo.gpkg", layer="社区")
    raw = _projects([comm.geometry.iloc[1].representative_point()], [1500], [2026])
    raw.to_file(tmp_path / "projects.gpkg", layer="项目", driver="GPKG")
    out = tmp_path / "f"
    argv = [
        "check",
        str(ws / "gridmap.toml"),
        "--projects",
        str(tmp_path / "projects.gpkg"),
        "--year",
        "2028",
        "--base-year",
        str(BASE),
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "2028" in text and "预测" in text
    assert {"2025", "2028", "predicted_violations.csv", "projection.gpkg"} <= {
        p.name for p in out.iterdir()
    }
    s = json.loads((out / "projection.json").read_text("utf-8"))
    assert s["years"]["2028"]["households_total"] == s["years"]["2025"]["households_total"] + 1500
    assert (out / "2028" / "summary.json").exists()
    table = pd.read_csv(out / "predicted_violations.csv", encoding="utf-8-sig")
    assert "首次违规年份" in table.columns
    assert main(argv[:-2] + ["--year", "2020"]) == 2
    assert "--base-year" in capsys.readouterr().err


def test_cli_check_projects_without_year_runs_until_every_project_is_full(
    tmp_path, demo_check_out, capsys
):
    """``--projects`` alone: the years of :func:`gridmap.change.forecast_years`, as in the report.

    ``--year`` alone takes the config's ``[study] projects``; with no projects anywhere it is a
    misuse (exit 2, the message names both flags and the config key).
    """
    ws = demo_check_out.parent
    comm = gpd.read_file(ws / "demo.gpkg", layer="社区")
    raw = _projects([comm.geometry.iloc[1].representative_point()], [1500], [2027])
    raw.to_file(tmp_path / "projects.gpkg", layer="项目", driver="GPKG")
    config = str(ws / "gridmap.toml")
    base = ["--base-year", str(BASE), "--json"]
    assert main(["check", config, "--projects", str(tmp_path / "projects.gpkg"), *base]) == 0
    s = json.loads(capsys.readouterr().out)
    expected = forecast_years(read_projects(tmp_path / "projects.gpkg"), BASE, Ramp.linear(3))
    assert [int(y) for y in s["years"]] == expected == list(range(2025, 2031))
    assert s["projects"] == 1
    # --year alone: the config's projects (the demo's 在建项目 layer)
    assert main(["check", config, "--year", "2026", *base]) == 0
    s = json.loads(capsys.readouterr().out)
    assert list(s["years"]) == ["2025", "2026"]
    assert s["projects"] == len(read_projects(f"{ws / 'demo.gpkg'}:在建项目")) > 1
    # no projects anywhere: --year is a misuse
    plain = tmp_path / "plain.toml"
    text = (ws / "gridmap.toml").read_text(encoding="utf-8")
    plain.write_text(
        text.replace("\nprojects = ", "\n# projects = ").replace('"demo.gpkg', f'"{ws}/demo.gpkg'),
        encoding="utf-8",
    )
    assert main(["check", str(plain), "--year", "2028"]) == 2
    err = capsys.readouterr().err
    assert "--year" in err and "--projects" in err and "[study] projects" in err


def test_project_outside_grids_with_grid_attribute_counts_is_reported():
    comm, grids, _ = make_layers()
    grids["户数"] = [500, 700, 1200, 800]
    study = gridmap.read_study(comm, grids.iloc[:3])  # 乙2's ground has no grid
    raw = _projects([Point(X0 + 1750, Y0 + 500)], [300], [2026])
    pr = project(study, read_projects(raw), 2026, base_year=BASE, ramp=Ramp.step())
    assert [p.code for p in pr.problems] == ["projects.outside_grids"]
    assert pr.households("grids")[2026].sum() == pr.households("grids")[BASE].sum()


def test_later_years_share_the_network_and_service_areas_and_match_a_fresh_check(
    demo_study, demo_result
):
    """The years share what does not change (network, service areas), and nothing else.

    A later year's result equals ``gridmap.check`` run from scratch on that year's study, and
    today's check passed as ``today=`` is the base year's result itself (not recomputed).
    """
    comm = demo_study.communities
    raw = _projects([comm.geometry["330106001002"].representative_point()], [1500], [2026])
    pr = project(
        demo_study,
        read_projects(raw),
        [2027],
        base_year=BASE,
        ramp=Ramp.step(),
        profile=demo_result.profile,
        today=demo_result,
    )
    assert pr.results[BASE] is demo_result
    later, base = pr.results[2027].coverage_result, demo_result.coverage_result
    assert base is not None and later is not None and base.network is not None
    assert later.network is base.network and later.service_areas is base.service_areas
    assert later.service_areas is not None
    fresh = gridmap.check(pr.results[2027].study, demo_result.profile)
    a, b = pr.results[2027].summary(), fresh.summary()
    a.pop("timings_s"), b.pop("timings_s")
    assert a == b and a["households_total"] == demo_result.summary()["households_total"] + 1500
    pd.testing.assert_frame_equal(pr.results[2027].communities_table(), fresh.communities_table())
    pd.testing.assert_frame_equal(pr.results[2027].grids_table(), fresh.grids_table())
    assert fresh.coverage_result is not None and fresh.coverage_result.service_areas is not None
    assert later.service_areas.geometry.geom_equals_exact(
        fresh.coverage_result.service_areas.geometry, 1e-6
    ).all()
