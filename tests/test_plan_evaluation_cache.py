"""Plan evaluations kept by content (#19): reused for the same state, never across different ones."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridmap.plans import EvaluationCache, Plan
from gridmap.plans.plan import replay


def _a_move(plan: Plan, skip: int = 0) -> tuple[str, str]:
    """A grid and a neighbouring community it may move to (the ``skip``-th such move)."""
    labels = plan.labels
    found = 0
    for pos, grid in enumerate(plan.units.index):
        row = plan.graph.indices[plan.graph.indptr[pos] : plan.graph.indptr[pos + 1]]
        for target in sorted(set(labels.iloc[row]) - {labels.iloc[pos]}):
            if found == skip:
                return str(grid), str(target)
            found += 1
    raise AssertionError("no move")


@pytest.fixture
def plans(demo_result):
    shared = EvaluationCache(size=16)
    a, b = Plan.from_check(demo_result), Plan.from_check(demo_result)
    a.evaluations = b.evaluations = shared
    return a, b, shared


def _alone(demo_result, moves) -> Plan:
    """A plan with its own cache after ``moves``: what a shared cache must give."""
    p = Plan.from_check(demo_result)
    for grid, target in moves:
        assert p.move([grid], target).ok
    return p


def test_two_plans_in_different_states_never_see_each_others_figures(plans, demo_result):
    a, b, shared = plans
    move_a, move_b = _a_move(a, 0), _a_move(a, 5)
    assert a.move([move_a[0]], move_a[1]).ok
    assert b.move([move_b[0]], move_b[1]).ok
    for plan, moves in ((a, [move_a]), (b, [move_b])):
        alone = _alone(demo_result, moves)
        pd.testing.assert_frame_equal(plan.communities(), alone.communities())
        pd.testing.assert_frame_equal(plan.findings(), alone.findings())
        assert plan.kpis() == alone.kpis()
    assert not a.communities().equals(b.communities())


def test_undo_redo_and_another_plan_in_the_same_state_reuse_one_evaluation(plans):
    a, b, shared = plans
    a.kpis()
    misses = shared.misses
    b.kpis()  # the same (as-is) state: nothing evaluated again
    assert shared.misses == misses
    grid, target = _a_move(a)
    assert a.move([grid], target).ok
    moved = a.communities()
    assert shared.misses == misses + 1
    a.undo()
    a.kpis()
    a.redo()
    pd.testing.assert_frame_equal(a.communities(), moved)
    assert b.move([grid], target).ok
    pd.testing.assert_frame_equal(b.communities(), moved)
    assert shared.misses == misses + 1


def test_profile_language_and_attributes_are_part_of_the_key(plans, demo_results):
    a, b, shared = plans
    zh, en = a.findings(lang="zh"), a.findings(lang="en")
    assert not zh["message"].equals(en["message"])
    narrow = a.communities(min_households=1500, max_households=2500)
    assert not narrow["status"].equals(a.communities()["status"])
    other = demo_results["hangzhou-2008"]
    b.set_profile(other.profile, community_attrs=other.communities)
    assert b.kpis()["profile"] == "hangzhou-2008"
    assert set(b.findings()["rule_id"]) != set(a.findings()["rule_id"])
    edited = other.communities.copy()
    edited["staff"] = 0
    c = Plan.from_check(other)
    c.evaluations = shared
    before = c.findings()
    c.community_attrs = edited
    assert not c.findings().equals(before)


def test_the_cache_is_bounded(plans):
    a, _, shared = plans
    for k in range(20):
        grid, target = _a_move(a, k)
        if a.move([grid], target).ok:
            a.kpis()
    assert len(shared) <= 16


def _step(plan: Plan, op: tuple[str, int]) -> None:
    kind, k = op
    if kind == "move":
        grid, target = _a_move(plan, k)
        plan.move([grid], target)
    elif kind == "undo" and plan.can_undo:
        plan.undo()
    elif kind == "redo" and plan.can_redo:
        plan.redo()


def _figures(plan: Plan) -> tuple:
    return (
        plan.communities(),
        plan.communities(base=True),
        plan.kpis(),
        plan.kpis(base=True),
        plan.changes(),
    )


def _same(got: tuple, want: tuple) -> None:
    for g, w in zip(got, want, strict=True):
        if isinstance(w, pd.DataFrame):
            pd.testing.assert_frame_equal(g, w)
        else:
            assert g == w


_OPS = st.lists(
    st.tuples(st.sampled_from(["move", "undo", "redo"]), st.integers(0, 12)), max_size=4
)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops_a=_OPS, ops_b=_OPS)
def test_derived_figures_shared_by_content_equal_a_fresh_plan(demo_result, ops_a, ops_b):
    """Community table, KPIs and change list kept by content (shared) = a fresh plan's own."""
    shared = EvaluationCache(size=4)  # small: evictions happen too
    pristine = Plan.from_check(demo_result)  # never evaluated: copies compute from scratch
    a, b = copy.deepcopy(pristine), copy.deepcopy(pristine)
    a.evaluations = b.evaluations = shared
    ops_a, ops_b = [("move", 0), *ops_a], [("move", 5), *ops_b]  # two states at least
    pad = [("undo", 0)] * max(len(ops_a), len(ops_b))
    for op_a, op_b in zip(ops_a + pad, ops_b + pad, strict=False):
        for plan, op in ((a, op_a), (b, op_b)):
            _step(plan, op)
            fresh = copy.deepcopy(pristine)
            fresh.evaluations = EvaluationCache()  # its own: computed from scratch
            replay(fresh, plan.journal)
            _same(_figures(plan), _figures(fresh))
