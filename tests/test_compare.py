"""Snapshot comparison (issue #18): ``gridmap.change.compare`` and ``gridmap compare``."""

from __future__ import annotations

import json
import shutil

import geopandas as gpd
import pandas as pd
import pytest
from shapely import box

import gridmap
from gridmap import datasets
from gridmap.change import compare, read_snapshot, snapshot_of
from gridmap.cli import main
from gridmap.plans import Plan


def _grids(rows):
    ids, comm, hh, geoms = zip(*rows, strict=True)
    return gpd.GeoDataFrame(
        {"community_id": pd.array(comm, dtype="string"), "households": hh, "status": "pass"},
        geometry=list(geoms),
        index=pd.Index(ids, name="grid_id"),
        crs=4549,
    )


def _snap(grids):
    comm = gpd.GeoDataFrame(
        {"name": ["A"], "households": [float(grids["households"].sum())], "status": "pass"},
        geometry=[box(0, 0, 400, 100)],
        index=pd.Index(["A"], name="community_id"),
        crs=4549,
    )
    return gridmap.change.Snapshot(comm, grids)


def test_compare_kinds_on_a_small_example():
    old = _grids(
        [
            ("g1", "A", 100, box(0, 0, 100, 100)),
            ("g2", "A", 100, box(100, 0, 200, 100)),
            ("g3", "A", 100, box(200, 0, 300, 100)),
            ("g4", "A", 100, box(300, 0, 400, 100)),
            ("g9", "A", 5, box(500, 0, 510, 10)),
        ]
    )
    new = _grids(
        [
            ("g1", "A", 100, box(0, 0, 100, 100)),  # unchanged
            ("g2", "A", 100, box(100, 0, 220, 100)),  # redrawn
            ("g3x", "A", 100, box(220, 0, 300, 100)),  # g3 recoded (IoU 0.8)
            ("g4", "B", 130, box(300, 0, 400, 100)),  # reassigned, households changed
            ("g7", "A", 5, box(700, 0, 710, 10)),  # added; g9 removed
        ]
    )
    c = compare(_snap(old), _snap(new))
    kinds = c.units[c.units["level"] == "grids"].set_index("unit_id")["change"].to_dict()
    assert kinds == {
        "g1": "unchanged",
        "g2": "redrawn",
        "g3x": "recoded",
        "g4": "reassigned",
        "g9": "removed",
        "g7": "added",
    }
    row = c.units.set_index("unit_id").loc["g4"]
    assert row["households_delta"] == 30
    assert c.thresholds.empty or set(c.thresholds["level"]) <= {"communities", "grids"}


def test_compare_with_itself_reports_no_change(demo_check_out, tmp_path):
    snap = read_snapshot(demo_check_out)
    c = compare(snap, snap)
    s = c.summary()
    assert s["changed"] == 0 and s["thresholds_crossed"] == 0
    assert s["communities"]["unchanged"] == len(snap.communities)
    assert s["grids"]["unchanged"] == len(snap.grids)
    assert s["household_size_old"] == s["household_size_new"] > 0
    assert (
        main(
            [
                "compare",
                str(demo_check_out),
                str(demo_check_out),
                "--out",
                str(tmp_path / "c"),
                "--json",
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "c" / "compare.json").read_text("utf-8"))["changed"] == 0
    table = pd.read_csv(tmp_path / "c" / "changes.csv", encoding="utf-8-sig")
    assert table.empty


def test_csv_only_output_compares_by_code(demo_check_out, tmp_path):
    shutil.copytree(demo_check_out, tmp_path / "o")
    (tmp_path / "o" / "result.gpkg").unlink()
    grids = pd.read_csv(tmp_path / "o" / "grids.csv", dtype={"grid_id": str, "community_id": str})
    grids.loc[0, "households"] += 10
    grids.to_csv(tmp_path / "o" / "grids.csv", index=False, encoding="utf-8-sig")
    c = compare(read_snapshot(demo_check_out), read_snapshot(tmp_path / "o"))
    changed = c.changed("grids")
    assert changed["unit_id"].tolist() == [grids.loc[0, "grid_id"]]
    assert changed["change"].tolist() == ["modified"]
    assert changed["households_delta"].tolist() == [10]


def test_not_a_result_is_exit_2(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "none"), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "compare.not_a_result" in err and "OLD" in err


def test_bad_iou_is_exit_2(demo_check_out, capsys):
    assert main(["compare", str(demo_check_out), str(demo_check_out), "--match-iou", "2"]) == 2
    assert "--match-iou" in capsys.readouterr().err


def test_demo_before_after_rebalancer_reports_exactly_the_moved_grids(
    demo_study, demo_result, tmp_path
):
    plan = Plan.from_check(demo_result)
    res = plan.rebalance(time_limit=5.0)
    assert plan.apply(res.edit).ok
    moved = set(plan.changes()["unit_id"].astype(str))
    assert moved
    boundaries = plan.dissolve()
    attrs = demo_study.communities.drop(columns=["name", "geometry"])
    communities = boundaries[["name"]].join(attrs, how="left").set_geometry(boundaries.geometry)
    after = gridmap.check(
        gridmap.read_study(**{**datasets.demo_config(), "communities": communities.reset_index()})
    )
    c = compare(snapshot_of(demo_result), snapshot_of(after))
    grids = c.changed("grids")
    assert set(grids["unit_id"]) == moved
    assert set(grids["change"]) == {"reassigned"}
    by_id = grids.set_index("unit_id")
    expected = plan.changes().astype({"unit_id": str}).set_index("unit_id")
    assert (
        by_id["community_new"].astype(str) == expected.loc[by_id.index, "to_community"].astype(str)
    ).all()
    touched = set(expected["from_community"].astype(str)) | set(
        expected["to_community"].astype(str)
    )
    assert set(c.changed("communities")["unit_id"]) <= touched
    written = c.to_dir(tmp_path / "c")
    assert {"changes.csv", "changes.xlsx", "changes.gpkg", "thresholds.csv"} <= set(written)
    layer = gpd.read_file(written["changes.gpkg"], layer="grids")
    assert set(layer["unit_id"]) == moved
    xlsx = pd.read_excel(written["changes.xlsx"], sheet_name="网格变化", dtype={"单元编码": str})
    assert set(xlsx["单元编码"]) == moved and set(xlsx["变化类型"]) == {"改属社区"}


@pytest.mark.parametrize("bad", [{"match_iou": 0}, {"same_iou": 1.5}])
def test_iou_parameters_are_checked(demo_check_out, bad):
    snap = read_snapshot(demo_check_out)
    with pytest.raises(ValueError, match="match_iou= and same_iou="):
        compare(snap, snap, **bad)
