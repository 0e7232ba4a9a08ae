"""Each page in real headless Chromium on the demo district; screenshots go to docs/screenshots/."""

from __future__ import annotations

import io

import pytest

from dashboards.exports import export_filename
from dashboards.ids import ID

from .helpers import SCREENSHOTS, choose, click_map, wait_map

pytestmark = pytest.mark.browser
openpyxl = pytest.importorskip("openpyxl")

PAGES = {"overview": "/", "map": "/map", "coverage": "/coverage", "findings": "/findings"}


def features(page, key: str) -> int:
    return page.evaluate(f"window.gridmap.featureCount('gm-map-{key}')")


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


@pytest.mark.parametrize("key", list(PAGES))
def test_page_loads_and_draws_every_community(page, base_url, provider, key):
    page.goto(base_url + PAGES[key])
    wait_map(page, key)
    assert features(page, key) == len(provider.ids("community")) == 30
    assert page.inner_text(f"#nav-{key}") in ("概览", "合规地图", "服务覆盖", "问题清单")
    if key == "coverage":
        page.wait_for_selector("#cv-n-facilities")
    if key != "map":  # the map page's screenshot shows a clicked community (below)
        page.wait_for_timeout(300)
        screenshot(page, key)
    assert page.console.errors == []


def test_click_community_shows_findings_with_citations(page, base_url, provider):
    uid = provider.ids("community")[3]
    detail = provider.unit_detail("community", uid)
    point = provider.wgs84("community").iloc[3].representative_point()
    page.goto(base_url + "/map")
    wait_map(page, "map")
    click_map(page, "map", (point.x, point.y))
    page.wait_for_selector(".gm-finding")
    assert page.inner_text(".gm-detail-name") == detail["name"]
    cards = page.locator(".gm-finding")
    assert cards.count() == len(detail["findings"])
    cites = page.locator(".gm-finding cite").all_inner_texts()
    assert cites == [f["source"] for f in detail["findings"]] and all(cites)
    assert "户" in page.inner_text(f"#{ID.CM_DETAIL}")
    shares = [f["value_text"] for f in detail["findings"] if f["rule_id"] == "community.volunteers"]
    assert (
        shares and shares[0].endswith("%") and f"{shares[0]}" in page.inner_text(f"#{ID.CM_DETAIL}")
    )
    assert page.get_attribute("#gm-map-map", "data-hover").startswith(
        detail["name"]
    )  # hover: name + value
    screenshot(page, "map")
    # recolour by a metric: legend with class breaks, every unit in a class
    choose(page, ID.CM_COLOR_BY, "metric:households")
    wait_map(page, "map", version=2)
    counts = [
        int(c.replace(",", ""))
        for c in page.locator(f"#{ID.CM_LEGEND} .gm-legend-count").all_inner_texts()
    ]
    assert sum(counts) == 30 and len(counts) >= 3
    # 导出地图 PNG: rendered server-side by gridmap.maps
    with page.expect_download(timeout=20_000) as dl:
        page.click(f"#{ID.CM_EXPORT_PNG}")
    assert dl.value.suggested_filename == export_filename("合规地图", provider.study.name, "png")
    with open(dl.value.path(), "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    # grids: 185 features
    page.click(f"#{ID.CM_LEVEL} label:has-text('网格')")
    page.wait_for_function(
        "() => window.gridmap.state('gm-map-map').level === 'grid' && window.gridmap.state('gm-map-map').ready"
    )
    wait_map(page, "map", version=1)
    page.wait_for_function("() => window.gridmap.featureCount('gm-map-map') === 185")
    assert page.console.errors == []


def test_language_switch_changes_labels(page, base_url):
    page.goto(base_url + "/")
    wait_map(page, "overview")
    assert page.inner_text("#nav-overview") == "概览"
    assert page.inner_text(".gm-kpi-label >> nth=0") == "合规社区"
    page.click(f"#{ID.LANG} label:has-text('English')")
    page.wait_for_function("() => document.getElementById('nav-overview').innerText === 'Overview'")
    wait_map(page, "overview")
    assert page.inner_text("#nav-findings") == "Findings"
    assert page.inner_text(".gm-kpi-label >> nth=0") == "Compliant communities"
    assert "failing" in page.inner_text(f"#{ID.OV_LEGEND}")
    screenshot(page, "overview-en")
    assert page.console.errors == []


def test_profile_switch_changes_counts(page, base_url, provider):
    page.goto(base_url + "/")
    wait_map(page, "overview")
    expected = {p: provider.kpis(p)["fail"] for p in ("national", "hangzhou-2008")}
    assert expected["national"] != expected["hangzhou-2008"]
    note = f"#{ID.OV_KPIS} .gm-kpi-note >> nth=0"
    assert f"不合规 {expected['national']}，" in page.inner_text(note)
    choose(page, ID.PROFILE, "hangzhou-2008")
    page.wait_for_function(
        "(n) => document.querySelector('#ov-kpis .gm-kpi-note').innerText.includes('不合规 ' + n + '，')",
        arg=expected["hangzhou-2008"],
    )
    wait_map(page, "overview", version=2)  # recoloured, not redrawn
    legend = page.inner_text(f"#{ID.OV_LEGEND}")
    assert (
        f"不合规\n{expected['hangzhou-2008']}" in legend
        or f"不合规 {expected['hangzhou-2008']}" in legend
    )
    assert page.console.errors == []


def test_findings_row_click_zooms_the_map(page, base_url, provider):
    page.goto(base_url + "/findings")
    wait_map(page, "findings")
    before = page.evaluate("window.gridmap.state('gm-map-findings').zoom")
    page.wait_for_selector(f"#{ID.FT_TABLE} .ag-row[row-index='0'] .ag-cell[col-id='unit_name']")
    row = page.locator(f"#{ID.FT_TABLE} .ag-center-cols-container .ag-row[row-index='0']")
    name = row.locator(".ag-cell[col-id='unit_name']").inner_text()
    uid = row.locator(".ag-cell[col-id='unit_id']").inner_text()
    row.locator(".ag-cell[col-id='unit_name']").click()
    page.wait_for_function(
        "(u) => document.getElementById('gm-map-findings').dataset.focused === u", arg=uid
    )
    state = page.evaluate("window.gridmap.state('gm-map-findings')")
    assert state["zoom"] > before + 0.5
    w, s, e, n = provider.bounds("community", uid)
    lon, lat = state["center"]
    assert w <= lon <= e and s <= lat <= n
    # the search box filters the table
    page.fill(f"#{ID.FT_SEARCH}", name)
    page.press(f"#{ID.FT_SEARCH}", "Enter")
    page.wait_for_function(
        """(n) => { const cells = [...document.querySelectorAll("#ft-table .ag-center-cols-container .ag-cell[col-id='unit_name']")];
                    return cells.length > 0 && cells.every(td => td.innerText.includes(n)); }""",
        arg=name,
    )
    screenshot(page, "findings")
    # 导出 Excel: the filtered findings as XLSX, named after the study and today
    with page.expect_download(timeout=15_000) as dl:
        page.click(f"#{ID.FT_EXPORT_XLSX}")
    assert dl.value.suggested_filename == export_filename("问题清单", provider.study.name, "xlsx")
    with open(dl.value.path(), "rb") as fh:  # Playwright's file has no .xlsx suffix
        ws = openpyxl.load_workbook(io.BytesIO(fh.read()))["问题清单"]
    assert [c.value for c in ws[1]][:3] == ["层级", "单位编码", "单位名称"]
    names = {r[2] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert names and all(name in str(n) for n in names)
    assert page.console.errors == []


def test_tabs_keep_their_own_profile(browser, base_url, provider):
    """Two tabs of one browser: a profile switch in one does not leak into the other."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    try:
        a, b = context.new_page(), context.new_page()
        fails = {p: provider.kpis(p)["fail"] for p in ("national", "hangzhou-2008")}
        a.goto(base_url + "/")
        wait_map(a, "overview")
        choose(a, ID.PROFILE, "hangzhou-2008")
        a.wait_for_function(
            "(n) => document.querySelector('#ov-kpis .gm-kpi-note').innerText.includes('不合规 ' + n + '，')",
            arg=fails["hangzhou-2008"],
        )
        b.goto(base_url + "/")
        wait_map(b, "overview")
        assert f"不合规 {fails['national']}，" in b.inner_text(
            f"#{ID.OV_KPIS} .gm-kpi-note >> nth=0"
        )
        assert f"不合规 {fails['hangzhou-2008']}，" in a.inner_text(
            f"#{ID.OV_KPIS} .gm-kpi-note >> nth=0"
        )
    finally:
        context.close()


def test_coverage_controls_recompute(page, base_url, provider):
    page.goto(base_url + "/coverage")
    wait_map(page, "coverage")
    n = provider.facility_count("kindergarten")
    choose(page, ID.CV_TYPE, "kindergarten")
    page.wait_for_function(
        "(n) => document.getElementById('cv-n-facilities').innerText === String(n)", arg=n
    )
    _, radius, mode = provider.default_coverage()
    if provider.coverage("kindergarten", radius, mode)["available"]:
        share = page.inner_text("#cv-share")
        other = "直线距离" if mode == "network" else "步行路网"
        page.click(f"#{ID.CV_METHOD} label:has-text('{other}')")
        page.wait_for_function(
            "(s) => document.getElementById('cv-share').innerText !== s", arg=share
        )
    else:
        assert "未计算" in page.inner_text(f"#{ID.CV_NOTE}")
    assert page.console.errors == []
