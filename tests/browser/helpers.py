"""Helpers of the browser tests (kept out of conftest.py so nothing imports a conftest)."""

from __future__ import annotations

from pathlib import Path

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


class Console:
    """Console errors, uncaught exceptions and requests leaving this machine, of one page."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.on(
            "console",
            lambda m: (
                self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None
            ),
        )
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("request", self._request)

    def _request(self, req) -> None:
        url = req.url
        if not url.startswith(("http://127.0.0.1", "data:", "blob:", "about:")):
            self.errors.append(f"external request (must work offline): {url}")


def wait_map(page, key: str, *, version: int = 1, timeout: float = 20_000) -> None:
    """Wait until the map of page ``key`` has drawn its values at least ``version`` times."""
    page.wait_for_function(
        """([id, v]) => { const el = document.getElementById(id);
                          return el && Number(el.dataset.painted || 0) >= v; }""",
        arg=[f"gm-map-{key}", version],
        timeout=timeout,
    )


def choose(page, dropdown_id: str, value: str) -> None:
    """Pick ``value`` in a Dash dropdown."""
    page.click(f"#{dropdown_id}")
    page.click(f'.dash-dropdown-option:has(input[value="{value}"])')


def click_map(page, key: str, lonlat) -> None:
    """Hover then click the map ``gm-map-{key}`` at a lon/lat (hover first so MapLibre sees the pointer)."""
    box = page.locator(f"#gm-map-{key}").bounding_box()
    pt = page.evaluate(f"(ll) => window.gridmap.maps['gm-map-{key}'].map.project(ll)", list(lonlat))
    x, y = box["x"] + pt["x"], box["y"] + pt["y"]
    page.mouse.move(x - 3, y)
    page.mouse.move(x, y)
    page.mouse.click(x, y)
