"""The national tile set stored beside its result (issue #17): reused, invalidated, never trusted.

``TileSet.from_check_dir`` keeps the prepared set in ``national/.tiles/``; a second open reads
it (nothing is made again), a changed result or a damaged store makes it again, and the
tiles of a stored set are byte-for-byte those of a freshly made one.
"""

from __future__ import annotations

import json
import os

import geopandas as gpd
import pytest
import shapely

import gridmap
import gridmap.tiles.tileset as tileset_module
from gridmap.national import NationalSource
from gridmap.national.export import write_partitioned
from gridmap.tiles import TileSet, tiles_covering
from gridmap.tiles.store import store_dir

mvt = pytest.importorskip("mapbox_vector_tile", reason="mapbox-vector-tile is not installed")

LAYERS = ("communities", "grids", "households", "facilities")


@pytest.fixture(scope="module")
def result(tmp_path_factory, national_data):
    gen = national_data
    root = tmp_path_factory.mktemp("store-data")
    gen.write_national(root, gen.NationalShape(provinces=1, districts=2, streets=1, communities=2))
    source = NationalSource({k: root / k for k in LAYERS})
    return gridmap.check(gridmap.read_study(**{k: source.read(k) for k in LAYERS}))


@pytest.fixture
def folder(result, tmp_path):
    write_partitioned(result, tmp_path / "national")
    return tmp_path


def _all_tiles(ts: TileSet) -> dict[tuple, bytes]:
    """Every tile of every layer at every zoom 0–16 that the layer's extent touches."""
    out = {}
    for layer in ts.layers:
        for z in range(17):
            for tile in tiles_covering(ts.bounds(layer), z)[:60]:
                out[(layer, *tile)] = ts.tile(layer, *tile)
                out[(layer, *tile, "gz")] = ts.tile(layer, *tile, gzip=True)
    return out


def _forbid_making(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the tile set was made again")

    monkeypatch.setattr(tileset_module, "read_national", refuse)
    monkeypatch.setattr(tileset_module, "national_layers", refuse)


def test_second_open_reads_the_stored_set(folder, monkeypatch):
    first = TileSet.from_check_dir(folder)
    assert first.origin == "made, stored"
    assert (store_dir(folder) / "manifest.json").exists()
    stored_grids = gpd.read_parquet(
        store_dir(folder) / "grids.parquet"
    )  # GeoParquet, as QGIS reads
    assert stored_grids.crs.to_epsg() == 3857 and len(stored_grids) == first.count("grids")
    _forbid_making(monkeypatch)
    second = TileSet.from_check_dir(folder)
    assert second.origin == "stored"
    assert second.layers == first.layers
    assert {n: second.count(n) for n in second.layers} == {n: first.count(n) for n in first.layers}
    assert second.bounds("grids") == first.bounds("grids")
    for name in first.layers:
        assert second.table(name).astype(str).equals(first.table(name).astype(str))


def test_stored_tiles_are_the_fresh_tiles_byte_for_byte(folder, result):
    TileSet.from_check_dir(folder)
    stored = TileSet.from_check_dir(folder)
    assert stored.origin == "stored"
    fresh = TileSet.from_check_dir(folder, store=False)
    assert fresh.origin == "made"
    a, b = _all_tiles(stored), _all_tiles(fresh)
    assert a.keys() == b.keys()
    assert sum(1 for v in a.values() if v) > 20  # the comparison covers tiles with features
    assert a == b


def test_a_changed_result_makes_the_set_again(folder, result, monkeypatch):
    TileSet.from_check_dir(folder)
    part = sorted((folder / "national" / "grids").rglob("*.parquet"))[0]
    grids = gpd.read_parquet(part)
    grids.loc[grids.index[0], "status"] = "changed"
    grids.to_parquet(part)
    st = part.stat()
    os.utime(part, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a later check, even if fast
    again = TileSet.from_check_dir(folder)
    assert again.origin == "made, stored"
    assert "changed" in set(again.table("grids")["status"])
    assert TileSet.from_check_dir(folder).origin == "stored"


@pytest.mark.parametrize("damage", ["truncate", "flip", "no-manifest", "bad-manifest", "missing"])
def test_a_damaged_store_is_made_again_not_trusted(folder, damage):
    TileSet.from_check_dir(folder)
    store = store_dir(folder)
    data = store / "grids.parquet"
    if damage == "truncate":  # a write cut short
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    elif damage == "flip":  # same size, other bytes
        raw = bytearray(data.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        data.write_bytes(bytes(raw))
    elif damage == "no-manifest":  # a partial store: the manifest is written last
        (store / "manifest.json").unlink()
    elif damage == "bad-manifest":
        (store / "manifest.json").write_text("{not json", encoding="utf-8")
    else:
        data.unlink()
    again = TileSet.from_check_dir(folder)
    assert again.origin == "made, stored"
    assert again.count("grids") == len(gpd.read_parquet(folder / "national" / "grids"))
    manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["layers"]) == {"rollup", "communities", "grids"}
    assert TileSet.from_check_dir(folder).origin == "stored"


def test_a_store_that_cannot_be_written_still_serves(folder, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError("read-only")

    monkeypatch.setattr(tileset_module, "save_layers", refuse)
    ts = TileSet.from_check_dir(folder)
    assert ts.origin == "made"
    assert ts.tile("rollup", 0, 0, 0)
    assert not store_dir(folder).exists()


def test_mixed_property_values_keep_their_types():
    units = gpd.GeoDataFrame(
        {"v": [1, True, 1.5, "1", None, 1]},
        geometry=[shapely.box(120 + i * 0.01, 31, 120.005 + i * 0.01, 31.005) for i in range(6)],
        crs="EPSG:4326",
    )
    ts = TileSet.from_layers({"u": units})
    z, x, y = tiles_covering(ts.bounds("u"), 8)[0]
    feats = mvt.decode(ts.tile("u", z, x, y))["u"]["features"]
    got = {f["id"]: f["properties"].get("v", "absent") for f in feats}
    assert got == {0: 1, 1: True, 2: 1.5, 3: "1", 4: "absent", 5: 1}
    assert type(got[1]) is bool and type(got[0]) is int


def test_tiles_found_by_scan_and_by_index_are_the_same(result):
    """Before prepare() a tile scans the features' boxes, after it queries a tree: same tiles."""
    layers = {"grids": result.grids, "communities": result.communities}
    scanned = TileSet.from_layers(layers)
    indexed = TileSet.from_layers(layers)
    indexed.prepare()
    a, b = _all_tiles(scanned), _all_tiles(indexed)
    assert sum(1 for v in a.values() if v) > 20
    assert a == b
