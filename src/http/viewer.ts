/**
 * The viewer page served at `/`: a full-window Leaflet map of the daemon's
 * tiles. Leaflet itself is served from the npm package under /static/ (no
 * CDN). The page picks a random client id, sends it with every tile request
 * (`?c=ID`: Leaflet cannot set headers on tile images) and POSTs the tile
 * range it shows to /viewport after each move or zoom, so the daemon renders
 * what is on screen first. With several maps, a layer control switches
 * between them; the viewport then names the map shown.
 */

/** A map the viewer offers. */
export interface ViewerMap {
  readonly name: string;
  readonly tileSize: number;
  readonly minZoom: number;
  readonly maxZoom: number;
}

export interface ViewerSettings {
  /** Highest tile zoom the daemon renders (of the default map). */
  maxZoom: number;
  /** Tile size in pixels (256 or 512) of the default map. */
  tileSize: number;
  /** Every map, the default first; absent: the default map alone. */
  maps?: readonly ViewerMap[];
}

/** JSON fit for a double-quoted HTML attribute. */
function attributeJson(value: unknown): string {
  return JSON.stringify(value).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

export function viewerHtml(s: ViewerSettings): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mosaicd</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/leaflet.css">
<link rel="stylesheet" href="/static/viewer.css">
</head>
<body data-max-zoom="${Math.trunc(s.maxZoom)}" data-tile-size="${Math.trunc(s.tileSize)}" data-maps="${attributeJson(
    (s.maps ?? []).map((m) => ({ name: m.name, tileSize: Math.trunc(m.tileSize), minZoom: Math.trunc(m.minZoom), maxZoom: Math.trunc(m.maxZoom) })),
  )}">
<div id="map"></div>
<div id="status" role="status">starting…</div>
<script src="/static/leaflet.js"></script>
<script src="/static/viewer.js"></script>
</body>
</html>
`;
}

export const VIEWER_CSS = `html, body, #map { height: 100%; margin: 0; }
body { background: #dfe9f0; }
#status {
  position: absolute; left: 8px; bottom: 8px; z-index: 1000;
  padding: 2px 6px; border-radius: 3px;
  background: rgba(255, 255, 255, 0.85); color: #222;
  font: 12px/1.5 system-ui, sans-serif; pointer-events: none;
}
`;

/** Plain browser JavaScript (no build step); runs after leaflet.js. */
export const VIEWER_JS = `(function () {
  'use strict';
  var data = document.body.dataset;
  // Every map, the default first; each has its own tile size and zooms.
  var maps = JSON.parse(data.maps || '[]');
  if (!maps.length) maps = [{ name: 'default', tileSize: Number(data.tileSize), minZoom: 0, maxZoom: Number(data.maxZoom) }];
  var statusEl = document.getElementById('status');

  var bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes); // works on plain http too, unlike crypto.randomUUID
  var clientId = Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join('');

  // Read by tests and handy in the console: window.mosaicd, window.map.
  var state = { clientId: clientId, map: maps[0].name, maps: maps.map(function (m) { return m.name; }), loaded: 0, errors: 0, loading: false, viewport: null, viewportStatus: null, viewportsSent: 0 };
  window.mosaicd = state;

  function sizeOf(m) { return Number(m.tileSize) === 512 ? 512 : 256; }
  // A 512 px tile at zoom z covers what four 256 px tiles cover at z + 1.
  function offsetOf(m) { return sizeOf(m) === 512 ? -1 : 0; }

  var minView = Infinity;
  var maxView = -Infinity;
  maps.forEach(function (m) {
    minView = Math.min(minView, m.minZoom - offsetOf(m));
    maxView = Math.max(maxView, m.maxZoom - offsetOf(m));
  });
  var map = L.map('map', { minZoom: minView, maxZoom: maxView, worldCopyJump: true });
  window.map = map;
  // Map zoom 2 (the world about 1024 px wide) whatever the tile size, within the zooms there are tiles for.
  map.setView([20, 0], Math.max(minView, Math.min(2, maxView)));

  var current = maps[0];
  var tileSize = sizeOf(current);
  var zoomOffset = offsetOf(current);
  var layers = {};
  var layer = null;
  maps.forEach(function (m, i) {
    // The default map keeps its old URL; the others are /tiles/NAME/...
    var l = L.tileLayer((i === 0 ? '/tiles' : '/tiles/' + m.name) + '/{z}/{x}/{y}.png?c={c}', {
      c: clientId,
      tileSize: sizeOf(m),
      zoomOffset: offsetOf(m),
      minZoom: m.minZoom - offsetOf(m),
      maxZoom: m.maxZoom - offsetOf(m),
      attribution: 'mosaicd · ' + m.name,
    });
    l.mosaicdMap = m;
    l.on('tileload', function () { state.loaded++; showStatus(); });
    l.on('tileerror', function () { state.errors++; showStatus(); });
    // 'loading' … 'load': tiles of the current view are on their way; 'load' = all of them are in.
    l.on('loading', function () { state.loading = true; });
    l.on('load', function () { state.loading = false; });
    layers[m.name] = l;
    if (i === 0) layer = l;
  });
  if (maps.length > 1) {
    L.control.layers(layers, null, { collapsed: false }).addTo(map);
    map.on('baselayerchange', function (e) {
      current = e.layer.mosaicdMap;
      tileSize = sizeOf(current);
      zoomOffset = offsetOf(current);
      state.map = current.name;
      lastKey = '';
      sendViewport();
    });
  }

  function showStatus() {
    var v = state.viewport;
    var text = (maps.length > 1 ? 'map ' + state.map + ' · ' : '') + 'tiles loaded ' + state.loaded + (state.errors ? ' · errors ' + state.errors : '');
    if (v) {
      text += ' · viewport z' + v.z + ' x ' + v.minX + '–' + v.maxX + ' y ' + v.minY + '–' + v.maxY;
      if (state.viewportStatus !== null) text += ' (' + state.viewportStatus + ')';
    }
    statusEl.textContent = text;
  }

  /** The tile range on screen at the current zoom, clamped to the grid; null when off the map. */
  function tileRange() {
    var z = Math.round(map.getZoom()) + zoomOffset;
    var n = Math.pow(2, z);
    var b = map.getPixelBounds();
    // The same range Leaflet loads (GridLayer._pxBoundsToTileRange).
    var minY = Math.floor(b.min.y / tileSize);
    var maxY = Math.ceil(b.max.y / tileSize) - 1;
    if (maxY < 0 || minY >= n) return null;
    minY = Math.max(0, minY);
    maxY = Math.min(n - 1, maxY);
    var minX = Math.floor(b.min.x / tileSize);
    var maxX = Math.ceil(b.max.x / tileSize) - 1;
    if (maxX - minX + 1 >= n) {
      minX = 0;
      maxX = n - 1;
    } else {
      // The world repeats sideways: wrap; a view across the antimeridian sends the full width.
      minX = ((minX % n) + n) % n;
      maxX = ((maxX % n) + n) % n;
      if (minX > maxX) { minX = 0; maxX = n - 1; }
    }
    return { z: z, minX: minX, minY: minY, maxX: maxX, maxY: maxY };
  }

  var sending = false;
  var again = false;
  var lastKey = '';

  /** One POST at a time, always of the view as it is when the POST starts. */
  function sendViewport() {
    if (sending) { again = true; return Promise.resolve(); }
    sending = true;
    function next() {
      again = false;
      var v = tileRange();
      var key = v ? [current.name, v.z, v.minX, v.minY, v.maxX, v.maxY].join('/') : '';
      if (!v || key === lastKey) return Promise.resolve();
      lastKey = key;
      state.viewport = v;
      state.viewportStatus = null;
      showStatus();
      return fetch('/viewport', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-mosaicd-client': clientId },
        body: JSON.stringify(viewportBody(v)),
      }).then(function (r) {
        state.viewportStatus = r.status;
        if (!r.ok) lastKey = '';
      }, function () {
        state.viewportStatus = 'failed';
        lastKey = '';
      }).then(function () {
        state.viewportsSent++;
        showStatus();
      });
    }
    function loop() {
      return next().then(function () { return again ? loop() : undefined; });
    }
    return loop().then(function () { sending = false; }, function () { sending = false; });
  }

  /** The POST /viewport body; the default map's has no map field, as before there were maps. */
  function viewportBody(v) {
    var body = { client_id: clientId, z: v.z, min_x: v.minX, min_y: v.minY, max_x: v.maxX, max_y: v.maxY };
    if (current !== maps[0]) body.map = current.name;
    return body;
  }

  map.on('moveend zoomend', sendViewport);
  // Tell the daemon what we show before asking for the first tiles, so they come first.
  sendViewport().then(function () { layer.addTo(map); });
  showStatus();
})();
`;
