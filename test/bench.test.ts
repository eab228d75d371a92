import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadBlasBackend } from '../src/kernels/blas.js';
import { CONFIGS } from '../src/model/configs.js';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flopsPerToken } from '../src/bench/bench.js';
import { parameterCount } from '../src/train/memory.js';
import { PROJECT_ROOT, PYTHON, rlstm, tempDir, tinyCorpus, torchMissing as torchMissingReason } from './helpers.js';

test('FLOPs per trained token as docs/performance.md counts them: medium ≈ 80 M, large ≈ 306 M', () => {
  // 6 · (Σ_layers 4H·(in+H) + H·V) with in = H
  assert.equal(flopsPerToken(CONFIGS.small, 10000), 6 * (2 * 4 * 200 * 400 + 200 * 10000));
  assert.ok(Math.abs(flopsPerToken(CONFIGS.medium, 10000) / 1e6 - 79.6) < 0.1);
  assert.ok(Math.abs(flopsPerToken(CONFIGS.large, 10000) / 1e6 - 306) < 0.5);
});

let noBlas: string | null = null; // why the BLAS backend does not load: no OpenBLAS, or RLSTM_NATIVE=0
try { loadBlasBackend(); } catch (err) { noBlas = (err as Error).message; }

test('rlstm bench --json reports consistent figures', { skip: noBlas === null ? false : `BLAS not available (${noBlas})` }, () => {
  const r = rlstm(['bench', '--config', 'small', '--steps', '2', '--data', tinyCorpus(), '--json'], tempDir());
  assert.equal(r.status, 0, r.stderr);
  const b = JSON.parse(r.stdout.trim());
  for (const key of ['tokensPerSecond', 'rooflineTokensPerSecond', 'rooflineFraction', 'gemmGflops', 'evalTokensPerSecond', 'peakRssMb']) {
    assert.ok(typeof b[key] === 'number' && b[key] > 0, `${key} = ${b[key]}`);
  }
  assert.equal(b.backend, 'blas');
  assert.equal(b.config, 'small');
  assert.ok(Math.abs(b.rooflineFraction - b.tokensPerSecond / b.rooflineTokensPerSecond) < 1e-9);
  // two steps, two rounds, each set against the roofline measured after it:
  // fraction = Σ_rounds tokens·flops/gemmGflops ÷ Σ_rounds seconds
  assert.equal(b.rounds, 2);
  assert.equal(b.roundFigures.length, 2);
  type Round = { tokens: number; seconds: number; gemmGflops: number; recurrentGemmGflops: number };
  const rounds = b.roundFigures as Round[];
  const sum = (f: (r: Round) => number): number => rounds.reduce((s, r) => s + f(r), 0);
  assert.equal(sum((r) => r.tokens), 2 * CONFIGS.small.batchSize * CONFIGS.small.bptt);
  assert.ok(Math.abs(b.tokensPerSecond - sum((r) => r.tokens) / sum((r) => r.seconds)) < 1e-6 * b.tokensPerSecond);
  const rooflineSeconds = sum((r) => (r.tokens * b.flopsPerToken) / (r.gemmGflops * 1e9));
  assert.ok(Math.abs(b.rooflineFraction - rooflineSeconds / sum((r) => r.seconds)) < 1e-9);
  assert.ok(Math.abs(b.gemmGflops - sum((r) => r.gemmGflops) / 2) < 1e-9);
  // the GEMM-only ceiling: batched FLOPs at each round's gemmGflops, the per-step recurrent ones (L·16H² per
  // token) at its recurrentGemmGflops
  const H = CONFIGS.small.hidden, recurrent = CONFIGS.small.layers * 16 * H * H;
  const gemmOnlySeconds = sum((r) => r.tokens * ((b.flopsPerToken - recurrent) / (r.gemmGflops * 1e9) + recurrent / (r.recurrentGemmGflops * 1e9)));
  assert.ok(Math.abs(b.gemmOnlyFraction - rooflineSeconds / gemmOnlySeconds) < 1e-9, `gemmOnlyFraction ${b.gemmOnlyFraction}`);
  const parts = Object.values(b.breakdown as Record<string, number>);
  assert.deepEqual(Object.keys(b.breakdown).sort(), ['embedding', 'gemm', 'lstmElementwise', 'optimizer', 'other', 'softmaxCrossEntropy']);
  const total = parts.reduce((s, v) => s + v, 0);
  assert.ok(total > 0.95 && total < 1.2, `breakdown sums to ${total}`);
});

test('rlstm bench --backend js --json reports its WebAssembly GEMM: one thread against its multiply-add peak, and the backend\'s own over it', () => {
  const r = rlstm(['bench', '--config', 'quick', '--backend', 'js', '--steps', '2', '--data', tinyCorpus(), '--json'], tempDir());
  assert.equal(r.status, 0, r.stderr);
  const b = JSON.parse(r.stdout.trim());
  assert.equal(b.backend, 'js');
  assert.match(b.library, /^WebAssembly (relaxed )?SIMD, [12] threads?$/);
  const w = b.wasmGemm as { variant: string; peakGflops: number; oneThreadGflops: number; oneThreadFractionOfPeak: number; backendOverOneThread: number };
  assert.ok(w !== undefined, 'wasmGemm is missing');
  assert.equal(w.variant, b.library.includes('relaxed') ? 'relaxed SIMD' : 'SIMD');
  for (const key of ['peakGflops', 'oneThreadGflops', 'backendOverOneThread'] as const) assert.ok(w[key] > 0, `${key} = ${w[key]}`);
  assert.ok(Math.abs(w.oneThreadFractionOfPeak - w.oneThreadGflops / w.peakGflops) < 1e-12);
  assert.ok(Math.abs(w.backendOverOneThread - b.gemmGflops / w.oneThreadGflops) < 1e-9);
});

const torchMissing = torchMissingReason();

/** /proc/cpuinfo's first processor as bench/pytorch.py and bench/all.mjs report it; null off Linux. */
function expectedCpu(): { vendor: string; family: number; model: number; modelName: string; flags: string[] } | null {
  if (!existsSync('/proc/cpuinfo')) return null;
  const block = readFileSync('/proc/cpuinfo', 'utf8').split('\n\n')[0];
  const field = (key: string): string => (new RegExp(`^${key}\\s*:\\s*(.*)$`, 'm').exec(block)?.[1] ?? '').trim();
  const flags = new Set(field('flags').split(/\s+/));
  return { vendor: field('vendor_id'), family: Number(field('cpu family')), model: Number(field('model')), modelName: field('model name'),
    flags: ['avx2', 'avx512f', 'avx512_bf16', 'amx_bf16'].filter((f) => flags.has(f)) };
}

test('bench/pytorch.py times the same model as rlstm: as many parameters, B·T tokens a step; a bad --steps is one line, exit 2', { skip: torchMissing === null ? false : `PyTorch not available: ${torchMissing}` }, () => {
  const script = join(PROJECT_ROOT, 'bench', 'pytorch.py');
  const corpus = tinyCorpus();
  const r = spawnSync(PYTHON, [script, 'small', '--steps', '2', '--data', corpus], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const b = JSON.parse(r.stdout.trim());
  assert.equal(b.config, 'small');
  assert.equal(b.tokens, 2 * CONFIGS.small.batchSize * CONFIGS.small.bptt);
  assert.equal(b.parameters, parameterCount({ ...CONFIGS.small, vocabSize: b.vocabSize }));
  assert.ok(b.tokensPerSecond > 0 && b.peakRssMb > 0, r.stdout);
  assert.equal(b.precision, 'fp32'); // the default
  assert.deepEqual(b.cpu, expectedCpu());
  assert.equal('bf16Native' in b, false);
  assert.equal('autocastDtypes' in b, false);
  const bad = spawnSync(PYTHON, [script, 'small', '--steps', '0', '--data', corpus], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, 'bench/pytorch.py: --steps 0: give a whole number of steps >= 1\n');
});

test('bench/pytorch.py --precision bf16 trains the same model under CPU autocast: decoder in bf16, loss in fp32, the CPU and bf16Native reported', { skip: torchMissing === null ? false : `PyTorch not available: ${torchMissing}` }, () => {
  const script = join(PROJECT_ROOT, 'bench', 'pytorch.py');
  const corpus = tinyCorpus();
  const r = spawnSync(PYTHON, [script, 'small', '--steps', '2', '--data', corpus, '--precision', 'bf16'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const b = JSON.parse(r.stdout.trim());
  assert.equal(b.precision, 'bf16');
  assert.equal(b.tokens, 2 * CONFIGS.small.batchSize * CONFIGS.small.bptt);
  assert.equal(b.parameters, parameterCount({ ...CONFIGS.small, vocabSize: b.vocabSize }));
  assert.ok(b.tokensPerSecond > 0 && b.peakRssMb > 0, r.stdout);
  const cpu = expectedCpu();
  assert.deepEqual(b.cpu, cpu);
  assert.equal(b.bf16Native, cpu === null ? null : cpu.flags.includes('avx512_bf16'));
  // what autocast does op by op: nn.Linear (the decoder, most of small's FLOPs) in bf16, the loss in fp32;
  // the embedding and nn.LSTM depend on the PyTorch version (fp32 in 1.13), so they are only reported
  const dtypes = b.autocastDtypes as Record<string, string>;
  assert.deepEqual(Object.keys(dtypes).sort(), ['decoder', 'embedding', 'loss', 'lstm']);
  assert.equal(dtypes.decoder, 'bfloat16');
  assert.equal(dtypes.loss, 'float32');
  const bad = spawnSync(PYTHON, [script, 'small', '--steps', '1', '--data', corpus, '--precision', 'fp16'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--precision: invalid choice: 'fp16'/);
});

test('bench/all.mjs runs each precision alternating with PyTorch at that precision, keeps results.small fp32, and records a bf16 that rlstm cannot run as skipped', () => {
  // a copy of bench/all.mjs in a tree of its own, with stand-ins for bin/rlstm.js and bench/pytorch.py that log their arguments
  const root = tempDir('rlstm-bench-all-');
  mkdirSync(join(root, 'bench'));
  mkdirSync(join(root, 'bin'));
  copyFileSync(join(PROJECT_ROOT, 'bench', 'all.mjs'), join(root, 'bench', 'all.mjs'));
  const log = join(root, 'calls.log');
  writeFileSync(join(root, 'bin', 'rlstm.js'), `
const fs = require('node:fs');
const argv = process.argv.slice(2);
const value = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const precision = value('--precision') ?? 'fp32', config = value('--config'), backend = value('--backend');
fs.appendFileSync(${JSON.stringify(log)}, 'rlstm ' + config + ' ' + backend + ' ' + precision + '\\n');
if (process.env.FAKE_OLD_RLSTM && argv.includes('--precision')) {
  console.error("rlstm: unknown option '--precision'; see rlstm bench --help");
  process.exit(2);
}
if (precision === 'bf16' && process.env.FAKE_NO_BF16) {
  console.error('note: the backend chosen');
  console.error('rlstm: --precision bf16: this CPU has no avx512_bf16');
  process.exit(2);
}
const tps = { small: 8000, medium: 2000, large: 500 }[config] * (precision === 'bf16' ? 1.5 : 1) * (backend === 'js' ? 0.5 : 1);
console.log(JSON.stringify({ config, backend, precision, tokensPerSecond: tps, rooflineFraction: 0.5, peakRssMb: 100, library: 'stand-in', gemmGflops: 10 }));
`);
  writeFileSync(join(root, 'package.json'), '{"type": "commonjs"}\n');
  writeFileSync(join(root, 'bench', 'pytorch.py'), `
import json, sys
config, precision = sys.argv[1], sys.argv[sys.argv.index("--precision") + 1]
with open(${JSON.stringify(log)}, "a") as f:
    f.write(f"pytorch {config} {sys.argv[sys.argv.index('--threads') + 1]} {precision}\\n")
tps = {"small": 1000, "medium": 500, "large": 125}[config] * (2 if precision == "bf16" else 1)
print(json.dumps({"config": config, "precision": precision, "tokensPerSecond": tps, "peakRssMb": 50, "torch": "stand-in",
                  **({"bf16Native": False, "autocastDtypes": {"decoder": "bfloat16"}} if precision == "bf16" else {})}))
`);
  const runAll = (extra: string[], env: Record<string, string> = {}): { report: any; calls: string[]; stderr: string } => { // eslint-disable-line @typescript-eslint/no-explicit-any
    writeFileSync(log, '');
    const out = join(root, 'bench.json');
    const r = spawnSync(process.execPath, [join(root, 'bench', 'all.mjs'), '--out', out, '--repeat', '2', ...extra],
      { encoding: 'utf8', env: { ...process.env, ...env } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(existsSync(`${out}.tmp`), false);
    return { report: JSON.parse(readFileSync(out, 'utf8')), calls: readFileSync(log, 'utf8').trim().split('\n'), stderr: r.stderr };
  };
  const withTorch = torchMissing === null;

  // both precisions (the default), bf16 runnable
  const both = runAll(['--no-js', ...(withTorch ? [] : ['--no-pytorch'])]);
  const perRepeat = withTorch
    ? (c: string) => [`rlstm ${c} blas fp32`, `pytorch ${c} 2 fp32`, `rlstm ${c} blas bf16`, `pytorch ${c} 2 bf16`]
    : (c: string) => [`rlstm ${c} blas fp32`, `rlstm ${c} blas bf16`];
  assert.deepEqual(both.calls, ['small', 'medium', 'large'].flatMap((c) => [...perRepeat(c), ...perRepeat(c)]));
  const { report } = both;
  assert.deepEqual(report.precisions, ['fp32', 'bf16']);
  assert.deepEqual(Object.keys(report.results), ['small', 'medium', 'large', 'bf16']);
  assert.equal(report.results.small.precision, 'fp32');
  assert.equal(report.results.small.tokensPerSecond, 8000);
  assert.equal(report.results.bf16.large.precision, 'bf16');
  assert.equal(report.results.bf16.large.tokensPerSecond, 750);
  assert.equal(report.results.bf16.large.speedupOverFp32, 1.5);
  assert.equal(report.results.bf16.large.runs.length, 2);
  if (withTorch) {
    assert.equal(report.results.small.speedupOverPytorch, 8);
    assert.equal(report.results.bf16.small.speedupOverPytorch, 6); // 12000 over PyTorch bf16's 2000, not fp32's 1000
    assert.equal(report.results.bf16.small.pytorchBf16Native, false);
  } else {
    assert.equal(report.results.small.pytorchMeasured, false);
    assert.equal(report.results.bf16.small.speedupOverPytorch, null);
  }
  const cpu = expectedCpu();
  assert.deepEqual(report.machine.cpuInfo, cpu);
  assert.equal(report.machine.bf16Native, cpu === null ? null : cpu.flags.includes('avx512_bf16'));
  assert.equal(typeof report.machine.cpu, 'string');

  // rlstm cannot run bf16 here: tried once per configuration, recorded as skipped with its line, PyTorch bf16 not run;
  // the TypeScript backend's runs stay fp32
  const skipped = runAll(['--no-pytorch'], { FAKE_NO_BF16: '1' });
  assert.deepEqual(skipped.calls, [
    ...['small', 'medium', 'large'].flatMap((c) => [`rlstm ${c} blas fp32`, `rlstm ${c} blas bf16`, `rlstm ${c} blas fp32`]),
    'rlstm small blas fp32', 'rlstm small js fp32', 'rlstm small blas fp32', 'rlstm small js fp32']);
  for (const c of ['small', 'medium', 'large']) {
    assert.deepEqual(skipped.report.results.bf16[c], { skipped: 'rlstm: --precision bf16: this CPU has no avx512_bf16' });
  }
  assert.equal(skipped.report.results.medium.tokensPerSecond, 2000);
  assert.equal(skipped.report.results.smallTypeScriptBackend.jsOverBlas, 0.5);
  assert.match(skipped.stderr, /bf16: skipped: rlstm: --precision bf16: this CPU has no avx512_bf16/);

  // fp32 only: the file as it was before bf16 (no results.bf16)
  const fp32 = runAll(['--no-js', '--no-pytorch', '--precision', 'fp32']);
  assert.equal(fp32.calls.every((c) => c.endsWith(' fp32')), true);
  assert.deepEqual(Object.keys(fp32.report.results), ['small', 'medium', 'large']);

  // an rlstm without --precision is not a machine without bf16: the benchmark stops, bf16 only included, and writes nothing
  const old = spawnSync(process.execPath, [join(root, 'bench', 'all.mjs'), '--out', join(root, 'old.json'), '--no-pytorch', '--precision', 'bf16'],
    { encoding: 'utf8', env: { ...process.env, FAKE_OLD_RLSTM: '1' } });
  assert.equal(old.status, 1);
  assert.match(old.stderr, /unknown option '--precision'/);
  assert.equal(existsSync(join(root, 'old.json')), false);

  // a precision that is not offered: one line, status 2, nothing run
  const bad = spawnSync(process.execPath, [join(root, 'bench', 'all.mjs'), '--precision', 'fp16'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, '--precision fp16: give fp32, bf16 or both\n');
});
