"""What the dashboard keeps between requests gives exactly what a fresh computation gives.

The provider keeps what the pages derive from a check result (KPIs, counts per rule, the worst
communities, a unit's detail, colour options, map values, the overview chart, the findings
rows) per profile and language. Each is checked here against the same function run afresh on
the same result, through the provider and through the pages' callbacks (Flask's test client),
for two profiles and both languages; a profile switch shows the other profile's numbers at
once; changing a value handed out changes nothing kept; a plan edit shows at once in its own
tab and never in another.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from dash._utils import to_json

from dashboards.app import create_app
from dashboards.ids import ID
from dashboards.pages.findings import MAX_ROWS, table_rows
from dashboards.pages.overview import rule_chart
from dashboards.provider import (
    DashboardProvider,
    PlanRequest,
    PlanStore,
    filter_findings,
    summaries,
)
from dashboards.provider import map_values as mv
from dashboards.provider.plan_views import compare_rows, neighbours
from dashboards.testing import callback_body

PROFILES = ("national", "hangzhou-2008")


@pytest.fixture(scope="module")
def provider(tmp_path_factory) -> DashboardProvider:
    prov = DashboardProvider.from_config(None)
    prov.workspace = tmp_path_factory.mktemp("ws") / "plans.gpkg"
    return prov


@pytest.fixture(scope="module")
def app(provider):
    return create_app(provider)


@pytest.fixture(scope="module")
def client(app):
    return app.server.test_client()


@pytest.fixture(scope="module")
def deps(client) -> list[dict]:
    return client.get("/_dash-dependencies").get_json()


def call(client, deps: list[dict], trigger: str, values: dict) -> dict:
    """The callback ``trigger`` fires, as the browser POSTs it; its answer's ``response``."""
    resp = client.post("/_dash-update-component", json=callback_body(deps, trigger, values))
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return resp.get_json()["response"]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_kept_values_equal_a_fresh_computation(provider, profile, lang):
    for _ in range(2):  # the first call computes and keeps, the second hands out what is kept
        res, found = provider.result(profile), provider.findings(profile, lang)
        fresh = summaries.kpis(res, lang)
        fresh["coverage"] = provider.coverage_shares(profile, lang)
        assert provider.kpis(profile, lang) == fresh
        pd.testing.assert_frame_equal(
            provider.worst(profile, lang), summaries.worst(found, lang, 10)
        )
        pd.testing.assert_frame_equal(
            provider.rule_counts(profile, lang), summaries.rule_counts(found, res.profile)
        )
        for level in ("community", "grid"):
            assert provider.color_options(level, profile, lang) == mv.color_options(
                res, level, lang
            )
            for mode in ("status", "metric:households"):
                kept = provider.map_values(level, mode, profile, lang)
                new = mv.map_values(res, level, mode, lang)
                assert kept.payload("u") == new.payload("u")
            for uid in provider.ids(level)[:3]:
                fresh_detail = summaries.unit_detail(
                    mv.units_of(res, level), found, res.profile, level, uid
                )  # NaN in the records: compared as the JSON the page gets
                assert to_json(provider.unit_detail(level, uid, profile, lang)) == to_json(
                    fresh_detail
                )


def test_profiles_never_share_kept_values(provider):
    national, hz = provider.kpis("national"), provider.kpis("hangzhou-2008")
    assert national != hz and hz["fail"] == 30  # 杭州 2008 caps communities lower: all fail
    assert provider.kpis("national") == national
    uid = provider.ids("community")[0]
    a = provider.unit_detail("community", uid, "national")
    b = provider.unit_detail("community", uid, "hangzhou-2008")
    assert {f["rule_id"] for f in a["findings"]} != {f["rule_id"] for f in b["findings"]}


def test_changing_a_value_handed_out_changes_nothing_kept(provider):
    k = provider.kpis("national")
    k["fail"] = -1
    k["coverage"] = None
    assert provider.kpis("national")["fail"] != -1
    w = provider.worst("national")
    w.loc[:, "fails"] = 0
    assert (provider.worst("national")["fails"] > 0).all()
    uid = provider.ids("community")[0]
    d = provider.unit_detail("community", uid, "national")
    d["findings"].clear()
    assert provider.unit_detail("community", uid, "national")["findings"]


def test_kept_values_go_with_their_result():
    prov = DashboardProvider.from_config(None, max_profiles=1)
    calls: list[str] = []

    def compute(profile: str):
        calls.append(profile)
        return {"profile": profile}

    assert prov.derived("national", "x", lambda: compute("national")) == {"profile": "national"}
    prov.derived("national", "x", lambda: compute("national"))
    assert calls == ["national"]
    prov.derived("hangzhou-2008", "x", lambda: compute("hangzhou-2008"))  # evicts national
    prov.derived("national", "x", lambda: compute("national"))
    assert calls == ["national", "hangzhou-2008", "national"]
    with pytest.raises(Exception, match="profile"):
        prov.derived("/etc/x.toml", "x", lambda: compute("path"))
    assert "path" not in calls


def test_overview_callback_shows_the_profile_asked_for(provider, client, deps):
    for profile in (*PROFILES, "national"):  # a switch back shows the first numbers again
        for lang in ("zh", "en"):
            out = call(
                client,
                deps,
                f"{ID.PROFILE}.value",
                {f"{ID.PROFILE}.value": profile, f"{ID.LANG}.value": lang},
            )
            counts = summaries.rule_counts(
                provider.findings(profile, lang), provider.result(profile).profile
            )
            want = json.loads(to_json(rule_chart(counts, lang)))
            assert out[ID.OV_CHART]["figure"] == want
            kpis = json.dumps(out[ID.OV_KPIS]["children"], ensure_ascii=False)
            k = summaries.kpis(provider.result(profile), lang)
            assert f"{k['pass']}/{k['communities']}" in kpis


@pytest.mark.parametrize(
    ("search", "status", "level"),
    [
        (None, "fail", "all"),
        ("社区", "all", "community"),
        (None, "all", "grid"),
        ("qa.", "all", "all"),
    ],
)
@pytest.mark.parametrize("profile", PROFILES)
def test_findings_table_equals_filtering_then_formatting(
    provider, client, deps, search, status, level, profile
):
    values = {
        f"{ID.FT_SEARCH}.value": search,
        f"{ID.FT_STATUS}.value": status,
        f"{ID.FT_LEVEL}.value": level,
        f"{ID.PROFILE}.value": profile,
        f"{ID.LANG}.value": "zh",
    }
    out = call(client, deps, f"{ID.FT_STATUS}.value", values)
    f = filter_findings(provider.findings(profile, "zh"), search=search, status=status, level=level)
    want = table_rows(provider.with_value_text(f.head(MAX_ROWS), profile), "zh")
    assert out[ID.FT_TABLE]["rowData"] == json.loads(to_json(want))
    assert len(want) == len(f) > 0


def drawn(payload: dict) -> dict:
    """A plan map's values without its version tag (which names the tab's plan)."""
    return {k: v for k, v in payload.items() if k != "version"}


def _movable(plan):
    for uid in plan.units.index:
        for target in neighbours(plan, [uid]):
            if plan.move([uid], target).ok:
                plan.undo()
                return uid, target
    raise AssertionError("nothing movable")


def test_a_plan_edit_shows_at_once_in_its_tab_only(provider):
    store = PlanStore(provider)
    a, b = store.issue(), store.issue()
    grids = provider.ids("grid")
    before_a = store.view(a, grids, "u")
    before_b = store.view(b, grids, "u")
    assert drawn(before_a.plan_map) == drawn(before_b.plan_map)  # the same as-is start
    uid, target = _movable(store.get(a).plan)
    assert store.act(a, PlanRequest("move", selection=[uid], target=target)).tone == "ok"
    after_a, after_b = store.view(a, grids, "u"), store.view(b, grids, "u")
    assert after_a.kpis["units_moved"] == 1 and after_b.kpis["units_moved"] == 0
    assert after_a.plan_map["c"] != before_a.plan_map["c"]
    assert drawn(after_b.plan_map) == drawn(before_b.plan_map)
    assert after_b.compare == before_b.compare
    assert after_a.base_map == before_a.base_map  # the as-is map does not move
    plan = store.get(a).plan
    assert after_a.compare == compare_rows(plan)  # the same rows as computed afresh
    assert store.act(a, PlanRequest("undo")).tone == "ok"
    undone = store.view(a, grids, "u")
    assert undone.kpis["units_moved"] == 0
    assert np.array_equal(undone.plan_map["c"], before_a.plan_map["c"])
