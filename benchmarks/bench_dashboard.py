"""Benchmark: the dashboard's map in headless Chromium on a synthetic city, against plotly ``Choroplethmap``.

City: ``benchmarks/bench_check.py``'s generator at ~5 k communities, each split
into 10 grids (~50 k grids), with building points. The study is read and checked
once and the map's vector tile sets made (timed, like ``gridmap serve`` does before it
listens), then, in the system Chromium (software WebGL, SwiftShader), for communities
and for grids:

* **first map**: a fresh tab opens (and Chromium is left to finish the new window's own
  start-up work, :func:`dashboard_stages.settle`, as in a browser the planner already has
  open), then ``/map?level=…``; time from navigation start
  until MapLibre is idle with the values drawn (Dash boot, the page's layout with the
  map's first values, the tiles of the full extent fetched and parsed, coloured by
  feature state, first frame). The tiles are **warm** (encoded before the server listens,
  as ``gridmap serve`` does); ``first_map_cold_ms`` is the grids' first map on a fresh app
  that did not warm: its tiles are being made in the background since it loaded the study
  (:meth:`dashboards.tiles.StudyTiles.start`) as the page loads. Stages (ms from navigation
  start, ``first_map_stages_ms``): ``html`` (the index page received), ``dom_ready`` (the
  index and its scripts loaded: DOMContentLoaded), ``dash_layout`` (Dash's
  layout answered), ``page_callback`` (the page with the map's first values answered),
  ``map_created`` (the MapLibre map made: on the compliance map, with the index page, from the
  first values it carries, before Dash boots), ``map_loaded`` (style and WebGL ready, the
  level's source added in its first colours), ``map_in_page`` (Dash rendered the page and the
  map moved into its div; a map made by the page itself is there from the start), ``tiles_fetched`` (last tile
  response of the level; ``borders_fetched``: of the communities' border lines drawn over it),
  ``tiles_parsed`` (every tile of the view parsed on MapLibre's workers), ``revealed`` (the
  units and borders made visible: they are drawn in one frame once every tile is in),
  ``drawn`` (idle, coloured). ``first_map_dominant`` names the longest step between two
  successive stages (what to shorten first). Also the bytes of the tiles as transferred
  (gzip) and, with psutil, the CPU seconds Chromium spent (all its processes: a figure
  less sensitive to other load than the wall clock). ``load_average`` is the machine's
  1/5/15-minute load at the start and end of the browser runs (above ~1.5 on 2 cores, other
  work shares the machine: timings are upper bounds);
* **recolour**: pick another "colour by" (a rule, a metric, back to status) in
  the dropdown; time from the click until the map is idle with the new colours
  (Dash round trip + feature-state + repaint). Median of the switches; the
  browser-only part (values received → idle) is reported too;
* **plotly baseline**: the same GeoJSON and values in a plotly ``choroplethmap``
  (``map_style="white-bg"``, the only style that draws offline): ``newPlot``
  until its map is idle, and ``restyle`` of ``z`` until idle.

**National** (``--national FOLDER``, a ``gridmap check --engine dask`` output, or
``--national-communities N`` to generate one with ``benchmarks/national_data.py`` and check
it on one machine): opening it twice (cold: the tile set made from the result and stored in
``national/.tiles/``; warm: read from there), the 全国 page at full extent (district roll-ups),
then zoomed to grids (zoom 13), then a recolour (households) at that zoom;
:func:`measure_national` is the entry point for ``bench_national.py``.

    python benchmarks/bench_dashboard.py [--communities 5000] [--workdir /tmp/gridmap-bench] [--json]
    python benchmarks/bench_dashboard.py --national FOLDER [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "benchmarks"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from dashboard_stages import chromium_cpu_s, dominant_step, painted, settle, stages_of  # noqa: E402

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
    return provider, {"read_s": t_read, "check_s": t_check}


def warm_tiles(app) -> dict:
    """Make the map's tile sets and the whole study's tiles (:meth:`StudyTiles.warm`).

    As ``gridmap serve`` prepares the map before it listens.
    """
    t0 = time.perf_counter()
    n = app.server.extensions["gridmap_study_tiles"].warm()
    return {"tiles_s": time.perf_counter() - t0, "tiles_warmed": n}


def warm_geojson(provider) -> dict:
    """The GeoJSON the plotly baseline draws (made before its timing starts)."""
    t0 = time.perf_counter()
    sizes = {level: len(provider.geojson(level)) for level in ("community", "grid")}
    return {"geojson_s": time.perf_counter() - t0, "geojson_gzip_bytes": sizes}


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


def measure_maplibre(browser, url: str, level: str, modes: list[str]) -> dict:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    requests: list = []  # the tiles are fetched on MapLibre's workers, reported to the page
    page.on("requestfinished", lambda r: requests.append(r))
    settle()
    cpu0 = chromium_cpu_s()
    t0 = time.perf_counter()
    page.goto(f"{url}/map?level={level}")
    painted(page, 1)
    wall = time.perf_counter() - t0
    cpu1 = chromium_cpu_s()
    st = page.evaluate("window.gridmap.state('gm-map-map')")
    first_ms = st["stats"]["lastPaint"]["at"]
    origin = page.evaluate("performance.timeOrigin")
    nav = page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
    fetched = [(r.url, r.timing["startTime"], r.timing) for r in requests]
    tiles = [r for r in requests if r.url.endswith(".pbf")]
    tile_bytes = sum(
        int((r.response().headers if r.response() else {}).get("content-length", 0)) for r in tiles
    )
    # values_at: the values arrived; geometry_at: the tile set's description; source_at: the
    # vector source added; tiles_at: every tile of the view loaded
    breakdown = {
        k: round(st["stats"][k])
        for k in ("values_at", "geometry_at", "source_at", "tiles_at")
        if st["stats"].get(k) is not None
    }
    stages = stages_of(st["stats"], fetched, origin, level, nav)
    features = page.evaluate("window.gridmap.featureCount('gm-map-map')")
    tile_requests = len(tiles)
    recolours, browser_only = [], []
    version = st["version"]
    for mode in modes:
        page.click("#cm-color-by")
        t_click = page.evaluate("performance.now()")
        page.click(f'.dash-dropdown-option:has(input[value="{mode}"])')
        version += 1
        painted(page, version)
        last = page.evaluate("window.gridmap.state('gm-map-map').stats.lastPaint")
        recolours.append(last["at"] - t_click)
        browser_only.append(last["idle_ms"])
    ctx.close()
    return {
        "features": features,
        "features_expected": st["features"],
        "tile_requests": tile_requests,
        "first_map_ms": first_ms,
        "first_map_wall_s": wall,
        "first_map_marks_ms": breakdown,
        "first_map_stages_ms": stages,
        "first_map_dominant": dominant_step(stages),
        "first_map_tile_bytes": tile_bytes,
        "first_map_chromium_cpu_s": None if cpu0 is None or cpu1 is None else round(cpu1 - cpu0, 2),
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
    settle()
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


NATIONAL_MAP = "gm-map-national"
_NAT_DRAWN = """([layer, version]) => {
  const st = window.gridmapNational.maps['MAP'];
  if (!st || !st.payload || st.map.isMoving() || !st.map.areTilesLoaded()) { return false; }
  const done = st.painted[layer];
  const n = window.gridmapNational.featureCount('MAP', layer);
  return n > 0 && done && done.version === st.payload.version && st.payload.version.startsWith(version)
         && done.ids.size >= n;
}""".replace("MAP", NATIONAL_MAP)


def _grid_centre(folder: Path) -> list[float]:
    """A point inside the national result's grids (the middle of its first partition)."""
    import geopandas as gpd

    part = next(iter(sorted((Path(folder) / "national" / "grids").rglob("*.parquet"))))
    b = gpd.read_parquet(part).to_crs(4326).total_bounds
    return [float((b[0] + b[2]) / 2), float((b[1] + b[3]) / 2)]


def _national_origin(app) -> str:
    """How the app's national tile set was got ("made, stored", "stored", …)."""
    from dashboards.tiles import national_tiles

    tiles = national_tiles(app.server)
    return tiles.origin if tiles is not None else "none"


def _national_prepared(app) -> None:
    """Wait until the app's national tile set has made its index (it does so in a thread)."""
    from dashboards.tiles import national_tiles

    tiles = national_tiles(app.server)
    if tiles is not None:
        tiles.prepare()


def measure_national(folder: str | Path, browser=None) -> dict:
    """First map and recolour of the 全国 page on a national result, in headless Chromium.

    Parameters
    ----------
    folder
        A ``gridmap check --engine dask`` output folder (with ``national/``).
    browser
        A Playwright browser (launched here when None).

    Returns
    -------
    dict
        ``open_cold_s`` (the app made with no stored tile set: reading the result, making the
        tile set and storing it; also ``open_s``), ``open_warm_s`` (made again: the stored set
        read; each set's index, which a server makes in a background thread, is waited for
        untimed), ``open_origin`` (how each open got its set), ``first_map_ms`` (navigation
        start → the roll-ups drawn and coloured), ``grid_zoom_ms`` (zoom 13 → every loaded
        grid drawn and coloured), ``recolour_ms`` (colour by households at that zoom → drawn),
        the layers' feature counts and the console errors.
    """
    from playwright.sync_api import sync_playwright

    from dashboards import create_app
    from dashboards.provider import DashboardProvider
    from dashboards.testing import launch_chromium, serve_in_thread
    from gridmap.tiles.store import store_dir

    provider = DashboardProvider.from_config(None)
    shutil.rmtree(store_dir(folder), ignore_errors=True)  # cold: nothing stored yet
    opens, origins = [], []
    for _ in ("cold", "warm"):
        t0 = time.perf_counter()
        app = create_app(provider, national=folder)
        opens.append(time.perf_counter() - t0)
        origins.append(_national_origin(app))
        _national_prepared(app)  # its background indexing done before the next is timed
    centre = _grid_centre(Path(folder))
    with serve_in_thread(app) as url, sync_playwright() as pw:
        own = browser is None
        browser = launch_chromium(pw) if own else browser
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        page = ctx.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{url}/national")
        page.wait_for_function(
            f"() => Number(document.getElementById('{NATIONAL_MAP}')?.dataset.painted || 0) >= 1",
            timeout=300_000,
        )
        first = page.evaluate(f"window.gridmapNational.maps['{NATIONAL_MAP}'].stats.lastPaint.at")
        counts = json.loads(page.get_attribute(f"#{NATIONAL_MAP}", "data-meta"))["layers"]
        t_zoom = page.evaluate(
            "(c) => { const t = performance.now();"
            f" window.gridmapNational.maps['{NATIONAL_MAP}'].map.jumpTo({{zoom: 13, center: c}});"
            " return t; }",
            centre,
        )
        page.wait_for_function(_NAT_DRAWN, arg=["grids", "status"], timeout=300_000)
        zoom_ms = page.evaluate("performance.now()") - t_zoom
        drawn = page.evaluate(f"window.gridmapNational.featureCount('{NATIONAL_MAP}', 'grids')")
        page.click("#na-color-by")
        t_click = page.evaluate("performance.now()")
        page.click('.dash-dropdown-option:has(input[value="households"])')
        page.wait_for_function(_NAT_DRAWN, arg=["grids", "households"], timeout=300_000)
        recolour_ms = page.evaluate("performance.now()") - t_click
        ctx.close()
        if own:
            browser.close()
    return {
        "layers": {x["name"]: x["count"] for x in counts},
        "open_s": opens[0],
        "open_cold_s": opens[0],
        "open_warm_s": opens[1],
        "open_origin": origins,
        "first_map_ms": first,
        "grid_zoom_ms": zoom_ms,
        "grid_features_drawn": drawn,
        "recolour_ms": recolour_ms,
        "console_errors": errors,
    }


def national_result(workdir: Path, communities: int) -> Path:
    """A national result of about ``communities`` communities (4 grids each), made once.

    ``benchmarks/national_data.py`` generates the dataset; it is checked on one machine
    (``gridmap.check``, the same code every Dask partition runs) and written as a
    ``gridmap check --engine dask`` output's ``national/`` folder.
    """
    import gridmap
    from gridmap.national import NationalSource
    from gridmap.national.export import write_partitioned

    gen = runpy.run_path(str(ROOT / "benchmarks" / "national_data.py"), run_name="national_data")
    # 3 provinces of 100-community streets; districts run east (≤ 10° wide), cities north
    per_province = max(1, round(communities / 300))
    side = min(10, max(1, round(per_province ** (1 / 3))))
    shape = gen["NationalShape"](
        provinces=3,
        cities=max(1, round(per_province / side**2)),
        districts=side,
        streets=side,
        communities=100,
        households_mean=5.0,
    )
    out = workdir / f"national_{shape.total_communities}"
    if (out / "national" / "communities").exists():
        return out
    data = workdir / f"national_{shape.total_communities}_data"
    gen["write_national"](data, shape)
    kinds = ("communities", "grids", "households", "facilities")
    source = NationalSource({k: data / k for k in kinds})
    result = gridmap.check(gridmap.read_study(**{k: source.read(k) for k in kinds}))
    write_partitioned(result, out / "national")
    return out


def main_national(args) -> None:
    folder = Path(args.national) if args.national else None
    if folder is None:
        folder = national_result(Path(args.workdir), args.national_communities)
    r = measure_national(folder)
    print(
        f"national {r['layers']}: open cold {r['open_cold_s']:.1f} s ({r['open_origin'][0]}), "
        f"warm {r['open_warm_s']:.1f} s ({r['open_origin'][1]}), first map {r['first_map_ms'] / 1000:.2f} s, "
        f"grids at zoom 13 {r['grid_zoom_ms'] / 1000:.2f} s ({r['grid_features_drawn']:,} drawn), "
        f"recolour {r['recolour_ms']:.0f} ms",
        file=sys.stderr,
    )
    if args.json:
        print(json.dumps({"national": r}, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--communities", type=int, default=5000)
    ap.add_argument("--workdir", default="/tmp/gridmap-bench")
    ap.add_argument("--no-plotly", action="store_true", help="skip the plotly baseline")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--national", metavar="FOLDER", help="measure the national page on this result")
    ap.add_argument(
        "--national-communities",
        type=int,
        default=0,
        help="generate and check a national result of about N communities (4 grids each), then measure",
    )
    args = ap.parse_args()
    if args.national or args.national_communities:
        main_national(args)
        return

    from playwright.sync_api import sync_playwright

    from dashboards import create_app
    from dashboards.testing import launch_chromium, serve_in_thread

    path = build(Path(args.workdir), args.communities)
    provider, prep = prepare(path)
    n = {lv: len(provider.ids(lv)) for lv in ("community", "grid")}
    app = create_app(provider)
    add_plotly_routes(app, provider)
    prep.update(warm_tiles(app))
    if not args.no_plotly:
        prep.update(warm_geojson(provider))
    print(
        f"study: {n['community']:,} communities, {n['grid']:,} grids; read {prep['read_s']:.1f} s, "
        f"check {prep['check_s']:.1f} s, tile sets {prep['tiles_s']:.1f} s",
        file=sys.stderr,
    )
    modes = {
        "community": ["rule:community.size", "metric:households", "status"],
        "grid": ["rule:grid.coordinators", "metric:coordinator_gap", "status"],
    }
    # "maplibre": the dashboard's map (vector tiles); "plotly": the baseline (GeoJSON)
    out = {"study": n, "prepare": prep, "map_source": "mvt", "maplibre": {}, "plotly": {}}
    load = {"start": [round(v, 2) for v in os.getloadavg()]}
    out["load_average"] = load
    with serve_in_thread(app) as url, sync_playwright() as pw:
        browser = launch_chromium(pw)
        for level in ("community", "grid"):
            out["maplibre"][level] = r = measure_maplibre(browser, url, level, modes[level])
            print(
                f"MapLibre {level:9} {r['features']:>6,}/{r['features_expected']:,} features, "
                f"{r['tile_requests']} tiles ({r['first_map_tile_bytes'] / 1e6:.2f} MB sent): "
                f"first map {r['first_map_ms'] / 1000:.2f} s (tiles warm), "
                f"recolour median {r['recolour_median_ms']:.0f} ms (browser only {r['recolour_browser_only_median_ms']:.0f} ms) "
                f"{[round(x) for x in r['recolour_ms']]}\n"
                f"  first-map stages (ms from navigation start) {r['first_map_stages_ms']}, "
                f"longest step {r['first_map_dominant']}, Chromium CPU {r['first_map_chromium_cpu_s']} s",
                file=sys.stderr,
            )
            if not args.no_plotly:
                out["plotly"][level] = p = measure_plotly(browser, url, level)
                print(
                    f"plotly   {level:9}: first map {p['first_map_ms'] / 1000:.2f} s, recolour median "
                    f"{p['recolour_median_ms']:.0f} ms {[round(x) for x in p['recolour_ms']]}",
                    file=sys.stderr,
                )
        cold = measure_cold(browser, provider, modes["grid"][:1])
        out["maplibre"]["grid"]["first_map_cold_ms"] = cold["first_map_ms"]
        out["maplibre"]["grid"]["first_map_cold_stages_ms"] = cold["first_map_stages_ms"]
        out["maplibre"]["grid"]["first_map_cold_dominant"] = cold["first_map_dominant"]
        print(
            f"MapLibre grid, tiles not warmed (a fresh app, its tiles made since it loaded): first map "
            f"{cold['first_map_ms'] / 1000:.2f} s, stages {cold['first_map_stages_ms']}, "
            f"longest step {cold['first_map_dominant']}",
            file=sys.stderr,
        )
        browser.close()
    load["end"] = [round(v, 2) for v in os.getloadavg()]
    print(f"load average {load['start']} at start, {load['end']} at end", file=sys.stderr)
    if args.json:
        print(json.dumps(out, indent=2))


def measure_cold(browser, provider, modes: list[str]) -> dict:
    """The grids' first map on a fresh app that did not warm its tiles before it listens.

    It makes them in the background from its creation on (as any app that loads a study
    does, :meth:`dashboards.tiles.StudyTiles.start`), while the browser opens its tab and
    loads the page.
    """
    from dashboards import create_app
    from dashboards.testing import serve_in_thread

    with serve_in_thread(create_app(provider)) as url:
        return measure_maplibre(browser, url, "grid", modes)


if __name__ == "__main__":
    main()
