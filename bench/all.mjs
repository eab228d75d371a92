#!/usr/bin/env node
// Runs `rlstm bench --json` for the small, medium and large configurations, one after the other (each in
// its own process, so peak memory is per configuration), and writes results/bench.json with the machine
// it ran on, then the small configuration on the TypeScript backend, alternating with BLAS (skip with --no-js).
// On a shared machine one run's fraction can be several points off (speeds drift within seconds), so each
// configuration runs --repeat times (default 3, each in its own process): the run with the median
// rooflineFraction is recorded, with every run's tokens/s, fraction and peak memory beside it in `runs`.
// Usage: node bench/all.mjs [--backend blas|js|auto] [--out results/bench.json] [--no-js] [--repeat N]
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const backend = option('--backend', 'blas');
const out = option('--out', join(root, 'results', 'bench.json'));
const repeat = Number(option('--repeat', '3'));
if (!Number.isInteger(repeat) || repeat < 1) {
  process.stderr.write(`--repeat ${option('--repeat')}: give a whole number of runs ≥ 1\n`);
  process.exit(2);
}

/** `rlstm bench --json` `repeat` times; the run with the median fraction, and a summary of every run. */
function benchRepeated(config, backendName = backend, extra = []) {
  const runs = [];
  for (let k = 0; k < repeat; k++) {
    const line = execFileSync(process.execPath, [join(root, 'bin/rlstm.js'), 'bench', '--config', config, '--backend', backendName, ...extra, '--json'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    runs.push(JSON.parse(line.trim()));
  }
  const sorted = [...runs].sort((a, b) => a.rooflineFraction - b.rooflineFraction);
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  const summary = runs.map((r) => ({ tokensPerSecond: r.tokensPerSecond, rooflineFraction: r.rooflineFraction, peakRssMb: r.peakRssMb }));
  return { ...median, runs: summary, peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)) };
}
const range = (r, key, digits) => `${Math.min(...r.runs.map((x) => x[key])).toFixed(digits)}–${Math.max(...r.runs.map((x) => x[key])).toFixed(digits)}`;

// PyTorch 1.13 on the same machine kind, 2 threads (SPEC.md): tokens/s and peak memory
const pytorch = { small: { tokensPerSecond: 1400 }, medium: { tokensPerSecond: 470, peakRssMb: 774 }, large: { tokensPerSecond: 127, peakRssMb: 1300 } };

const results = {};
for (const config of ['small', 'medium', 'large']) {
  process.stderr.write(`bench ${config} ...\n`);
  const r = benchRepeated(config);
  results[config] = { ...r, pytorchTokensPerSecond: pytorch[config].tokensPerSecond, speedupOverPytorch: r.tokensPerSecond / pytorch[config].tokensPerSecond };
  process.stderr.write(`  median of ${repeat}: ${Math.round(r.tokensPerSecond)} tokens/s, ${(100 * r.rooflineFraction).toFixed(1)}% of the roofline `
    + `(runs: ${range(r, 'rooflineFraction', 3)}), peak ${Math.round(r.peakRssMb)} MB\n`);
}
// the pure-TypeScript backend (WebAssembly SIMD GEMM, two threads where there are two cores), small
// configuration: what the browser lab runs on. Its runs alternate with BLAS runs of the same configuration,
// process by process, and jsOverBlas is the median of each pair's ratio of tokens/s (issue 20's target: ≥ 0.4).
if (backend !== 'js' && !args.includes('--no-js')) {
  process.stderr.write('bench small --backend js, alternating with --backend blas ...\n');
  const runs = [], ratios = [];
  for (let k = 0; k < repeat; k++) {
    const once = (name, extra) => JSON.parse(execFileSync(process.execPath,
      [join(root, 'bin/rlstm.js'), 'bench', '--config', 'small', '--backend', name, ...extra, '--json'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim());
    const blasRun = once(backend, []);
    const jsRun = once('js', ['--steps', '8']);
    runs.push(jsRun);
    ratios.push(jsRun.tokensPerSecond / blasRun.tokensPerSecond);
  }
  const order = ratios.map((ratio, k) => [ratio, k]).sort((a, b) => a[0] - b[0]);
  const [jsOverBlas, median] = order[Math.floor((order.length - 1) / 2)];
  const r = { ...runs[median], runs: runs.map((x, k) => ({ tokensPerSecond: x.tokensPerSecond, gemmGflops: x.gemmGflops, jsOverBlas: ratios[k], peakRssMb: x.peakRssMb })) };
  results.smallTypeScriptBackend = { ...r, jsOverBlas, pytorchTokensPerSecond: pytorch.small.tokensPerSecond, speedupOverPytorch: r.tokensPerSecond / pytorch.small.tokensPerSecond };
  process.stderr.write(`  ${Math.round(r.tokensPerSecond)} tokens/s on the TypeScript backend (${r.library}), GEMM ${r.gemmGflops.toFixed(1)} GFLOP/s; `
    + `js/blas ${jsOverBlas.toFixed(2)} (median of ${repeat} alternating pairs)\n`);
}
let commit = null;
try { commit = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { /* not a checkout */ }
const report = {
  date: new Date().toISOString(), gitCommit: commit, node: process.version, repeat,
  machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGb: Math.round(totalmem() / 2 ** 30) },
  pytorchReference: 'PyTorch 1.13, CPU, 2 threads, same model and data (SPEC.md)',
  results,
};
mkdirSync(dirname(out), { recursive: true });
writeFileSync(`${out}.tmp`, JSON.stringify(report, null, 2) + '\n');
renameSync(`${out}.tmp`, out);
process.stderr.write(`wrote ${out}\n`);
