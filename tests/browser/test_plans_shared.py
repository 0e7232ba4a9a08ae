"""Two planners on one saved plan in real headless Chromium: news of the other's save, merge, reload.

Two browser contexts (two planners' browsers) open the same saved plan. Each moves a different
grid; B saves first (a GeoPackage workspace, then a PostGIS one). A's page tells A (polled) and offers 重新载入 / 合并我的修改: A merges, so
both moves are in A's plan, and saves without a conflict; then B is told and reloads A's plan.
"""

from __future__ import annotations

import pytest

from dashboards.ids import ID

from .helpers import choose, click_map, wait_map

pytestmark = pytest.mark.browser


def _two_movable_grids(provider) -> list[tuple[int, str, str]]:
    """Two grids (feature index, id, target) in different communities, each movable alone."""
    from dashboards.provider.plan_views import neighbours
    from gridmap.plans import Plan

    plan = Plan.from_check(provider.result())
    found: list[tuple[int, str, str]] = []
    used: set[str] = set()
    for i, uid in enumerate(provider.ids("grid")):
        home = str(plan.labels[uid])
        if home in used:
            continue
        for target in neighbours(plan, [uid]):
            if target not in used and plan.move([uid], target).ok:
                plan.undo()
                found.append((i, uid, target))
                used |= {home, str(target)}
                break
        if len(found) == 2:
            return found
    raise AssertionError("no two movable grids in different communities in the demo")


def _wait_text(page, element: str, text: str, timeout: float = 20_000) -> None:
    page.wait_for_function(
        "([id, t]) => { const el = document.getElementById(id); "
        "return el && el.innerText.includes(t); }",
        arg=[element, text],
        timeout=timeout,
    )


def _wait_kpi(page, key: str, value: str) -> None:
    _wait_text(page, f"pl-kpi-{key}", value)


def _news_shown(page, shown: bool, timeout: float = 20_000) -> None:
    page.wait_for_function(
        "(s) => { const el = document.getElementById('pl-news');"
        " return el && (getComputedStyle(el).display !== 'none') === s; }",
        arg=shown,
        timeout=timeout,
    )


def _open(browser, base_url: str, plan: str):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base_url + "/plans")
    wait_map(page, "plans")
    choose(page, ID.PL_SAVED, plan)
    page.click(f"#{ID.PL_LOAD}")
    _wait_text(page, ID.PL_MESSAGE, "已载入方案")
    return context, page, errors


def _move(page, provider, index: int, target: str) -> None:
    point = provider.wgs84("grid").iloc[index].representative_point()
    click_map(page, "plans", (point.x, point.y))
    page.wait_for_function("() => document.getElementById('gm-map-plans').dataset.selected === '1'")
    choose(page, ID.PL_MOVE_TO, target)
    page.click(f"#{ID.PL_MOVE}")
    _wait_kpi(page, "units_moved", "1")


def test_two_planners_are_told_and_merge_or_reload(browser, base_url, provider, workspace):
    """On a GeoPackage and on PostGIS (the ``workspace`` fixture)."""
    from gridmap.plans import Plan, load_plan

    old_ws = provider.workspace
    provider.workspace = workspace
    contexts = []
    try:
        Plan.from_check(provider.result(), name="共享方案").save(provider.workspace)
        (ia, ua, ta), (ib, ub, tb) = _two_movable_grids(provider)
        ctx_a, a, errors_a = _open(browser, base_url, "共享方案")
        ctx_b, b, errors_b = _open(browser, base_url, "共享方案")
        contexts = [ctx_a, ctx_b]
        _move(a, provider, ia, ta)
        _move(b, provider, ib, tb)
        b.click(f"#{ID.PL_SAVE}")
        _wait_text(b, ID.PL_MESSAGE, "已保存")
        # A is told (polled), without touching anything
        _news_shown(a, True)
        assert "共享方案" in a.inner_text(f"#{ID.PL_NEWS_TEXT}")
        assert "合并我的修改" in a.inner_text(f"#{ID.PL_NEWS}")
        # A merges: B's move under A's, then saves without a conflict
        a.click(f"#{ID.PL_REBASE}")
        _wait_text(a, ID.PL_MESSAGE, "已合并")
        _wait_kpi(a, "units_moved", "2")
        _news_shown(a, False)
        a.click(f"#{ID.PL_SAVE}")
        _wait_text(a, ID.PL_MESSAGE, "已保存")
        saved = load_plan(provider.workspace, "共享方案")
        assert saved.labels[ua] == ta and saved.labels[ub] == tb
        # B is told of A's save and reloads it
        _news_shown(b, True)
        b.click(f"#{ID.PL_RELOAD}")
        _wait_text(b, ID.PL_MESSAGE, "已载入方案")
        _wait_kpi(b, "units_moved", "2")
        _news_shown(b, False)
        assert errors_a == [] and errors_b == []
    finally:
        for context in contexts:
            context.close()
        provider.workspace = old_ws
