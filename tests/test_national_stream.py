"""The national outputs written out of core (issue #17): the same files as the in-memory result.

Each partition of a small multi-district dataset is checked in this process and staged as a
worker stages it (:mod:`gridmap.national.stage`), with row groups of 3 rows so that the merge
of the partitions' files (whose grid ids interleave: a grid stored under its own district and
owned by its neighbour) reads many row groups, and chunks of 10 rows written; :func:`gridmap.national.write_staged` must
write the bytes and rows that :meth:`gridmap.national.NationalResult.to_dir` writes from
:func:`gridmap.national.combine` of the same partitions.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely

from gridmap.national import NationalSource, check_partition, combine, plan_partitions
from gridmap.national import stage as stage_module
from gridmap.national import stream as stream_module
from gridmap.national.stage import stage_output
from gridmap.national.stream import write_staged
from gridmap.rules import load_profile

LAYERS = ("communities", "grids", "households", "facilities", "network")
TABLES = ("communities.csv", "grids.csv", "findings.csv", "problems.csv")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, national_data):
    gen = national_data
    root = tmp_path_factory.mktemp("stream")
    shape = gen.NationalShape(
        provinces=2, districts=2, streets=2, communities=2, gaps=True, network=True
    )
    gen.write_national(root, shape)
    source = NationalSource({k: root / k for k in LAYERS})
    plan = plan_partitions(source.community_index(), "district")
    return plan, [check_partition(source, plan, key) for key in plan.keys]


def _one_multipolygon(units):
    """``units`` with their last geometry a multipolygon (a layer that mixes both kinds)."""
    geoms = units.geometry.to_numpy().copy()
    geoms[-1] = shapely.MultiPolygon([geoms[-1]])
    return units.set_geometry(gpd.GeoSeries(geoms, index=units.index, crs=units.crs))


@pytest.fixture(scope="module")
def written(outputs, tmp_path_factory):
    plan, parts = outputs
    # the last partition's last community and grid are multipolygons: result.gpkg's and
    # provinces/42.gpkg's layers hold both kinds, so they are written as multipolygons
    last = parts[-1]
    parts[-1] = replace(
        last, communities=_one_multipolygon(last.communities), grids=_one_multipolygon(last.grids)
    )
    profile = load_profile("national")
    memory = tmp_path_factory.mktemp("memory")
    combine(parts, plan, profile, name="gridmap").to_dir(memory)
    folder = tmp_path_factory.mktemp("staged")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stage_module, "ROW_GROUP", 3)
        mp.setattr(stream_module, "WRITE_ROWS", 10)
        staged = [stage_output(p, folder / ".partitions", profile) for p in parts]
        # a partition staged again (Dask reran its task): its files replaced, not added to
        staged[1] = stage_output(parts[1], folder / ".partitions", profile)
        out = folder / "out"
        out.mkdir()
        real_fsync = os.fsync
        mp.setattr(
            os,
            "fsync",
            lambda fd: SYNCED.append(os.readlink(f"/proc/self/fd/{fd}")) or real_fsync(fd),
        )
        result = write_staged(staged, plan, profile, name="gridmap", out=out)
    return memory, out, result, folder / ".partitions"


#: the files flushed to disk while the fixture ``written`` wrote the national outputs
SYNCED: list[str] = []


def test_each_geopackage_synced_once_after_its_last_chunk(written):
    """Chunks are appended without a flush each; every GeoPackage is synced once, when whole."""
    _, out, _, _ = written
    provinces = sorted(out.glob("provinces/*.gpkg"))
    assert len(provinces) == 2 and (out / "result.gpkg").exists()
    gpkgs = [p for p in SYNCED if p.endswith(".gpkg")]
    assert len(gpkgs) == len(set(gpkgs)) == 1 + len(provinces)  # once each, not per chunk
    assert str(out / "result.gpkg") in gpkgs
    # provinces are written under a temporary name and moved into place when synced
    assert sorted(Path(p).parent for p in gpkgs if p != str(out / "result.gpkg")) == [
        out / "provinces"
    ] * len(provinces)


def test_csv_and_summary_bytes_equal_the_in_memory_result(written):
    memory, out, result, _ = written
    for name in (*TABLES, "summary.json"):
        assert (out / name).read_bytes() == (memory / name).read_bytes(), name
    grids = pd.read_csv(out / "grids.csv", dtype=str, encoding="utf-8-sig")
    assert grids["grid_id"].is_unique and grids["grid_id"].is_monotonic_increasing
    summary = json.loads((memory / "summary.json").read_text(encoding="utf-8"))
    assert result.summary()["communities_status"] == summary["communities_status"]
    assert result.summary()["engine"] == "dask" and result.summary()["partitions"] == 4


def test_retried_partition_staged_once(written):
    *_, staging = written
    for table in ("communities", "grids", "findings"):
        files = sorted(p.name for p in (staging / table).iterdir())
        assert files == ["330101.parquet", "330102.parquet", "420101.parquet", "420102.parquet"]


def test_partitions_csv_has_the_same_rows(written):
    memory, out, *_ = written
    a, b = (pd.read_csv(f / "partitions.csv", encoding="utf-8-sig") for f in (out, memory))
    timing = ["seconds", "cpu_s", "worker"]
    pd.testing.assert_frame_equal(a.drop(columns=timing), b.drop(columns=timing))


@pytest.mark.parametrize("gpkg", ["result.gpkg", "provinces/33.gpkg", "provinces/42.gpkg"])
def test_geopackages_have_the_same_layers_and_rows(written, gpkg):
    memory, out, *_ = written
    layers = pyogrio.list_layers(memory / gpkg)
    assert pyogrio.list_layers(out / gpkg).tolist() == layers.tolist()
    for name, _ in layers:
        got = pyogrio.read_dataframe(out / gpkg, layer=name)
        want = pyogrio.read_dataframe(memory / gpkg, layer=name)
        pd.testing.assert_frame_equal(got, want, check_like=False)
        a, b = (pyogrio.read_info(f / gpkg, layer=name) for f in (out, memory))
        assert list(a["fields"]) == list(b["fields"]) and list(a["dtypes"]) == list(b["dtypes"])
        assert a["geometry_type"] == b["geometry_type"], name
    if gpkg != "provinces/33.gpkg":
        assert pyogrio.read_info(out / gpkg, layer="grids")["geometry_type"] == "MultiPolygon"


def test_national_geoparquet_has_the_same_files_and_rows(written):
    memory, out, *_ = written
    files = sorted(p.relative_to(memory) for p in (memory / "national").rglob("*.parquet"))
    assert files == sorted(p.relative_to(out) for p in (out / "national").rglob("*.parquet"))
    assert len(files) >= 8
    for f in files:
        pd.testing.assert_frame_equal(gpd.read_parquet(out / f), gpd.read_parquet(memory / f))


def test_findings_row_groups_hold_one_rule_each(written):
    """The merge holds one row group per partition whose rows it is between: a row group that
    spanned two rules would keep every partition's group in memory for the next rule."""
    *_, staging = written
    for path in (staging / "findings").iterdir():
        parquet = pq.ParquetFile(path)
        rules = [
            set(parquet.read_row_group(i, columns=["rule_id"])["rule_id"].to_pylist())
            for i in range(parquet.num_row_groups)
        ]
        assert parquet.num_row_groups > 1 and all(len(r) == 1 for r in rules), path.name
