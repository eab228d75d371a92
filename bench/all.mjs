#!/usr/bin/env node
// Runs `rlstm bench --json` for the small, medium and large configurations, one after the other (each in
// its own process, so peak memory is per configuration), and writes results/bench.json with the machine
// it ran on, then the small configuration on the TypeScript backend, alternating with BLAS (skip with --no-js).
// On a shared machine one run's fraction can be several points off (speeds drift within seconds), so each
// configuration runs --repeat times (default 3, each in its own process): the run with the median
// rooflineFraction is recorded, with every run's tokens/s, fraction and peak memory beside it in `runs`.
// PyTorch runs beside them where Debian's Python has it (bench/pytorch.py: the same model, 2 threads), each
// configuration's rlstm and PyTorch runs alternating process by process; speedupOverPytorch is the median of
// each pair's ratio. Without PyTorch (or with --no-pytorch) the reference figures of SPEC.md are used, and
// the report says so (pytorchMeasured: false).
// Usage: node bench/all.mjs [--backend blas|js|auto] [--out results/bench.json] [--no-js] [--no-pytorch] [--repeat N]
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

/** One `rlstm bench --json` run in its own process. */
function rlstmBench(config, backendName, extra = []) {
  const line = execFileSync(process.execPath, [join(root, 'bin/rlstm.js'), 'bench', '--config', config, '--backend', backendName, ...extra, '--json'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(line.trim());
}

// PyTorch: Debian's Python with python3-torch (as the agreement tests use it); null when it is not there
const PYTHON = '/usr/bin/python3';
const pytorchAvailable = !args.includes('--no-pytorch') && (() => {
  try { execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }); return true; } catch { return false; }
})();
/** One bench/pytorch.py run in its own process: { tokensPerSecond, peakRssMb, torch, ... }. */
function pytorchBench(config) {
  const line = execFileSync(PYTHON, [join(root, 'bench', 'pytorch.py'), config, '--threads', '2'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(line.trim());
}
/** The value at the median position of `values` (the lower one of the two middle ones), and where it was. */
function medianOf(values) {
  const order = values.map((v, k) => [v, k]).sort((a, b) => a[0] - b[0]);
  return order[Math.floor((order.length - 1) / 2)];
}

/**
 * `rlstm bench --json` `repeat` times, each followed by a PyTorch run where there is PyTorch: the run with the
 * median fraction, a summary of every run, and the PyTorch comparison (median of the pairs' ratios).
 */
function benchRepeated(config, backendName = backend) {
  const runs = [], torchRuns = [];
  for (let k = 0; k < repeat; k++) {
    runs.push(rlstmBench(config, backendName));
    if (pytorchAvailable) torchRuns.push(pytorchBench(config));
  }
  const median = runs[medianOf(runs.map((r) => r.rooflineFraction))[1]];
  const summary = runs.map((r, k) => ({ tokensPerSecond: r.tokensPerSecond, rooflineFraction: r.rooflineFraction, peakRssMb: r.peakRssMb,
    ...(pytorchAvailable ? { pytorchTokensPerSecond: torchRuns[k].tokensPerSecond, speedupOverPytorch: r.tokensPerSecond / torchRuns[k].tokensPerSecond } : {}) }));
  const comparison = pytorchAvailable
    ? {
      pytorchMeasured: true, pytorchVersion: torchRuns[0].torch,
      pytorchTokensPerSecond: torchRuns[medianOf(summary.map((s) => s.speedupOverPytorch))[1]].tokensPerSecond,
      pytorchPeakRssMb: Math.max(...torchRuns.map((r) => r.peakRssMb)),
      speedupOverPytorch: medianOf(summary.map((s) => s.speedupOverPytorch))[0],
    }
    : { pytorchMeasured: false, pytorchTokensPerSecond: pytorch[config].tokensPerSecond, pytorchPeakRssMb: pytorch[config].peakRssMb ?? null,
      speedupOverPytorch: median.tokensPerSecond / pytorch[config].tokensPerSecond };
  return { ...median, runs: summary, peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)), ...comparison };
}
const range = (r, key, digits) => `${Math.min(...r.runs.map((x) => x[key])).toFixed(digits)}–${Math.max(...r.runs.map((x) => x[key])).toFixed(digits)}`;

// PyTorch 1.13 on the same machine kind, 2 threads (SPEC.md): the reference where PyTorch is not installed
const pytorch = { small: { tokensPerSecond: 1400 }, medium: { tokensPerSecond: 470, peakRssMb: 774 }, large: { tokensPerSecond: 127, peakRssMb: 1300 } };

const results = {};
for (const config of ['small', 'medium', 'large']) {
  process.stderr.write(`bench ${config}${pytorchAvailable ? ', alternating with PyTorch' : ''} ...\n`);
  const r = benchRepeated(config);
  results[config] = r;
  process.stderr.write(`  median of ${repeat}: ${Math.round(r.tokensPerSecond)} tokens/s, ${(100 * r.rooflineFraction).toFixed(1)}% of the roofline `
    + `(runs: ${range(r, 'rooflineFraction', 3)}), peak ${Math.round(r.peakRssMb)} MB; `
    + `${r.speedupOverPytorch.toFixed(2)}× PyTorch (${r.pytorchMeasured ? `measured: ${Math.round(r.pytorchTokensPerSecond)} tokens/s` : 'reference figure'})\n`);
}
// the pure-TypeScript backend (WebAssembly SIMD GEMM, two threads where there are two cores), small
// configuration: what the browser lab runs on. Its runs alternate with BLAS runs of the same configuration,
// process by process, and jsOverBlas is the median of each pair's ratio of tokens/s (issue 20's target: ≥ 0.4).
if (backend !== 'js' && !args.includes('--no-js')) {
  process.stderr.write('bench small --backend js, alternating with --backend blas ...\n');
  const runs = [], ratios = [];
  for (let k = 0; k < repeat; k++) {
    const blasRun = rlstmBench('small', backend);
    const jsRun = rlstmBench('small', 'js', ['--steps', '8']);
    runs.push(jsRun);
    ratios.push(jsRun.tokensPerSecond / blasRun.tokensPerSecond);
  }
  const [jsOverBlas, median] = medianOf(ratios);
  const r = { ...runs[median], runs: runs.map((x, k) => ({ tokensPerSecond: x.tokensPerSecond, gemmGflops: x.gemmGflops, jsOverBlas: ratios[k], peakRssMb: x.peakRssMb })) };
  const torchSmall = results.small.pytorchTokensPerSecond;
  results.smallTypeScriptBackend = { ...r, jsOverBlas, pytorchTokensPerSecond: torchSmall, speedupOverPytorch: r.tokensPerSecond / torchSmall };
  process.stderr.write(`  ${Math.round(r.tokensPerSecond)} tokens/s on the TypeScript backend (${r.library}), GEMM ${r.gemmGflops.toFixed(1)} GFLOP/s; `
    + `js/blas ${jsOverBlas.toFixed(2)} (median of ${repeat} alternating pairs)\n`);
}
let commit = null;
try { commit = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { /* not a checkout */ }
const report = {
  date: new Date().toISOString(), gitCommit: commit, node: process.version, repeat,
  machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGb: Math.round(totalmem() / 2 ** 30) },
  pytorchReference: pytorchAvailable
    ? 'PyTorch measured here by bench/pytorch.py (same model, data and batch; CPU, 2 threads), alternating with each rlstm run'
    : 'PyTorch 1.13, CPU, 2 threads, same model and data: the reference figures of SPEC.md (PyTorch not installed here)',
  results,
};
mkdirSync(dirname(out), { recursive: true });
writeFileSync(`${out}.tmp`, JSON.stringify(report, null, 2) + '\n');
renameSync(`${out}.tmp`, out);
process.stderr.write(`wrote ${out}\n`);
