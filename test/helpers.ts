import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng, nextFloat, type Rng } from '../src/util/rng.js';
import type { GradientCheckResult } from '../src/util/gradcheck.js';

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
