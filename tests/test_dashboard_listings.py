"""The Plans page's workspace listings are kept until the workspace changes (#19).

Two servers (providers) on one GeoPackage workspace: what one saves or drafts shows up in the
other's next listing; with nothing written, a listing is served from memory.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from dashboards.identity import User, set_current_user
from dashboards.provider import DashboardProvider, PlanRequest
from dashboards.provider.plan_views import neighbours
from gridmap.plans import Plan, workspace_stamp
from gridmap.plans.storage import ensure_workspace

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def two(tmp_path_factory) -> tuple[DashboardProvider, DashboardProvider]:
    ws = tmp_path_factory.mktemp("ws") / "plans.gpkg"
    ensure_workspace(ws)
    return (
        DashboardProvider.from_config(None, workspace=ws),
        DashboardProvider.from_config(None, workspace=ws),
    )


def _names(provider: DashboardProvider) -> list[str]:
    return provider.plan_sessions.saved()["name"].astype(str).tolist()


def test_saved_plans_listing_is_kept_until_any_provider_writes(two):
    a, b = two
    listings = a.plan_sessions.listings
    before = _names(a)
    reads = listings.reads
    assert _names(a) == before and listings.reads == reads  # nothing written: from memory
    plan = Plan.from_check(b.result(), name="另一台服务器的方案")
    plan.save(b.plans_workspace())  # as a second server (or the CLI) saves
    assert "另一台服务器的方案" in _names(a)
    assert listings.reads == reads + 1
    a_plan = Plan.from_check(a.result(), name="本服务器的方案")
    a_plan.save(a.plans_workspace())
    assert {"另一台服务器的方案", "本服务器的方案"} <= set(_names(b))


def test_other_tabs_drafts_listing_sees_a_draft_written_by_the_other_provider(two):
    a, b = two
    with Flask(__name__).test_request_context():
        set_current_user(User("planner", "editor"))
        sid_a = a.plan_sessions.issue()
        assert a.plan_drafts(sid_a) == []
        assert a.plan_drafts(sid_a) == []  # kept
        sid_b = b.plan_sessions.issue()
        template = b.plan_sessions.template()
        uid = next(u for u in template.units.index if neighbours(template, [u]))
        target = neighbours(template, [uid])[0]
        out = b.plan_action(sid_b, PlanRequest("move", selection=[uid], target=target))
        assert out.tone == "ok"
        drafts = a.plan_drafts(sid_a)  # the other server's tab of the same user
    assert len(drafts) == 1 and "1" in drafts[0]["label"]


def test_drafts_this_server_writes_keep_its_saved_plans_listing_but_others_writes_do_not(two):
    a, b = two
    listings = a.plan_sessions.listings
    with Flask(__name__).test_request_context():
        set_current_user(User("drafter", "editor"))
        sid = a.plan_sessions.issue()
        template = a.plan_sessions.template()
        moves = [
            (u, neighbours(template, [u])[0])
            for u in template.units.index[:60]
            if neighbours(template, [u])
        ]
        uid, target = moves[0]
        assert a.plan_action(sid, PlanRequest("move", selection=[uid], target=target)).tone == "ok"
        before = _names(a)  # read after the tab's first edit (its draft reserved)
        reads = listings.reads
        for uid, target in moves[1:6]:  # drafts written by this server: the listing is kept
            a.plan_action(sid, PlanRequest("move", selection=[uid], target=target))
            assert a.plan_action(sid, PlanRequest("undo")).tone == "ok"
            assert _names(a) == before and listings.reads == reads
        Plan.from_check(b.result(), name="草稿之后另存的方案").save(b.plans_workspace())
        assert any(  # a draft written after it
            a.plan_action(sid, PlanRequest("move", selection=[u], target=t)).tone == "ok"
            for u, t in moves[1:]
        )
        # another server's save, then this server's draft: the save is seen
        assert "草稿之后另存的方案" in _names(a)
        assert listings.reads == reads + 1


def test_stamp_changes_with_a_write_by_another_process(tmp_path):
    ws = tmp_path / "plans.gpkg"
    assert workspace_stamp(ws) is None  # not created yet: nothing to keep
    code = "import sys; from gridmap.plans.drafts import draft_secret; draft_secret(sys.argv[1])"
    subprocess.run([sys.executable, "-c", code, str(ws)], check=True, cwd=ROOT)
    first = workspace_stamp(ws)
    assert first is not None and workspace_stamp(ws) == first
    code = (
        "import sys; from gridmap.plans.drafts import reserve_draft; "
        "reserve_draft(sys.argv[1], 'k', 'u', max_per_user=5, max_total=5)"
    )
    subprocess.run([sys.executable, "-c", code, str(ws)], check=True, cwd=ROOT)
    second = workspace_stamp(ws)
    assert first is not None and second is not None
    assert second != first and second[1] == first[1]  # one row more, no page more: the counter
    assert second[3] != first[3]
    assert workspace_stamp("postgresql://u@localhost/db?schema=g") is None


def test_a_users_drafts_listing_is_read_again_only_when_that_user_wrote_a_draft(two):
    a, _ = two
    store, listings = a.plan_sessions, a.plan_sessions.listings
    template = store.template()
    moves = [(u, t[0]) for u in template.units.index[:60] if (t := neighbours(template, [u]))]

    def edit(user: str, sid: str) -> None:
        with Flask(__name__).test_request_context():
            set_current_user(User(user, "editor"))
            assert any(
                a.plan_action(sid, PlanRequest("move", selection=[u], target=t)).tone == "ok"
                for u, t in moves
            )

    with Flask(__name__).test_request_context():
        set_current_user(User("u1", "editor"))
        mine, other_tab = store.issue(), store.issue()
        set_current_user(User("u2", "editor"))
        theirs = store.issue()
    edit("u1", mine)  # u1's tab has a draft (reserved: the listing is read again after it)
    edit("u2", theirs)
    with Flask(__name__).test_request_context():
        set_current_user(User("u1", "editor"))
        assert a.plan_drafts(mine) == []
        reads = listings.reads
    edit("u2", theirs)  # another user's draft, then the asking tab's own: kept
    edit("u1", mine)
    with Flask(__name__).test_request_context():
        set_current_user(User("u1", "editor"))
        assert a.plan_drafts(mine) == [] and listings.reads == reads
    edit("u1", other_tab)  # the same user's other tab: read again, and listed
    with Flask(__name__).test_request_context():
        set_current_user(User("u1", "editor"))
        assert len(a.plan_drafts(mine)) == 1 and listings.reads > reads
