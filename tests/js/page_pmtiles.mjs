// The map page reading its facility tiles from a static PMTiles copy through the pmtiles://
// protocol, in headless Chromium (Debian's `chromium`, driven by playwright-core).
//
//   node page_pmtiles.mjs --base http://127.0.0.1:PORT --archive URL --out DIR
//
// The server at --base is configured with `web.facilities_pmtiles_url` = --archive, a file on a
// static host with HTTP Range support. Checks that the map draws facilities and clusters read by
// byte ranges from the archive (no facility tile requested from the server), and that the
// category filter works on the client. Prints {ok, steps, console_errors, failed_requests};
// exits 0 when every step passed, 1 when one failed, 3 when Chromium could not be started.
// Writes DIR/pmtiles.png.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : null;
};
const base = opt('--base');
const archive = opt('--archive');
const out = opt('--out');
if (!base || !archive || !out) {
  console.error('usage: node page_pmtiles.mjs --base URL --archive URL --out DIR');
  process.exit(2);
}
fs.mkdirSync(out, { recursive: true });

const steps = [];
const consoleErrors = [];
const failedRequests = [];
const rangeRequests = [];
const serverTileRequests = [];

async function step(name, fn) {
  try {
    steps.push({ name, ok: true, detail: (await fn()) ?? null });
    return true;
  } catch (error) {
    steps.push({ name, ok: false, detail: String(error && error.stack ? error.stack : error) });
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
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifecircle-pmtiles-'));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
      '--ignore-gpu-blocklist', '--disable-dev-shm-usage', '--no-proxy-server', '--disable-extensions'],
    viewport: { width: 1280, height: 800 },
    locale: 'zh-CN',
    timeout: 60000,
  });
} catch (error) {
  fs.rmSync(userDataDir, { recursive: true, force: true });
  console.log(JSON.stringify({ ok: false, error: `Chromium failed to start: ${String(error.message).split('\n')[0]}` }));
  process.exit(3);
}

const page = await context.newPage();
page.on('console', (msg) => {
  if (msg.type() === 'error' && !/GPU stall due to ReadPixels/.test(msg.text())) consoleErrors.push(msg.text());
});
page.on('pageerror', (error) => consoleErrors.push(String(error.message)));
page.on('requestfailed', (request) => {
  if (request.failure()?.errorText !== 'net::ERR_ABORTED') failedRequests.push({ url: request.url(), failure: request.failure()?.errorText });
});
page.on('response', (response) => {
  const url = response.url();
  if (response.status() >= 400) failedRequests.push({ url, status: response.status() });
  if (url.startsWith(archive)) rangeRequests.push({ status: response.status(), range: response.request().headers().range ?? null });
  if (url.startsWith(base) && /\/tiles\/facilities\/\d+\//.test(url)) serverTileRequests.push(url);
});

async function settle() {
  await page.waitForFunction(() => window.lifecircle && (window.lifecircle.ready || window.lifecircle.error), null, { timeout: 30000 });
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

function rendered() {
  return page.evaluate(() => {
    const map = window.lifecircle.map;
    const layers = map.getStyle().layers.filter((l) => l.source === 'facilities').map((l) => l.id);
    return map.queryRenderedFeatures({ layers }).map((f) => ({
      category: f.properties.category,
      cluster: !!f.properties.cluster,
      counts: Object.fromEntries(Object.entries(f.properties).filter(([k]) => k.startsWith('n_'))),
    }));
  });
}

let ok = await step('the map reads facilities from the archive through pmtiles://', async () => {
  await page.goto(`${base}/`, { waitUntil: 'load' });
  await settle();
  const sourceUrl = await page.evaluate(() => window.lifecircle.map.getSource('facilities').url);
  assert(sourceUrl === `pmtiles://${archive}`, `facility source is ${sourceUrl}`);
  const features = await rendered();
  assert(features.length > 0, 'no facilities drawn');
  assert(rangeRequests.length > 0, 'no request reached the archive');
  assert(rangeRequests.every((r) => r.status === 206 && r.range), `archive read without byte ranges: ${JSON.stringify(rangeRequests)}`);
  assert(serverTileRequests.length === 0, `facility tiles asked of the server: ${serverTileRequests.slice(0, 3)}`);
  await page.screenshot({ path: path.join(out, 'pmtiles.png') });
  return { features: features.length, clusters: features.filter((f) => f.cluster).length, range_requests: rangeRequests.length };
});

ok = ok && await step('the category filter works on the client', async () => {
  const catalog = await page.evaluate(() => window.lifecircle.catalog);
  const before = await rendered();
  const pick = before.find((f) => !f.cluster)?.category ?? catalog.categories.find((c) => c.n_facilities > 0).id;
  await page.evaluate((id) => window.lifecircle.categories.set([id]), pick);
  await settle();
  const after = await rendered();
  assert(after.length > 0, `nothing drawn for ${pick}`);
  const wrong = after.filter((f) => (f.cluster ? !(f.counts[`n_${pick}`] > 0) : f.category !== pick));
  assert(wrong.length === 0, `features without ${pick}: ${JSON.stringify(wrong.slice(0, 3))}`);
  assert(serverTileRequests.length === 0, `filtered tiles asked of the server: ${serverTileRequests.slice(0, 3)}`);
  return { category: pick, before: before.length, after: after.length };
});

ok = ok && await step('no console errors or failed requests', async () => {
  assert(consoleErrors.length === 0, `console errors: ${JSON.stringify(consoleErrors)}`);
  assert(failedRequests.length === 0, `failed requests: ${JSON.stringify(failedRequests)}`);
});

await context.close();
fs.rmSync(userDataDir, { recursive: true, force: true });
console.log(JSON.stringify({ ok, steps, console_errors: consoleErrors, failed_requests: failedRequests }));
process.exit(ok ? 0 : 1);
