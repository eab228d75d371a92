/**
 * regularized-lstm: the public, stable API (docs/library.md; every name here is documented in docs/api.md).
 *
 *   const model = await train({ corpus, config, backend });   or   loadModel(file)
 *   model.score(text)  model.generate(prompt, options)  model.samples(prompt, n)  model.evaluate(split)  model.save(file)
 *
 * The building blocks underneath (layers, kernels, the trainer, checkpoints, plots) are exported by the
 * second entry point, `regularized-lstm/internals`.
 */
export { train, loadModel } from './api.js';
export type { CorpusInput, TrainOptions, SampleOptions, EvaluateOptions, LanguageModel } from './api.js';
export { CONFIGS, type TrainConfig } from './model/configs.js';
export type { TextScore, ScoredToken, ScoredLine } from './model/score.js';
export type { Evaluation } from './train/evaluate.js';
export type { EpochMetrics } from './train/trainer.js';
export type { BackendChoice } from './kernels/select.js';
export { UserError, WriteError } from './errors.js';
