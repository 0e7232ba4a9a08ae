"""QA findings about households carry the households; the console gives households as well as findings."""

import geopandas as gpd
import pandas as pd
from shapely import Point, box

import gridmap
from gridmap.cli import render_summary
from gridmap.qa import HOUSEHOLD_RULES, qa_counts
from tests.conftest import X0, Y0, make_layers


def _study_with_outside_households():
    comm, grids, hh = make_layers()
    grids = grids.iloc[[0, 2]]  # half of each community is gridded
    extra = gpd.GeoDataFrame(
        {"户数": ["300", "150"]},
        geometry=[Point(X0 + 750, Y0 + 500), Point(X0 + 5000, Y0)],
        crs=4549,
    )
    return gridmap.read_study(comm, grids, households=pd.concat([hh, extra], ignore_index=True))


def test_household_findings_carry_households_in_value_and_console_prints_them():
    result = gridmap.check(_study_with_outside_households())
    f = result.findings
    outside = f[f.rule_id == "qa.households.outside_grids"]
    lost = f[f.rule_id == "qa.households.unassigned"]
    # 700 (grid 甲2 removed) + 800 (乙2 removed) + 300 outside grids; 150 outside every community
    assert outside["value"].sum() == 1800 and lost["value"].sum() == 150
    counts = qa_counts(f)
    assert counts["qa.households.outside_grids"] == {"findings": 1, "households": 1800}
    s = result.summary()
    assert (
        s["households_total"]
        == s["households_assigned"] + counts["qa.households.unassigned"]["households"]
    )
    text = render_summary(result)
    share = 1800 / s["households_total"]
    assert (
        f"住户不在任何网格内 (qa.households.outside_grids)：1,800 户（{share:.1%}），1 条" in text
    )
    assert "1,800 households" in render_summary(result, lang="en")


def test_grid_outside_every_community_reports_its_households():
    comm, grids, _ = make_layers()
    far = gpd.GeoDataFrame(
        {"网格编码": ["330106001009001"], "网格名称": ["飞地"]},
        geometry=[box(X0 + 999.995, Y0 - 800, X0 + 1500, Y0 + 0.001)],
        crs=4549,
    )
    grids = pd.concat([grids, far], ignore_index=True).assign(户数=[400, 500, 600, 700, 938])
    result = gridmap.check(gridmap.read_study(comm, grids))
    row = result.findings[result.findings.rule_id == "qa.grid.outside"]
    assert row["unit_id"].tolist() == ["330106001009001"] and row["value"].tolist() == [938.0]
    assert "938 户" in row["message"].iloc[0]
    assert pd.isna(result.grids.loc["330106001009001", "community_id"])
    # no community received the outside grid's households
    assert result.communities["households"].sum() == 400 + 500 + 600 + 700
    assert "qa.grid.outside" in HOUSEHOLD_RULES
    assert "938 户" in render_summary(result)


def test_findings_without_households_print_only_the_count():
    result = gridmap.check(gridmap.read_study(*make_layers()[:2]))
    assert all(
        c["households"] is None
        for rid, c in qa_counts(result.findings).items()
        if rid not in HOUSEHOLD_RULES
    )
