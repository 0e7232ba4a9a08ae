"""The 全国 / National page in headless Chromium: a national result drawn from vector tiles.

A small synthetic national dataset (``benchmarks/national_data.py``) is checked and written
as the ``national/`` result of a ``gridmap check --engine dask`` run; the dashboard opened
with ``national=`` that folder draws the districts' roll-ups, zoomed in the grids, coloured by
feature state from the values the colour-by callback sends, and recolours.
"""

from __future__ import annotations

import pytest

import gridmap
from gridmap.labels import STATUS_COLORS, STATUS_ORDER

from .helpers import Console, choose, wait_map

pytestmark = pytest.mark.browser
LAYERS = ("communities", "grids", "households", "facilities")
MAP = "gm-map-national"


@pytest.fixture(scope="module")
def national_dir(tmp_path_factory, national_data):
    from gridmap.national import NationalSource
    from gridmap.national.export import write_partitioned

    root = tmp_path_factory.mktemp("national")
    gen = national_data
    gen.write_national(
        root / "data", gen.NationalShape(provinces=1, districts=2, streets=2, communities=3)
    )
    source = NationalSource({k: root / "data" / k for k in LAYERS})
    result = gridmap.check(gridmap.read_study(**{k: source.read(k) for k in LAYERS}))
    write_partitioned(result, root / "out" / "national")
    return root / "out", result


@pytest.fixture(scope="module")
def national_url(provider, browser, national_dir):
    from dashboards import create_app
    from dashboards.testing import serve_in_thread
    from dashboards.tiles import national_tiles

    first = create_app(provider, national=national_dir[0])  # makes the tile set and stores it
    assert national_tiles(first.server).origin == "made, stored"
    app = create_app(provider, national=national_dir[0])  # a restart: the page draws from the store
    assert national_tiles(app.server).origin == "stored"
    with serve_in_thread(app) as url:
        yield url


def _count(page, layer: str) -> int:
    return page.evaluate(f"window.gridmapNational.featureCount('{MAP}', '{layer}')")


def _colors(page, layer: str, n: int) -> list:
    return page.evaluate(
        "([layer, n]) => Array.from({length: n}, (_, i) =>"
        f" window.gridmapNational.colorOf('{MAP}', layer, i))",
        [layer, n],
    )


def test_national_page_draws_rollups_then_grids_and_recolours(page, national_url, national_dir):
    _, result = national_dir
    page.goto(national_url + "/national")
    wait_map(page, "national")
    districts = result.communities.index.astype(str).str[:6].nunique()
    jump = f"(v) => window.gridmapNational.maps['{MAP}'].map.jumpTo(v)"
    page.evaluate(jump, {"zoom": 6})
    page.wait_for_function(
        f"() => window.gridmapNational.featureCount('{MAP}', 'rollup') === {districts}"
    )
    page.wait_for_function(f"() => window.gridmapNational.colorOf('{MAP}', 'rollup', 0) !== null")
    assert "区县" in page.inner_text("#na-legend")  # Chinese first
    # zoomed in: the grids, coloured by their status
    grids = result.grids
    centre = grids.to_crs(4326).geometry.union_all().centroid
    page.evaluate(jump, {"zoom": 13, "center": [centre.x, centre.y]})
    page.wait_for_function(f"() => window.gridmapNational.featureCount('{MAP}', 'grids') > 0")
    page.wait_for_function(
        f"() => Array.from({{length: {len(grids)}}}, (_, i) => i)"
        f".some((i) => window.gridmapNational.colorOf('{MAP}', 'grids', i) !== null)"
    )
    n = _count(page, "grids")
    shown = [c for c in _colors(page, "grids", len(grids)) if c is not None]
    assert len(shown) >= n > 0
    expected = {STATUS_COLORS[s] for s in grids["status"].astype(str) if s in STATUS_ORDER}
    assert set(shown) <= expected
    # recolour: households, then the colours differ from the status ones
    choose(page, "na-color-by", "households")
    wait_map(page, "national", version=2)
    after = {c for c in _colors(page, "grids", len(grids)) if c is not None}
    assert after and not after & set(STATUS_COLORS.values())
    # click a grid: its figures in the detail panel
    box = page.locator(f"#{MAP}").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2 - 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function("() => document.getElementById('na-detail').innerText.includes('户数')")
    # English switch
    page.click("#gm-lang input[value='en']")
    page.wait_for_function("() => document.getElementById('na-legend').innerText.includes('Grids')")
    assert page.console.errors == []


def test_national_folder_without_result_is_a_message(browser, provider, tmp_path):
    from dashboards import create_app
    from dashboards.testing import serve_in_thread

    context = browser.new_context()
    page = context.new_page()
    page.console = Console(page)
    with serve_in_thread(create_app(provider, national=tmp_path)) as url:
        page.goto(url + "/national")
        page.wait_for_selector(".gm-refused")
        assert "national" in page.inner_text(".gm-refused")
    assert page.console.errors == []
    context.close()
