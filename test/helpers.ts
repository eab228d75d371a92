import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng, nextFloat, type Rng } from '../src/util/rng.js';
import type { GradientCheckResult } from '../src/util/gradcheck.js';
import { NATIVE_DISABLED_REASON, nativeDisabled } from '../src/kernels/blas.js';
import type { Backend } from '../src/kernels/backend.js';
import { createLstmActivations, lstmBackward, lstmForward, type LstmWeights } from '../src/nn/lstm.js';

export function randomArray(n: number, rng: Rng, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let k = 0; k < n; k++) a[k] = (2 * nextFloat(rng) - 1) * scale;
  return a;
}

export function testRng(seed = 7): Rng {
  return createRng(seed);
}

/** Σ out ⊙ weights: a scalar loss whose gradient w.r.t. out is `weights`. */
export function dot(out: Float32Array, weights: Float32Array): number {
  let s = 0;
  for (let k = 0; k < weights.length; k++) s += out[k] * weights[k];
  return s;
}

export function assertGradientOk(name: string, r: GradientCheckResult): void {
  assert.ok(r.checked > 0, `${name}: nothing checked`);
  assert.equal(r.failures, 0,
    `${name}: ${r.failures}/${r.checked} coordinates outside tolerance; worst ${JSON.stringify(r.worst)}`);
}

export function tempDir(prefix = 'rlstm-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export const PROJECT_ROOT = new URL('../../', import.meta.url).pathname;

export const RLSTM = join(PROJECT_ROOT, 'bin/rlstm.js');

/** Runs the rlstm command line in `cwd` (with `env` added to the environment) and returns its exit status and output. */
export function rlstm(args: string[], cwd: string, env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [RLSTM, ...args], { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A small corpus cut from PTB (a few thousand tokens per split), in a new folder. */
export function tinyCorpus(lines = 300): string {
  const dir = tempDir();
  const all = readFileSync(join(PROJECT_ROOT, 'data/ptb/ptb.train.txt'), 'utf8').split('\n');
  writeFileSync(join(dir, 'train.txt'), all.slice(0, lines).join('\n') + '\n');
  writeFileSync(join(dir, 'valid.txt'), all.slice(lines, lines + 40).join('\n') + '\n');
  writeFileSync(join(dir, 'test.txt'), all.slice(lines + 40, lines + 80).join('\n') + '\n');
  return dir;
}

/** Debian's Python, which has PyTorch where `.ci/run` installed it (python3-torch). */
export const PYTHON = '/usr/bin/python3';

/**
 * Why PyTorch cannot be used for the agreement tests here, or null when it can (a test file asks once). RLSTM_NATIVE=0 makes it count
 * as absent, as on a machine without it (.ci/run's second run).
 */
export function torchMissing(): string | null {
  if (nativeDisabled()) return NATIVE_DISABLED_REASON;
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  if (r.error) return `${PYTHON} cannot be run (${r.error.message})`;
  return r.status === 0 ? null : `${PYTHON} cannot import torch and numpy`;
}

/** A plain triple loop, the definition of C = alpha·op(A)·op(B) + beta·C. */
export function gemmReference(tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, A: Float32Array, lda: number,
  B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (tA ? A[k * lda + i] : A[i * lda + k]) * (tB ? B[j * ldb + k] : B[k * ldb + j]);
      C[i * ldc + j] = alpha * s + (beta === 0 ? 0 : beta * C[i * ldc + j]);
    }
  }
}

/** One LSTM layer's forward then backward without masks, as the bit-identity tests of the threaded backends compare them. */
export interface LstmLayerCase {
  w: LstmWeights; x: Float32Array; dH: Float32Array; h0: Float32Array; c0: Float32Array;
  T: number; B: number; In: number; H: number;
}

/**
 * Runs the case's layer forward and backward on `backend` from its h0/c0 (activations allocated by `allocate`,
 * e.g. in shared memory for a helper thread) and returns what it computed: h, c, dx and the weight gradients.
 */
export function runLstmLayer(backend: Backend, { w, x, dH, h0, c0, T, B, In, H }: LstmLayerCase,
  allocate?: (n: number) => Float32Array): { h: Float32Array; c: Float32Array; dx: Float32Array; g: LstmWeights } {
  const a = createLstmActivations(T, B, H, false, false, allocate);
  a.h0.set(h0); a.c0.set(c0);
  const g = { ...w, weightIh: new Float32Array(w.weightIh.length), weightHh: new Float32Array(w.weightHh.length),
    biasIh: new Float32Array(4 * H), biasHh: new Float32Array(4 * H) };
  lstmForward(backend, a, w, x, null, T, B, In, H);
  const h = a.h.slice(), c = a.c.slice();
  const dx = new Float32Array(T * B * In);
  lstmBackward(backend, dx, g, dH, a, w, x, null, T, B, In, H);
  return { h, c, dx, g };
}
