"""The 预测与对比 Forecast & compare page's provider views (issue 18) and its config key."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from dashboards.app import ASSETS, create_app
from dashboards.messages import MESSAGES, message
from dashboards.provider import DashboardProvider, RejectedInput
from dashboards.provider.changes import ChangeViews, projects_source
from gridmap import datasets
from gridmap.cli.demo import write_demo_workspace
from gridmap.cli.serve import warm
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
    (tmp_path / "gridmap.toml").write_text(datasets.demo_config_toml("p.gpkg"), encoding="utf-8")
    config = str(tmp_path / "gridmap.toml")
    assert "projects" not in load_config(config)  # not a read_study argument, and no warning
    assert projects_source(config) == f"{tmp_path.resolve() / 'p.gpkg'}:在建项目"
    (tmp_path / "other.toml").write_text('[study]\nname = "x"\n', encoding="utf-8")
    assert projects_source(str(tmp_path / "other.toml")) is None
    bad = ChangeViews(provider, str(tmp_path / "none.gpkg"))
    assert bad.projection() is None and bad.forecast_error() and bad.years() == []


def test_status_colours_of_the_page_come_from_labels(provider):
    css = (Path(ASSETS) / "gridmap.css").read_text(encoding="utf-8")
    assert "#d73027" not in css and "#1a9850" not in css
    assert "var(--gm-status-fail)" in css
    html = create_app(provider).server.test_client().get("/").get_data(as_text=True)
    for status, colour in STATUS_COLORS.items():
        assert f"--gm-status-{status.replace('_', '-')}: {colour};" in html


def test_forecast_follows_the_profile_dropdown(provider):
    """Each profile forecasts with its own rules: hangzhou-2008's band starts at 1,500 户."""
    views = provider.changes
    national = views.projection("national")
    hangzhou = views.projection("hangzhou-2008")
    assert national is not None and hangzhou is not None and national is not hangzhou
    assert views.projection("hangzhou-2008") is hangzhou  # computed once per profile
    assert hangzhou.results[BASE] is provider.result("hangzhou-2008")  # today's check, reused
    band = provider.result("hangzhou-2008").profile.size_band()
    assert band is not None and band.min == 1500
    last = hangzhou.years[-1]
    hh = hangzhou.households("communities")[last]
    size = hangzhou.results[last].communities["size_status"]
    between = hh[(hh >= 1000) & (hh < 1500)].index
    assert len(between) and (size[between] == "too_small").all()  # out of hangzhou's band
    assert (national.results[last].communities["size_status"][between] != "too_small").all()
    a = views.forecast_values(last, "zh", "hangzhou-2008").classes
    b = views.forecast_values(last, "zh", "national").classes
    assert (a != b).any()
    counts = views.forecast_counts("hangzhou-2008").set_index("year")
    assert counts.loc[last, "fail"] > views.forecast_counts().set_index("year").loc[last, "fail"]
    with pytest.raises(RejectedInput):
        views.projection("../national.toml")


def test_refused_year_and_target_have_their_own_words(provider):
    """Every ``what=`` a page or the provider passes names a message entry (both languages)."""
    root = Path(__file__).resolve().parents[1] / "dashboards"
    used = {
        m
        for f in root.rglob("*.py")
        if f.name != "messages.py"  # its own doctest shows a literal what
        for m in re.findall(r'what="([^"]+)"', f.read_text(encoding="utf-8"))
    }
    assert {"what.year", "what.target"} <= used
    assert all(w in MESSAGES for w in used), sorted(w for w in used if w not in MESSAGES)
    assert message("input.choice", "zh", what="what.year") == "预测年份的取值无效：请从列表中选择。"
    assert message("input.choice", "en", what="what.target") == (
        "Invalid comparison target: choose one from the list."
    )
    for bad, what in ((2999, "what.year"), ("x", "what.year")):
        with pytest.raises(RejectedInput) as exc:
            provider.changes.year(bad)
        assert exc.value.params["what"] == what
    with pytest.raises(RejectedInput) as exc:
        provider.changes.comparison("plan:none")
    assert exc.value.params["what"] == "what.target"


class _CountingViews(ChangeViews):
    """Change views that record which profiles a forecast was asked for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asked: list[object] = []

    def projection(self, profile: object = None) -> Any:
        self.asked.append(profile)
        return super().projection(profile)


def test_served_demo_has_projects_and_serve_warms_the_forecast(tmp_path, capsys):
    """``gridmap serve`` on the demo workspace: projects from its config, forecast ready at start."""
    config, _ = write_demo_workspace(tmp_path / "demo")
    provider = DashboardProvider.from_config(str(config))
    assert provider.changes.projects == f"{(tmp_path / 'demo').resolve() / 'demo.gpkg'}:在建项目"
    provider.changes = _CountingViews(provider, provider.changes.projects, base_year=BASE)
    warm(provider, time.perf_counter())
    assert provider.changes.asked == [None]  # the default profile, before any request
    err = capsys.readouterr().err
    assert "forecasting 2025–2031" in err and "no forecast" not in err
    first = provider.changes.projection()
    assert first is not None and provider.changes.projection() is first  # cached, not recomputed
    assert provider.changes.targets()[0]["value"] == "year:2026"  # compare mode has targets too
