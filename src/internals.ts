/**
 * regularized-lstm/internals: the building blocks (kernels, layers, model, data, training, plots), for
 * readers of the code and for work the main entry (src/index.ts) does not cover. Everything here is
 * exported as it is; it may change between minor versions, unlike the main entry.
 */
export type { Backend } from './kernels/backend.js';
export { jsBackend, gemmJs } from './kernels/js.js';
export { loadBlasBackend } from './kernels/blas.js';
export { selectBackend, type BackendChoice } from './kernels/select.js';
export * from './nn/dropout.js';
export * from './nn/embedding.js';
export * from './nn/linear.js';
export * from './nn/layernorm.js';
export * from './nn/lstm.js';
export * from './model/params.js';
export * from './model/lm.js';
export * from './model/configs.js';
export * from './data/corpus.js';
export * from './train/sgd.js';
export * from './train/evaluate.js';
export * from './train/checkpoint.js';
export * from './train/trainer.js';
export { loadModelFromCheckpoint, modelFromCheckpoint } from './train/load.js';
export { exportCheckpoint, EXPORTED_METADATA, type Export } from './train/export.js';
export { float16ToFloat32, float32ToFloat16, bfloat16ToFloat32, float32ToBfloat16 } from './util/float16.js';
export * from './train/memory.js';
export { createRng, nextFloat, nextUint32, type Rng } from './util/rng.js';
export { UserError, WriteError } from './errors.js';
export { checkGradient, type GradientCheckResult, type GradientCheckOptions } from './util/gradcheck.js';
export * from './train/early-stopping.js';
export * from './model/generate.js';
export { learningCurvesSvg, renderSvg, type CurveSeries, type ReferenceLine } from './viz/curves.js';
export { weightHistogramsSvg, tensorStats, parameterGroups, type TensorStats } from './viz/weights.js';
export { reportHtml, type ReportContent } from './viz/report.js';
export { placementCurvesSvg, keepSweepSvg } from './viz/ablation.js';
export * from './experiments/ablation.js';
export * from './model/score.js';
export * from './api.js';
export { importStateDict, parseVocabularyFile, type ImportOptions, type ImportSources, type Imported } from './train/import.js';
