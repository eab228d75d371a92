import { LAYER_NORM_EPS } from '../../src/nn/layernorm.js';

/**
 * Exercise 2: layer normalization (Ba et al. 2016), forward and backward. An addition beyond the paper:
 * our LN-LSTM (--layer-norm) normalizes W_ih·x, W_hh·h and c_t with exactly these two functions.
 * Fill in the two bodies; README.md in this folder derives the backward.
 * Check your work with: npm run exercise -- 2
 *
 * Over the last axis (the C features of each of the N rows):
 *   mean = (1/C) Σ_j x_j      var = (1/C) Σ_j (x_j − mean)²      (biased: divide by C, not C − 1)
 *   rstd = 1 / sqrt(var + eps)      x̂_j = (x_j − mean) · rstd      y_j = gain_j · x̂_j + bias_j
 * with eps = LAYER_NORM_EPS (1e-5), which keeps a constant row from dividing by zero.
 */
export { LAYER_NORM_EPS };

/**
 * inp (N,C) → out (N,C); saves xhat (N,C) and rstd (N) for the backward.
 *   gain (C), bias (C) or null (no shift). out may be inp itself.
 */
export function layerNormForward(
  out: Float32Array, xhat: Float32Array, rstd: Float32Array, inp: Float32Array,
  gain: Float32Array, bias: Float32Array | null, N: number, C: number,
): void {
  throw new Error('not implemented yet: layerNormForward');
}

/**
 * Backward of layerNormForward, given dout = dL/dout (N,C) and what the forward saved:
 *   dinp (N,C)   dL/dinp, overwritten; dinp may be dout itself
 *   dgain (C)    += dL/dgain   (accumulate: the gain is shared by the N rows, and by the T steps of a window)
 *   dbias (C)    += dL/dbias   (dbias may be null)
 */
export function layerNormBackward(
  dinp: Float32Array, dgain: Float32Array, dbias: Float32Array | null, dout: Float32Array,
  xhat: Float32Array, rstd: Float32Array, gain: Float32Array, N: number, C: number,
): void {
  throw new Error('not implemented yet: layerNormBackward');
}
