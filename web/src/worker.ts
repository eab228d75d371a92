/**
 * The training worker: one run of the lab, off the page's main thread so the page stays responsive.
 *
 * It is the library's training step (the same calls as src/train/trainer.ts: zero the gradients,
 * forward, backward, clip the global norm, SGD with weight decay, carry the state to the next window,
 * validate after every epoch, early stopping) on the library's TypeScript backend (matrix products in its
 * WebAssembly SIMD kernel, on two threads where the page allows), over a small excerpt of Penn Treebank bundled with the page. Nothing is
 * copied from src/: every function below is imported from it.
 */
import trainText from '../data/ptb-excerpt.train.txt?raw';
import validText from '../data/ptb-excerpt.valid.txt?raw';
import { batchify, encodeWords, fillWindow, tokenize, trainingVocabulary, windowCount, type Batched } from '../../src/data/text.js';
import type { Backend } from '../../src/kernels/backend.js';
import { createJsBackend, jsBackend } from '../../src/kernels/js.js';
import { formatTokens, generateTokens } from '../../src/model/generate.js';
import {
  carryState, createWorkspace, modelBackward, modelForward, resetState, type ForwardOptions, type Workspace,
} from '../../src/model/lm.js';
import { createModel, initializeParameters, type Model } from '../../src/model/params.js';
import { createEarlyStopping, earlyStoppingUpdate, restoreBest, type EarlyStopping } from '../../src/train/early-stopping.js';
import { evaluate } from '../../src/train/evaluate.js';
import { clipScale, modelGradientNorm, sgdStep, zeroGradients } from '../../src/train/sgd.js';
import { createRng } from '../../src/util/rng.js';
import { FIXED, type FromWorker, type LabSettings, type ToWorker } from './protocol.js';

/** The little of the worker global scope we use (the DOM typings describe the page's `self`, not ours). */
interface WorkerScope {
  postMessage(message: FromWorker): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
}
const scope = self as unknown as WorkerScope;
const post = (message: FromWorker): void => scope.postMessage(message);

// The backend: the WebAssembly GEMM on two threads (this worker and one of its own, over shared memory)
// when the page asks for two, which it does only where it is cross-origin isolated and no other run is
// training; otherwise one thread. The bits are the same either way (test/wasm-threads.test.ts).
let backend: Backend = jsBackend;
const backendFor = (threads: 1 | 2): Promise<Backend> => createJsBackend({
  threads,
  startWorker: () => new Worker(new URL('../../src/kernels/wasm-worker-browser.ts', import.meta.url), { type: 'module', name: 'GEMM' }),
});

// The corpus: word level, each line ending in <eos>, the excerpt's most frequent words as the vocabulary.
const trainWords = tokenize(trainText, 'word');
const vocab = trainingVocabulary(trainWords, FIXED.vocabSize);
const trainIds = encodeWords(trainWords, vocab, 'the training excerpt');
const validIds = encodeWords(tokenize(validText, 'word'), vocab, 'the validation excerpt');

interface Run {
  settings: LabSettings;
  model: Model;
  ws: Workspace;
  data: Batched;
  windows: number;
  options: ForwardOptions;
  window: number; //      the next window of the epoch
  epoch: number; //       the epoch being trained (1-based; 0 before the first step)
  step: number;
  words: number; //       trained so far
  trainingMs: number; // time spent in training steps (not validation)
  epochNll: number; //    summed over the current epoch's windows (dropout on)
  epochWords: number;
  early: EarlyStopping; // the best epoch so far, and its weights when patience > 0
  stopped: boolean; //    early stopping ended the run (the model stays, for sampling)
}

let run: Run | null = null;
let paused = false;
let looping = false;

function startRun(settings: LabSettings): Run {
  const model = createModel({
    vocabSize: vocab.words.length, hidden: settings.hidden, layers: settings.layers, layerNorm: settings.layerNorm,
  });
  const rng = createRng(settings.seed);
  initializeParameters(model, FIXED.init, rng);
  const data = batchify(trainIds, FIXED.batchSize, 'the training excerpt');
  return {
    settings, model, data,
    ws: createWorkspace(model, FIXED.bptt, FIXED.batchSize, settings.placement),
    windows: windowCount(data, FIXED.bptt),
    options: { train: true, placement: settings.placement, keepProb: settings.keepProb, rng },
    window: 0, epoch: 0, step: 0, words: 0, trainingMs: 0,
    epochNll: 0, epochWords: 0, early: createEarlyStopping(settings.patience), stopped: false,
  };
}

/** One SGD step on the next window; returns the window's summed negative log-likelihood and its word count. */
function trainStep(r: Run): { nll: number; words: number } {
  const { model, ws, options } = r;
  if (r.window === 0) { resetState(ws); r.epoch++; r.epochNll = 0; r.epochWords = 0; } // each epoch starts from zero state
  const T = fillWindow(r.data, r.window, FIXED.bptt, ws.tokens, ws.targets);
  zeroGradients(model);
  const nll = modelForward(backend, model, ws, T, options);
  if (!Number.isFinite(nll)) {
    throw new Error(`training diverged: the loss became ${nll} at step ${r.step + 1}; lower the learning rate and train again`);
  }
  modelBackward(backend, model, ws, T, options);
  // clip, then step; weight decay (λ·W in the step) touches weight matrices only (src/train/sgd.ts)
  sgdStep(model, r.settings.lr, r.settings.weightDecay, clipScale(modelGradientNorm(model), FIXED.clip));
  carryState(ws, T, model.config.hidden); // truncated BPTT: the state flows on into the next window
  r.window = (r.window + 1) % r.windows;
  r.step++;
  const words = T * FIXED.batchSize;
  r.words += words;
  r.epochNll += nll;
  r.epochWords += words;
  return { nll, words };
}

function validPerplexity(r: Run): number {
  return evaluate(backend, r.model, validIds, FIXED.batchSize, FIXED.bptt, null, 'the validation excerpt').perplexity;
}

/**
 * Validation after `epoch` whole epochs (0: the untrained model), then early stopping's bookkeeping
 * (src/train/early-stopping.ts): the best epoch so far, a copy of its weights, and whether to stop.
 */
function validate(r: Run, epoch: number): void {
  const perplexity = validPerplexity(r);
  const stop = epoch > 0 && earlyStoppingUpdate(r.early, epoch, perplexity, r.model.params);
  post({
    type: 'valid', epoch, words: r.words, perplexity, seconds: r.trainingMs / 1000,
    trainPerplexity: epoch === 0 ? null : Math.exp(r.epochNll / r.epochWords),
    bestEpoch: r.early.bestEpoch ?? 0, bestPerplexity: epoch === 0 ? perplexity : r.early.best,
  });
  if (!stop) return;
  // no better epoch for `patience` epochs: back to the best weights, as rlstm train does before scoring test
  restoreBest(r.early, r.model.params);
  r.stopped = true;
  post({
    type: 'stopped', epoch, bestEpoch: r.early.bestEpoch ?? 0, bestPerplexity: r.early.best,
    restoredPerplexity: validPerplexity(r),
  });
}

/** Lets queued messages (pause, sample) in between slices of training. */
const nextTask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

async function trainLoop(): Promise<void> {
  if (looping) return;
  looping = true;
  try {
    let nll = 0, words = 0, lastReport = -Infinity;
    while (run !== null && !run.stopped && !paused) {
      const r = run;
      const sliceStart = performance.now();
      let epochEnded = false;
      do { // a slice of about 100 ms, cut short at the end of an epoch
        const result = trainStep(r);
        nll += result.nll;
        words += result.words;
        epochEnded = r.window === 0;
      } while (!epochEnded && performance.now() - sliceStart < 100);
      const now = performance.now();
      r.trainingMs += now - sliceStart;
      if (epochEnded || now - lastReport >= 1500) {
        post({
          type: 'train', words: r.words, epochs: r.epoch - 1 + (epochEnded ? 1 : r.window / r.windows),
          perplexity: Math.exp(nll / words), step: r.step, epoch: r.epoch,
          wordsPerSecond: r.words / (r.trainingMs / 1000),
        });
        nll = 0; words = 0; lastReport = now;
      }
      if (epochEnded) validate(r, r.epoch);
      await nextTask();
    }
  } catch (err) {
    run = null;
    post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  } finally {
    looping = false;
  }
}

/** One message at a time, in order: a start waits for its backend, and what follows it waits for the start. */
async function handle(message: ToWorker): Promise<void> {
  try {
    switch (message.type) {
      case 'start':
        backend = await backendFor(message.threads);
        run = startRun(message.settings);
        paused = false;
        post({
          type: 'ready',
          corpus: {
            trainLines: trainText.split('\n').filter((line) => line.length > 0).length,
            trainTokens: trainIds.length, validTokens: validIds.length, vocabSize: vocab.words.length,
            parameters: run.model.params.length,
          },
          gemm: backend.library ?? 'TypeScript',
        });
        validate(run, 0); // the untrained model: about as good as a uniform guess among the vocabulary
        void trainLoop();
        break;
      case 'pause':
        paused = true;
        post({ type: 'paused' });
        break;
      case 'resume':
        paused = false; // (a run that early stopping ended stays ended)
        void trainLoop();
        break;
      case 'sample': {
        if (run === null) throw new Error('nothing to sample from yet: start training first');
        const ids = generateTokens(backend, run.model, vocab, {
          count: message.count, temperature: message.temperature, seed: message.seed, prompt: [],
        });
        post({ type: 'sample', text: formatTokens(ids.map((id) => vocab.words[id]), 'word') });
        break;
      }
    }
  } catch (err) {
    post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  }
}

let handled: Promise<void> = Promise.resolve();
scope.onmessage = (event: MessageEvent<ToWorker>): void => {
  const message = event.data;
  handled = handled.then(() => handle(message));
};
