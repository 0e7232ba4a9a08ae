"""边界调整 Plans page in real headless Chromium: move a grid, KPI, undo/redo, save, reload, load."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboards.ids import ID

from .helpers import SCREENSHOTS, choose, click_map, wait_map

pytestmark = pytest.mark.browser


def _movable_grid(provider):
    """A grid (feature index, id, name) that can move to a neighbouring community, and that community."""
    from dashboards.provider.plan_views import neighbours
    from gridmap.plans import Plan

    plan = Plan.from_check(provider.result())
    ids = provider.ids("grid")
    for i, uid in enumerate(ids):
        for target in neighbours(plan, [uid]):
            if plan.move([uid], target).ok:
                plan.undo()
                return i, uid, str(plan.units.at[uid, "name"]), target, plan.community_name(target)
    raise AssertionError("no movable grid in the demo")


def _kpi(page, key: str) -> str:
    return page.inner_text(f"#pl-kpi-{key}")


def _wait_kpi(page, key: str, value: str) -> None:
    page.wait_for_function(
        "([k, v]) => { const el = document.getElementById('pl-kpi-' + k);"
        " return el && el.innerText === v; }",
        arg=[key, value],
        timeout=15_000,
    )


def _plan_label_of(page, index: int) -> str:
    return page.evaluate(
        "(i) => { const p = window.gridmap.maps['gm-map-plans'].payload; return p.labels[p.c[i]]; }",
        index,
    )


def test_plans_move_undo_redo_save_reload_load(page, base_url, provider, tmp_path):
    old_ws = provider.workspace
    provider.workspace = tmp_path / "plans.gpkg"
    try:
        index, uid, name, target, target_name = _movable_grid(provider)
        page.goto(base_url + "/plans")
        wait_map(page, "plans")
        wait_map(page, "plans-base")
        assert page.inner_text("#nav-plans") == "边界调整"
        assert _kpi(page, "units_moved") == "0"
        in_band = _kpi(page, "in_band")
        assert not _plan_label_of(page, index).startswith(target_name)
        # select the grid on the map: it is outlined and named in the selection box
        point = provider.wgs84("grid").iloc[index].representative_point()
        click_map(page, "plans", (point.x, point.y))
        page.wait_for_function(
            "(n) => document.getElementById('pl-sel-info').innerText.includes(n)", arg=name
        )
        page.wait_for_function(
            "() => document.getElementById('gm-map-plans').dataset.selected === '1'"
        )
        choose(page, ID.PL_MOVE_TO, target)
        page.click(f"#{ID.PL_MOVE}")
        _wait_kpi(page, "units_moved", "1")
        households = provider.result().grids.at[uid, "households"]
        assert _kpi(page, "households_moved") == f"{int(households):,}"
        wait_map(page, "plans", version=2)
        assert _plan_label_of(page, index).startswith(
            target_name
        )  # recoloured: the grid is in its new community
        assert name in page.inner_text(f"#{ID.PL_CHANGES}")
        # the server drops the plan from memory: the tab's draft comes back, and the page says so
        provider.plan_sessions._sessions.clear()
        page.reload()
        wait_map(page, "plans")
        page.wait_for_function(
            "() => document.getElementById('pl-message').innerText.includes('已恢复')"
        )
        _wait_kpi(page, "units_moved", "1")
        # another tab has its own plan
        other = page.context.new_page()
        other.goto(base_url + "/plans")
        wait_map(other, "plans")
        _wait_kpi(other, "units_moved", "0")
        other.close()
        # undo: back to the as-is KPIs; redo: the move again
        page.click(f"#{ID.PL_UNDO}")
        _wait_kpi(page, "units_moved", "0")
        assert _kpi(page, "in_band") == in_band
        page.click(f"#{ID.PL_REDO}")
        _wait_kpi(page, "units_moved", "1")
        # save to the workspace
        page.fill(f"#{ID.PL_NAME}", "浏览器测试方案")
        page.click(f"#{ID.PL_SAVE}")
        page.wait_for_function(
            "() => document.getElementById('pl-message').innerText.includes('浏览器测试方案')"
        )
        click_map(
            page, "plans", (point.x, point.y)
        )  # the moved grid, selected again (outlined) for the screenshot
        page.wait_for_function(
            "() => document.getElementById('gm-map-plans').dataset.selected === '1'"
        )
        page.wait_for_timeout(300)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "plans.png"), full_page=True)
        # a new session (fresh tab storage) starts from the as-is plan; loading the saved plan brings the move back
        page.evaluate("() => window.sessionStorage.clear()")
        page.reload()
        wait_map(page, "plans")
        _wait_kpi(page, "units_moved", "0")
        choose(page, ID.PL_SAVED, "浏览器测试方案")
        page.click(f"#{ID.PL_LOAD}")
        _wait_kpi(page, "units_moved", "1")
        assert name in page.inner_text(f"#{ID.PL_CHANGES}")
        page.wait_for_function(
            "([i, n]) => { const p = window.gridmap.maps['gm-map-plans'].payload;"
            " return p.labels[p.c[i]].startsWith(n); }",
            arg=[index, target_name],
        )
        # exports: the change list (XLSX) and the new boundaries (GeoPackage) download
        with page.expect_download(timeout=15_000) as xlsx:
            page.click(f"#{ID.PL_EXPORT_XLSX}")
        assert xlsx.value.suggested_filename == "浏览器测试方案-changes.xlsx"
        changes = pd.read_excel(xlsx.value.path())
        assert changes.astype(str).iloc[0].tolist()[0] == uid and len(changes) == 1
        with page.expect_download(timeout=15_000) as gpkg:
            page.click(f"#{ID.PL_EXPORT_GPKG}")
        assert gpkg.value.suggested_filename.endswith("-communities.gpkg")
        with open(gpkg.value.path(), "rb") as fh:
            assert fh.read(16) == b"SQLite format 3\x00"
        # a tab id the server did not issue opens nothing: a new session, said in the page
        page.evaluate(
            f"() => window.sessionStorage.setItem('{ID.PL_SESSION}', JSON.stringify('anonymous'))"
        )
        page.reload()
        wait_map(page, "plans")
        page.wait_for_function(
            "() => document.getElementById('pl-message').innerText.includes('会话无效')"
        )
        _wait_kpi(page, "units_moved", "0")
        assert page.console.errors == []
    finally:
        provider.workspace = old_ws
