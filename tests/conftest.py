"""Shared fixtures: tiny studies with an explicit metric CRS (EPSG:4549, CGCS2000 GK CM 120E).

The demo study, its check and a ``gridmap check --out`` run on it are computed once per
session (each costs seconds): tests treat them as read-only and copy before changing
anything (``result.findings.copy()``, ``shutil.copytree(demo_check_out, tmp_path / "o")``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
from pg_fixtures import pg_url, pg_workspace, workspace  # noqa: F401 - PostGIS fixtures
from shapely import Point, box

import gridmap
from gridmap import datasets
from gridmap.cli import main

SIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "sip"
X0, Y0 = 500_000.0, 3_350_000.0  # near Hangzhou in EPSG:4549


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/ from this run's outputs (tests/test_contract.py)",
    )


@pytest.fixture(scope="session")
def demo_study() -> gridmap.Study:
    """The bundled demo study as its config reads it (shared: do not modify)."""
    return gridmap.read_study(**datasets.demo_config())


class DemoResults:
    """``gridmap.check`` of the demo study under each profile, computed once when first asked.

    ``demo_results["hangzhou-2008"]``; the results are shared by every test of the session.
    """

    TABLES = ("communities", "grids", "findings", "households", "facilities")

    def __init__(self, study: gridmap.Study) -> None:
        self.study = study
        self._results: dict[str, gridmap.CheckResult] = {}
        self._before: dict[str, dict] = {}

    def __getitem__(self, profile: str) -> gridmap.CheckResult:
        if profile not in self._results:
            result = gridmap.check(self.study, profile=profile)
            self._results[profile] = result
            self._before[profile] = {name: getattr(result, name).copy() for name in self.TABLES}
        return self._results[profile]

    def modified(self) -> list[str]:
        """``profile.table`` of every shared table a test changed."""
        return [
            f"{profile}.{name}"
            for profile, result in self._results.items()
            for name in self.TABLES
            if not getattr(result, name).equals(self._before[profile][name])
        ]


@pytest.fixture(scope="session")
def demo_results(demo_study) -> Iterator[DemoResults]:
    """The demo's check under any profile (shared: do not modify; copy before changing).

    At the end of the session every table is compared with a copy taken before any test used
    it: a test that changed a shared result fails loudly instead of others failing quietly.
    """
    results = DemoResults(demo_study)
    yield results
    modified = results.modified()
    assert not modified, f"a test modified the shared demo results: {modified} (copy first)"


@pytest.fixture(scope="session")
def demo_result(demo_results) -> gridmap.CheckResult:
    """``gridmap.check`` of the demo study, profile ``national`` (shared: do not modify)."""
    return demo_results["national"]


@pytest.fixture(scope="session")
def demo_check_out(tmp_path_factory) -> Path:
    """``gridmap check gridmap.toml --out out`` in a copy of the demo workspace; the ``out`` folder.

    The workspace (``demo.gpkg``, ``gridmap.toml``) is the folder's parent. Shared: copy the
    folder before writing into it.
    """
    ws = tmp_path_factory.mktemp("demo_ws")
    shutil.copyfile(datasets.get_path("demo"), ws / "demo.gpkg")
    (ws / "gridmap.toml").write_text(datasets.demo_config_toml("demo.gpkg"), encoding="utf-8")
    assert main(["check", str(ws / "gridmap.toml"), "--out", str(ws / "out")]) == 0
    return ws / "out"


@pytest.fixture
def sip() -> Path:
    """The real Suzhou Industrial Park data folder; skips when absent."""
    if not (SIP / "sip.gpkg").exists():
        pytest.skip(f"real SIP data not found at {SIP}")
    return SIP


def make_layers(households=(500, 700), coordinators=(1, 1)):
    """Two communities side by side, two grids each, household points inside grids.

    Community A = [0, 1000] x [0, 1000], B = [1000, 2000] x [0, 1000] (offsets X0, Y0);
    grids split each community in halves along x. ``households`` are per grid of A.
    """
    comm = gpd.GeoDataFrame(
        {
            "社区编码": ["330106001001", "330106001002"],
            "社区名称": ["甲社区", "乙社区"],
            "街道": ["翠苑街道"] * 2,
        },
        geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000), box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000)],
        crs=4549,
    )
    grids = gpd.GeoDataFrame(
        {
            "网格编码": [
                "330106001001001",
                "330106001001002",
                "330106001002001",
                "330106001002002",
            ],
            "网格名称": ["甲1", "甲2", "乙1", "乙2"],
            "所属社区": ["甲社区", "甲社区", "乙社区", "乙社区"],
            "协理员人数": [coordinators[0], coordinators[1], 1, 1],
        },
        geometry=[
            box(X0, Y0, X0 + 500, Y0 + 1000),
            box(X0 + 500, Y0, X0 + 1000, Y0 + 1000),
            box(X0 + 1000, Y0, X0 + 1500, Y0 + 1000),
            box(X0 + 1500, Y0, X0 + 2000, Y0 + 1000),
        ],
        crs=4549,
    )
    hh = gpd.GeoDataFrame(
        {"户数": [str(households[0]), str(households[1]), "1200", "800"]},
        geometry=[
            Point(X0 + 250, Y0 + 500),
            Point(X0 + 750, Y0 + 500),
            Point(X0 + 1250, Y0 + 500),
            Point(X0 + 1750, Y0 + 500),
        ],
        crs=4549,
    )
    return comm, grids, hh


@pytest.fixture
def layers():
    return make_layers()


def write_study_gpkg(path: Path, *, facilities: bool = False) -> Path:
    """The tiny study of :func:`make_layers` as one GeoPackage (layers 社区, 网格, 楼栋[, 设施])."""
    comm, grids, hh = make_layers()
    comm.to_file(path, layer="社区")
    grids.to_file(path, layer="网格")
    hh.to_file(path, layer="楼栋")
    if facilities:
        fac = gpd.GeoDataFrame(
            {"类型": ["幼儿园", "幼儿园"], "名称": ["甲园", "乙园"]},
            geometry=[Point(X0 + 300, Y0 + 500), Point(X0 + 1700, Y0 + 500)],
            crs=4549,
        )
        fac.to_file(path, layer="设施")
    return path


@pytest.fixture(scope="session")
def national_data():
    """``benchmarks/national_data.py`` (the synthetic national dataset generator) as a module."""
    import importlib.util
    import sys

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "national_data.py"
    spec = importlib.util.spec_from_file_location("national_data", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("national_data", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module
