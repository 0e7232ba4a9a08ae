"""Issue #14's dashboard polish in real headless Chromium: the bundled font, the findings table,
the rebalancer's proposal preview."""

from __future__ import annotations

import pytest

from .helpers import wait_map

pytestmark = pytest.mark.browser


def test_bundled_cjk_font_loads_from_the_dashboard(page, base_url):
    """The page's text is set in the bundled Noto Sans SC subset, fetched from this server."""
    fonts: list[str] = []
    page.on("response", lambda r: fonts.append(r.url) if "/assets/fonts/" in r.url else None)
    page.goto(base_url + "/")
    wait_map(page, "overview")
    page.evaluate("document.fonts.ready")
    loaded = page.evaluate(
        """() => { const out = [];
                   document.fonts.forEach(f => out.push([f.family, f.weight, f.status]));
                   return out; }"""
    )
    assert ['"Gridmap Noto Sans SC"', "400", "loaded"] in [list(x) for x in loaded] or [
        "Gridmap Noto Sans SC",
        "400",
        "loaded",
    ] in [list(x) for x in loaded]
    assert page.evaluate("document.fonts.check('14px \"Gridmap Noto Sans SC\"', '社区网格')")
    family = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert family.startswith('"Gridmap Noto Sans SC"')
    assert any(u.endswith("NotoSansSC-gridmap.ttf") for u in fonts)
    assert page.console.errors == []


def _grid_geometry(page) -> dict:
    return page.evaluate(
        """() => {
          const grid = document.getElementById('ft-table') || document.querySelector('.gm-findings-grid');
          const g = grid.getBoundingClientRect();
          const heads = [...grid.querySelectorAll('.ag-header-cell')].map(h => {
              const r = h.getBoundingClientRect(); return [h.getAttribute('col-id'), r.left, r.right]; });
          const cut = [...grid.querySelectorAll('.ag-cell[col-id="threshold"], .ag-cell[col-id="gap"], .ag-cell[col-id="value"], .ag-cell[col-id="unit_id"]')]
              .filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.innerText);
          const hscroll = grid.querySelector('.ag-body-horizontal-scroll-viewport');
          return {left: g.left, right: g.right, bottom: g.bottom, height: g.height,
                  vh: window.innerHeight, heads, cut,
                  overflow: hscroll ? hscroll.scrollWidth - hscroll.clientWidth : 0,
                  rows: grid.querySelectorAll('.ag-center-cols-container .ag-row').length}; }"""
    )


def test_findings_table_fits_and_fills_the_page(page, base_url):
    """Every column (缺口 too) within the grid, no cut numbers, the grid down to the window's foot."""
    from dashboards.ids import ID

    from .helpers import choose

    page.goto(base_url + "/findings")
    wait_map(page, "findings")
    page.wait_for_selector(".ag-center-cols-container .ag-row")
    page.wait_for_timeout(400)
    geo = _grid_geometry(page)
    assert geo["bottom"] >= geo["vh"] - 40 and geo["height"] >= 0.6 * geo["vh"], geo
    heads = {col: (left, right) for col, left, right in geo["heads"]}
    assert {"gap", "threshold", "source"} <= set(heads)
    assert all(geo["left"] - 1 <= a and b <= geo["right"] + 1 for a, b in heads.values()), geo
    assert geo["overflow"] <= 1 and geo["cut"] == [], geo
    assert geo["rows"] > 11  # more than the fixed-height table showed
    choose(page, ID.FT_LEVEL, "grid")  # 15-digit grid codes fit too
    page.wait_for_function(
        "() => { const c = document.querySelector("
        "'.ag-center-cols-container .ag-cell[col-id=\"unit_id\"]');"
        " return c && c.innerText.length >= 15; }"
    )
    assert _grid_geometry(page)["cut"] == []
    # a narrower window still keeps every column on screen
    page.set_viewport_size({"width": 1280, "height": 760})
    page.wait_for_timeout(600)
    geo = _grid_geometry(page)
    assert all(r <= geo["right"] + 1 for _, _, r in geo["heads"]) and geo["cut"] == [], geo
    assert geo["bottom"] >= geo["vh"] - 40
    assert page.console.errors == []


def test_findings_search_is_live(page, base_url, provider):
    """Typing filters the table without Enter."""
    from dashboards.ids import ID

    page.goto(base_url + "/findings")
    wait_map(page, "findings")
    page.wait_for_selector(".ag-center-cols-container .ag-row")
    before = page.inner_text(f"#{ID.FT_COUNT}")
    name = provider.unit_detail("community", provider.ids("community")[0])["name"]
    page.click(f"#{ID.FT_SEARCH}")
    page.keyboard.type(name, delay=30)
    page.wait_for_function(  # no Enter: the table follows the typing
        """(name) => { const cells = [...document.querySelectorAll(
                           '.ag-center-cols-container .ag-cell[col-id="unit_name"]')];
                       return cells.length > 0 && cells.every(c => c.innerText.includes(name)); }""",
        arg=name,
        timeout=15000,
    )
    assert page.inner_text(f"#{ID.FT_COUNT}") != before
    assert page.console.errors == []


def test_rebalancer_proposal_previewed_before_apply(page, base_url, provider):
    """计算: the map shows the proposal (moved grids outlined) and its change list; 应用 takes it."""
    from dashboards.ids import ID

    page.goto(base_url + "/plans")
    wait_map(page, "plans")
    assert page.inner_text("#pl-kpi-units_moved") == "0"
    page.fill(f"#{ID.PL_RB_TIME}", "5")
    page.click(f"#{ID.PL_RB_RUN}")
    page.wait_for_selector("#pl-proposal-table", timeout=120_000)
    wait_map(page, "plans", version=2)
    page.wait_for_function(
        "() => Number(document.getElementById('gm-map-plans').dataset.highlighted || 0) > 0"
    )
    moved = int(page.evaluate("document.getElementById('gm-map-plans').dataset.highlighted"))
    rows = page.locator("#pl-proposal-table tbody tr").count()
    assert rows == moved > 0
    note = page.inner_text("#pl-proposal-note")
    assert f"移动 {moved} 个网格" in note and "尚未应用" in note
    result = page.inner_text(f"#{ID.PL_RB_RESULT}")
    assert "结果：" in result and "feasible" not in result and "fixed" not in result
    # nothing applied yet: the plan's KPIs and journal are unchanged, the map shows the proposal
    assert page.inner_text("#pl-kpi-units_moved") == "0"
    version = page.evaluate("window.gridmap.maps['gm-map-plans'].payload.version")
    assert version.endswith("|proposal")
    first = page.locator("#pl-proposal-table tbody tr").first.locator("td").all_inner_texts()
    page.click(f"#{ID.PL_RB_APPLY}")
    page.wait_for_function(
        "(n) => document.getElementById('pl-kpi-units_moved').innerText === String(n)",
        arg=moved,
        timeout=30_000,
    )
    page.wait_for_function("() => !document.getElementById('pl-proposal-table')")
    page.wait_for_function(
        "() => document.getElementById('gm-map-plans').dataset.highlighted === '0'"
    )
    assert first[0] in page.inner_text("#pl-changes-table")
    assert page.console.errors == []


def test_community_borders_drawn_heavier_than_grid_lines(page, base_url, provider):
    """The compliance map at grid level and the plans map draw the community borders as a line."""
    from dashboards.ids import ID

    page.goto(base_url + "/map")
    wait_map(page, "map")
    page.click(f"#{ID.CM_LEVEL} input[value='grid']")
    wait_map(page, "map", version=2)
    page.wait_for_function("() => window.gridmap.state('gm-map-map').borders > 0")
    state = page.evaluate("window.gridmap.state('gm-map-map')")
    assert state["bordersVisible"] and state["borders"] == len(provider.ids("community"))
    assert state["level"] == "grid"
    width = page.evaluate(
        "window.gridmap.maps['gm-map-map'].map.getPaintProperty('borders', 'line-width')"
    )
    assert width[0] == "interpolate" and min(width[4], width[6]) > 1  # grid lines are 1 px
    order = page.evaluate("window.gridmap.maps['gm-map-map'].map.getStyle().layers.map(l => l.id)")
    assert order.index("borders") > order.index("units-fill")
    page.goto(base_url + "/plans")
    wait_map(page, "plans")
    page.wait_for_function("() => window.gridmap.state('gm-map-plans').borders > 0")
    assert page.console.errors == []


def test_closed_tabs_draft_taken_over_in_another_tab(browser, base_url, provider, tmp_path):
    """Tab 1 applies the rebalancer and is closed; tab 2 lists its draft and takes it over."""
    from dashboards.ids import ID

    from .helpers import Console

    old_ws = provider.workspace
    provider.workspace = tmp_path / "plans.gpkg"
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        first = context.new_page()
        first.goto(base_url + "/plans")
        wait_map(first, "plans")
        first.fill(f"#{ID.PL_RB_TIME}", "2")
        first.click(f"#{ID.PL_RB_RUN}")
        first.wait_for_selector("#pl-proposal-table", timeout=120_000)
        first.click(f"#{ID.PL_RB_APPLY}")
        first.wait_for_function(
            "() => document.getElementById('pl-kpi-units_moved').innerText !== '0'"
        )
        moved = first.inner_text("#pl-kpi-units_moved")
        first.close()
        second = context.new_page()
        second.console = Console(second)
        second.goto(base_url + "/plans")
        wait_map(second, "plans")
        assert second.inner_text("#pl-kpi-units_moved") == "0"
        second.click(f"#{ID.PL_DRAFTS}")
        second.wait_for_selector(".dash-dropdown-option")
        option = second.locator(".dash-dropdown-option").first
        assert "步未保存" in option.inner_text()
        option.click()
        second.click(f"#{ID.PL_TAKEOVER}")
        second.wait_for_function(
            "(n) => document.getElementById('pl-kpi-units_moved').innerText === n", arg=moved
        )
        note = second.inner_text(f"#{ID.PL_MESSAGE}")
        assert "已接管另一个标签页的草稿" in note
        assert second.console.errors == []
    finally:
        context.close()
        provider.workspace = old_ws
