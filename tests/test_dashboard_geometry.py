"""The map geometry's fast vertex dropping (issue #19) against the slow topology-preserving path."""

from __future__ import annotations

import numpy as np
import shapely

from dashboards.provider.geometry import SUB_METRE, drop_vertices


def test_drop_vertices_matches_the_topology_preserving_simplifier(demo_study):
    """The fast path against the slow exact one, on the demo's units and on noisy outlines."""
    units = np.concatenate(
        [demo_study.grids.geometry.to_numpy(), demo_study.communities.geometry.to_numpy()]
    )
    # digitising noise: many near-collinear vertices a few centimetres off each edge (a
    # function of the position, so rings stay closed)
    dense = shapely.segmentize(units, 5.0)
    wobble = lambda xy: xy + 0.05 * np.sin(xy[:, ::-1] * 1.7 + xy * 3.1)  # noqa: E731
    noisy = shapely.make_valid(shapely.transform(dense, wobble))
    for geoms in (units, noisy):
        fast = drop_vertices(geoms, SUB_METRE)
        slow = shapely.simplify(geoms, SUB_METRE, preserve_topology=True)
        assert shapely.is_valid(fast).all() and not shapely.is_empty(fast).any()
        assert (shapely.get_num_geometries(fast) == shapely.get_num_geometries(geoms)).all()
        assert (shapely.hausdorff_distance(fast, geoms) <= SUB_METRE + 1e-6).all()
        assert (shapely.hausdorff_distance(fast, slow) <= 2 * SUB_METRE + 1e-6).all()
        # as few vertices as the slow path, give or take
        assert (
            shapely.get_num_coordinates(fast).sum()
            <= 1.05 * shapely.get_num_coordinates(slow).sum()
        )
    assert shapely.get_num_coordinates(drop_vertices(noisy, SUB_METRE)).sum() < (
        shapely.get_num_coordinates(noisy).sum() / 3
    )


def test_drop_vertices_keeps_what_douglas_peucker_breaks():
    sliver = shapely.box(0, 0, 10, 0.3)  # Douglas-Peucker collapses it
    holed = shapely.Polygon(
        [(0, 0), (10, 0), (10, 10), (0, 10)], holes=[[(4, 4), (4.3, 4), (4.3, 4.3), (4, 4.3)]]
    )
    assert shapely.is_empty(shapely.simplify(sliver, SUB_METRE, preserve_topology=False))
    out = drop_vertices(np.array([sliver, holed]), SUB_METRE)
    assert not shapely.is_empty(out).any() and shapely.is_valid(out).all()
    assert out[0].equals(shapely.simplify(sliver, SUB_METRE, preserve_topology=True))
    assert shapely.get_num_interior_rings(out[1]) == 1


def test_tilejson_bounds_and_count_are_the_tile_sets():
    """The TileJSON comes from the provider's geometry; the tile set says the same."""
    from dashboards.provider import DashboardProvider
    from dashboards.tiles import StudyTiles

    tiles = StudyTiles(DashboardProvider.from_config(None))
    for level in ("community", "grid"):
        meta = tiles.meta(level, "/t/{z}/{x}/{y}.pbf")
        ts = tiles.tileset(level)
        assert meta["bounds"] == list(ts.bounds(level)) and meta["count"] == ts.count(level)
