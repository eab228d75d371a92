import type { Rng } from '../util/rng.js';

/**
 * Elementwise kernels shared by every backend: the LSTM cell, softmax + cross-entropy, and the two
 * vector operations of the optimizer. Gate order inside a (B, 4H) row is i, f, g, o (PyTorch's nn.LSTM order).
 */

/** y += alpha · x over the first n elements. */
export function axpy(n: number, alpha: number, x: Float32Array, y: Float32Array): void {
  for (let k = 0; k < n; k++) y[k] += alpha * x[k];
}

/** out = a ⊙ b over the first n elements (out may be a or b): dropout's multiply by its mask. */
export function multiply(n: number, a: Float32Array, b: Float32Array, out: Float32Array): void {
  for (let k = 0; k < n; k++) out[k] = a[k] * b[k];
}

/** out = a + b over the first n elements (out may be a or b). */
export function add(n: number, a: Float32Array, b: Float32Array, out: Float32Array): void {
  for (let k = 0; k < n; k++) out[k] = a[k] + b[k];
}

/**
 * A fresh Bernoulli(keep) draw for every element: every unit, every example, every timestep (dropout's
 * mask, nn/dropout.ts: 0 for a dropped unit, 1/keep for a kept one).
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

/** Σ x·y over the first n elements, in float64 with four running sums (they do not wait on each other). */
export function dot(n: number, x: Float32Array, y: Float32Array): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, k = 0;
  for (; k + 3 < n; k += 4) {
    s0 += x[k] * y[k]; s1 += x[k + 1] * y[k + 1];
    s2 += x[k + 2] * y[k + 2]; s3 += x[k + 3] * y[k + 3];
  }
  for (; k < n; k++) s0 += x[k] * y[k];
  return s0 + s1 + s2 + s3;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * One LSTM step, everything after the matrix products (SPEC: "The method").
 *   z      (B,4H)  pre-activations; overwritten in place by the activated gates [σ(i) σ(f) tanh(g) σ(o)]
 *   cPrev  (B,H)   c_{t-1}
 *   c      (B,H)   out: c_t = f ⊙ c_{t-1} + i ⊙ g
 *   cAct   (B,H)   the value fed to tanh; null means c_t itself. Layer-normalized LSTMs pass a callback
 *                  instead, through `normalizeCell`, which fills cAct from c before the tanh.
 *   tanhC  (B,H)   out: tanh(cAct)
 *   h      (B,H)   out: h_t = o ⊙ tanh(cAct)
 */
export function lstmGatesForward(
  z: Float32Array, cPrev: Float32Array, c: Float32Array, tanhC: Float32Array, h: Float32Array,
  B: number, H: number, normalizeCell: ((c: Float32Array, cAct: Float32Array) => void) | null,
  cAct: Float32Array | null,
): void {
  const H4 = 4 * H;
  for (let b = 0; b < B; b++) {
    const zr = b * H4, r = b * H;
    for (let j = 0; j < H; j++) {
      const i = sigmoid(z[zr + j]);
      const f = sigmoid(z[zr + H + j]);
      const g = Math.tanh(z[zr + 2 * H + j]);
      const o = sigmoid(z[zr + 3 * H + j]);
      z[zr + j] = i; z[zr + H + j] = f; z[zr + 2 * H + j] = g; z[zr + 3 * H + j] = o;
      c[r + j] = f * cPrev[r + j] + i * g;
    }
  }
  let src = c;
  if (normalizeCell !== null && cAct !== null) { normalizeCell(c, cAct); src = cAct; }
  for (let b = 0; b < B; b++) {
    const zr = b * H4, r = b * H;
    for (let j = 0; j < H; j++) {
      const tc = Math.tanh(src[r + j]);
      tanhC[r + j] = tc;
      h[r + j] = z[zr + 3 * H + j] * tc;
    }
  }
}

/**
 * Backward of one LSTM step, given the activated gates saved by the forward.
 *   dh      (B,H)   in: dL/dh_t (from above and from step t+1)
 *   dcNext  (B,H)   in: dL/dc_t arriving from step t+1; out: dL/dc_{t-1} (to pass to step t-1)
 *   gates   (B,4H)  saved activated gates of step t
 *   cPrev   (B,H)   c_{t-1};  tanhC (B,H) saved tanh(cAct)
 *   dz      (B,4H)  out: dL/dz, the gradient of the pre-activations; may be `gates` itself (every element
 *                   of a row is read before it is overwritten): the LSTM layer passes the same buffer
 *   dcAct   (B,H)   scratch: dL/dcAct; `normalizeCellBackward` (layer norm) turns it into dL/dc_t in place
 */
export function lstmGatesBackward(
  dh: Float32Array, dcNext: Float32Array, gates: Float32Array, cPrev: Float32Array, tanhC: Float32Array,
  dz: Float32Array, dcAct: Float32Array, B: number, H: number,
  normalizeCellBackward: ((dcAct: Float32Array) => void) | null,
): void {
  const H4 = 4 * H;
  // h = o ⊙ tanh(cAct)
  for (let b = 0; b < B; b++) {
    const zr = b * H4, r = b * H;
    for (let j = 0; j < H; j++) {
      const o = gates[zr + 3 * H + j], tc = tanhC[r + j], d = dh[r + j];
      dz[zr + 3 * H + j] = d * tc * o * (1 - o); // through o = σ(z_o)
      dcAct[r + j] = d * o * (1 - tc * tc);
    }
  }
  if (normalizeCellBackward !== null) normalizeCellBackward(dcAct);
  // c_t = f ⊙ c_{t-1} + i ⊙ g
  for (let b = 0; b < B; b++) {
    const zr = b * H4, r = b * H;
    for (let j = 0; j < H; j++) {
      const i = gates[zr + j], f = gates[zr + H + j], g = gates[zr + 2 * H + j];
      const dc = dcAct[r + j] + dcNext[r + j];
      dz[zr + j] = dc * g * i * (1 - i); //         i = σ(z_i)
      dz[zr + H + j] = dc * cPrev[r + j] * f * (1 - f); // f = σ(z_f)
      dz[zr + 2 * H + j] = dc * i * (1 - g * g); //  g = tanh(z_g)
      dcNext[r + j] = dc * f;
    }
  }
}

/**
 * Softmax + cross-entropy, fused, in place.
 *   logits  (N,V)  in: scores; out: scale · (softmax(logits) − onehot(target)), the gradient of the loss
 *   targets (N)    the correct class of each row
 * Returns the summed negative log-likelihood Σ_rows −log p(target) (in float64).
 * With `scale = 0` the gradient is not needed and rows are left as they are (evaluation).
 */
export function softmaxCrossEntropy(
  logits: Float32Array, targets: Int32Array, N: number, V: number, scale: number,
): number {
  let nll = 0;
  for (let n = 0; n < N; n++) {
    const row = n * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (logits[row + v] > max) max = logits[row + v];
    const target = targets[n];
    const targetScore = logits[row + target] - max;
    let sum = 0;
    if (scale === 0) {
      for (let v = 0; v < V; v++) sum += Math.exp(logits[row + v] - max);
      nll += Math.log(sum) - targetScore;
      continue;
    }
    for (let v = 0; v < V; v++) {
      const e = Math.exp(logits[row + v] - max);
      logits[row + v] = e;
      sum += e;
    }
    nll += Math.log(sum) - targetScore;
    const k = scale / sum;
    for (let v = 0; v < V; v++) logits[row + v] *= k;
    logits[row + target] -= scale;
  }
  return nll;
}
