import { fillDropoutMaskPerStep, multiply } from '../kernels/pointwise.js';
import type { Rng } from '../util/rng.js';

/**
 * Inverted dropout. A mask holds 0 (dropped) or 1/keep (kept), so that the expected value of every
 * unit is unchanged and evaluation needs no rescaling: at evaluation the layer is the identity.
 */

/**
 * A fresh Bernoulli(keep) draw for every element: every unit, every example, every timestep (the paper's
 * dropout). Element k is kept when the k-th nextFloat(rng) is below keep. The loop lives with the other
 * elementwise kernels (kernels/pointwise.ts), since the backends run it too, on more lanes or threads, with
 * these draws.
 */
export { fillDropoutMaskPerStep };

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
