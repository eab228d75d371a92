import type { Backend } from '../../src/kernels/backend.js';
import { linearForward } from '../../src/nn/linear.js';
import { lstmForward, type LstmActivations, type LstmWeights } from '../../src/nn/lstm.js';
import { nextFloat, type Rng } from '../../src/util/rng.js';

/**
 * Exercise 1: dropout, and where the paper puts it (Zaremba et al. 2014, section 3).
 * Fill in the four function bodies; README.md in this folder explains each one.
 * Check your work with: npm run exercise -- 1
 *
 * Inverted dropout: a mask holds 0 (dropped) or 1/keep (kept), so every unit keeps its expected value
 * during training and evaluation needs no rescaling.
 */

// ---- Part A: the dropout layer --------------------------------------------------------------------

/**
 * A fresh Bernoulli(keep) draw for each of the n elements: mask[k] = 1/keep with probability keep,
 * otherwise 0.
 *   mask (n)   keep in (0, 1]   rng: draw with nextFloat(rng), which is uniform in [0, 1)
 */
export function fillDropoutMask(mask: Float32Array, n: number, keep: number, rng: Rng): void {
  throw new Error('not implemented yet: fillDropoutMask');
}

/**
 * Training: out = inp ⊙ mask.  Evaluation (mask null): out = inp, unchanged.
 *   out (n), inp (n), mask (n) or null. out may be inp itself.
 */
export function dropoutForward(out: Float32Array, inp: Float32Array, mask: Float32Array | null, n: number): void {
  throw new Error('not implemented yet: dropoutForward');
}

/**
 * Backward of dropoutForward: dinp = dL/dinp, given dout = dL/dout.
 *   dinp (n), dout (n), mask (n) or null (the forward was the identity). dinp may be dout itself.
 */
export function dropoutBackward(dinp: Float32Array, dout: Float32Array, mask: Float32Array | null, n: number): void {
  throw new Error('not implemented yet: dropoutBackward');
}

// ---- Part B: dropout in one time step of an L-layer LSTM language model ----------------------------

/** An L-layer LSTM language model reduced to what one time step needs (T = 1, B sequences). */
export interface LstmStepNet {
  /**
   * Layer l: its weights w (input size H) and activations a for T = 1 (createLstmActivations(1, B, H, false)).
   * a.h0, a.c0 (B,H) hold the state entering the step, h_{t-1} and c_{t-1};
   * lstmForward writes the new state h_t, c_t into a.h, a.c (B,H).
   */
  layers: { w: LstmWeights; a: LstmActivations }[];
  outWeight: Float32Array; // (V,H)  the softmax projection W_out
  outBias: Float32Array; //   (V)    b_out
  dropped: Float32Array[]; // L+1 buffers (B,H): room for the value after dropout site s
  logits: Float32Array; //    (B,V)  out: the logits of this step
}

/**
 * One time step of the model with dropout D where the paper puts it, on the vertical connections only:
 *
 *   site 0:       x⁰ = D(x_t)                 the embedded words, into layer 1
 *   site l:       xˡ = D(hˡ_t)                layer l's output, into layer l+1   (l = 1 … L−1)
 *   site L:       logits = W_out · D(hᴸ_t) + b_out
 *
 * and never on h_{t-1} or c_{t-1}: the recurrent connections carry the memory untouched.
 *
 *   x (B,H)       the embedded words of this step
 *   masks         L+1 masks (B,H), masks[s] for site s; null at evaluation (no dropout anywhere)
 * Writes every layer's new state into its a.h, a.c and the logits into net.logits.
 * Use your dropoutForward, lstmForward (src/nn/lstm.ts) with T = 1 and recurrentMask null, and
 * linearForward (src/nn/linear.ts).
 */
export function lstmStepForward(
  backend: Backend, net: LstmStepNet, x: Float32Array, masks: Float32Array[] | null, B: number, H: number, V: number,
): void {
  throw new Error('not implemented yet: lstmStepForward');
}
