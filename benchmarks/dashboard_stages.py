"""The first map's stages in headless Chromium, for ``bench_dashboard.py``.

* :func:`settle`: wait, before a navigation, until a freshly opened browser context has done
  its own start-up work (Chromium 15x preloads its UI pages in every new window: about 0.5 s
  of CPU in the first half second, which would otherwise compete with the page measured);
* :func:`painted`: wait until the compliance map drew a given version of its values;
* :func:`stages_of`: the first map's stages, ms from navigation start (see
  ``bench_dashboard.py``'s docstring), and :func:`dominant_step`, the longest step;
* :func:`chromium_cpu_s`: the CPU seconds of this process's Chromium children.
"""

from __future__ import annotations

import time


def painted(page, version: int, timeout: float = 120_000) -> None:
    """Wait until the compliance map's div says it drew values of ``version`` or later."""
    page.wait_for_function(
        "(v) => { const el = document.getElementById('gm-map-map'); return el && Number(el.dataset.painted || 0) >= v; }",
        arg=version,
        timeout=timeout,
    )


def chromium_cpu_s() -> float | None:
    """CPU seconds of this process's Chromium children so far (None without psutil)."""
    try:
        import psutil  # optional (the bench extra): a load-robust figure beside the wall clock
    except ImportError:
        return None
    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            if "chrom" in child.name().lower() or "headless" in child.name().lower():
                t = child.cpu_times()
                total += t.user + t.system
        except psutil.Error:
            continue
    return total


def settle(quiet_s: float = 0.02, step_s: float = 0.1, limit_s: float = 3.0) -> float:
    """Wait until Chromium spends under ``quiet_s`` CPU seconds per ``step_s`` (at most ``limit_s``).

    A planner opens the dashboard in a browser that is already running; a new Playwright
    context is a new window, whose own start-up work (Chromium's UI pages) would run during
    the first map. Returns the seconds waited (0 without psutil: nothing to watch).
    """
    t0 = time.perf_counter()
    before = chromium_cpu_s()
    while before is not None and time.perf_counter() - t0 < limit_s:
        time.sleep(step_s)
        now = chromium_cpu_s()
        if now is None or now - before < quiet_s:
            break
        before = now
    return time.perf_counter() - t0


def stages_of(stats: dict, fetched: list, origin: float, level: str, nav: dict) -> dict:
    """The first map's stages, ms from navigation start (see ``bench_dashboard.py``).

    ``stats``: the map's ``window.gridmap.state(...).stats``; ``fetched``: (url, start,
    timing) of every request of the page; ``origin``: the page's ``performance.timeOrigin``;
    ``nav``: its navigation timing.
    """

    def done(f: tuple) -> float:
        return f[1] + f[2]["responseEnd"] - origin

    def last(urls: list) -> float | None:
        return max((done(f) for f in urls), default=None)

    tiles = [f for f in fetched if f[0].endswith(".pbf")]
    own = [f for f in tiles if f"/{level}/" in f[0]]
    callbacks = sorted(done(f) for f in fetched if "/_dash-update-component" in f[0])
    marks = {
        "html": nav.get("responseEnd"),
        "dom_ready": nav.get("domContentLoadedEventEnd"),
        "map_created": stats.get("created"),
        "map_loaded": stats.get("source_at"),
        "map_in_page": stats.get("adopted_at"),
        "tiles_fetched": last(own),
        "borders_fetched": last([f for f in tiles if f not in own]),
        "tiles_parsed": stats.get("tiles_at"),
        "dash_layout": last([f for f in fetched if "/_dash-layout" in f[0]]),
        "page_callback": callbacks[0] if callbacks else None,
        "revealed": stats.get("revealed_at"),
        "drawn": stats["lastPaint"]["at"],
    }
    return {k: round(v) for k, v in marks.items() if v is not None}


def dominant_step(stages: dict) -> str:
    """The longest step between two successive stages, e.g. ``"map_loaded → tiles_parsed (1,210 ms)"``.

    >>> dominant_step({"dom_ready": 400, "map_loaded": 600, "tiles_parsed": 1800, "drawn": 1850})
    'map_loaded → tiles_parsed (1,200 ms)'
    """
    marks = sorted(stages.items(), key=lambda kv: kv[1])
    steps = [
        (b[1] - a[1], a[0], b[0])
        for a, b in zip([("navigation", 0), *marks[:-1]], marks, strict=True)
    ]
    ms, start, end = max(steps)
    return f"{start} → {end} ({ms:,} ms)"
