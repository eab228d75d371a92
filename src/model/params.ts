import { clearRowGradient, createRowGradient, denseRowGradient, embeddingGradientRowOf, type RowGradient } from '../nn/embedding.js';
import type { LstmWeights } from '../nn/lstm.js';
import { nextFloat, type Rng } from '../util/rng.js';

/**
 * The parameter layout: every parameter lives in one flat Float32Array, and every gradient in a second
 * one with the same layout. Named views point into both. Tensor names are PyTorch's, so that a
 * checkpoint loads with `load_state_dict` into nn.Embedding (encoder) + nn.LSTM (rnn) + nn.Linear (decoder).
 */

export interface ArchitectureConfig {
  vocabSize: number; // V
  hidden: number; //    H, also the embedding size
  layers: number; //    L
  layerNorm: boolean;
}

/**
 * weight: a matrix (uniform init, weight decay applies); bias: uniform init, no decay;
 * normGain: a layer-norm gain (init 1, no decay); normBias: a layer-norm shift (init 0, no decay).
 */
export type TensorKind = 'weight' | 'bias' | 'normGain' | 'normBias';

export interface TensorSpec {
  name: string;
  shape: number[];
  offset: number; // into the flat buffer
  size: number;
  kind: TensorKind;
}

export interface Model {
  config: ArchitectureConfig;
  params: Float32Array; // every parameter, flat
  /**
   * The gradients, same layout, except the embedding table's: a batch uses a few hundred of its rows,
   * and their gradient lives in encoder.grad. Its part of `grads` stays zero (and is never touched, so it
   * takes no memory). denseGradients() gives all of it as one array.
   */
  grads: Float32Array;
  tensors: TensorSpec[];
  encoder: { weight: Float32Array; grad: RowGradient }; // (V,H)
  layers: { w: LstmWeights; g: LstmWeights }[];
  decoder: { weight: Float32Array; bias: Float32Array; dweight: Float32Array; dbias: Float32Array }; // (V,H), (V)
}

/** Every gradient in the flat layout of `params`, the embedding rows included: a copy. */
export function denseGradients(model: Model): Float32Array {
  const dense = model.grads.slice();
  const t = model.tensors[0]; // encoder.weight
  dense.set(denseRowGradient(model.encoder.grad, model.config.vocabSize), t.offset);
  return dense;
}

/** Sets every gradient from a dense array in the layout of `params` (tests and exercises): the embedding rows
 * into encoder.grad, every row counted as used, and the whole array into grads as well. */
export function setDenseGradients(model: Model, dense: Float32Array): void {
  model.grads.set(dense);
  const g = model.encoder.grad, t = model.tensors[0], H = model.config.hidden;
  clearRowGradient(g);
  for (let v = 0; v < model.config.vocabSize; v++) {
    const row = embeddingGradientRowOf(g, v);
    g.rows.set(dense.subarray(t.offset + v * H, t.offset + (v + 1) * H), row);
  }
}

/** Zeroes every gradient, the embedding rows included. */
export function clearGradients(model: Model): void {
  model.grads.fill(0);
  clearRowGradient(model.encoder.grad);
}

/** The tensors of the model in checkpoint order, with their offsets in the flat buffer. */
export function tensorLayout(config: ArchitectureConfig): TensorSpec[] {
  const { vocabSize: V, hidden: H, layers: L, layerNorm } = config;
  const specs: TensorSpec[] = [];
  let offset = 0;
  const add = (name: string, shape: number[], kind: TensorKind): void => {
    const size = shape.reduce((p, d) => p * d, 1);
    specs.push({ name, shape, offset, size, kind });
    offset += size;
  };
  add('encoder.weight', [V, H], 'weight');
  for (let l = 0; l < L; l++) {
    add(`rnn.weight_ih_l${l}`, [4 * H, H], 'weight');
    add(`rnn.weight_hh_l${l}`, [4 * H, H], 'weight');
    add(`rnn.bias_ih_l${l}`, [4 * H], 'bias');
    add(`rnn.bias_hh_l${l}`, [4 * H], 'bias');
    if (layerNorm) {
      add(`rnn.ln_ih_gain_l${l}`, [4 * H], 'normGain');
      add(`rnn.ln_hh_gain_l${l}`, [4 * H], 'normGain');
      add(`rnn.ln_cell_gain_l${l}`, [H], 'normGain');
      add(`rnn.ln_cell_bias_l${l}`, [H], 'normBias');
    }
  }
  add('decoder.weight', [V, H], 'weight');
  add('decoder.bias', [V], 'bias');
  return specs;
}

/**
 * Allocates the two flat buffers (zeros) and the named views into them. `params`, when given, is used as
 * the parameter buffer instead of a fresh one (a checkpoint's parameters, read in place). `allocate` makes
 * a fresh parameter buffer: shared memory for a backend whose helper thread reads the weights
 * (Backend.allocateFloat32).
 */
export function createModel(
  config: ArchitectureConfig, params?: Float32Array, allocate: (n: number) => Float32Array = (n) => new Float32Array(n),
): Model {
  const tensors = tensorLayout(config);
  const total = tensors.reduce((s, t) => s + t.size, 0);
  if (params !== undefined && params.length !== total) throw new Error(`createModel: params holds ${params.length} floats, the model ${total}`);
  params ??= allocate(total);
  const grads = new Float32Array(total);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const view = (buffer: Float32Array, name: string): Float32Array => {
    const t = byName.get(name)!;
    return buffer.subarray(t.offset, t.offset + t.size);
  };
  const maybe = (buffer: Float32Array, name: string): Float32Array | null =>
    byName.has(name) ? view(buffer, name) : null;
  const lstmViews = (buffer: Float32Array, l: number): LstmWeights => ({
    weightIh: view(buffer, `rnn.weight_ih_l${l}`),
    weightHh: view(buffer, `rnn.weight_hh_l${l}`),
    biasIh: view(buffer, `rnn.bias_ih_l${l}`),
    biasHh: view(buffer, `rnn.bias_hh_l${l}`),
    lnIhGain: maybe(buffer, `rnn.ln_ih_gain_l${l}`),
    lnHhGain: maybe(buffer, `rnn.ln_hh_gain_l${l}`),
    lnCellGain: maybe(buffer, `rnn.ln_cell_gain_l${l}`),
    lnCellBias: maybe(buffer, `rnn.ln_cell_bias_l${l}`),
  });
  const layers = [];
  for (let l = 0; l < config.layers; l++) layers.push({ w: lstmViews(params, l), g: lstmViews(grads, l) });
  return {
    config, params, grads, tensors,
    encoder: { weight: view(params, 'encoder.weight'), grad: createRowGradient(config.vocabSize, config.hidden) },
    layers,
    decoder: {
      weight: view(params, 'decoder.weight'), bias: view(params, 'decoder.bias'),
      dweight: view(grads, 'decoder.weight'), dbias: view(grads, 'decoder.bias'),
    },
  };
}

/**
 * The paper's initialization: every parameter uniform in [−init, init], drawn tensor by tensor in
 * checkpoint order. Layer-norm gains start at 1 and their shifts at 0 (an addition beyond the paper).
 */
export function initializeParameters(model: Model, init: number, rng: Rng): void {
  for (const t of model.tensors) {
    const v = model.params.subarray(t.offset, t.offset + t.size);
    if (t.kind === 'normGain') v.fill(1);
    else if (t.kind === 'normBias') v.fill(0);
    else for (let k = 0; k < t.size; k++) v[k] = (2 * nextFloat(rng) - 1) * init;
  }
}
