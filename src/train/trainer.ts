import type { Backend } from '../kernels/backend.js';
import { bf16Refusal, mixedPrecision } from '../kernels/mixed-precision.js';
import { batchify, fillWindow, fittingBatchSize, shortSplitNote, windowCount, type Corpus } from '../data/corpus.js';
import { learningRateForEpoch, type TrainConfig } from '../model/configs.js';
import {
  carryState, createWorkspace, modelBackward, modelForward, resetState, type ForwardOptions, type Workspace,
} from '../model/lm.js';
import { createModel, initializeParameters, type Model } from '../model/params.js';
import { createRng } from '../util/rng.js';
import { UserError, WriteError } from '../errors.js';
import { saveCheckpoint, writeFileAtomic } from './checkpoint.js';
import { createEarlyStopping, earlyStoppingUpdate, restoreBest, type EarlyStopping } from './early-stopping.js';
import { evaluate, type Evaluation } from './evaluate.js';
import { clipScale, modelGradientNorm, sgdStep, zeroGradients } from './sgd.js';

export interface EpochMetrics {
  epoch: number; //          1-based
  lr: number;
  trainPerplexity: number; // over the epoch's windows, dropout on
  validPerplexity: number;
  steps: number; //          optimizer steps in this epoch
  complete: boolean; //      false for an epoch cut short by --max-steps or a time budget
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

/**
 * One point of the log's progress inside an epoch, taken every 100 optimizer steps (step a multiple of 100)
 * and, between those, whenever a minute has passed without a point (timed: true). The step points are
 * the same in a resumed run as in an uninterrupted one; the timed points and the two timings are not.
 */
export interface ProgressPoint {
  step: number; //    optimizer steps since the run began
  epoch: number; //   1-based
  window: number; //  windows done in this epoch: the point sits at epoch - 1 + window / windows
  windows: number; // windows in the epoch
  lr: number;
  trainPerplexity: number; // over this epoch's steps since its last 100-step point (or its start), dropout on
  gradNorm: number; //        the global gradient norm of this point's step, before clipping
  tokensPerSecond: number; // training tokens per second over the same steps (evaluation and saving excluded)
  seconds: number; //         wall time since the run began, over every session (as the log's wallSeconds)
  timed?: true; //            not a 100-step point: taken because a minute had passed, or (final) at the session's end
  final?: true; //            taken because the session stopped between two points (--max-steps, Ctrl-C)
}

export interface TrainCallbacks {
  onEpochStart?(epoch: number, lr: number, windows: number, firstWindow: number): void;
  onStep?(progress: StepProgress): void;
  onEpochEnd?(metrics: EpochMetrics): void;
  /** Informational lines (early stopping, budget reached, files written). */
  onMessage?(line: string): void;
  /** Notes on how the run departs from what was asked (a split scored with a smaller batch), before training. */
  onNote?(line: string): void;
  /** After each epoch's checkpoint and once at the end of the session, with the state saved. */
  onProgressSaved?(state: TrainingState): void | Promise<void>;
}

export type StopReason = 'completed' | 'max-steps' | 'time-budget' | 'early-stopping' | 'interrupted';

/**
 * Everything needed to continue a run exactly where it stopped, stored in the checkpoint's metadata
 * (with the carried hidden state and the weights): resuming gives bit-identical weights.
 */
export interface TrainingState {
  epoch: number; //  the epoch in progress (1-based); config.epochs + 1 once all are done
  window: number; // the next window of that epoch
  step: number; //   optimizer steps since the run began
  rng: number[]; //  the random generator's four state words
  epochNll: number; epochTokens: number; epochSteps: number; epochSeconds: number; // the epoch so far
  early: { best: number | null; bestEpoch: number | null; epochsSinceBest: number };
  epochs: EpochMetrics[];
  finished: boolean; //   training and the test score are done
  stopReason: StopReason | null;
  test: Evaluation | null;
  /** Validation after a run stopped mid-epoch (max steps, time budget); not an epoch of the log. */
  partial: EpochMetrics | null;
  trainSeconds: number; // time spent in this run so far, over every session
  progress: ProgressPoint[];
  /** The epoch's sums at its last 100-step point (zero at its start): the next point covers the steps since. */
  progressMark: { nll: number; tokens: number; seconds: number };
}

export interface ResumePoint {
  params: Float32Array;
  state: TrainingState;
  hidden: Float32Array; //  the carried h and c of every layer (see hiddenState)
  bestParams: Float32Array | null;
  from: string; //          the checkpoint's path, for the log
}

export interface TrainResult {
  model: Model;
  state: TrainingState;
  stopReason: StopReason;
  wallSeconds: number; // this session's
}

export interface TrainRun {
  backend: Backend;
  corpus: Corpus;
  corpusFingerprint: string;
  config: TrainConfig;
  /** Where checkpoints go (every epoch, every checkpointEveryMinutes, on interrupt, at the end). */
  savePath: string | null;
  logPath: string | null;
  checkpointEveryMinutes?: number | null;
  resume?: ResumePoint | null;
  /** Polled after every step; true makes the trainer save a checkpoint and return ('interrupted'). */
  shouldStop?: () => boolean;
  callbacks?: TrainCallbacks;
  /** Tokens scored per evaluation when a time budget is set (keeps slow backends' runs short). */
  budgetEvalTokens?: number;
  /** Where the corpus came from (stored in checkpoints so a resume can find it again). */
  dataSource?: unknown;
  /**
   * When the log gets a progress point: every `everySteps` steps (100) and after `everySeconds` (60)
   * without one, by the clock `now` (milliseconds, performance.now by default; tests pass their own).
   */
  progress?: { everySteps?: number; everySeconds?: number; now?: () => number };
}

/** The file that keeps the best weights under early stopping: model.safetensors → model.best.safetensors. */
export function bestModelPath(savePath: string): string {
  return savePath.replace(/(\.safetensors)?$/, '.best.safetensors');
}

/** Metadata stored in every checkpoint: the hyperparameters, the vocabulary and the corpus fingerprint. */
export function checkpointMetadata(config: TrainConfig, corpus: Corpus, corpusFingerprint: string): Record<string, string> {
  return { config: JSON.stringify(config), vocab: JSON.stringify(corpus.vocab.words), corpus: corpusFingerprint };
}

/** A log as indented JSON, with one line per progress point (thousands in a long run), written last. */
export function logJson(log: { progress: ProgressPoint[] }): string {
  const { progress, ...rest } = log;
  const head = JSON.stringify(rest, null, 2); // "{\n  ...\n}"
  const points = progress.map((p) => `    ${JSON.stringify(p)}`).join(',\n');
  return `${head.slice(0, -2)},\n  "progress": [${points === '' ? '' : `\n${points}\n  `}]\n}\n`;
}

/** The carried state (h0 and c0 of every layer, (B,H) each) as one array, and back. */
export function hiddenState(ws: Workspace): Float32Array {
  const parts = ws.lstm.flatMap((a) => [a.h0, a.c0]);
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let offset = 0;
  for (const p of parts) { out.set(p, offset); offset += p.length; }
  return out;
}

function restoreHiddenState(ws: Workspace, hidden: Float32Array, source: string): void {
  const parts = ws.lstm.flatMap((a) => [a.h0, a.c0]);
  if (hidden.length !== parts.reduce((s, p) => s + p.length, 0)) {
    throw new UserError(`${source}: the saved hidden state does not fit this configuration; the checkpoint is not resumable`);
  }
  let offset = 0;
  for (const p of parts) { p.set(hidden.subarray(offset, offset + p.length)); offset += p.length; }
}

function freshState(rngState: Uint32Array): TrainingState {
  return {
    epoch: 1, window: 0, step: 0, rng: Array.from(rngState), epochNll: 0, epochTokens: 0, epochSteps: 0, epochSeconds: 0,
    early: { best: null, bestEpoch: null, epochsSinceBest: 0 }, epochs: [], finished: false, stopReason: null,
    test: null, partial: null, trainSeconds: 0, progress: [], progressMark: { nll: 0, tokens: 0, seconds: 0 },
  };
}

/**
 * Trains a language model as docs/method.md states: SGD on the loss summed over T and averaged over B, global
 * norm clipping, the paper's learning-rate schedule, state carried between windows and reset each epoch.
 * Resumable at any window boundary (run.resume). Async only so that the process stays responsive
 * (signals, progress); the work itself is synchronous.
 */
export async function trainModel(run: TrainRun): Promise<TrainResult> {
  const { backend, corpus, config } = run;
  const say = (line: string): void => run.callbacks?.onMessage?.(line);
  const started = performance.now();
  const rng = createRng(config.seed);
  const model = createModel({
    vocabSize: corpus.vocab.words.length, hidden: config.hidden, layers: config.layers, layerNorm: config.layerNorm,
  }, run.resume?.params, backend.allocateFloat32); // a resumed run trains the checkpoint's parameters in place
  if (!run.resume) initializeParameters(model, config.init, rng);
  // bf16 mixed precision: the training steps' products take bf16 operands (weights rounded once per step);
  // evaluation runs on `backend`, in float32
  const refusal = config.precision === 'bf16' ? bf16Refusal(backend) : null;
  if (refusal !== null) throw new UserError(refusal);
  const mixed = config.precision === 'bf16' ? mixedPrecision(backend, model.params) : null;
  const stepBackend = mixed ?? backend;
  const data = batchify(corpus.train, config.batchSize, corpus.files.train);
  const ws = createWorkspace(model, config.bptt, config.batchSize, config.placement, backend);
  const windows = windowCount(data, config.bptt);
  // a validation or test split too short for its batch size is scored with the largest batch that fits,
  // said once here (fittingBatchSize); the training split's batch size is refused above instead
  const validBatch = fittingBatchSize(corpus.valid.length, config.batchSize);
  const testBatch = fittingBatchSize(corpus.test.length, config.testBatchSize);
  if (validBatch !== config.batchSize) {
    run.callbacks?.onNote?.(shortSplitNote(corpus.files.valid, corpus.valid.length, '--batch-size', config.batchSize, validBatch));
  }
  if (testBatch !== config.testBatchSize) {
    run.callbacks?.onNote?.(shortSplitNote(corpus.files.test, corpus.test.length, '--test-batch-size', config.testBatchSize, testBatch));
  }
  const early: EarlyStopping = createEarlyStopping(config.patience);
  let state = freshState(rng.state);
  if (run.resume) {
    state = run.resume.state;
    state.progress ??= []; // a checkpoint written before the log had progress points
    state.progressMark ??= { nll: 0, tokens: 0, seconds: 0 };
    rng.state.set(state.rng);
    restoreHiddenState(ws, run.resume.hidden, run.resume.from);
    early.best = state.early.best ?? Infinity;
    early.bestEpoch = state.early.bestEpoch;
    early.epochsSinceBest = state.early.epochsSinceBest;
    early.bestParams = run.resume.bestParams;
  }
  const sessionTrainSecondsAtStart = state.trainSeconds;
  const metadata = {
    ...checkpointMetadata(config, corpus, run.corpusFingerprint),
    backend: backend.name,
    ...(run.dataSource !== undefined ? { dataSource: JSON.stringify(run.dataSource) } : {}),
    ...(run.logPath !== null ? { logPath: run.logPath } : {}),
  };
  const log = {
    config, backend: backend.name, vocabSize: model.config.vocabSize, parameters: model.params.length,
    data: corpus.files, corpus: run.corpusFingerprint, validBatchSize: validBatch, startedAt: new Date().toISOString(),
    resumedFrom: run.resume ? { path: run.resume.from, step: run.resume.state.step } : null,
    epochs: state.epochs, partial: null as EpochMetrics | null, test: null as Evaluation | null,
    stopReason: null as StopReason | null, steps: 0, bestEpoch: null as number | null, wallSeconds: 0,
    checkpoint: run.savePath,
    progress: state.progress, // last: a long run has thousands of points
  };
  const elapsed = (): number => (performance.now() - started) / 1000;
  let lastCheckpoint: { path: string; step: number } | null = run.resume ? { path: run.resume.from, step: state.step } : null;
  /** A file the run cannot write (disk full, failing disk) stops it, naming the last good checkpoint, as divergence does. */
  const unwritable = (what: string, err: unknown): unknown => {
    if (!(err instanceof WriteError)) return err;
    const hint = err.hint.replace(', or write it elsewhere', '');
    return new WriteError(`could not write the ${what} ${err.path} (${err.reason}); training stopped at step ${state.step}; `
      + (lastCheckpoint !== null
        ? `the last good checkpoint is ${lastCheckpoint.path} (step ${lastCheckpoint.step}); ${hint}, then resume from it`
        : `no checkpoint was written yet; ${hint}, then train again`), err.path, err.reason, err.hint);
  };
  const writeOrStop = (what: string, write: () => void): void => {
    try { write(); } catch (err) { throw unwritable(what, err); }
  };
  const writeLog = (): void => {
    if (run.logPath === null) return;
    log.epochs = state.epochs; log.partial = state.partial; log.test = state.test; log.stopReason = state.stopReason;
    log.steps = state.step; log.bestEpoch = state.early.bestEpoch;
    log.wallSeconds = sessionTrainSecondsAtStart + elapsed();
    log.progress = state.progress;
    writeOrStop('log', () => writeFileAtomic(run.logPath!, logJson(log)));
  };
  const pointEverySteps = run.progress?.everySteps ?? 100;
  const pointEveryMs = (run.progress?.everySeconds ?? 60) * 1000;
  const clock = run.progress?.now ?? (() => performance.now());
  let lastPointTime = clock();
  let lastSaveTime = performance.now();
  const syncEarly = (): void => {
    state.early = { best: Number.isFinite(early.best) ? early.best : null, bestEpoch: early.bestEpoch, epochsSinceBest: early.epochsSinceBest };
  };
  const save = (): void => {
    if (run.savePath === null) return;
    state.rng = Array.from(rng.state);
    syncEarly();
    state.trainSeconds = sessionTrainSecondsAtStart + elapsed();
    writeOrStop('checkpoint', () => saveCheckpoint(run.savePath!, model, {
      ...metadata,
      trainingState: JSON.stringify(state),
      hiddenState: Buffer.from(hiddenState(ws).buffer).toString('base64'),
    }));
    lastCheckpoint = { path: run.savePath, step: state.step };
    lastSaveTime = performance.now();
  };
  const result = (stopReason: StopReason): TrainResult => ({ model, state, stopReason, wallSeconds: elapsed() });
  /** The epoch, rate and gradient norm of the last step trained in this session (for the points). */
  let lastStep: { epoch: number; lr: number; gradNorm: number } | null = null;
  /** A progress point at the current step, over the epoch's steps since its last 100-step point. */
  const addPoint = (kind: { timed?: true; final?: true }): void => {
    const mark = state.progressMark, { epoch, lr, gradNorm } = lastStep!;
    state.progress.push({
      step: state.step, epoch, window: state.window, windows, lr,
      trainPerplexity: Math.exp((state.epochNll - mark.nll) / (state.epochTokens - mark.tokens)), gradNorm,
      tokensPerSecond: (state.epochTokens - mark.tokens) / Math.max(state.epochSeconds - mark.seconds, 1e-9),
      seconds: sessionTrainSecondsAtStart + elapsed(), ...kind,
    });
  };
  /**
   * A session that stops mid-epoch between two points (--max-steps 30, an early Ctrl-C) ends with a point at its
   * last step, so that its log always has something to plot.
   */
  const finalPoint = (): void => {
    if (lastStep === null || state.window === 0 || state.epochTokens === state.progressMark.tokens) return;
    if (state.progress.at(-1)?.step === state.step) return;
    addPoint({ timed: true, final: true });
  };
  /** The caller's files (reproduce's summary and curves) stop the run the same way when they cannot be written. */
  const progressSaved = async (): Promise<void> => {
    try { await run.callbacks?.onProgressSaved?.(state); } catch (err) { throw unwritable('results file', err); }
  };

  if (state.finished) {
    say(`the run in ${run.resume?.from} is already complete (${state.stopReason}); nothing to do`);
    writeLog();
    await progressSaved();
    return result(state.stopReason ?? 'completed');
  }
  if (config.maxSteps === 0 && state.step === 0) {
    state.stopReason = 'max-steps';
    save();
    if (run.savePath !== null) say(`saved the initial model to ${run.savePath}`);
    writeLog();
    return result('max-steps');
  }

  const budgetMs = config.timeBudgetMinutes === null ? Infinity : config.timeBudgetMinutes * 60_000;
  const evalLimit = config.timeBudgetMinutes === null ? null : (run.budgetEvalTokens ?? null);
  const everyMs = run.checkpointEveryMinutes ? run.checkpointEveryMinutes * 60_000 : Infinity;
  let stopReason: StopReason = 'completed';
  let lastYield = performance.now();

  while (state.epoch <= config.epochs && stopReason === 'completed') {
    const epoch = state.epoch;
    const lr = learningRateForEpoch(config, epoch);
    if (state.window === 0) {
      resetState(ws);
      state.epochNll = 0; state.epochTokens = 0; state.epochSteps = 0; state.epochSeconds = 0;
      state.progressMark = { nll: 0, tokens: 0, seconds: 0 };
    }
    run.callbacks?.onEpochStart?.(epoch, lr, windows, state.window);
    let segmentStart = performance.now(), segmentSecondsBefore = state.epochSeconds;
    while (state.window < windows) {
      if (config.maxSteps !== null && state.step >= config.maxSteps) { stopReason = 'max-steps'; break; }
      if (performance.now() - started > budgetMs) { stopReason = 'time-budget'; break; }
      if (run.shouldStop?.()) { stopReason = 'interrupted'; break; }
      const T = fillWindow(data, state.window, config.bptt, ws.tokens, ws.targets);
      const options: ForwardOptions = { train: true, placement: config.placement, keepProb: config.keepProb, rng };
      zeroGradients(model);
      const nll = modelForward(stepBackend, model, ws, T, options);
      if (!Number.isFinite(nll)) {
        writeLog();
        throw new UserError(`training diverged: the loss became ${nll} at step ${state.step + 1} (epoch ${epoch}); `
          + (lastCheckpoint ? `the last good checkpoint is ${lastCheckpoint.path} (step ${lastCheckpoint.step}); ` : '')
          + 'lower --lr or --clip and train again');
      }
      modelBackward(stepBackend, model, ws, T, options);
      const gradNorm = modelGradientNorm(model, backend);
      sgdStep(model, lr, config.weightDecay, clipScale(gradNorm, config.clip), backend); // clip, then step
      mixed?.refreshWeightCopies();
      carryState(ws, T, config.hidden);
      state.window++; state.step++; state.epochSteps++;
      state.epochNll += nll; state.epochTokens += T * config.batchSize;
      const now = performance.now();
      state.epochSeconds = segmentSecondsBefore + (now - segmentStart) / 1000;
      run.callbacks?.onStep?.({
        epoch, window: state.window, windows, step: state.step, lr, trainPerplexity: Math.exp(state.epochNll / state.epochTokens),
        tokensPerSecond: state.epochTokens / Math.max(state.epochSeconds, 1e-9), gradNorm,
      });
      const dueToSteps = state.step % pointEverySteps === 0;
      lastStep = { epoch, lr, gradNorm };
      if (dueToSteps || clock() - lastPointTime >= pointEveryMs) {
        addPoint(dueToSteps ? {} : { timed: true });
        if (dueToSteps) state.progressMark = { nll: state.epochNll, tokens: state.epochTokens, seconds: state.epochSeconds };
        lastPointTime = clock();
        writeLog();
      }
      if (now - lastSaveTime > everyMs) {
        save();
        segmentStart = performance.now(); segmentSecondsBefore = state.epochSeconds; // saving is not training time
      }
      if (now - lastYield > 200) { await new Promise((r) => setImmediate(r)); lastYield = performance.now(); }
    }
    if (stopReason === 'interrupted') break;
    if (state.epochSteps === 0) break;
    const validStart = performance.now();
    const valid = evaluate(backend, model, corpus.valid, validBatch, config.bptt, evalLimit, corpus.files.valid, ws);
    const metrics: EpochMetrics = {
      epoch, lr, trainPerplexity: Math.exp(state.epochNll / state.epochTokens), validPerplexity: valid.perplexity,
      steps: state.epochSteps, complete: state.window === windows, seconds: state.epochSeconds,
      tokensPerSecond: state.epochTokens / state.epochSeconds, validSeconds: (performance.now() - validStart) / 1000,
    };
    run.callbacks?.onEpochEnd?.(metrics);
    if (!metrics.complete) { // stopped mid-epoch: report, but the epoch goes on when the run is resumed
      state.partial = metrics;
      break;
    }
    state.epochs.push(metrics);
    state.partial = null;
    const stop = earlyStoppingUpdate(early, epoch, valid.perplexity, model.params);
    syncEarly();
    if (stop) {
      stopReason = 'early-stopping';
      say(`early stopping: validation perplexity has not improved for ${early.epochsSinceBest} epochs `
        + `(best ${early.best.toFixed(2)} at epoch ${early.bestEpoch})`);
    }
    if (early.bestEpoch === epoch && early.patience > 0 && run.savePath !== null) {
      const bestPath = bestModelPath(run.savePath); // the best model, in its own file
      writeOrStop('best model', () => saveCheckpoint(bestPath, model, metadata));
    }
    state.epoch++; state.window = 0;
    save();
    writeLog();
    await progressSaved();
  }

  finalPoint();
  if (stopReason === 'interrupted') {
    state.stopReason = 'interrupted';
    save();
    writeLog();
    await progressSaved();
    return result('interrupted');
  }
  if (stopReason === 'max-steps') say(`stopped after ${state.step} steps (--max-steps)`);
  if (stopReason === 'time-budget') say(`stopped after ${config.timeBudgetMinutes} minutes (time budget), ${state.step} steps`);
  const unfinished = stopReason === 'max-steps' || stopReason === 'time-budget';
  if (unfinished) {
    // Save the state before scoring test so that a resumed run continues from exactly here.
    state.stopReason = stopReason;
    save();
  } else if (restoreBest(early, model.params)) {
    say(`restored the best weights (epoch ${early.bestEpoch}, validation perplexity ${early.best.toFixed(2)})`);
  }
  state.test = evaluate(backend, model, corpus.test, testBatch, config.testBptt, evalLimit, corpus.files.test, ws);
  state.stopReason = stopReason;
  if (!unfinished) {
    state.finished = true;
    save();
  }
  if (run.savePath !== null) say(`saved ${run.savePath}`);
  writeLog();
  await progressSaved();
  return result(stopReason);
}
