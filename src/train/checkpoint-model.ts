import { vocabularyFromWords, type Vocabulary } from '../data/text.js';
import { UserError } from '../errors.js';
import { CONFIGS, type TrainConfig } from '../model/configs.js';
import { createModel, tensorLayout, type Model, type TensorSpec } from '../model/params.js';
import { flatParameters, type Checkpoint } from './safetensors.js';

/**
 * A decoded checkpoint → the model it holds, its configuration and vocabulary. No Node import (the
 * walkthrough's model explorer builds models with it in a browser); load.ts reads the files.
 */

/** The configuration and vocabulary in a checkpoint's metadata, checked enough to lay out its tensors. */
export function parseMetadata(checkpoint: Checkpoint, path: string): { config: TrainConfig; words: string[] } {
  const invalid = (): UserError => new UserError(`--checkpoint ${path}: the metadata lacks a valid config or vocab; `
    + 'pass a checkpoint written by \'rlstm train\'');
  let config: TrainConfig, words: unknown;
  try {
    config = { ...CONFIGS.small, ...JSON.parse(checkpoint.metadata.config) } as TrainConfig;
    words = JSON.parse(checkpoint.metadata.vocab);
  } catch {
    throw invalid();
  }
  if (!Array.isArray(words) || words.length === 0 || !words.every((w) => typeof w === 'string')) throw invalid();
  // the architecture decides the tensors' layout, which is then checked against the file's tensors
  const positive = (n: unknown): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n > 0;
  if (!positive(config.hidden) || !positive(config.layers) || config.layers > checkpoint.tensors.size
    || typeof config.layerNorm !== 'boolean') throw invalid();
  return { config, words: words as string[] };
}

export function layoutOf(config: TrainConfig, words: string[]): TensorSpec[] {
  return tensorLayout({ vocabSize: words.length, hidden: config.hidden, layers: config.layers, layerNorm: config.layerNorm });
}

/**
 * As load.ts's modelFromCheckpoint, but the model's parameters are the checkpoint's own decoded values where they lie
 * in the model's order (every file rlstm writes): no second copy of them, which matters in a browser tab
 * holding the large model (264 MB). Writing the parameters writes the checkpoint's buffers.
 */
export function modelInPlaceFromCheckpoint(checkpoint: Checkpoint, path: string): {
  model: Model; config: TrainConfig; vocab: Vocabulary; dtype: Checkpoint['dtype'];
} {
  const { config, words } = parseMetadata(checkpoint, path);
  const params = flatParameters(checkpoint, layoutOf(config, words), path);
  const model = createModel({ vocabSize: words.length, hidden: config.hidden, layers: config.layers, layerNorm: config.layerNorm }, params);
  return { model, config, vocab: vocabularyFromWords(words), dtype: checkpoint.dtype };
}
