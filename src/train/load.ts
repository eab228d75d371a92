import { vocabularyFromWords, type Vocabulary } from '../data/corpus.js';
import { UserError } from '../errors.js';
import { CONFIGS, type TrainConfig } from '../model/configs.js';
import { createModel, type Model } from '../model/params.js';
import { loadParametersInto, readCheckpoint } from './checkpoint.js';

/** Rebuilds a trained model from a checkpoint: its configuration, vocabulary and weights. */
export function loadModelFromCheckpoint(path: string): { model: Model; config: TrainConfig; vocab: Vocabulary } {
  const checkpoint = readCheckpoint(path);
  let config: TrainConfig;
  let words: string[];
  try {
    config = { ...CONFIGS.small, ...JSON.parse(checkpoint.metadata.config) } as TrainConfig;
    words = JSON.parse(checkpoint.metadata.vocab) as string[];
    if (!Array.isArray(words) || words.length === 0) throw new Error('empty vocabulary');
  } catch {
    throw new UserError(`--checkpoint ${path}: the metadata lacks a valid config or vocab; pass a checkpoint written by 'rlstm train --save'`);
  }
  const model = createModel({ vocabSize: words.length, hidden: config.hidden, layers: config.layers, layerNorm: config.layerNorm });
  loadParametersInto(model, checkpoint, path);
  return { model, config, vocab: vocabularyFromWords(words) };
}
