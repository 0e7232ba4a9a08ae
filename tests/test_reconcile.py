"""Grid-layer reconciliation (多网合一, issue #18): relations, disagreements, the unified grid."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import box

import gridmap
from gridmap import datasets
from gridmap.change import reconcile, unify
from gridmap.cli import main

DEMO = datasets.get_path("demo")


def _planted() -> dict[str, str]:
    about = gpd.read_file(DEMO, layer="多网说明")
    return dict(zip(about["键"], about["值"], strict=True))


@pytest.fixture(scope="module")
def demo_reconciliation(demo_result):
    cfg = datasets.demo_config()
    study_b = gridmap.read_study(
        communities=cfg["communities"],
        grids={"path": str(DEMO), "layer": "网格_城管"},
        households=cfg["households"],
        mapping={"grids.grid_id": "城管网格编号"},
    )
    return reconcile({"民政": demo_result, "城管": gridmap.check(study_b)})


def test_finds_the_planted_disagreements(demo_reconciliation):
    rec, planted = demo_reconciliation, _planted()
    rel = rec.relations.set_index(["layer_a", "unit_a"])["relation"]
    merged_a, merged_b = planted["合并"].split("→")[0].split("+")
    assert rel[("民政", merged_a)] == rel[("民政", merged_b)] == "within"
    assert rel[("城管", planted["合并"].split("→")[1])] == "contains"
    straddler = planted["跨社区"].split("（")[0]
    assert rel[("城管", straddler)] == "straddles"
    assert rel[("民政", planted["缺失"])] == "orphan"
    assert rel[("城管", planted["社区外"])] == "orphan"
    dis = rec.disagreements
    old, new = planted["编码不一致"].split("→")
    code = dis[dis["kind"] == "code"]
    assert code[["unit_a", "unit_b"]].values.tolist() == [[old, new]]
    community = dis[dis["kind"] == "community"]
    assert community["unit_a"].tolist() == [planted["所属社区不一致"].split("：")[0]]
    assert set(rec.gaps["missing_in"]) == {"民政", "城管"}
    a, b = planted["重叠"].split("/")
    assert rec.overlaps[["layer", "unit_id", "other_id"]].values.tolist() == [["城管", a, b]]
    # identical units are identical: nothing else is flagged
    assert (rel == "same").sum() == 2 * 181


def test_unified_grid_passes_the_checks_topology_qa(demo_reconciliation, demo_result):
    unified = demo_reconciliation.unified
    assert unified.index.is_unique
    assert (unified.geometry.geom_type == "Polygon").all()
    result = gridmap.check(
        gridmap.read_study(**{**datasets.demo_config(), "grids": unified.reset_index()})
    )
    qa = result.findings[result.findings["rule_id"].str.startswith("qa.grid")]
    assert qa.empty, qa[["rule_id", "unit_id", "message"]]
    # no two unified grids share ground, and together they cover the communities
    pairs = shapely.STRtree(unified.geometry.values).query(unified.geometry.values, "intersects")
    a, b = pairs[:, pairs[0] < pairs[1]]
    inter = shapely.area(
        shapely.intersection(unified.geometry.values[a], unified.geometry.values[b])
    )
    assert inter.max(initial=0) < 1.0
    comm_area = shapely.union_all(demo_result.study.communities.geometry.values).area
    assert abs(shapely.union_all(unified.geometry.values).area - comm_area) < 1e-4 * comm_area
    assert result.summary()["households_assigned"] == demo_result.summary()["households_assigned"]
    # stable codes: a grid both layers agree on keeps its code
    kept = demo_reconciliation.changes.query("layer == '民政' and change == 'kept'")
    assert (kept["old_id"] == kept["new_ids"]).all() and len(kept) > 170


def test_finer_layer_replaces_an_oversized_reference_grid():
    comm = gpd.GeoDataFrame(
        {"name": ["甲"]},
        geometry=[box(0, 0, 200, 100)],
        crs=4549,
        index=pd.Index(["330106001001"], name="community_id"),
    )
    a = gpd.GeoDataFrame(
        geometry=[box(0, 0, 200, 100)],
        crs=4549,
        index=pd.Index(["330106001001001"], name="grid_id"),
    )
    b = gpd.GeoDataFrame(
        geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)],
        crs=4549,
        index=pd.Index(["B1", "B2"], name="grid_id"),
    )
    hh = {"A": pd.Series([900.0], index=a.index), "B": pd.Series([450.0, 450.0], index=b.index)}
    u = unify({"A": a, "B": b}, comm, households=hh, max_households=500, min_piece_m2=10)
    assert sorted(u["source_ids"]) == ["B1", "B2"] and set(u["change"]) == {"recoded"}
    assert sorted(u.index) == ["330106001001001", "330106001001002"]
    assert np.isclose(u.area.sum(), 20_000)
    kept = unify({"A": a, "B": b}, comm, households=hh, max_households=1000, min_piece_m2=10)
    assert kept.index.tolist() == ["330106001001001"] and kept["change"].tolist() == ["kept"]


def test_summary_sheet_in_chinese_or_english_with_the_same_values(demo_reconciliation, tmp_path):
    rec = demo_reconciliation
    s = rec.summary()
    zh = pd.read_excel(rec.to_dir(tmp_path / "zh")["reconcile.xlsx"], sheet_name="概要")
    en = pd.read_excel(rec.to_dir(tmp_path / "en", lang="en")["reconcile.xlsx"], sheet_name="概要")
    assert list(zh.columns) == ["项目", "数值"] and list(en.columns) == ["item", "value"]
    assert zh["数值"].astype(str).tolist() == en["value"].astype(str).tolist()
    zh, en = zh.set_index("项目")["数值"], en.set_index("item")["value"]
    assert (
        zh["民政→城管：交叉"]
        == en["民政→城管: straddles"]
        == s["relations"]["民政→城管"]["straddles"]
    )
    assert (
        zh["城管→民政：无对应"] == en["城管→民政: orphan"] == s["relations"]["城管→民政"]["orphan"]
    )
    assert zh["不一致：所属社区不一致"] == en["disagreements: community"]
    assert zh["缝隙面积(平方米)"] == en["gap area (m²)"] == pytest.approx(s["gap_area_m2"])
    assert zh["统一网格：单元数"] == en["unified grid: units"] == s["unified_units"]
    for change, n in s["unified_changes"].items():
        assert en[f"unified grid: {change}"] == n
    # every figure of the summary, once
    assert len(zh) == 1 + sum(len(c) for c in s["relations"].values()) + len(
        s["disagreements"]
    ) + 4 + len(s["unified_changes"])
    with pytest.raises(ValueError, match="lang="):
        rec.to_dir(tmp_path / "x", lang="fr")


def test_cli_reconcile(tmp_path, capsys):
    d = str(DEMO)
    argv = [
        "reconcile",
        "--communities",
        f"{d}:社区",
        "--grids",
        f"{d}:网格",
        "--grids",
        f"{d}:网格_城管",
        "--grids-map",
        "2:grid_id=城管网格编号",
        "--out",
        str(tmp_path / "r"),
    ]
    assert main(argv) == 0
    assert "多网合一" in capsys.readouterr().out
    out = tmp_path / "r"
    s = json.loads((out / "reconcile.json").read_text("utf-8"))
    assert s["layers"] == ["网格", "网格_城管"] and s["disagreements"]["code"] == 1
    sheets = pd.read_excel(out / "reconcile.xlsx", sheet_name=None)
    assert {"概要", "嵌套关系", "不一致", "缝隙", "重叠", "统一网格", "新旧对照"} <= set(sheets)
    summary = sheets["概要"].set_index("项目")["数值"]
    assert summary["图层"] == "网格、网格_城管"
    assert summary["不一致：编码不一致"] == s["disagreements"]["code"] == 1
    assert summary["网格→网格_城管：一致"] == s["relations"]["网格→网格_城管"]["same"]
    assert not any("." in label or "_" in label.replace("网格_城管", "") for label in summary.index)
    assert set(gpd.list_layers(out / "unified.gpkg")["name"]) == {"unified", "gaps", "overlaps"}
    assert main(["reconcile", "--communities", f"{d}:社区", "--grids", f"{d}:网格"]) == 2
    assert main(argv[:-2] + ["--grids-map", "5:grid_id=x"]) == 2
    assert "--grids-map" in capsys.readouterr().err
