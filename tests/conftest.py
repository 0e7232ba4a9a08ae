"""Shared fixtures: tiny studies with an explicit metric CRS (EPSG:4549, CGCS2000 GK CM 120E)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from shapely import Point, box

SIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "sip"
X0, Y0 = 500_000.0, 3_350_000.0  # near Hangzhou in EPSG:4549


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
        {"社区编码": ["330106001001", "330106001002"], "社区名称": ["甲社区", "乙社区"], "街道": ["翠苑街道"] * 2},
        geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000), box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000)], crs=4549)
    grids = gpd.GeoDataFrame(
        {"网格编码": ["330106001001001", "330106001001002", "330106001002001", "330106001002002"],
         "网格名称": ["甲1", "甲2", "乙1", "乙2"], "所属社区": ["甲社区", "甲社区", "乙社区", "乙社区"],
         "协理员人数": [coordinators[0], coordinators[1], 1, 1]},
        geometry=[box(X0, Y0, X0 + 500, Y0 + 1000), box(X0 + 500, Y0, X0 + 1000, Y0 + 1000),
                  box(X0 + 1000, Y0, X0 + 1500, Y0 + 1000), box(X0 + 1500, Y0, X0 + 2000, Y0 + 1000)], crs=4549)
    hh = gpd.GeoDataFrame(
        {"户数": [str(households[0]), str(households[1]), "1200", "800"]},
        geometry=[Point(X0 + 250, Y0 + 500), Point(X0 + 750, Y0 + 500), Point(X0 + 1250, Y0 + 500), Point(X0 + 1750, Y0 + 500)],
        crs=4549)
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
        fac = gpd.GeoDataFrame({"类型": ["幼儿园", "幼儿园"], "名称": ["甲园", "乙园"]},
                               geometry=[Point(X0 + 300, Y0 + 500), Point(X0 + 1700, Y0 + 500)], crs=4549)
        fac.to_file(path, layer="设施")
    return path

