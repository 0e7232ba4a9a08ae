"""Logging in to a shared dashboard in real headless Chromium: login page, overview, logout.

The dashboard runs on waitress on 127.0.0.1, hardened by :func:`dashboards.server.protect`
(CSP, Host allow-list) with one editor account in a temporary workspace; the page must load
with no console error under that Content-Security-Policy.
"""

from __future__ import annotations

import pytest

from dashboards.auth import COOKIE, AccountStore, Gate, SessionStore
from dashboards.server import ServeSettings, protect
from dashboards.testing import waitress_in_thread

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def shared_url(browser, tmp_path_factory):
    pytest.importorskip("waitress")
    from dashboards import create_app
    from dashboards.provider import DashboardProvider

    ws = tmp_path_factory.mktemp("login") / "plans.gpkg"
    accounts = AccountStore(ws)
    accounts.add("张编辑", PASSWORD, role="editor")
    app = create_app(DashboardProvider.from_config(None, workspace=ws))
    settings = ServeSettings()
    protect(app, settings, Gate(settings.auth, accounts, SessionStore()))
    with waitress_in_thread(app, threads=4) as url:
        yield url


def test_login_overview_logout(page, shared_url):
    page.goto(shared_url + "/map")
    assert "/_gridmap/login" in page.url
    assert page.inner_text("h1") == "网格化管理 合规地图"
    page.click("text=English")
    assert page.inner_text("button[type=submit]") == "Log in"
    page.fill("#name", "张编辑")
    page.fill("#password", "wrong password")
    page.click("button[type=submit]")
    assert "Wrong account name or password" in page.inner_text("[role=alert]")
    page.fill("#name", "张编辑")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(shared_url + "/map")
    page.goto(shared_url + "/")
    page.wait_for_selector("#ov-kpis .gm-kpi", timeout=30_000)
    page.wait_for_selector("#gm-logout", timeout=15_000)
    assert "张编辑" in page.inner_text("#gm-user")
    cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.console.errors == []  # nothing blocked by the CSP, nothing failed
    # the session ends behind the page's back (expiry, restart): the next callback answers 401
    # and the page goes to the login page, which brings the planner back to the page afterwards
    token = cookie["value"]
    page.context.clear_cookies()
    page.click("a[href='/map']")
    page.wait_for_url("**/_gridmap/login?next=%2Fmap", timeout=15_000)
    page.context.add_cookies([{**cookie, "value": token}])
    page.goto(shared_url + "/")
    page.wait_for_selector("#gm-logout", timeout=15_000)
    page.click("#gm-logout")
    page.wait_for_url("**/_gridmap/login**")
    assert "已退出登录" in page.inner_text("[role=alert]")
    page.goto(shared_url + "/")
    assert "/_gridmap/login" in page.url
