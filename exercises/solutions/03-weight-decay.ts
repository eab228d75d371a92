import type { Model, TensorSpec } from '../../src/model/params.js';

/**
 * Solution to exercise 3: weight decay, an L2 penalty on the weight matrices.
 *
 *   penalty = λ/2 · Σ_W ||W||²        its gradient: λ · W        over the tensors of kind 'weight' only
 *
 * Biases, layer-norm gains and shifts are not decayed: pulling a gain towards 0 (instead of its
 * natural value 1) or a bias towards 0 does not make the model simpler, it only shifts it.
 */
export type { Model, TensorSpec };

/** λ/2 · the sum of the squares of every weight-matrix entry. */
export function weightDecayPenalty(model: Model, lambda: number): number {
  let sum = 0;
  for (const t of model.tensors) {
    if (t.kind !== 'weight') continue;
    for (let k = t.offset; k < t.offset + t.size; k++) sum += model.params[k] * model.params[k];
  }
  return 0.5 * lambda * sum;
}

/** model.grads += λ · model.params on the weight matrices; the other tensors' gradients are left alone. */
export function addWeightDecayGradient(model: Model, lambda: number): void {
  // d/dw (λ/2 · w²) = λ · w
  for (const t of model.tensors) {
    if (t.kind !== 'weight') continue;
    for (let k = t.offset; k < t.offset + t.size; k++) model.grads[k] += lambda * model.params[k];
  }
}

/**
 * One SGD step on the loss plus the penalty:
 *   w −= lr · (g + λ·w)   for the entries of weight matrices
 *   w −= lr · g           for every other parameter
 * where g is model.grads (the loss's gradient, without the penalty). model.grads is left unchanged.
 */
export function sgdStepWithWeightDecay(model: Model, lr: number, lambda: number): void {
  const { params, grads } = model;
  for (const t of model.tensors) {
    const decay = t.kind === 'weight' ? lambda : 0;
    // w −= lr·(g + λw) is w ← (1 − lr·λ)·w − lr·g: the weights shrink a little every step
    for (let k = t.offset; k < t.offset + t.size; k++) params[k] -= lr * (grads[k] + decay * params[k]);
  }
}
