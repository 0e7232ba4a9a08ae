"""The demo's 社区类型 column: urban/rural rules are assessed on the bundled demo."""

from __future__ import annotations

from gridmap.columns import community_type


def test_demo_communities_have_a_type_with_rural_ones_at_the_edge(demo_study):
    types = community_type(demo_study.communities["type"])
    assert types.notna().all()
    rural = sorted(demo_study.communities.loc[types == "农村", "name"])
    assert rural == ["兰家湾社区", "双龙社区", "马塍路社区"]
    # the sparse (居民分散) community is one of them
    sparse = demo_study.communities.loc[demo_study.communities["sparse"], "name"].tolist()
    assert sparse == ["兰家湾社区"]


def test_urban_rural_rules_are_assessed_on_the_demo(demo_results):
    f = demo_results["ziyang-2018"].findings
    staff = f[f.rule_id == "community.staff"]
    # every community with a staff count is judged against its own type's band
    assert (staff.status != "not_assessed").sum() == 27
    rural = staff[staff.threshold.str.endswith("（农村）")]
    assert len(rural) == 3 and set(rural.unit_name) == {"兰家湾社区", "双龙社区", "马塍路社区"}
    assert not any("社区类型" in m for m in staff.message)
