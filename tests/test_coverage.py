"""Coverage per facility type: exact straight line and network, aggregation, rules, outputs."""

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import X0, Y0, make_layers
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import LineString, Point

import gridmap
from gridmap import datasets
from gridmap.coverage import (
    MIN_BUILDINGS,
    CoverageSpec,
    gap_cells,
    measure_coverage,
    records_behind,
    specs_from_profile,
    straight_distance,
)


def _tiny_study(fac_xy, types, *, network=True, extra_hh=()):
    comm, grids, hh = make_layers()
    if extra_hh:
        hh = pd.concat(
            [
                hh,
                gpd.GeoDataFrame(
                    {"户数": [h for _, _, h in extra_hh]},
                    geometry=[Point(X0 + x, Y0 + y) for x, y, _ in extra_hh],
                    crs=4549,
                ),
            ],
            ignore_index=True,
        )
    fac = gpd.GeoDataFrame(
        {"类型": types, "名称": [f"f{i}" for i in range(len(types))]},
        geometry=[Point(X0 + x, Y0 + y) for x, y in fac_xy],
        crs=4549,
    )
    net = None
    if network:
        net = gpd.GeoDataFrame(
            geometry=[LineString([(X0, Y0 + 500), (X0 + 2000, Y0 + 500)])], crs=4549
        )
    return gridmap.read_study(comm, grids=grids, households=hh, facilities=fac, network=net)


def test_straight_line_radius_boundary_is_inclusive():
    d, i = straight_distance(
        np.array([[X0 + 300.0, Y0], [X0 + 300.0 + 1e-3, Y0]]), np.array([[X0, Y0]]), limit=300
    )
    assert d.tolist()[0] == 300.0 and np.isinf(d[1]) and i.tolist() == [0, -1]


def _brute_nearest(t, s, limit, tg=None, sg=None):
    """The slow exact answer: every target against every source (ties to the lowest source)."""
    d = np.hypot(t[:, None, 0] - s[None, :, 0], t[:, None, 1] - s[None, :, 1])  # NaN: no location
    if tg is not None:
        d = np.where(tg[:, None] == sg[None, :], d, np.inf)
    d = np.where(np.isfinite(d) & (d <= limit), d, np.inf)
    i = np.where(np.isfinite(d).any(axis=1), d.argmin(axis=1), -1)
    return d.min(axis=1), i


@pytest.mark.parametrize("limit", [40.0, 250.0, np.inf])
def test_straight_distance_equals_brute_force(limit):
    # enough targets for the queries to be split over threads, some without a location
    rng = np.random.default_rng(3)
    n = 23_000
    t = rng.uniform(0, 2_000, (n, 2)) + [X0, Y0]
    t[::997] = np.nan
    s = rng.uniform(0, 2_000, (60, 2)) + [X0, Y0]
    s[7] = np.nan
    d, i = straight_distance(t, s, limit=limit)
    bd, bi = _brute_nearest(t, s, limit)
    np.testing.assert_allclose(d, bd, rtol=1e-14)  # the last bit of a square root may differ
    np.testing.assert_array_equal(i, bi)
    # every point with a location: the path without masks gives the same
    tf, sf = t[np.isfinite(t).all(axis=1)], s[np.isfinite(s).all(axis=1)]
    fd, fi = straight_distance(tf, sf, limit=limit)
    bd, bi = _brute_nearest(tf, sf, limit)
    np.testing.assert_allclose(fd, bd, rtol=1e-14)
    np.testing.assert_array_equal(fi, bi)
    assert fi.dtype == np.int64 and ((fi == -1) == np.isinf(fd)).all()
    assert (i >= 0).sum() > 1_000 and (i[::997] == -1).all()
    # per community: a target sees only its own community's sources
    tg, sg = (t[:, 0] > X0 + 1_000).astype(object), (s[:, 0] > X0 + 1_000).astype(object)
    d, i = straight_distance(t, s, limit=limit, target_groups=tg, source_groups=sg)
    bd, bi = _brute_nearest(t, s, limit, tg, sg)
    np.testing.assert_allclose(d, bd, rtol=1e-14)
    np.testing.assert_array_equal(i, bi)


def test_tiny_study_exact_distances_both_modes():
    # households at x = 250, 750, 1250, 1750 (y = 500, on the street); a kindergarten at (550, 500)
    study = _tiny_study([(550, 500)], ["幼儿园"])
    specs = [
        CoverageSpec("s", "kindergarten", 300, "straight"),
        CoverageSpec("n", "kindergarten", 300, "network"),
    ]
    cov = measure_coverage(study, specs, service_areas=False, search_factor=10)
    h = cov.households
    np.testing.assert_allclose(h["straight_m:kindergarten"], [300, 200, 700, 1200])
    np.testing.assert_allclose(h["network_m:kindergarten"], [300, 200, 700, 1200])
    assert h["covered:s"].tolist() == [True, True, False, False]
    assert h["covered:n"].tolist() == [True, True, False, False]
    assert list(h.columns[:4]) == ["record", "grid_id", "community_id", "households"]
    assert cov.communities.loc["330106001001", "coverage:s"] == 1.0
    assert cov.communities.loc["330106001002", "coverage:s"] == 0.0
    assert cov.grids["covered:n"].tolist() == [500, 700, 0, 0]


def test_network_detour_and_snap_limit_reported():
    # a household 260 m off the street: beyond the 200 m snap limit → not covered on the network, reported
    study = _tiny_study([(250, 500)], ["幼儿园"], extra_hh=[(250, 760, "40")])
    specs = [
        CoverageSpec("s", "kindergarten", 300, "straight"),
        CoverageSpec("n", "kindergarten", 300, "network"),
    ]
    cov = measure_coverage(study, specs, service_areas=False, max_snap_m=200)
    last = cov.households.iloc[-1]
    assert last["covered:s"] and not last["covered:n"] and not last["snapped"]
    far = [p for p in cov.problems if p.code == "coverage.snap_far"]
    assert len(far) == 1 and "40 户" in far[0].message


def test_policy_own_community_only():
    # the only kindergarten is in community B (x = 1100): A's household at x = 750 is 350 m away
    study = _tiny_study([(1050, 500)], ["幼儿园"])
    spec = [
        CoverageSpec("s", "kindergarten", 400, "straight"),
        CoverageSpec("n", "kindergarten", 400, "network"),
    ]
    any_ = measure_coverage(study, spec, service_areas=False)
    own = measure_coverage(study, spec, policy="own", service_areas=False)
    assert any_.households["covered:s"].tolist() == [False, True, True, False]
    assert own.households["covered:s"].tolist() == [False, False, True, False]
    assert own.households["covered:n"].tolist() == [False, False, True, False]
    with pytest.raises(ValueError, match="policy"):
        measure_coverage(study, spec, policy="mine")


def test_type_without_facilities_is_zero_not_skipped():
    study = _tiny_study([(550, 500)], ["幼儿园"])
    cov = measure_coverage(study, [CoverageSpec("x", "nursery", 300)], service_areas=False)
    assert cov.summary()["x"]["share"] == 0.0


def test_gap_cells_sum_to_uncovered():
    h = pd.DataFrame({"households": [10, 20, 30, 40], "covered:a": [True, False, False, True]})
    xy = np.array([[0.0, 0], [10, 10], [500, 900], [2000, 0]])
    for shape in ("hex", "square"):
        spec = [CoverageSpec("a", "market", 500)]
        cells = gap_cells(h, xy, spec, size=250, shape=shape, household_level=True)
        assert cells["uncovered:a"].sum() == 50 and cells["households"].sum() == 100
        assert cells.geometry.area.round(3).nunique() == 1
        # four buildings: merged into one cell; two uncovered ones in all: withheld, reported
        merged = gap_cells(h, xy, spec, size=250, shape=shape)
        assert merged[["households", "uncovered:a"]].values.tolist() == [[100, 0]]
        assert merged.attrs["privacy"]["withheld"] == {"uncovered:a": 50.0}
    with pytest.raises(ValueError, match="hex"):
        gap_cells(h, xy, [], shape="tri")


def test_hex_cells_contain_their_points():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 3000, size=(300, 2))
    h = pd.DataFrame({"households": np.ones(300), "covered:a": np.zeros(300, dtype=bool)})
    cells = gap_cells(h, xy, [CoverageSpec("a", "market", 500)], size=200, household_level=True)
    assert cells["uncovered:a"].sum() == 300
    # every point lies in exactly one cell, and each cell counts the points inside it
    tree = shapely.STRtree(np.asarray(cells.geometry.values))
    pi, ci = tree.query(shapely.points(xy), predicate="within")
    assert np.sort(pi).tolist() == list(range(300))
    assert np.bincount(ci, minlength=len(cells)).tolist() == cells["households"].tolist()


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 120),
    k=st.integers(1, 5),
    seed=st.integers(0, 10_000),
    shape=st.sampled_from(["hex", "square"]),
)
def test_no_gap_count_from_fewer_than_k_buildings(n, k, seed, shape):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 3000, size=(n, 2))
    h = pd.DataFrame(
        {
            "record": rng.integers(0, max(1, n - 5), n),  # some records split into rows
            "households": rng.integers(0, 300, n),
            "covered:a": rng.random(n) < 0.6,
            "covered:b": rng.random(n) < 0.3,
        }
    )
    specs = [CoverageSpec("a", "market", 500), CoverageSpec("b", "kindergarten", 300)]
    cells = gap_cells(h, xy, specs, size=250, shape=shape, min_buildings=k)
    raw = gap_cells(h, xy, specs, size=250, shape=shape, household_level=True)
    withheld = cells.attrs["privacy"]["withheld"]
    for col in ("households", "uncovered:a", "uncovered:b"):
        support = records_behind(cells, h, xy, col)
        shown = cells[col].to_numpy() > 0
        assert (support[shown] >= k).all(), col
        # totals honest: published + withheld = every household
        assert cells[col].sum() + withheld.get(col, 0) == raw[col].sum()
        if col in withheld:  # only when the whole layer is short
            assert 0 < records_behind(raw, h, xy, col).sum() and cells[col].sum() == 0
    assert cells.attrs["privacy"]["merged_cells"] == len(raw) - len(cells)


def test_gap_cells_of_the_demo_hold_at_least_k_buildings(demo_study):
    """At 300 m many cells hold one building (its households would show): merged by default."""
    spec = CoverageSpec("kg", "kindergarten", 300, "straight")
    raw = measure_coverage(demo_study, [spec], service_areas=False, household_level=True)
    cov = measure_coverage(demo_study, [spec], service_areas=False)
    col = "uncovered:kg"
    before = records_behind(raw.gaps, raw.households, raw.xy, col)
    assert ((before > 0) & (before < MIN_BUILDINGS)).sum() > 20  # the leak this guards against
    for c in ("households", col):
        after = records_behind(cov.gaps, cov.households, cov.xy, c)
        assert (after[cov.gaps[c].to_numpy() > 0] >= MIN_BUILDINGS).all()
        assert cov.gaps[c].sum() == raw.gaps[c].sum()
    assert cov.household_level is False and raw.household_level is True
    info = cov.gaps.attrs["privacy"]
    assert info["merged_cells"] > 0 and info["withheld"] == {}


def test_a_whole_layer_short_of_k_is_withheld_and_reported():
    h = pd.DataFrame({"households": [40, 60, 7], "covered:a": [True, True, False]})
    xy = np.array([[0.0, 0], [5, 5], [10, 10]])
    cells = gap_cells(h, xy, [CoverageSpec("a", "market", 500)], size=250)
    assert cells["households"].tolist() == [107] and cells["uncovered:a"].tolist() == [0]
    assert cells.attrs["privacy"]["withheld"] == {"uncovered:a": 7.0}


@pytest.mark.realdata
def test_sip_gap_cells_hold_at_least_k_buildings(sip):
    """Real SIP communities and grids, synthetic households (one point per building)."""
    from gridmap.synthetic import synthetic_households

    src = f"{sip / 'sip.gpkg'}"
    base = gridmap.read_study(f"{src}:communities", grids=f"{src}:grids_comprehensive")
    hh = synthetic_households(base.communities, base.grids, seed=0)
    rng = np.random.default_rng(5)
    pts = base.grids.representative_point().sample(40, random_state=5)
    fac = gpd.GeoDataFrame(
        {"类型": rng.choice(["幼儿园", "社区服务站"], len(pts))},
        geometry=pts.to_numpy(),
        crs=base.crs,
    )
    study = gridmap.read_study(
        f"{src}:communities", grids=f"{src}:grids_comprehensive", households=hh, facilities=fac
    )
    specs = [CoverageSpec("kg", "kindergarten", 300), CoverageSpec("st", "service_station", 500)]
    cov = measure_coverage(study, specs, service_areas=False)
    raw = measure_coverage(study, specs, service_areas=False, household_level=True)
    for c in ("households", "uncovered:kg", "uncovered:st"):
        support = records_behind(cov.gaps, cov.households, cov.xy, c)
        assert (support[cov.gaps[c].to_numpy() > 0] >= MIN_BUILDINGS).all(), c
        assert cov.gaps[c].sum() == raw.gaps[c].sum()
    short = records_behind(raw.gaps, raw.households, raw.xy, "uncovered:kg")
    assert ((short > 0) & (short < MIN_BUILDINGS)).any()


def test_rule_validation():
    from gridmap.rules import _rule

    base = {
        "id": "c",
        "level": "community",
        "kind": "coverage",
        "title_zh": "a",
        "title_en": "a",
        "source": "s",
        "facility_type": "market",
    }
    with pytest.raises(ValueError, match="radius_m or minutes"):
        _rule(base, "x")
    with pytest.raises(ValueError, match="mode"):
        _rule({**base, "radius_m": 500, "mode": "crow"}, "x")
    with pytest.raises(ValueError, match="min_share"):
        _rule({**base, "radius_m": 500, "min_share": 2}, "x")
    assert _rule({**base, "minutes": 5, "speed_kmh": 6}, "x").params["minutes"] == 5


def test_profiles_have_cited_coverage_rules():
    specs = specs_from_profile("gb50180-2018")
    radii = {s.facility_type: s.radius_m for s in specs if s.id.startswith("community.life_circle")}
    assert (
        radii["kindergarten"] == 300
        and radii["primary_school"] == 500
        and radii["middle_school"] == 1000
    )
    assert radii["metro_station"] == 800 and radii["waste_point"] == 70
    p = gridmap.load_profile("gb50180-2018")
    assert all("待核实" in r.source for r in p.rules if r.id.startswith("community.life_circle."))
    national = specs_from_profile("national")
    assert [(s.facility_type, s.radius_m, s.mode) for s in national] == [
        ("service_station", 500.0, "network")
    ]


def test_network_rule_without_network_is_bounded_by_the_straight_line():
    # households at x = 250, 750 (A) and 1250, 1750 (B); the station at x = 550: straight 300, 200, 700, 1200 m.
    # the national rule: 500 m walking (GB 50180-2018: 步行十分钟（约500米）). A: bound 100 % -> not
    # assessed; B: all 2,000 households are beyond 500 m in a straight line, bound 0 % -> fail, gap 2000
    study = _tiny_study([(550, 500)], ["社区服务站"], network=False)
    result = gridmap.check(study)
    f = result.findings[result.findings.rule_id == "community.coverage.service_station"].set_index(
        "unit_id"
    )
    assert f["status"].to_dict() == {"330106001001": "not_assessed", "330106001002": "fail"}
    assert (
        f["value"].tolist() == [1.0, 0.0]
        and pd.isna(f.loc["330106001001", "gap"])
        and f.loc["330106001002", "gap"] == 2000
    )
    assert (
        f.loc["330106001001", "message"]
        == "未评估：无路网；直线距离上限 100%（步行覆盖率不会更高）"
    )
    assert (
        "直线距离上限 0%" in f.loc["330106001002", "message"]
        and "至少还需覆盖 2,000 户" in f.loc["330106001002", "message"]
    )
    assert f.loc["330106001002", "threshold"] == "≥100%（步行 500 m）"
    assert any(p.code == "coverage.no_network" for p in result.problems)
    s = result.summary()["coverage"]["community.coverage.service_station"]
    assert (s["covered"], s["share"], s["bound"], s["covered_bound"]) == (
        None,
        None,
        "straight_line_upper",
        1200,
    )
    c = result.communities
    assert c["coverage_bound:community.coverage.service_station"].tolist() == [1.0, 0.0]
    assert c["coverage:community.coverage.service_station"].isna().all()
    en = gridmap.check(study, lang="en").findings.set_index(["rule_id", "unit_id"])
    assert en.loc[("community.coverage.service_station", "330106001002"), "message"].startswith(
        "no network; straight-line upper bound 0% (the walking share cannot be higher), below the required 100%"
    )


def test_check_on_demo_has_coverage_everywhere(demo_result, tmp_path):
    r = demo_result
    rid = "community.coverage.service_station"
    assert list(r.coverage.columns[:4]) == ["record", "grid_id", "community_id", "households"]
    assert r.coverage["households"].sum() == r.households["households"].sum()
    assert f"coverage:{rid}" in r.communities.columns and f"coverage:{rid}" in r.grids.columns
    f = r.findings[r.findings.rule_id == rid]
    assert len(f) == len(r.communities) and set(f.status) <= {"pass", "fail"}
    # per community: share = covered / households
    c = r.communities
    np.testing.assert_allclose(c[f"coverage:{rid}"], c[f"covered:{rid}"] / c["households"])
    s = r.summary()["coverage"][rid]
    assert s["mode"] == "network" and s["radius_m"] == 500 and 0 < s["share"] < 1
    out = r.to_dir(tmp_path / "out")
    assert "coverage.csv" not in out  # one row per building: only with household_level=True
    comm = pd.read_csv(out["communities.csv"], dtype={"community_id": str})
    assert list(comm.columns[:7]) == [
        "community_id",
        "name",
        "households",
        "grids",
        "coordinators",
        "coordinators_required",
        "status",
    ]
    assert f"coverage:{rid}" in comm.columns
    layers = set(gpd.list_layers(out["result.gpkg"])["name"])
    assert {"communities", "grids", "findings", "coverage_gaps", "service_areas"} <= layers
    assert "coverage_households" not in layers  # per building: only with household_level=True
    gaps = gpd.read_file(out["result.gpkg"], layer="coverage_gaps")
    assert (
        gaps[f"uncovered__{rid.replace('.', '_')}"].sum()
        == (~r.coverage[f"covered:{rid}"]).mul(r.coverage["households"]).sum()
    )
    areas = gpd.read_file(out["result.gpkg"], layer="service_areas")
    assert len(areas) == 30 and areas.geometry.area.gt(0).all()
    # the demo network's dead ends that stop short of a street, as points for QGIS
    gaps_net = gpd.read_file(out["result.gpkg"], layer="network_gaps")
    assert (
        len(gaps_net) == len(r.coverage_result.network.gaps) > 0
        and gaps_net["gap_m"].between(0, 5).all()
    )
    assert (
        json.loads(out["summary.json"].read_text(encoding="utf-8"))["coverage"][rid]["covered"]
        == s["covered"]
    )


def test_network_coverage_below_straight_line_on_demo(demo_study):
    specs = [
        CoverageSpec(m, t, r, m)
        for t, r in (("kindergarten", 300), ("market", 500))
        for m in ("straight", "network")
    ]
    specs = [
        CoverageSpec(f"{s.facility_type}.{s.mode}", s.facility_type, s.radius_m, s.mode)
        for s in specs
    ]
    cov = measure_coverage(demo_study, specs, service_areas=False)
    h = cov.households
    for t in ("kindergarten", "market"):
        both = h[f"network_m:{t}"].notna()
        assert (h.loc[both, f"network_m:{t}"] >= h.loc[both, f"straight_m:{t}"] - 1e-6).all()
        assert h[f"covered:{t}.network"].le(h[f"covered:{t}.straight"]).all()
    # straight-line shares as designed in data/README.md (幼儿园 ≈40 % beyond 300 m, 菜市场 ≈40 % beyond 500 m)
    summary = cov.summary()
    assert summary["kindergarten.straight"]["share"] == pytest.approx(0.60, abs=0.03)
    assert summary["market.straight"]["share"] == pytest.approx(0.60, abs=0.03)


def test_skipping_gcj02_conversion_changes_coverage(demo_study):
    """The demo facilities are GCJ-02: read as WGS84 they sit ~520 m off and coverage changes."""
    cfg = datasets.demo_config()
    cfg.pop("facilities_crs")
    raw = gridmap.read_study(**cfg)
    spec = [
        CoverageSpec("kg", "kindergarten", 300, "straight"),
        CoverageSpec("ss", "service_station", 300, "straight"),
    ]
    right = measure_coverage(demo_study, spec, service_areas=False)
    wrong = measure_coverage(raw, spec, service_areas=False)
    for sid in ("kg", "ss"):
        assert right.households[f"covered:{sid}"].ne(wrong.households[f"covered:{sid}"]).sum() > 50
        assert abs(right.summary()[sid]["share"] - wrong.summary()[sid]["share"]) > 0.03


def test_grid_attribute_households_are_spread_over_the_grid():
    comm, grids, _ = make_layers()
    grids["户数"] = [500, 700, 1200, 800]
    fac = gpd.GeoDataFrame({"类型": ["幼儿园"]}, geometry=[Point(X0 + 250, Y0 + 500)], crs=4549)
    study = gridmap.read_study(
        comm, grids=grids, facilities=fac, mapping={"grids.households": "户数"}
    )
    result = gridmap.check(study, coverage={"specs": [CoverageSpec("kg", "kindergarten", 300)]})
    h = result.coverage_result.households
    assert h.groupby("grid_id")["households"].sum().tolist() == [
        500,
        700,
        1200,
        800,
    ]  # conserved per grid
    assert len(h) == 4 * 200  # a 50 m lattice in each 500 m x 1000 m grid
    covered = result.grids["covered:kg"].tolist()
    # the 300 m circle around the centre of grid 1 covers pi * 300^2 / 500,000 = 57 % of it
    assert (
        0.5 * 500 < covered[0] < 0.62 * 500
        and 0 < covered[1] < 0.05 * 700
        and covered[2:] == [0, 0]
    )
    assert any(p.code == "coverage.grid_points" for p in result.problems)


@given(
    st.lists(
        st.tuples(st.floats(1, 3000), st.floats(1, 3000), st.floats(0.01, 1)),
        min_size=1,
        max_size=6,
    )
)
@settings(max_examples=40, deadline=None)
def test_spread_points_inside_every_polygon_and_bounded(shapes):
    from shapely import Polygon

    from gridmap.coverage.households import SPREAD_MAX, spread_points

    polys = np.array(
        [Polygon([(0, 0), (w, 0), (w * f, h)]) for w, h, f in shapes]
    )  # triangles, some thin
    pos, xy = spread_points(polys)
    per = np.bincount(pos, minlength=len(polys))
    assert (per >= 1).all() and (per <= SPREAD_MAX).all()
    assert shapely.intersects_xy(polys[pos], xy[:, 0], xy[:, 1]).all()


def _cli(argv):
    import argparse

    from gridmap.cli.coverage import add_coverage_parser

    parser = argparse.ArgumentParser(prog="gridmap")
    sub = parser.add_subparsers(dest="command", required=True)
    add_coverage_parser(sub)
    args = parser.parse_args(["coverage", *argv])
    return args.func(args)


def test_coverage_cli_with_sites(tmp_path, capsys):
    gpkg = str(datasets.get_path("demo"))
    cfg = tmp_path / "gridmap.toml"
    cfg.write_text(datasets.demo_config_toml(gpkg), encoding="utf-8")
    out = tmp_path / "out"
    code = _cli(
        [
            str(cfg),
            "--types",
            "幼儿园,market=500",
            "--radius",
            "300",
            "--mode",
            "both",
            "--cell-size",
            "300",
            "--site",
            "kindergarten",
            "--k",
            "2",
            "--solver",
            "greedy",
            "--household-level",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["coverage"]["kindergarten.straight.300m"]["share"] == pytest.approx(
        0.60, abs=0.03
    )
    assert len(payload["siting"]["sites"]) == 2 and payload["siting"]["mode"] == "network"
    assert (out / "coverage.csv").exists() and (out / "sites.gpkg").exists()
    cov = pd.read_csv(out / "coverage.csv", dtype={"grid_id": str, "community_id": str})
    assert list(cov.columns[:4]) == ["record", "grid_id", "community_id", "households"]
    assert "covered:market.network.500m" in cov.columns
    # human-readable output, minutes -> metres
    assert (
        _cli(
            [
                str(cfg),
                "--types",
                "菜市场",
                "--minutes",
                "5",
                "--speed-kmh",
                "6",
                "--mode",
                "straight",
                "--no-service-areas",
            ]
        )
        == 0
    )
    assert "market.straight.500m" in capsys.readouterr().out


def test_coverage_cli_needs_a_radius(tmp_path):
    from gridmap.cli.coverage import parse_types

    with pytest.raises(ValueError, match="no radius"):
        parse_types("幼儿园", radius=None, modes=["straight"])


def test_spread_households_not_piled_on_one_side_and_empty_grids_kept():
    from shapely import box

    from gridmap.assign import apportion
    from gridmap.coverage import spread_points

    pos, xy = spread_points(np.array([box(0, 0, 500, 500), None]))
    assert np.isnan(xy[pos == 1]).all() and (pos == 0).sum() == 100
    share = apportion(
        np.array([30, 0]), pd.DataFrame({"part": pos, "zone": np.arange(len(pos)), "area": 1.0})
    )
    used = xy[share.loc[share["count"] > 0, "zone"].to_numpy()]
    assert (
        len(used) == 30 and np.abs(used.mean(axis=0) - 250).max() < 40
    )  # spread, not the western columns
    # a grid without geometry: its households stay in the totals (not snapped, not covered)
    comm, grids, _ = make_layers()
    grids["户数"] = [500, 700, 1200, 800]
    grids.loc[1, "geometry"] = None
    fac = gpd.GeoDataFrame({"类型": ["幼儿园"]}, geometry=[Point(X0 + 250, Y0 + 500)], crs=4549)
    study = gridmap.read_study(
        comm, grids=grids, facilities=fac, mapping={"grids.households": "户数"}
    )
    result = gridmap.check(study, coverage={"specs": [CoverageSpec("kg", "kindergarten", 300)]})
    assert result.coverage_result.households["households"].sum() == 3200
