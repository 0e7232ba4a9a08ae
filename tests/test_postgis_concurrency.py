"""Two planners on one plan: stale saves refused with the units changed, rebase, no lost update.

Every test runs on a GeoPackage and on PostGIS (``workspace`` fixture, tests/pg_fixtures.py).
"""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
from test_dashboard_plans import _movable, as_user
from test_plans import small_plan

from dashboards.provider import DashboardProvider, PlanRequest, PlanStore
from dashboards.provider.plan_views import neighbours
from gridmap import edits
from gridmap.plans import PlanConflict, load_plan

ITERATIONS = 50  # per process: 100 contested saves, plus the rebased ones


def test_rebase_reapplies_my_edits_on_theirs(workspace):
    ws = workspace
    small_plan().save(ws)
    a, b = load_plan(ws, "方案A"), load_plan(ws, "方案A")
    assert a.version == b.version == 1
    assert a.move(["U001"], "C01", author="王五", comment="甲改").ok
    a.save(ws)
    assert b.move(["U006"], "C00", author="赵六", comment="乙改").ok
    with pytest.raises(PlanConflict) as conflict:
        b.save(ws)
    err = conflict.value
    assert err.changed == ("U001",) and err.mine == ("U006",) and err.rebasable
    assert (err.base, err.version) == (1, 2) and "rebase" in str(err)
    rebased = b.rebase(ws)  # in place: their edit in, mine re-applied
    assert rebased is b and b.labels["U001"] == "C01" and b.labels["U006"] == "C00"
    assert [e["seq"] for e in b.journal] == [0, 1] and b.dirty and b.version == 2
    rebased.save(ws)
    final = load_plan(ws, "方案A")
    assert final.version == 3 and final.labels["U001"] == "C01" and final.labels["U006"] == "C00"
    audit = final.audit()
    assert audit["author"].tolist() == ["王五", "赵六"] and audit["seq"].tolist() == [0, 1]
    assert audit["comment"].tolist() == ["甲改", "乙改"]
    # undo on the rebased plan undoes my edit, then theirs
    final.undo()
    assert final.labels["U006"] == "C01" and final.labels["U001"] == "C01"


def test_rebase_refuses_when_both_changed_a_unit(workspace):
    ws = workspace
    small_plan().save(ws)
    a, b = load_plan(ws, "方案A"), load_plan(ws, "方案A")
    a.move(["U001"], "C01")
    a.save(ws)
    b.move(["U001", "U005"], "C01")
    with pytest.raises(PlanConflict) as conflict:
        b.save(ws)
    assert conflict.value.overlap == ("U001",) and not conflict.value.rebasable
    assert "save_as" in str(conflict.value)
    mine = b.labels
    with pytest.raises(PlanConflict, match="U001"):
        b.rebase(ws)
    assert b.labels.equals(mine) and len(b.journal) == 1  # nothing changed


def test_undo_of_a_loaded_edit_rebases_as_a_revert(workspace):
    ws = workspace
    plan = small_plan()
    plan.move(["U001"], "C01")
    plan.save(ws)
    a, b = load_plan(ws, "方案A"), load_plan(ws, "方案A")
    a.move(["U006"], "C00")
    a.save(ws)
    b.undo()  # undoes the saved move of U001
    with pytest.raises(PlanConflict):
        b.save(ws)
    rebased = b.rebase(ws)
    assert [e["op"] for e in rebased.journal] == ["move", "move", "revert"]
    rebased.save(ws)
    final = load_plan(ws, "方案A")
    assert final.labels["U001"] == "C00" and final.labels["U006"] == "C00"


# ---------------------------------------------------------------------- two processes
def _other(labels, unit: str) -> str:
    return "C01" if labels[unit] == "C00" else "C00"


def _editor(ws, me: str, unit: str, barrier, log: str) -> None:
    """Load, edit my unit, save at the same moment as the other; rebase when refused."""
    events = []
    for i in range(ITERATIONS):
        barrier.wait(60)
        plan = load_plan(ws, "方案A")
        assert plan.move([unit], _other(plan.labels, unit), author=me, comment=f"{me}-{i}").ok
        barrier.wait(60)
        try:
            plan.save(ws)
            events.append(["accepted", f"{me}-{i}", plan.version])
        except PlanConflict as exc:
            events.append(["refused", f"{me}-{i}", list(exc.changed), list(exc.mine)])
            rebased = plan.rebase(ws)  # the other planner waits at the barrier meanwhile
            rebased.save(ws)
            events.append(["rebased", f"{me}-{i}", rebased.version])
    Path(log).write_text(json.dumps(events), encoding="utf-8")


def test_two_processes_100_interleaved_saves_lose_nothing(workspace, tmp_path):
    ws = workspace
    start = small_plan()
    start.save(ws)
    mp = multiprocessing.get_context("fork")
    barrier = mp.Barrier(2)
    who = {"甲": "U001", "乙": "U006"}
    logs = {me: str(tmp_path / f"{me}.json") for me in who}
    procs = [
        mp.Process(target=_editor, args=(ws, me, u, barrier, logs[me])) for me, u in who.items()
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(600)
    assert [p.exitcode for p in procs] == [0, 0]
    events = [e for me in who for e in json.loads(Path(logs[me]).read_text(encoding="utf-8"))]
    saved = {e[1] for e in events if e[0] in ("accepted", "rebased")}
    refused = [e for e in events if e[0] == "refused"]
    assert len([e for e in events if e[0] != "rebased"]) == 2 * ITERATIONS
    assert refused and len(saved) == 2 * ITERATIONS  # every edit saved, directly or rebased
    for _, comment, changed, mine in refused:  # each refusal named the other planner's unit
        me = comment.split("-")[0]
        assert mine == [who[me]] and changed and who[me] not in changed
    final = load_plan(ws, "方案A")  # verifies the digest and the replay of the journal
    assert sorted(e["comment"] for e in final.journal) == sorted(saved)  # every save, once
    assert final.version == 1 + len(saved)
    labels = edits.apply_changes(start.base, [c for e in final.journal for c in e["changes"]])
    assert labels.equals(final.labels)
    for unit in who.values():  # each toggled its unit once per iteration: an even number
        assert final.labels[unit] == start.labels[unit]


# ---------------------------------------------------------------------- the Plans page's server side
def test_the_plans_page_tells_of_another_save_and_rebases(workspace):
    """Two planners on the Plans page of one workspace (GeoPackage or PostGIS)."""
    provider = DashboardProvider.from_config(None)
    provider.workspace = workspace  # a PostGIS URL stays a string
    store = PlanStore(provider, max_sessions=4)
    with as_user("甲"):
        a = store.issue()
        assert store.act(a, PlanRequest("save", name="共同方案")).tone == "text"
        assert store.news(a) is None
    with as_user("乙"):
        b = store.issue()
        assert store.act(b, PlanRequest("load", saved="共同方案")).tone == "text"
    with as_user("甲"):
        uid, target = _movable(store.get(a).plan)
        store.act(a, PlanRequest("move", selection=[uid], target=target))
        assert store.act(a, PlanRequest("save", name="共同方案")).tone == "text"
    with as_user("乙"):
        news = store.news(b)
        assert news and "甲" in news and "1 个网格" in news
        plan = store.get(b).plan
        other, to = next(
            (u, t) for u in plan.units.index if u != uid for t in neighbours(plan, [u])
            if t != plan.labels[uid] and _try_move(plan, u, t)
        )  # fmt: skip
        assert store.act(b, PlanRequest("move", selection=[other], target=to)).tone == "ok"
        out = store.act(b, PlanRequest("save", name="共同方案"))
        assert out.tone == "error" and "合并" in out.lines[0]
        out = store.act(b, PlanRequest("rebase"))
        assert out.tone == "ok" and "已合并他人保存的 3 步编辑" in out.lines[0]  # move, undo, move
        assert store.news(b) is None  # up to date again
        assert store.act(b, PlanRequest("save", name="共同方案")).tone == "text"
    final = load_plan(workspace, "共同方案")
    assert final.labels[uid] == target and final.labels[other] == to
    last = final.journal[-1]  # 乙's move, re-applied after 甲's entries
    assert last["author"] == "乙" and last["changes"][0][0] == other
    with as_user("乙", role="viewer"):
        assert store.act(store.issue(), PlanRequest("rebase")).tone == "error"


def _try_move(plan, uid, to) -> bool:
    res = plan.move([uid], to)
    if res.ok:
        plan.undo()
    return res.ok


def test_save_with_rebase_merges_disjoint_edits_in_the_same_transaction(workspace):
    ws = workspace
    small_plan().save(ws)
    a, b = load_plan(ws, "方案A"), load_plan(ws, "方案A")
    a.move(["U001"], "C01", author="王五")
    a.save(ws)
    b.move(["U006"], "C00", author="赵六")
    b.save(ws, rebase=True)  # theirs taken in under the lock, mine re-applied, saved
    final = load_plan(ws, "方案A")
    assert final.version == 3 and b.version == 3 and not b.dirty
    assert final.labels["U001"] == "C01" and final.labels["U006"] == "C00"
    assert [e["author"] for e in final.journal] == ["王五", "赵六"]
    c = load_plan(ws, "方案A")
    assert a.move(["U006"], "C00", author="王五").ok  # a is stale and touches 赵六's unit
    c.undo()
    c.save(ws)
    with pytest.raises(PlanConflict) as conflict:
        a.save(ws, rebase=True)
    assert conflict.value.overlap == ("U006",) and a.labels["U006"] == "C00"  # untouched
    assert a.version == 2 and load_plan(ws, "方案A").labels["U006"] == "C01"
