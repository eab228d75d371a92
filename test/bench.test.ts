import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadBlasBackend } from '../src/kernels/blas.js';
import { CONFIGS } from '../src/model/configs.js';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { flopsPerToken } from '../src/bench/bench.js';
import { parameterCount } from '../src/train/memory.js';
import { PROJECT_ROOT, PYTHON, rlstm, tempDir, tinyCorpus, torchMissing as torchMissingReason } from './helpers.js';

test('FLOPs per trained token follow SPEC.md: medium ≈ 80 M, large ≈ 306 M', () => {
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
  const bad = spawnSync(PYTHON, [script, 'small', '--steps', '0', '--data', corpus], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, 'bench/pytorch.py: --steps 0: give a whole number of steps >= 1\n');
});
