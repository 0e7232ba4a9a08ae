"""The map page's first map starts with the page (issue #19): study data in the index, first colours.

And the map geometry's fast vertex dropping against the slow topology-preserving simplifier.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import shapely

from dashboards import create_app
from dashboards.provider import DashboardProvider
from dashboards.provider.geometry import SUB_METRE, drop_vertices


@pytest.fixture(scope="module")
def app_provider(demo_study):
    provider = DashboardProvider(demo_study)
    return create_app(provider), provider


def _study_data(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="gm-study">(.*?)</script>', html, re.S)
    assert found, "the index carries the study data"
    return json.loads(found.group(1))


def test_index_carries_the_map_pages_early_map(app_provider):
    app, provider = app_provider
    html = app.server.test_client().get("/map?level=grid").get_data(as_text=True)
    info = _study_data(html)
    key = provider.key
    assert info["levels"] == {
        lv: {"geo": f"/_gridmap/geo/{key}/{lv}.geojson"} for lv in ("community", "grid")
    }
    assert info["borders"] == f"/_gridmap/geo/{key}/community.geojson"
    page = info["pages"]["/map"]
    assert page["div"] == "gm-map-map" and page["param"] == "level"
    assert page["level"] == "community" and page["height"] == "560px"
    assert page["first"]["grid"] == f"/_gridmap/first/{key}/grid.json"
    # data, not a script: no inline script besides Dash's own (the CSP allows those by hash)
    assert html.count('id="gm-study"') == 1


def test_first_colours_are_the_pages_first_values(app_provider):
    app, provider = app_provider
    client = app.server.test_client()
    profile = provider.default_profile
    for level in ("community", "grid"):
        got = client.get(f"/_gridmap/first/{provider.key}/{level}.json").get_json()
        want = provider.map_values(level, "status", profile)
        assert got["c"] == want.classes.tolist() and got["palette"] == want.palette
        assert got["version"] == f"{profile}|{level}|status|zh"
    rule = next(
        o["value"]
        for o in provider.color_options("grid", profile)
        if str(o["value"]).startswith("rule:")
    )
    got = client.get(f"/_gridmap/first/{provider.key}/grid.json?color={rule}").get_json()
    assert got["c"] == provider.map_values("grid", rule, profile).classes.tolist()
    # an unknown colour falls back to status, as the page does
    bad = client.get(f"/_gridmap/first/{provider.key}/grid.json?color=rule:nope").get_json()
    assert bad["version"].endswith("|status|zh")
    assert client.get("/_gridmap/first/otherkey/grid.json").status_code == 404
    assert client.get(f"/_gridmap/first/{provider.key}/street.json").status_code == 404


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
