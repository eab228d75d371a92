import type { Model } from '../model/params.js';

/** One loop over the flat gradient buffer each: zero, norm, clip; and the SGD update over both buffers. */

export function zeroGradients(model: Model): void {
  model.grads.fill(0);
}

/** The global L2 norm of all gradients, √(Σ g²). */
export function gradientNorm(grads: Float32Array): number {
  let sum = 0;
  for (let k = 0; k < grads.length; k++) sum += grads[k] * grads[k];
  return Math.sqrt(sum);
}

/**
 * Global-norm clipping: when ||g|| > maxNorm, scales every gradient by maxNorm / ||g||.
 * Returns the norm before clipping.
 */
export function clipGradients(grads: Float32Array, maxNorm: number): number {
  const norm = gradientNorm(grads);
  if (norm > maxNorm) {
    const scale = maxNorm / norm;
    for (let k = 0; k < grads.length; k++) grads[k] *= scale;
  }
  return norm;
}

/**
 * Plain SGD, w −= lr · (g + λ·w), where the weight-decay term λ·w (the gradient of λ/2·||W||²) applies
 * to weight matrices only, never to biases or layer-norm parameters. λ = 0 is the paper's update.
 */
export function sgdStep(model: Model, lr: number, weightDecay: number): void {
  const { params, grads } = model;
  for (const t of model.tensors) {
    const decay = t.kind === 'weight' ? weightDecay : 0;
    const end = t.offset + t.size;
    if (decay === 0) for (let k = t.offset; k < end; k++) params[k] -= lr * grads[k];
    else for (let k = t.offset; k < end; k++) params[k] -= lr * (grads[k] + decay * params[k]);
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
