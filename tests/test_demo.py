"""The bundled demo district: the generator is deterministic and the check finds every planted trap."""

import re
import runpy
import sys
from pathlib import Path

import pyogrio
import pytest
import shapely

import gridmap
from gridmap import datasets

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


@pytest.fixture(scope="module")
def demo(demo_result):
    return demo_result


def _trap(key):
    notes = pyogrio.read_dataframe(datasets.get_path("demo"), layer="说明").set_index("键")["值"]
    return notes[key].split()[0]


def test_shipped_demo_is_small_and_labelled_synthetic():
    path = datasets.get_path("demo")
    assert path.stat().st_size <= 5 * 1024 * 1024
    notes = pyogrio.read_dataframe(path, layer="说明")
    assert "SYNTHETIC" in notes.loc[notes["键"] == "数据性质", "值"].iloc[0]


@pytest.fixture(scope="module")
def build():
    return runpy.run_path(str(DATA / "build_demo.py"))


def test_generator_is_deterministic(build, tmp_path):
    """Two builds and the shipped file are the same demo: attributes exactly, geometry within 1e-6 m.

    Not a digest of floats: under other shapely/GEOS/numpy versions the grids
    regenerate ~1e-10 m apart, which is the same demo.
    """
    a = build["build_demo"](tmp_path / "a.gpkg")
    b = build["build_demo"](tmp_path / "b.gpkg")
    assert build["layer_differences"](a, b) == []
    assert build["layer_differences"](a, datasets.get_path("demo")) == []


def test_generator_writes_the_packaged_copy(build):
    assert build["DEFAULT_OUT"] == datasets.get_path("demo").resolve()
    assert datasets.get_path("demo").parent == Path(datasets.__file__).resolve().parent


def _one_layer(tmp_path, name, gdf):
    path = tmp_path / f"{name}.gpkg"
    pyogrio.write_dataframe(gdf, path, layer="网格", driver="GPKG", promote_to_multi=False)
    return path


@pytest.mark.parametrize(("shift", "differs"), [(1e-9, False), (1e-3, True), (5.0, True)])
def test_comparison_sees_a_moved_vertex_but_not_float_noise(build, tmp_path, shift, differs):
    grids = pyogrio.read_dataframe(datasets.get_path("demo"), layer="网格")
    moved = grids.copy()
    moved.loc[7, "geometry"] = shapely.transform(moved.geometry[7], lambda xy: xy + [shift, 0.0])
    found = build["layer_differences"](
        _one_layer(tmp_path, "a", grids), _one_layer(tmp_path, "b", moved)
    )
    assert bool(found) is differs
    if differs:
        assert "1 geometries differ" in found[0]


def test_comparison_sees_an_attribute_change_and_another_seed(build, tmp_path):
    grids = pyogrio.read_dataframe(datasets.get_path("demo"), layer="网格")
    changed = grids.copy()
    changed.loc[3, "协理员人数"] += 1
    found = build["layer_differences"](
        _one_layer(tmp_path, "a", grids), _one_layer(tmp_path, "b", changed)
    )
    assert found == ["网格: attributes differ in ['协理员人数']"]
    other = build["build_demo"](tmp_path / "other.gpkg", seed=build["SEED"] + 1)
    assert build["layer_differences"](other, datasets.get_path("demo"))


def test_demo_sizes_are_varied(demo):
    h = demo.communities["households"]
    assert 20 <= len(h) <= 40
    assert (h < 1000).sum() >= 4 and (h > 3000).sum() >= 4
    assert 150 <= len(demo.grids) <= 300
    # 约40, -5 and blank reported, not guessed
    assert sum(p.code == "value.households" for p in demo.problems) == 3


@pytest.mark.parametrize(
    ("rule", "key"),
    [
        ("qa.grid.straddles", "陷阱_a_跨社区网格"),
        ("qa.grid.community_mismatch", "陷阱_b_所属社区错误"),
        ("qa.grid.code_prefix", "陷阱_c_编码前缀错误"),
    ],
)
def test_planted_grid_traps_are_found_exactly(demo, rule, key):
    f = demo.findings
    assert f[f.rule_id == rule].unit_id.tolist() == [_trap(key)]


def test_planted_overlap_and_gap_are_found(demo):
    f = demo.findings
    overlap = f[f.rule_id == "qa.community.overlap"]
    assert len(overlap) == 1 and overlap.value.iloc[0] == pytest.approx(4.5, abs=1)
    gap = f[f.rule_id == "qa.community.gap"]
    assert len(gap) == 1 and gap.value.iloc[0] == pytest.approx(15, abs=2)


def test_every_household_counted_once(demo, demo_study):
    s = demo.summary()
    raw = demo_study.households["households"].sum()
    assert s["households_total"] == raw == s["households_assigned"] + s["households_unassigned"]
    assert demo.households["record"].is_unique


def test_gcj02_correction_changes_which_community_a_facility_is_in(demo_result):
    cfg = datasets.demo_config()
    right = demo_result.facilities["community_id"]
    cfg["facilities_crs"] = None
    study = gridmap.read_study(**cfg)
    assert any(p.code == "crs.maybe_gcj02" for p in study.problems)
    wrong = gridmap.check(study).facilities["community_id"]
    moved = (right.astype(str) != wrong.astype(str)).sum()
    assert moved >= 30  # ~520 m offset moves many facilities across community lines


def _readme_command(number: int) -> str:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"# {number}. "))
    return lines[start + 1].strip()


def test_ci_runs_readme_command_2_verbatim_with_the_constraints():
    command = _readme_command(2)
    assert "-c constraints.txt" in command and "-c constraints.txt" in _readme_command(1)
    assert command in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_constraints_pin_every_dependency_within_its_lower_bound():
    from packaging.requirements import Requirement

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # the project's own fallback (tomli is a dependency before 3.11)
        import tomli as tomllib

    def norm(name):
        return re.sub(r"[-_.]+", "-", name).lower()

    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[norm(name)] = version.strip()
    assert "gridmap" not in pins
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for spec in project["dependencies"] + project["optional-dependencies"]["test"]:
        req = Requirement(spec)
        if req.marker is not None and not req.marker.evaluate():
            continue
        assert norm(req.name) in pins, f"{req.name} is not pinned in constraints.txt"
        assert req.specifier.contains(pins[norm(req.name)]), (
            f"{req.name}=={pins[norm(req.name)]} violates {req.specifier}"
        )
