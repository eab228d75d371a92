import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadBlasBackend } from '../src/kernels/blas.js';
import { CONFIGS } from '../src/model/configs.js';
import { flopsPerToken } from '../src/bench/bench.js';
import { rlstm, tempDir, tinyCorpus } from './helpers.js';

test('FLOPs per trained token follow SPEC.md: medium ≈ 80 M, large ≈ 306 M', () => {
  // 6 · (Σ_layers 4H·(in+H) + H·V) with in = H
  assert.equal(flopsPerToken(CONFIGS.small, 10000), 6 * (2 * 4 * 200 * 400 + 200 * 10000));
  assert.ok(Math.abs(flopsPerToken(CONFIGS.medium, 10000) / 1e6 - 79.6) < 0.1);
  assert.ok(Math.abs(flopsPerToken(CONFIGS.large, 10000) / 1e6 - 306) < 0.5);
});

let blas = true;
try { loadBlasBackend(); } catch { blas = false; }

test('rlstm bench --json reports consistent figures', { skip: blas ? false : 'OpenBLAS not installed' }, () => {
  const r = rlstm(['bench', '--config', 'small', '--steps', '2', '--data', tinyCorpus(), '--json'], tempDir());
  assert.equal(r.status, 0, r.stderr);
  const b = JSON.parse(r.stdout.trim());
  for (const key of ['tokensPerSecond', 'rooflineTokensPerSecond', 'rooflineFraction', 'gemmGflops', 'evalTokensPerSecond', 'peakRssMb']) {
    assert.ok(typeof b[key] === 'number' && b[key] > 0, `${key} = ${b[key]}`);
  }
  assert.equal(b.backend, 'blas');
  assert.equal(b.config, 'small');
  assert.ok(Math.abs(b.rooflineFraction - b.tokensPerSecond / b.rooflineTokensPerSecond) < 1e-9);
  assert.ok(Math.abs(b.rooflineTokensPerSecond - b.gemmGflops * 1e9 / b.flopsPerToken) < 1e-6 * b.rooflineTokensPerSecond);
  // the GEMM-only ceiling: batched FLOPs at gemmGflops, the per-step recurrent ones (L·16H² per token) at recurrentGemmGflops
  const H = CONFIGS.small.hidden, recurrent = CONFIGS.small.layers * 16 * H * H;
  const ceiling = (b.flopsPerToken / b.gemmGflops) / ((b.flopsPerToken - recurrent) / b.gemmGflops + recurrent / b.recurrentGemmGflops);
  assert.ok(Math.abs(b.gemmOnlyFraction - ceiling) < 1e-9, `gemmOnlyFraction ${b.gemmOnlyFraction} vs ${ceiling}`);
  const parts = Object.values(b.breakdown as Record<string, number>);
  assert.deepEqual(Object.keys(b.breakdown).sort(), ['embedding', 'gemm', 'lstmElementwise', 'optimizer', 'other', 'softmaxCrossEntropy']);
  const total = parts.reduce((s, v) => s + v, 0);
  assert.ok(total > 0.95 && total < 1.2, `breakdown sums to ${total}`);
});
