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
 * Solution to exercise 5: the whole regularized training pipeline, written from the library's parts.
 */

/** What a training run returns. */
export interface PipelineResult {
  model: Model; //                the trained model, holding the weights of epoch weightsFromEpoch
  validPerplexities: number[]; // the validation perplexity after each epoch trained, in order
  weightsFromEpoch: number; //    1-based: with early stopping the best epoch, otherwise the last one
  validPerplexity: number; //     the validation perplexity of the returned model
}

/**
 * The baseline's configuration with the four regularizers turned on; everything else as in base.
 * Keep probability 0.5 is the paper's medium model's; weight decay this small only trims the weights
 * that nothing else holds up; patience 5 outlasts the noisy stretches of validation perplexity that
 * dropout causes, so training is not cut off while it is still improving.
 */
export function regularize(base: TrainConfig): TrainConfig {
  return { ...base, keepProb: 0.5, placement: 'zaremba', layerNorm: true, weightDecay: 3e-4, patience: 5 };
}

/**
 * Trains a language model on corpus.train as config says and scores it on corpus.valid after every epoch,
 * step for step as trainModel (src/train/trainer.ts) does.
 */
export function trainPipeline(backend: Backend, corpus: Corpus, config: TrainConfig): PipelineResult {
  // One generator for everything random: the initialization first, then every dropout mask.
  const rng = createRng(config.seed);
  const model = createModel({
    vocabSize: corpus.vocab.words.length, hidden: config.hidden, layers: config.layers, layerNorm: config.layerNorm,
  });
  initializeParameters(model, config.init, rng);
  const data = batchify(corpus.train, config.batchSize);
  const ws = createWorkspace(model, config.bptt, config.batchSize, config.placement);
  const windows = windowCount(data, config.bptt);
  const early = createEarlyStopping(config.patience);
  const options: ForwardOptions = { train: true, placement: config.placement, keepProb: config.keepProb, rng };
  const validPerplexities: number[] = [];

  for (let epoch = 1; epoch <= config.epochs; epoch++) {
    const lr = learningRateForEpoch(config, epoch);
    resetState(ws); // the hidden state starts from zero every epoch
    for (let k = 0; k < windows; k++) {
      const T = fillWindow(data, k, config.bptt, ws.tokens, ws.targets);
      zeroGradients(model);
      modelForward(backend, model, ws, T, options); // dropout at the L+1 vertical sites (placement 'zaremba')
      modelBackward(backend, model, ws, T, options);
      // clip the global gradient norm, then w −= lr·(s·g + λ·w): weight decay on weight matrices only
      sgdStep(model, lr, config.weightDecay, clipScale(modelGradientNorm(model), config.clip));
      carryState(ws, T, config.hidden); // truncated BPTT: the next window starts where this one ended
    }
    const valid = evaluate(backend, model, corpus.valid, config.batchSize, config.bptt).perplexity;
    validPerplexities.push(valid);
    if (earlyStoppingUpdate(early, epoch, valid, model.params)) break;
  }

  const restored = restoreBest(early, model.params);
  const last = validPerplexities.length;
  return {
    model,
    validPerplexities,
    weightsFromEpoch: restored ? early.bestEpoch! : last,
    validPerplexity: restored ? early.best : validPerplexities[last - 1],
  };
}
