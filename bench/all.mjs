#!/usr/bin/env node
// Runs `rlstm bench --json` for the small, medium and large configurations, one after the other (each in
// its own process, so peak memory is per configuration), and writes results/bench.json with the machine
// it ran on, then the small configuration on the TypeScript backend (skip with --no-js).
// Usage: node bench/all.mjs [--backend blas|js|auto] [--out results/bench.json] [--no-js]
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

// PyTorch 1.13 on the same machine kind, 2 threads (SPEC.md): tokens/s and peak memory
const pytorch = { small: { tokensPerSecond: 1400 }, medium: { tokensPerSecond: 470, peakRssMb: 774 }, large: { tokensPerSecond: 127, peakRssMb: 1300 } };

const results = {};
for (const config of ['small', 'medium', 'large']) {
  process.stderr.write(`bench ${config} ...\n`);
  const line = execFileSync(process.execPath, [join(root, 'bin/rlstm.js'), 'bench', '--config', config, '--backend', backend, '--json'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const r = JSON.parse(line.trim());
  results[config] = { ...r, pytorchTokensPerSecond: pytorch[config].tokensPerSecond, speedupOverPytorch: r.tokensPerSecond / pytorch[config].tokensPerSecond };
  process.stderr.write(`  ${Math.round(r.tokensPerSecond)} tokens/s, ${(100 * r.rooflineFraction).toFixed(1)}% of the roofline, ${Math.round(r.peakRssMb)} MB\n`);
}
// the pure-TypeScript backend (WebAssembly SIMD GEMM), small configuration: what the browser lab runs on
if (backend !== 'js' && !args.includes('--no-js')) {
  process.stderr.write('bench small --backend js ...\n');
  const line = execFileSync(process.execPath, [join(root, 'bin/rlstm.js'), 'bench', '--config', 'small', '--backend', 'js', '--steps', '8', '--json'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const r = JSON.parse(line.trim());
  results.smallTypeScriptBackend = { ...r, pytorchTokensPerSecond: pytorch.small.tokensPerSecond, speedupOverPytorch: r.tokensPerSecond / pytorch.small.tokensPerSecond };
  process.stderr.write(`  ${Math.round(r.tokensPerSecond)} tokens/s on the TypeScript backend\n`);
}
let commit = null;
try { commit = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { /* not a checkout */ }
const report = {
  date: new Date().toISOString(), gitCommit: commit, node: process.version,
  machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGb: Math.round(totalmem() / 2 ** 30) },
  pytorchReference: 'PyTorch 1.13, CPU, 2 threads, same model and data (SPEC.md)',
  results,
};
mkdirSync(dirname(out), { recursive: true });
writeFileSync(`${out}.tmp`, JSON.stringify(report, null, 2) + '\n');
renameSync(`${out}.tmp`, out);
process.stderr.write(`wrote ${out}\n`);
