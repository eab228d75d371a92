/**
 * Layer normalization (Ba et al. 2016) over the last axis, an addition beyond the paper (docs/method.md).
 *   y = gain ⊙ x̂ + bias,  x̂ = (x − mean) / sqrt(var + eps), mean and (biased) var over the C features.
 */
export const LAYER_NORM_EPS = 1e-5;

/**
 * inp (N,C) → out (N,C); saves xhat (N,C) and rstd (N) = 1/sqrt(var+eps) for the backward.
 * out may be inp itself. bias may be null (no shift).
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
      const xh = (inp[row + j] - mean) * r;
      xhat[row + j] = xh;
      out[row + j] = gain[j] * xh + (bias === null ? 0 : bias[j]);
    }
  }
}

/**
 * Backward of layerNormForward:
 *   dinp (N,C) = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ⊙ x̂)),  dx̂ = dout ⊙ gain   (overwritten; may be dout)
 *   dgain (C) += Σ_n dout ⊙ x̂      dbias (C) += Σ_n dout   (dbias may be null)
 */
export function layerNormBackward(
  dinp: Float32Array, dgain: Float32Array, dbias: Float32Array | null, dout: Float32Array,
  xhat: Float32Array, rstd: Float32Array, gain: Float32Array, N: number, C: number,
): void {
  for (let n = 0; n < N; n++) {
    const row = n * C;
    let meanD = 0, meanDX = 0;
    for (let j = 0; j < C; j++) {
      const d = dout[row + j], xh = xhat[row + j];
      dgain[j] += d * xh;
      if (dbias !== null) dbias[j] += d;
      const dxh = d * gain[j];
      meanD += dxh;
      meanDX += dxh * xh;
    }
    meanD /= C;
    meanDX /= C;
    const r = rstd[n];
    for (let j = 0; j < C; j++) {
      const dxh = dout[row + j] * gain[j];
      dinp[row + j] = r * (dxh - meanD - xhat[row + j] * meanDX);
    }
  }
}
