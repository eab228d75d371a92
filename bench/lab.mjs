#!/usr/bin/env node
// How fast the walkthrough's lab trains in Chromium: one run training alone, its own words-per-second figure
// (words trained ÷ time spent training, validation left out, as the page shows it) read after --seconds of
// training. Measures this tree's page served cross-origin isolated (two GEMM threads) and plain (one thread),
// and, with --baseline REV, the page of an earlier commit (built in a temporary git worktree) served as it was
// then; the variants alternate, one page at a time, for --rounds rounds, and the report gives each variant's
// median and each round's ratio to the baseline. Writes results/bench-lab.json (or --out).
// Needs Debian's chromium. Run it on a quiet machine: the page's speed is the two cores' speed.
// Usage: node bench/lab.mjs [--baseline REV] [--rounds N] [--seconds S] [--hidden H] [--layers L] [--out FILE]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const whole = (name, fallback, min) => {
  const text = option(name, String(fallback)), value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    process.stderr.write(`bench/lab.mjs: ${name} ${text}: give a whole number ≥ ${min}\n`);
    process.exit(2);
  }
  return value;
};
const rounds = whole('--rounds', 3, 1), seconds = whole('--seconds', 40, 5);
const hidden = option('--hidden', '200'), layers = option('--layers', '2');
const baseline = option('--baseline', null);
const out = option('--out', join(root, 'results', 'bench-lab.json'));

// the browser tests' Chromium, flags and static server (compiled to dist/test by npm run build)
const { CHROMIUM, CHROMIUM_ARGS, ISOLATION_HEADERS, serveStatic } = await import(join(root, 'dist/test/browser.js'));
if (!existsSync(CHROMIUM)) {
  process.stderr.write(`bench/lab.mjs: ${CHROMIUM} is not installed (apt-get install chromium)\n`);
  process.exit(2);
}
const { build } = await import('vite');
const { chromium } = await import('playwright-core');

const scratch = mkdtempSync(join(tmpdir(), 'rlstm-lab-bench-'));
const cleanups = [() => rmSync(scratch, { recursive: true, force: true })];
process.on('exit', () => { for (const f of cleanups.reverse()) try { f(); } catch { /* leave it */ } });
process.on('SIGINT', () => process.exit(130));

/** Builds the site of the work tree at `tree` into a folder of its own; returns the folder. */
async function buildSite(tree, name) {
  const outDir = join(scratch, name);
  await build({ configFile: join(tree, 'web/vite.config.ts'), logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  return outDir;
}

const variants = [];
if (baseline !== null) {
  const tree = join(scratch, 'baseline-tree');
  const commit = execFileSync('git', ['-C', root, 'rev-parse', '--short', baseline], { encoding: 'utf8' }).trim();
  execFileSync('git', ['-C', root, 'worktree', 'add', '--detach', tree, commit], { stdio: 'ignore' });
  cleanups.push(() => execFileSync('git', ['-C', root, 'worktree', 'remove', '--force', tree], { stdio: 'ignore' }));
  symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'));
  process.stderr.write(`building the page of ${commit} ...\n`);
  execFileSync('npm', ['run', 'build:wasm', '--silent'], { cwd: tree, stdio: ['ignore', 'ignore', 'inherit'] });
  const site = await buildSite(tree, 'baseline-site');
  variants.push({ name: `baseline ${commit}`, commit, site, headers: {} });
}
process.stderr.write('building this tree\'s page ...\n');
const current = await buildSite(root, 'site');
variants.push({ name: 'isolated', site: current, headers: ISOLATION_HEADERS });
variants.push({ name: 'not isolated', site: current, headers: {} });

const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });

/** One run alone on a fresh page of `variant`: the words/s it shows after `seconds` of training, and its GEMM. */
async function measure(variant) {
  const { server, origin } = await serveStatic(variant.site, variant.headers);
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  try {
    await context.route('**/*', (route) => (route.request().url().startsWith(`${origin}/`) ? route.continue() : route.abort()));
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    const form = page.locator('#run-a');
    await form.locator('select[name="hidden"]').selectOption(hidden);
    await form.locator('select[name="layers"]').selectOption(layers);
    await form.locator('button[name="train"]').click();
    await page.waitForFunction(() => /\d/.test(document.querySelector('#run-a output[data-stat="speed"]')?.textContent ?? ''),
      undefined, { timeout: 120_000, polling: 250 });
    await page.waitForTimeout(seconds * 1000);
    const shown = await form.locator('output[data-stat="speed"]').textContent();
    const gemm = await form.locator('[data-field="status"]').getAttribute('data-gemm');
    const isolated = await page.evaluate(() => globalThis.crossOriginIsolated);
    const wordsPerSecond = Number((shown ?? '').replace(/[^\d.]/g, ''));
    if (!(wordsPerSecond > 0)) throw new Error(`${variant.name}: the page shows no speed ("${shown}")`);
    return { wordsPerSecond, gemm, isolated };
  } finally {
    await context.close();
    server.close();
  }
}

const figures = Object.fromEntries(variants.map((v) => [v.name, []]));
for (let round = 1; round <= rounds; round++) {
  for (const variant of variants) {
    const r = await measure(variant);
    figures[variant.name].push(r);
    process.stderr.write(`round ${round}: ${variant.name.padEnd(20)} ${Math.round(r.wordsPerSecond)} words/s  (${r.gemm ?? 'GEMM not shown'}${r.isolated ? ', isolated' : ''})\n`);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const summary = Object.fromEntries(variants.map((v) => [v.name, {
  medianWordsPerSecond: median(figures[v.name].map((r) => r.wordsPerSecond)), gemm: figures[v.name][0].gemm, runs: figures[v.name],
}]));
if (baseline !== null) {
  const base = figures[variants[0].name];
  for (const v of variants.slice(1)) {
    const ratios = figures[v.name].map((r, k) => r.wordsPerSecond / base[k].wordsPerSecond);
    summary[v.name].overBaseline = median(ratios);
    summary[v.name].overBaselinePerRound = ratios;
    process.stderr.write(`${v.name}: ${median(ratios).toFixed(2)}× the baseline (median of ${rounds} rounds)\n`);
  }
}
let commit = null;
try { commit = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { /* not a checkout */ }
const report = {
  date: new Date().toISOString(), gitCommit: commit, baseline: baseline === null ? null : variants[0].commit,
  chromium: browser.version(), machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length },
  model: { hidden: Number(hidden), layers: Number(layers) }, secondsTrained: seconds, rounds,
  measure: 'one run training alone (run A); the words/s the page shows: words trained ÷ time spent training', variants: summary,
};
await browser.close();
mkdirSync(dirname(out), { recursive: true });
writeFileSync(`${out}.tmp`, JSON.stringify(report, null, 2) + '\n');
renameSync(`${out}.tmp`, out);
process.stderr.write(`wrote ${out}\n`);
