"""The 边界调整 Plans page's server side without a browser: session store, edits, payloads, save/load, export (fast)."""

from __future__ import annotations

import io
import shutil
from collections import defaultdict
from contextlib import contextmanager

import pandas as pd
import pytest
from flask import Flask

from dashboards.identity import User, set_current_user
from dashboards.pages import plans as page
from dashboards.provider import DashboardProvider, PlanRequest, PlanStore
from dashboards.provider.plan_session import TabRefused
from dashboards.provider.plan_views import band_text, compare_rows, neighbours, plan_payload
from dashboards.provider.plans import export_gpkg, export_xlsx, run_edit
from gridmap.plans import WorkspaceError, load_plan


@pytest.fixture(scope="module")
def provider(tmp_path_factory) -> DashboardProvider:
    prov = DashboardProvider.from_config(None)
    prov.workspace = tmp_path_factory.mktemp("ws") / "plans.gpkg"
    return prov


@pytest.fixture
def store(provider) -> PlanStore:
    return PlanStore(provider, max_sessions=3)


@pytest.fixture
def tab(store) -> defaultdict:
    """Server-issued tab ids by a short name (``tab["a"]``)."""
    return defaultdict(store.issue)


def _movable(plan):
    for uid in plan.units.index:
        for target in neighbours(plan, [uid]):
            res = plan.move([uid], target)
            if res.ok:
                plan.undo()
                return uid, target
    raise AssertionError("nothing movable")


def test_sessions_are_independent_and_bounded(store, tab):
    a, b = store.get(tab["a"]), store.get(tab["b"])
    assert a is store.get(tab["a"]) and a.plan is not b.plan
    assert a.plan.graph is b.plan.graph  # adjacency shared, computed once
    uid, target = _movable(a.plan)
    out = store.act(tab["a"], PlanRequest("move", selection=[uid], target=target))
    assert out.tone == "ok" and out.lines
    assert a.plan.kpis()["units_moved"] == 1 and b.plan.kpis()["units_moved"] == 0
    for sid in ("c", "d", "e"):
        store.get(tab[sid])
    assert len(store) == 3  # "a" was dropped from memory …
    back = store.get(tab["a"])
    assert back is not a and back.plan.kpis()["units_moved"] == 1  # … and restored from its draft
    assert (
        back.plan.journal[-1]["author"] == "local" and back.take_notice()[0] == "pl.draft.restored"
    )
    assert store.get(tab["b"]).plan.kpis()["units_moved"] == 0


def test_move_undo_redo_and_refusals(store, tab):
    s = store.get(tab["x"])
    uid, target = _movable(s.plan)
    assert target in neighbours(s.plan, [uid])
    assert s.plan.labels[uid] not in neighbours(s.plan, [uid])
    assert run_edit(s, "move", selection=[], target=target) == (False, ["请先在地图上选择网格。"])
    assert run_edit(s, "move", selection=[uid], target=None, lang="en")[1] == [
        "Choose the target community."
    ]
    assert run_edit(s, "undo", selection=[])[0] is False  # nothing to undo
    run_edit(s, "move", selection=[uid], target=target)
    assert s.plan.labels[uid] == target
    assert run_edit(s, "undo", selection=[])[0] and s.plan.kpis()["units_moved"] == 0
    assert run_edit(s, "redo", selection=[])[0] and s.plan.labels[uid] == target
    # a far-away community is refused with the library's reason
    far = next(
        c for c in s.plan.communities().index if c not in neighbours(s.plan, [uid]) and c != target
    )
    changed, lines = run_edit(s, "move", selection=[uid], target=far)
    assert not changed and len(lines) >= 2
    # split / merge / create
    big = s.plan.communities()["households"].idxmax()
    assert run_edit(s, "split", selection=[], community=big, k=2)[0]
    assert s.plan.kpis()["communities"] == 31
    assert run_edit(s, "merge", selection=[], communities=[big])[1] == ["请至少选择两个社区。"]


def test_payload_colours_follow_the_plan(store, tab, provider):
    s = store.get(tab["p"])
    ids = provider.ids("grid")
    uid, target = _movable(s.plan)
    i = ids.get_loc(uid)
    before = plan_payload(s, ids, "/geo", mode="community")
    assert len(before["c"]) == len(ids) and min(before["c"]) >= 0
    run_edit(s, "move", selection=[uid], target=target)
    after = plan_payload(s, ids, "/geo", mode="community")
    assert after["labels"][after["c"][i]].startswith(s.plan.community_name(target))
    assert after["version"] != before["version"]
    base = plan_payload(s, ids, "/geo", base=True, mode="status")
    assert base["labels"][base["c"][i]] in {"户数达标", "户数偏小", "户数偏大"}
    assert sum(x["count"] for x in base["legend"]) == 30
    # neighbouring communities never share a colour
    from gridmap.edits import community_adjacency

    adj = community_adjacency(s.plan.labels, s.plan.graph)
    assert all(s.color_of(c) != s.color_of(n) for c in adj for n in adj[c])
    rows = compare_rows(s.plan)
    assert rows[0][1] == "20/30" and rows[4] == ("调整网格", "0", "1")


def test_save_load_and_exports(store, tab, provider):
    s = store.get(tab["w"])
    uid, target = _movable(s.plan)
    run_edit(s, "move", selection=[uid], target=target)
    s.plan.name = "测试方案"
    s.plan.save(provider.plans_workspace())
    assert "测试方案" in store.saved()["name"].tolist()
    fresh = store.reset(tab["w"])
    assert fresh.plan.kpis()["units_moved"] == 0
    loaded = store.load(tab["w"], "测试方案")
    assert loaded.plan.labels[uid] == target and loaded.plan.graph is store.template().graph
    xlsx = pd.read_excel(io.BytesIO(export_xlsx(loaded.plan)))
    assert xlsx.shape[0] == 1 and str(xlsx.iloc[0, 0]) == uid
    gpkg = export_gpkg(loaded.plan)
    assert gpkg[:16] == b"SQLite format 3\x00"


def test_rebalance_is_shown_then_applied(store, tab, provider):
    s = store.get(tab["r"])
    changed, lines = run_edit(s, "rebalance", selection=[], time_limit=3, provider=provider)
    assert not changed and lines  # computed, not applied yet
    assert s.pending is not None
    n = len(s.pending[1].changes)
    changed, lines = run_edit(s, "apply", selection=[])
    assert changed and s.plan.kpis()["units_moved"] == n > 0
    assert run_edit(s, "apply", selection=[])[0] is False  # nothing pending any more


def test_layout_and_callbacks_build(provider):
    from dashboards import create_app

    for lang in ("zh", "en"):
        assert "page-plans" in str(page.layout(provider, lang))
    app = create_app(provider)
    assert app.plan_store.provider is provider
    assert any("pl-kpis" in k for k in app.callback_map)


def test_workspace_defaults_next_to_the_config(tmp_path):
    from gridmap import datasets

    cfg = tmp_path / "gridmap.toml"
    text = datasets.demo_config_toml(datasets.get_path("demo").as_posix())
    cfg.write_text(text, encoding="utf-8")
    assert DashboardProvider.from_config(str(cfg)).plans_workspace() == tmp_path / "plans.gpkg"
    cfg.write_text(text + '\n[dashboard]\nworkspace = "out/workspace.gpkg"\n', encoding="utf-8")
    assert (
        DashboardProvider.from_config(str(cfg)).plans_workspace()
        == tmp_path / "out" / "workspace.gpkg"
    )
    demo = DashboardProvider.from_config(None)
    assert (
        demo.workspace is None and demo.plans_workspace().name == "plans.gpkg"
    )  # a temporary workspace
    shutil.rmtree(demo.plans_workspace().parent)


def test_band_and_kpis_follow_the_profile(store, tab, provider):
    """The page shows the band of the profile chosen at the top, and the check's counts under it."""
    s = store.get(tab["hz"], "hangzhou-2008")
    assert s.plan.profile.id == "hangzhou-2008" and (s.plan.band.min, s.plan.band.max) == (
        1500,
        3000,
    )
    k = s.plan.kpis()
    chk = provider.kpis("hangzhou-2008")
    assert (k["too_small"], k["too_large"]) == (chk["size_small"], chk["size_large"]) == (9, 6)
    assert "1,500–3,000" in band_text(s.plan, "zh")
    assert compare_rows(s.plan)[0][1] == "15/30"
    # back to national: the same session's plan is re-evaluated, edits kept
    uid, target = _movable(s.plan)
    run_edit(s, "move", selection=[uid], target=target)
    s = store.get(tab["hz"], "national")
    assert s.plan.profile.id == "national" and s.plan.kpis()["units_moved"] == 1
    assert compare_rows(s.plan)[0][1] == "20/30"
    assert store.get(tab["hz"]).plan.profile.id == "national"  # no profile given: left as it is


# ---------------------------------------------------------------------- issue 13: shared server
@contextmanager
def as_user(name: str | None, role: str = "editor"):
    """A request made by ``name`` (None: nobody logged in), as the login layer would set it."""
    with Flask(__name__).test_request_context():
        set_current_user(None if name is None else User(name, role))
        yield


def test_tab_ids_are_server_issued_and_bound_to_their_user(store, provider):
    with as_user("张三"):
        mine = store.issue()
        store.get(mine)
        for forged in (None, "", "anonymous", "null", mine + "x", 5, ["a"]):
            with pytest.raises(TabRefused):
                store.get(forged)
            out = store.act(forged, PlanRequest("undo"))
            assert out.tone == "error" and "刷新" in out.lines[0]
    with as_user("李四"), pytest.raises(TabRefused):
        store.get(mine)  # a known id of another person opens nothing
    with as_user(None):
        assert store.issue() == ""
        assert store.act(mine, PlanRequest("undo")).lines == ["请先登录。"]


def test_viewer_cannot_edit_or_save_and_the_journal_names_the_editor(store, provider):
    with as_user("王五"):
        sid = store.issue()
        uid, target = _movable(store.get(sid).plan)
        assert store.act(sid, PlanRequest("move", selection=[uid], target=target)).tone == "ok"
        assert store.get(sid).plan.journal[-1]["author"] == "王五"
        assert store.get(sid).plan.author == "王五"
    with as_user("查看员", "viewer"):
        vid = store.issue()
        before = store.get(vid).plan.labels
        for action in ("move", "split", "rebalance", "apply", "undo", "save"):
            out = store.act(vid, PlanRequest(action, selection=[uid], target=target))
            assert out.tone == "error" and "查看者" in out.lines[0], action
        assert store.get(vid).plan.labels.equals(before) and not store.get(vid).plan.journal


@pytest.mark.parametrize(
    ("action", "field", "value"),
    [
        ("split", "k", "abc"),
        ("split", "k", float("nan")),
        ("split", "k", 1e9),
        ("split", "k", 2.5),
        ("rebalance", "time_limit", "abc"),
        ("rebalance", "time_limit", float("nan")),
        ("rebalance", "time_limit", 1e9),
        ("rebalance", "time_limit", -1),
    ],
)
def test_numbers_are_range_checked(store, tab, action, field, value):
    out = store.act(tab["n"], PlanRequest(action, community="C1", **{field: value}))
    assert out.tone == "error" and ("份数" in out.lines[0] or "计算量" in out.lines[0])
    assert not store.get(tab["n"]).plan.journal


def test_two_editors_saving_one_plan_get_a_conflict_and_lose_nothing(store, provider):
    with as_user("甲"):
        a = store.issue()
        store.act(a, PlanRequest("save", name="共同方案"))
    with as_user("乙"):
        b = store.issue()
        assert store.act(b, PlanRequest("load", saved="共同方案")).tone == "text"
    with as_user("甲"):
        uid, target = _movable(store.get(a).plan)
        store.act(a, PlanRequest("move", selection=[uid], target=target))
        assert (
            store.act(a, PlanRequest("save", name="共同方案"))
            .lines[0]
            .startswith("方案“共同方案”已保存")
        )
    with as_user("乙"):
        plan = store.get(b).plan
        other = next(u for u in plan.units.index if u != uid and _try_move(plan, u))
        mine = store.get(b).plan.labels
        out = store.act(b, PlanRequest("save", name="共同方案"))
        assert out.tone == "error" and "甲" in out.lines[0] and "1 个网格" in out.lines[0]
        assert store.get(b).plan.labels.equals(mine)  # nothing lost
        out = store.act(b, PlanRequest("save", name="乙的方案"))
        assert "另存为新方案" in out.lines[0] and out.name == "乙的方案"
    ws = provider.plans_workspace()
    assert load_plan(ws, "乙的方案").labels.equals(mine)  # B's version, B's edit in it
    assert load_plan(ws, "共同方案").labels[uid] == target  # A's version untouched
    assert load_plan(ws, "乙的方案").labels[other] != load_plan(ws, "共同方案").labels[other]


def _try_move(plan, uid) -> bool:
    for target in neighbours(plan, [uid]):
        if plan.move([uid], target, author="乙").ok:
            return True
    return False


def test_drafts_are_bounded_by_refusing_new_ones(provider):
    store = PlanStore(provider, max_sessions=2, max_drafts_per_user=2)
    with as_user("赵六"):
        tabs = [store.issue() for _ in range(3)]
        uid, target = _movable(store.get(tabs[0]).plan)
        move = PlanRequest("move", selection=[uid], target=target)
        assert [store.act(s, move).tone for s in tabs[:2]] == ["ok", "ok"]
        out = store.act(tabs[2], move)
        assert out.tone == "error" and "上限" in out.lines[0]
        assert not store.get(tabs[2]).plan.journal  # refused, nothing changed
        assert all(store.get(s).plan.kpis()["units_moved"] == 1 for s in tabs[:2])  # kept
        store.act(tabs[0], PlanRequest("save", name="赵六的方案"))  # saved: room again
        assert store.act(tabs[2], move).tone == "ok"
    with as_user("孙七"):  # the limit is per user
        assert store.act(store.issue(), move).tone == "ok"


def test_workspace_errors_are_messages_without_paths(store, tab, provider, monkeypatch):
    from gridmap.plans import Plan

    for reason, words in (("no_space", "磁盘空间不足"), ("read_only", "只读")):

        def full(self, workspace, reason=reason):
            raise WorkspaceError(workspace, reason, "disk")

        monkeypatch.setattr(Plan, "save", full)
        out = store.act(tab["ws"], PlanRequest("save", name="满"))
        assert out.tone == "error" and words in out.lines[0]
        assert str(provider.plans_workspace().parent) not in out.lines[0]
    monkeypatch.undo()
    out = store.act(tab["ws"], PlanRequest("save", name="满"))
    assert str(provider.plans_workspace().parent) not in out.lines[0]
    assert provider.plans_workspace().name in out.lines[0]


def test_rebalancer_proposal_is_previewed_not_applied():
    """After 计算 the view draws the plan with the proposal (moved grids highlighted) and lists
    its moves by name, while the tab's plan and journal stay as they were until 应用."""
    from dashboards.provider import DashboardProvider, PlanRequest

    provider = DashboardProvider.from_config(None)
    store = provider.plan_sessions
    tab = store.issue()
    out = store.act(tab, PlanRequest("rebalance", time_limit=3))
    assert out.in_rebalance_box and out.refresh
    view = provider.plan_view(tab, "/geo")
    plan = store.get(tab).plan
    assert view.pending and view.changes == [] and len(plan.journal) == 0
    moved = view.plan_map["highlight"]
    assert len(moved) == len(view.proposal) > 0
    assert view.plan_map["version"].endswith("|proposal")
    names = set(plan.units["name"])
    assert all(row[0] in names and not row[1].isdigit() for row in view.proposal)
    assert view.proposal_kpis["in_band"] > view.kpis["in_band"]
    base = provider.plan_view(tab, "/geo").base_map
    assert base["highlight"] == []
    store.act(tab, PlanRequest("apply"))
    after = provider.plan_view(tab, "/geo")
    assert not after.pending and after.proposal == [] and after.plan_map["highlight"] == []
    assert (
        len(after.changes) == len(moved) and after.kpis["in_band"] == view.proposal_kpis["in_band"]
    )


def test_refusals_name_communities_and_moves_out_of_band_warn():
    """A refused move names the community (name and code); a move that leaves a community
    outside the band is done with a warning naming it and its households."""
    from dashboards.provider import DashboardProvider, PlanRequest
    from dashboards.provider.plan_session import named
    from dashboards.provider.plan_views import neighbours

    provider = DashboardProvider.from_config(None)
    store = provider.plan_sessions
    tab = store.issue()
    plan = store.get(tab).plan
    table = plan.communities()
    refused = warned = None
    for uid in plan.units.index:
        for target in neighbours(plan, [uid]):
            res = plan.move([uid], target)
            if res.ok:
                plan.undo()
                if warned is None and table.at[target, "status"] == "too_large":
                    warned = (uid, target)
            elif refused is None:
                refused = (uid, target, res.reasons[0])
    assert refused and warned
    cid = next(c for c in table.index if c in refused[2])
    text = named(refused[2], plan)
    assert f"{table.at[cid, 'name']}（{cid}）" in text
    out = store.act(tab, PlanRequest("move", selection=[refused[0]], target=refused[1]))
    assert out.tone == "refused" and table.at[cid, "name"] in " ".join(out.lines)
    out = store.act(tab, PlanRequest("move", selection=[warned[0]], target=warned[1]))
    name = table.at[warned[1], "name"]
    assert out.tone == "ok"
    assert any(line.startswith(f"注意：{name} 调整后") and "超出范围" in line for line in out.lines)
    assert named("编码 12345 与 abc", plan) == "编码 12345 与 abc"


def test_a_closed_tabs_draft_is_taken_over_by_another_tab(tmp_path):
    """Tab A edits and is closed (gone from memory, its draft stays); tab B of the same user
    lists A's draft, takes it over with a note saying so; A's draft is gone, B's holds it."""
    from dashboards.provider import DashboardProvider, PlanRequest
    from dashboards.provider.plan_views import neighbours

    provider = DashboardProvider.from_config(None, workspace=tmp_path / "plans.gpkg")
    store = provider.plan_sessions
    plan = store.get("tab-a").plan
    uid, target = next(
        (u, c) for u in plan.units.index for c in neighbours(plan, [u]) if plan.move([u], c).ok
    )
    plan.undo()
    store.reset("tab-a")
    out = store.act("tab-a", PlanRequest("move", selection=[uid], target=target))
    assert out.tone == "ok"
    store._sessions.clear()  # the server forgot both tabs (closed, restarted)
    assert provider.plan_drafts("tab-a") == []  # its own draft is not "another tab's"
    options = provider.plan_drafts("tab-b", "zh")
    assert len(options) == 1 and "1 步未保存" in options[0]["label"]
    assert provider.plan_takeover("tab-b", "someone/else").tone == "error"
    out = provider.plan_takeover("tab-b", options[0]["value"], lang="zh")
    assert out.tone == "ok" and "已接管另一个标签页的草稿" in out.lines[0]
    assert "重新开始" in out.lines[0]  # says what happens to the other tab
    taken = store.get("tab-b").plan
    assert taken.labels[uid] == target and taken.dirty
    assert provider.plan_drafts("tab-b") == []  # A's draft moved, not copied
    store._sessions.clear()
    assert store.get("tab-b").plan.labels[uid] == target  # B's own draft now
    assert store.get("tab-a").plan.dirty is False  # A starts over
    # a tab with unsaved edits of its own is not overwritten
    store.act("tab-c", PlanRequest("move", selection=[uid], target=target))
    store._sessions.clear()
    options = provider.plan_drafts("tab-d")
    store.act("tab-d", PlanRequest("move", selection=[uid], target=target))
    out = provider.plan_takeover("tab-d", options[0]["value"], lang="en")
    assert out.tone == "error" and "unsaved edits" in out.lines[0]


def test_news_of_another_planners_save_then_reload(store, provider):
    """The tab is told when someone else saved its plan; ``reload`` takes the plan as saved now."""
    with as_user("甲"):
        a = store.issue()
        store.act(a, PlanRequest("save", name="新闻方案"))
        assert store.news(a) is None  # its own save is no news
    with as_user("乙"):
        b = store.issue()
        store.act(b, PlanRequest("load", saved="新闻方案"))
        uid, target = _movable(load_plan(provider.plans_workspace(), "新闻方案"))  # a copy
        store.act(b, PlanRequest("move", selection=[uid], target=target))
        assert store.act(b, PlanRequest("save", name="新闻方案")).tone == "text"
    with as_user("甲"):
        line = store.news(a)
        assert line is not None and "由 乙 于" in line and "1 步编辑，改动 1 个网格" in line
        assert "saved by 乙 at" in store.news(a, "en")
        out = store.act(a, PlanRequest("reload"))
        assert out.refresh and out.name == "新闻方案" and "已载入" in out.lines[0]
        assert store.get(a).plan.labels[uid] == target and store.news(a) is None
        never = store.issue()  # a plan never saved: nothing to reload, said in the page
        assert store.act(never, PlanRequest("reload")).tone == "error"
