import type { Model } from '../model/params.js';

/** One loop over the flat gradient buffer each: zero, norm, clip; and the SGD update over both buffers. */

export function zeroGradients(model: Model): void {
  model.grads.fill(0);
}

/** The global L2 norm of all gradients, √(Σ g²). */
export function gradientNorm(grads: Float32Array): number {
  // four running sums, so that consecutive additions do not wait on each other
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, k = 0;
  for (; k + 3 < grads.length; k += 4) {
    s0 += grads[k] * grads[k]; s1 += grads[k + 1] * grads[k + 1];
    s2 += grads[k + 2] * grads[k + 2]; s3 += grads[k + 3] * grads[k + 3];
  }
  for (; k < grads.length; k++) s0 += grads[k] * grads[k];
  return Math.sqrt(s0 + s1 + s2 + s3);
}

/**
 * Global-norm clipping: the factor min(1, maxNorm / ||g||) that brings the gradients' norm down to
 * maxNorm. sgdStep applies it (one pass over the buffers instead of two).
 */
export function clipScale(norm: number, maxNorm: number): number {
  return norm > maxNorm ? maxNorm / norm : 1;
}

/** Clips the gradients in place (g *= clipScale) and returns their norm before clipping. */
export function clipGradients(grads: Float32Array, maxNorm: number): number {
  const norm = gradientNorm(grads);
  const scale = clipScale(norm, maxNorm);
  if (scale !== 1) for (let k = 0; k < grads.length; k++) grads[k] *= scale;
  return norm;
}

/**
 * Plain SGD, w −= lr · (s·g + λ·w), where s is the clipping factor and the weight-decay term λ·w (the
 * gradient of λ/2·||W||²) applies to weight matrices only, never to biases or layer-norm parameters.
 * λ = 0 is the paper's update.
 */
export function sgdStep(model: Model, lr: number, weightDecay: number, gradScale = 1): void {
  const { params, grads } = model;
  const step = lr * gradScale;
  for (const t of model.tensors) {
    const decay = t.kind === 'weight' ? weightDecay : 0;
    const end = t.offset + t.size;
    if (decay === 0) for (let k = t.offset; k < end; k++) params[k] -= step * grads[k];
    else for (let k = t.offset; k < end; k++) params[k] -= step * grads[k] + lr * decay * params[k];
  }
}

/** The penalty λ/2 · Σ ||W||² over the weight matrices (for reporting; SGD uses its gradient λ·W). */
export function weightDecayPenalty(model: Model, weightDecay: number): number {
  let sum = 0;
  for (const t of model.tensors) {
    if (t.kind !== 'weight') continue;
    for (let k = t.offset; k < t.offset + t.size; k++) sum += model.params[k] * model.params[k];
  }
  return 0.5 * weightDecay * sum;
}
