"""The compliance map draws 50 k grids from gridmap's vector tiles (issue #19), in Chromium.

A synthetic city of 5,000 communities of 10 grids each (no file I/O): at full extent every
grid is in the loaded tiles (none lost to simplification or rounding), and recolouring
changes feature state only — no tile is fetched again.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

import gridmap

from .helpers import choose, wait_map

pytestmark = pytest.mark.browser
COLS, ROWS = 100, 50  # communities; each 5 × 2 grids of 200 m × 200 m


def _city() -> gridmap.Study:
    x0, y0, w, h = 500_000.0, 3_300_000.0, 1000.0, 400.0
    ci, cj = (a.ravel() for a in np.meshgrid(np.arange(COLS), np.arange(ROWS)))
    comms = gpd.GeoDataFrame(
        {
            "community_id": [f"3201{k:08d}" for k in range(len(ci))],
            "name": [f"社区{k}" for k in range(len(ci))],
        },
        geometry=shapely.box(x0 + ci * w, y0 + cj * h, x0 + (ci + 1) * w, y0 + (cj + 1) * h),
        crs="EPSG:4549",
    )
    gi, gj = (a.ravel() for a in np.meshgrid(np.arange(COLS * 5), np.arange(ROWS * 2)))
    gw, gh = w / 5, h / 2
    grids = gpd.GeoDataFrame(
        {"grid_id": [f"g{k}" for k in range(len(gi))], "households": 300 + (gi * 7 + gj) % 400},
        geometry=shapely.box(x0 + gi * gw, y0 + gj * gh, x0 + (gi + 1) * gw, y0 + (gj + 1) * gh),
        crs="EPSG:4549",
    )
    return gridmap.read_study(comms, grids=grids, name="50k grids")


@pytest.fixture(scope="module")
def city_url(browser):
    from dashboards import create_app
    from dashboards.provider import DashboardProvider
    from dashboards.testing import serve_in_thread

    provider = DashboardProvider(_city())
    provider.result()
    with serve_in_thread(create_app(provider)) as url:
        yield url, provider


def test_50k_grid_map_draws_every_grid_at_full_extent(page, city_url):
    url, provider = city_url
    tiles: list[str] = []
    page.on("request", lambda r: tiles.append(r.url) if ".pbf" in r.url else None)
    page.goto(url + "/map?level=grid")
    wait_map(page, "map", timeout=60_000)
    n = len(provider.ids("grid"))
    page.wait_for_function(
        f"() => window.gridmap.featureCount('gm-map-map') === {n}", timeout=30_000
    )
    assert not any(u.endswith(".geojson") and "/grid." in u for u in tiles)
    state = page.evaluate("window.gridmap.state('gm-map-map')")
    assert state["features"] == n and state["level"] == "grid"
    # drawn in one frame once every tile of the view was parsed: visible when painted
    opacity = page.evaluate(
        "(() => { const m = window.gridmap.maps['gm-map-map'].map;"
        " return [m.getPaintProperty('units-fill', 'fill-opacity'),"
        " m.getPaintProperty('borders', 'line-opacity')]; })()"
    )
    assert opacity == [0.85, 0.9]
    stats = state["stats"]
    assert stats["tiles_at"] <= stats["revealed_at"] <= stats["lastPaint"]["at"]
    fetched = len(tiles)
    assert fetched > 0  # the tiles come from MapLibre's workers; the page sees their requests
    # recolour: feature state only, no tile fetched again
    choose(page, "cm-color-by", "metric:households")
    wait_map(page, "map", version=2, timeout=30_000)
    colors = page.evaluate("window.gridmap.maps['gm-map-map'].painted.colors")
    assert len(colors) == n and len(set(colors)) > 2
    assert len(tiles) == fetched
    assert page.console.errors == []
