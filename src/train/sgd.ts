import type { Backend } from '../kernels/backend.js';
import { jsBackend } from '../kernels/js.js';
import type { Model, TensorSpec } from '../model/params.js';
import { clearRowGradient } from '../nn/embedding.js';

/**
 * Zeroing, the gradient norm and the SGD step: one loop over the flat buffers for every tensor but the
 * embedding table, whose gradient is the few rows the last batch used (model.encoder.grad; the other
 * rows are zero, so skipping them changes no result, only the time and the memory).
 */

/** Calls fn(start, end) for every range of the flat gradient buffer except the embedding table's. */
function forEachDenseRange(model: Model, fn: (start: number, end: number, tensor: TensorSpec) => void): void {
  for (const t of model.tensors) if (t.name !== 'encoder.weight') fn(t.offset, t.offset + t.size, t);
}

export function zeroGradients(model: Model): void {
  forEachDenseRange(model, (start, end) => model.grads.fill(0, start, end));
  clearRowGradient(model.encoder.grad);
}

/** The global L2 norm of all gradients, √(Σ g²). */
export function modelGradientNorm(model: Model, backend: Backend = jsBackend): number {
  let sum = 0;
  const { rows, count, C } = model.encoder.grad; // the embedding first: tensors in checkpoint order
  for (let k = 0; k < count; k++) {
    const g = rows.subarray(k * C, (k + 1) * C);
    sum += backend.dot(C, g, g);
  }
  forEachDenseRange(model, (start, end) => {
    const g = model.grads.subarray(start, end);
    sum += backend.dot(end - start, g, g);
  });
  return Math.sqrt(sum);
}

/** The L2 norm of a whole buffer. */
export function gradientNorm(grads: Float32Array): number {
  return Math.sqrt(jsBackend.dot(grads.length, grads, grads));
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
 * λ = 0 is the paper's update. The backend does the vector arithmetic (BLAS saxpy for long ranges).
 */
export function sgdStep(model: Model, lr: number, weightDecay: number, gradScale = 1, backend: Backend = jsBackend): void {
  const { params, grads } = model;
  const step = lr * gradScale;
  const plain = (start: number, end: number): void => {
    backend.axpy(end - start, -step, grads.subarray(start, end), params.subarray(start, end));
  };
  const embedding = model.tensors[0]; // encoder.weight
  const { rows, slotOf, list, count, C } = model.encoder.grad;
  if (weightDecay === 0) {
    forEachDenseRange(model, plain);
    for (let k = 0; k < count; k++) {
      const at = embedding.offset + list[k] * C;
      backend.axpy(C, -step, rows.subarray(k * C, (k + 1) * C), params.subarray(at, at + C));
    }
    return;
  }
  // with weight decay every weight changes, used or not: all of every tensor
  for (const t of model.tensors) {
    const end = t.offset + t.size;
    if (t.kind !== 'weight') { plain(t.offset, end); continue; }
    if (t !== embedding) {
      for (let k = t.offset; k < end; k++) params[k] -= step * grads[k] + lr * weightDecay * params[k];
      continue;
    }
    for (let v = 0; v < t.size / C; v++) { // rows the batch did not use have a zero gradient
      const slot = slotOf[v], at = t.offset + v * C;
      for (let j = 0; j < C; j++) {
        const g = slot < 0 ? 0 : rows[slot * C + j];
        params[at + j] -= step * g + lr * weightDecay * params[at + j];
      }
    }
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
