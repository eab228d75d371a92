import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../errors.js';
import { selectBackend } from '../kernels/select.js';
import { formatTokens, generateTokens } from '../model/generate.js';
import { writeFileAtomic } from '../train/checkpoint.js';
import { loadModelFromCheckpoint } from '../train/load.js';
import { checkCheckpointFits } from '../train/memory.js';
import { learningCurvesSvg } from '../viz/curves.js';
import { reportHtml } from '../viz/report.js';
import { weightHistogramsSvg } from '../viz/weights.js';
import { parseBackend } from './options.js';
import { readCurveSeries } from './plot.js';
import { checkWritable } from './train.js';

/** `rlstm report RUN_DIR`: one self-contained HTML page about a run (a log and its checkpoint). */

export interface ReportFlags {
  out?: string;
  checkpoint?: string;
  backend: string;
}

const SAMPLE_WORDS = 120;
const SAMPLE_SEED = 1;

/** The run's log: RUN_DIR/log.json, else the one JSON log in RUN_DIR, else RUN_DIR itself if it is a log. */
function findLog(runDir: string): string {
  if (!existsSync(runDir)) throw new UserError(`${runDir}: no such run folder; pass a folder holding a training log (log.json)`);
  if (statSync(runDir).isFile()) return runDir;
  if (existsSync(join(runDir, 'log.json'))) return join(runDir, 'log.json');
  const logs = readdirSync(runDir).filter((f) => f.endsWith('.json') && f !== 'summary.json' && f !== 'settings.json');
  if (logs.length === 1) return join(runDir, logs[0]);
  throw new UserError(`${runDir}: ${logs.length === 0 ? 'no training log (log.json) in it' : `several JSON logs in it (${logs.join(', ')})`}; `
    + 'pass the log file itself, or a folder holding one log.json');
}

export async function reportCommand(runDir: string, flags: ReportFlags): Promise<void> {
  const logPath = findLog(runDir);
  const series = readCurveSeries(logPath);
  const log = JSON.parse(readFileSync(logPath, 'utf8')) as {
    config: Record<string, unknown>; backend?: string; parameters?: number; test?: { perplexity: number; batchSize: number; bptt: number } | null;
    checkpoint?: string; wallSeconds?: number; stopReason?: string | null;
  };
  const nextToLog = logPath.replace(/\.json$/, '.safetensors');
  const checkpoint = flags.checkpoint ?? (log.checkpoint && existsSync(log.checkpoint) ? log.checkpoint : nextToLog);
  if (!existsSync(checkpoint)) {
    throw new UserError(`${runDir}: the run's checkpoint ${checkpoint} is missing; pass it with --checkpoint`);
  }
  const out = flags.out ?? join(statSync(runDir).isDirectory() ? runDir : dirname(runDir), 'report.html');
  checkWritable('--out', out);

  checkCheckpointFits(checkpoint);
  const { model, config, vocab } = loadModelFromCheckpoint(checkpoint);
  const backend = selectBackend(parseBackend(flags.backend), (line) => console.error(line));
  const ids = generateTokens(backend, model, vocab, { count: SAMPLE_WORDS, temperature: 1, seed: SAMPLE_SEED, prompt: [] });
  const sample = formatTokens(ids.map((id) => vocab.words[id]), config.level ?? 'word');
  const last = series.epochs.at(-1);
  const facts: [string, string][] = [
    ['model', `${config.layers}×${config.hidden} LSTM, vocabulary ${vocab.words.length}, dropout ${config.placement} keep ${config.keepProb}`
      + `${config.layerNorm ? ', layer norm' : ''}`],
    ['epochs', `${series.epochs.length} of ${config.epochs}${log.stopReason ? ` (${log.stopReason})` : ''}`],
    ['validation perplexity', last ? `${last.validPerplexity.toFixed(2)} after epoch ${last.epoch}` : 'no complete epoch yet'],
    ['test perplexity', log.test ? `${log.test.perplexity.toFixed(2)} (batch ${log.test.batchSize}, T ${log.test.bptt})` : 'not scored yet'],
    ['training time', log.wallSeconds !== undefined ? `${(log.wallSeconds / 60).toFixed(1)} minutes on the ${log.backend ?? '?'} backend` : '?'],
    ['log', logPath],
    ['checkpoint', checkpoint],
  ];
  const html = reportHtml({
    title: `rlstm run: ${basename(runDir === logPath ? dirname(logPath) : runDir)} (${config.name})`,
    facts,
    config: config as unknown as Record<string, unknown>,
    curvesSvg: await learningCurvesSvg([series], { title: 'Perplexity per epoch' }),
    weightsSvg: await weightHistogramsSvg(model, 'Parameter histograms'),
    sample: { text: sample, how: `${SAMPLE_WORDS} tokens sampled at temperature 1, seed ${SAMPLE_SEED} (rlstm generate --checkpoint ${checkpoint})` },
  });
  writeFileAtomic(out, html);
  console.log(`report: ${out}`);
}
