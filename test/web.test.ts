import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, ISOLATION_HEADERS, serveStatic, watchPage } from './browser.js';
import { PROJECT_ROOT, tempDir } from './helpers.js';

/**
 * The in-browser walkthrough, end to end: build web/ with Vite, serve the static files from a local
 * server, and drive Debian's Chromium with playwright-core. Skipped where Chromium is not installed
 * (.ci/run installs it, so CI always runs it).
 *
 * The site is built once for the file; each test opens its own page. The screenshots go to
 * web/dist/e2e/; WALKTHROUGH_SCREENSHOT=docs/walkthrough.png refreshes the README's.
 * The lab runs are deterministic (fixed seeds, one backend), so the tests wait for what a run must show
 * (a crossing, a stop) with generous timeouts as bounds, and never assert on how long it took.
 */

const SCREENSHOT = join(PROJECT_ROOT, process.env.WALKTHROUGH_SCREENSHOT ?? 'web/dist/e2e/walkthrough.png');
/** The lab after the overfitting preset has crossed; OVERFITTING_SCREENSHOT=docs/overfitting.png refreshes the docs' one. */
const OVERFITTING_SCREENSHOT = join(PROJECT_ROOT, process.env.OVERFITTING_SCREENSHOT ?? 'web/dist/e2e/overfitting.png');

/** The built site, served; one browser for the file. Null where Chromium is not installed. */
let site: { origin: string; isolatedOrigin: string; requests: string[]; missing: string[]; browser: Browser } | null = null;
const cleanups: (() => unknown)[] = [];

before(async () => {
  if (!existsSync(CHROMIUM)) return;
  const { build } = await import('vite');
  const { chromium } = await import('playwright-core');
  const buildDir = tempDir('rlstm-web-');
  cleanups.push(() => rmSync(buildDir, { recursive: true, force: true }));
  const outDir = join(buildDir, 'site');
  await build({ configFile: join(PROJECT_ROOT, 'web/vite.config.ts'), logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  const html = readFileSync(join(outDir, 'index.html'), 'utf8');
  assert.doesNotMatch(html, /<(script|link|img|iframe|source)\b[^>]*\b(src|href)="(https?:)?\/\//,
    'the page loads nothing from another host');
  const { server, origin, requests, missing } = await serveStatic(outDir);
  cleanups.push(() => server.close());
  // the same files with the two headers of cross-origin isolation (web/vite.config.ts), which allow shared memory
  const isolated = await serveStatic(outDir, ISOLATION_HEADERS);
  cleanups.push(() => isolated.server.close());
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  cleanups.push(() => browser.close());
  site = { origin, isolatedOrigin: isolated.origin, requests, missing, browser };
});

after(async () => { for (const cleanup of cleanups.reverse()) await cleanup(); });

/**
 * A fresh page of the site that records console errors and requests to other hosts. Returns null (and
 * skips the test) where Chromium is missing.
 */
async function openPage(t: TestContext, viewport = { width: 1100, height: 900 }, isolated = false):
  Promise<{ page: Page; errors: string[]; elsewhere: string[] } | null> {
  if (site === null) {
    t.skip(`${CHROMIUM} is not installed (apt-get install chromium; .ci/run installs it)`);
    return null;
  }
  const { browser } = site;
  const origin = isolated ? site.isolatedOrigin : site.origin;
  const context = await browser.newContext({ viewport });
  t.after(() => context.close());
  // no internet: only the local server answers (a request elsewhere would fail and be reported)
  await context.route('**/*', (route) => (route.request().url().startsWith(`${origin}/`) ? route.continue() : route.abort()));
  const page = await context.newPage();
  const { errors, elsewhere } = watchPage(page, origin);
  await page.goto(`${origin}/`);
  await page.locator('#diagram svg').waitFor();
  return { page, errors, elsewhere };
}

/** What a run panel shows about its epochs: validation per epoch (index 0: untrained), training per epoch. */
interface RunCurves { valid: number[]; train: number[]; state: string; stoppedAt?: number; restoredEpoch?: number; restoredPerplexity?: number }

function readRun(page: Page, id: string): Promise<RunCurves> {
  return page.locator(`#${id}`).evaluate((form: HTMLElement) => ({
    valid: JSON.parse(form.dataset.validCurve ?? '[]') as number[],
    train: JSON.parse(form.dataset.trainCurve ?? '[]') as number[],
    state: form.dataset.state ?? '',
    stoppedAt: form.dataset.stoppedAt === undefined ? undefined : Number(form.dataset.stoppedAt),
    restoredEpoch: form.dataset.restoredEpoch === undefined ? undefined : Number(form.dataset.restoredEpoch),
    restoredPerplexity: form.dataset.restoredPerplexity === undefined ? undefined : Number(form.dataset.restoredPerplexity),
  }));
}

/** How many epochs past its best the unregularized run must be for the overfitting test to call it a turn. */
const CROSS_AFTER = 2;

const argmin = (xs: number[]): number => xs.reduce((best, x, k) => (x < xs[best] ? k : best), 0);

test('walkthrough: the built page trains in Chromium, compares placements, samples, with no console errors', {
  timeout: 240_000,
}, async (t) => {
  const opened = await openPage(t);
  if (opened === null) return;
  const { page, errors, elsewhere } = opened;
  const started = Date.now();

  // 1. the page says what the code does: WebAssembly kernel, the sections of issue 18
  const text = (await page.locator('body').textContent()) ?? '';
  assert.doesNotMatch(text, /no WebAssembly/, 'the lab does use WebAssembly');
  assert.match(text, /WebAssembly SIMD kernel/);
  for (const id of ['carried', 'measured', 'beyond', 'layernorm', 'weightdecay', 'earlystopping', 'lab', 'after']) {
    assert.equal(await page.locator(`#${id}`).count(), 1, `the page has #${id}`);
  }
  for (const href of await page.locator('.toc a').evaluateAll((links) => links.map((a) => a.getAttribute('href')))) {
    assert.equal(await page.locator(href!).count(), 1, `the contents link ${href} leads somewhere`);
  }
  assert.match((await page.locator('#beyond-title').textContent()) ?? '', /beyond the paper/);
  assert.match((await page.locator('#carried').textContent()) ?? '', /carryState[\s\S]*resetState/);

  // the measured results are the committed results/*.json, drawn at build time, with the paper's numbers
  const json = (path: string): any => JSON.parse(readFileSync(join(PROJECT_ROOT, path), 'utf8')); // eslint-disable-line @typescript-eslint/no-explicit-any
  for (const config of ['small', 'medium']) {
    const log = json(`results/${config}/log.json`);
    const last = log.epochs[log.epochs.length - 1].validPerplexity as number;
    const caption = (await page.locator(`#measured-${config}-caption`).textContent()) ?? '';
    assert.match(caption, new RegExp(`${log.epochs.length} epochs, validation ${last.toFixed(1)} \\(paper ${config === 'small' ? '120.7' : '86.2'}\\)`));
    assert.equal(await page.locator(`#measured-${config}`).getAttribute('data-epochs'), String(log.epochs.length));
    assert.match((await page.locator(`#measured-${config} svg`).textContent()) ?? '', /paper, validation/, 'the reference line is drawn');
  }
  const large = json('results/large/log.json');
  const largeCaption = (await page.locator('#measured-large-caption').textContent()) ?? '';
  if (large.epochs.length === 0) assert.match(largeCaption, /no complete epoch yet/);
  else assert.match(largeCaption, new RegExp(`${large.epochs.length} of 55 epochs`));
  assert.match((await page.locator('#measured-large svg').textContent()) ?? '', /paper, validation 82\.2/);
  const overfit = json('results/overfit/keep1.json');
  const overfitBest = Math.min(...overfit.epochs.map((e: { validPerplexity: number }) => e.validPerplexity));
  assert.match((await page.locator('#measured-overfit-caption').textContent()) ?? '', new RegExp(`\\(${overfitBest.toFixed(1)}\\)`));
  const ablation = json('results/ablation/summary.json');
  const recurrent = ablation.runs.find((r: { name: string }) => r.name === `recurrent-${ablation.placementKeepProb}`);
  assert.match((await page.locator('#measured-ablation-caption').textContent()) ?? '', new RegExp(`recurrent ${recurrent.bestValidPerplexity.toFixed(1)}`));
  assert.equal(await page.locator('#measured-ablation svg .mark-symbol path').count(), ablation.runs.length, 'one dot per ablation run');

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
  }, run, { timeout: 150_000, polling: 250 });
  await validFell('run-a');
  const a = await page.locator('#run-a output[data-stat="valid"]').evaluate((o: HTMLOutputElement) => ({ ...o.dataset }));
  t.diagnostic(`run A (zaremba) validation perplexity ${Number(a.initial).toFixed(0)} → ${Number(a.value).toFixed(0)} `
    + `after ${((Date.now() - started) / 1000).toFixed(0)} s of test`);
  assert.notEqual(await page.locator('#run-a').getAttribute('data-state'), 'error');
  assert.match(await page.locator('#run-a [data-field="status"]').getAttribute('data-gemm') ?? '', /^WebAssembly (relaxed )?SIMD, 1 thread$/,
    'the worker runs the WebAssembly SIMD GEMM (embedded in its bundle), not the TypeScript fallback; one thread on a page without isolation');

  // 6. switch the placement: run B goes from the naive default to variational and trains beside A
  await page.locator('#run-b select[name="placement"]').selectOption('variational');
  await page.locator('#run-b button[name="train"]').click();
  await page.locator('#legend-a', { hasText: 'zaremba' }).waitFor();
  await page.locator('#legend-b', { hasText: 'variational' }).waitFor();
  await validFell('run-b');
  assert.equal(await page.locator('#run-a').getAttribute('data-state'), 'training', 'run A trains on beside B');
  await page.waitForFunction(() => Number(document.querySelector<HTMLOutputElement>('#run-a output[data-stat="valid"]')
    ?.dataset.count) >= 4, null, { timeout: 150_000, polling: 250 }); // a few more points on A's curve

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
  assert.deepEqual(site?.missing, [], 'every request was served from the build');
  assert.ok(site?.requests.some((p) => /worker.*\.js$/.test(p)), 'the training worker was loaded from the build');
  t.diagnostic(`walkthrough test took ${((Date.now() - started) / 1000).toFixed(0)} s`);
});

test('lab threads: on a cross-origin isolated page a run training alone gets two GEMM threads, a second run beside it one', {
  timeout: 300_000,
}, async (t) => {
  const opened = await openPage(t, undefined, true);
  if (opened === null) return;
  const { page, errors, elsewhere } = opened;
  assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), true, 'the headers make the page isolated');
  const gemmOf = async (id: string): Promise<string> => {
    const status = page.locator(`#${id} [data-field="status"]`);
    await page.waitForFunction((runId) => document.querySelector(`#${runId} [data-field="status"]`)?.hasAttribute('data-gemm'),
      id, { timeout: 120_000, polling: 250 });
    return await status.getAttribute('data-gemm') ?? '';
  };
  const small = { placement: 'zaremba', hidden: '32', layers: '1', patience: '0' };
  await setRun(page, 'run-a', small);
  await page.locator('#run-a button[name="train"]').click();
  assert.match(await gemmOf('run-a'), /^WebAssembly (relaxed )?SIMD, 2 threads$/, 'run A trains alone: two threads');
  await setRun(page, 'run-b', small);
  await page.locator('#run-b button[name="train"]').click();
  assert.match(await gemmOf('run-b'), /^WebAssembly (relaxed )?SIMD, 1 thread$/, 'run B starts while A trains: one thread');
  await waitForEpochs(page, 'run-a', 1);
  assert.notEqual(await page.locator('#run-a').getAttribute('data-state'), 'error');
  assert.deepEqual(errors, [], 'no console errors');
  assert.deepEqual(elsewhere, [], 'no request to another host');
});

/** Sets a run panel's fields the way a visitor would (select, fill, check). */
async function setRun(page: Page, id: string, values: Record<string, string | boolean>): Promise<void> {
  for (const [name, value] of Object.entries(values)) {
    const input = page.locator(`#${id} [name="${name}"]`);
    if (typeof value === 'boolean') await input.setChecked(value);
    else if (await input.evaluate((node) => node.tagName === 'SELECT')) await input.selectOption(value);
    else await input.fill(value);
  }
}

/** Waits until the run has validated after `epochs` whole epochs (bounded: the run is deterministic). */
function waitForEpochs(page: Page, id: string, epochs: number, timeout = 240_000): Promise<unknown> {
  return page.waitForFunction(([runId, n]) => {
    const curve = JSON.parse(document.getElementById(runId as string)?.dataset.validCurve ?? '[]') as number[];
    return curve.length > (n as number);
  }, [id, epochs], { timeout, polling: 500 });
}

test('lab controls beyond the paper: layer norm, weight decay, early stopping with the best weights restored', {
  timeout: 600_000,
}, async (t) => {
  const opened = await openPage(t);
  if (opened === null) return;
  const { page, errors, elsewhere } = opened;
  const H = 32, L = 2;

  // layer norm adds its gains and shifts: per layer 4H + 4H (γ_ih, γ_hh; the biases are the shifts) + H + H (γ_c, β_c)
  const small = { placement: 'none', hidden: String(H), layers: String(L), lr: '1', patience: '0' };
  await setRun(page, 'run-a', { ...small, layerNorm: true, weightDecay: '0' });
  await setRun(page, 'run-b', { ...small, layerNorm: false, weightDecay: '0.001' });
  await page.locator('#train-both').click();
  await page.locator('#legend-a', { hasText: 'layer norm' }).waitFor();
  await page.locator('#legend-b', { hasText: 'λ 0.001' }).waitFor();
  await waitForEpochs(page, 'run-a', 1);
  await waitForEpochs(page, 'run-b', 1);
  const parameters = (id: string): Promise<number> => page.locator(`#${id}`).evaluate((f: HTMLElement) => Number(f.dataset.parameters));
  assert.equal(await parameters('run-a') - await parameters('run-b'), L * (4 * H + 4 * H + H + H), 'the LN-LSTM has its norm parameters');
  const lnRun = await readRun(page, 'run-a');
  assert.ok(lnRun.valid[1] < 0.5 * lnRun.valid[0], `the LN-LSTM learns: validation ${lnRun.valid[0]} → ${lnRun.valid[1]}`);
  t.diagnostic(`after one epoch: the LN-LSTM ${lnRun.valid[0].toFixed(0)} → ${lnRun.valid[1].toFixed(2)}`);
  const decayed = await readRun(page, 'run-b');

  // weight decay changes the run: the same settings and seed without it give other numbers (and with it, the same)
  await setRun(page, 'run-a', { layerNorm: false, weightDecay: '0' });
  await page.locator('#run-a button[name="train"]').click();
  await waitForEpochs(page, 'run-a', 1);
  const plain = await readRun(page, 'run-a');
  assert.equal(plain.valid[0], decayed.valid[0], 'the same initialization');
  assert.notEqual(plain.valid[1], decayed.valid[1], 'λ = 0.001 trains differently from λ = 0');
  t.diagnostic(`after one epoch: validation ${plain.valid[1].toFixed(2)} with λ = 0, ${decayed.valid[1].toFixed(2)} with λ = 0.001`);

  // early stopping: patience 1 stops at the first epoch that does not improve, and restores the best one
  await page.locator('#run-b button[name="pause"]').click();
  await setRun(page, 'run-a', { patience: '1' });
  await page.locator('#run-a button[name="train"]').click();
  await page.waitForFunction(() => document.getElementById('run-a')?.dataset.state === 'stopped', null, { timeout: 480_000, polling: 500 });
  const stopped = await readRun(page, 'run-a');
  const best = 1 + argmin(stopped.valid.slice(1));
  assert.equal(stopped.stoppedAt, stopped.valid.length - 1, 'it stopped after its last validated epoch');
  assert.equal(stopped.restoredEpoch, best, 'the best epoch is restored');
  assert.equal(stopped.stoppedAt! - best, 1, 'one epoch without improvement with patience 1');
  assert.ok(Math.abs(stopped.restoredPerplexity! / stopped.valid[best] - 1) < 1e-9,
    `the restored weights score the best epoch's ${stopped.valid[best]} again: ${stopped.restoredPerplexity}`);
  const chartText = (await page.locator('#chart svg').textContent()) ?? '';
  assert.match(chartText, new RegExp(`A stopped; restored epoch ${best}`), 'the stopping point is marked on the chart');
  assert.match(chartText, new RegExp(`best A: epoch ${best}`), 'the best epoch is marked on the chart');
  assert.match((await page.locator('#run-a [data-field="status"]').textContent()) ?? '', new RegExp(`restored the weights of epoch ${best}`));
  t.diagnostic(`patience 1: validation ${stopped.valid.map((v) => v.toFixed(1)).join(', ')}; stopped after epoch ${stopped.stoppedAt}, restored ${best}`);
  // a stopped run trains no more, and still samples
  const words = await page.locator('#run-a output[data-stat="words"]').textContent();
  await page.locator('#run-a button[name="sample"]').click();
  await page.waitForFunction(() => {
    const text = document.querySelector('#run-a [data-field="sample"]')?.textContent ?? '';
    return text.length > 0 && text !== 'Sampling…';
  }, null, { timeout: 30_000 });
  assert.equal(await page.locator('#run-a output[data-stat="words"]').textContent(), words, 'no training after the stop');

  assert.deepEqual(errors, [], 'no console errors');
  assert.deepEqual(elsewhere, [], 'no request to another host');
});

test('lab presets: zaremba against recurrent at the same keep probability, with the measured ablation pointed to', {
  timeout: 240_000,
}, async (t) => {
  const opened = await openPage(t, { width: 390, height: 844 });
  if (opened === null) return;
  const { page, errors, elsewhere } = opened;
  await page.locator('#preset-placement').focus();
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('#run-a select[name="placement"]').inputValue(), 'zaremba');
  assert.equal(await page.locator('#run-b select[name="placement"]').inputValue(), 'recurrent');
  assert.equal(await page.locator('#run-a input[name="keepProb"]').inputValue(), await page.locator('#run-b input[name="keepProb"]').inputValue());
  assert.match((await page.locator('#preset-note').textContent()) ?? '', /ablation/);
  await page.locator('#legend-b', { hasText: 'recurrent, keep 0.5' }).waitFor();
  for (const id of ['run-a', 'run-b']) {
    await page.waitForFunction((runId) => document.querySelector<HTMLOutputElement>(`#${runId} output[data-stat="train"]`)?.dataset.value !== undefined,
      id, { timeout: 180_000, polling: 500 });
  }
  await page.locator('#pause-both').click();
  // the phone-sized page: nothing wider than the screen
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling at 390 px');
  assert.deepEqual(errors, [], 'no console errors');
  assert.deepEqual(elsewhere, [], 'no request to another host');
});

test('lab preset "Does dropout stop overfitting?": without dropout validation turns upward while training falls; with dropout it keeps improving', {
  timeout: 1_500_000,
}, async (t) => {
  if (process.env.RLSTM_NATIVE === '0') {
    // the page never loads a native library, so this pass (.ci/run's second) would repeat the first's minutes
    t.skip('RLSTM_NATIVE=0 changes nothing in the browser, and this two-minute run is the same as in the first pass');
    return;
  }
  const opened = await openPage(t);
  if (opened === null) return;
  const { page, errors, elsewhere } = opened;
  const started = Date.now();
  await page.locator('#preset-overfit').click();
  assert.equal(await page.locator('#run-a select[name="placement"]').inputValue(), 'none');
  assert.equal(await page.locator('#run-b select[name="placement"]').inputValue(), 'zaremba');

  /**
   * The crossing: run A (no dropout) is past its best validation epoch by CROSS_AFTER epochs, with its last
   * validation perplexity above that best while its training perplexity kept falling; run B (dropout), at the
   * same epoch, is better than A and better than it was at A's best epoch.
   */
  const crossed = (a: RunCurves, b: RunCurves): boolean => {
    const n = Math.min(a.valid.length, b.valid.length) - 1; // epochs both have validated
    if (n < 2) return false;
    const aBest = 1 + argmin(a.valid.slice(1, n + 1));
    return n - aBest >= CROSS_AFTER && a.valid[n] > a.valid[aBest] && a.train[n - 1] < a.train[aBest - 1]
      && b.valid[n] < a.valid[n] && b.valid[n] < b.valid[aBest];
  };
  let a = await readRun(page, 'run-a'), b = await readRun(page, 'run-b');
  while (!crossed(a, b)) {
    assert.ok(Date.now() - started < 1_400_000, `no crossing yet: A ${JSON.stringify(a.valid)}, B ${JSON.stringify(b.valid)}`);
    assert.ok(a.state === 'training' && b.state === 'training', `both runs train (A ${a.state}, B ${b.state})`);
    await page.waitForTimeout(2000);
    a = await readRun(page, 'run-a');
    b = await readRun(page, 'run-b');
  }
  const n = Math.min(a.valid.length, b.valid.length) - 1;
  const aBest = 1 + argmin(a.valid.slice(1, n + 1));
  t.diagnostic(`crossed after epoch ${n}, ${((Date.now() - started) / 1000).toFixed(0)} s after the preset was pressed: `
    + `A (no dropout) best validation ${a.valid[aBest].toFixed(1)} at epoch ${aBest}, now ${a.valid[n].toFixed(1)} with training `
    + `${a.train[aBest - 1].toFixed(1)} → ${a.train[n - 1].toFixed(1)}; B (dropout) ${b.valid[aBest].toFixed(1)} → ${b.valid[n].toFixed(1)}`);
  t.diagnostic(`A validation: ${a.valid.slice(1).map((v) => v.toFixed(1)).join(', ')}`);
  t.diagnostic(`B validation: ${b.valid.slice(1).map((v) => v.toFixed(1)).join(', ')}`);
  const chartText = (await page.locator('#chart svg').textContent()) ?? '';
  assert.match(chartText, /best A: epoch \d+/, 'the chart marks A\'s best epoch');
  assert.match(chartText, /best B: epoch \d+/, 'the chart marks B\'s best epoch');
  await page.locator('#pause-both').click();
  mkdirSync(dirname(OVERFITTING_SCREENSHOT), { recursive: true });
  await page.locator('#bench').screenshot({ path: OVERFITTING_SCREENSHOT });
  t.diagnostic(`screenshot: ${relative(PROJECT_ROOT, OVERFITTING_SCREENSHOT)}`);
  assert.deepEqual(errors, [], 'no console errors');
  assert.deepEqual(elsewhere, [], 'no request to another host');
});
