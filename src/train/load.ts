import { existsSync } from 'node:fs';
import { vocabularyFromWords, type CorpusSource, type Vocabulary } from '../data/corpus.js';
import { UserError } from '../errors.js';
import { CONFIGS, type TrainConfig } from '../model/configs.js';
import { createModel, tensorLayout, type Model, type TensorSpec } from '../model/params.js';
import { flatParameters, loadParametersInto, readCheckpoint, type Checkpoint } from './checkpoint.js';
import { bestModelPath, type ResumePoint, type TrainingState } from './trainer.js';

function parseMetadata(checkpoint: Checkpoint, path: string): { config: TrainConfig; words: string[] } {
  try {
    const config = { ...CONFIGS.small, ...JSON.parse(checkpoint.metadata.config) } as TrainConfig;
    const words = JSON.parse(checkpoint.metadata.vocab) as string[];
    if (!Array.isArray(words) || words.length === 0) throw new Error('empty vocabulary');
    return { config, words };
  } catch {
    throw new UserError(`--checkpoint ${path}: the metadata lacks a valid config or vocab; pass a checkpoint written by 'rlstm train'`);
  }
}

function layoutOf(config: TrainConfig, words: string[]): TensorSpec[] {
  return tensorLayout({ vocabSize: words.length, hidden: config.hidden, layers: config.layers, layerNorm: config.layerNorm });
}

function modelFor(config: TrainConfig, words: string[], checkpoint: Checkpoint, path: string): Model {
  const model = createModel({ vocabSize: words.length, hidden: config.hidden, layers: config.layers, layerNorm: config.layerNorm });
  loadParametersInto(model, checkpoint, path);
  return model;
}

/** Rebuilds a trained model from a checkpoint: its configuration, vocabulary and weights. */
export function loadModelFromCheckpoint(path: string): {
  model: Model; config: TrainConfig; vocab: Vocabulary; dataSource: CorpusSource | null;
} {
  const checkpoint = readCheckpoint(path);
  const { config, words } = parseMetadata(checkpoint, path);
  return {
    model: modelFor(config, words, checkpoint, path), config, vocab: vocabularyFromWords(words),
    dataSource: dataSourceOf(checkpoint),
  };
}

function dataSourceOf(checkpoint: Checkpoint): CorpusSource | null {
  try {
    return checkpoint.metadata.dataSource ? JSON.parse(checkpoint.metadata.dataSource) as CorpusSource : null;
  } catch {
    return null;
  }
}

/** Everything `rlstm train --resume` needs from a checkpoint written during training. */
export function loadResumePoint(path: string): {
  config: TrainConfig; vocab: Vocabulary; corpusFingerprint: string; resume: ResumePoint;
  dataSource: CorpusSource | null; logPath: string | null; backend: string | null;
} {
  const checkpoint = readCheckpoint(path);
  const { config, words } = parseMetadata(checkpoint, path);
  const { trainingState, hiddenState, corpus } = checkpoint.metadata;
  if (trainingState === undefined || hiddenState === undefined || corpus === undefined) {
    throw new UserError(`--resume ${path}: the checkpoint holds no training state (it can be evaluated, not resumed); `
      + 'resume from a checkpoint that rlstm train wrote during training');
  }
  const state = JSON.parse(trainingState) as TrainingState;
  const bytes = Buffer.from(hiddenState, 'base64');
  const hidden = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  let bestParams: Float32Array | null = null;
  if (config.patience > 0 && state.early.bestEpoch !== null && !state.finished) {
    const bestPath = bestModelPath(path);
    if (!existsSync(bestPath)) {
      throw new UserError(`--resume ${path}: early stopping needs the best model ${bestPath}, which is missing; restore it next to the checkpoint`);
    }
    bestParams = flatParameters(readCheckpoint(bestPath), layoutOf(config, words), bestPath);
  }
  const params = flatParameters(checkpoint, layoutOf(config, words), path); // a view of the file: no copy
  return {
    config, vocab: vocabularyFromWords(words), corpusFingerprint: corpus,
    resume: { params, state, hidden, bestParams, from: path },
    dataSource: dataSourceOf(checkpoint),
    logPath: checkpoint.metadata.logPath ?? null,
    backend: checkpoint.metadata.backend ?? null,
  };
}
