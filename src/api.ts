import {
  corpusFingerprint, countTokens, encodeText, fittingBatchSize, loadCorpusFrom, trainingVocabularyFromCounts,
  type Corpus, type CorpusSource, type TokenLevel, type Vocabulary,
} from './data/corpus.js';
import { UserError } from './errors.js';
import type { Backend } from './kernels/backend.js';
import { selectBackend, type BackendChoice } from './kernels/select.js';
import { CONFIGS, PRECISIONS, type TrainConfig } from './model/configs.js';
import { bf16Refusal } from './kernels/mixed-precision.js';
import { DROPOUT_PLACEMENTS } from './model/lm.js';
import { encodePrompt, formatTokens, generateSamples, promptTokens } from './model/generate.js';
import type { Model } from './model/params.js';
import { scoreText, type TextScore } from './model/score.js';
import { saveCheckpoint } from './train/checkpoint.js';
import { evaluate as evaluateStream, type Evaluation } from './train/evaluate.js';
import { modelFromCheckpoint } from './train/load.js';
import { readCheckpoint } from './train/checkpoint.js';
import { checkpointMetadata, trainModel, type EpochMetrics } from './train/trainer.js';

/**
 * The library's common path in two calls: `train(...)` or `loadModel(file)` give a LanguageModel, which
 * scores, generates, evaluates and saves. Everything here is built from the building blocks of
 * `regularized-lstm/internals` (src/internals.ts), which stay available for work this path does not cover.
 */

/**
 * Where the training text comes from: texts in memory, a folder (ptb.{train,valid,test}.txt or
 * {train,valid,test}.txt), three files, or the Penn Treebank that ships with the package.
 */
export type CorpusInput =
  | 'ptb'
  | { texts: { train: string; valid: string; test: string } }
  | { dir: string }
  | { files: { train: string; valid: string; test: string } };

export interface TrainOptions {
  corpus: CorpusInput;
  /** A named configuration (small, medium, large, quick; default small) with any fields changed. */
  config?: Partial<TrainConfig>;
  /** auto (BLAS when installed, default), blas or js (TypeScript and WebAssembly; its bits can differ between engines: relaxed SIMD fuses multiply-adds where the engine has it). */
  backend?: BackendChoice;
  /** Where to keep the checkpoint during training (every epoch, and at the end); none by default. */
  checkpoint?: string;
  /** Called after every epoch. */
  onEpoch?: (metrics: EpochMetrics) => void;
  /** Informational lines (a backend note, early stopping): none are printed by the library itself. */
  onMessage?: (line: string) => void;
}

/** How `generate` samples: every option of `rlstm generate`. */
export interface SampleOptions {
  tokens?: number; //      how many tokens to sample (default 100)
  temperature?: number; // softmax temperature; 0 = greedy (default 1)
  topK?: number; //        only the K most likely tokens (default: all)
  topP?: number; //        nucleus: only the most likely tokens making up probability P (default 1: all)
  seed?: number; //        default 1
}

export interface EvaluateOptions {
  /** The corpus to take the split from (default: the one the model was trained on, else the bundled PTB). */
  corpus?: CorpusInput;
  batchSize?: number; // default: the model's training batch size
  bptt?: number; //      default: the model's
}

export interface LanguageModel {
  /** The configuration it was trained with. */
  readonly config: TrainConfig;
  /** The vocabulary, in id order. */
  readonly vocabulary: readonly string[];
  /** Per-token log-probabilities and perplexity of a text, as `rlstm score` (docs/score-json.md). */
  score(text: string): TextScore;
  /** The prompt followed by sampled tokens, as `rlstm generate` prints it. */
  generate(prompt?: string, options?: SampleOptions): string;
  /** `count` samples continuing the same prompt (the first is generate's), as `rlstm generate --count`. */
  samples(prompt: string, count: number, options?: SampleOptions): string[];
  /** Perplexity of a validation or test split, as `rlstm eval`. */
  evaluate(split: 'valid' | 'test', options?: EvaluateOptions): Evaluation;
  /** Writes the weights, configuration and vocabulary as a float32 safetensors checkpoint every command loads. */
  save(file: string): void;
  /** The building blocks underneath, for use with `regularized-lstm/internals`. */
  readonly internals: { model: Model; vocab: Vocabulary; backend: Backend };
}

/** The PTB text files that ship with the package. */
const BUNDLED_PTB = new URL('../../data/ptb', import.meta.url).pathname;

/** Trains a model as `rlstm train` does, and returns it (the best weights when early stopping is on). */
export async function train(options: TrainOptions): Promise<LanguageModel> {
  const config = resolveConfig(options.config ?? {});
  const corpus = readCorpus(options.corpus, config);
  const backend = selectBackend(checkBackend(options.backend ?? 'auto'), options.onMessage ?? (() => {}), { hidden: config.hidden });
  const refusal = config.precision === 'bf16' ? bf16Refusal(backend, 'config.precision "bf16"') : null;
  if (refusal !== null) throw new UserError(refusal);
  const result = await trainModel({
    backend, corpus, corpusFingerprint: corpusFingerprint(corpus), config,
    savePath: options.checkpoint ?? null, logPath: null,
    dataSource: sourceOf(options.corpus) ?? undefined,
    callbacks: { onEpochEnd: options.onEpoch, onMessage: options.onMessage, onNote: options.onMessage },
  });
  return languageModel(result.model, config, corpus.vocab, backend, options.corpus);
}

/** Loads a checkpoint written by `rlstm train`, `rlstm export`, `rlstm import` or `save`. */
export function loadModel(file: string, options: { backend?: BackendChoice; onMessage?: (line: string) => void } = {}): LanguageModel {
  const { model, config, vocab, dataSource } = modelFromCheckpoint(readCheckpoint(file), file);
  const backend = selectBackend(checkBackend(options.backend ?? 'auto'), options.onMessage ?? (() => {}));
  const corpus: CorpusInput | null = dataSource === null ? null : 'dir' in dataSource ? dataSource : { files: dataSource };
  return languageModel(model, config, vocab, backend, corpus);
}

function languageModel(model: Model, config: TrainConfig, vocab: Vocabulary, backend: Backend, corpus: CorpusInput | null): LanguageModel {
  const level: TokenLevel = config.level ?? 'word';
  const sample = (prompt: string, count: number, options: SampleOptions): string[] => {
    const tokens = promptTokens(prompt, level);
    const { ids } = encodePrompt(tokens, vocab);
    const drawn = generateSamples(backend, model, vocab, {
      count: whole('tokens', options.tokens ?? 100, 1), temperature: real('temperature', options.temperature ?? 1, 0),
      seed: whole('seed', options.seed ?? 1, 0), prompt: ids,
      topK: options.topK === undefined ? null : whole('topK', options.topK, 1),
      topP: options.topP === undefined ? null : unitInterval('topP', options.topP),
    }, count);
    return drawn.map((g) => formatTokens([...tokens, ...g.map((id) => vocab.words[id])], level));
  };
  return {
    config, vocabulary: vocab.words, internals: { model, vocab, backend },
    score: (text) => {
      if (typeof text !== 'string') throw new UserError('score(text): text must be a string');
      return scoreText(backend, model, vocab, level, text, config.bptt, 'score(text)');
    },
    generate: (prompt = '', options = {}) => sample(prompt, 1, options)[0],
    samples: (prompt, count, options = {}) => sample(prompt, whole('count', count, 1), options),
    evaluate: (split, options = {}) => {
      if (split !== 'valid' && split !== 'test') throw new UserError(`evaluate("${split}"): unknown split; use "valid" or "test"`);
      const input = options.corpus ?? corpus ?? { dir: BUNDLED_PTB };
      const c = readCorpus(input, config, vocab);
      const B = fittingBatchSize(c[split].length, whole('batchSize', options.batchSize ?? config.batchSize, 1));
      return evaluateStream(backend, model, c[split], B, whole('bptt', options.bptt ?? config.bptt, 1), null, c.files[split]);
    },
    save: (file) => saveCheckpoint(file, model, { config: JSON.stringify(config), vocab: JSON.stringify(vocab.words) }),
  };
}

/** CONFIGS[name] with the given fields over it, each checked (one-line UserError naming the field). */
function resolveConfig(given: Partial<TrainConfig>): TrainConfig {
  const name = given.name ?? 'small';
  const base = CONFIGS[name];
  if (base === undefined) throw new UserError(`config.name "${name}": unknown configuration; use one of ${Object.keys(CONFIGS).join(', ')}`);
  for (const key of Object.keys(given)) {
    if (!(key in base)) throw new UserError(`config.${key}: no such field; the fields are ${Object.keys(base).sort().join(', ')}`);
  }
  const c: TrainConfig = { ...base, ...given };
  for (const key of ['layers', 'hidden', 'epochs', 'bptt', 'batchSize', 'testBatchSize', 'testBptt'] as const) whole(`config.${key}`, c[key], 1);
  for (const key of ['maxEpoch', 'patience', 'seed'] as const) whole(`config.${key}`, c[key], 0);
  for (const key of ['lr', 'decay', 'clip'] as const) if (!(Number.isFinite(c[key]) && c[key] > 0)) refuse(`config.${key}`, c[key], 'a number greater than 0');
  for (const key of ['init', 'weightDecay'] as const) real(`config.${key}`, c[key], 0);
  unitInterval('config.keepProb', c.keepProb);
  if (!DROPOUT_PLACEMENTS.includes(c.placement)) refuse('config.placement', c.placement, `one of ${DROPOUT_PLACEMENTS.join(', ')}`);
  if (c.level !== 'word' && c.level !== 'char') refuse('config.level', c.level, '"word" or "char"');
  if (!PRECISIONS.includes(c.precision)) refuse('config.precision', c.precision, '"fp32" or "bf16"');
  if (c.maxSteps !== null) whole('config.maxSteps', c.maxSteps, 0);
  if (c.vocabSize !== null) whole('config.vocabSize', c.vocabSize, 2);
  if (c.timeBudgetMinutes !== null && !(Number.isFinite(c.timeBudgetMinutes) && c.timeBudgetMinutes > 0)) {
    refuse('config.timeBudgetMinutes', c.timeBudgetMinutes, 'a number of minutes greater than 0, or null');
  }
  return c;
}

function refuse(what: string, value: unknown, form: string): never {
  throw new UserError(`${what} ${JSON.stringify(value)}: must be ${form}`);
}

function whole(what: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) refuse(what, value, `a whole number of at least ${min}`);
  return value;
}

function real(what: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) refuse(what, value, `a number of at least ${min}`);
  return value;
}

function unitInterval(what: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0 && value <= 1)) refuse(what, value, 'a number in (0, 1]');
  return value;
}

function checkBackend(choice: unknown): BackendChoice {
  if (choice !== 'auto' && choice !== 'blas' && choice !== 'js') refuse('backend', choice, '"auto", "blas" or "js"');
  return choice;
}

function sourceOf(input: CorpusInput): CorpusSource | null {
  if (input === 'ptb') return null; // found wherever the package is installed
  if ('dir' in input) return { dir: input.dir };
  if ('files' in input) return input.files;
  return null;
}

/** The corpus at the configuration's level: read from files, or encoded from texts in memory. */
function readCorpus(input: CorpusInput, config: TrainConfig, vocab?: Vocabulary): Corpus {
  const level = config.level ?? 'word';
  if (input === 'ptb') return loadCorpusFrom({ dir: BUNDLED_PTB }, { level, vocabSize: config.vocabSize, vocab });
  if (typeof input !== 'object' || input === null) refuse('corpus', input, '"ptb", { texts }, { dir } or { files }');
  if ('dir' in input) return loadCorpusFrom({ dir: input.dir }, { level, vocabSize: config.vocabSize, vocab });
  if ('files' in input) return loadCorpusFrom(input.files, { level, vocabSize: config.vocabSize, vocab });
  if (!('texts' in input)) refuse('corpus', input, '"ptb", { texts }, { dir } or { files }');
  const texts = input.texts;
  for (const split of ['train', 'valid', 'test'] as const) {
    if (typeof texts[split] !== 'string' || texts[split].trim().length === 0) {
      throw new UserError(`corpus.texts.${split}: empty or not a string; give it some text`);
    }
  }
  const v = vocab ?? trainingVocabularyFromCounts(countTokens(texts.train, level), config.vocabSize);
  const files = { train: 'corpus.texts.train', valid: 'corpus.texts.valid', test: 'corpus.texts.test' };
  return {
    level, vocab: v, files,
    train: encodeText(texts.train, level, v, files.train),
    valid: encodeText(texts.valid, level, v, files.valid),
    test: encodeText(texts.test, level, v, files.test),
  };
}

export type { TrainConfig, EpochMetrics, Evaluation, TextScore, BackendChoice };
