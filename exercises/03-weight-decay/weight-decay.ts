import type { Model, TensorSpec } from '../../src/model/params.js';

/**
 * Exercise 3: weight decay, an L2 penalty on the weight matrices (an addition beyond the paper; the
 * trainer's --weight-decay λ). Fill in the three bodies; README.md in this folder explains each one.
 * Check your work with: npm run exercise -- 3
 *
 *   penalty = λ/2 · Σ_W ||W||²        its gradient: λ · W        over the tensors of kind 'weight' only
 *
 * Every parameter lives in one flat buffer, model.params, and every gradient at the same place in
 * model.grads. model.tensors lists the tensors: name, shape, offset and size in the buffer, and kind:
 * 'weight' (a matrix: decayed), 'bias', 'normGain', 'normBias' (never decayed).
 */
export type { Model, TensorSpec };

/** λ/2 · the sum of the squares of every weight-matrix entry. */
export function weightDecayPenalty(model: Model, lambda: number): number {
  throw new Error('not implemented yet: weightDecayPenalty');
}

/** model.grads += λ · model.params on the weight matrices; the other tensors' gradients are left alone. */
export function addWeightDecayGradient(model: Model, lambda: number): void {
  throw new Error('not implemented yet: addWeightDecayGradient');
}

/**
 * One SGD step on the loss plus the penalty:
 *   w −= lr · (g + λ·w)   for the entries of weight matrices
 *   w −= lr · g           for every other parameter
 * where g is model.grads (the loss's gradient, without the penalty). model.grads is left unchanged.
 */
export function sgdStepWithWeightDecay(model: Model, lr: number, lambda: number): void {
  throw new Error('not implemented yet: sgdStepWithWeightDecay');
}
