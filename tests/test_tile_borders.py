"""The communities' border network (``gridmap.tiles.border_lines``) and its line tiles.

Exactness: every distinct segment of the polygons' rings is in the network exactly once
(direction aside) and nothing else is; the line tiles decode to those lines, as
mapbox-vector-tile encodes them.
"""

from __future__ import annotations

import math
from collections import Counter

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gridmap.tiles import TileSet, border_lines, ring_segments, tile_bounds

mvt = pytest.importorskip("mapbox_vector_tile", reason="mapbox-vector-tile is not installed")


def _key(x0: float, y0: float, x1: float, y1: float) -> tuple[float, ...]:
    """A segment whichever way it runs (-0.0 and 0.0 alike)."""
    a, b = (x0 + 0.0, y0 + 0.0), (x1 + 0.0, y1 + 0.0)
    return (*a, *b) if a <= b else (*b, *a)


def _segments_of_lines(lines: np.ndarray) -> Counter:
    out: Counter = Counter()
    for line in lines:
        c = shapely.get_coordinates(line)
        for (x0, y0), (x1, y1) in zip(c[:-1], c[1:], strict=True):
            out[_key(x0, y0, x1, y1)] += 1
    return out


@st.composite
def _layouts(draw) -> np.ndarray:
    """Communities of a random labelling of grid cells (holes, several parts), plus loose ones."""
    cols, rows = draw(st.integers(1, 7)), draw(st.integers(1, 6))
    labels = draw(st.lists(st.integers(0, 5), min_size=cols * rows, max_size=cols * rows))
    size = draw(st.sampled_from([1.0, 0.001, 250.0]))
    cells = {}
    for k, label in enumerate(labels):
        i, j = k % cols, k // cols
        box = shapely.box(i * size, j * size, (i + 1) * size, (j + 1) * size)
        cells.setdefault(label, []).append(box)
    polys = [shapely.union_all(boxes) for boxes in cells.values()]
    loose = draw(st.integers(0, 3))
    for k in range(loose):  # overlapping or apart, with their own vertices
        cx, cy = draw(st.floats(-2, 9)) * size, draw(st.floats(-2, 8)) * size
        polys.append(shapely.Point(cx, cy).buffer(size * (0.3 + k), quad_segs=3))
    if draw(st.booleans()):
        polys.append(shapely.Polygon())  # an empty one adds nothing
    return np.array(polys, dtype=object)


@settings(max_examples=60, deadline=None)
@given(_layouts())
def test_every_border_segment_appears_once_and_nothing_else(polys):
    wanted = {_key(*s) for s in ring_segments(polys)}
    lines = border_lines(polys)
    got = _segments_of_lines(lines)
    assert set(got) == wanted  # every segment of a ring, nothing else
    assert all(n == 1 for n in got.values())  # each once, however many rings share it
    assert all(shapely.get_type_id(g) == 1 and len(shapely.get_coordinates(g)) >= 2 for g in lines)


def test_ring_segments_are_every_ring_side():
    poly = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (2, 1), (2, 2), (1, 1)]])
    multi = shapely.MultiPolygon([shapely.box(10, 10, 11, 11), shapely.box(12, 10, 13, 11)])
    repeated = shapely.Polygon([(0, 0), (1, 0), (1, 0), (1, 1), (0, 0)])
    assert len(ring_segments(np.array([poly]))) == 4 + 3
    assert len(ring_segments(np.array([multi]))) == 8
    assert len(ring_segments(np.array([repeated]))) == 3  # the repeated vertex adds none


def test_a_grid_of_blocks_is_a_few_long_lines_each_border_drawn_once():
    blocks = np.array([shapely.box(i, j, i + 1, j + 1) for i in range(20) for j in range(10)])
    lines = border_lines(blocks)
    # 21 vertical and 11 horizontal lines: the straightest pairs chain through every crossing
    assert len(lines) <= 21 + 11
    network = shapely.union_all(shapely.boundary(blocks))
    assert math.isclose(sum(g.length for g in lines), network.length)  # nothing drawn twice
    outlines = sum(g.length for g in shapely.boundary(blocks))
    assert math.isclose(outlines, 2 * network.length - (2 * 20 + 2 * 10))


def test_no_polygons_no_lines():
    assert len(border_lines(np.array([], dtype=object))) == 0
    assert len(border_lines(np.array([shapely.Polygon()]))) == 0


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    rad = math.radians(lat)
    y = int((1 - math.log(math.tan(rad) + 1 / math.cos(rad)) / math.pi) / 2 * n)
    return z, int((lon + 180) / 360 * n), y


@pytest.mark.parametrize("z", [9, 12, 15])
def test_border_tiles_decode_to_the_lines_as_mapbox_vector_tile_encodes_them(z):
    rng = np.random.default_rng(3)
    xs, ys = 120 + np.arange(31) * 0.004, 31 + np.arange(31) * 0.003  # shared corners
    blocks = [
        shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1])
        for i in range(30)
        for j in range(30)
        if rng.random() < 0.9
    ]
    lines = border_lines(np.array(blocks))
    layer = gpd.GeoDataFrame(geometry=lines, crs="EPSG:4326")
    tiles = TileSet.from_layers({"borders": layer}, buffer=16)
    z, x, y = _tile_of(120.05, 31.04, z)
    mine = mvt.decode(tiles.tile("borders", z, x, y), default_options={"y_coord_down": True})
    feats = {f["id"]: f for f in mine["borders"]["features"]}
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    pad = (maxx - minx) * 16 / 4096
    box = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
    scale = 4096 / (maxx - minx)
    ref = []
    for i, g in enumerate(layer.to_crs(3857).geometry):
        g = shapely.intersection(g, box)
        if not g.is_empty:
            g = shapely.transform(
                g, lambda c: np.column_stack([c[:, 0] - minx, maxy - c[:, 1]]) * scale
            )
            ref.append({"geometry": g, "properties": {}, "id": i})
    data = mvt.encode(
        [{"name": "borders", "features": ref}],
        default_options={"extents": 4096, "y_coord_down": True},
    )
    theirs = {
        f["id"]: f
        for f in mvt.decode(data, default_options={"y_coord_down": True})["borders"]["features"]
    }
    assert feats and set(feats) <= set(theirs)
    lost = [
        i
        for i in set(theirs) - set(feats)
        if shapely.geometry.shape(theirs[i]["geometry"]).length > 2
    ]
    assert not lost  # only a line under two tile units long may vanish when rounded
    for i, f in feats.items():
        a, b = shapely.geometry.shape(f["geometry"]), shapely.geometry.shape(theirs[i]["geometry"])
        assert a.geom_type in ("LineString", "MultiLineString")
        # the same line up to simplification within a quarter pixel (4 units) and rounding
        assert a.hausdorff_distance(b) <= 4
    drawn = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in feats.values()])
    total = sum(shapely.geometry.shape(f["geometry"]).length for f in feats.values())
    assert math.isclose(total, drawn.length, rel_tol=1e-9)  # no border drawn twice in the tile
