import { LAYER_NORM_EPS } from '../../src/nn/layernorm.js';

/**
 * Solution to exercise 2: layer normalization (Ba et al. 2016), forward and backward.
 *
 * Over the last axis (the C features of each of the N rows):
 *   mean = (1/C) Σ_j x_j      var = (1/C) Σ_j (x_j − mean)²      (biased: divide by C, not C − 1)
 *   rstd = 1 / sqrt(var + eps)      x̂_j = (x_j − mean) · rstd      y_j = gain_j · x̂_j + bias_j
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
  for (let n = 0; n < N; n++) {
    const row = n * C;
    let mean = 0;
    for (let j = 0; j < C; j++) mean += inp[row + j];
    mean /= C;
    let variance = 0;
    for (let j = 0; j < C; j++) { const d = inp[row + j] - mean; variance += d * d; }
    variance /= C;
    const r = 1 / Math.sqrt(variance + LAYER_NORM_EPS);
    rstd[n] = r;
    for (let j = 0; j < C; j++) {
      const xh = (inp[row + j] - mean) * r; // read inp before writing out: they may be the same array
      xhat[row + j] = xh;
      out[row + j] = gain[j] * xh + (bias === null ? 0 : bias[j]);
    }
  }
}

/**
 * Backward of layerNormForward, given dout = dL/dout (N,C) and what the forward saved:
 *   dinp (N,C)   dL/dinp, overwritten; dinp may be dout itself
 *   dgain (C)    += dL/dgain      dbias (C) += dL/dbias (dbias may be null)
 *
 * With dx̂ = dout ⊙ gain, differentiating x̂ = (x − mean) · rstd through mean and rstd gives
 *   dinp = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ⊙ x̂))
 */
export function layerNormBackward(
  dinp: Float32Array, dgain: Float32Array, dbias: Float32Array | null, dout: Float32Array,
  xhat: Float32Array, rstd: Float32Array, gain: Float32Array, N: number, C: number,
): void {
  for (let n = 0; n < N; n++) {
    const row = n * C;
    // y = gain ⊙ x̂ + bias:  dgain += dout ⊙ x̂,  dbias += dout,  dx̂ = dout ⊙ gain
    let meanDxhat = 0, meanDxhatXhat = 0;
    for (let j = 0; j < C; j++) {
      const d = dout[row + j], xh = xhat[row + j];
      dgain[j] += d * xh;
      if (dbias !== null) dbias[j] += d;
      const dxh = d * gain[j];
      meanDxhat += dxh;
      meanDxhatXhat += dxh * xh;
    }
    meanDxhat /= C;
    meanDxhatXhat /= C;
    // x̂ = (x − mean) · rstd:  the two means are subtracted because every x_j also moves mean and var
    const r = rstd[n];
    for (let j = 0; j < C; j++) {
      const dxh = dout[row + j] * gain[j];
      dinp[row + j] = r * (dxh - meanDxhat - xhat[row + j] * meanDxhatXhat);
    }
  }
}
