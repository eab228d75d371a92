import type { Backend } from '../../src/kernels/backend.js';
import { batchify, fillWindow, windowCount, type Corpus } from '../../src/data/corpus.js';
import { learningRateForEpoch, type TrainConfig } from '../../src/model/configs.js';
import { carryState, createWorkspace, modelBackward, modelForward, resetState, type ForwardOptions } from '../../src/model/lm.js';
import { createModel, initializeParameters, type Model } from '../../src/model/params.js';
import { createEarlyStopping, earlyStoppingUpdate, restoreBest } from '../../src/train/early-stopping.js';
import { evaluate } from '../../src/train/evaluate.js';
import { clipScale, modelGradientNorm, sgdStep, zeroGradients } from '../../src/train/sgd.js';
import { createRng } from '../../src/util/rng.js';

/**
 * Exercise 5: the whole regularized training pipeline. Write the training loop yourself, from the
 * library's parts, with all four regularizers of the course in it: dropout on the non-recurrent
 * connections (the paper), layer normalization, weight decay and early stopping. Then choose their
 * settings so that, with the same budget, your model beats the unregularized baseline on validation.
 * README.md in this folder lists the steps. Check your work with: npm run exercise -- 5
 *
 * The corpus and the baseline configuration are in toy-corpus.ts (loadToyCorpus, BASELINE).
 */

/** What a training run returns. */
export interface PipelineResult {
  model: Model; //                the trained model, holding the weights of epoch weightsFromEpoch
  validPerplexities: number[]; // the validation perplexity after each epoch trained, in order
  weightsFromEpoch: number; //    1-based: with early stopping the best epoch, otherwise the last one
  validPerplexity: number; //     the validation perplexity of the returned model
}

/**
 * The baseline's configuration with the four regularizers turned on: dropout keep probability below 1
 * at the paper's placement ('zaremba'), layer normalization, weight decay λ > 0 and early stopping
 * patience > 0. Everything else (the model's size, the budget, the optimizer, the seed) stays as in base.
 */
export function regularize(base: TrainConfig): TrainConfig {
  throw new Error('not implemented yet: regularize');
}

/**
 * Trains a language model on corpus.train as config says and scores it on corpus.valid after every epoch.
 * It must follow the library's trainer step for step (same generator, same order of operations), so that
 * with the same config it gives the same numbers as trainModel (src/train/trainer.ts).
 */
export function trainPipeline(backend: Backend, corpus: Corpus, config: TrainConfig): PipelineResult {
  throw new Error('not implemented yet: trainPipeline');
}
