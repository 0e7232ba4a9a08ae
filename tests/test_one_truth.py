"""One truth: check, plan, report and dashboard give the same numbers for the same input and profile.

For every built-in profile, on the demo district and on the real SIP geometry with
synthetic households (part of them outside every grid): communities per size status
and per rule status agree between

- the check (``findings`` and the ``size_status`` column),
- the plan (:meth:`Plan.kpis` and :meth:`Plan.findings` of ``Plan.from_check``),
- the report's tables (:func:`gridmap.report.rule_counts`, :func:`gridmap.report.plan_rows`, :func:`gridmap.report.headline_figures`),
- the dashboard provider (:meth:`DashboardProvider.kpis`, ``rule_counts``) and the Plans page.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest
from conftest import SIP, make_layers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gridmap
from gridmap import datasets, report
from gridmap.evaluation import evaluate_units, size_counts
from gridmap.plans import Plan, load_plan

PROFILES = gridmap.list_profiles()


def _community_rule_counts(findings: pd.DataFrame) -> dict:
    f = findings[
        (findings["level"] == "community") & ~findings["rule_id"].str.startswith(("qa.", "plan."))
    ]
    return {(r, s): int(n) for (r, s), n in f.groupby(["rule_id", "status"]).size().items()}


def _assert_one_truth(result, provider=None, store=None):
    """Every part's community counts under ``result.profile`` are those of the check
    (``store``: the Plans page's session store of ``provider``, shared to reuse its adjacency)."""
    prof = result.profile
    band = prof.size_band()
    sizes = size_counts(result)
    checks = _community_rule_counts(result.findings)
    assert sum(sizes.values()) == len(result.communities)
    summary = result.summary()["communities_size"]  # gridmap check --json
    assert {k: summary[k] for k in sizes} == sizes
    from gridmap.cli import render_summary  # the console

    if band is not None and sizes["not_assessed"] < len(result.communities):
        assert (
            f"达标 {sizes['pass']}，偏小 {sizes['too_small']}，偏大 {sizes['too_large']}"
            in render_summary(result)
        )
    # the size status is the band rule's verdict
    if band is not None:
        rule_fail = checks.get((band.rule_id, "fail"), 0)
        assert sizes["too_small"] + sizes["too_large"] == rule_fail
        assert sizes["not_assessed"] == checks.get((band.rule_id, "not_assessed"), 0)

    # plan: KPIs and findings
    plan = Plan.from_check(result, graph=store.template().graph if store is not None else None)
    assert plan.profile.id == prof.id and plan.band == band
    k = plan.kpis()
    assert k["communities"] == len(result.communities)
    assert (k["in_band"], k["too_small"], k["too_large"], k["size_not_assessed"]) == (
        sizes["pass"],
        sizes["too_small"],
        sizes["too_large"],
        sizes["not_assessed"],
    )
    assert _community_rule_counts(plan.findings()) == checks
    status = result.communities["status"].value_counts()
    assert {s: k[f"rules_{s}"] for s in ("pass", "warning", "fail", "not_assessed")} == {
        s: int(status.get(s, 0)) for s in ("pass", "warning", "fail", "not_assessed")
    }
    hh = result.communities["households"]
    assert np.isclose(plan.communities()["households"].fillna(0).sum(), hh.fillna(0).sum())
    assert k == plan.kpis(base=True) | {"edits": k["edits"]}

    # report tables
    rc = report.rule_counts(result)
    for row in rc.itertuples(index=False):
        for status_, col in (("pass", "合规"), ("fail", "不合规"), ("not_assessed", "未评估")):
            if row.层级 == "社区":
                assert getattr(row, col) == checks.get((row.规则编号, status_), 0)
    rows = report.plan_rows(plan).set_index("指标")
    assert rows.loc["户数过小"].tolist() == [f"{sizes['too_small']:,}"] * 2
    assert rows.loc["户数过大"].tolist() == [f"{sizes['too_large']:,}"] * 2
    assert (
        rows.loc["户数达标社区", "调整前（现状）"] == f"{sizes['pass']} / {len(result.communities)}"
    )
    kpis = {label: value for label, value, _ in report.headline_figures(result)}
    assert kpis["规模不达标社区"] == f"{sizes['too_small'] + sizes['too_large']}"
    assert f"过大 {sizes['too_large']}，过小 {sizes['too_small']}" in report.plan_sentence(plan)

    # dashboard provider (its own check of the same study) and the Plans page
    if provider is not None:
        pk = provider.kpis(prof.id)
        assert (pk["size_small"], pk["size_large"], pk["size_in_band"]) == (
            sizes["too_small"],
            sizes["too_large"],
            sizes["pass"],
        )
        for lang in ("zh", "en"):
            counts = provider.rule_counts(prof.id, lang)
            for rid, row in counts.iterrows():
                if prof.rule(rid).level == "community":
                    assert {s: int(row[s]) for s in ("pass", "fail", "not_assessed")} == {
                        s: checks.get((rid, s), 0) for s in ("pass", "fail", "not_assessed")
                    }
        from dashboards import provider as page

        session = (store or page.PlanStore(provider)).get("truth", prof.id)
        cmp = {r[0]: r[1:] for r in page.compare_rows(session.plan)}
        assert cmp["户数达标社区"] == (f"{sizes['pass']}/{len(result.communities)}",) * 2
        assert cmp["户数偏小"] == (f"{sizes['too_small']:,}",) * 2


# --------------------------------------------------------------------------- demo


def _provider(study):
    """The dashboard's provider over ``study`` (every profile cached) and its plan store."""
    pytest.importorskip("dash")
    from dashboards import provider as page
    from dashboards.provider import DashboardProvider

    provider = DashboardProvider(study, max_profiles=len(PROFILES))
    return provider, page.PlanStore(provider)


@pytest.fixture(scope="module")
def demo_dashboard(demo_study):
    return _provider(demo_study)


@pytest.fixture(scope="module")
def demo_provider(demo_dashboard):
    return demo_dashboard[0]


@pytest.fixture(scope="module")
def demo_store(demo_dashboard):
    return demo_dashboard[1]


@pytest.mark.parametrize("profile", PROFILES)
def test_demo_every_part_agrees(demo_provider, demo_store, profile):
    _assert_one_truth(demo_provider.result(profile), demo_provider, demo_store)


def test_demo_hangzhou_counts_before_after(demo_results):
    """The issue's numbers: under hangzhou-2008 (1500–3000, no sparse exemption) check and plan both say 15."""
    result = demo_results["hangzhou-2008"]
    k = Plan.from_check(result).kpis()
    fails = (result.findings.query("rule_id == 'community.size'").status == "fail").sum()
    assert fails == k["too_small"] + k["too_large"] == 15
    assert Plan.from_check(result).exempt_min() == []  # hangzhou-2008 exempts nobody


# --------------------------------------------------------------------------- plans after edits


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=6))
def test_edited_plan_kpis_and_findings_agree(demo_result, picks):
    """After any moves, the plan's size KPIs are its band rule's verdicts, households are conserved,
    and communities the plan did not touch keep every finding of the check."""
    plan = Plan.from_check(demo_result)
    moved = 0
    for p in picks:
        uid = plan.units.index[p % len(plan.units)]
        nb = plan.graph.indices[
            plan.graph.indptr[p % len(plan.units)] : plan.graph.indptr[p % len(plan.units) + 1]
        ]
        targets = sorted(set(plan.labels.iloc[nb]) - {plan.labels[uid]})
        if targets and plan.move([uid], targets[p % len(targets)], allow_islands=True).ok:
            moved += 1
    k, f = plan.kpis(), plan.findings()
    size = f[f.rule_id == plan.band.rule_id]
    assert k["too_small"] + k["too_large"] == (size.status == "fail").sum()
    assert k["in_band"] == (size.status == "pass").sum()
    assert np.isclose(
        plan.communities()["households"].sum(), demo_result.communities["households"].sum()
    )
    touched = {
        c for ch in plan.changes().itertuples() for c in (ch.from_community, ch.to_community)
    }
    same = f[~f.unit_id.isin(touched) & (f.rule_id != "plan.contiguity")].set_index(
        ["unit_id", "rule_id"]
    )
    chk = demo_result.findings.query("level == 'community'").set_index(["unit_id", "rule_id"])
    assert (same["status"] == chk["status"].reindex(same.index)).all()
    if touched:  # territorial figures of a changed community are not carried over silently
        cov = f[f.unit_id.isin(touched) & f.rule_id.str.startswith("community.coverage")]
        assert set(cov.status) <= {"not_assessed"}
    assert k["units_moved"] == len(plan.changes())


def test_plan_profile_saved_and_old_workspaces_load(tmp_path, demo_results):
    result = demo_results["ziyang-2018"]
    plan = Plan.from_check(result, name="资阳")
    ws = tmp_path / "ws.gpkg"
    plan.save(ws)
    back = load_plan(ws, "资阳")
    assert back.profile.id == "ziyang-2018" and back.band == plan.band
    assert back.kpis() == plan.kpis()
    assert load_plan(ws, "资阳", profile="national").band.max == 3000
    # a workspace written before the profile column existed: loads, evaluated under national
    con = sqlite3.connect(ws)
    con.execute("ALTER TABLE plans DROP COLUMN profile")
    con.commit()
    con.close()
    assert load_plan(ws, "资阳").profile.id == "national"
    back.save(ws)  # saving adds the column again
    assert load_plan(ws, "资阳").profile.id == "ziyang-2018"


def test_band_override_is_explicit_and_consistent(demo_result):
    plan = Plan.from_check(demo_result)
    k = plan.kpis(min_households=1500)
    assert k["band"] == [1500, 3000] and plan.kpis()["band"] == [1000, 3000]
    f = plan.findings(plan._profile_for(1500, None))
    assert (f[f.rule_id == "community.size"].status == "fail").sum() == k["too_small"] + k[
        "too_large"
    ]


# --------------------------------------------------------------------------- not assessed, never 0


@pytest.fixture(scope="module")
def no_coordinators():
    comm, grids, hh = make_layers()
    study = gridmap.read_study(comm, grids=grids.drop(columns="协理员人数"), households=hh)
    return study, gridmap.check(study)


def test_not_assessed_coordinators_are_not_zero(no_coordinators):
    study, result = no_coordinators
    kp = {label: (value, note) for label, value, note in report.headline_figures(result)}
    assert kp["协理员缺口（人）"][0] == "未评估"
    pytest.importorskip("dash")
    from dashboards.i18n import t
    from dashboards.pages.overview import kpi_cards
    from dashboards.provider import DashboardProvider

    k = DashboardProvider(study).kpis()
    assert k["grids_short"] is None and k["coordinator_gap"] is None and k["grids_na"] == 4
    for lang in ("zh", "en"):
        text = str(kpi_cards(k, lang))
        assert t("kpi.na", lang) in text and "缺 0 人" not in text


def test_size_not_assessed_without_households():
    comm, grids, _ = make_layers()
    result = gridmap.check(gridmap.read_study(comm, grids=grids))
    assert size_counts(result)["not_assessed"] == 2
    plan = Plan.from_check(result)
    k = plan.kpis()
    assert k["size_not_assessed"] == 2 and k["too_small"] == 0 and k["households_total"] is None
    assert {label: value for label, value, _ in report.headline_figures(result)}[
        "规模不达标社区"
    ] == "未评估"
    from gridmap.cli import render_summary

    assert "社区规模（1,000–3,000 户）：未评估" in render_summary(result)
    assert report.plan_rows(plan).set_index("指标").loc["户数未评估"].tolist() == ["2", "2"]


def test_evaluation_is_the_checks(demo_result):
    """check() is evaluate_units on its own community table: same findings, same statuses."""
    table = pd.DataFrame(
        demo_result.communities.drop(columns=["geometry", "status", "size_status"])
    )
    ev = evaluate_units(table, demo_result.profile, level="community")
    chk = demo_result.findings.query("level == 'community' and not rule_id.str.startswith('qa.')")
    pd.testing.assert_frame_equal(
        ev.findings.reset_index(drop=True),
        chk.reset_index(drop=True)[ev.findings.columns],
        check_dtype=False,
    )
    assert ev.status.equals(demo_result.communities["status"])
    assert ev.size.equals(demo_result.communities["size_status"])


# --------------------------------------------------------------------------- SIP (real geometry)


@pytest.fixture(scope="module")
def sip_study():
    if not (SIP / "sip.gpkg").exists():
        pytest.skip(f"real SIP data not found at {SIP}")
    from gridmap.synthetic import synthetic_households

    base = gridmap.read_study(
        f"{SIP / 'sip.gpkg'}:communities", grids=f"{SIP / 'sip.gpkg'}:grids_comprehensive"
    )
    hh = synthetic_households(base.communities, base.grids, seed=0)
    return gridmap.read_study(
        f"{SIP / 'sip.gpkg'}:communities",
        grids=f"{SIP / 'sip.gpkg'}:grids_comprehensive",
        households=hh,
    )


@pytest.fixture(scope="module")
def sip_dashboard(sip_study):
    return _provider(sip_study)


@pytest.fixture(scope="module")
def sip_provider(sip_dashboard):
    return sip_dashboard[0]


@pytest.fixture(scope="module")
def sip_store(sip_dashboard):
    return sip_dashboard[1]


@pytest.mark.realdata
def test_sip_national_agrees(sip_provider, sip_store):
    """SIP: many households outside every grid, communities without grids — still one truth."""
    result = sip_provider.result("national")
    _assert_one_truth(result, sip_provider, sip_store)
    plan = sip_store.template()
    assert plan.kpis()["communities"] == len(result.communities) == 138
    assert (
        sum(plan.offsets.values()) > 0.3 * result.communities["households"].sum()
    )  # many outside grids


@pytest.mark.realdata
@pytest.mark.parametrize("profile", [p for p in PROFILES if p != "national"])
def test_sip_every_profile_agrees(sip_provider, sip_store, profile):
    _assert_one_truth(sip_provider.result(profile), sip_provider, sip_store)


def test_changed_community_does_not_keep_a_straight_line_coverage_bound():
    """Without a network, walking rules are decided by the straight-line bound of the as-is
    territory: once a plan changes a community, that bound is not carried over."""
    kwargs = datasets.demo_config()
    kwargs.pop("network")
    result = gridmap.check(gridmap.read_study(**kwargs), profile="gb50180-2018")
    plan = Plan.from_check(result)
    g = plan.graph
    i = next(
        i
        for i in range(len(plan.units))
        if set(plan.labels.iloc[g.indices[g.indptr[i] : g.indptr[i + 1]]]) - {plan.labels.iloc[i]}
    )
    to = sorted(
        set(plan.labels.iloc[g.indices[g.indptr[i] : g.indptr[i + 1]]]) - {plan.labels.iloc[i]}
    )[0]
    frm = plan.labels.iloc[i]
    assert plan.move([plan.units.index[i]], to, allow_islands=True).ok
    f = plan.findings()
    cov = f[f.rule_id.str.contains("coverage|life_circle") & f.unit_id.isin([frm, to])]
    assert len(cov) and (cov.status == "not_assessed").all()
    before = result.findings
    assert (
        before[before.rule_id.isin(cov.rule_id) & before.unit_id.isin([frm, to])].status == "fail"
    ).any()


def test_reloaded_plan_keeps_its_planning_adjacency(tmp_path, demo_result):
    """A plan saved and loaded again edits with the adjacency it was made with (the planning
    adjacency across ungridded land), not one rebuilt from touching grids."""
    plan = Plan.from_check(demo_result, name="邻接")
    ws = tmp_path / "ws.gpkg"
    plan.save(ws)
    again = load_plan(ws, "邻接")
    assert (again.graph != plan.graph).nnz == 0
    assert again.graph.nnz == plan.graph.nnz > 0
