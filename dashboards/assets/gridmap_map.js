/* gridmap dashboard: a small MapLibre GL JS map driven by Dash clientside callbacks.
 *
 * Geometry is fetched once per URL (and cached here across pages of the same tab);
 * afterwards only values arrive: a class index per feature, set as feature-state,
 * and a palette applied with setPaintProperty. No tiles, glyphs or fonts are
 * requested unless a basemap URL is configured.
 */
(function () {
  "use strict";
  const geoCache = {};   // url -> Promise<GeoJSON>
  // Features are dealt round-robin into PARTS GeoJSON sources: MapLibre tiles each GeoJSON source on one
  // web worker, so two sources keep two cores busy on the first load of a city (50 k grids).
  const PARTS = 2;
  const FILLS = [];
  for (let k = 0; k < PARTS; k++) { FILLS.push("units-fill-" + k); }
  function src(i) { return "units-" + (i % PARTS); }
  const maps = {};       // div id -> {map, url, payload, ready, sel, stats}
  const pendingSel = {}; // div id -> feature indices to outline once the map is ready

  function fetchGeo(url) {
    if (!geoCache[url]) {
      geoCache[url] = fetch(url).then(function (r) {
        if (!r.ok) { throw new Error("geometry " + url + ": HTTP " + r.status); }
        return r.json();
      });
    }
    return geoCache[url];
  }

  function style(basemap, attribution) {
    const s = {version: 8, sources: {}, layers: [
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

  function create(divId, payload) {
    const el = document.getElementById(divId);
    if (!el || typeof maplibregl === "undefined") { return null; }
    if (Object.keys(maps).length === 0 && maplibregl.getWorkerCount() < PARTS) {
      try { maplibregl.setWorkerCount(PARTS); } catch (e) { /* only possible before the first map */ }
    }
    const map = new maplibregl.Map({
      container: el, style: style(el.dataset.basemap, el.dataset.attribution),
      center: [0, 0], zoom: 1, attributionControl: el.dataset.basemap ? {compact: true} : false,
      fadeDuration: 0, maxTileCacheZoomLevels: 6,
    });
    map.addControl(new maplibregl.NavigationControl({showCompass: false}), "top-right");
    const st = {map: map, url: null, payload: null, ready: false, loaded: false, sel: null, hover: null,
                stats: {created: performance.now()}, version: 0, pendingFocus: null};
    const popup = new maplibregl.Popup({closeButton: false, closeOnClick: false, className: "gm-popup"});
    map.on("load", function () { st.loaded = true; apply(divId); });
    map.on("sourcedata", function (e) {
      if (st.ready && !st.stats.tiles_at && String(e.sourceId).indexOf("units-") === 0 &&
          FILLS.every(function (_, k) { return map.isSourceLoaded("units-" + k); })) {
        st.stats.tiles_at = performance.now();
      }
    });
    map.on("mousemove", FILLS, function (e) {
      if (!e.features.length || !st.payload) { return; }
      const f = e.features[0], p = st.payload, c = p.c[f.id];
      let val = p.v[f.id];
      let text = (c >= 0 && p.labels && p.labels.length) ? p.labels[c] : "";
      if (val !== null && val !== undefined) { text = (text ? text + " · " : "") + fmt(val); }
      if (!text) { text = (c >= 0 && p.legend[c]) ? p.legend[c].label : ""; }
      map.getCanvas().style.cursor = "pointer";
      const div = document.createElement("div");
      const b = document.createElement("b"); b.textContent = f.properties.n; div.appendChild(b);
      div.appendChild(document.createElement("br"));
      div.appendChild(document.createTextNode(text));
      popup.setLngLat(e.lngLat).setDOMContent(div).addTo(map);
      el.dataset.hover = f.properties.n + " | " + text;
    });
    map.on("mouseleave", FILLS, function () { map.getCanvas().style.cursor = ""; popup.remove(); });
    map.on("click", FILLS, function (e) {
      if (!e.features.length) { return; }
      const f = e.features[0];
      select(divId, f.id);
      setClick(divId, {index: f.id, unit_id: f.properties.u, level: st.payload.level, ts: Date.now()});
    });
    maps[divId] = st;
    return st;
  }

  function select(divId, id) {
    const st = maps[divId];
    if (!st || !st.ready) { return; }
    st.sel = id;
    const f = (id !== null && id !== undefined && st.geo) ? st.geo.features[id] : null;
    st.map.getSource("selected").setData({type: "FeatureCollection", features: f ? [f] : []});
  }

  function selectMany(divId, idx) {
    // Outline several units at once (the plans page's selection); waits for the map to be ready.
    const st = maps[divId];
    if (!st || !st.ready) { pendingSel[divId] = idx || []; return; }
    delete pendingSel[divId];
    const feats = (idx || []).map(function (i) { return st.geo.features[i]; }).filter(Boolean);
    st.map.getSource("selected").setData({type: "FeatureCollection", features: feats});
    document.getElementById(divId).dataset.selected = String(feats.length);
  }

  function addLayers(map) {
    // Borders as the fill's own outline (cheap); the selected unit gets its own tiny line source.
    const before = ["borders", "moved-line", "gaps", "points"].find(function (id) { return map.getLayer(id); });
    for (let k = 0; k < PARTS; k++) {
      map.addLayer({id: FILLS[k], type: "fill", source: "units-" + k, paint: {
        "fill-color": ["to-color", ["coalesce", ["feature-state", "color"], "#e0e0e0"]], "fill-opacity": 0.85,
        "fill-outline-color": "#ffffff"}}, before);
    }
    if (!map.getSource("moved")) {  // units a pending proposal would move (plans page)
      map.addSource("moved", {type: "geojson", data: {type: "FeatureCollection", features: []}});
      map.addLayer({id: "moved-line", type: "line", source: "moved",
                    paint: {"line-color": "#40004b", "line-width": 3.2, "line-dasharray": [2, 1]}});
    }
    if (!map.getSource("selected")) {
      map.addSource("selected", {type: "geojson", data: {type: "FeatureCollection", features: []}});
      map.addLayer({id: "selected-line", type: "line", source: "selected",
                    paint: {"line-color": "#111111", "line-width": 3}});
    }
  }

  function removeUnits(map) {
    for (let k = 0; k < PARTS; k++) {
      if (map.getLayer(FILLS[k])) { map.removeLayer(FILLS[k]); }
      if (map.getSource("units-" + k)) { map.removeSource("units-" + k); }
    }
  }

  function paintValues(st, divId) {
    // Only feature-state changes: the paint expression never changes, so no tile is re-parsed.
    const p = st.payload, map = st.map;
    const t0 = performance.now();
    const c = p.c, pal = p.palette, nodata = p.nodata || "#e0e0e0";
    const prev = st.painted && st.painted.url === p.url ? st.painted.colors : null;
    const colors = new Array(c.length);
    for (let i = 0; i < c.length; i++) {
      const col = c[i] >= 0 ? pal[c[i]] : nodata;
      colors[i] = col;
      if (prev === null || prev[i] !== col) { map.setFeatureState({source: src(i), id: i}, {color: col}); }
    }
    st.painted = {url: p.url, colors: colors};
    const t1 = performance.now();
    st.version += 1;
    const v = st.version;
    map.once("idle", function () {
      st.stats.lastPaint = {version: v, set_ms: t1 - t0, idle_ms: performance.now() - t0, at: performance.now()};
      document.getElementById(divId).dataset.painted = String(v);
    });
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
      fetchGeo(p.url).then(function (geo) {
        st.stats.geometry_at = performance.now();
        if (st.url !== p.url) { return; }
        const map = st.map;
        removeUnits(map);
        const parts = [];
        for (let k = 0; k < PARTS; k++) { parts.push({type: "FeatureCollection", features: []}); }
        geo.features.forEach(function (f) { parts[f.id % PARTS].features.push(f); });
        // per-zoom simplification: geojson-vt simplifies each zoom's tiles on the worker (tolerance in
        // screen pixels); a small buffer is enough for fills.
        for (let k = 0; k < PARTS; k++) {
          map.addSource("units-" + k, {type: "geojson", data: parts[k], tolerance: 0.75, buffer: 16});
        }
        addLayers(map);
        st.features = geo.features.length;
        st.geo = geo;
        st.sel = null;
        st.painted = null;
        if (!st.pendingFocus) {
          const b = geo.bbox || bbox(geo);
          map.fitBounds(b, {padding: 20, animate: false});
        }
        st.stats.source_at = performance.now();
        st.stats.tiles_at = null;
        st.ready = true;
        paintValues(st, divId);
        highlight(st, divId);
        borders(st);
        points(st);
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
    // Community borders as a heavy line over the fills (grid lines are the fills' thin outlines).
    const url = st.payload.borders, map = st.map;
    if (!url) {
      if (map.getLayer("borders")) { map.setLayoutProperty("borders", "visibility", "none"); }
      return;
    }
    fetchGeo(url).then(function (geo) {
      if (!map.getSource("borders")) {
        map.addSource("borders", {type: "geojson", data: geo});
        const above = map.getLayer("moved-line") ? "moved-line" : undefined;
        map.addLayer({id: "borders", type: "line", source: "borders", paint: {
          "line-color": "#1f2d3d", "line-width": ["interpolate", ["linear"], ["zoom"], 10, 1.4, 15, 2.6],
          "line-opacity": 0.9}}, above);
      }
      map.setLayoutProperty("borders", "visibility", "visible");
      st.borders = geo.features.length;
    }).catch(function (err) { console.error(err); });
  }

  function highlight(st, divId) {
    // Outline the units of payload.highlight (a rebalancer proposal's moves) on the map.
    const idx = st.payload.highlight || [];
    const feats = idx.map(function (i) { return st.geo.features[i]; }).filter(Boolean);
    if (st.map.getSource("moved")) {
      st.map.getSource("moved").setData({type: "FeatureCollection", features: feats});
    }
    document.getElementById(divId).dataset.highlighted = String(feats.length);
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

  function bbox(geo) {
    let w = 180, s = 90, e = -180, n = -90;
    function walk(c) {
      if (typeof c[0] === "number") {
        if (c[0] < w) { w = c[0]; } if (c[0] > e) { e = c[0]; }
        if (c[1] < s) { s = c[1]; } if (c[1] > n) { n = c[1]; }
      } else { for (let i = 0; i < c.length; i++) { walk(c[i]); } }
    }
    geo.features.forEach(function (f) { if (f.geometry) { walk(f.geometry.coordinates); } });
    geo.bbox = [w, s, e, n];
    return geo.bbox;
  }

  function focus(divId, f) {
    const st = maps[divId];
    if (!st) { return; }
    if (!st.ready || (f.url && f.url !== st.url)) { st.pendingFocus = f; return; }
    st.pendingFocus = null;
    st.map.fitBounds(f.bbox, {padding: 60, maxZoom: 17, animate: false});
    if (f.index !== undefined && f.index !== null) { select(divId, f.index); }
    st.stats.focus = {unit_id: f.unit_id, zoom: st.map.getZoom(), ts: f.ts};
    document.getElementById(divId).dataset.focused = String(f.unit_id);
  }

  function featureCount(divId) {
    const st = maps[divId];
    if (!st || !st.ready) { return -1; }
    const seen = new Set();
    for (let k = 0; k < PARTS; k++) {
      st.map.querySourceFeatures("units-" + k).forEach(function (f) { seen.add(f.id); });
    }
    return seen.size;
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

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    gridmap: {
      render: function (payload, divId) {
        if (!payload) { return window.dash_clientside.no_update; }
        let st = maps[divId];
        if (st && st.map.getContainer() !== document.getElementById(divId)) {
          st.map.remove();  // the page was re-rendered: its old map is detached
          delete maps[divId];
          st = null;
        }
        st = st || create(divId, payload);
        if (!st) { return window.dash_clientside.no_update; }
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
