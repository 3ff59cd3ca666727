// End-to-end test of the map page at `/` in headless Chromium (Debian's `chromium`, driven by
// playwright-core), against a running lifecircle server.
//
//   node page_e2e.mjs --base http://127.0.0.1:PORT --out DIR [--facility JSON] [--device LON,LAT]
//                     [--missing-maplibre | --basemap-switch | --standalone]
//
// --facility: {"id", "lon", "lat", "name"} of a facility whose name looks like HTML; the search
// must find it, and its popup must show the name as text. --device: the position the browser
// reports (geolocation granted); distances are measured from it. --missing-maplibre: the server
// lacks MapLibre GL JS; the page must still load and say what is missing. --basemap-switch:
// the server has an external basemap style configured; the page must draw it and switch to its
// own, keeping the category filter. --standalone: the server is a copied binary in an empty
// folder; the map must be drawn from the MapLibre GL JS built into it.
//
// Prints one JSON object {ok, steps: [{name, ok, detail}], stored, console_errors,
// failed_requests} (`stored.feedback`: the reports the page sent, for the caller to find in the
// store) and
// exits 0 when every step passed, 1 when one failed, 3 when Chromium could not be started.
// Screenshots go to DIR (desktop.png, phone.png, and a few more for looking at).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--ignore-gpu-blocklist',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-extensions',
  '--no-proxy-server',
];
const STEP_TIMEOUT_MS = 30000;

function parseArgs(argv) {
  const opts = { base: null, out: null, facility: null, device: null, missingMaplibre: false, basemapSwitch: false, standalone: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--base') opts.base = argv[++i].replace(/\/$/, '');
    else if (arg === '--out') opts.out = argv[++i];
    else if (arg === '--facility') opts.facility = JSON.parse(argv[++i]);
    else if (arg === '--device') opts.device = argv[++i].split(',').map(Number);
    else if (arg === '--missing-maplibre') opts.missingMaplibre = true;
    else if (arg === '--standalone') opts.standalone = true;
    else if (arg === '--basemap-switch') opts.basemapSwitch = true;
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!opts.base || !opts.out) throw new Error('usage: node page_e2e.mjs --base URL --out DIR [--facility JSON] [--device LON,LAT] [--missing-maplibre | --basemap-switch]');
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
fs.mkdirSync(opts.out, { recursive: true });
const steps = [];
/** What the steps stored on the server, for the caller to look up: {feedback: [...]}. */
const stored = { feedback: [] };
const consoleErrors = [];
const failedRequests = [];

async function step(name, fn) {
  const started = Date.now();
  try {
    const detail = await fn();
    steps.push({ name, ok: true, ms: Date.now() - started, detail: detail ?? null });
    return true;
  } catch (error) {
    steps.push({ name, ok: false, ms: Date.now() - started, detail: String(error && error.stack ? error.stack : error) });
    return false;
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

const executablePath =
  process.env.CHROMIUM_PATH || ['/usr/bin/chromium', '/usr/lib/chromium/chromium'].find((p) => fs.existsSync(p));
if (!executablePath) {
  console.log(JSON.stringify({ ok: false, error: 'no Chromium: apt-get install chromium, or set CHROMIUM_PATH' }));
  process.exit(3);
}

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifecircle-e2e-'));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
    locale: 'zh-CN',
    timeout: 60000,
    ...(opts.device
      ? { permissions: ['geolocation'], geolocation: { longitude: opts.device[0], latitude: opts.device[1] } }
      : {}),
  });
} catch (error) {
  fs.rmSync(userDataDir, { recursive: true, force: true });
  console.log(JSON.stringify({ ok: false, error: `Chromium failed to start: ${String(error.message).split('\n')[0]}` }));
  process.exit(3);
}

/** A page that records its console errors, page errors and failed requests under `label`. */
async function openPage(label, viewport, extra = {}) {
  const page = extra.page || (await context.newPage());
  await page.setViewportSize(viewport);
  page.on('console', (msg) => {
    // SwiftShader's note when the canvas is read back is not an error of the page.
    if (msg.type() === 'error' && !/GPU stall due to ReadPixels/.test(msg.text())) {
      consoleErrors.push({ page: label, text: msg.text(), url: msg.location()?.url });
    }
  });
  page.on('pageerror', (error) => consoleErrors.push({ page: label, text: String(error.message) }));
  page.on('requestfailed', (request) => {
    const failure = request.failure()?.errorText;
    // MapLibre cancels the tile requests a view change made unnecessary; that is not a failure.
    if (failure === 'net::ERR_ABORTED') return;
    failedRequests.push({ page: label, url: request.url(), failure });
  });
  page.on('response', (response) => {
    if (response.status() >= 400) failedRequests.push({ page: label, url: response.url(), status: response.status() });
  });
  return page;
}

/** Waits until the page's map has rendered everything it asked for. */
async function settle(page) {
  await page.waitForFunction(() => window.lifecircle && (window.lifecircle.ready || window.lifecircle.error), null, {
    timeout: STEP_TIMEOUT_MS,
  });
  const error = await page.evaluate(() => window.lifecircle.error);
  assert(!error, `page failed: ${error}`);
  await page.evaluate(async () => {
    const map = window.lifecircle.map;
    for (;;) {
      map.triggerRepaint();
      await map.once('idle');
      if (map.loaded() && map.areTilesLoaded() && !map.isMoving()) return;
    }
  });
}

/** Facilities and clusters rendered now: [{layer, category, cluster, counts, id, name}]. */
function rendered(page) {
  return page.evaluate(() => {
    const map = window.lifecircle.map;
    const layers = map.getStyle().layers.filter((l) => l.source === 'facilities').map((l) => l.id);
    return map.queryRenderedFeatures({ layers }).map((f) => ({
      layer: f.layer.id,
      id: f.properties.id ?? f.id,
      name: f.properties.name ?? null,
      category: f.properties.category,
      cluster: !!f.properties.cluster,
      point_count: f.properties.point_count ?? 1,
      counts: Object.fromEntries(Object.entries(f.properties).filter(([k]) => k.startsWith('n_'))),
    }));
  });
}

/** Does any rendered feature show category `id` (a facility of it, or a cluster counting it)? */
function shows(features, id) {
  return features.filter((f) => (f.cluster ? (f.counts[`n_${id}`] || 0) > 0 : f.category === id));
}

const shot = (page, name) => page.screenshot({ path: path.join(opts.out, name) });

/** Ground distance in metres (haversine), to check the distances the page shows. */
function haversineM([lon1, lat1], [lon2, lat2]) {
  const rad = Math.PI / 180;
  const a = Math.sin(((lat2 - lat1) * rad) / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(a));
}

/** "350 米" / "1.2 公里" / "350 m" / "1.2 km" → metres. */
function parseDistance(text) {
  const m = /([\d.]+)\s*(米|公里|m|km)/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === '公里' || m[2] === 'km' ? 1000 : 1);
}

if (opts.missingMaplibre) {
  const page = await openPage('missing', { width: 1280, height: 800 });
  await step('page loads without MapLibre GL JS and says what is missing and how to add it', async () => {
    const hint = (await (await fetch(`${opts.base}/assets/config.json`)).json()).maplibre.install_hint;
    assert(typeof hint === 'string' && hint.length > 0, 'config.json has no install_hint');
    await page.goto(`${opts.base}/`, { waitUntil: 'load' });
    await page.waitForSelector('.maplibre-missing', { state: 'visible', timeout: STEP_TIMEOUT_MS });
    const text = await page.textContent('#notice');
    assert(text.includes(hint), `notice lacks the server's message: ${text}`);
    const asked = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name));
    assert(!asked.some((u) => u.includes('/assets/maplibre-gl/')), 'page requested the missing MapLibre files');
    assert(!(await page.isVisible('#panel')) && !(await page.isVisible('#search-input')), 'map controls shown without a map');
    assert(consoleErrors.length === 0, `console errors: ${JSON.stringify(consoleErrors)}`);
    await shot(page, 'missing-maplibre.png');
    return { notice: text };
  });
} else if (opts.standalone) {
  const page = await openPage('standalone', { width: 1280, height: 800 });
  await step('standalone binary: the map is drawn from the built-in MapLibre GL JS, tiles loaded, no install message', async () => {
    await page.goto(`${opts.base}/`, { waitUntil: 'load' });
    await settle(page);
    assert(!(await page.isVisible('.maplibre-missing')), 'the page shows the missing-MapLibre notice');
    const notice = (await page.isVisible('#notice')) ? await page.textContent('#notice') : '';
    assert(!/npm|install|MapLibre/i.test(notice), `the page shows a notice about MapLibre: ${notice}`);
    const loaded = await page.evaluate(() => ({ tiles: window.lifecircle.map.areTilesLoaded(), style: window.lifecircle.map.isStyleLoaded() }));
    assert(loaded.tiles && loaded.style, `map not loaded: ${JSON.stringify(loaded)}`);
    const features = await rendered(page);
    assert(features.length > 0, 'no facility rendered');
    // The canvas holds a drawn map: read its pixels right after a frame and count the colours.
    const colours = await page.evaluate(
      () =>
        new Promise((resolve) => {
          const map = window.lifecircle.map;
          map.once('render', () => {
            const canvas = map.getCanvas();
            const gl = canvas.getContext('webgl2') || canvas.getContext('webgl');
            const pixels = new Uint8Array(canvas.width * canvas.height * 4);
            gl.readPixels(0, 0, canvas.width, canvas.height, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
            const seen = new Set();
            for (let i = 0; i < pixels.length; i += 4 * 97) seen.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
            resolve({ width: canvas.width, height: canvas.height, distinct: seen.size });
          });
          map.triggerRepaint();
        }),
    );
    assert(colours.width > 0 && colours.distinct >= 8, `canvas not drawn: ${JSON.stringify(colours)}`);
    const asked = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name));
    assert(asked.some((u) => u.includes('/assets/maplibre-gl/maplibre-gl.mjs')), 'MapLibre GL JS not loaded from the server');
    // Tiles are fetched by MapLibre's worker, outside the page's resource timing: ask the map.
    assert(await page.evaluate(() => window.lifecircle.map.isSourceLoaded('facilities')), 'facility tiles not loaded');
    assert(consoleErrors.length === 0, `console errors: ${JSON.stringify(consoleErrors)}`);
    assert(failedRequests.length === 0, `failed requests: ${JSON.stringify(failedRequests)}`);
    await shot(page, 'standalone.png');
    return { n_rendered: features.length, canvas: colours };
  });
} else if (opts.basemapSwitch) {
  const page = await openPage('basemap', { width: 1280, height: 800 });
  await step('external basemap: drawn under the facilities; switching to the own basemap keeps the filter', async () => {
    await page.goto(`${opts.base}/`, { waitUntil: 'load' });
    await settle(page);
    assert(consoleErrors.length === 0, `console errors: ${JSON.stringify(consoleErrors)}`);
    assert((await page.inputValue('#basemap-select')) === 'external', 'the external basemap is not the one shown');
    assert((await rendered(page)).length > 0, 'no facility over the external basemap');
    const target = await page.getAttribute('.chip', 'data-category');
    await page.click(`.chip[data-category="${target}"]`);
    await settle(page);
    await page.selectOption('#basemap-select', 'own');
    await page.waitForFunction(() => window.lifecircle.map.isStyleLoaded(), null, { timeout: STEP_TIMEOUT_MS });
    await settle(page);
    const after = await rendered(page);
    assert(after.length > 0, 'no facility after switching basemaps');
    assert(shows(after, target).length === 0, `${target} came back after switching basemaps`);
    const url = await page.evaluate(() => window.lifecircle.map.getSource('facilities').url);
    assert(new URL(url).searchParams.get('categories')?.split(',').includes(target) === false, `filter lost: ${url}`);
    const basemapLayers = await page.evaluate(() => window.lifecircle.map.getStyle().layers.filter((l) => l.source === 'basemap').length);
    assert(basemapLayers > 0, 'the own basemap is not drawn');
    return { category_off: target, rendered: after.length };
  });
} else {
  const catalog = await (await fetch(`${opts.base}/catalog`)).json();
  const tilejson = await (await fetch(`${opts.base}/tiles/facilities.json`)).json();
  const page = await openPage('desktop', { width: 1280, height: 800 });

  const loaded = await step('desktop: page loads with no console errors, map fits the data', async () => {
    await page.goto(`${opts.base}/`, { waitUntil: 'load' });
    await settle(page);
    assert(consoleErrors.length === 0, `console errors: ${JSON.stringify(consoleErrors)}`);
    const view = await page.evaluate(() => {
      const b = window.lifecircle.map.getBounds();
      return { west: b.getWest(), south: b.getSouth(), east: b.getEast(), north: b.getNorth(), zoom: window.lifecircle.map.getZoom() };
    });
    const [west, south, east, north] = tilejson.bounds;
    assert(view.west <= west && view.east >= east && view.south <= south && view.north >= north, `view ${JSON.stringify(view)} does not contain the data ${tilejson.bounds}`);
    assert(view.east - view.west < (east - west) * 3, `view ${JSON.stringify(view)} is far wider than the data`);
    return view;
  });

  let defaultFeatures = [];
  if (loaded) {
    await step('desktop: facilities and clusters render at the default view, cluster counts shown', async () => {
      defaultFeatures = await rendered(page);
      assert(defaultFeatures.length > 0, 'queryRenderedFeatures found no facility');
      const categoriesSeen = new Set(defaultFeatures.flatMap((f) => (f.cluster ? Object.keys(f.counts).filter((k) => f.counts[k] > 0).map((k) => k.slice(2)) : [f.category])));
      assert(categoriesSeen.size >= 5, `only ${[...categoriesSeen]} visible`);
      const labels = await page.$$eval('.cluster-count', (nodes) => nodes.map((n) => n.textContent));
      const clusters = defaultFeatures.filter((f) => f.cluster);
      if (clusters.length) {
        assert(labels.length > 0, 'clusters render but no count labels');
        const counts = new Set(clusters.map((f) => String(f.point_count)));
        assert(labels.every((l) => counts.has(l) || /k$/i.test(l)), `labels ${labels} are not cluster counts ${[...counts]}`);
      }
      await shot(page, 'desktop.png');
      return { n_rendered: defaultFeatures.length, n_clusters: clusters.length, n_labels: labels.length, categories: [...categoriesSeen] };
    });

    await step('desktop: category chips come from /catalog, grouped by the five 宜', async () => {
      const chips = await page.$$eval('.chip', (nodes) => nodes.map((n) => ({ id: n.dataset.category, text: n.textContent, pressed: n.getAttribute('aria-pressed') })));
      assert(chips.length === catalog.categories.length, `${chips.length} chips for ${catalog.categories.length} categories`);
      for (const c of catalog.categories) {
        const chip = chips.find((x) => x.id === c.id);
        assert(chip && chip.text.includes(c.label_zh), `chip of ${c.id} lacks ${c.label_zh}`);
        assert(chip.pressed === 'true', `${c.id} is not on at start`);
      }
      const groups = await page.$$eval('.category-group', (nodes) => nodes.map((n) => n.dataset.group));
      for (const g of catalog.groups) assert(groups.includes(g.id), `no group ${g.id}`);
      return { chips: chips.length, groups };
    });

    await step('desktop: turning a category off removes its features, on brings them back', async () => {
      // The category shown most at the default view, by single facilities or cluster counts.
      const score = (id) => shows(defaultFeatures, id).reduce((s, f) => s + (f.cluster ? f.counts[`n_${id}`] : 1), 0);
      const target = catalog.categories.map((c) => c.id).sort((a, b) => score(b) - score(a))[0];
      assert(score(target) > 0, 'no category visible');
      await page.click(`.chip[data-category="${target}"]`);
      assert((await page.getAttribute(`.chip[data-category="${target}"]`, 'aria-pressed')) === 'false', 'chip did not turn off');
      await page.waitForFunction(
        (id) => {
          const list = new URL(window.lifecircle.map.getSource('facilities').url).searchParams.get('categories');
          return list !== null && !list.split(',').includes(id);
        },
        target,
        { timeout: STEP_TIMEOUT_MS },
      );
      await settle(page);
      const without = await rendered(page);
      assert(without.length > 0, 'turning one category off removed everything');
      const left = shows(without, target);
      assert(left.length === 0, `${left.length} features of ${target} still rendered: ${JSON.stringify(left.slice(0, 3))}`);
      const url = await page.evaluate(() => window.lifecircle.map.getSource('facilities').url);
      assert(/[?&]categories=/.test(url), `source URL ${url} is not filtered`);
      await page.click(`.chip[data-category="${target}"]`);
      await page.waitForFunction(() => !window.lifecircle.map.getSource('facilities').url.includes('categories='), null, { timeout: STEP_TIMEOUT_MS });
      await settle(page);
      const back = await rendered(page);
      assert(shows(back, target).length > 0, `${target} did not come back`);
      return { category: target, before: score(target), rendered_without: without.length, filtered_url: url };
    });

    await step('desktop: "none" hides every facility, "all" shows them again', async () => {
      await page.click('#categories-none');
      await settle(page);
      const none = await rendered(page);
      assert(none.length === 0, `${none.length} features rendered with no category on`);
      await page.click('#categories-all');
      await settle(page);
      const all = await rendered(page);
      assert(all.length > 0, 'nothing rendered after "all"');
      return { all: all.length };
    });

    await step('desktop: clicking a cluster zooms in to its expansion zoom', async () => {
      const target = await page.evaluate(() => {
        const map = window.lifecircle.map;
        const clusters = map.queryRenderedFeatures({ layers: ['facility-clusters'] });
        const canvas = map.getCanvas().getBoundingClientRect();
        const inside = clusters
          .map((f) => ({ f, p: map.project(f.geometry.coordinates) }))
          .filter(({ p }) => p.x > 420 && p.x < canvas.width - 80 && p.y > 120 && p.y < canvas.height - 60);
        if (!inside.length) return null;
        const { f, p } = inside[0];
        return { x: p.x + canvas.left, y: p.y + canvas.top, zoom: map.getZoom(), expansion: f.properties.expansion_zoom };
      });
      assert(target, 'no cluster in the clickable part of the view');
      await page.mouse.click(target.x, target.y);
      await page.waitForFunction((z) => window.lifecircle.map.getZoom() > z + 0.5, target.zoom, { timeout: STEP_TIMEOUT_MS });
      await settle(page);
      const zoom = await page.evaluate(() => window.lifecircle.map.getZoom());
      assert(Math.abs(zoom - target.expansion) < 0.01, `zoom ${zoom} is not the expansion zoom ${target.expansion}`);
      return { from: target.zoom, to: zoom };
    });

    if (opts.facility) {
      await step('desktop: a facility named like HTML shows its name as text in its popup', async () => {
        const f = opts.facility;
        await page.evaluate(({ lon, lat }) => window.lifecircle.map.jumpTo({ center: [lon, lat], zoom: 17.5 }), f);
        await settle(page);
        const point = await page.evaluate(({ lon, lat }) => {
          const map = window.lifecircle.map;
          const p = map.project([lon, lat]);
          const r = map.getCanvas().getBoundingClientRect();
          return { x: p.x + r.left, y: p.y + r.top };
        }, f);
        await page.mouse.click(point.x, point.y);
        await page.waitForSelector('.facility-popup .popup-name', { timeout: STEP_TIMEOUT_MS });
        const popup = await page.evaluate(() => {
          const node = document.querySelector('.facility-popup');
          return {
            name: node.querySelector('.popup-name').textContent,
            id: node.querySelector('.popup').dataset.facilityId,
            injected: document.querySelectorAll('.facility-popup b, .facility-popup script, .facility-popup [onerror]').length,
            text: node.textContent,
          };
        });
        assert(popup.name === f.name, `popup shows ${JSON.stringify(popup.name)}, not ${JSON.stringify(f.name)}`);
        assert(String(popup.id) === String(f.id), `popup is of facility ${popup.id}, not ${f.id}`);
        assert(popup.injected === 0, 'markup from the name was injected into the page');
        await shot(page, 'desktop-popup.png');
        return popup;
      });
    }

    if (opts.facility) {
      await step('desktop: search suggests while typing, finds a known facility, opens its popup with navigation links', async () => {
        const f = opts.facility;
        await page.fill('#search-input', '便民');
        await page.waitForSelector('#suggestions .suggestion', { state: 'visible', timeout: STEP_TIMEOUT_MS });
        const suggestions = await page.$$eval('#suggestions .suggestion', (nodes) => nodes.map((n) => n.textContent));
        assert(suggestions.some((text) => text.includes('便民')), `suggestions ${suggestions} lack the typed text`);
        await page.fill('#search-input', '便民服务点');
        await page.press('#search-input', 'Enter');
        const result = `.result[data-facility-id="${f.id}"]`;
        await page.waitForSelector(result, { timeout: STEP_TIMEOUT_MS });
        assert(await page.isVisible('#tab-results'), 'results tab is not shown');
        const listed = await page.evaluate((sel) => {
          const node = document.querySelector(sel);
          return {
            name: node.querySelector('.result-name').textContent,
            distance: node.querySelector('.result-distance')?.textContent ?? null,
            origin: document.querySelector('.results-origin').textContent,
          };
        }, result);
        assert(listed.name === f.name, `result shows ${JSON.stringify(listed.name)}, not ${JSON.stringify(f.name)}`);
        assert(listed.distance && /\d/.test(listed.distance), `no distance and walking time: ${listed.distance}`);
        if (opts.device) {
          assert(/位置/.test(listed.origin), `distances are not from the device location: ${listed.origin}`);
          const expected = haversineM(opts.device, [f.lon, f.lat]);
          const shown = parseDistance(listed.distance);
          assert(Math.abs(shown - expected) <= Math.max(60, expected * 0.05), `shows ${listed.distance} for ${Math.round(expected)} m from the device`);
        }
        await page.click(result);
        await page.waitForSelector(`.facility-popup .popup[data-facility-id="${f.id}"]`, { timeout: STEP_TIMEOUT_MS });
        await page.click('.facility-popup .nav-button');
        await page.waitForSelector('.facility-popup .nav-links a', { timeout: STEP_TIMEOUT_MS });
        const popup = await page.evaluate(() => {
          const node = document.querySelector('.facility-popup');
          return {
            name: node.querySelector('.popup-name').textContent,
            links: [...node.querySelectorAll('.nav-links a')].map((a) => ({ app: a.dataset.app, href: a.href, target: a.target, rel: a.rel })),
            injected: document.querySelectorAll('b, .facility-popup script').length,
          };
        });
        assert(popup.name === f.name, `popup shows ${JSON.stringify(popup.name)}`);
        assert(popup.injected === 0, 'markup from a name was injected into the page');
        const apps = popup.links.map((l) => l.app).sort();
        assert(JSON.stringify(apps) === JSON.stringify(['amap', 'apple', 'baidu', 'osm', 'tencent']), `navigation apps ${apps}`);
        for (const link of popup.links) {
          assert(link.href.startsWith('https://') && link.target === '_blank' && link.rel.includes('noopener'), `bad link ${JSON.stringify(link)}`);
        }
        const osm = popup.links.find((l) => l.app === 'osm').href;
        const osmUrl = new URL(osm);
        const [mlat, mlon] = ['mlat', 'mlon'].map((k) => Number(osmUrl.searchParams.get(k)));
        assert(Math.abs(mlat - f.lat) < 1e-5 && Math.abs(mlon - f.lon) < 1e-5, `OSM link ${osm} is not at the facility`);
        await settle(page);
        await shot(page, 'desktop-search.png');
        return { suggestions, listed, links: popup.links.length };
      });
    }

    await step('desktop: coverage overlay loads its PNG tiles, legend and per-subdistrict statistics', async () => {
      const stats = await (await fetch(`${opts.base}/coverage/stats`)).json();
      const pngs = [];
      const onResponse = (response) => {
        const url = response.url();
        if (/\/coverage\/[^/]+\/\d+\/\d+\/\d+\.png/.test(url)) {
          pngs.push({ url, status: response.status(), type: response.headers()['content-type'] || '' });
        }
      };
      page.on('response', onResponse);
      await page.evaluate(() => window.lifecircle.popup.close());
      await page.evaluate(() => window.lifecircle.fitData());
      await page.click('.tab[data-tab="coverage"]');
      await page.check('#coverage-toggle');
      await page.waitForFunction(() => window.lifecircle.map.getLayer('coverage-heatmap'), null, { timeout: STEP_TIMEOUT_MS });
      await settle(page);
      await page.waitForSelector('#coverage-legend .legend-bar span', { timeout: STEP_TIMEOUT_MS });
      await page.waitForSelector('#coverage-stats tbody tr', { timeout: STEP_TIMEOUT_MS });
      const all = pngs.filter((p) => p.url.includes('/coverage/all/'));
      assert(all.length > 0, 'no heatmap tile was requested');
      assert(all.every((p) => p.status === 200 || p.status === 204), `heatmap tiles failed: ${JSON.stringify(all.filter((p) => p.status >= 300))}`);
      assert(all.some((p) => p.status === 200 && p.type.startsWith('image/png')), 'no PNG heatmap tile arrived');
      const rows = await page.$$eval('#coverage-stats tbody tr', (nodes) => nodes.map((n) => n.textContent));
      assert(rows.length === stats.subdistricts.length, `${rows.length} rows for ${stats.subdistricts.length} subdistricts`);
      for (const area of stats.subdistricts) assert(rows.some((r) => r.includes(area.name)), `no row for ${area.name}`);
      await shot(page, 'desktop-coverage.png');

      pngs.length = 0;
      await page.selectOption('#coverage-measure', 'kindergarten');
      await page.click('[data-profile="elderly"]');
      await settle(page);
      await page.waitForFunction(() => document.querySelector('#coverage-legend')?.textContent.includes('老年'), null, { timeout: STEP_TIMEOUT_MS });
      const elderly = pngs.filter((p) => p.url.includes('/coverage/kindergarten/') && p.url.includes('profile=elderly'));
      assert(elderly.some((p) => p.status === 200 && p.type.startsWith('image/png')), `no elderly kindergarten heatmap tile: ${JSON.stringify(pngs.slice(0, 3))}`);
      assert(pngs.every((p) => p.status === 200 || p.status === 204), `heatmap tiles failed: ${JSON.stringify(pngs.filter((p) => p.status >= 300))}`);
      const legend = await page.textContent('#coverage-legend');
      await shot(page, 'desktop-coverage-elderly.png');

      await page.uncheck('#coverage-toggle');
      assert(!(await page.evaluate(() => window.lifecircle.map.getLayer('coverage-heatmap'))), 'heatmap still on the map');
      page.off('response', onResponse);
      await page.click('.tab[data-tab="categories"]');
      return { tiles_all: all.length, tiles_elderly: elderly.length, rows: rows.length, legend };
    });

    if (opts.facility) {
      await step('desktop: "report a problem" on a facility and at a point posts to /feedback, 201 with clear messages', async () => {
        const f = opts.facility;
        await page.evaluate(() => window.lifecircle.popup.close());
        await page.evaluate(({ lon, lat }) => window.lifecircle.map.jumpTo({ center: [lon, lat], zoom: 17.5 }), f);
        await settle(page);
        const at = await page.evaluate(({ lon, lat }) => {
          const map = window.lifecircle.map;
          const p = map.project([lon, lat]);
          const r = map.getCanvas().getBoundingClientRect();
          return { x: p.x + r.left, y: p.y + r.top };
        }, f);
        await page.mouse.click(at.x, at.y);
        await page.waitForSelector(`.facility-popup .popup[data-facility-id="${f.id}"]`, { timeout: STEP_TIMEOUT_MS });
        await page.click('.facility-popup .report-button');
        await page.waitForSelector('#feedback-dialog[open] form', { timeout: STEP_TIMEOUT_MS });
        const heading = await page.textContent('#feedback-dialog h2');
        assert(heading.includes(f.name), `form heading ${JSON.stringify(heading)} lacks the name as text`);
        assert((await page.$$eval('#feedback-dialog b', (n) => n.length)) === 0, 'markup from the name was injected into the form');

        // An empty message is refused before anything is sent.
        let posted = 0;
        const countPosts = (request) => {
          if (request.method() === 'POST' && new URL(request.url()).pathname === '/feedback') posted++;
        };
        page.on('request', countPosts);
        await page.click('#feedback-submit');
        assert(posted === 0, 'an empty report was sent');
        assert(await page.isVisible('#feedback-dialog .form-status.error'), 'no message for an empty report');

        const message = `电话号码有误，地址门牌号也不对（页面测试 ${Date.now()}）`;
        await page.selectOption('#feedback-kind', 'wrong_info');
        await page.fill('#feedback-message', message);
        const [response] = await Promise.all([
          page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/feedback'),
          page.click('#feedback-submit'),
        ]);
        assert(response.status() === 201, `POST /feedback answered ${response.status()}`);
        const { id } = await response.json();
        await page.waitForSelector('#feedback-dialog .form-status.ok', { timeout: STEP_TIMEOUT_MS });
        const okText = await page.textContent('#feedback-dialog .form-status');
        assert(okText.includes(String(id)), `success message ${JSON.stringify(okText)} lacks the report id ${id}`);
        stored.feedback.push({ id, kind: 'wrong_info', message, facility_id: f.id });
        await shot(page, 'desktop-feedback.png');
        await page.click('#feedback-dialog .form-actions button[type="button"]');

        // At a point: the button, then a tap on the map.
        await page.click('#report-point-button');
        await page.waitForSelector('#notice:not([hidden])');
        const point = await page.evaluate(() => {
          const map = window.lifecircle.map;
          const r = map.getCanvas().getBoundingClientRect();
          const x = r.left + r.width * 0.7;
          const y = r.top + r.height * 0.6;
          const ll = map.unproject([x - r.left, y - r.top]);
          return { x, y, lon: ll.lng, lat: ll.lat };
        });
        await page.mouse.click(point.x, point.y);
        await page.waitForSelector('#feedback-dialog[open] #feedback-kind', { timeout: STEP_TIMEOUT_MS });
        assert((await page.inputValue('#feedback-kind')) === 'missing_facility', 'a point report does not default to a missing facility');
        const pointMessage = `这里新开了一家社区食堂（页面测试 ${Date.now()}）`;
        await page.fill('#feedback-message', pointMessage);
        const [pointResponse] = await Promise.all([
          page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/feedback'),
          page.click('#feedback-submit'),
        ]);
        assert(pointResponse.status() === 201, `POST /feedback answered ${pointResponse.status()}`);
        const pointId = (await pointResponse.json()).id;
        await page.waitForSelector('#feedback-dialog .form-status.ok', { timeout: STEP_TIMEOUT_MS });
        stored.feedback.push({ id: pointId, kind: 'missing_facility', message: pointMessage, location: { lon: point.lon, lat: point.lat } });
        await page.click('#feedback-dialog .form-actions button[type="button"]');

        // Errors the server may give are shown, not swallowed.
        await page.click('#report-point-button');
        await page.mouse.click(point.x, point.y);
        await page.waitForSelector('#feedback-dialog[open] #feedback-kind');
        await page.fill('#feedback-message', 'rate limited');
        await page.route('**/feedback', (route) =>
          route.fulfill({ status: 429, headers: { 'Retry-After': '42', 'Content-Type': 'application/json' }, body: '{"error":"too many requests; slow down and retry later","status":429}' }),
        );
        await page.click('#feedback-submit');
        await page.waitForSelector('#feedback-dialog .form-status.error');
        const limited = await page.textContent('#feedback-dialog .form-status');
        assert(limited.includes('42'), `rate limit message ${JSON.stringify(limited)} lacks the wait`);
        await page.unroute('**/feedback');
        await page.route('**/feedback', (route) =>
          route.fulfill({ status: 400, headers: { 'Content-Type': 'application/json' }, body: '{"error":"message: must not be empty","status":400}' }),
        );
        await page.click('#feedback-submit');
        await page.waitForFunction(() => document.querySelector('#feedback-dialog .form-status').textContent.includes('must not be empty'));
        await page.unroute('**/feedback');
        await page.click('#feedback-dialog .form-actions button[type="button"]');
        page.off('request', countPosts);
        // The two routed answers were made up by this test; they are not failures of the page.
        for (let i = failedRequests.length - 1; i >= 0; i--) {
          if (new URL(failedRequests[i].url).pathname === '/feedback' && [400, 429].includes(failedRequests[i].status)) failedRequests.splice(i, 1);
        }
        for (let i = consoleErrors.length - 1; i >= 0; i--) {
          if (/status of (400|429)/.test(consoleErrors[i].text) && /\/feedback$/.test(consoleErrors[i].url || '')) consoleErrors.splice(i, 1);
        }
        return { facility_report: id, point_report: pointId, rate_limited: limited };
      });
    }

    await step('desktop: the English switch relabels the page', async () => {
      await page.click('#lang-button');
      const state = await page.evaluate(() => ({
        lang: document.documentElement.lang,
        tab: document.querySelector('.tab[data-tab="categories"]').textContent,
        chips: [...document.querySelectorAll('.chip')].map((n) => ({ id: n.dataset.category, text: n.textContent })),
        placeholder: document.getElementById('search-input').placeholder,
      }));
      assert(state.lang === 'en', `html lang is ${state.lang}`);
      for (const c of catalog.categories) {
        const chip = state.chips.find((x) => x.id === c.id);
        assert(chip && chip.text.includes(c.label_en), `chip of ${c.id} lacks ${c.label_en}`);
      }
      assert(/[A-Za-z]/.test(state.tab) && !/[\u4e00-\u9fff]/.test(state.placeholder), `not English: ${JSON.stringify(state)}`);
      await page.click('#lang-button');
      assert((await page.evaluate(() => document.documentElement.lang)) === 'zh-CN', 'did not switch back to Chinese');
      return { tab: state.tab };
    });

    await step('desktop: clusters are neutral with their category mix as a ring; screenshots at z11-13 over the densest area', async () => {
      // The densest area: where the largest cluster lies at zoom 11.
      await page.evaluate(() => window.lifecircle.map.jumpTo({ zoom: 11 }));
      await settle(page);
      const densest = await page.evaluate(() => {
        const map = window.lifecircle.map;
        const layers = map.getStyle().layers.filter((l) => l.source === 'facilities' && JSON.stringify(l.filter).includes('point_count')).map((l) => l.id);
        const clusters = map.queryRenderedFeatures({ layers });
        clusters.sort((a, b) => b.properties.point_count - a.properties.point_count);
        const top = clusters[0];
        return top ? { center: top.geometry.coordinates, point_count: top.properties.point_count, layer: top.layer.id } : null;
      });
      assert(densest, 'no cluster at zoom 11');
      const fill = await page.evaluate((layer) => window.lifecircle.map.getPaintProperty(layer, 'circle-color'), densest.layer);
      assert(typeof fill === 'string', `cluster fill is not one neutral colour: ${JSON.stringify(fill)}`);
      const views = [];
      for (const zoom of [11, 12, 13]) {
        await page.evaluate(([center, z]) => window.lifecircle.map.jumpTo({ center, zoom: z }), [densest.center, zoom]);
        await settle(page);
        const rings = await page.$$eval('.cluster-mix', (nodes) => nodes.map((n) => ({ categories: Number(n.dataset.categories), background: n.style.background })));
        await shot(page, `clusters-z${zoom}.png`);
        views.push({ zoom, clusters: rings.length, mixed: rings.filter((r) => r.categories >= 2).length });
        if (rings.length) {
          assert(rings.some((r) => r.categories >= 2), `z${zoom}: no cluster shows more than one category`);
          assert(rings.every((r) => r.background.includes('conic-gradient')), `z${zoom}: a cluster has no category ring`);
        }
      }
      assert(views.some((v) => v.mixed > 0), `no mixed cluster at z11-13: ${JSON.stringify(views)}`);
      return { densest, views };
    });
  }
  await page.close();

  const phone = await openPage('phone', { width: 390, height: 844 });
  await step('phone: 390×844 layout loads, map visible, panel a bottom sheet', async () => {
    await phone.goto(`${opts.base}/`, { waitUntil: 'load' });
    await settle(phone);
    const layout = await phone.evaluate(() => {
      const rect = (sel) => {
        const r = document.querySelector(sel).getBoundingClientRect();
        return { top: r.top, left: r.left, width: r.width, height: r.height, bottom: r.bottom };
      };
      return {
        map: rect('#map'),
        panel: rect('#panel'),
        topbar: rect('.topbar'),
        search: rect('#search-input'),
        scrollWidth: document.documentElement.scrollWidth,
      };
    });
    assert(layout.scrollWidth <= 390, `page is ${layout.scrollWidth} px wide on a 390 px screen`);
    assert(layout.map.height > 600, `map is only ${layout.map.height} px tall`);
    assert(layout.panel.width === 390 && layout.panel.bottom === 844 && layout.panel.height < 120, `panel is not a collapsed bottom sheet: ${JSON.stringify(layout.panel)}`);
    assert(layout.search.width > 200, `search box is only ${layout.search.width} px wide`);
    const features = await rendered(phone);
    assert(features.length > 0, 'no facility rendered on the phone');
    await shot(phone, 'phone.png');
    await phone.click('.tab[data-tab="categories"]');
    await phone.waitForFunction(() => document.getElementById('panel').getBoundingClientRect().height > 300);
    await phone.waitForTimeout(300);
    await shot(phone, 'phone-panel.png');
    return { layout, n_rendered: features.length };
  });
  await phone.close();

  await step('no console errors and no failed requests on any page', async () => {
    assert(consoleErrors.length === 0, `console errors: ${JSON.stringify(consoleErrors)}`);
    assert(failedRequests.length === 0, `failed requests: ${JSON.stringify(failedRequests)}`);
  });
}

await context.close();
fs.rmSync(userDataDir, { recursive: true, force: true });
const ok = steps.length > 0 && steps.every((s) => s.ok);
console.log(JSON.stringify({ ok, steps, stored, console_errors: consoleErrors, failed_requests: failedRequests }, null, 1));
process.exit(ok ? 0 : 1);
