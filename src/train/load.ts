import { existsSync } from 'node:fs';
import { vocabularyFromWords, type CorpusSource, type Vocabulary } from '../data/corpus.js';
import { UserError } from '../errors.js';
import type { TrainConfig } from '../model/configs.js';
import { createModel, type Model } from '../model/params.js';
import { flatParameters, readCheckpoint, type Checkpoint } from './checkpoint.js';
import { layoutOf, parseMetadata } from './checkpoint-model.js';
import { bestModelPath, type ResumePoint, type TrainingState } from './trainer.js';

/** The model a decoded checkpoint holds: every tensor checked against its configuration before any allocation. */
function modelFor(config: TrainConfig, words: string[], checkpoint: Checkpoint, path: string): Model {
  const params = flatParameters(checkpoint, layoutOf(config, words), path);
  const model = createModel({ vocabSize: words.length, hidden: config.hidden, layers: config.layers, layerNorm: config.layerNorm });
  model.params.set(params);
  return model;
}

/** A model, its configuration and vocabulary, rebuilt from a decoded checkpoint (`path` names it in messages). */
export function modelFromCheckpoint(checkpoint: Checkpoint, path: string): {
  model: Model; config: TrainConfig; vocab: Vocabulary; dataSource: CorpusSource | null; dtype: Checkpoint['dtype'];
} {
  const { config, words } = parseMetadata(checkpoint, path);
  return {
    model: modelFor(config, words, checkpoint, path), config, vocab: vocabularyFromWords(words),
    dataSource: dataSourceOf(checkpoint), dtype: checkpoint.dtype,
  };
}

/** Rebuilds a trained model from a checkpoint file: its configuration, vocabulary and weights (any dtype, as float32). */
export function loadModelFromCheckpoint(path: string): ReturnType<typeof modelFromCheckpoint> {
  return modelFromCheckpoint(readCheckpoint(path), path);
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
  if (checkpoint.dtype !== 'F32') {
    const what = checkpoint.dtype === 'BF16' ? 'a bfloat16' : checkpoint.dtype === 'F16' ? 'a float16' : 'a reduced-precision';
    throw new UserError(`--resume ${path}: ${what} file (rlstm export) holds no training state and has lost precision; `
      + 'resume from the float32 checkpoint that training wrote');
  }
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
