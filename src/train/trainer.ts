import type { Backend } from '../kernels/backend.js';
import { batchify, fillWindow, windowCount, type Corpus } from '../data/corpus.js';
import { learningRateForEpoch, type TrainConfig } from '../model/configs.js';
import { carryState, createWorkspace, modelBackward, modelForward, resetState, type ForwardOptions } from '../model/lm.js';
import { createModel, initializeParameters, type Model } from '../model/params.js';
import { createRng } from '../util/rng.js';
import { UserError } from '../errors.js';
import { saveCheckpoint, writeFileAtomic } from './checkpoint.js';
import { evaluate, type Evaluation } from './evaluate.js';
import { clipScale, gradientNorm, sgdStep, zeroGradients } from './sgd.js';
import { createEarlyStopping, earlyStoppingUpdate, restoreBest } from './early-stopping.js';

export interface EpochMetrics {
  epoch: number; //          1-based
  lr: number;
  trainPerplexity: number; // over the epoch's windows, dropout on
  validPerplexity: number;
  steps: number; //          optimizer steps in this epoch
  complete: boolean; //      false when a step limit or time budget ended the epoch early
  seconds: number; //        training time of the epoch (evaluation excluded)
  tokensPerSecond: number;
  validSeconds: number;
}

export interface StepProgress {
  epoch: number;
  window: number; //  windows done in this epoch
  windows: number; // windows in the epoch
  step: number; //    optimizer steps since the run began
  lr: number;
  trainPerplexity: number; // running, this epoch
  tokensPerSecond: number;
  gradNorm: number;
}

export interface TrainCallbacks {
  onEpochStart?(epoch: number, lr: number, windows: number): void;
  onStep?(progress: StepProgress): void;
  onEpochEnd?(metrics: EpochMetrics): void;
  /** Informational lines (early stopping, budget reached, files written). */
  onMessage?(line: string): void;
}

export interface TrainResult {
  model: Model;
  epochs: EpochMetrics[];
  steps: number;
  bestEpoch: number | null;
  stopReason: 'completed' | 'max-steps' | 'time-budget' | 'early-stopping';
  test: Evaluation | null;
  wallSeconds: number;
}

export interface TrainRun {
  backend: Backend;
  corpus: Corpus;
  config: TrainConfig;
  savePath: string | null;
  logPath: string | null;
  callbacks?: TrainCallbacks;
  /** Tokens scored per evaluation when a time budget is set (keeps slow backends' runs short). */
  budgetEvalTokens?: number;
}

/** Metadata stored in a checkpoint: every hyperparameter and the vocabulary. */
export function checkpointMetadata(config: TrainConfig, corpus: Corpus): Record<string, string> {
  return { config: JSON.stringify(config), vocab: JSON.stringify(corpus.vocab.words) };
}

/**
 * Trains a language model as SPEC.md states: SGD on the loss summed over T and averaged over B, global
 * norm clipping, the paper's learning-rate schedule, state carried between windows and reset each epoch.
 * Async only so that the process stays responsive (signals, progress); the work is synchronous.
 */
export async function trainModel(run: TrainRun): Promise<TrainResult> {
  const { backend, corpus, config } = run;
  const say = (line: string): void => run.callbacks?.onMessage?.(line);
  const started = performance.now();
  const rng = createRng(config.seed);
  const model = createModel({
    vocabSize: corpus.vocab.words.length, hidden: config.hidden, layers: config.layers, layerNorm: config.layerNorm,
  });
  initializeParameters(model, config.init, rng);
  const metadata = checkpointMetadata(config, corpus);
  const log = {
    config, backend: backend.name, vocabSize: model.config.vocabSize, parameters: model.params.length,
    data: corpus.files, startedAt: new Date().toISOString(), epochs: [] as EpochMetrics[],
    test: null as Evaluation | null, stopReason: null as string | null, steps: 0, wallSeconds: 0,
    bestEpoch: null as number | null,
  };
  const writeLog = (): void => {
    if (run.logPath === null) return;
    log.wallSeconds = (performance.now() - started) / 1000;
    writeFileAtomic(run.logPath, JSON.stringify(log, null, 2) + '\n');
  };

  if (config.maxSteps === 0) {
    if (run.savePath !== null) { saveCheckpoint(run.savePath, model, metadata); say(`saved the initial model to ${run.savePath}`); }
    log.stopReason = 'max-steps';
    writeLog();
    return { model, epochs: [], steps: 0, bestEpoch: null, stopReason: 'max-steps', test: null, wallSeconds: 0 };
  }

  const data = batchify(corpus.train, config.batchSize, corpus.files.train);
  const ws = createWorkspace(model, config.bptt, config.batchSize, config.placement);
  const windows = windowCount(data, config.bptt);
  const budgetMs = config.timeBudgetMinutes === null ? Infinity : config.timeBudgetMinutes * 60_000;
  const evalLimit = config.timeBudgetMinutes === null ? null : (run.budgetEvalTokens ?? null);
  const early = createEarlyStopping(config.patience);
  let step = 0;
  let stopReason: TrainResult['stopReason'] = 'completed';
  let lastYield = performance.now();

  for (let epoch = 1; epoch <= config.epochs && stopReason === 'completed'; epoch++) {
    const lr = learningRateForEpoch(config, epoch);
    run.callbacks?.onEpochStart?.(epoch, lr, windows);
    resetState(ws);
    const epochStart = performance.now();
    let nllSum = 0, tokens = 0, epochSteps = 0;
    for (let k = 0; k < windows; k++) {
      if (config.maxSteps !== null && step >= config.maxSteps) { stopReason = 'max-steps'; break; }
      if (performance.now() - started > budgetMs) { stopReason = 'time-budget'; break; }
      const T = fillWindow(data, k, config.bptt, ws.tokens, ws.targets);
      const options: ForwardOptions = { train: true, placement: config.placement, keepProb: config.keepProb, rng };
      zeroGradients(model);
      const nll = modelForward(backend, model, ws, T, options);
      if (!Number.isFinite(nll)) {
        writeLog();
        throw new UserError(`training diverged: the loss became ${nll} at step ${step + 1} (epoch ${epoch}); `
          + 'lower --lr or --clip and start again');
      }
      modelBackward(backend, model, ws, T, options);
      const gradNorm = gradientNorm(model.grads);
      sgdStep(model, lr, config.weightDecay, clipScale(gradNorm, config.clip)); // clip, then step
      carryState(ws, T, config.hidden);
      step++; epochSteps++;
      nllSum += nll; tokens += T * config.batchSize;
      const now = performance.now();
      run.callbacks?.onStep?.({
        epoch, window: k + 1, windows, step, lr, trainPerplexity: Math.exp(nllSum / tokens),
        tokensPerSecond: tokens / ((now - epochStart) / 1000), gradNorm,
      });
      if (now - lastYield > 200) { await new Promise((r) => setImmediate(r)); lastYield = performance.now(); }
    }
    if (epochSteps === 0) break;
    const seconds = (performance.now() - epochStart) / 1000;
    const validStart = performance.now();
    const valid = evaluate(backend, model, corpus.valid, config.batchSize, config.bptt, evalLimit, corpus.files.valid);
    const metrics: EpochMetrics = {
      epoch, lr, trainPerplexity: Math.exp(nllSum / tokens), validPerplexity: valid.perplexity, steps: epochSteps,
      complete: epochSteps === windows, seconds, tokensPerSecond: tokens / seconds,
      validSeconds: (performance.now() - validStart) / 1000,
    };
    log.epochs.push(metrics);
    log.steps = step;
    run.callbacks?.onEpochEnd?.(metrics);
    if (earlyStoppingUpdate(early, epoch, valid.perplexity, model.params)) {
      stopReason = 'early-stopping';
      say(`early stopping: validation perplexity has not improved for ${early.epochsSinceBest} epochs `
        + `(best ${early.best.toFixed(2)} at epoch ${early.bestEpoch})`);
    }
    log.bestEpoch = early.bestEpoch;
    writeLog();
  }
  if (stopReason === 'max-steps') say(`stopped after ${step} steps (--max-steps)`);
  if (stopReason === 'time-budget') say(`stopped after ${config.timeBudgetMinutes} minutes (time budget), ${step} steps`);
  if (restoreBest(early, model.params)) {
    say(`restored the best weights (epoch ${early.bestEpoch}, validation perplexity ${early.best.toFixed(2)})`);
  }

  const test = evaluate(backend, model, corpus.test, config.testBatchSize, config.testBptt, evalLimit, corpus.files.test);
  log.test = test;
  log.stopReason = stopReason;
  if (run.savePath !== null) { saveCheckpoint(run.savePath, model, metadata); say(`saved ${run.savePath}`); }
  writeLog();
  return {
    model, epochs: log.epochs, steps: step, bestEpoch: early.bestEpoch, stopReason, test,
    wallSeconds: (performance.now() - started) / 1000,
  };
}
