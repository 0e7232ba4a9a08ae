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
