import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../train/checkpoint.js';
import { loadModelFromCheckpoint } from '../train/load.js';
import { checkCheckpointFits } from '../train/memory.js';
import type { EpochMetrics, ProgressPoint } from '../train/trainer.js';
import { fractionalEpoch, learningCurvesSvg, type CurveSeries } from '../viz/curves.js';
import { weightHistogramsSvg } from '../viz/weights.js';
import { parseFlag } from './options.js';
import { checkWritable } from './train.js';

/** `rlstm plot LOG.json [...]` (learning curves) and `rlstm plot --weights CKPT` (weight histograms). */

export interface PlotFlags {
  weights?: string;
  out?: string;
  epochs?: string; // plot only the first N epochs of each log (to compare runs over the same span)
  label?: string[]; // one per log, in order, instead of the file names
  title?: string;
}

/** A training log's curves, with a clear error for a file that is not one. */
export function readCurveSeries(path: string): CurveSeries {
  if (!existsSync(path)) throw new UserError(`${path}: no such log; pass a JSON log written by rlstm train --log or rlstm reproduce`);
  let log: { config?: { name?: string; placement?: string; keepProb?: number }; epochs?: EpochMetrics[]; progress?: ProgressPoint[] };
  try {
    log = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new UserError(`${path}: not JSON; pass a JSON log written by rlstm train --log or rlstm reproduce`);
  }
  const epochs = log?.epochs;
  if (!Array.isArray(epochs) || !epochs.every((m) => typeof m?.epoch === 'number' && typeof m.validPerplexity === 'number'
    && typeof m.trainPerplexity === 'number' && typeof m.lr === 'number')) {
    throw new UserError(`${path}: not a training log (no per-epoch metrics); pass a JSON log written by rlstm train --log`);
  }
  // progress points inside epochs: absent from logs written before them
  const progress = log.progress ?? [];
  if (!Array.isArray(progress) || !progress.every((p) => typeof p?.epoch === 'number' && typeof p.window === 'number'
    && typeof p.windows === 'number' && p.windows > 0 && typeof p.trainPerplexity === 'number' && typeof p.lr === 'number')) {
    throw new UserError(`${path}: not a training log (malformed progress points); pass a JSON log written by rlstm train --log`);
  }
  if (epochs.length === 0 && progress.length === 0) {
    throw new UserError(`${path}: the log has no completed epoch and no progress point yet; plot it after the first 100 training steps`);
  }
  // a log.json (as rlstm reproduce writes) is named by its folder: results/medium/log.json → medium
  const name = basename(path).replace(/\.json$/, '');
  return { label: name === 'log' ? basename(dirname(resolve(path))) : name, epochs, progress };
}

export async function plotCommand(logs: string[], flags: PlotFlags): Promise<void> {
  const epochs = flags.epochs === undefined ? null : parseFlag('--epochs', flags.epochs);
  if (flags.weights !== undefined) {
    if (logs.length > 0) throw new UserError('give either logs (learning curves) or --weights CKPT (histograms), not both');
    const out = flags.out ?? flags.weights.replace(/\.safetensors$/, '') + '.weights.svg';
    checkWritable('--out', out);
    checkCheckpointFits(flags.weights);
    const { model, config } = loadModelFromCheckpoint(flags.weights);
    const svg = await weightHistogramsSvg(model,
      `Parameters of ${basename(flags.weights)} (${config.layers}×${config.hidden} LSTM, vocabulary ${model.config.vocabSize})`);
    writeFileAtomic(out, svg);
    console.log(`weight histograms: ${out}`);
    return;
  }
  if (logs.length === 0) throw new UserError('nothing to plot; give one or more JSON logs, or --weights CKPT');
  const series = logs.map(readCurveSeries);
  if (flags.label !== undefined && flags.label.length !== logs.length) {
    throw new UserError(`--label was given ${flags.label.length} time${flags.label.length === 1 ? '' : 's'} for ${logs.length} logs; give one --label per log, in order`);
  }
  if (epochs !== null) {
    for (const s of series) {
      s.epochs = s.epochs.filter((m) => m.epoch <= epochs);
      s.progress = s.progress?.filter((p) => fractionalEpoch(p) <= epochs);
    }
  }
  // two logs with the same file name (run-a/log.json, run-b/log.json) are told apart by their folder
  const labels = series.map((s) => s.label);
  for (const [k, s] of series.entries()) {
    if (labels.filter((l) => l === labels[k]).length > 1) s.label = join(basename(dirname(resolve(logs[k]))), basename(logs[k]).replace(/\.json$/, ''));
    if (flags.label !== undefined) s.label = flags.label[k];
  }
  const out = flags.out ?? logs[0].replace(/\.json$/, '') + '.svg';
  checkWritable('--out', out);
  const what = series.every((s) => s.epochs.length === 0) ? 'training perplexity (no complete epoch yet)' : 'perplexity per epoch';
  const title = flags.title ?? (series.length === 1 ? `${series[0].label}: ${what}` : what[0].toUpperCase() + what.slice(1));
  writeFileAtomic(out, await learningCurvesSvg(series, { title }));
  console.log(`learning curves: ${out}`);
}
