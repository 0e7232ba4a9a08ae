"""Benchmark: the dashboard's map in headless Chromium on a synthetic city, against plotly ``Choroplethmap``.

City: ``benchmarks/bench_check.py``'s generator at ~5 k communities, each split
into 10 grids (~50 k grids), with building points. The study is read and checked
once (timed, like ``gridmap serve`` does before it listens), then, in the system
Chromium (software WebGL, SwiftShader), for communities and for grids:

* **first map**: a fresh tab opens ``/map?level=…``; time from navigation start
  until MapLibre is idle with the values drawn (Dash boot, callbacks, geometry
  download and parse, tiling, first frame);
* **recolour**: pick another "colour by" (a rule, a metric, back to status) in
  the dropdown; time from the click until the map is idle with the new colours
  (Dash round trip + feature-state + repaint). Median of the switches; the
  browser-only part (values received → idle) is reported too;
* **plotly baseline**: the same GeoJSON and values in a plotly ``choroplethmap``
  (``map_style="white-bg"``, the only style that draws offline): ``newPlot``
  until its map is idle, and ``restyle`` of ``z`` until idle.

    python benchmarks/bench_dashboard.py [--communities 5000] [--workdir /tmp/gridmap-bench] [--json]
"""

from __future__ import annotations

import argparse
import json
import runpy
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PLOTLY_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<script src="/_dash-component-suites/plotly/package_data/plotly.min.js"></script></head>
<body style="margin:0"><div id="g" style="width:1100px;height:760px"></div><script>
window.bench = {};
function idle(gd) {
  const sub = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
  const m = sub && sub.map;
  return new Promise(function (res) {
    if (!m) { requestAnimationFrame(function () { requestAnimationFrame(res); }); return; }
    if (!m.isMoving() && m.loaded() && m.areTilesLoaded()) { m.once("idle", res); m.triggerRepaint(); }
    else { m.once("idle", res); }
  });
}
Promise.all([fetch("GEO").then(r => r.json()), fetch("VALUES").then(r => r.json())]).then(function ([geo, vals]) {
  const ids = geo.features.map(f => f.id);
  const gd = document.getElementById("g");
  const t0 = performance.now();
  window.bench.fetched = t0;
  Plotly.newPlot(gd, [{type: "choroplethmap", geojson: geo, locations: ids, featureidkey: "id", z: vals.a,
                       colorscale: "Reds", marker: {line: {width: 0.3, color: "#fff"}}}],
                 {map: {style: "white-bg", center: {lon: vals.center[0], lat: vals.center[1]}, zoom: vals.zoom},
                  margin: {l: 0, r: 0, t: 0, b: 0}}, {displayModeBar: false})
    .then(() => idle(gd)).then(function () {
      window.bench.first = performance.now();
      window.bench.first_from_data = performance.now() - t0;
      window.bench.recolour = function (key) {
        const t1 = performance.now();
        return Plotly.restyle(gd, {z: [vals[key]]}).then(() => idle(gd)).then(() => performance.now() - t1);
      };
    });
});
</script></body></html>"""


def build(workdir: Path, communities: int) -> Path:
    bench_check = runpy.run_path(str(ROOT / "benchmarks" / "bench_check.py"))
    scale = communities / 6000
    path = workdir / f"dash_city_{communities}.gpkg"
    if not path.exists():
        workdir.mkdir(parents=True, exist_ok=True)
        info = bench_check["build_city"](path, scale)
        print(f"built {path}: {info}", file=sys.stderr)
    return path


def prepare(path: Path):
    import gridmap
    from dashboards.provider import DashboardProvider

    t0 = time.perf_counter()
    study = gridmap.read_study(
        f"{path}:社区", grids=f"{path}:网格", households=f"{path}:楼栋", name="bench city"
    )
    t_read = time.perf_counter() - t0
    provider = DashboardProvider(study)
    provider.result()
    t_check = time.perf_counter() - t0 - t_read
    t1 = time.perf_counter()
    sizes = {level: len(provider.geojson(level)) for level in ("community", "grid")}
    t_geo = time.perf_counter() - t1
    return provider, {
        "read_s": t_read,
        "check_s": t_check,
        "geojson_s": t_geo,
        "geojson_gzip_bytes": sizes,
    }


def add_plotly_routes(app, provider) -> None:
    from flask import Response

    cache: dict[str, bytes] = {}

    @app.server.route("/_bench/plotly/<level>")
    def _plotly(level):
        page = PLOTLY_PAGE.replace("GEO", f"/_gridmap/geo/{provider.key}/{level}.geojson")
        return Response(
            page.replace("VALUES", f"/_bench/values/{level}.json"), mimetype="text/html"
        )

    @app.server.route("/_bench/values/<level>.json")
    def _values(level):
        if level not in cache:
            rule = "rule:community.size" if level == "community" else "rule:grid.coordinators"
            w, s, e, n = provider.bounds(level)
            import math

            zoom = math.log2(360 / max(e - w, 1e-9) * 1100 / 512) - 0.3
            cache[level] = json.dumps(
                {
                    "a": provider.map_values(level, "status").classes.tolist(),
                    "b": provider.map_values(level, rule).classes.tolist(),
                    "center": [(w + e) / 2, (s + n) / 2],
                    "zoom": zoom,
                }
            ).encode()
        return Response(cache[level], mimetype="application/json")


def _painted(page, version: int, timeout: float = 120_000) -> None:
    page.wait_for_function(
        "(v) => { const el = document.getElementById('gm-map-map'); return el && Number(el.dataset.painted || 0) >= v; }",
        arg=version,
        timeout=timeout,
    )


def measure_maplibre(browser, url: str, level: str, modes: list[str]) -> dict:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    t0 = time.perf_counter()
    page.goto(f"{url}/map?level={level}")
    _painted(page, 1)
    wall = time.perf_counter() - t0
    st = page.evaluate("window.gridmap.state('gm-map-map')")
    first_ms = st["stats"]["lastPaint"]["at"]
    breakdown = {
        k: round(st["stats"][k])
        for k in ("values_at", "geometry_at", "source_at", "tiles_at")
        if st["stats"].get(k) is not None
    }
    features = page.evaluate("window.gridmap.featureCount('gm-map-map')")
    recolours, browser_only = [], []
    version = st["version"]
    for mode in modes:
        page.click("#cm-color-by")
        t_click = page.evaluate("performance.now()")
        page.click(f'.dash-dropdown-option:has(input[value="{mode}"])')
        version += 1
        _painted(page, version)
        last = page.evaluate("window.gridmap.state('gm-map-map').stats.lastPaint")
        recolours.append(last["at"] - t_click)
        browser_only.append(last["idle_ms"])
    ctx.close()
    return {
        "features": features,
        "first_map_ms": first_ms,
        "first_map_wall_s": wall,
        "first_map_marks_ms": breakdown,
        "recolour_ms": recolours,
        "recolour_median_ms": statistics.median(recolours),
        "recolour_browser_only_median_ms": statistics.median(browser_only),
        "console_errors": errors,
    }


def measure_plotly(browser, url: str, level: str, repeats: int = 2) -> dict:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{url}/_bench/plotly/{level}")
    page.wait_for_function("() => window.bench && window.bench.first", timeout=300_000)
    first = page.evaluate("window.bench")
    times = []
    for i in range(repeats):
        times.append(page.evaluate(f"window.bench.recolour('{'b' if i % 2 == 0 else 'a'}')"))
    ctx.close()
    return {
        "first_map_ms": first["first"],
        "first_from_data_ms": first["first_from_data"],
        "recolour_ms": times,
        "recolour_median_ms": statistics.median(times),
        "console_errors": errors,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--communities", type=int, default=5000)
    ap.add_argument("--workdir", default="/tmp/gridmap-bench")
    ap.add_argument("--no-plotly", action="store_true", help="skip the plotly baseline")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    from dashboards import create_app
    from dashboards.testing import launch_chromium, serve_in_thread

    path = build(Path(args.workdir), args.communities)
    provider, prep = prepare(path)
    n = {lv: len(provider.ids(lv)) for lv in ("community", "grid")}
    print(
        f"study: {n['community']:,} communities, {n['grid']:,} grids; read {prep['read_s']:.1f} s, "
        f"check {prep['check_s']:.1f} s, GeoJSON {prep['geojson_s']:.1f} s "
        f"({ {k: f'{v / 1e6:.1f} MB' for k, v in prep['geojson_gzip_bytes'].items()} } gzip)",
        file=sys.stderr,
    )
    app = create_app(provider)
    add_plotly_routes(app, provider)
    modes = {
        "community": ["rule:community.size", "metric:households", "status"],
        "grid": ["rule:grid.coordinators", "metric:coordinator_gap", "status"],
    }
    out = {"study": n, "prepare": prep, "maplibre": {}, "plotly": {}}
    with serve_in_thread(app) as url, sync_playwright() as pw:
        browser = launch_chromium(pw)
        for level in ("community", "grid"):
            out["maplibre"][level] = r = measure_maplibre(browser, url, level, modes[level])
            print(
                f"MapLibre {level:9} {r['features']:>6,} features: first map {r['first_map_ms'] / 1000:.2f} s, "
                f"recolour median {r['recolour_median_ms']:.0f} ms (browser only {r['recolour_browser_only_median_ms']:.0f} ms) "
                f"{[round(x) for x in r['recolour_ms']]}; first-map marks {r['first_map_marks_ms']}",
                file=sys.stderr,
            )
            if not args.no_plotly:
                out["plotly"][level] = p = measure_plotly(browser, url, level)
                print(
                    f"plotly   {level:9}: first map {p['first_map_ms'] / 1000:.2f} s, recolour median "
                    f"{p['recolour_median_ms']:.0f} ms {[round(x) for x in p['recolour_ms']]}",
                    file=sys.stderr,
                )
        browser.close()
    if args.json:
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
