import type { Backend } from '../kernels/backend.js';
import { recurrentBackwardLoop, recurrentForwardLoop, wholeLoop, type RecurrentJob } from '../kernels/recurrent.js';
import { layerNormBackward, layerNormForward } from './layernorm.js';
import { addColumnSums } from './linear.js';

/**
 * One LSTM layer run over a window of T steps, forward and backward (docs/method.md):
 *
 *   z_t = W_ih · x_t + b_ih + W_hh · h_{t-1} + b_hh
 *   i = σ(z_i)  f = σ(z_f)  g = tanh(z_g)  o = σ(z_o)
 *   c_t = f ⊙ c_{t-1} + i ⊙ g        h_t = o ⊙ tanh(c_t)
 *
 * x_t arrives already dropped out (the paper's D sits on the vertical connections, outside this layer).
 * The recurrent input h_{t-1} is used as it is, except for the `recurrent` and `variational` ablations,
 * which pass a `recurrentMask` that multiplies h_{t-1} before W_hh.
 *
 * With layer normalization (LN-LSTM, an addition beyond the paper): W_ih·x and W_hh·h are normalized
 * separately, b_ih and b_hh serving as their shifts, and c_t is normalized before its tanh:
 *   z_t = LN(W_ih·x_t; γ_ih, b_ih) + LN(W_hh·h_{t-1}; γ_hh, b_hh)      h_t = o ⊙ tanh(LN(c_t; γ_c, β_c))
 *
 * Rows are time-major: row t·B + b of a (T·B, C) matrix is step t of sequence b.
 */

/** A layer's parameters (or, with the same shapes, their gradients). */
export interface LstmWeights {
  weightIh: Float32Array; // (4H, In)
  weightHh: Float32Array; // (4H, H)
  biasIh: Float32Array; //   (4H)
  biasHh: Float32Array; //   (4H)
  lnIhGain: Float32Array | null; //   (4H) layer norm only
  lnHhGain: Float32Array | null; //   (4H)
  lnCellGain: Float32Array | null; // (H)
  lnCellBias: Float32Array | null; // (H)
}

/** What the forward saves for the backward, allocated once for at most T steps of B sequences. */
export interface LstmActivations {
  hPrev: Float32Array; //  (T·B, H)  the recurrent input actually used at step t: h_{t-1}, or h_{t-1} ⊙ mask.
  //                                  Without a recurrent mask it is [h0; h_0 … h_{T-2}], read in place: h0 and h
  //                                  are consecutive rows of one buffer, so no copy is kept (see below)
  gates: Float32Array; //  (T·B, 4H) activated gates i, f, g, o
  c: Float32Array; //      (T·B, H)  cell states c_t
  tanhC: Float32Array; //  (T·B, H)  tanh of c_t (or of LN(c_t))
  h: Float32Array; //      (T·B, H)  outputs h_t
  h0: Float32Array; //     (B, H)    state entering the window (h_{-1}, c_{-1})
  states: Float32Array; // ((T+1)·B, H) one buffer: h0, then h_0 … h_{T-1} (h0 and h are views of it)
  c0: Float32Array; //     (B, H)
  // layer norm only (length 0 otherwise)
  ihHat: Float32Array; //  (T·B, 4H) normalized W_ih·x   ihRstd (T·B)
  ihRstd: Float32Array;
  hhHat: Float32Array; //  (T·B, 4H) normalized W_hh·h   hhRstd (T·B)
  hhRstd: Float32Array;
  cHat: Float32Array; //   (T·B, H)  normalized c_t      cRstd (T·B)
  cRstd: Float32Array;
  cNorm: Float32Array; //  (T·B, H)  LN(c_t), the value under the tanh
  // backward scratch
  hhScratch: Float32Array; // (B, 4H)
  dh: Float32Array; //        (B, H)
  dhNext: Float32Array; //    (B, H)
  dcNext: Float32Array; //    (B, H)
  dcAct: Float32Array; //     (B, H)
  dz: Float32Array; //        (T·B, 4H) the same memory as `gates`: the backward overwrites each step's gates
  //                              with their gradient once it has read them (saves a (T·B, 4H) buffer)
  dzHh: Float32Array; //      (T·B, 4H) layer norm only: gradient of W_hh·h (dz otherwise)
}

/**
 * `allocate` makes the buffers the recurrent loop works on (gates, c, tanhC, the states, the step scratch):
 * shared memory when a backend splits that loop between two threads (Backend.recurrentLoop).
 * `recurrentMask`: whether the forward may be given a mask on h_{t-1} (the recurrent and variational
 * ablations); only then is hPrev a buffer of its own. Otherwise h0 and h_0 … h_{T-1} are the T+1 row blocks
 * of one buffer, and hPrev is its first T blocks: the recurrent input of every step, with no copy.
 */
export function createLstmActivations(
  T: number, B: number, H: number, layerNorm: boolean, recurrentMask = true,
  allocate: (n: number) => Float32Array = (n) => new Float32Array(n),
): LstmActivations {
  const N = T * B;
  const ln = layerNorm ? 1 : 0;
  const gates = allocate(N * 4 * H);
  const states = allocate((N + B) * H); // h0, then h_0 … h_{T-1}
  return {
    hPrev: recurrentMask ? new Float32Array(N * H) : states.subarray(0, N * H), gates, c: allocate(N * H),
    tanhC: allocate(N * H), h: states.subarray(B * H), h0: states.subarray(0, B * H), states, c0: allocate(B * H),
    ihHat: new Float32Array(ln * N * 4 * H), ihRstd: new Float32Array(ln * N),
    hhHat: new Float32Array(ln * N * 4 * H), hhRstd: new Float32Array(ln * N),
    cHat: new Float32Array(ln * N * H), cRstd: new Float32Array(ln * N), cNorm: new Float32Array(ln * N * H),
    hhScratch: new Float32Array(B * 4 * H), dh: allocate(B * H), dhNext: allocate(B * H),
    dcNext: allocate(B * H), dcAct: allocate(B * H),
    dz: gates, dzHh: new Float32Array(ln * N * 4 * H),
  };
}

/**
 * Forward over T steps.
 *   x (T·B, In)  the (dropped-out) inputs;  a.h0, a.c0 (B,H) the state entering the window
 *   recurrentMask (T·B, H) or null: multiplies h_{t-1} (ablations only; never in `zaremba`)
 * Writes a.h (T·B,H); the state leaving the window is row block T−1 of a.h and a.c.
 */
export function lstmForward(
  backend: Backend, a: LstmActivations, w: LstmWeights, x: Float32Array,
  recurrentMask: Float32Array | null, T: number, B: number, In: number, H: number,
): void {
  const H4 = 4 * H, N = T * B;
  const layerNorm = w.lnIhGain !== null;
  const hPrevIsH = a.hPrev.buffer === a.h.buffer; // hPrev already holds h_{t-1} (createLstmActivations)
  if (hPrevIsH && recurrentMask !== null) throw new Error('lstmForward: a recurrent mask needs activations created with recurrentMask = true');
  // The input projections of all T steps in one GEMM: z = x · W_ihᵀ (+ b_ih + b_hh when not normalized)
  if (layerNorm) {
    backend.gemm(false, true, N, H4, In, 1, x, In, w.weightIh, In, 0, a.gates, H4);
    layerNormForward(a.gates, a.ihHat, a.ihRstd, a.gates, w.lnIhGain!, w.biasIh, N, H4);
  } else {
    const bias = a.hhScratch.subarray(0, H4); // b_ih + b_hh once, then copied into every row
    for (let j = 0; j < H4; j++) bias[j] = w.biasIh[j] + w.biasHh[j];
    for (let n = 0; n < N; n++) a.gates.set(bias, n * H4);
    backend.gemm(false, true, N, H4, In, 1, x, In, w.weightIh, In, 1, a.gates, H4);
  }
  if (!layerNorm && recurrentMask === null && hPrevIsH) { // the paper's LSTM: see recurrentForwardLoop
    const job = recurrentJob('forward', a, w, null, T, B, H);
    if (backend.recurrentLoop?.(job, (share) => recurrentForwardLoop(backend, job, share)) !== true) {
      recurrentForwardLoop(backend, job, wholeLoop(B));
    }
    return;
  }
  // with layer norm or a recurrent mask (the ablations): the same steps, those included, on one thread
  let step = 0; // the step the layer-norm callback works on
  const normalizeCell = layerNorm
    ? (c: Float32Array, cNorm: Float32Array) => layerNormForward(cNorm, a.cHat.subarray(step * B * H),
      a.cRstd.subarray(step * B), c, w.lnCellGain!, w.lnCellBias, B, H)
    : null;
  for (let t = 0; t < T; t++) {
    step = t;
    const rows = t * B;
    const hPrev = a.hPrev.subarray(rows * H, (rows + B) * H);
    // the recurrent input: h_{t-1} itself (zaremba), or h_{t-1} ⊙ mask (ablations)
    const hLast = t === 0 ? a.h0 : a.h.subarray((rows - B) * H, rows * H);
    if (recurrentMask === null) { if (!hPrevIsH) hPrev.set(hLast); }
    else backend.multiply(B * H, hLast, recurrentMask.subarray(rows * H, (rows + B) * H), hPrev);
    const z = a.gates.subarray(rows * H4, (rows + B) * H4);
    if (layerNorm) {
      // z += LN(h_{t-1} · W_hhᵀ; γ_hh, b_hh)
      backend.gemm(false, true, B, H4, H, 1, hPrev, H, w.weightHh, H, 0, a.hhScratch, H4);
      layerNormForward(a.hhScratch, a.hhHat.subarray(rows * H4), a.hhRstd.subarray(rows), a.hhScratch,
        w.lnHhGain!, w.biasHh, B, H4);
      for (let k = 0; k < B * H4; k++) z[k] += a.hhScratch[k];
    } else {
      // z += h_{t-1} · W_hhᵀ
      backend.gemm(false, true, B, H4, H, 1, hPrev, H, w.weightHh, H, 1, z, H4);
    }
    const cPrev = t === 0 ? a.c0 : a.c.subarray((rows - B) * H, rows * H);
    backend.lstmGatesForward(z, cPrev, a.c.subarray(rows * H, (rows + B) * H),
      a.tanhC.subarray(rows * H, (rows + B) * H), a.h.subarray(rows * H, (rows + B) * H), B, H,
      normalizeCell, layerNorm ? a.cNorm.subarray(rows * H, (rows + B) * H) : null);
  }
}

/**
 * Backward over the same T steps. Truncated BPTT: no gradient enters from after the window, and the
 * gradient reaching h0, c0 is dropped. Consumes the forward's activations: a.gates becomes a.dz.
 *   dH (T·B, H)  in: dL/dh_t from the layer above (the vertical path)
 *   dx (T·B, In) out: dL/dx_t (overwritten)
 *   g            gradients, accumulated (+=) into
 */
export function lstmBackward(
  backend: Backend, dx: Float32Array, g: LstmWeights, dH: Float32Array, a: LstmActivations,
  w: LstmWeights, x: Float32Array, recurrentMask: Float32Array | null, T: number, B: number, In: number, H: number,
): void {
  const H4 = 4 * H, N = T * B;
  const layerNorm = w.lnIhGain !== null;
  const dzHh = layerNorm ? a.dzHh : a.dz;
  if (!layerNorm && recurrentMask === null) { // the paper's LSTM: see recurrentBackwardLoop
    const job = recurrentJob('backward', a, w, dH, T, B, H);
    if (backend.recurrentLoop?.(job, (share) => recurrentBackwardLoop(backend, job, share)) !== true) {
      recurrentBackwardLoop(backend, job, wholeLoop(B));
    }
  } else {
    recurrentBackwardGeneral(backend, g, dH, a, w, recurrentMask, T, B, H);
  }
  // Weight gradients of all T steps at once: dW_hh += Σ_t dz_tᵀ · hPrev_t
  backend.gemm(true, false, H4, H, N, 1, dzHh, H4, a.hPrev, H, 1, g.weightHh, H);
  if (layerNorm) {
    // z = LN(W_ih·x; γ_ih, b_ih) + ...   (in place: a.dz becomes the gradient of W_ih·x)
    layerNormBackward(a.dz, g.lnIhGain!, g.biasIh, a.dz, a.ihHat, a.ihRstd, w.lnIhGain!, N, H4);
  } else {
    // b_ih and b_hh enter z the same way: both gradients are Σ_t dz_t, summed once
    const sums = a.hhScratch.subarray(0, H4);
    sums.fill(0);
    addColumnSums(backend, sums, a.dz, N, H4);
    backend.axpy(H4, 1, sums, g.biasIh);
    backend.axpy(H4, 1, sums, g.biasHh);
  }
  // z = x · W_ihᵀ:  dW_ih += dzᵀ · x,  dx = dz · W_ih
  backend.gemm(true, false, H4, In, N, 1, a.dz, H4, x, In, 1, g.weightIh, In);
  backend.gemm(false, false, N, In, H4, 1, a.dz, H4, w.weightIh, In, 0, dx, In);
}

/** The backward's steps T−1 … 0 with layer norm or a recurrent mask in them (the ablations): one thread. */
function recurrentBackwardGeneral(
  backend: Backend, g: LstmWeights, dH: Float32Array, a: LstmActivations, w: LstmWeights,
  recurrentMask: Float32Array | null, T: number, B: number, H: number,
): void {
  const H4 = 4 * H;
  const layerNorm = w.lnIhGain !== null;
  a.dhNext.fill(0);
  a.dcNext.fill(0);
  let step = 0;
  const normalizeCellBackward = layerNorm
    ? (dcAct: Float32Array) => layerNormBackward(dcAct, g.lnCellGain!, g.lnCellBias, dcAct,
      a.cHat.subarray(step * B * H), a.cRstd.subarray(step * B), w.lnCellGain!, B, H)
    : null;
  const dzHh = layerNorm ? a.dzHh : a.dz;
  for (let t = T - 1; t >= 0; t--) {
    step = t;
    const rows = t * B;
    // dh_t = (from above) + (from step t+1)
    backend.add(B * H, dH.subarray(rows * H, (rows + B) * H), a.dhNext, a.dh);
    const cPrev = t === 0 ? a.c0 : a.c.subarray((rows - B) * H, rows * H);
    const dz = a.dz.subarray(rows * H4, (rows + B) * H4);
    backend.lstmGatesBackward(a.dh, a.dcNext, a.gates.subarray(rows * H4, (rows + B) * H4), cPrev,
      a.tanhC.subarray(rows * H, (rows + B) * H), dz, a.dcAct, B, H, normalizeCellBackward);
    const dzRec = dzHh.subarray(rows * H4, (rows + B) * H4);
    if (layerNorm) {
      // z = ... + LN(W_hh·h_{t-1}; γ_hh, b_hh)
      layerNormBackward(dzRec, g.lnHhGain!, g.biasHh, dz, a.hhHat.subarray(rows * H4),
        a.hhRstd.subarray(rows), w.lnHhGain!, B, H4);
    }
    // z = ... + W_hh · hPrev:  dhPrev = dz · W_hh, then through the recurrent mask if there is one
    backend.gemm(false, false, B, H, H4, 1, dzRec, H4, w.weightHh, H, 0, a.dhNext, H);
    if (recurrentMask !== null) backend.multiply(B * H, a.dhNext, recurrentMask.subarray(rows * H, (rows + B) * H), a.dhNext);
  }
}

/** The job of this layer's recurrent loop: views of its activations and weights (RecurrentJob, kernels/recurrent.ts). */
function recurrentJob(pass: RecurrentJob['pass'], a: LstmActivations, w: LstmWeights, dH: Float32Array | null,
  T: number, B: number, H: number): RecurrentJob {
  return {
    pass, T, B, H, weightHh: w.weightHh, gates: a.gates, c: a.c, tanhC: a.tanhC, states: a.states, c0: a.c0,
    dH, dh: a.dh, dhNext: a.dhNext, dcNext: a.dcNext, dcAct: a.dcAct,
  };
}
