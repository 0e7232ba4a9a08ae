"""The bundled demo district: the generator is deterministic and the check finds every planted trap."""

import runpy
from pathlib import Path

import pyogrio
import pytest

import gridmap
from gridmap import datasets

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def demo():
    return gridmap.check(gridmap.read_study(**datasets.demo_config()))


def _trap(key):
    notes = pyogrio.read_dataframe(datasets.get_path("demo"), layer="说明").set_index("键")["值"]
    return notes[key].split()[0]


def test_shipped_demo_is_small_and_labelled_synthetic():
    path = datasets.get_path("demo")
    assert path.stat().st_size <= 5 * 1024 * 1024
    notes = pyogrio.read_dataframe(path, layer="说明")
    assert "SYNTHETIC" in notes.loc[notes["键"] == "数据性质", "值"].iloc[0]


def test_generator_is_deterministic(tmp_path):
    build = runpy.run_path(str(DATA / "build_demo.py"))
    a = build["build_demo"](tmp_path / "a.gpkg")
    b = build["build_demo"](tmp_path / "b.gpkg")
    assert build["layer_digest"](a) == build["layer_digest"](b) == build["layer_digest"](datasets.get_path("demo"))


def test_demo_sizes_are_varied(demo):
    h = demo.communities["households"]
    assert 20 <= len(h) <= 40
    assert (h < 1000).sum() >= 4 and (h > 3000).sum() >= 4
    assert 150 <= len(demo.grids) <= 300
    # 约40, -5 and blank reported, not guessed
    assert sum(p.code == "value.households" for p in demo.problems) == 3


@pytest.mark.parametrize(("rule", "key"), [
    ("qa.grid.straddles", "陷阱_a_跨社区网格"),
    ("qa.grid.community_mismatch", "陷阱_b_所属社区错误"),
    ("qa.grid.code_prefix", "陷阱_c_编码前缀错误"),
])
def test_planted_grid_traps_are_found_exactly(demo, rule, key):
    f = demo.findings
    assert f[f.rule_id == rule].unit_id.tolist() == [_trap(key)]


def test_planted_overlap_and_gap_are_found(demo):
    f = demo.findings
    overlap = f[f.rule_id == "qa.community.overlap"]
    assert len(overlap) == 1 and overlap.value.iloc[0] == pytest.approx(4.5, abs=1)
    gap = f[f.rule_id == "qa.community.gap"]
    assert len(gap) == 1 and gap.value.iloc[0] == pytest.approx(15, abs=2)


def test_every_household_counted_once(demo):
    s = demo.summary()
    raw = gridmap.read_study(**datasets.demo_config()).households["households"].sum()
    assert s["households_total"] == raw == s["households_assigned"] + s["households_unassigned"]
    assert demo.households["record"].is_unique


def test_gcj02_correction_changes_which_community_a_facility_is_in():
    cfg = datasets.demo_config()
    right = gridmap.check(gridmap.read_study(**cfg)).facilities["community_id"]
    cfg["facilities_crs"] = None
    study = gridmap.read_study(**cfg)
    assert any(p.code == "crs.maybe_gcj02" for p in study.problems)
    wrong = gridmap.check(study).facilities["community_id"]
    moved = (right.astype(str) != wrong.astype(str)).sum()
    assert moved >= 30  # ~520 m offset moves many facilities across community lines

