"""Data QA findings (gridmap.qa): grids overlapping other grids of the same layer."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from conftest import X0, Y0, make_layers
from shapely import box

import gridmap
from gridmap.qa import MIN_AREA_M2, grid_overlaps, qa_counts


def _grids(geoms: list, ids: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": [f"网格{i[-1]}" for i in ids]},
        index=pd.Index(ids, name="grid_id"),
        geometry=geoms,
        crs=4549,
    )


def found(g: gpd.GeoDataFrame, min_area: float = MIN_AREA_M2) -> set[tuple[str, str, float]]:
    """``(grid, the grid it overlaps, area m²)`` of each finding."""
    f = grid_overlaps(g, min_area=min_area)
    other = f["message"].str.extract(r"（(g\d)）")[0]
    return {(u, o, round(v, 3)) for u, o, v in zip(f.unit_id, other, f.value, strict=True)}


def test_check_reports_overlapping_grids_with_their_area():
    comm, grids, hh = make_layers()
    grids = grids.copy()
    # 甲2 reaches 20 m into 甲1 (20 x 1000 m²); a copy of 乙2 drawn twice; 乙1 a sliver into 乙2
    grids.loc[1, "geometry"] = box(X0 + 480, Y0, X0 + 1000, Y0 + 1000)
    grids.loc[2, "geometry"] = box(X0 + 1000, Y0, X0 + 1500.0004, Y0 + 1000)
    copy = grids.iloc[[3]].assign(网格编码="330106001002003", 网格名称="乙3")
    grids = pd.concat([grids, copy], ignore_index=True)
    result = gridmap.check(gridmap.read_study(comm, grids=grids, households=hh))
    f = result.findings
    over = f[f.rule_id == "qa.grid.overlap"].reset_index(drop=True)
    assert over["unit_id"].tolist() == ["330106001001001", "330106001002002"]
    assert over["value"].tolist() == pytest.approx([20_000, 500_000])
    assert over["gap"].tolist() == pytest.approx([20_000, 500_000])
    assert "甲2（330106001001002）重叠 20,000 m²" in over["message"][0]
    assert "overlaps grid 330106001001002 by 20,000 m²" in over["message"][0]
    assert "乙3（330106001002003）" in over["message"][1]
    assert (over["level"] == "grid").all() and (over["status"] == "fail").all()
    assert (over["rule_title"] == "网格之间重叠").all()
    assert over["source"][0].startswith("CJ/T 349-2010") and "6.1.1" in over["source"][0]
    assert over["threshold"][0] == f"<{MIN_AREA_M2:g} m²"
    assert qa_counts(f)["qa.grid.overlap"] == {"findings": 2, "households": None}
    # the same layers without the overlaps: no finding
    clean = gridmap.check(gridmap.read_study(*make_layers()))
    assert not (clean.findings.rule_id == "qa.grid.overlap").any()


def test_grid_overlaps_nested_and_duplicates_whatever_the_order():
    geoms = [
        box(0, 0, 100, 100),  # g1
        box(100, 0, 200, 100),  # g2 shares an edge with g1: no overlap
        box(120, 20, 140, 40),  # g3 inside g2 (400 m²)
        box(0, 0, 100, 100),  # g4 = g1 drawn twice
        box(200, 0, 300, 100.5),  # g5
        box(200, 100, 300, 200),  # g6: 0.5 x 100 = 50 m² with g5
        box(300 - 0.001, 0, 400, 100),  # g7: 0.1 m² with g5, a sliver
    ]
    ids = [f"g{i}" for i in range(1, 8)]
    want = {("g1", "g4", 10_000.0), ("g2", "g3", 400.0), ("g5", "g6", 50.0)}

    g = _grids(geoms, ids)
    assert found(g) == want
    assert grid_overlaps(g)["unit_id"].tolist() == ["g1", "g2", "g5"]  # in the layer's order
    assert found(g.iloc[::-1]) == want
    assert found(g.sample(frac=1, random_state=3)) == want
    # the sliver counts with a lower tolerance
    assert found(g, min_area=0.05) == want | {("g5", "g7", 0.1)}


def test_no_overlap_without_grids_or_with_one():
    assert grid_overlaps(_grids([], [])).empty
    assert grid_overlaps(_grids([box(0, 0, 1, 1)], ["g1"])).empty
    assert list(grid_overlaps(_grids([], [])).columns) == list(gridmap.rules.FINDING_COLUMNS)


@pytest.mark.realdata
def test_sip_comprehensive_grids_overlap_only_below_the_tolerance(sip):
    """SIP's 737 comprehensive grids: one pair shares 0.0006 m², under the 1 m² tolerance."""
    grids = gridmap.read_study(
        f"{sip / 'sip.gpkg'}:communities", grids=f"{sip / 'sip.gpkg'}:grids_comprehensive"
    ).grids
    assert grid_overlaps(grids).empty
    tiny = grid_overlaps(grids, min_area=1e-4)
    assert tiny["unit_id"].tolist() == ["320506012049001"]
    assert "320506012052003" in tiny["message"].iloc[0]
    assert float(tiny["value"].iloc[0]) < 1e-3
