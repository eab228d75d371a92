#!/usr/bin/env node
// Runs `rlstm bench --json` for the small, medium and large configurations, one after the other (each in
// its own process, so peak memory is per configuration), and writes results/bench.json with the machine
// it ran on, then the small configuration on the TypeScript backend, alternating with BLAS (skip with --no-js).
// On a shared machine one run's fraction can be several points off (speeds drift within seconds), so each
// configuration runs --repeat times (default 3, each in its own process): the run with the median
// rooflineFraction is recorded, with every run's tokens/s, fraction and peak memory beside it in `runs`.
// PyTorch runs beside them where Debian's Python has it (bench/pytorch.py: the same model, 2 threads), each
// configuration's rlstm and PyTorch runs alternating process by process; speedupOverPytorch is the median of
// each pair's ratio. Without PyTorch (or with --no-pytorch) the reference figures below (measured earlier with bench/pytorch.py) are used, and
// the report says so (pytorchMeasured: false).
//
// Precision (--precision fp32|bf16|both, default both): each precision P runs as `rlstm bench --precision P`
// alternating with `bench/pytorch.py --precision P` (bf16: torch.autocast on the CPU), so fp32 is compared
// with PyTorch fp32 and bf16 with PyTorch bf16; within one repeat the order is rlstm fp32, PyTorch fp32,
// rlstm bf16, PyTorch bf16. The JSON shape:
//   results.small | medium | large   the fp32 entries, exactly as before bf16 existed (plus precision: 'fp32'),
//                                    so existing readers keep reading fp32 figures where they always did;
//   results.smallTypeScriptBackend   fp32, as before (only when fp32 runs);
//   results.bf16.small | medium | large
//                                    the bf16 entries, the same shape as the fp32 ones (median run, runs,
//                                    speedupOverPytorch against PyTorch bf16), plus speedupOverFp32 (median of
//                                    each repeat's rlstm bf16 ÷ rlstm fp32 tokens/s, when fp32 ran too); or
//                                    { skipped: '<rlstm's line>' } when rlstm cannot run bf16 on this machine
//                                    (it exits with status 2 and says why in one line), and PyTorch bf16 is
//                                    then not run either. Without PyTorch a bf16 entry has no reference figure:
//                                    pytorchTokensPerSecond and speedupOverPytorch are null.
// `precisions` lists what ran; machine.cpuInfo is /proc/cpuinfo's vendor, family, model, model name and the
// flags that matter for fp32 and bf16 (null off Linux), machine.bf16Native whether it has avx512_bf16
// (without it PyTorch emulates bf16, slowly); machine.cpu stays the model name string it always was.
// Usage: node bench/all.mjs [--backend blas|js|auto] [--out results/bench.json] [--no-js] [--no-pytorch] [--repeat N]
//                           [--precision fp32|bf16|both]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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
const precisionOption = option('--precision', 'both');
if (!['fp32', 'bf16', 'both'].includes(precisionOption)) {
  process.stderr.write(`--precision ${precisionOption}: give fp32, bf16 or both\n`);
  process.exit(2);
}
const precisions = precisionOption === 'both' ? ['fp32', 'bf16'] : [precisionOption];

/** One `rlstm bench --json` run in its own process. */
function rlstmBench(config, backendName, extra = []) {
  const line = execFileSync(process.execPath, [join(root, 'bin/rlstm.js'), 'bench', '--config', config, '--backend', backendName, ...extra, '--json'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(line.trim());
}
/**
 * One `rlstm bench --precision P --json` run in its own process: its JSON, or { skipped: line } when a bf16 run
 * exits with status 2, rlstm's one line on stderr saying why this machine cannot run bf16. Any other failure
 * (fp32's status 2 included, and an rlstm that does not know --precision) ends the benchmark.
 */
function rlstmBenchAt(config, precision) {
  const r = spawnSync(process.execPath, [join(root, 'bin/rlstm.js'), 'bench', '--config', config, '--backend', backend, '--precision', precision, '--json'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 2 ** 20 });
  if (r.error) throw r.error;
  const line = r.stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '').at(-1) ?? '';
  if (r.status === 2 && precision === 'bf16' && !/unknown option/.test(line)) return { skipped: line || `rlstm bench --precision bf16 exited with status 2` };
  process.stderr.write(r.stderr); // rlstm's notes (the backend chosen), written out once it has ended
  if (r.status !== 0) {
    process.stderr.write(`bench/all.mjs: rlstm bench --config ${config} --precision ${precision} exited with ${r.status ?? r.signal}\n`);
    process.exit(1);
  }
  const result = JSON.parse(r.stdout.trim());
  if (result.precision !== undefined && result.precision !== precision) {
    process.stderr.write(`bench/all.mjs: rlstm bench --precision ${precision} reported precision ${result.precision}\n`);
    process.exit(1);
  }
  return { ...result, precision };
}

// PyTorch: Debian's Python with python3-torch (as the agreement tests use it); null when it is not there
const PYTHON = '/usr/bin/python3';
const pytorchAvailable = !args.includes('--no-pytorch') && (() => {
  try { execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }); return true; } catch { return false; }
})();
/** One bench/pytorch.py run in its own process: { tokensPerSecond, peakRssMb, torch, precision, cpu, ... }. */
function pytorchBench(config, precision) {
  const line = execFileSync(PYTHON, [join(root, 'bench', 'pytorch.py'), config, '--threads', '2', '--precision', precision],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(line.trim());
}
/** The value at the median position of `values` (the lower one of the two middle ones), and where it was. */
function medianOf(values) {
  const order = values.map((v, k) => [v, k]).sort((a, b) => a[0] - b[0]);
  return order[Math.floor((order.length - 1) / 2)];
}

/**
 * For each precision, `rlstm bench --precision P --json` `repeat` times, each followed by a PyTorch run at the same
 * precision where there is PyTorch: { fp32, bf16 } (those that ran), each the run with the median fraction, a
 * summary of every run, and the PyTorch comparison (median of the pairs' ratios); or { skipped } (see the top).
 */
function benchRepeated(config) {
  const runs = {}, torchRuns = {}, skipped = {};
  for (const p of precisions) { runs[p] = []; torchRuns[p] = []; }
  for (let k = 0; k < repeat; k++) {
    for (const p of precisions) {
      if (skipped[p] !== undefined) continue;
      const run = rlstmBenchAt(config, p);
      if (run.skipped !== undefined) { skipped[p] = run.skipped; continue; }
      runs[p].push(run);
      if (pytorchAvailable) torchRuns[p].push(pytorchBench(config, p));
    }
  }
  const entries = {};
  for (const p of precisions) entries[p] = skipped[p] !== undefined ? { skipped: skipped[p] } : summarize(config, p, runs[p], torchRuns[p]);
  if (entries.bf16 !== undefined && entries.fp32 !== undefined && entries.bf16.skipped === undefined) {
    entries.bf16.speedupOverFp32 = medianOf(runs.bf16.map((r, k) => r.tokensPerSecond / runs.fp32[k].tokensPerSecond))[0];
  }
  return entries;
}
/** One precision's runs of one configuration: the median run, every run's summary, the PyTorch comparison. */
function summarize(config, precision, runs, torchRuns) {
  // the median by roofline fraction, as always; by tokens/s where a precision's runs do not report one
  const key = runs.every((r) => typeof r.rooflineFraction === 'number') ? 'rooflineFraction' : 'tokensPerSecond';
  const median = runs[medianOf(runs.map((r) => r[key]))[1]];
  const summary = runs.map((r, k) => ({ tokensPerSecond: r.tokensPerSecond, rooflineFraction: r.rooflineFraction, peakRssMb: r.peakRssMb,
    ...(pytorchAvailable ? { pytorchTokensPerSecond: torchRuns[k].tokensPerSecond, speedupOverPytorch: r.tokensPerSecond / torchRuns[k].tokensPerSecond } : {}) }));
  let comparison;
  if (pytorchAvailable) {
    comparison = {
      pytorchMeasured: true, pytorchVersion: torchRuns[0].torch,
      pytorchTokensPerSecond: torchRuns[medianOf(summary.map((s) => s.speedupOverPytorch))[1]].tokensPerSecond,
      pytorchPeakRssMb: Math.max(...torchRuns.map((r) => r.peakRssMb)),
      speedupOverPytorch: medianOf(summary.map((s) => s.speedupOverPytorch))[0],
      // bf16: what autocast ran in bf16 in this PyTorch, and whether the CPU does bf16 in hardware
      ...(precision === 'bf16' ? { pytorchAutocastDtypes: torchRuns[0].autocastDtypes ?? null, pytorchBf16Native: torchRuns[0].bf16Native ?? null } : {}),
    };
  } else if (precision === 'fp32') {
    comparison = { pytorchMeasured: false, pytorchTokensPerSecond: pytorch[config].tokensPerSecond, pytorchPeakRssMb: pytorch[config].peakRssMb ?? null,
      speedupOverPytorch: median.tokensPerSecond / pytorch[config].tokensPerSecond };
  } else {
    // the reference figures are fp32: there is nothing to set a bf16 run against
    comparison = { pytorchMeasured: false, pytorchTokensPerSecond: null, pytorchPeakRssMb: null, speedupOverPytorch: null };
  }
  return { ...median, precision, runs: summary, peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)), ...comparison };
}
const range = (r, key, digits) => `${Math.min(...r.runs.map((x) => x[key])).toFixed(digits)}–${Math.max(...r.runs.map((x) => x[key])).toFixed(digits)}`;

// PyTorch 1.13 on the same machine kind, 2 threads (measured earlier): the reference where PyTorch is not installed
const pytorch = { small: { tokensPerSecond: 1400 }, medium: { tokensPerSecond: 470, peakRssMb: 774 }, large: { tokensPerSecond: 127, peakRssMb: 1300 } };

const results = {};
const bf16Results = {};
for (const config of ['small', 'medium', 'large']) {
  process.stderr.write(`bench ${config} (${precisions.join(', ')})${pytorchAvailable ? ', alternating with PyTorch' : ''} ...\n`);
  const entries = benchRepeated(config);
  if (entries.fp32 !== undefined) results[config] = entries.fp32;
  if (entries.bf16 !== undefined) bf16Results[config] = entries.bf16;
  for (const p of precisions) {
    const r = entries[p];
    if (r.skipped !== undefined) {
      process.stderr.write(`  ${p}: skipped: ${r.skipped}\n`);
      continue;
    }
    const fraction = typeof r.rooflineFraction === 'number'
      ? `${(100 * r.rooflineFraction).toFixed(1)}% of the roofline (runs: ${range(r, 'rooflineFraction', 3)}), ` : '';
    const torch = r.speedupOverPytorch === null ? 'no PyTorch figure for bf16'
      : `${r.speedupOverPytorch.toFixed(2)}× PyTorch ${p} (${r.pytorchMeasured ? `measured: ${Math.round(r.pytorchTokensPerSecond)} tokens/s` : 'reference figure'})`;
    process.stderr.write(`  ${p}, median of ${repeat}: ${Math.round(r.tokensPerSecond)} tokens/s, ${fraction}peak ${Math.round(r.peakRssMb)} MB; ${torch}`
      + `${r.speedupOverFp32 !== undefined ? `; ${r.speedupOverFp32.toFixed(2)}× rlstm fp32` : ''}\n`);
  }
}
// the pure-TypeScript backend (WebAssembly SIMD GEMM, two threads where there are two cores), small
// configuration: what the browser lab runs on. Its runs alternate with BLAS runs of the same configuration,
// process by process, and jsOverBlas is the median of each pair's ratio of tokens/s (issue 20's target: ≥ 0.4).
if (backend !== 'js' && !args.includes('--no-js') && precisions.includes('fp32')) {
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
if (precisions.includes('bf16')) results.bf16 = bf16Results; // after the fp32 entries, as the top says
/** /proc/cpuinfo's first processor (Linux): vendor, family, model, model name, and which of the flags that matter it has; null elsewhere. */
function cpuInfo() {
  let text;
  try { text = readFileSync('/proc/cpuinfo', 'utf8'); } catch { return null; }
  const fields = {};
  for (const line of text.split('\n\n')[0].split('\n')) {
    const at = line.indexOf(':');
    if (at >= 0) fields[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  if (Object.keys(fields).length === 0) return null;
  const number = (key) => (/^\d+$/.test(fields[key] ?? '') ? Number(fields[key]) : null);
  const flags = new Set((fields.flags ?? '').split(/\s+/));
  // as bench/pytorch.py's CPU_FLAGS: AVX2 for fp32; AVX-512, and bf16 in hardware (AVX512-BF16, AMX-BF16)
  return { vendor: fields.vendor_id ?? null, family: number('cpu family'), model: number('model'), modelName: fields['model name'] ?? null,
    flags: ['avx2', 'avx512f', 'avx512_bf16', 'amx_bf16'].filter((f) => flags.has(f)) };
}
const cpu = cpuInfo();
let commit = null;
try { commit = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { /* not a checkout */ }
const report = {
  date: new Date().toISOString(), gitCommit: commit, node: process.version, repeat, precisions,
  machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGb: Math.round(totalmem() / 2 ** 30),
    cpuInfo: cpu, bf16Native: cpu === null ? null : cpu.flags.includes('avx512_bf16') },
  pytorchReference: pytorchAvailable
    ? 'PyTorch measured here by bench/pytorch.py (same model, data and batch; CPU, 2 threads; bf16 as torch.autocast on the CPU), '
      + 'alternating with each rlstm run of the same precision'
    : 'PyTorch 1.13, CPU, 2 threads, same model and data: earlier measured reference figures for fp32 (PyTorch not installed here, or --no-pytorch); none for bf16',
  results,
};
mkdirSync(dirname(out), { recursive: true });
writeFileSync(`${out}.tmp`, JSON.stringify(report, null, 2) + '\n');
renameSync(`${out}.tmp`, out);
process.stderr.write(`wrote ${out}\n`);
