"""Plans: journal, undo/redo, storage (atomic, append-only, verified) and the outputs.

The storage tests take the ``workspace`` fixture (tests/pg_fixtures.py): each runs on a
GeoPackage and on PostGIS (a real server; skipped where none can be started).
"""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pg_fixtures import execute
from test_edits import lattice_units

import gridmap
from gridmap.plans import (
    CHANGE_COLUMNS_ZH,
    Plan,
    PlanConflict,
    list_plans,
    load_plan,
    merge_subplans,
    subplan,
)

ROOT = Path(__file__).resolve().parents[1]


def small_plan(name="方案A"):
    units = lattice_units(2, 4, 2, 2, households=[300, 400, 500, 600, 700, 800, 900, 1000])
    return Plan(units, name=name, author="李四", community_names={"C00": "甲社区", "C01": "乙社区"})


def test_edit_undo_redo_and_journal():
    plan = small_plan()
    assert plan.kpis()["units_moved"] == 0 and not plan.can_undo
    res = plan.move(["U001"], "C01", comment="试一下")
    assert res.ok and plan.labels["U001"] == "C01" and plan.can_undo
    assert plan.communities().loc["C01", "households"] == 400 + 500 + 600 + 900 + 1000
    plan.undo()
    assert plan.labels["U001"] == "C00" and plan.can_redo
    plan.redo()
    assert plan.labels["U001"] == "C01"
    assert plan.audit()["op"].tolist() == ["move", "undo", "redo"]
    assert plan.audit()["comment"][0] == "试一下" and plan.audit()["author"][0] == "李四"
    assert plan.replay(1).equals(plan.replay())


def test_changes_have_chinese_headers():
    plan = small_plan()
    plan.move(["U001"], "C01")
    zh = plan.changes_zh()
    assert list(zh.columns) == list(CHANGE_COLUMNS_ZH.values())
    row = zh.iloc[0]
    assert (row["单元编码"], row["原社区编码"], row["新社区编码"], row["户数"]) == (
        "U001",
        "C00",
        "C01",
        400,
    )
    assert row["原社区名称"] == "甲社区"


def test_save_load_roundtrip(workspace):
    ws = workspace
    plan = small_plan()
    plan.move(["U001"], "C01")
    plan.save(ws)
    plan.undo()
    plan.save(ws)  # appends the undo
    back = load_plan(ws, "方案A")
    assert back.labels.equals(plan.labels) and back.can_redo and not back.can_undo
    assert back.audit()["op"].tolist() == ["move", "undo"]
    back.redo()
    back.save(ws)
    assert load_plan(ws, plan.plan_id).labels["U001"] == "C01"
    assert list_plans(ws)["name"].tolist() == ["方案A"]
    if isinstance(ws, Path):  # a GeoPackage GDAL can list, with the plan tables registered
        layers = set(gpd.list_layers(ws)["name"])
        assert {"plans", "assignments", "edit_journal"} <= layers
    with pytest.raises(KeyError, match="方案A"):
        load_plan(ws, "nope")


def test_journal_is_append_only_and_conflicts_are_caught(workspace):
    ws = workspace
    plan = small_plan()
    plan.move(["U001"], "C01")
    plan.save(ws)
    for sql in ("DELETE FROM edit_journal", "UPDATE edit_journal SET author = 'x'"):
        with pytest.raises(Exception, match="append-only"):  # sqlite3 / psycopg errors
            execute(ws, sql)
    a, b = load_plan(ws, "方案A"), load_plan(ws, "方案A")
    a.undo(author="王五")
    a.save(ws)
    b.undo(author="赵六")
    b.move(["U002"], "C01", author="赵六")
    mine = b.labels
    with pytest.raises(PlanConflict, match="王五") as conflict:
        b.save(ws)
    err = conflict.value
    assert isinstance(err, ValueError) and (err.plan, err.authors) == ("方案A", ["王五"])
    assert (err.entries, err.units) == (1, 1) and err.saved_at.startswith("20")
    assert err.changed == ("U001",) and err.mine[0] == "U001"
    assert err.overlap == ("U001",) and not err.rebasable and (err.base, err.version) == (1, 2)
    assert "Plan.save_as" in str(err) and b.labels.equals(mine)  # nothing lost
    b.save_as(ws, "方案A（赵六）")
    assert sorted(list_plans(ws)["name"]) == ["方案A", "方案A（赵六）"]
    assert load_plan(ws, "方案A（赵六）").labels.equals(mine)
    assert load_plan(ws, "方案A").labels.equals(a.labels)
    with pytest.raises(ValueError, match="已被另一个方案使用"):
        small_plan().save(ws)
    before = (b.name, b.plan_id)
    with pytest.raises(ValueError, match="已被另一个方案使用"):
        b.save_as(ws, "方案A")
    assert (b.name, b.plan_id) == before


def test_tampering_is_detected(workspace):
    ws = workspace
    small_plan().save(ws)
    execute(ws, "UPDATE assignments SET community_id = 'C01' WHERE unit_id = 'U000'")
    with pytest.raises(ValueError, match="digest"):
        load_plan(ws, "方案A")


_KILL_SCRIPT = r"""
import sys, time, pathlib
sys.path.insert(0, {tests!r})
import numpy as np
import gridmap.plans.plan as plans
import sqlite3
_connect = sqlite3.connect
sqlite3.connect = lambda *a, **k: _c(_connect(*a, **k))
def _c(con):
    con.execute("PRAGMA cache_size = 10")  # tiny cache: pages spill into the file before COMMIT
    return con
from test_edits import lattice_units
ws, marker = sys.argv[1], pathlib.Path(sys.argv[2])
units = lattice_units(60, 60, 6, 6, households=np.full(3600, 100))
plan = plans.Plan(units, name="kill", plan_id="p1")
plan.move(["U005"], "C01")
plan.save(ws)                       # the last good save
plan.move(["U004"], "C01")
plans._before_commit = lambda: (marker.write_text("in save"), time.sleep(120))
plan.save(ws)                       # killed inside this transaction
"""


def test_kill_during_save_keeps_last_plan(tmp_path, workspace):
    ws, marker = workspace, tmp_path / "marker"
    script = tmp_path / "kill.py"
    script.write_text(_KILL_SCRIPT.format(tests=str(ROOT / "tests")), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), str(ws), str(marker)], cwd=ROOT)
    try:
        t0 = time.time()
        while not marker.exists():
            assert proc.poll() is None, "the saving process died early"
            assert time.time() - t0 < 60
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    if isinstance(ws, Path):  # a hot journal: the file was half-written
        journal = ws.with_name(ws.name + "-journal")
        assert journal.exists() and journal.stat().st_size > 0
    plan = load_plan(ws, "kill")
    assert plan.labels["U005"] == "C01" and plan.labels["U004"] == "C00"
    assert len(plan.journal) == 1 and plan.kpis()["units_moved"] == 1
    assert plan.version == 1
    plan.move(["U004"], "C01")  # the killed save's row lock is gone: the next save goes through
    plan.save(ws)
    assert load_plan(ws, "kill").version == 2


def test_from_check_findings_and_export(tmp_path, demo_result):
    plan = Plan.from_check(demo_result, name="演示")
    assert len(plan.units) == 185 and plan.excluded == []
    f = plan.findings()
    size = f[(f.rule_id == "community.size") & (f.status == "fail")]
    k = plan.kpis()
    assert len(size) == k["too_large"] + k["too_small"] == 10
    # the plan's findings for the as-is assignment agree with the check
    chk = demo_result.findings
    assert set(size.unit_id) == set(
        chk[(chk.rule_id == "community.size") & (chk.status == "fail")].unit_id
    )
    written = plan.export(tmp_path / "out", encoding="gbk")
    assert {
        "communities.gpkg",
        "communities.shp",
        "communities.cpg",
        "findings.csv",
        "changes.csv",
        "changes.xlsx",
        "plan.json",
    } <= set(written)
    shp = gpd.read_file(tmp_path / "out" / "communities.shp", encoding="gbk")
    assert set(shp["name"]) == set(demo_result.communities["name"])
    assert (tmp_path / "out" / "communities.cpg").read_text().strip().upper() in {
        "GBK",
        "CP936",
        "936",
    }
    xl = pd.read_excel(tmp_path / "out" / "changes.xlsx")
    assert list(xl.columns) == list(CHANGE_COLUMNS_ZH.values())
    assert (
        json.loads((tmp_path / "out" / "plan.json").read_text(encoding="utf-8"))["plan"] == "演示"
    )


def test_dissolve_is_contiguous_geometry(demo_result):
    plan = Plan.from_check(demo_result)
    d = plan.dissolve()
    assert len(d) == 30 and d.crs == demo_result.grids.crs
    assert np.isclose(d.households.sum(), demo_result.grids.households.sum())


def test_remainders_and_unitless_communities_count():
    """Households outside every unit stay with their community; a community with no unit at all
    (only households outside grids) is still one of the plan's communities."""
    units = lattice_units(2, 4, 2, 2, households=[300] * 8)  # C00, C01: 4 units × 300 each
    attrs = pd.DataFrame(
        {"households": [1500.0, 1200.0, 2000.0], "sparse": [False, False, True]},
        index=["C00", "C01", "C99"],
    )
    plan = Plan(units, name="r", community_offsets={"C00": 300}, community_attrs=attrs)
    t = plan.communities()
    assert t.loc["C00", "households"] == 1500 and t.loc["C01", "households"] == 1200
    assert (
        t.loc["C99", "households"] == 2000
        and t.loc["C99", "units"] == 0
        and t.loc["C99", "status"] == "pass"
    )
    k = plan.kpis()
    assert k["communities"] == 3 and k["households_total"] == 4700 and k["in_band"] == 3
    # every unit of C00 moves away: its 300 households outside units stay, and it is too small
    c00 = plan.units.index[plan.labels == "C00"].tolist()
    assert plan.move(c00, "C01", allow_islands=True).ok
    t = plan.communities()
    assert t.loc["C00", "households"] == 300 and t.loc["C00", "status"] == "too_small"
    assert t.loc["C01", "households"] == 2400  # its 4 units and the 4 moved in
    assert plan.kpis()["households_total"] == 4700
    assert plan.dissolve().loc["C99"].geometry is None


def test_unknown_households_are_not_assessed_not_zero():
    units = lattice_units(2, 4, 2, 2, households=[np.nan] * 8)
    plan = Plan(units, name="n")
    assert set(plan.communities()["status"]) == {"not_assessed"}
    k = plan.kpis()
    assert k["size_not_assessed"] == 2 and k["too_small"] == 0 and k["households_total"] is None
    f = plan.findings()
    assert set(f[f.rule_id == "community.size"].status) == {"not_assessed"}


def test_exemption_comes_from_the_profile():
    units = lattice_units(
        2, 4, 2, 2, households=[200] * 8
    )  # 800 per community: below every minimum
    attrs = pd.DataFrame({"sparse": [True, False]}, index=["C00", "C01"])
    national = Plan(units, name="a", community_attrs=attrs)
    assert national.exempt_min() == ["C00"] and national.communities()["status"].tolist() == [
        "pass",
        "too_small",
    ]
    hz = Plan(units, name="b", community_attrs=attrs, profile="hangzhou-2008")  # no exemption there
    assert hz.exempt_min() == [] and hz.communities()["status"].tolist() == [
        "too_small",
        "too_small",
    ]
    hz.profile = "national"
    assert hz.exempt_min() == ["C00"] and hz.kpis()["too_small"] == 1


def test_plan_under_a_band_override_reloads(workspace):
    plan = small_plan()
    plan.profile = gridmap.load_profile("national").with_band(min=1200)
    plan.save(workspace)
    back = load_plan(workspace, "方案A")
    assert back.profile.id == "national[1200–3000]" and back.band == plan.band
    assert back.kpis() == plan.kpis()


# ---------------------------------------------------------------------- sub-plans
def district_plan():
    """4 × 4 units, communities C00 C01 / C02 C03 in 2 × 2 blocks (unit U{4r+c})."""
    return Plan(lattice_units(4, 4, 2, 2, households=[300] * 16), name="区方案", author="区")


def test_subplans_merge_into_the_district_plan(workspace):
    ws = workspace
    district = district_plan()
    district.save(ws)
    east = subplan(district, ["C00", "C01"], name="甲街道", author="甲")
    assert set(east.units.index) == {f"U{i:03d}" for i in (0, 1, 2, 3, 4, 5, 6, 7)}
    assert east.move(["U001"], "C01").ok
    east.save(ws)
    west = subplan(district, ["C02", "C03"], name="乙街道", author="乙")
    assert west.move(["U009"], "C03").ok
    west.save(ws)
    subs = [load_plan(ws, "甲街道"), load_plan(ws, "乙街道")]  # parent kept by the store
    assert subs[0].parent["plan_id"] == district.plan_id
    result = merge_subplans(load_plan(ws, "区方案"), subs)
    assert (result.merged, result.held_back, result.conflicts.empty) == (
        ["甲街道", "乙街道"],
        [],
        True,
    )
    result.plan.save(ws)
    back = load_plan(ws, "区方案")
    assert back.labels["U001"] == "C01" and back.labels["U009"] == "C03"
    audit = back.audit()
    assert audit["op"].tolist() == ["merge_subplan"] * 2 and audit["author"].tolist() == [
        "甲",
        "乙",
    ]


def test_conflicting_subplans_are_held_back_and_listed(workspace):
    ws = workspace
    district = district_plan()
    district.save(ws)
    moved = subplan(district, ["C00", "C01"], name="甲")
    assert moved.move(["U001"], "C01").ok
    made = subplan(district, ["C00", "C02"], name="乙")
    assert made.create(["U004"], new_id="新社区1").ok
    same_id = subplan(district, ["C02", "C03"], name="丙")
    assert same_id.create(["U015"], new_id="新社区1").ok
    same_unit = subplan(district, ["C00", "C02"], name="丁")
    assert same_unit.move(["U004"], "C02").ok
    clean = subplan(district, ["C01", "C03"], name="戊")
    assert clean.move(["U007"], "C03").ok
    for sub in (moved, made, same_id, same_unit, clean):
        sub.save(ws)
    district.move(["U001"], "C01", comment="区里先改了")  # the district changes U001 meanwhile
    district.save(ws)
    result = merge_subplans(
        load_plan(ws, "区方案"), [load_plan(ws, n) for n in ("甲", "乙", "丙", "丁", "戊")]
    )
    assert result.merged == ["戊"] and result.held_back == ["甲", "乙", "丙", "丁"]
    got = {(r.subplan, r.unit_id, r.reason) for r in result.conflicts.itertuples()}
    assert got == {
        ("甲", "U001", "district_changed"),
        ("乙", "U004", "both_changed"),
        ("丁", "U004", "both_changed"),
        ("乙", "U004", "new_id_taken"),
        ("丙", "U015", "new_id_taken"),
    }
    assert result.plan.labels["U007"] == "C03" and result.plan.labels["U004"] == "C00"
    with pytest.raises(ValueError, match="子方案"):
        merge_subplans(result.plan, [small_plan()])
    with pytest.raises(ValueError, match="C99"):
        subplan(district, ["C99"], name="x")


def test_workspace_is_a_geopackage_1_2(tmp_path):
    """GeoPackage 1.2 (user_version 10200), as gridmap writes its layers: GDAL 3.6 reads it quietly."""
    import sqlite3

    from gridmap.io.gpkg import GPKG_USER_VERSION
    from gridmap.plans.storage import ensure_workspace

    ensure_workspace(tmp_path / "w.gpkg")
    con = sqlite3.connect(tmp_path / "w.gpkg")
    assert con.execute("PRAGMA user_version").fetchone() == (GPKG_USER_VERSION,) == (10200,)
    assert con.execute("PRAGMA application_id").fetchone() == (1196444487,)


def test_plan_cli_subplans_and_merge(workspace, tmp_path, capsys):
    """``gridmap plan subplan`` / ``merge`` / ``list`` on both stores, with and without conflicts."""
    import pandas as pd

    from gridmap.cli import main

    ws = str(workspace)
    district_plan().save(ws)
    base = ["--workspace", ws]
    assert main(["plan", "subplan", "区方案", "--communities", "C00,C01", "--name", "甲街道",
                 "--author", "甲", *base]) == 0  # fmt: skip
    assert "甲街道" in capsys.readouterr().out
    assert main(["plan", "subplan", "区方案", "--communities", "C02", "--communities", "C03",
                 "--name", "乙街道", *base]) == 0  # fmt: skip
    assert (
        main(["plan", "subplan", "区方案", "--communities", "C00", "--name", "甲街道", *base]) == 2
    )
    assert "--name" in capsys.readouterr().err
    assert main(["plan", "subplan", "区方案", "--communities", "C09", "--name", "丙", *base]) == 2
    err = capsys.readouterr().err
    assert "C09" in err and "--communities" in err and "communities=" not in err
    east, west = load_plan(ws, "甲街道"), load_plan(ws, "乙街道")
    assert east.move(["U001"], "C01").ok and west.move(["U009"], "C03").ok
    east.save(ws), west.save(ws)
    assert main(["plan", "list", *base]) == 0
    listed = capsys.readouterr().out
    assert all(n in listed for n in ("区方案", "甲街道", "乙街道"))
    assert main(["plan", "merge", "区方案", "甲街道", "乙街道", "--dry-run", *base]) == 0
    assert "未保存" in capsys.readouterr().out and load_plan(ws, "区方案").version == 1
    assert main(["plan", "merge", "区方案", "甲街道", "乙街道", *base]) == 0
    out = capsys.readouterr().out
    assert "已合并：甲街道、乙街道" in out and "已保存（第 2 版）" in out
    back = load_plan(ws, "区方案")
    assert back.labels["U001"] == "C01" and back.labels["U009"] == "C03"
    # a conflict: a new sub-plan and the district change the same unit; the sub-plan is held back
    assert (
        main(["plan", "subplan", "区方案", "--communities", "C00,C01", "--name", "丁", *base]) == 0
    )
    assert "来自“区方案”（第 2 版）" in capsys.readouterr().out
    late = load_plan(ws, "丁")
    assert late.move(["U005"], "C01").ok
    late.save(ws)
    assert back.move(["U005"], "C01", comment="区里先改了").ok
    back.save(ws)
    csv = tmp_path / "冲突.csv"
    args = ["plan", "merge", "区方案", "丁", "--conflicts", str(csv), "--json", *base]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["merged"] == [] and report["held_back"] == ["丁"] and not report["saved"]
    assert [(c["unit_id"], c["reason"]) for c in report["conflicts"]] == [
        ("U005", "district_changed")
    ]
    assert pd.read_csv(csv, encoding="utf-8-sig")["reason"].tolist() == ["district_changed"]
    assert main(["plan", "merge", "区方案", "丁", "--lang", "en", *base]) == 0
    assert "held back (conflicts): 丁" in capsys.readouterr().out
