"""The HTML report and an ``explore()`` map in headless Chromium with networking disabled.

Every request other than the page file itself is aborted and recorded; the pages must
draw their layers (Leaflet paths per pane), the findings table, and log no error.
"""

from __future__ import annotations

import pytest

from gridmap import datasets, report
from gridmap.maps.explore import PANES

pytestmark = pytest.mark.browser

DATE = "2026-11-23"


@pytest.fixture
def offline_page(browser):
    context = browser.new_context(offline=True, viewport={"width": 1300, "height": 900})
    page = context.new_page()
    requests, errors = [], []

    def route(r):
        requests.append(r.request.url)
        return r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page, requests, errors
    context.close()


def _paths(page, pane: str) -> int:
    return page.locator(f".leaflet-{pane}-pane path").count()


def test_html_report_offline_shows_every_layer(offline_page, demo_result, tmp_path):
    page, requests, errors = offline_page
    res = demo_result
    path = report.report_html(res, tmp_path / "地图.html", date=DATE)
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=15_000)
    assert _paths(page, "gm_communities") == len(res.communities)
    assert _paths(page, "gm_grids") == len(res.grids)
    gaps = res.coverage_result.gaps
    assert _paths(page, "gm_gaps") == int((gaps.filter(like="uncovered:").sum(axis=1) > 0).sum())
    # the gap pane is drawn above the community fill
    z = page.evaluate(
        "p => getComputedStyle(document.querySelector('.leaflet-'+p+'-pane')).zIndex", "gm_gaps"
    )
    assert int(z) == PANES["gm_gaps"] > PANES["gm_communities"]
    assert page.locator(".leaflet-control-layers-overlays label").count() >= 3
    assert "不合规" in page.locator(".gm-legend").inner_text()
    assert page.locator("#rows tr").count() == len(report.figures.failing(res))
    # click a finding: the map zooms to the unit and opens its details with the citation
    page.locator("#rows tr", has_text="保俶社区").first.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5_000)
    assert "保俶社区" in popup.inner_text() and "依据" in popup.inner_text()
    page.locator("#q").fill("保俶社区")
    visible = page.locator("#rows tr:visible").count()
    assert 0 < visible < len(report.figures.failing(res))
    box = page.locator(".folium-map").bounding_box()
    assert box and box["width"] > 600 and box["height"] > 400
    assert not errors, errors
    assert all(u.startswith(("file:", "data:")) for u in requests), requests


def test_explore_map_offline(offline_page, demo_result, tmp_path):
    page, requests, errors = offline_page
    path = tmp_path / "explore.html"
    demo_result.explore(grids=False, gaps=False).save(str(path))
    page.goto(path.as_uri())
    page.wait_for_selector(".leaflet-gm_communities-pane path", timeout=15_000)
    assert _paths(page, "gm_communities") == len(demo_result.communities)
    # hover a community (nothing drawn above it here): the tooltip names its status
    page.locator(".leaflet-gm_communities-pane path").first.hover(force=True)
    assert "状态" in page.locator(".leaflet-tooltip").first.inner_text(timeout=5_000)
    # the facility layer is off by default; the layer control switches it on
    assert _paths(page, "gm_facilities") == 0
    page.locator(".leaflet-control-layers-overlays label", has_text="设施").click()
    assert _paths(page, "gm_facilities") == len(demo_result.facilities)
    assert not errors, errors
    assert all(u.startswith(("file:", "data:")) for u in requests), requests


def test_html_report_draws_the_forecast_tables(offline_page, demo_study, demo_result, tmp_path):
    from gridmap.change import project, read_projects

    page, requests, errors = offline_page
    projection = project(
        demo_study,
        read_projects(f"{datasets.get_path('demo')}:在建项目"),
        "2025-2027",
        base_year=2025,
        profile=demo_result.profile,
    )
    path = report.report_html(demo_result, tmp_path / "预测.html", date=DATE, forecast=projection)
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=15_000)
    assert page.locator("#fcbox").is_visible()
    assert page.locator("#fcytitle").inner_text() == "预测：各年概况"
    assert page.locator("#fcyrows tr").count() == 3
    assert page.locator("#fcyrows tr").first.locator("td").first.inner_text() == "2025"
    assert page.locator("#fcvrows tr").count() == len(projection.violations())
    first_new = projection.violations().query("new").sort_values("first_year").iloc[0]
    assert str(first_new["unit_id"]) in page.locator("#fcvrows tr").first.inner_text()
    assert not errors, errors
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    # without a projection the section stays hidden
    page.goto(report.report_html(demo_result, tmp_path / "今天.html", date=DATE).as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=15_000)
    assert not page.locator("#fcbox").is_visible()
