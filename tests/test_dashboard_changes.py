"""The 预测与对比 Forecast & compare page's provider views (issue 18) and its config key."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards.app import ASSETS, create_app
from dashboards.provider import DashboardProvider, RejectedInput
from dashboards.provider.changes import ChangeViews, projects_source
from gridmap import datasets
from gridmap.config import load_config
from gridmap.labels import STATUS_COLORS, STATUS_ORDER

BASE = 2025


@pytest.fixture(scope="module")
def provider(demo_study, tmp_path_factory):
    ws = tmp_path_factory.mktemp("ws") / "plans.gpkg"
    p = DashboardProvider(demo_study, workspace=ws)
    p.changes = ChangeViews(p, projects_source(None), base_year=BASE)
    return p


def test_forecast_years_recolour_and_list_first_violations(provider):
    views = provider.changes
    years = views.years()
    assert years[0] == BASE and years[-1] == 2031  # last project moves in 2028, 3-year ramp
    today = views.forecast_values(BASE)
    later = views.forecast_values(2028)
    assert len(today.classes) == len(provider.ids("community"))
    assert (today.classes != later.classes).any()  # 2028 recolours some communities
    assert today.palette[STATUS_ORDER.index("fail")] == STATUS_COLORS["fail"]
    v2028 = views.forecast_violations(2028, "en")
    assert "330106002009" in set(v2028["unit_id"])  # leaves the band in 2028
    assert set(v2028["level"]) <= {"community", "grid"}
    v2027 = views.forecast_violations(2027)
    assert set(v2027["unit_id"]).isdisjoint(v2028["unit_id"])  # first year only
    counts = views.forecast_counts().set_index("year")
    assert counts.loc[2028, "households"] > counts.loc[BASE, "households"]


def test_bad_year_and_target_are_refused(provider):
    for bad in (1999, "../x", None, "2028; drop"):
        with pytest.raises(RejectedInput):
            provider.changes.forecast_values(bad)
    with pytest.raises(RejectedInput):
        provider.changes.comparison("plan:nope")


def test_compare_with_a_saved_plan_highlights_the_moved_grids(provider):
    plan = provider.plan(name="调整一")
    res = plan.rebalance(time_limit=5.0)
    assert plan.apply(res.edit).ok
    moved = set(plan.changes()["unit_id"].astype(str))
    plan.save(provider.plans_workspace())
    targets = [o["value"] for o in provider.changes.targets()]
    assert "plan:调整一" in targets and "year:2028" in targets
    c = provider.changes.comparison("plan:调整一")
    values = provider.changes.change_values(c, "grid", "en")
    ids = provider.ids("grid").astype(str)
    reassigned = {
        ids[i]
        for i, k in enumerate(values.classes)
        if values.labels[k] == "moved to another community"
    }
    assert reassigned == moved
    table = provider.changes.change_table(c, "zh")
    grids = table[table["level"] == "网格"]
    assert set(grids["unit_id"]) == moved and set(grids["change"]) == {"改属社区（移动）"}


def test_compare_with_a_forecast_year_lists_grown_units(provider):
    c = provider.changes.comparison("year:2028")
    table = provider.changes.change_table(c, "en")
    assert "330106001002" in set(table["unit_id"])
    assert (table["households_new"].astype(float) >= table["households_old"].astype(float)).all()


def test_projects_key_in_config(provider, tmp_path):
    (tmp_path / "gridmap.toml").write_text(
        datasets.demo_config_toml(str(datasets.get_path("demo")).replace("\\", "/")).replace(
            'profile = "national"', 'profile = "national"\nprojects = "p.gpkg:在建项目"'
        ),
        encoding="utf-8",
    )
    config = str(tmp_path / "gridmap.toml")
    assert "projects" not in load_config(config)  # not a read_study argument, and no warning
    assert projects_source(config) == f"{tmp_path.resolve() / 'p.gpkg'}:在建项目"
    bad = ChangeViews(provider, str(tmp_path / "none.gpkg"))
    assert bad.projection() is None and bad.forecast_error() and bad.years() == []


def test_status_colours_of_the_page_come_from_labels(provider):
    css = (Path(ASSETS) / "gridmap.css").read_text(encoding="utf-8")
    assert "#d73027" not in css and "#1a9850" not in css
    assert "var(--gm-status-fail)" in css
    html = create_app(provider).server.test_client().get("/").get_data(as_text=True)
    for status, colour in STATUS_COLORS.items():
        assert f"--gm-status-{status.replace('_', '-')}: {colour};" in html
