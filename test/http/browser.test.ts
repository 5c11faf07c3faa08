import t from 'tap';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startHttpDaemon } from './fixtures/harness.js';
import { startDaemon } from '../helpers/daemon.js';

/** Debian's chromium; MOSAICD_CHROMIUM points elsewhere (another install, or a missing path to try the skip). */
const CHROMIUM = process.env.MOSAICD_CHROMIUM ?? '/usr/bin/chromium';

interface ViewerState {
  clientId: string;
  loaded: number;
  errors: number;
  loading: boolean;
  viewport: { z: number; minX: number; minY: number; maxX: number; maxY: number } | null;
  viewportStatus: number | string | null;
  viewportsSent: number;
}

declare global {
  interface Window {
    mosaicd: ViewerState;
    map: { getZoom(): number; setView(center: [number, number], z: number, o?: object): void };
  }
}

// CI installs chromium (.ci/run): a missing browser there is a failure; locally it is a skip.
const missing = !existsSync(CHROMIUM);
const skip = missing && !process.env.CI ? `${CHROMIUM} is missing: skipping the browser test (apt-get install chromium)` : false;

t.test('the viewer shows tiles, pans and zooms, and tells the daemon its viewport', { timeout: 60_000, skip }, async (t) => {
  if (missing) {
    t.fail(`${CHROMIUM} is missing (CI is set): the browser test cannot run`);
    return;
  }
  const h = await startHttpDaemon(t, { maxZoom: 8 });
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  const page: Page = await browser.newPage({ viewport: { width: 1024, height: 640 } });

  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()} (${msg.location().url})`);
  });
  /** Tile path → HTTP status, for every tile response the page got. */
  const tiles = new Map<string, number>();
  const tileQueries = new Set<string>();
  page.on('response', (res) => {
    const url = new URL(res.url());
    if (!url.pathname.startsWith('/tiles/')) return;
    tiles.set(url.pathname, res.status());
    tileQueries.add(url.search);
  });
  const viewportPosts: unknown[] = [];
  page.on('request', (req) => {
    if (new URL(req.url()).pathname === '/viewport') viewportPosts.push(req.postDataJSON());
  });

  const keyOf = (v: ViewerState['viewport']) => (v ? `${v.z}/${v.minX}/${v.minY}/${v.maxX}/${v.maxY}` : '');
  /**
   * Waits until the page shows a view at zoom `z` (and not the view `not`),
   * has posted it (answered 204) and has loaded every tile of it. Returns the
   * page state and the tiles loaded in the page.
   */
  const settled = async (want: { z: number; not?: string }) => {
    await page.waitForFunction(
      ({ z, not }) => {
        const s = window.mosaicd;
        const v = s.viewport;
        return (
          v !== null &&
          v.z === z &&
          [v.z, v.minX, v.minY, v.maxX, v.maxY].join('/') !== not &&
          s.viewportStatus === 204 &&
          !s.loading &&
          document.querySelectorAll('img.leaflet-tile-loaded').length > 0
        );
      },
      { z: want.z, not: want.not ?? '' },
      { timeout: 40_000 },
    );
    return page.evaluate(() => ({
      state: window.mosaicd,
      loaded: Array.from(document.querySelectorAll('img.leaflet-tile-loaded'), (img) => new URL((img as HTMLImageElement).src).pathname),
    }));
  };
  /** The daemon holds the page's viewport for its client id; every tile of the viewport is loaded in the page. */
  const checkView = ({ state: s, loaded }: { state: ViewerState; loaded: string[] }, label: string) => {
    const v = s.viewport!;
    t.same(h.daemon.scheduler.viewportOf(`http:${s.clientId}`), v, `${label}: the daemon has the page's viewport`);
    const have = new Set(loaded);
    const missing: string[] = [];
    for (let y = v.minY; y <= v.maxY; y++) {
      for (let x = v.minX; x <= v.maxX; x++) {
        const path = `/tiles/${v.z}/${x}/${y}.png`;
        if (!have.has(path) || tiles.get(path) !== 200) missing.push(path);
      }
    }
    t.same(missing, [], `${label}: every tile of z${v.z} x ${v.minX}–${v.maxX} y ${v.minY}–${v.maxY} was served (200) and loaded`);
    t.equal(s.errors, 0, `${label}: no tile errors`);
  };

  /** A screenshot once Leaflet's fade-in is over (every tile fully opaque). */
  const screenshot = async (path: string) => {
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('img.leaflet-tile-loaded')).every((img) => getComputedStyle(img).opacity === '1'),
    );
    await page.screenshot({ path });
  };

  // 1. The initial view (zoom 2).
  await page.goto(`${h.base}/`);
  let view = await settled({ z: 2 });
  const clientId = view.state.clientId;
  t.ok(view.state.loaded > 0, `${view.state.loaded} tiles loaded`);
  const v0 = view.state.viewport!;
  t.same(viewportPosts[0], { client_id: clientId, z: 2, min_x: v0.minX, min_y: v0.minY, max_x: v0.maxX, max_y: v0.maxY }, 'the first POST');
  checkView(view, 'initial');
  await screenshot('/tmp/mosaicd-viewer-initial.png');

  // 2. Zoom in with the + control.
  await page.click('.leaflet-control-zoom-in');
  view = await settled({ z: 3 });
  checkView(view, 'zoomed');

  // 3. Pan with the mouse: drag the map left and up, showing tiles to the east and south
  //    (not across the antimeridian, where the page sends the full width).
  const before = keyOf(view.state.viewport);
  const seen = new Set(tiles.keys());
  const newTile = page.waitForResponse((r) => r.url().includes('/tiles/3/') && !seen.has(new URL(r.url()).pathname));
  await page.mouse.move(700, 400);
  await page.mouse.down();
  await page.mouse.move(500, 330, { steps: 8 });
  await page.mouse.move(300, 250, { steps: 8 });
  await page.mouse.up();
  t.equal((await newTile).status(), 200, 'a tile of the new view arrived');
  view = await settled({ z: 3, not: before });
  t.not(keyOf(view.state.viewport), before, 'the viewport moved');
  checkView(view, 'panned');

  // 4. Jump by script (window.map) to central Europe at zoom 5.
  await page.evaluate(() => window.map.setView([48, 10], 5, { animate: false }));
  view = await settled({ z: 5 });
  checkView(view, 'zoom 5');
  await screenshot('/tmp/mosaicd-viewer-zoom5.png');

  t.same([...tileQueries], [`?c=${clientId}`], 'every tile request carries the page client id');
  t.same([...tiles.values()].filter((status) => status !== 200), [], 'every tile response was 200');
  const status = await page.textContent('#status');
  t.match(status, /tiles loaded \d+ · viewport z5 x \d+–\d+ y \d+–\d+ \(204\)/, `status line: ${status}`);
  t.same(problems, [], 'no page errors');
  t.ok(viewportPosts.length >= 4, `${viewportPosts.length} viewport posts`);
  t.comment('screenshots: /tmp/mosaicd-viewer-initial.png, /tmp/mosaicd-viewer-zoom5.png');
});


t.test('with two maps the viewer offers both, switches between them, and reports its viewport with the map', { timeout: 90_000, skip }, async (t) => {
  if (missing) {
    t.fail(`${CHROMIUM} is missing (CI is set): the browser test cannot run`);
    return;
  }
  // The daemon's own HTTP server, as `serve --http-port` runs it: map "big" is 512 px truecolour.
  const h = await startDaemon(t, { maxZoom: 8, httpPort: 0, concurrency: 1, maps: [{ name: 'big', tileSize: 512, palette: false }] }, { listener: false });
  const base = `http://127.0.0.1:${h.daemon.httpAddress()!.port}`;
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  const page: Page = await browser.newPage({ viewport: { width: 800, height: 500 } });
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  const tiles = new Map<string, number>();
  page.on('response', (res) => {
    const url = new URL(res.url());
    if (url.pathname.startsWith('/tiles/')) tiles.set(url.pathname, res.status());
  });
  const viewportPosts: Array<Record<string, unknown>> = [];
  page.on('request', (req) => {
    if (new URL(req.url()).pathname === '/viewport') viewportPosts.push(req.postDataJSON() as Record<string, unknown>);
  });
  /** Waits until the page shows `map`, has posted its view (204) and has loaded its tiles. */
  const settled = (map: string) =>
    page.waitForFunction(
      (want) => {
        const s = (window as unknown as { mosaicd: ViewerState & { map: string } }).mosaicd;
        return s.map === want && s.viewport !== null && s.viewportStatus === 204 && !s.loading && document.querySelectorAll('img.leaflet-tile-loaded').length > 0;
      },
      map,
      { timeout: 60_000 },
    );
  const state = () => page.evaluate(() => (window as unknown as { mosaicd: ViewerState & { map: string; maps: string[] } }).mosaicd);

  await page.goto(`${base}/`);
  await settled('default');
  let s = await state();
  t.same(s.maps, ['default', 'big'], 'the page lists both maps');
  t.same(await page.locator('.leaflet-control-layers-base label').allTextContents().then((l) => l.map((x) => x.trim())), ['default', 'big'], 'the layer control offers both');
  t.same(h.daemon.scheduler.viewportOf(`http:${s.clientId}`), s.viewport, 'the default map\'s viewport has no map, as before');
  t.notOk('map' in viewportPosts[0]!, 'and its POST has no map field');

  await page.click('.leaflet-control-layers-base label:has-text("big")');
  await settled('big');
  s = await state();
  const v = s.viewport!;
  t.same(h.daemon.scheduler.viewportOf(`http:${s.clientId}`), { ...v, map: 'big' }, 'after the switch the daemon has the viewport on map big');
  t.equal(viewportPosts.at(-1)!['map'], 'big', 'the POST names the map');
  t.equal(v.z, 1, 'map big has 512 px tiles: tile zoom 1 at map zoom 2');
  const bigTiles = [...tiles].filter(([p]) => p.startsWith('/tiles/big/'));
  t.ok(bigTiles.length > 0 && bigTiles.every(([, status]) => status === 200), `${bigTiles.length} tiles of map big served`);
  t.match(await page.textContent('#status'), /^map big · tiles loaded/);
  await page.waitForFunction(() => Array.from(document.querySelectorAll('img.leaflet-tile-loaded')).every((img) => getComputedStyle(img).opacity === '1'));
  await page.screenshot({ path: '/tmp/mosaicd-viewer-big.png' });

  await page.click('.leaflet-control-layers-base label:has-text("default")');
  await settled('default');
  s = await state();
  t.same(h.daemon.scheduler.viewportOf(`http:${s.clientId}`), s.viewport, 'and back on the default map');
  t.same(problems, [], 'no page errors');
});
