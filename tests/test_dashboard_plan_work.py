"""Plan work takes turns (#19): at most ``plan_workers`` threads compute at once, every save stored.

A turn is taken to evaluate a plan state not evaluated before (and to build a plan from the
workspace); drawing or editing a state already evaluated takes none, nor does writing drafts and
plans (it waits on the disk), so requests may overlap there.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask

from dashboards.identity import User, set_current_user
from dashboards.provider import DashboardProvider, PlanRequest
from dashboards.provider.plan_views import neighbours
from gridmap.plans import list_plans, load_plan


@pytest.fixture(scope="module")
def provider(tmp_path_factory) -> DashboardProvider:
    prov = DashboardProvider.from_config(None, plan_workers=1)
    prov.workspace = tmp_path_factory.mktemp("ws") / "plans.gpkg"
    return prov


def test_concurrent_planners_take_turns_and_every_successful_save_is_stored(provider):
    store = provider.plan_sessions
    busy, most, turns, lock = [0], [0], [0], threading.Lock()
    work = store.work

    class Counted:
        def __enter__(self):
            work.__enter__()
            with lock:
                busy[0] += 1
                turns[0] += 1
                most[0] = max(most[0], busy[0])

        def __exit__(self, *exc):
            with lock:
                busy[0] -= 1
            return work.__exit__(*exc)

    store.work = Counted()
    template = store.template()
    grids = [
        (uid, targets[0])
        for uid in template.units.index[:40]
        if (targets := neighbours(template, [uid]))
    ][:4]

    def planner(k: int) -> tuple[str, str, str]:
        uid, target = grids[k]
        with Flask(__name__).test_request_context():
            set_current_user(User(f"planner{k}", "editor"))
            sid = store.issue()
            moved = provider.plan_action(sid, PlanRequest("move", selection=[uid], target=target))
            saved = provider.plan_action(sid, PlanRequest("save", name=f"方案{k}"))
            return moved.tone, saved.tone, saved.lines[0]

    try:
        with ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(planner, range(len(grids))))
    finally:
        store.work = work
    assert most[0] == 1  # plan_workers=1: one at a time
    assert turns[0] >= 2 * len(grids)  # every edit computed in its turn
    assert [o[:2] for o in outcomes] == [("ok", "text")] * len(grids), outcomes
    names = set(list_plans(provider.plans_workspace())["name"])
    for k, (uid, target) in enumerate(grids):
        assert f"方案{k}" in names
        plan = load_plan(provider.plans_workspace(), f"方案{k}")
        assert plan.labels[uid] == target  # the edit that answered success is what is stored


def test_drawing_a_state_already_evaluated_takes_no_turn(provider):
    store = provider.plan_sessions
    taken = [0]
    work = store.work

    class Counted:
        def __enter__(self):
            taken[0] += 1
            return work.__enter__()

        def __exit__(self, *exc):
            return work.__exit__(*exc)

    with Flask(__name__).test_request_context():
        set_current_user(User("drawer", "editor"))
        sid = store.issue()
        ids = provider.ids("grid")
        store.view(sid, ids, "grid.json")  # the tab's first drawing: its as-is state
        store.work = Counted()
        try:
            for plan in (store.get(sid).plan, store.template()):
                plan.turn = store.work
            store.view(sid, ids, "grid.json", mode="status")
            assert taken[0] == 0  # evaluated before: drawn without waiting for a turn
            uid = next(u for u in ids if neighbours(store.get(sid).plan, [u]))
            target = neighbours(store.get(sid).plan, [uid])[0]
            store.evaluations.clear()
            out = provider.plan_action(sid, PlanRequest("move", selection=[uid], target=target))
            assert out.tone == "ok" and taken[0] >= 1  # a new state: evaluated in a turn
        finally:
            store.work = work
            store.get(sid).plan.turn = work
            store.template().turn = work
