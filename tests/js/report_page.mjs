// The evaluation report page `/report` in headless Chromium (Debian's `chromium`, driven by
// playwright-core), against a running lifecircle server.
//
//   node report_page.mjs --base http://127.0.0.1:PORT --out DIR
//
// For Chinese (the default) and English, at phone (390 px) and desktop (1280 px) widths, with
// print media emulated: the page loads without console errors; every element carrying `data-v`
// (a JSON pointer into /report.json) shows that value in its `data-f` format; no digit on the
// page stands outside such an element (or a `data-name` one: a shortened name); the page is no
// wider than the phone. Screenshots (full page) and an A4 PDF per language go to DIR.
// Every small map (`/report/map.png`) must load.
//
// Prints one JSON object {ok, steps: [{name, ok, detail}], console_errors, failed_requests} and
// exits 0 when every step passed, 1 when one failed, 3 when Chromium could
// not be started.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-extensions',
  '--no-proxy-server',
];
const STEP_TIMEOUT_MS = 60000;

function parseArgs(argv) {
  const opts = { base: null, out: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--base') opts.base = argv[++i].replace(/\/$/, '');
    else if (arg === '--out') opts.out = argv[++i];
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!opts.base || !opts.out) throw new Error('usage: node report_page.mjs --base URL --out DIR');
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
fs.mkdirSync(opts.out, { recursive: true });
const steps = [];
const consoleErrors = [];
const failedRequests = [];

async function step(name, fn) {
  try {
    const detail = await fn();
    steps.push({ name, ok: true, detail: detail ?? null });
  } catch (error) {
    steps.push({ name, ok: false, detail: String(error && error.stack ? error.stack : error) });
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/** The value at JSON pointer `pointer` of `doc` (undefined when there is none). */
function resolve(doc, pointer) {
  let value = doc;
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    if (value === null || typeof value !== 'object' || !(key in value)) return undefined;
    value = value[key];
  }
  return value;
}

/** Does `text` show `value` in `format` (as `report::html` writes it)? */
function shows(format, text, value) {
  text = text.trim();
  if (value === null) return text === '—';
  const near = (n, tolerance) => Number.isFinite(n) && Math.abs(n - value) <= tolerance * (1 + 1e-9) + 1e-12;
  switch (format) {
    case 'text':
      return text === String(value);
    case 'bool':
      return value ? ['是', 'yes'].includes(text) : ['否', 'no'].includes(text);
    case 'int':
      return /^-?[\d,]+$/.test(text) && near(Number(text.replace(/,/g, '')), 0.5);
    case 'pct': {
      const m = /^(-?[\d.]+)%$/.exec(text);
      return !!m && Number.isFinite(Number(m[1])) && Math.abs(Number(m[1]) - value * 100) <= 0.05 + 1e-9;
    }
    case 'sig3': {
      if (value === 0) return Number(text) === 0;
      const decimals = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(value))));
      return /^-?[\d.]+$/.test(text) && near(Number(text), 0.5 * 10 ** -decimals);
    }
    case 'f2':
      return near(Number(text), 0.005);
    case 'f5':
      return near(Number(text), 0.000005);
    default:
      return false;
  }
}

const executablePath =
  process.env.CHROMIUM_PATH || ['/usr/bin/chromium', '/usr/lib/chromium/chromium'].find((p) => fs.existsSync(p));
if (!executablePath) {
  console.log(JSON.stringify({ ok: false, error: 'no Chromium: apt-get install chromium, or set CHROMIUM_PATH' }));
  process.exit(3);
}
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifecircle-report-'));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    locale: 'zh-CN',
    timeout: 60000,
  });
} catch (error) {
  fs.rmSync(userDataDir, { recursive: true, force: true });
  console.log(JSON.stringify({ ok: false, error: `Chromium failed to start: ${String(error.message).split('\n')[0]}` }));
  process.exit(3);
}

const VIEWPORTS = [
  { name: 'phone', width: 390, height: 844 },
  { name: 'desktop', width: 1280, height: 900 },
];

for (const lang of ['zh', 'en']) {
  const report = await (await fetch(`${opts.base}/report.json?lang=${lang}`)).json();
  const url = lang === 'zh' ? `${opts.base}/report` : `${opts.base}/report?lang=en`;
  for (const viewport of VIEWPORTS) {
    const label = `${lang}-${viewport.name}`;
    const page = await context.newPage();
    await page.setViewportSize({ width: viewport.width, height: viewport.height });
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const where = msg.location()?.url;
      consoleErrors.push({ page: label, text: msg.text(), url: where });
    });
    page.on('pageerror', (error) => consoleErrors.push({ page: label, text: String(error.message) }));
    page.on('response', (response) => {
      if (response.status() < 400) return;
      failedRequests.push({ page: label, url: response.url(), status: response.status() });
    });
    await page.emulateMedia({ media: 'print' });
    await step(`${label}: the page loads in print media`, async () => {
      const response = await page.goto(url, { waitUntil: 'load', timeout: STEP_TIMEOUT_MS });
      assert(response.status() === 200, `status ${response.status()}`);
      const htmlLang = await page.evaluate(() => document.documentElement.lang);
      assert(htmlLang === (lang === 'zh' ? 'zh-CN' : 'en'), `html lang ${htmlLang}`);
      const print = await page.evaluate(() => matchMedia('print').matches);
      assert(print, 'print media is not emulated');
    });
    await step(`${label}: every number equals /report.json`, async () => {
      const keyed = await page.evaluate(() =>
        [...document.querySelectorAll('[data-v]')].map((e) => ({
          pointer: e.getAttribute('data-v'),
          format: e.getAttribute('data-f'),
          text: e.textContent,
        })),
      );
      assert(keyed.length > 50, `only ${keyed.length} keyed elements`);
      const wrong = [];
      let numbers = 0;
      for (const k of keyed) {
        const value = resolve(report, k.pointer);
        if (value === undefined) wrong.push({ ...k, problem: 'no such value in /report.json' });
        else if (!shows(k.format, k.text, value)) wrong.push({ ...k, value });
        if (k.format !== 'text') numbers++;
      }
      assert(wrong.length === 0, `${wrong.length} of ${keyed.length} differ: ${JSON.stringify(wrong.slice(0, 10))}`);
      return { keyed: keyed.length, numbers };
    });
    await step(`${label}: no number stands outside a keyed element`, async () => {
      const loose = await page.evaluate(() => {
        const found = [];
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
          if (!/[0-9]/.test(node.nodeValue)) continue;
          const parent = node.parentElement;
          if (parent.closest('style, script, [data-v], [data-name]')) continue;
          found.push(node.nodeValue.trim().slice(0, 80));
        }
        return found;
      });
      assert(loose.length === 0, `unkeyed numbers: ${JSON.stringify(loose.slice(0, 10))}`);
    });
    await step(`${label}: no wider than the window; tables scroll inside their boxes`, async () => {
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert(width <= viewport.width + 1, `page is ${width} px wide in a ${viewport.width} px window`);
    });
    await step(`${label}: every small map loads`, async () => {
      await page.evaluate(async () => {
        await Promise.all([...document.images].map((img) => (img.complete ? null : new Promise((r) => { img.onload = img.onerror = r; }))));
      });
      const broken = await page.evaluate(() =>
        [...document.images].filter((img) => img.naturalWidth === 0).map((img) => img.getAttribute('src')),
      );
      assert(broken.length === 0, `images not loaded: ${JSON.stringify(broken.slice(0, 5))}`);
    });
    await step(`${label}: screenshot`, async () => {
      await page.screenshot({ path: path.join(opts.out, `report-${label}.png`), fullPage: true });
    });
    if (viewport.name === 'desktop') {
      await step(`${lang}: prints to an A4 PDF`, async () => {
        const pdf = await page.pdf({ path: path.join(opts.out, `report-${lang}.pdf`), format: 'A4', printBackground: true });
        assert(pdf.subarray(0, 5).toString() === '%PDF-', 'not a PDF');
        return { bytes: pdf.length };
      });
    }
    await page.close();
  }
}

await context.close();
fs.rmSync(userDataDir, { recursive: true, force: true });
const ok = steps.every((s) => s.ok) && consoleErrors.length === 0 && failedRequests.length === 0;
console.log(
  JSON.stringify({
    ok,
    steps,
    console_errors: consoleErrors,
    failed_requests: failedRequests,
  }),
);
process.exit(ok ? 0 : 1);
