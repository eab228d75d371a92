import { nextFloat, type Rng } from '../util/rng.js';

/**
 * Inverted dropout. A mask holds 0 (dropped) or 1/keep (kept), so that the expected value of every
 * unit is unchanged and evaluation needs no rescaling: at evaluation the layer is the identity.
 */

/** A fresh Bernoulli(keep) draw for every element: every unit, every example, every timestep. */
export function fillDropoutMaskPerStep(mask: Float32Array, n: number, keep: number, rng: Rng): void {
  const scale = 1 / keep;
  for (let k = 0; k < n; k++) mask[k] = nextFloat(rng) < keep ? scale : 0;
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

/** out = inp ⊙ mask, over n elements. */
export function dropoutForward(out: Float32Array, inp: Float32Array, mask: Float32Array, n: number): void {
  for (let k = 0; k < n; k++) out[k] = inp[k] * mask[k];
}

/** dinp = dout ⊙ mask (forward: out = inp ⊙ mask). dinp may be dout itself. */
export function dropoutBackward(dinp: Float32Array, dout: Float32Array, mask: Float32Array, n: number): void {
  for (let k = 0; k < n; k++) dinp[k] = dout[k] * mask[k];
}
