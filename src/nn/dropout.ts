import { multiply } from '../kernels/pointwise.js';
import type { Rng } from '../util/rng.js';

/**
 * Inverted dropout. A mask holds 0 (dropped) or 1/keep (kept), so that the expected value of every
 * unit is unchanged and evaluation needs no rescaling: at evaluation the layer is the identity.
 */

/**
 * A fresh Bernoulli(keep) draw for every element: every unit, every example, every timestep.
 * Element k is kept when the k-th nextFloat(rng) is below keep. The generator (xoshiro128**, util/rng.ts)
 * is written out here with its state in local variables: the same draws, without a call and four typed-array
 * loads and stores per element (this loop fills (T·B, H) floats L+1 times per training step).
 */
export function fillDropoutMaskPerStep(mask: Float32Array, n: number, keep: number, rng: Rng): void {
  const scale = 1 / keep;
  const s = rng.state;
  let s0 = s[0] | 0, s1 = s[1] | 0, s2 = s[2] | 0, s3 = s[3] | 0;
  for (let k = 0; k < n; k++) {
    const m = Math.imul(s1, 5);
    const bits = Math.imul((m << 7) | (m >>> 25), 9) >>> 0; // nextUint32: rotl(s1·5, 7)·9
    const t = s1 << 9;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    mask[k] = bits / 4294967296 < keep ? scale : 0; // nextFloat(rng) < keep
  }
  s[0] = s0; s[1] = s1; s[2] = s2; s[3] = s3;
}

/**
 * Variational dropout (Gal & Ghahramani 2016): one draw per sequence and unit, the same at every step.
 *   mask (T,B,C): the (B,C) block drawn for step 0 is repeated for the T steps.
 */
export function fillDropoutMaskPerSequence(
  mask: Float32Array, T: number, B: number, C: number, keep: number, rng: Rng,
): void {
  const block = B * C;
  fillDropoutMaskPerStep(mask, block, keep, rng);
  for (let t = 1; t < T; t++) mask.copyWithin(t * block, 0, block);
}

/**
 * out = inp ⊙ mask, over n elements; out may be inp itself. (The model calls the same product as
 * Backend.multiply, which the BLAS and js backends run in WebAssembly with these bits.)
 */
export function dropoutForward(out: Float32Array, inp: Float32Array, mask: Float32Array, n: number): void {
  multiply(n, inp, mask, out);
}

/** dinp = dout ⊙ mask (forward: out = inp ⊙ mask). dinp may be dout itself. */
export function dropoutBackward(dinp: Float32Array, dout: Float32Array, mask: Float32Array, n: number): void {
  multiply(n, dout, mask, dinp);
}
