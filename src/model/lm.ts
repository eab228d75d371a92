import type { Backend } from '../kernels/backend.js';
import { fillDropoutMaskPerSequence, fillDropoutMaskPerStep } from '../nn/dropout.js';
import { embeddingBackward, embeddingForward } from '../nn/embedding.js';
import { createLstmActivations, lstmBackward, lstmForward, type LstmActivations } from '../nn/lstm.js';
import { linearBackward, linearForward } from '../nn/linear.js';
import type { Rng } from '../util/rng.js';
import type { Model } from './params.js';

/**
 * The language model: embedding → L LSTM layers → linear → softmax, with dropout D at the L+1 sites
 * the paper puts it (docs/method.md):
 *
 *   site 0:    x⁰_t = D(embedding(w_t))
 *   site l:    x^l_t = D(h^l_t)            feeds layer l+1 (for l = 1..L−1)
 *   site L:    logits_t = W_out · D(h^L_t) + b_out
 *
 * never on h_{t-1} or c_{t-1}, so a signal meets D exactly L+1 times however far it travels in time.
 * The ablations move the masks (see `DropoutPlacement`).
 */

/**
 * none:        no dropout anywhere.
 * zaremba:     the paper: a fresh mask per unit, example and step, at the L+1 vertical sites only.
 * recurrent:   the naive variant the paper argues against: as zaremba, plus a fresh mask on h_{t-1}.
 * variational: Gal & Ghahramani (2016): one mask per sequence per connection (drawn once per window,
 *              reused at every step), on the vertical sites and on h_{t-1}.
 */
export type DropoutPlacement = 'none' | 'zaremba' | 'recurrent' | 'variational';
export const DROPOUT_PLACEMENTS: readonly DropoutPlacement[] = ['none', 'zaremba', 'recurrent', 'variational'];

/** Activations and scratch for windows of at most T steps over B sequences; allocated once. */
export interface Workspace {
  B: number;
  T: number;
  tokens: Int32Array; //  (T·B) inputs, time-major
  targets: Int32Array; // (T·B) next words
  embedded: Float32Array; // (T·B, H)
  siteMasks: (Float32Array | null)[]; //   L+1 masks of (T·B, H); null where the site is the identity
  siteOutputs: Float32Array[]; //          L+1 buffers (T·B, H): the dropped-out values (site 0: `embedded`
  //                                        itself, dropped out in place; nothing needs it before dropout)
  recurrentMasks: (Float32Array | null)[]; // L masks (T·B, H) on h_{t-1}; null for none / zaremba
  lstm: LstmActivations[]; // per layer
  logits: Float32Array; // (T·B, V); after a training forward, holds dL/dlogits
  dx: Float32Array; //     (T·B, H) backward scratch
  dxBelow: Float32Array; // (T·B, H) backward scratch
}

/**
 * With a backend, the buffers its helper thread takes part in (targets, logits, the site masks, the LSTM
 * layers' recurrent buffers, the backward's dx) are of the kind it asks for (Backend.allocateFloat32:
 * shared memory for the BLAS backend).
 */
export function createWorkspace(model: Model, T: number, B: number, placement: DropoutPlacement, backend?: Backend): Workspace {
  const { hidden: H, layers: L, vocabSize: V, layerNorm } = model.config;
  const N = T * B;
  const vertical = placement !== 'none';
  const horizontal = placement === 'recurrent' || placement === 'variational';
  const embedded = new Float32Array(N * H);
  const float32 = (n: number): Float32Array => backend?.allocateFloat32?.(n) ?? new Float32Array(n);
  return {
    B, T,
    tokens: new Int32Array(N), targets: backend?.allocateInt32?.(N) ?? new Int32Array(N),
    embedded,
    siteMasks: Array.from({ length: L + 1 }, () => (vertical ? float32(N * H) : null)),
    siteOutputs: Array.from({ length: L + 1 }, (_, s) => (s === 0 ? embedded : new Float32Array(vertical ? N * H : 0))),
    recurrentMasks: Array.from({ length: L }, () => (horizontal ? new Float32Array(N * H) : null)),
    lstm: Array.from({ length: L }, () => createLstmActivations(T, B, H, layerNorm, horizontal, float32)),
    logits: float32(N * V),
    dx: float32(N * H), dxBelow: float32(N * H),
  };
}

/** Zeroes the carried hidden and cell state (start of an epoch, start of an evaluation). */
export function resetState(ws: Workspace): void {
  for (const a of ws.lstm) { a.h0.fill(0); a.c0.fill(0); }
}

/** Carries the state leaving a window of T steps into the next window (truncated BPTT). */
export function carryState(ws: Workspace, T: number, H: number): void {
  const B = ws.B;
  for (const a of ws.lstm) {
    a.h0.set(a.h.subarray((T - 1) * B * H, T * B * H));
    a.c0.set(a.c.subarray((T - 1) * B * H, T * B * H));
  }
}

export interface ForwardOptions {
  /** Training: dropout on, and dL/dlogits left in ws.logits for the backward. */
  train: boolean;
  placement: DropoutPlacement;
  keepProb: number;
  /** Draws fresh masks from rng; null reuses the masks of the previous forward (gradient checks). */
  rng: Rng | null;
}

/** True when training uses dropout masks at all (keep probability 1 means none). */
export function usesDropout(options: ForwardOptions): boolean {
  return options.train && options.placement !== 'none' && options.keepProb < 1;
}

/**
 * Forward over a window of T ≤ ws.T steps of ws.tokens → ws.targets, starting from the state in
 * ws.lstm[l].h0/c0. Returns the summed negative log-likelihood of the T·B predictions.
 * The loss the paper trains is this sum divided by B (averaged over the batch, summed over the T steps);
 * with options.train the gradient of that loss w.r.t. the logits is left in ws.logits.
 */
export function modelForward(backend: Backend, model: Model, ws: Workspace, T: number, options: ForwardOptions): number {
  const { hidden: H, layers: L, vocabSize: V } = model.config;
  const B = ws.B, N = T * B;
  const dropout = usesDropout(options);
  if (dropout && options.rng !== null) drawMasks(backend, ws, options.placement, options.keepProb, T, H, options.rng);

  // one of the paper's D sites: x = D(value) = value ⊙ mask (dropoutForward, nn/dropout.ts, as a backend
  // vector kernel), or value itself when dropout is off
  const site = (s: number, value: Float32Array): Float32Array => {
    const mask = ws.siteMasks[s];
    if (!dropout || mask === null) return value;
    backend.multiply(N * H, value, mask, ws.siteOutputs[s]);
    return ws.siteOutputs[s];
  };

  embeddingForward(ws.embedded, ws.tokens, model.encoder.weight, N, H);
  let x = site(0, ws.embedded);
  for (let l = 0; l < L; l++) {
    lstmForward(backend, ws.lstm[l], model.layers[l].w, x, dropout ? ws.recurrentMasks[l] : null, T, B, H, H);
    x = site(l + 1, ws.lstm[l].h);
  }
  linearForward(backend, ws.logits, x, model.decoder.weight, model.decoder.bias, N, H, V);
  return backend.softmaxCrossEntropy(ws.logits, ws.targets, N, V, options.train ? 1 / B : 0);
}

/**
 * Backward of the training forward just run (same ws, T and options): accumulates into model.grads.
 * The forward list of layers, reversed.
 */
export function modelBackward(backend: Backend, model: Model, ws: Workspace, T: number, options: ForwardOptions): void {
  const { hidden: H, layers: L, vocabSize: V } = model.config;
  const B = ws.B, N = T * B;
  const dropout = usesDropout(options);
  const siteInput = (s: number): Float32Array => {
    if (dropout && ws.siteMasks[s] !== null) return ws.siteOutputs[s];
    return s === 0 ? ws.embedded : ws.lstm[s - 1].h;
  };
  // logits = D(h^L) · W_outᵀ + b_out   (ws.logits holds dL/dlogits)
  let dx = ws.dx, dxBelow = ws.dxBelow;
  linearBackward(backend, dx, model.decoder.dweight, model.decoder.dbias, ws.logits, siteInput(L),
    model.decoder.weight, N, H, V);
  // the backward of x = D(value) = value ⊙ mask: dvalue = dx ⊙ mask (dropoutBackward, nn/dropout.ts)
  const siteBackward = (s: number, dx: Float32Array): void => {
    const mask = ws.siteMasks[s];
    if (dropout && mask !== null) backend.multiply(N * H, dx, mask, dx);
  };
  for (let l = L - 1; l >= 0; l--) {
    siteBackward(l + 1, dx); // x^{l+1} = D(h^l)
    lstmBackward(backend, dxBelow, model.layers[l].g, dx, ws.lstm[l], model.layers[l].w, siteInput(l),
      dropout ? ws.recurrentMasks[l] : null, T, B, H, H);
    [dx, dxBelow] = [dxBelow, dx];
  }
  siteBackward(0, dx); // x⁰ = D(embedding(w))
  embeddingBackward(model.encoder.grad, dx, ws.tokens, N, H);
}

/** Draws the masks of one training window for the chosen placement. */
function drawMasks(backend: Backend, ws: Workspace, placement: DropoutPlacement, keep: number, T: number, H: number, rng: Rng): void {
  const B = ws.B;
  const fillPerStep = backend.fillDropoutMask ?? fillDropoutMaskPerStep; // the same draws, on two threads in BLAS
  const fill = (mask: Float32Array): void => {
    if (placement === 'variational') fillDropoutMaskPerSequence(mask, T, B, H, keep, rng);
    else fillPerStep(mask, T * B * H, keep, rng);
  };
  for (const mask of ws.siteMasks) if (mask !== null) fill(mask);
  for (const mask of ws.recurrentMasks) if (mask !== null) fill(mask);
}
