/* gridmap dashboard, national page: a national result from vector tiles, coloured by feature state.
 *
 * One vector source per layer (district roll-ups, communities, grids; /tiles/<layer>/{z}/{x}/{y}.pbf),
 * each shown in its zoom range. The values store holds per layer a string of class digits
 * ("0"…"9", "/" = no data) indexed by feature id, a palette and a legend. With millions of
 * grids, feature state is set only for the features of the loaded tiles, again whenever new
 * tiles arrive: the work follows what is on screen, not the size of the country.
 */
(function () {
  "use strict";
  const maps = {};  // div id -> state

  function setClick(divId, data) {
    if (window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props(divId + "-click", {data: data});
    }
  }

  function absolute(t) { return t.charAt(0) === "/" ? window.location.origin + t : t; }

  function create(divId) {
    const el = document.getElementById(divId);
    if (!el || typeof maplibregl === "undefined") { return null; }
    const meta = JSON.parse(el.dataset.meta);
    const map = new maplibregl.Map({
      // no paint transitions (as the study map): MapLibre's default 300 ms would redraw the
      // whole layer for several frames on every recolour
      container: el, style: {version: 8, sources: {}, transition: {duration: 0, delay: 0}, layers: [
        {id: "bg", type: "background", paint: {"background-color": "#f3f3ef"}}]},
      bounds: meta.bounds, fitBoundsOptions: {padding: 20}, attributionControl: false, fadeDuration: 0,
    });
    map.addControl(new maplibregl.NavigationControl({showCompass: false}), "top-right");
    const st = {map: map, meta: meta, payload: null, loaded: false, version: 0, painted: {}, stats: {created: performance.now()},
                pending: false};
    const fills = meta.layers.map(function (l) { return "nat-" + l.name; });
    map.on("load", function () {
      meta.layers.forEach(function (l) {
        map.addSource("nat-" + l.name, {type: "vector", tiles: [absolute(l.tiles)], minzoom: l.tilesMin, maxzoom: 14});
        map.addLayer({id: "nat-" + l.name, type: "fill", source: "nat-" + l.name, "source-layer": l.name,
                      minzoom: l.minzoom, maxzoom: l.maxzoom, paint: {
                        "fill-color": ["to-color", ["coalesce", ["feature-state", "color"], "#e0e0e0"]],
                        "fill-opacity": 0.85, "fill-outline-color": "#ffffff"}});
      });
      st.loaded = true;
      paint(divId, true);
    });
    map.on("sourcedata", function (e) {
      if (e.tile && String(e.sourceId).indexOf("nat-") === 0) { schedule(divId); }
    });
    map.on("moveend", function () { schedule(divId); });
    const popup = new maplibregl.Popup({closeButton: false, closeOnClick: false, className: "gm-popup"});
    map.on("mousemove", fills, function (e) {
      if (!e.features.length || !st.payload) { return; }
      const f = e.features[0], name = f.layer.id.slice(4), part = st.payload.layers[name];
      const c = part ? part.c.charCodeAt(f.id) - 48 : -1;
      const label = c >= 0 && part.legend[c] ? part.legend[c].label : "";
      map.getCanvas().style.cursor = "pointer";
      const div = document.createElement("div");
      const b = document.createElement("b"); b.textContent = f.properties.name || f.properties.code; div.appendChild(b);
      div.appendChild(document.createElement("br"));
      div.appendChild(document.createTextNode(label));
      popup.setLngLat(e.lngLat).setDOMContent(div).addTo(map);
      el.dataset.hover = (f.properties.name || f.properties.code) + " | " + label;
    });
    map.on("mouseleave", fills, function () { map.getCanvas().style.cursor = ""; popup.remove(); });
    map.on("click", fills, function (e) {
      if (!e.features.length) { return; }
      const f = e.features[0];
      setClick(divId, {layer: f.layer.id.slice(4), index: f.id, code: f.properties.code, ts: Date.now()});
    });
    maps[divId] = st;
    return st;
  }

  function schedule(divId) {
    const st = maps[divId];
    if (!st || st.pending) { return; }
    st.pending = true;
    requestAnimationFrame(function () { st.pending = false; paint(divId, false); });
  }

  function shown(st, l) {
    const z = st.map.getZoom();
    return z >= l.minzoom && z < l.maxzoom;
  }

  function paint(divId, fresh) {
    // Set the colour of every feature of the loaded tiles whose colour is not this payload's yet.
    const st = maps[divId];
    if (!st || !st.loaded || !st.payload) { return; }
    const p = st.payload, map = st.map, t0 = performance.now();
    let n = 0;
    st.meta.layers.forEach(function (l) {
      const part = p.layers[l.name];
      if (!part || !shown(st, l)) { return; }
      let done = st.painted[l.name];
      if (!done || done.version !== p.version) { done = st.painted[l.name] = {version: p.version, ids: new Set()}; }
      const target = {source: "nat-" + l.name, sourceLayer: l.name, id: 0};
      map.querySourceFeatures("nat-" + l.name, {sourceLayer: l.name}).forEach(function (f) {
        if (done.ids.has(f.id)) { return; }
        done.ids.add(f.id);
        const c = part.c.charCodeAt(f.id) - 48;
        target.id = f.id;
        map.setFeatureState(target, {color: c >= 0 ? part.palette[c] : p.nodata});
        n += 1;
      });
    });
    if (fresh) {
      st.version += 1;
      const v = st.version;
      map.once("idle", function () {
        st.stats.lastPaint = {version: v, idle_ms: performance.now() - t0, at: performance.now(), set: n};
        document.getElementById(divId).dataset.painted = String(v);
      });
      map.triggerRepaint();
    }
  }

  function featureCount(divId, layer) {
    const st = maps[divId];
    if (!st || !st.loaded) { return -1; }
    const seen = new Set();
    st.map.querySourceFeatures("nat-" + layer, {sourceLayer: layer}).forEach(function (f) { seen.add(f.id); });
    return seen.size;
  }

  function colorOf(divId, layer, id) {
    const st = maps[divId];
    const s = st && st.map.getFeatureState({source: "nat-" + layer, sourceLayer: layer, id: id});
    return s ? s.color || null : null;
  }

  window.gridmapNational = {maps: maps, featureCount: featureCount, colorOf: colorOf};

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    gridmap_national: {
      render: function (payload, divId) {
        if (!payload) { return window.dash_clientside.no_update; }
        let st = maps[divId];
        if (st && st.map.getContainer() !== document.getElementById(divId)) {
          st.map.remove();
          delete maps[divId];
          st = null;
        }
        st = st || create(divId);
        if (!st) { return window.dash_clientside.no_update; }
        st.payload = payload;
        st.stats.values_at = performance.now();
        paint(divId, true);
        return payload.version;
      },
    },
  });
})();
