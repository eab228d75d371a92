import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize, relative, sep } from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT, tempDir } from './helpers.js';

/**
 * The in-browser walkthrough, end to end: build web/ with Vite, serve the static files from a local
 * server, and drive Debian's Chromium with playwright-core. Skipped where Chromium is not installed
 * (.ci/run installs it, so CI always runs it).
 *
 * The screenshot goes to web/dist/e2e/walkthrough.png; WALKTHROUGH_SCREENSHOT=docs/walkthrough.png
 * refreshes the README's.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];
const SCREENSHOT = join(PROJECT_ROOT, process.env.WALKTHROUGH_SCREENSHOT ?? 'web/dist/e2e/walkthrough.png');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml',
};

/** A static file server for a built site, as any static host would serve it; remembers what was asked. */
function serve(root: string): Promise<{ server: Server; origin: string; requests: string[]; missing: string[] }> {
  const requests: string[] = [];
  const missing: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    requests.push(path);
    const file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) {
      missing.push(path);
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    resolve({ server, origin: `http://127.0.0.1:${port}`, requests, missing });
  }));
}

test('walkthrough: the built page trains in Chromium, compares placements, samples, with no console errors', {
  timeout: 180_000,
}, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is not installed (apt-get install chromium; .ci/run installs it)`);
    return;
  }
  const started = Date.now();
  const { build } = await import('vite');
  const { chromium } = await import('playwright-core');

  // 1. the static site, built from web/ and src/
  const buildDir = tempDir('rlstm-web-');
  t.after(() => rmSync(buildDir, { recursive: true, force: true }));
  const outDir = join(buildDir, 'site');
  await build({ configFile: join(PROJECT_ROOT, 'web/vite.config.ts'), logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  const html = readFileSync(join(outDir, 'index.html'), 'utf8');
  assert.doesNotMatch(html, /<(script|link|img|iframe|source)\b[^>]*\b(src|href)="(https?:)?\/\//,
    'the page loads nothing from another host');
  const { server, origin, requests, missing } = await serve(outDir);
  t.after(() => server.close());

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  // no internet: only the local server answers (a request elsewhere would fail and be reported below)
  await context.route('**/*', (route) => (route.request().url().startsWith(`${origin}/`) ? route.continue() : route.abort()));
  const page = await context.newPage();
  const errors: string[] = [];
  const elsewhere: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('worker', (w) => w.on('console', (m) => { if (m.type() === 'error') errors.push(`worker console: ${m.text()}`); }));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(`${origin}/`) && !url.startsWith('data:') && !url.startsWith('blob:')) elsewhere.push(url);
  });

  await page.goto(`${origin}/`);
  await page.locator('#diagram svg').waitFor();

  // 2. keyboard: the first Tab stop is the link that skips to the lab
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.className), 'skip-link');

  // 3. the L+1 counter: 3 dropouts with the paper's placement, 3 + distance with the naive one
  const readout = page.locator('#diagram-readout');
  await page.locator('#path-from').selectOption('1'); //  "stock", step 2
  await page.locator('#path-to').focus();
  await page.keyboard.press('End'); //                     step 8
  await page.keyboard.press('ArrowLeft'); //               step 7: five steps later
  assert.equal(await page.locator('#path-to-value').textContent(), '7');
  assert.equal(await readout.getAttribute('data-count'), '3');
  await page.locator('input[name="placement"][value="naive"]').check();
  assert.equal(await readout.getAttribute('data-count'), String(3 + 5));
  await page.locator('input[name="route"][value="2"]').check(); // another route, same count
  assert.equal(await readout.getAttribute('data-count'), String(3 + 5));
  await page.locator('input[name="placement"][value="zaremba"]').check();
  assert.equal(await readout.getAttribute('data-count'), '3');

  // 4. run A (the paper's placement) starts from the keyboard
  await page.locator('#run-a button[name="train"]').focus();
  await page.keyboard.press('Enter');

  // 5. perplexity falls: validation (dropout off) at least halves from the untrained model's
  const validFell = (run: string): Promise<unknown> => page.waitForFunction((id) => {
    const out = document.querySelector<HTMLOutputElement>(`#${id} output[data-stat="valid"]`);
    if (out === null || out.dataset.initial === undefined) return false;
    return Number(out.dataset.count) >= 2 && Number(out.dataset.value) < 0.5 * Number(out.dataset.initial);
  }, run, { timeout: 75_000, polling: 250 });
  await validFell('run-a');
  const a = await page.locator('#run-a output[data-stat="valid"]').evaluate((o: HTMLOutputElement) => ({ ...o.dataset }));
  t.diagnostic(`run A (zaremba) validation perplexity ${Number(a.initial).toFixed(0)} → ${Number(a.value).toFixed(0)} `
    + `after ${((Date.now() - started) / 1000).toFixed(0)} s of test`);
  assert.notEqual(await page.locator('#run-a').getAttribute('data-state'), 'error');
  assert.equal(await page.locator('#run-a [data-field="status"]').getAttribute('data-gemm'), 'WebAssembly SIMD',
    'the worker runs the WebAssembly SIMD GEMM (embedded in its bundle), not the TypeScript fallback');

  // 6. switch the placement: run B goes from the naive default to variational and trains beside A
  await page.locator('#run-b select[name="placement"]').selectOption('variational');
  await page.locator('#run-b button[name="train"]').click();
  await page.locator('#legend-a', { hasText: 'zaremba' }).waitFor();
  await page.locator('#legend-b', { hasText: 'variational' }).waitFor();
  await validFell('run-b');
  assert.equal(await page.locator('#run-a').getAttribute('data-state'), 'training', 'run A trains on beside B');
  await page.waitForFunction(() => Number(document.querySelector<HTMLOutputElement>('#run-a output[data-stat="valid"]')
    ?.dataset.count) >= 4, null, { timeout: 60_000, polling: 250 }); // a few more points on A's curve

  // 7. sample text from a run while it trains
  await page.locator('#run-a button[name="sample"]').click();
  await page.waitForFunction(() => {
    const text = document.querySelector('#run-a [data-field="sample"]')?.textContent ?? '';
    return text.length > 0 && text !== 'Sampling…';
  }, null, { timeout: 30_000 });
  const sample = (await page.locator('#run-a [data-field="sample"]').textContent()) ?? '';
  assert.ok(sample.split(/\s+/).filter((w) => w.length > 0).length >= 10, `a sample of words: ${JSON.stringify(sample)}`);
  t.diagnostic(`sample from run A: ${JSON.stringify(sample.slice(0, 120))}`);

  // 8. pause both: the word counts stop
  await page.locator('#pause-both').click();
  await page.waitForTimeout(1500); // let a slice in progress finish and report
  const words = (): Promise<string[]> => page.locator('output[data-stat="words"]').allTextContents();
  const before = await words();
  await page.waitForTimeout(2000);
  assert.deepEqual(await words(), before, 'paused runs do not train');

  // 9. the screenshot (the lab), then a phone-sized screen: one column, nothing wider than the screen
  mkdirSync(dirname(SCREENSHOT), { recursive: true });
  await page.locator('#bench').screenshot({ path: SCREENSHOT }); // the two runs and the chart
  t.diagnostic(`screenshot: ${relative(PROJECT_ROOT, SCREENSHOT)} (${(statSync(SCREENSHOT).size / 1024).toFixed(0)} KB)`);
  await page.setViewportSize({ width: 390, height: 844 });
  const layout = await page.evaluate(() => {
    const a = document.querySelector('#run-a')!.getBoundingClientRect();
    const b = document.querySelector('#run-b')!.getBoundingClientRect();
    return { pageWidth: document.documentElement.scrollWidth, screen: window.innerWidth, stacked: b.top >= a.bottom };
  });
  assert.ok(layout.pageWidth <= layout.screen, `page ${layout.pageWidth}px wide on a ${layout.screen}px screen`);
  assert.ok(layout.stacked, 'runs A and B stack in one column on a phone');

  // 10. nothing went wrong, and nothing was asked of another host or missing from the build
  assert.deepEqual(errors, [], 'no console errors');
  assert.deepEqual(elsewhere, [], 'no request to another host');
  assert.deepEqual(missing, [], 'every request was served from the build');
  assert.ok(requests.some((p) => /worker.*\.js$/.test(p)), 'the training worker was loaded from the build');
  t.diagnostic(`walkthrough test took ${((Date.now() - started) / 1000).toFixed(0)} s`);
});
