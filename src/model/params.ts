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
  grads: Float32Array; //  the gradients, same layout
  tensors: TensorSpec[];
  encoder: { weight: Float32Array; dweight: Float32Array; usedRows: UsedRows }; // (V,H)
  layers: { w: LstmWeights; g: LstmWeights }[];
  decoder: { weight: Float32Array; bias: Float32Array; dweight: Float32Array; dbias: Float32Array }; // (V,H), (V)
}

/**
 * The rows of the embedding table a batch used. Only those rows of its gradient can be non-zero, so
 * zeroing, the gradient norm and the SGD step skip the others (PTB: a few hundred of 10,000 rows).
 */
export interface UsedRows {
  isUsed: Uint8Array; // (V) 1 for a listed row
  list: Int32Array; //   (V) the used rows, first `count` entries
  count: number;
}

export function markUsedRows(used: UsedRows, tokens: Int32Array, N: number): void {
  for (let n = 0; n < N; n++) {
    const row = tokens[n];
    if (used.isUsed[row] === 0) { used.isUsed[row] = 1; used.list[used.count++] = row; }
  }
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

/** Allocates the two flat buffers (zeros) and the named views into them. */
export function createModel(config: ArchitectureConfig): Model {
  const tensors = tensorLayout(config);
  const total = tensors.reduce((s, t) => s + t.size, 0);
  const params = new Float32Array(total);
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
    encoder: {
      weight: view(params, 'encoder.weight'), dweight: view(grads, 'encoder.weight'),
      usedRows: { isUsed: new Uint8Array(config.vocabSize), list: new Int32Array(config.vocabSize), count: 0 },
    },
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
