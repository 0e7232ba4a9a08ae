"""A tab's fresh plan is a copy of the store's as-is template: the same plan, its own state (#19)."""

from __future__ import annotations

import pandas as pd

from dashboards.provider import DashboardProvider
from dashboards.provider.plan_views import neighbours
from gridmap.plans import Plan


def test_a_new_tabs_plan_is_the_as_is_plan_with_its_own_identity_and_state():
    provider = DashboardProvider.from_config(None)
    store = provider.plan_sessions
    built = Plan.from_check(provider.result(), name="x")
    a = store.new_plan(name="甲", author="planner1")
    b = store.new_plan(profile=provider.default_profile)
    assert (a.name, a.author) == ("甲", "planner1") and b.name.startswith("方案 ")
    assert len({a.plan_id, b.plan_id, built.plan_id, store.template().plan_id}) == 4
    assert a.journal == [] and not a.can_undo and a.profile.id == built.profile.id
    assert a.labels.equals(built.labels) and a.offsets == built.offsets
    pd.testing.assert_frame_equal(a.community_attrs, built.community_attrs)
    assert a.kpis() == built.kpis()
    pd.testing.assert_frame_equal(a.findings(), built.findings())
    uid = next(u for u in a.units.index if neighbours(a, [u]))
    assert a.move([uid], neighbours(a, [uid])[0]).ok
    assert b.labels.equals(built.labels) and store.template().labels.equals(built.labels)
    assert b.kpis()["units_moved"] == 0 and a.kpis()["units_moved"] == 1
