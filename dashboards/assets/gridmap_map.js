/* gridmap dashboard: a small MapLibre GL JS map driven by Dash clientside callbacks.
 *
 * Communities and grids are drawn from vector tiles served by gridmap (MVT, simplified per
 * zoom on the server, see dashboards/tiles.py): a level's GeoJSON address
 * /_gridmap/geo/<key>/<level>.geojson names its tiles, /_gridmap/tiles/<key>/<level>.json
 * (bounds, feature count) and .../<level>/{z}/{x}/{y}.pbf. Feature ids are the unit's position,
 * so values arrive as a class index per feature, set as feature-state, and a palette; geometry
 * is never re-sent. The tiles carry geometry only: names and unit ids come once from
 * .../<level>/names.json, fetched after the first frame (hover and click wait for it).
 * Selection and proposal outlines are line layers of a second source on the same tiles, made
 * only once something is outlined and filtered to those features (a line layer over every
 * unit would double the first map's work). Community borders are line tiles of their own
 * (/_gridmap/tiles/<key>/borders.json: each border two communities share once, not the
 * communities' outlines, which would draw it twice). A level's units and borders are drawn once every
 * tile of the view is parsed, in one frame (reveal), not in a frame per tile. A page whose
 * index carries its first map (the compliance map) starts that map before Dash boots (boot,
 * adopt). Small overlays (facility points, coverage gaps) stay GeoJSON. No glyphs or fonts are
 * requested, and no other tiles unless a basemap URL is configured. This file runs right after
 * MapLibre, before Dash's scripts (dashboards.app puts both first).
 */
(function () {
  "use strict";
  const geoCache = {};   // url -> Promise<GeoJSON> (facility points)
  const metaCache = {};  // url -> Promise<TileJSON>
  const namesCache = {}; // url -> Promise<{n: names, u: unit ids}>
  const SRC = "units";
  const OUT = "units-outline";  // the same tiles, for the outlines of a few units
  const FILL = "units-fill";
  // MapLibre parses tiles on web workers; its default is half the cores (one, on two):
  // two workers keep two cores busy on the first load of a city.
  const WORKERS = 2;
  const maps = {};       // div id -> {map, box, host, url, meta, payload, ready, sel, stats}
  const pendingSel = {}; // div id -> feature indices to outline once the map is ready

  function fetchJSON(cache, url, what) {
    if (!cache[url]) {
      cache[url] = fetch(url).then(function (r) {
        if (!r.ok) { throw new Error(what + " " + url + ": HTTP " + r.status); }
        return r.json();
      });
    }
    return cache[url];
  }

  function fetchGeo(url) { return fetchJSON(geoCache, url, "geometry"); }

  function metaUrl(url) {
    // /_gridmap/geo/<key>/<level>.geojson -> /_gridmap/tiles/<key>/<level>.json; a TileJSON
    // address (the borders') stays as it is
    const i = url.lastIndexOf("/_gridmap/geo/");
    if (i < 0) { return url; }
    return url.slice(0, i) + "/_gridmap/tiles/" + url.slice(i + 14).replace(/\.geojson$/, ".json");
  }

  function fetchMeta(url) { return fetchJSON(metaCache, metaUrl(url), "tiles"); }

  function seedMeta(payload) {
    // TileJSON sent with the values (by geometry address): no round trip before the sources.
    Object.keys(payload.meta || {}).forEach(function (url) {
      if (!metaCache[metaUrl(url)]) { metaCache[metaUrl(url)] = Promise.resolve(payload.meta[url]); }
    });
  }

  function namesOf(st) {
    // The names and unit ids of the map's level, in feature order (fetched once).
    return fetchJSON(namesCache, st.meta.names, "names");
  }

  function vectorSource(meta) {
    // tile addresses must be absolute: MapLibre fetches them on its web workers
    const tiles = meta.tiles.map(function (t) { return t.charAt(0) === "/" ? window.location.origin + t : t; });
    return {type: "vector", tiles: tiles, minzoom: meta.minzoom, maxzoom: meta.maxzoom, bounds: meta.bounds};
  }

  function style(basemap, attribution) {
    // No paint transitions: MapLibre's default (300 ms) would have every paint change (the
    // reveal, a recolour) animate every property of the layer, a frame after frame of the
    // whole map until it ends, where one frame draws it.
    const s = {version: 8, sources: {}, transition: {duration: 0, delay: 0}, layers: [
      {id: "bg", type: "background", paint: {"background-color": "#f3f3ef"}}]};
    if (basemap) {
      s.sources.basemap = {type: "raster", tiles: [basemap], tileSize: 256, attribution: attribution || ""};
      s.layers.push({id: "basemap", type: "raster", source: "basemap"});
    }
    return s;
  }

  function fmt(v) {
    if (v === null || v === undefined) { return ""; }
    return Math.abs(v - Math.round(v)) < 1e-9 ? Math.round(v).toLocaleString() : v.toLocaleString(undefined, {maximumFractionDigits: 2});
  }

  function setClick(divId, data) {
    if (window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props(divId + "-click", {data: data});
    }
  }

  function create(divId, host, basemap, attribution) {
    // The map fills a box inside host: the page's map div, or (first map) the boot shell's,
    // whose box moves into the page's div once Dash renders it (adopt).
    if (typeof maplibregl === "undefined") { return null; }
    if (Object.keys(maps).length === 0 && maplibregl.getWorkerCount() < WORKERS) {
      try { maplibregl.setWorkerCount(WORKERS); } catch (e) { /* only possible before the first map */ }
    }
    const box = document.createElement("div");
    box.className = "gm-map-box";
    host.appendChild(box);
    const map = new maplibregl.Map({
      container: box, style: style(basemap, attribution),
      center: [0, 0], zoom: 1, attributionControl: basemap ? {compact: true} : false,
      fadeDuration: 0, maxTileCacheZoomLevels: 6,
    });
    map.addControl(new maplibregl.NavigationControl({showCompass: false}), "top-right");
    const st = {map: map, box: box, host: host, adopted: host.id === divId, url: null, payload: null,
                ready: false, loaded: false, sel: [], moved: [], hover: null,
                stats: {created: performance.now()}, version: 0, pendingFocus: null, hidden: false};
    const popup = new maplibregl.Popup({closeButton: false, closeOnClick: false, className: "gm-popup"});
    map.on("load", function () { st.loaded = true; apply(divId); });
    map.on("data", function (e) {
      if (e.sourceId === SRC && e.dataType === "source" && e.tile) {
        (st.stats.tile_loads = st.stats.tile_loads || []).push(performance.now());
      }
    });
    map.on("sourcedata", function (e) {
      if (st.ready && !st.stats.tiles_at && e.sourceId === SRC && map.isSourceLoaded(SRC)) {
        st.stats.tiles_at = performance.now();
      }
      if (e.sourceId === SRC || e.sourceId === "borders") { reveal(st, false); }
    });
    map.on("mousemove", FILL, function (e) {
      if (!e.features.length || !st.payload) { return; }
      const f = e.features[0], p = st.payload, c = p.c[f.id], lngLat = e.lngLat;
      let val = p.v[f.id];
      let text = (c >= 0 && p.labels && p.labels.length) ? p.labels[c] : "";
      if (val !== null && val !== undefined) { text = (text ? text + " · " : "") + fmt(val); }
      if (!text) { text = (c >= 0 && p.legend[c]) ? p.legend[c].label : ""; }
      map.getCanvas().style.cursor = "pointer";
      st.hover = f.id;
      namesOf(st).then(function (names) {
        if (st.hover !== f.id) { return; }  // the pointer moved on meanwhile
        const name = names.n[f.id];
        const div = document.createElement("div");
        const b = document.createElement("b"); b.textContent = name; div.appendChild(b);
        div.appendChild(document.createElement("br"));
        div.appendChild(document.createTextNode(text));
        popup.setLngLat(lngLat).setDOMContent(div).addTo(map);
        st.host.dataset.hover = name + " | " + text;
      }).catch(function (err) { console.error(err); });
    });
    map.on("zoomend", function () { outlineByDensity(st); });
    map.on("mouseleave", FILL, function () { st.hover = null; map.getCanvas().style.cursor = ""; popup.remove(); });
    map.on("click", FILL, function (e) {
      if (!e.features.length) { return; }
      const id = e.features[0].id, level = st.payload.level, ts = Date.now();
      select(divId, id);
      namesOf(st).then(function (names) {
        setClick(divId, {index: id, unit_id: names.u[id], level: level, ts: ts});
      }).catch(function (err) { console.error(err); });
    });
    maps[divId] = st;
    return st;
  }

  const OUTLINES = {moved: "moved-line", sel: "selected-line"};

  function idFilter(ids) {
    // Features whose id is in ids (a lookup table, not a scan), or none.
    return ids.length ? ["match", ["id"], ids, true, false] : ["==", ["id"], -1];
  }

  function outlineLayers(st) {
    // The outline source and its two line layers, made on the first outline (never for a map
    // that outlines nothing: they would parse every tile a second time).
    const map = st.map;
    if (map.getSource(OUT)) { return; }
    map.addSource(OUT, vectorSource(st.meta));
    const above = ["gaps", "points"].find(function (id) { return map.getLayer(id); });
    const common = {type: "line", source: OUT, "source-layer": st.meta.layer, filter: idFilter([])};
    map.addLayer(Object.assign({id: OUTLINES.moved, paint: outline("#40004b", 3.2, [2, 1])}, common), above);
    map.addLayer(Object.assign({id: OUTLINES.sel, paint: outline("#111111", 3)}, common), above);
  }

  function flag(st, key, ids) {
    // Outline the features of ids (the selection, or a proposal's moves) and no others: the
    // outline layer's filter, on its own source (the units' tiles are not parsed again).
    const map = st.map;
    const valid = Array.from(new Set((ids || []).filter(function (i) {
      return Number.isInteger(i) && i >= 0 && i < st.meta.count;
    }))).sort(function (a, b) { return a - b; });
    const same = valid.length === st[key].length && valid.every(function (v, i) { return v === st[key][i]; });
    if (!same && (valid.length || map.getSource(OUT))) {
      outlineLayers(st);
      map.setFilter(OUTLINES[key], idFilter(valid));
    }
    st[key] = valid;
    return valid.length;
  }

  function select(divId, id) {
    const st = maps[divId];
    if (!st || !st.ready) { return; }
    flag(st, "sel", id === null || id === undefined ? [] : [id]);
  }

  function selectMany(divId, idx) {
    // Outline several units at once (the plans page's selection); waits for the map to be ready.
    const st = maps[divId];
    if (!st || !st.ready) { pendingSel[divId] = idx || []; return; }
    delete pendingSel[divId];
    st.host.dataset.selected = String(flag(st, "sel", idx));
  }

  function outline(color, width, dash) {
    const paint = {"line-color": color, "line-width": width};
    if (dash) { paint["line-dasharray"] = dash; }
    return paint;
  }

  function colorsOf(p) {
    // Each feature's colour: its class's in the palette, or the no-data colour.
    const c = p.c, pal = p.palette, nodata = p.nodata || "#e0e0e0";
    const colors = new Array(c.length);
    for (let i = 0; i < c.length; i++) { colors[i] = c[i] >= 0 ? pal[c[i]] : nodata; }
    return colors;
  }

  // opacity of the units and of the community borders; 0 (not drawn) until reveal
  const OPACITY = {units: 0.85, borders: 0.9};

  function addLayers(map, meta, colors) {
    // The first colours are part of the layer (a colour per feature id, evaluated on the
    // workers as the tiles are parsed): the first map sets no feature state. Later values
    // override them by feature-state. Unit lines as the fill's own outline (cheap); selection
    // and proposal moves: outlineLayers. Transparent until its tiles are in (reveal).
    const first = colors.length ? ["at", ["number", ["id"]], ["literal", colors]] : "#e0e0e0";
    const before = ["borders", "gaps", "points"].find(function (id) { return map.getLayer(id); });
    map.addLayer({id: FILL, type: "fill", source: SRC, "source-layer": meta.layer, paint: {
      "fill-color": ["to-color", ["coalesce", ["feature-state", "color"], first]],
      "fill-opacity": 0, "fill-outline-color": "#ffffff"}}, before);
  }

  // Unit lines (the fill's outline) only where the units are at least this wide on screen on
  // average: below, a 1-pixel line every few pixels hides the colours, and with software
  // WebGL the outline pass costs more than the fills (about 150 of 270 ms per frame of 50 k
  // grids at full extent).
  const OUTLINE_MIN_PX = 6;

  function outlineByDensity(st) {
    const map = st.map, b = st.meta && st.meta.bounds;
    if (!b || !map.getLayer(FILL)) { return; }
    const sw = map.project([b[0], b[1]]), ne = map.project([b[2], b[3]]);
    const side = Math.sqrt(Math.abs((ne.x - sw.x) * (ne.y - sw.y)) / Math.max(1, st.meta.count));
    const on = side >= OUTLINE_MIN_PX;
    if (map.getPaintProperty(FILL, "fill-antialias") !== on) { map.setPaintProperty(FILL, "fill-antialias", on); }
  }

  function reveal(st, force) {
    // Draw the units and their borders, transparent (which MapLibre skips when it draws, but
    // still parses) until every tile of the view is in, or force: one frame of the whole map
    // instead of one per tile arriving. With software WebGL a frame of 50 k grids costs about
    // as much CPU as parsing a tile, on the same cores.
    const map = st.map;
    const loaded = function (id) { return !map.getSource(id) || map.isSourceLoaded(id); };
    if (!st.hidden || !st.ready || !st.adopted || !(force || (loaded(SRC) && loaded("borders")))) { return; }
    st.hidden = false;
    st.stats.revealed_at = performance.now();
    map.setPaintProperty(FILL, "fill-opacity", OPACITY.units);
    if (map.getLayer("borders")) { map.setPaintProperty("borders", "line-opacity", OPACITY.borders); }
  }

  function removeUnits(map) {
    [FILL, OUTLINES.moved, OUTLINES.sel].forEach(function (id) { if (map.getLayer(id)) { map.removeLayer(id); } });
    [SRC, OUT].forEach(function (id) { if (map.getSource(id)) { map.removeSource(id); } });
  }

  function paintValues(st, divId) {
    // Only feature-state changes (of the features whose colour changes): the paint expression
    // never changes, so no tile is re-parsed.
    const p = st.payload, map = st.map;
    const t0 = performance.now();
    const prev = st.painted && st.painted.url === p.url ? st.painted.colors : null;
    const colors = colorsOf(p);
    const target = {source: SRC, sourceLayer: st.meta.layer, id: 0};
    for (let i = 0; i < colors.length; i++) {
      if (prev === null || prev[i] !== colors[i]) { target.id = i; map.setFeatureState(target, {color: colors[i]}); }
    }
    st.painted = {url: p.url, colors: colors};
    const t1 = performance.now();
    st.version += 1;
    const v = st.version;
    function painted() {
      if (!st.adopted) { st.afterAdopt = painted; return; }  // drawn once in the page (adopt)
      if (st.hidden) { reveal(st, true); map.once("idle", painted); return; }  // idle: all in
      st.stats.lastPaint = {version: v, set_ms: t1 - t0, idle_ms: performance.now() - t0, at: performance.now()};
      st.host.dataset.painted = String(v);
      namesOf(st).catch(function () { /* reported when hover or click needs them */ });
    }
    map.once("idle", painted);
    map.triggerRepaint();
  }

  function apply(divId) {
    const st = maps[divId];
    if (!st || !st.loaded || !st.payload) { return; }
    const p = st.payload;
    if (st.url !== p.url) {
      st.url = p.url;
      st.ready = false;
      st.stats.values_at = performance.now();
      fetchMeta(p.url).then(function (meta) {
        st.stats.geometry_at = performance.now();
        if (st.url !== p.url) { return; }
        const map = st.map;
        removeUnits(map);
        map.addSource(SRC, vectorSource(meta));
        st.meta = meta;
        const colors = colorsOf(st.payload);
        addLayers(map, meta, colors);
        st.features = meta.count;
        st.sel = [];
        st.moved = [];
        st.painted = {url: p.url, colors: colors};  // drawn by the layer itself
        if (!st.pendingFocus) { map.fitBounds(meta.bounds, {padding: 20, animate: false}); }
        outlineByDensity(st);
        st.stats.source_at = performance.now();
        st.stats.tiles_at = null;
        st.hidden = true;  // drawn once its tiles are in (reveal)
        st.ready = true;
        paintValues(st, divId);
        highlight(st, divId);
        borders(st);
        points(st);
        reveal(st, false);
        if (st.pendingFocus) { focus(divId, st.pendingFocus); }
        if (pendingSel[divId]) { selectMany(divId, pendingSel[divId]); }
      }).catch(function (err) { console.error(err); });
    } else if (st.ready) {
      paintValues(st, divId);
      highlight(st, divId);
      borders(st);
      points(st);
    }
  }

  function borders(st) {
    // Community borders as a heavy line over the fills (grid lines are the fills' thin outlines),
    // from the borders' line tiles: each border two communities share once.
    const url = st.payload.borders, map = st.map;
    if (!url) {
      if (map.getLayer("borders")) { map.setLayoutProperty("borders", "visibility", "none"); }
      return;
    }
    fetchMeta(url).then(function (meta) {
      if (!map.getSource("borders")) {
        map.addSource("borders", vectorSource(meta));
        const above = [OUTLINES.moved, OUTLINES.sel, "gaps", "points"].find(function (id) { return map.getLayer(id); });
        map.addLayer({id: "borders", type: "line", source: "borders", "source-layer": meta.layer, paint: {
          "line-color": "#1f2d3d", "line-width": ["interpolate", ["linear"], ["zoom"], 10, 1.4, 15, 2.6],
          "line-opacity": st.hidden ? 0 : OPACITY.borders}}, above);
      }
      map.setLayoutProperty("borders", "visibility", "visible");
      st.borders = meta.count;
    }).catch(function (err) { console.error(err); });
  }

  function highlight(st, divId) {
    // Outline the units of payload.highlight (a rebalancer proposal's moves) on the map.
    const n = flag(st, "moved", st.payload.highlight || []);
    st.host.dataset.highlighted = String(n);
  }

  function gaps(st) {
    const g = st.payload.gaps, map = st.map;
    if (!g) {
      if (map.getLayer("gaps")) { map.setLayoutProperty("gaps", "visibility", "none"); }
      return;
    }
    if (map.getSource("gaps")) {
      map.getSource("gaps").setData(g);
    } else {
      map.addSource("gaps", {type: "geojson", data: g});
      map.addLayer({id: "gaps", type: "line", source: "gaps", paint: {
        "line-color": "#762a83", "line-width": 1.6}}, map.getLayer("points") ? "points" : undefined);
    }
    map.setLayoutProperty("gaps", "visibility", "visible");
    st.gaps = g.features.length;
  }

  function points(st) {
    gaps(st);
    const p = st.payload.points, map = st.map;
    if (!p) {
      if (map.getLayer("points")) { map.setLayoutProperty("points", "visibility", "none"); }
      return;
    }
    fetchGeo(p.url).then(function (geo) {
      if (!map.getSource("points")) {
        map.addSource("points", {type: "geojson", data: geo});
        map.addLayer({id: "points", type: "circle", source: "points", paint: {
          "circle-radius": 5, "circle-color": "#2166ac", "circle-stroke-color": "#ffffff", "circle-stroke-width": 1.2}});
      }
      map.setLayoutProperty("points", "visibility", "visible");
      map.setFilter("points", ["==", ["get", "t"], p.type || ""]);
      st.points = geo.features.filter(function (f) { return f.properties.t === p.type; }).length;
    }).catch(function (err) { console.error(err); });
  }

  function focus(divId, f) {
    const st = maps[divId];
    if (!st) { return; }
    if (!st.ready || (f.url && f.url !== st.url)) { st.pendingFocus = f; return; }
    st.pendingFocus = null;
    st.map.fitBounds(f.bbox, {padding: 60, maxZoom: 17, animate: false});
    if (f.index !== undefined && f.index !== null) { select(divId, f.index); }
    st.stats.focus = {unit_id: f.unit_id, zoom: st.map.getZoom(), ts: f.ts};
    st.host.dataset.focused = String(f.unit_id);
  }

  function featureCount(divId) {
    // Distinct features in the loaded tiles of the units source (-1 before the map is ready).
    const st = maps[divId];
    if (!st || !st.ready) { return -1; }
    const seen = new Set();
    st.map.querySourceFeatures(SRC, {sourceLayer: st.meta.layer}).forEach(function (f) { seen.add(f.id); });
    return seen.size;
  }

  function adopt(st, el) {
    // Move a first map (made with the index page, see boot) into its page's div, now that Dash
    // has rendered it: what the map wrote on its shell's div (data-*) goes along. It is drawn
    // from here on (reveal), in its page, at the page's size.
    const before = [st.box.clientWidth, st.box.clientHeight];
    el.appendChild(st.box);
    Object.keys(st.host.dataset).forEach(function (k) { el.dataset[k] = st.host.dataset[k]; });
    st.shell.remove();
    st.shell = null;
    st.host = el;
    st.adopted = true;
    st.stats.adopted_at = performance.now();
    if (before[0] !== st.box.clientWidth || before[1] !== st.box.clientHeight) {
      st.map.resize();
      if (st.meta && !st.pendingFocus) { st.map.fitBounds(st.meta.bounds, {padding: 20, animate: false}); }
      outlineByDensity(st);
    }
    reveal(st, false);
    const next = st.afterAdopt;  // painted, waiting for the map to be in its page
    st.afterAdopt = null;
    if (next) { st.map.once("idle", next); st.map.triggerRepaint(); }  // once drawn here
  }

  function samePayload(a, b) {
    return !!a && !!b && a.version !== undefined && a.version !== null && a.version === b.version && a.url === b.url;
  }

  // The first map starts with the index page, before Dash: the page gives its map's div id,
  // height and first values (script#gm-first-map, see dashboards.app). MapLibre and this file
  // run before Dash's scripts, so the tiles are fetched and parsed on MapLibre's workers while
  // Dash boots, lays out and renders the page; the map is made in a hidden shell of the page's
  // layout (same size) and moves into the page's div once it exists (adopt). Other pages:
  // MapLibre's workers start now (they load its code before they parse any tile).
  function boot() {
    if (typeof maplibregl === "undefined") { return; }
    const tag = document.getElementById("gm-first-map");
    if (!tag) {
      try {
        if (maplibregl.getWorkerCount() < WORKERS) { maplibregl.setWorkerCount(WORKERS); }
        maplibregl.prewarm();
      } catch (e) { /* a map exists already: its workers run */ }
      return;
    }
    const first = JSON.parse(tag.textContent);
    const shell = document.createElement("div");
    shell.className = "gm-page gm-boot";
    shell.setAttribute("aria-hidden", "true");
    shell.innerHTML = '<div class="gm-row"><div class="gm-col gm-col-map"><div class="gm-map"></div></div>' +
                      '<div class="gm-col gm-col-detail"></div></div>';
    const host = shell.querySelector(".gm-map");
    host.style.height = first.height;
    document.body.appendChild(shell);
    const st = create(first.div, host, first.basemap, first.attribution);
    st.shell = shell;
    seedMeta(first.payload);
    st.payload = first.payload;
    apply(first.div);
  }

  window.gridmap = {
    maps: maps,
    featureCount: featureCount,
    state: function (divId) {
      const st = maps[divId];
      if (!st) { return null; }
      return {ready: st.ready, features: st.features, version: st.version, zoom: st.map.getZoom(),
              center: st.map.getCenter().toArray(), stats: st.stats, level: st.payload && st.payload.level,
              borders: st.borders || 0,
              bordersVisible: !!(st.map.getLayer("borders") &&
                                 st.map.getLayoutProperty("borders", "visibility") !== "none")};
    },
  };

  boot();

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    gridmap: {
      render: function (payload, divId) {
        if (!payload) { return window.dash_clientside.no_update; }
        let st = maps[divId];
        const el = document.getElementById(divId);
        if (st && st.shell && el) {
          adopt(st, el);  // the first map, made with the index page
          if (samePayload(st.payload, payload)) { return payload.version; }
        } else if (st && !(el && el.contains(st.box))) {
          st.map.remove();  // the page was re-rendered: its old map is detached
          delete maps[divId];
          st = null;
        }
        st = st || (el && create(divId, el, el.dataset.basemap, el.dataset.attribution));
        if (!st) { return window.dash_clientside.no_update; }
        seedMeta(payload);
        st.payload = payload;
        apply(divId);
        return payload.version === undefined ? null : payload.version;
      },
      selection: function (sel, divId) {
        selectMany(divId, (sel && sel.index) || []);
        return (sel && sel.index) ? sel.index.length : 0;
      },
      focus: function (f, divId) {
        if (!f) { return window.dash_clientside.no_update; }
        focus(divId, f);
        return f.ts || null;
      },
    },
  });
})();
