"""Real data: Suzhou Industrial Park communities and grids (../shared/data/sip), skipped when absent."""

import pandas as pd
import pytest

import gridmap

pytestmark = pytest.mark.realdata


def test_gbk_shapefile_and_custom_crs_gpkg(sip):
    study = gridmap.read_study(
        f"{sip / 'sip.gpkg'}:communities", grids=str(sip / "sip_grids_2000SZ.shp")
    )
    # the local "2000SZ" system is kept, not replaced by an EPSG code
    assert study.crs.name == "2000SZ"
    assert study.crs.to_epsg() is None
    assert len(study.communities) == 138 and len(study.grids) == 737
    # GBK attributes decoded
    assert study.grids["name"].str.contains("网格").all()
    assert study.grids["community_id"].str.endswith("社区").all()
    # SIP has one community code used twice (兴浦社区 / 金胜社区): reported, disambiguated
    dup = [p for p in study.problems if p.code == "id.duplicate"]
    assert len(dup) == 1 and "320506010009" in dup[0].message


def test_finds_grids_whose_community_attribute_disagrees_with_geometry(sip):
    study = gridmap.read_study(
        f"{sip / 'sip.gpkg'}:communities", grids=f"{sip / 'sip.gpkg'}:grids_comprehensive"
    )
    result = gridmap.check(study)
    f = result.findings
    mismatch = f[f.rule_id == "qa.grid.community_mismatch"]
    assert len(mismatch) >= 1
    for _, row in mismatch.iterrows():
        grid = result.grids.loc[row.unit_id]
        attr = str(grid["community_attr"])
        geom_name = result.communities.loc[grid["community_id"], "name"]
        assert attr != geom_name
    # every rule without household data is not assessed, never pass
    rules = f[~f.rule_id.str.startswith("qa.")]
    assert set(rules.status) == {"not_assessed"}
    # 15-digit grid codes are checked against the containing community's 12 digits: on SIP they all agree
    # (the one mismatch reported before, 320506012049001 "in" 熙岸社区, came from a 0.002 m² sliver overlap)
    assert "qa.grid.code_prefix" not in set(f.rule_id)
    assert pd.isna(result.grids.loc["320506012049001", "community_id"])
    # 15 SIP communities are MultiPolygons of several parts
    assert (f.rule_id == "qa.community.multipart").sum() == 15


def test_sip_wgs84_geojson_gets_a_gauss_kruger_zone(sip):
    study = gridmap.read_study(str(sip / "sip_communities_wgs84.geojson"))
    assert study.crs.to_epsg() == 4549  # CGCS2000 3° GK CM 120E for Suzhou (120.7E)
    ref = gridmap.read_study(f"{sip / 'sip.gpkg'}:communities")
    a = study.communities.area.sum()
    b = ref.communities.area.sum()
    assert abs(a - b) / b < 0.005


def test_coverage_on_sip_grids_with_synthetic_facilities(sip):
    """Straight-line coverage in the local 2000SZ system: a household at a facility is covered, far ones are not."""
    import geopandas as gpd
    import numpy as np

    from gridmap.coverage import CoverageSpec

    base = gridmap.read_study(
        f"{sip / 'sip.gpkg'}:communities", grids=f"{sip / 'sip.gpkg'}:grids_comprehensive"
    )
    grids = base.grids
    rng = np.random.default_rng(3)
    points = grids.representative_point()
    households = gpd.GeoDataFrame(
        {"户数": rng.integers(50, 400, len(grids))}, geometry=points.to_numpy(), crs=base.crs
    )
    # one synthetic service station at the first grid point of every other community
    first = points.groupby(grids["community_id"].fillna("?").to_numpy()).head(1).iloc[::2]
    facilities = gpd.GeoDataFrame(
        {"类型": ["社区服务站"] * len(first), "建筑面积": 400.0},
        geometry=first.to_numpy(),
        crs=base.crs,
    )
    study = gridmap.read_study(
        f"{sip / 'sip.gpkg'}:communities",
        grids=f"{sip / 'sip.gpkg'}:grids_comprehensive",
        households=households,
        facilities=facilities,
    )
    assert study.crs.name == "2000SZ"
    spec = CoverageSpec("sip.station.500", "service_station", 500.0)
    result = gridmap.check(study, coverage={"specs": [spec], "service_areas": False})
    cov = result.coverage
    d = cov["straight_m:service_station"].to_numpy()
    covered = cov["covered:sip.station.500"].to_numpy(dtype=bool)
    # exact: covered exactly when the straight-line distance is within 500 m
    assert (covered == (np.nan_to_num(d, nan=np.inf) <= 500.0)).all()
    # the households placed on a facility are at distance 0
    assert (d == 0).sum() >= len(facilities)
    share = result.coverage_result.summary()["sip.station.500"]["share"]
    assert 0.05 < share < 0.95


def test_sip_grid_touching_xian_by_a_sliver_is_in_no_community(sip):
    """Grid 320506012049001 (高尔夫社区, 8.7 ha) shares 0.002 m² with 熙岸社区: it must not add its households there."""
    gpkg = sip / "sip.gpkg"
    base = gridmap.read_study(f"{gpkg}:communities", grids=f"{gpkg}:grids_comprehensive")
    grids = base.grids.reset_index().rename(
        columns={"grid_id": "网格编码", "community_id": "所属社区"}
    )
    grids["户数"] = 938
    result = gridmap.check(
        gridmap.read_study(f"{gpkg}:communities", grids=grids.drop(columns=["name"]))
    )
    g = result.grids.loc["320506012049001"]
    assert g["share_in_community"] < 1e-6 and g["community_id"] is pd.NA
    xian = result.communities[result.communities["name"] == "熙岸社区"]
    assert xian["grids"].iloc[0] == 1
    f = result.findings[
        (result.findings.rule_id == "qa.grid.outside")
        & (result.findings.unit_id == "320506012049001")
    ]
    assert f["value"].tolist() == [938.0]
    # every grid's households are either in a community or reported outside: nothing vanishes
    outside = result.findings.loc[result.findings.rule_id == "qa.grid.outside", "value"].sum()
    assert result.communities["households"].sum() + outside == 938 * len(grids)


def test_sip_in_web_mercator_is_measured_in_the_gk_zone(sip):
    ref = gridmap.read_study(f"{sip / 'sip.gpkg'}:communities")
    assert not any(
        p.code == "crs.not_true_scale" for p in ref.problems
    )  # 2000SZ is true to scale: kept
    web = ref.communities.to_crs(3857).reset_index()
    study = gridmap.read_study(web.rename(columns={"community_id": "社区编码"}))
    assert study.crs.to_epsg() == 4549
    assert any(p.code == "crs.not_true_scale" and "3857" in p.message for p in study.problems)
    assert abs(study.communities.area.sum() / ref.communities.area.sum() - 1) < 1e-3


def test_sip_gcj02_households_labelled_wgs84_get_the_hint(sip):
    from gridmap.crs import from_geographic
    from gridmap.synthetic import synthetic_households

    gpkg = sip / "sip.gpkg"
    base = gridmap.read_study(f"{gpkg}:communities", grids=f"{gpkg}:grids_comprehensive")
    hh = synthetic_households(base.communities, base.grids, seed=1)
    gcj = from_geographic(hh.to_crs(4326), "gcj02")
    study = gridmap.read_study(
        f"{gpkg}:communities", grids=f"{gpkg}:grids_comprehensive", households=gcj
    )
    hint = [p for p in study.problems if p.code == "crs.maybe_gcj02"]
    assert len(hint) == 1 and 'households_crs="gcj02"' in hint[0].fix
    fixed = gridmap.read_study(
        f"{gpkg}:communities",
        grids=f"{gpkg}:grids_comprehensive",
        households=gcj,
        households_crs="gcj02",
    )
    assert not any(p.code == "crs.maybe_gcj02" for p in fixed.problems)
