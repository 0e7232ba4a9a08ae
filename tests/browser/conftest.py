"""Browser tests: the dashboard on the demo district in real headless Chromium (Playwright).

Registers the ``browser`` marker. Every test here skips with a clear reason when
Playwright or the system Chromium (/usr/bin/chromium, Debian package
``chromium``) is absent; Playwright never downloads a browser.
"""

from __future__ import annotations

import pytest

from .helpers import Console


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: real headless Chromium (skipped when /usr/bin/chromium is absent)"
    )


@pytest.fixture(scope="package")
def _playwright():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="browser tests need playwright (pip install playwright)"
    )
    from dashboards.testing import CHROMIUM, chromium_path

    if chromium_path() is None:
        pytest.skip(
            f"no Chromium at {CHROMIUM}: install the Debian package 'chromium' to run the browser tests"
        )
    with sync_api.sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser(_playwright):
    from dashboards.testing import launch_chromium

    b = launch_chromium(_playwright)
    yield b
    b.close()


@pytest.fixture(scope="package")
def provider():
    from dashboards.provider import DashboardProvider

    return DashboardProvider.from_config(None)


@pytest.fixture(scope="package")
def base_url(provider, browser):
    from dashboards import create_app
    from dashboards.testing import serve_in_thread

    with serve_in_thread(create_app(provider)) as url:
        yield url


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, device_scale_factor=1)
    pg = context.new_page()
    pg.console = Console(pg)
    yield pg
    context.close()
