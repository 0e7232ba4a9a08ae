"""预测与对比 Forecast & compare in real headless Chromium: the year slider recolours the map."""

from __future__ import annotations

import pytest

from dashboards.ids import ID

from .helpers import SCREENSHOTS, choose, wait_map

pytestmark = pytest.mark.browser

SLOW = 180_000  # the forecast (one check per year) is computed on the first visit


def colors(page) -> list[str]:
    return page.evaluate("window.gridmap.maps['gm-map-changes'].painted.colors")


def test_year_slider_recolours_the_map_and_changes_the_list(page, base_url, provider):
    years = provider.changes.years()
    page.goto(base_url + "/changes")
    wait_map(page, "changes", timeout=SLOW)
    assert page.inner_text("#nav-changes") == "预测与对比"
    today = colors(page)
    assert len(today) == len(provider.ids("community"))
    assert str(years[0]) in page.inner_text(f"#{ID.CH_HEADLINE}")
    # move the slider to the first year in which a community's status changes
    base = provider.changes.forecast_values(years[0]).classes
    target = next(
        y for y in years[1:] if (provider.changes.forecast_values(y).classes != base).any()
    )
    thumb = page.locator(f"#{ID.CH_YEAR} [role=slider]").first
    thumb.focus()
    for _ in range(years.index(target)):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([id, y]) => document.getElementById(id).innerText.includes(String(y))",
        arg=[ID.CH_HEADLINE, target],
        timeout=SLOW,
    )
    wait_map(page, "changes", version=2, timeout=SLOW)
    later = colors(page)
    expected = provider.changes.forecast_values(target)
    palette = expected.palette
    assert later == [palette[c] if c >= 0 else "#e0e0e0" for c in expected.classes]
    assert later != today  # recoloured: a community leaves the band
    new = provider.changes.forecast_violations(target)
    rows = page.locator("#ch-violations tbody tr")
    assert rows.count() == len(new) > 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)  # the README's picture of the forecast page
    page.screenshot(path=str(SCREENSHOTS / "changes.png"))
    assert set(page.locator("#ch-violations tbody tr td:nth-child(2)").all_inner_texts()) == set(
        new["unit_id"]
    )
    # English switch: the page is drawn again in English (from today)
    page.click("#gm-lang input[value=en]")
    page.wait_for_function(
        "(id) => document.getElementById(id).innerText.startsWith('Rules failing in')",
        arg=ID.CH_HEADLINE,
        timeout=SLOW,
    )
    assert page.inner_text("#nav-changes") == "Forecast & compare"
    assert page.console.errors == []


def test_compare_mode_colours_units_by_change(page, base_url, provider):
    target = provider.changes.targets()[-1]["value"]
    page.goto(base_url + "/changes")
    wait_map(page, "changes", timeout=SLOW)
    page.click(f"#{ID.CH_MODE} input[value=compare]")
    choose(page, ID.CH_TARGET, target)
    c = provider.changes.comparison(target)
    # the table of the chosen target: an earlier one (the default target's) may still be shown
    page.wait_for_function(
        "(n) => document.querySelectorAll('#ch-changes tbody tr').length === n",
        arg=len(c.changed()),
        timeout=SLOW,
    )
    level = "grid" if provider.has_level("grid") else "community"
    page.wait_for_function(
        "(n) => { const st = window.gridmap.maps['gm-map-changes'];"
        " return st && st.painted && st.painted.colors.length === n; }",
        arg=len(provider.ids(level)),
        timeout=SLOW,
    )
    page.screenshot(path=str(SCREENSHOTS / "compare.png"))  # the README's picture of compare mode
    assert page.console.errors == []


def test_profile_dropdown_reforecasts_with_that_profiles_band(page, base_url, provider):
    """The forecast uses the profile chosen at the top: hangzhou-2008's band starts at 1,500 户."""
    years = provider.changes.years()
    page.goto(base_url + "/changes")
    wait_map(page, "changes", timeout=SLOW)
    assert "1,000–3,000" in page.inner_text("#ch-figures")
    choose(page, ID.PROFILE, "hangzhou-2008")
    page.wait_for_function(
        "() => document.getElementById('ch-figures').innerText.includes('1,500–3,000')",
        timeout=SLOW,
    )
    wait_map(page, "changes", version=2, timeout=SLOW)
    expected = provider.changes.forecast_values(years[0], "zh", "hangzhou-2008")
    national = provider.changes.forecast_values(years[0], "zh", "national")
    assert (expected.classes != national.classes).any()
    palette = expected.palette
    assert colors(page) == [palette[c] if c >= 0 else "#e0e0e0" for c in expected.classes]
    counts = provider.changes.forecast_counts("hangzhou-2008").set_index("year")
    assert f"{int(counts.loc[years[0], 'fail']):,}" in page.inner_text("#ch-figures")
    assert page.console.errors == []
