import { closeSync, existsSync, mkdirSync, openSync, statSync, unlinkSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { checkBatchSize, corpusFingerprint, loadCorpusFrom, type CorpusSource } from '../data/corpus.js';
import { UserError } from '../errors.js';
import type { TrainConfig } from '../model/configs.js';
import { selectBackend } from '../kernels/select.js';
import { bf16Refusal } from '../kernels/mixed-precision.js';
import { loadResumePoint } from '../train/load.js';
import { checkMemory, estimateTrainingBytes, type MemoryEstimate } from '../train/memory.js';
import { trainModel, type ResumePoint, type StopReason, type TrainingState } from '../train/trainer.js';
import { parseBackend, parseFlag, resolveTrainConfig, RESUMABLE_FLAGS, type TrainFlags } from './options.js';

export interface TrainCommandFlags extends TrainFlags {
  backend: string;
  data?: string;
  train?: string;
  valid?: string;
  test?: string;
  save?: string;
  log?: string;
  resume?: string;
  checkpointEvery?: string;
}

/** Minutes the `quick` configuration trains on the TypeScript backend, so that `npm start` stays short. */
const QUICK_JS_BUDGET_MINUTES = 3;
/** Tokens scored per evaluation under a time budget. */
const BUDGET_EVAL_TOKENS = 8000;
export const DEFAULT_DATA = new URL('../../../data/ptb', import.meta.url).pathname;

/**
 * Checks before training that a file can be written at `path`: its folder exists and a probe file can be
 * created there (permission bits alone say little when running as root).
 */
export function checkWritable(flag: string, path: string): void {
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UserError(`${flag} ${path}: the folder ${dir} does not exist; create it or choose another path`);
  }
  const probe = join(dir, `.rlstm-write-test-${process.pid}`);
  try {
    closeSync(openSync(probe, 'wx'));
    unlinkSync(probe);
  } catch {
    throw new UserError(`${flag} ${path}: the folder ${dir} is not writable; choose another path`);
  }
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/** --data DIR, or --train/--valid/--test FILE (all three), or the bundled PTB. */
export function corpusSource(
  flags: { data?: string; train?: string; valid?: string; test?: string }, fallback: CorpusSource,
): CorpusSource {
  const files = [flags.train, flags.valid, flags.test];
  if (files.some((f) => f !== undefined)) {
    if (flags.data !== undefined) throw new UserError('--data and --train/--valid/--test both given; give a folder or three files, not both');
    if (files.some((f) => f === undefined)) throw new UserError('--train, --valid and --test go together; give all three files');
    // absolute paths, so that a checkpoint resumed from another folder still finds its corpus
    return { train: resolve(flags.train!), valid: resolve(flags.valid!), test: resolve(flags.test!) };
  }
  return flags.data !== undefined ? { dir: resolve(flags.data) } : fallback;
}

/** What a command built on `train` (such as `reproduce`) adds: a hook run whenever progress is saved. */
export interface TrainHooks {
  onProgressSaved?(state: TrainingState, config: TrainConfig, backend: string): void | Promise<void>;
  /** The command to show in "resume with: ..." lines. */
  resumeCommand?: string;
}

/**
 * The signals that stop a run the way Ctrl-C does: the run saves a checkpoint, says how to resume and
 * exits with status 128 + the signal's number (SIGINT 130, SIGTERM 143, SIGHUP 129); a second one exits
 * at once. With the words that begin the message.
 */
const STOP_SIGNALS: Record<string, string> = { SIGINT: 'interrupted', SIGTERM: 'terminated (SIGTERM)', SIGHUP: 'hung up (SIGHUP)' };

/** Trains (or resumes) one run; returns why it stopped ('interrupted' after a stop signal). */
export async function trainCommand(flags: TrainCommandFlags, hooks: TrainHooks = {}): Promise<StopReason> {
  // every number is read before anything is loaded or written
  const checkpointEvery = flags.checkpointEvery === undefined ? null : parseFlag('--checkpoint-every', flags.checkpointEvery);
  let config: TrainConfig;
  let resume: ResumePoint | null = null;
  let source: CorpusSource;
  let expectedFingerprint: string | null = null;
  let resumeLog: string | null = null;
  let resumeBackend: string | null = null;
  let resumeVocabSize = 0;
  if (flags.resume !== undefined) {
    const given = Object.keys(flags).filter((k) => !RESUMABLE_FLAGS.includes(k) && flags[k as keyof TrainCommandFlags] !== undefined);
    if (given.length > 0) {
      const flag = '--' + given[0].replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
      throw new UserError(`${flag} cannot be changed when resuming (the configuration comes from the checkpoint); drop it, `
        + 'or start a new run without --resume');
    }
    // stop conditions belong to a session, not to the run: a resumed run goes on to the end unless told
    const maxSteps = flags.maxSteps !== undefined ? parseFlag('--max-steps', flags.maxSteps) : null;
    const timeBudgetMinutes = flags.timeBudget !== undefined ? parseFlag('--time-budget', flags.timeBudget) : null;
    const point = loadResumePoint(flags.resume);
    config = point.config;
    resume = point.resume;
    expectedFingerprint = point.corpusFingerprint;
    config.maxSteps = maxSteps;
    config.timeBudgetMinutes = timeBudgetMinutes;
    source = corpusSource(flags, point.dataSource ?? { dir: DEFAULT_DATA });
    resumeLog = point.logPath;
    resumeBackend = point.backend;
    resumeVocabSize = point.vocab.words.length;
  } else {
    config = resolveTrainConfig(flags);
    source = corpusSource(flags, { dir: DEFAULT_DATA });
  }
  // Memory, before anything large is allocated: first with the smallest vocabulary the corpus could give
  // (refuses an impossible --hidden at once), then with the corpus read.
  const memoryNeeded = (vocabSize: number, tokens = { train: 0, valid: 0, test: 0 }): MemoryEstimate => estimateTrainingBytes(
    { vocabSize, hidden: config.hidden, layers: config.layers, layerNorm: config.layerNorm }, config, tokens, resume !== null);
  checkMemory(memoryNeeded(resume !== null ? resumeVocabSize : 2), 'this run');
  const backendChoice = parseBackend(flags.backend);
  // Where the log and the checkpoints go: the flags, else the resumed run's files, else runs/<config>-<time>.*
  let logPath = flags.log ?? resumeLog;
  let savePath = flags.save ?? resume?.from ?? null;
  if (logPath === null) {
    const stem = savePath !== null ? savePath.replace(/\.safetensors$/, '') : `runs/${config.name}-${timestamp()}`;
    if (savePath === null) mkdirSync('runs', { recursive: true });
    logPath = `${stem}.json`;
  }
  if (savePath === null) savePath = logPath.replace(/\.json$/, '') + '.safetensors';
  checkWritable('--log', logPath);
  checkWritable('--save', savePath);

  const corpus = loadCorpusFrom(source, { level: config.level, vocabSize: config.vocabSize, vocab: undefined });
  checkMemory(memoryNeeded(corpus.vocab.words.length,
    { train: corpus.train.length, valid: corpus.valid.length, test: corpus.test.length }), 'this run');
  const fingerprint = corpusFingerprint(corpus);
  if (expectedFingerprint !== null && fingerprint !== expectedFingerprint) {
    throw new UserError(`--resume ${flags.resume}: the corpus differs from the one this run was trained on; `
      + 'pass the same --data (or --train/--valid/--test) as the original run');
  }
  checkBatchSize(corpus.train.length, config.batchSize, corpus.files.train);

  // The backend last, once every input has been checked: on a machine without BLAS a mistake still prints
  // one line, not the fallback's note and then the error.
  const backend = selectBackend(backendChoice, (line) => console.error(line), { hidden: config.hidden });
  const refusal = config.precision === 'bf16' ? bf16Refusal(backend) : null;
  if (refusal !== null) throw new UserError(refusal);
  if (resumeBackend !== null && resumeBackend !== backend.name) {
    console.error(`note: this run was trained with the ${resumeBackend} backend and continues with ${backend.name}; `
      + 'the result will not be bit-identical to an uninterrupted run');
  }
  if (backend.name === 'js' && config.name === 'quick' && config.timeBudgetMinutes === null) {
    config.timeBudgetMinutes = QUICK_JS_BUDGET_MINUTES;
    console.error(`note: the TypeScript backend trains 'quick' for ${QUICK_JS_BUDGET_MINUTES} minutes instead of a full epoch, `
      + `and scores ${BUDGET_EVAL_TOKENS} tokens per evaluation (--time-budget sets the limit)`);
  }

  const what = `config ${config.name} (${config.layers}×${config.hidden}, keep ${config.keepProb}, placement ${config.placement}`
    + `${config.layerNorm ? ', layer norm' : ''}${config.level === 'char' ? ', characters' : ''}`
    + `${config.precision === 'bf16' ? ', bf16 mixed precision' : ''})`;
  const library = (backend as { library?: string }).library;
  console.log(`rlstm train: ${what}, backend ${backend.name}${library ? ` (${library})` : ''}, vocabulary ${corpus.vocab.words.length}, `
    + `${corpus.train.length} training tokens${resume ? `, resuming at step ${resume.state.step}` : ''}`);
  const bar = new cliProgress.SingleBar({
    format: 'epoch {epoch} |{bar}| {value}/{total} | {speed} tok/s | ETA {eta_formatted} | ppl {ppl} | lr {lr}',
    hideCursor: true, clearOnComplete: true, etaBuffer: 50, barsize: 24,
  }, cliProgress.Presets.shades_classic);

  let stopSignal: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    // a second signal: stop at once (the last checkpoint is intact; a file is never left half-written,
    // since this runs between the trainer's synchronous steps, never inside a write)
    if (stopSignal !== null) process.exit(128 + osConstants.signals[signal]);
    stopSignal = signal;
  };
  for (const signal of Object.keys(STOP_SIGNALS)) process.on(signal, onSignal);
  const result = await trainModel({
    backend, corpus, corpusFingerprint: fingerprint, config, savePath, logPath, resume,
    checkpointEveryMinutes: checkpointEvery, budgetEvalTokens: BUDGET_EVAL_TOKENS,
    dataSource: source,
    shouldStop: () => stopSignal !== null,
    callbacks: {
      onEpochStart: (epoch, lr, windows, first) => bar.start(windows, first, { epoch, speed: '-', ppl: '-', lr: lr.toPrecision(3) }),
      onStep: (p) => bar.update(p.window, {
        epoch: p.epoch, speed: Math.round(p.tokensPerSecond), ppl: p.trainPerplexity.toFixed(1), lr: p.lr.toPrecision(3),
      }),
      onEpochEnd: (m) => {
        bar.stop();
        console.log(`epoch ${m.epoch}  lr ${m.lr.toPrecision(3)}  train ppl ${m.trainPerplexity.toFixed(2)}  `
          + `valid ppl ${m.validPerplexity.toFixed(2)}  (${m.seconds.toFixed(0)} s, ${Math.round(m.tokensPerSecond)} tok/s`
          + `${m.complete ? '' : ', partial epoch'})`);
      },
      onMessage: (line) => { bar.stop(); console.log(line); },
      onNote: (line) => console.error(line),
      onProgressSaved: (state) => hooks.onProgressSaved?.(state, config, backend.name),
    },
  });
  bar.stop();
  for (const signal of Object.keys(STOP_SIGNALS)) process.off(signal, onSignal);
  if (result.stopReason === 'interrupted' && stopSignal !== null) {
    console.log(`${STOP_SIGNALS[stopSignal]} at step ${result.state.step}: saved ${savePath}; `
      + `resume with: ${hooks.resumeCommand ?? `rlstm train --resume ${savePath}`}`);
    process.exitCode = 128 + osConstants.signals[stopSignal as NodeJS.Signals];
    return result.stopReason;
  }
  const { test, epochs, partial } = result.state;
  if (test !== null) {
    console.log(`test perplexity ${test.perplexity.toFixed(2)} (${test.tokens} tokens, batch ${test.batchSize}, `
      + `T ${test.bptt}${test.complete ? '' : ', partial: time budget'})`);
  }
  const last = partial ?? epochs.at(-1);
  if (last !== undefined) console.log(`validation perplexity ${last.validPerplexity.toFixed(2)}`);
  if (!result.state.finished) console.log(`to continue this run: ${hooks.resumeCommand ?? `rlstm train --resume ${savePath}`}`);
  console.log(`log: ${logPath}  checkpoint: ${savePath}  (${result.wallSeconds.toFixed(0)} s)`);
  return result.stopReason;
}

