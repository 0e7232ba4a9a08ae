"""Vector tiles of any polygon layer (gridmap.tiles) and the dashboard's study tile routes.

The vectorised encoder is checked against ``mapbox-vector-tile`` (the slow exact reference):
the same polygons, holes and properties come back from both tiles.
"""

from __future__ import annotations

import gzip
import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gridmap.tiles import TileSet, tile_bounds

mvt = pytest.importorskip("mapbox_vector_tile", reason="mapbox-vector-tile is not installed")


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    rad = math.radians(lat)
    y = int((1 - math.log(math.tan(rad) + 1 / math.cos(rad)) / math.pi) / 2 * n)
    return z, int((lon + 180) / 360 * n), y


def _decode(data: bytes) -> dict:
    return mvt.decode(data, default_options={"y_coord_down": True})


def _layer(seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    geoms = []
    for _ in range(60):
        x, y = 120 + rng.random() * 0.5, 31 + rng.random() * 0.5
        ring = shapely.Point(x, y).buffer(0.01 + 0.03 * rng.random(), quad_segs=4)
        kind = rng.integers(3)
        if kind == 1:  # a hole
            ring = ring.difference(shapely.Point(x, y).buffer(0.005))
        elif kind == 2:  # two parts
            ring = shapely.MultiPolygon([ring, shapely.box(x + 0.05, y, x + 0.07, y + 0.02)])
        geoms.append(ring)
    names = [f"单元{i}" for i in range(len(geoms))]
    values = [None if i % 7 == 0 else float(i) / 3 for i in range(len(geoms))]
    return gpd.GeoDataFrame({"n": names, "v": values}, geometry=geoms, crs="EPSG:4326")


def _reference(
    units: gpd.GeoDataFrame, z: int, x: int, y: int, buffer: int = 64
) -> dict[int, dict]:
    """The same tile through mapbox-vector-tile (clip, then its own quantising encoder)."""
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    merc = units.to_crs(3857)
    pad = (maxx - minx) * buffer / 4096
    box = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
    scale = 4096 / (maxx - minx)
    feats = []
    for i, g in enumerate(merc.geometry):
        g = shapely.intersection(g, box)
        if g.is_empty:
            continue
        g = shapely.transform(
            g, lambda c: np.column_stack([c[:, 0] - minx, maxy - c[:, 1]]) * scale
        )
        props = {k: units.iloc[i][k] for k in ("n", "v") if units.iloc[i][k] == units.iloc[i][k]}
        feats.append({"geometry": g, "properties": props, "id": i})
    data = mvt.encode(
        [{"name": "units", "features": feats}],
        default_options={"extents": 4096, "y_coord_down": True},
    )
    return {f["id"]: f for f in _decode(data)["units"]["features"]}


@pytest.mark.parametrize("z", [8, 10, 12])
def test_encoder_matches_mapbox_vector_tile(z):
    units = _layer()
    tiles = TileSet.from_layers({"units": units})
    z, x, y = _tile_of(120.25, 31.25, z)
    mine = {f["id"]: f for f in _decode(tiles.tile("units", z, x, y))["units"]["features"]}
    ref = _reference(units, z, x, y)
    assert set(mine) == set(ref)
    for i, f in mine.items():
        assert f["properties"] == ref[i]["properties"]
        a, b = shapely.geometry.shape(f["geometry"]), shapely.geometry.shape(ref[i]["geometry"])
        assert a.is_valid and a.geom_type == b.geom_type
        # same shape up to the reference's unsimplified vertices (a quarter pixel = 4 units)
        assert a.symmetric_difference(b).area <= 0.02 * b.area + 8 * b.length


@pytest.mark.parametrize("buffer", [0, 16])
def test_smaller_buffer_matches_mapbox_vector_tile(buffer):
    """A tile holds the features meeting it grown by ``buffer`` units, clipped there."""
    units = _layer(seed=2)
    tiles = TileSet.from_layers({"units": units}, buffer=buffer)
    z, x, y = _tile_of(120.25, 31.25, 9)
    mine = {f["id"]: f for f in _decode(tiles.tile("units", z, x, y))["units"]["features"]}
    ref = _reference(units, z, x, y, buffer=buffer)
    assert set(mine) == set(ref) and mine
    wider = _decode(TileSet.from_layers({"units": units}).tile("units", z, x, y))["units"]
    assert set(mine) < {f["id"] for f in wider["features"]}  # fewer features than at 64
    for i, f in mine.items():
        a, b = shapely.geometry.shape(f["geometry"]), shapely.geometry.shape(ref[i]["geometry"])
        assert a.is_valid and a.symmetric_difference(b).area <= 0.02 * b.area + 8 * b.length
        assert all(-buffer - 1 <= v <= 4096 + buffer + 1 for v in np.ravel(a.bounds))


def test_geometry_only_layer_matches_mapbox_vector_tile():
    """A layer without properties (the study map's tiles) leaves the tags out, same shapes."""
    units = _layer(seed=1)
    bare = units[["geometry"]]
    tiles = TileSet.from_layers({"units": bare})
    z, x, y = _tile_of(120.25, 31.25, 10)
    data = tiles.tile("units", z, x, y)
    mine = {f["id"]: f for f in _decode(data)["units"]["features"]}
    ref = _reference(units, z, x, y)
    assert set(mine) == set(ref) and all(f["properties"] == {} for f in mine.values())
    with_props = TileSet.from_layers({"units": units}).tile("units", z, x, y)
    assert len(data) < len(with_props)
    for i, f in mine.items():
        a, b = shapely.geometry.shape(f["geometry"]), shapely.geometry.shape(ref[i]["geometry"])
        assert a.is_valid and a.symmetric_difference(b).area <= 0.02 * b.area + 8 * b.length
    assert gzip.decompress(tiles.tile("units", z, x, y, gzip=True)) == data


@pytest.mark.parametrize("z", [8, 11])
def test_simple_polygons_encode_as_with_holes_and_parts_beside_them(z):
    """A tile of one-ring polygons only (a city's grids) takes a shorter path to the same bytes.

    The same units with a unit with a hole added take the general path: every other feature
    decodes to the same geometry, and both match mapbox-vector-tile.
    """
    units = _layer(seed=4)
    one_ring = (units.geom_type == "Polygon") & (
        shapely.get_num_interior_rings(units.geometry) == 0
    )
    simple = units[one_ring].reset_index(drop=True)
    z, x, y = _tile_of(120.25, 31.25, z)
    fast = {
        f["id"]: f
        for f in _decode(TileSet.from_layers({"units": simple}).tile("units", z, x, y))["units"][
            "features"
        ]
    }
    holed = (
        shapely.Point(120.25, 31.25)
        .buffer(0.02)
        .difference(shapely.Point(120.25, 31.25).buffer(0.01))
    )
    mixed = pd.concat(
        [simple, gpd.GeoDataFrame({"n": ["洞"], "v": [1.0]}, geometry=[holed], crs=simple.crs)],
        ignore_index=True,
    )
    general = {
        f["id"]: f
        for f in _decode(TileSet.from_layers({"units": mixed}).tile("units", z, x, y))["units"][
            "features"
        ]
    }
    assert fast and len(simple) in general  # the holed unit is in the tile
    assert {i: f["geometry"] for i, f in fast.items()} == {
        i: f["geometry"] for i, f in general.items() if i != len(simple)
    }
    ref = _reference(simple, z, x, y)
    assert set(fast) == set(ref)
    for i, f in fast.items():
        a, b = shapely.geometry.shape(f["geometry"]), shapely.geometry.shape(ref[i]["geometry"])
        assert a.is_valid and a.symmetric_difference(b).area <= 0.02 * b.area + 8 * b.length


def test_every_unit_kept_at_low_zoom():
    """Units smaller than a tile unit are drawn as a small box, never dropped."""
    xs = 120 + np.arange(500) * 1e-3
    units = gpd.GeoDataFrame(
        {"u": [str(i) for i in range(500)]},
        geometry=shapely.box(xs, 31, xs + 1e-4, 31 + 1e-4),
        crs="EPSG:4326",
    )
    tiles = TileSet.from_layers({"g": units})
    z, x, y = _tile_of(120.25, 31, 5)
    feats = _decode(tiles.tile("g", z, x, y))["g"]["features"]
    assert sorted(f["id"] for f in feats) == list(range(500))
    assert tiles.table("g")["u"].tolist() == units["u"].tolist()


def test_study_tile_routes():
    pytest.importorskip("dash")
    from dashboards import create_app
    from dashboards.provider import DashboardProvider

    provider = DashboardProvider.from_config(None)
    app = create_app(provider)
    client = app.server.test_client()
    meta = client.get(f"/_gridmap/tiles/{provider.key}/grid.json").get_json()
    ids = provider.ids("grid")
    assert meta["count"] == len(ids) and meta["layer"] == "grid"
    w, s, e, n = meta["bounds"]
    assert w < e and s < n
    path = meta["tiles"][0]
    assert path.startswith(f"/_gridmap/tiles/{provider.key}/grid/")
    z, x, y = _tile_of((w + e) / 2, (s + n) / 2, 11)
    r = client.get(path.format(z=z, x=x, y=y))
    assert r.status_code == 200 and r.mimetype == "application/vnd.mapbox-vector-tile"
    feats = _decode(r.data)["grid"]["features"]
    assert feats and all(f["properties"] == {} for f in feats)  # geometry only
    assert all(0 <= f["id"] < len(ids) for f in feats)
    # names and unit ids come apart, in feature order (id = the unit's position, as in the
    # values the callbacks send)
    names = client.get(meta["names"])
    assert names.status_code == 200 and "Content-Encoding" not in names.headers
    table = names.get_json()
    assert table["u"] == list(ids) and len(table["n"]) == len(ids)
    assert table["n"][0] == str(provider.study.grids["name"].iloc[0])
    packed = client.get(path.format(z=z, x=x, y=y), headers={"Accept-Encoding": "gzip, br"})
    assert packed.headers["Content-Encoding"] == "gzip" and gzip.decompress(packed.data) == r.data
    gz_names = client.get(meta["names"], headers={"Accept-Encoding": "gzip"})
    assert json.loads(gzip.decompress(gz_names.data)) == table
    assert client.get(f"/_gridmap/tiles/{provider.key}/grid/11/0/0.pbf").status_code == 204
    assert client.get(f"/_gridmap/tiles/{provider.key}/roads.json").status_code == 404
    assert client.get("/_gridmap/tiles/nokey/grid.json").status_code == 404
    assert client.get(f"/_gridmap/tiles/{provider.key}/roads/names.json").status_code == 404
    assert client.get(f"/_gridmap/tiles/{provider.key}/grid/3/9/0.pbf").status_code == 404
    assert json.loads(client.get("/_gridmap/tiles/x/y.json").data)["error"]
    warmed = app.server.extensions["gridmap_study_tiles"].warm()  # the whole study's views
    assert warmed > 2 and client.get(path.format(z=z, x=x, y=y)).data == r.data


def test_national_key_known_and_relative(tmp_path):
    from dashboards.provider.config import national_folder
    from gridmap.config import load_config

    config = tmp_path / "gridmap.toml"
    config.write_text(
        '[layers]\ncommunities = "c.gpkg"\n[dashboard]\nnational = "out"\n', encoding="utf-8"
    )
    assert national_folder(config) == tmp_path / "out"
    config.write_text('[layers]\ncommunities = "c.gpkg"\n[dashboard]\nnationl = "out"\n')
    with pytest.raises(Exception, match="national"):
        load_config(config)


def _star(cx: float, cy: float, radii: list[float]) -> shapely.Polygon:
    angles = np.linspace(0, 2 * np.pi, len(radii), endpoint=False)
    return shapely.Polygon(
        np.column_stack([cx + np.cos(angles) * radii, cy + np.sin(angles) * radii])
    )


@st.composite
def _wiggly_units(draw) -> list:
    """Star polygons with wiggly edges, some with a hole near the edge, some in two parts."""
    units = []
    for k in range(draw(st.integers(1, 6))):
        radii = draw(st.lists(st.floats(200, 1000), min_size=5, max_size=40))
        shell = _star(k * 3000, 0, radii)
        if not shell.is_valid:
            continue
        kind = draw(st.integers(0, 2))
        if kind == 1:  # a hole close to the edge: Douglas-Peucker may cut across it
            r = min(radii) * draw(st.floats(0.5, 0.95))
            hole = shapely.Point(k * 3000 + r * 0.5, 0).buffer(r * 0.45, quad_segs=3)
            shell = shell.difference(hole)
        elif kind == 2:
            shell = shapely.MultiPolygon([shell, shapely.box(k * 3000, 1200, k * 3000 + 50, 1230)])
        units.append(shell)
    return units


@settings(max_examples=25, deadline=None)
@given(_wiggly_units(), st.integers(8, 16))
def test_simplified_geometry_keeps_every_part_and_hole(units, z):
    """The fast simplification against GEOS's topology-preserving one (the slow exact path).

    Every simplified unit is valid, about within the zoom's tolerance of the unit, with the
    parts and holes the topology-preserving simplifier keeps.
    """
    if not units:
        return
    layer = gpd.GeoDataFrame(geometry=units, crs="EPSG:3857")
    tiles = TileSet.from_layers({"u": layer})
    fast = tiles.geometries("u", z)
    merc = tiles.geometries("u", 24)  # not simplified beyond zoom 18: ~the units themselves
    tol = 2 * math.pi * 6378137.0 / 2**z / 256 / 4
    exact = shapely.simplify(np.asarray(units, dtype=object), tol, preserve_topology=True)
    assert shapely.is_valid(fast).all() and not shapely.is_empty(fast).any()
    assert (shapely.get_num_geometries(fast) == shapely.get_num_geometries(exact)).all()
    holes = [sum(shapely.get_num_interior_rings(shapely.get_parts(g))) for g in fast]
    assert holes == [sum(shapely.get_num_interior_rings(shapely.get_parts(g))) for g in exact]
    # Douglas-Peucker keeps every vertex within the tolerance of its simplified ring, up to
    # where it restarts a ring (a few per cent more); never far beyond the exact path's
    bound = np.maximum(tol * 1.05, shapely.hausdorff_distance(exact, merc) * 1.01)
    assert (shapely.hausdorff_distance(fast, merc) <= bound).all()
