import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { findSplitFiles } from '../data/corpus.js';
import { UserError } from '../errors.js';
import {
  ablationRuns, placementRuns, runResult, sweepRuns, PLACEMENT_KEEP_PROB, type AblationRun, type AblationRunResult,
} from '../experiments/ablation.js';
import { writeFileAtomic } from '../train/checkpoint.js';
import { keepSweepSvg, placementCurvesSvg } from '../viz/ablation.js';
import { parseFlag, parsePrecision } from './options.js';
import { DEFAULT_DATA, trainCommand } from './train.js';

/**
 * `rlstm ablate`: the small architecture trained with each dropout placement and a sweep of keep
 * probabilities, on the first part of the training split, every run with the same epochs (and minutes).
 * Runs live in --runs (checkpoints and logs, resumable: run the same command again to continue);
 * the results folder gets summary.json and two SVG plots, rewritten after every run.
 */

export interface AblateFlags {
  out?: string;
  runs?: string;
  budgetMinutes?: string;
  epochs?: string;
  hidden?: string;
  trainTokens?: string;
  data?: string;
  backend: string;
  precision?: string;
}

/** What the runs share; stored in the runs folder so that a continuation cannot mix settings. */
interface AblationSettings {
  hidden: number;
  layers: number;
  epochs: number;
  maxEpoch: number;
  decay: number;
  trainTokens: number; // the training split is cut after the line that reaches this many tokens
  minutesPerRun: number | null;
  seed: number;
  precision?: 'bf16';
}

/** The first lines of `text` that hold at least `tokens` tokens (words and one <eos> per line). */
export function firstTokens(text: string, tokens: number): { text: string; tokens: number } {
  const lines = text.split('\n');
  const kept: string[] = [];
  let count = 0;
  for (const line of lines) {
    if (count >= tokens) break;
    const words = line.split(/\s+/).filter((w) => w.length > 0).length;
    if (words === 0) continue;
    kept.push(line);
    count += words + 1;
  }
  return { text: kept.join('\n') + '\n', tokens: count };
}

function readLog(path: string): Parameters<typeof runResult>[1] | null {
  if (!existsSync(path)) return null;
  return JSON.parse(readFileSync(path, 'utf8')) as Parameters<typeof runResult>[1];
}

async function writeAblationResults(out: string, settings: AblationSettings, results: AblationRunResult[], planned: number): Promise<void> {
  const summary = {
    settings,
    placementKeepProb: PLACEMENT_KEEP_PROB,
    runsPlanned: planned,
    runsFinished: results.filter((r) => r.finished).length,
    complete: results.length === planned && results.every((r) => r.finished),
    runs: results.map(({ epochs, ...rest }) => ({
      ...rest, validPerplexities: epochs.map((m) => m.validPerplexity), trainPerplexities: epochs.map((m) => m.trainPerplexity),
    })),
  };
  writeFileAtomic(join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  const what = `2×${settings.hidden} LSTM, ${settings.trainTokens.toLocaleString('en')} training tokens of PTB, ${settings.epochs} epochs`;
  const placements = placementRuns(results as AblationRun[]) as AblationRunResult[];
  if (placements.length > 0) {
    writeFileAtomic(join(out, 'placements.svg'), await placementCurvesSvg(placements, `Dropout placement (${what})`));
  }
  const sweep = sweepRuns(results as AblationRun[]) as AblationRunResult[];
  if (sweep.length > 0) {
    writeFileAtomic(join(out, 'keep-probability.svg'), await keepSweepSvg(sweep, `Paper's placement: keep probability (${what})`));
  }
}

export async function ablateCommand(flags: AblateFlags): Promise<void> {
  const out = flags.out ?? join('results', 'ablation');
  const runsDir = flags.runs ?? join('runs', 'ablation');
  const runs = ablationRuns();
  const settings: AblationSettings = {
    hidden: flags.hidden !== undefined ? parseFlag('--hidden', flags.hidden) : 200,
    layers: 2,
    epochs: flags.epochs !== undefined ? parseFlag('--epochs', flags.epochs) : 8,
    maxEpoch: 4,
    decay: 0.5,
    trainTokens: flags.trainTokens !== undefined ? parseFlag('--train-tokens', flags.trainTokens) : 200_000,
    minutesPerRun: flags.budgetMinutes !== undefined ? parseFlag('--budget-minutes', flags.budgetMinutes) / runs.length : null,
    seed: 1,
    // bf16 only when asked: a runs folder of float32 runs made before this flag existed continues as it is
    ...(flags.precision !== undefined && parsePrecision(flags.precision) === 'bf16' ? { precision: 'bf16' as const } : {}),
  };
  const splits = findSplitFiles(resolve(flags.data ?? DEFAULT_DATA));
  mkdirSync(out, { recursive: true });
  mkdirSync(runsDir, { recursive: true });

  // The settings of a run folder are fixed at its first use; a continuation must ask for the same.
  const settingsPath = join(runsDir, 'settings.json');
  const fullSettings = { ...settings, data: splits };
  if (existsSync(settingsPath)) {
    const before = readFileSync(settingsPath, 'utf8');
    if (before !== JSON.stringify(fullSettings, null, 2) + '\n') {
      throw new UserError(`--runs ${runsDir}: holds an ablation with other settings (${settingsPath}); `
        + 'give the same flags to continue it, or another --runs folder to start afresh');
    }
  } else {
    writeFileAtomic(settingsPath, JSON.stringify(fullSettings, null, 2) + '\n');
  }
  const trainPath = join(runsDir, 'train.txt');
  const cut = firstTokens(readFileSync(splits.train, 'utf8'), settings.trainTokens);
  // atomic: a run resumed after a kill must find the whole cut, never a partial one
  if (!existsSync(trainPath)) writeFileAtomic(trainPath, cut.text);

  console.log(`rlstm ablate: ${runs.length} runs of a 2×${settings.hidden} LSTM, ${cut.tokens} training tokens, `
    + `${settings.epochs} epochs each${settings.minutesPerRun !== null ? ` (at most ${settings.minutesPerRun.toFixed(1)} minutes each)` : ''}; `
    + `runs in ${runsDir}, results in ${out}`);
  const results: AblationRunResult[] = [];
  for (const run of runs) {
    const log = join(runsDir, `${run.name}.json`);
    const save = join(runsDir, `${run.name}.safetensors`);
    const before = readLog(log);
    if (before !== null && runResult(run, before).finished) {
      console.log(`${run.name}: finished earlier, skipped`);
    } else {
      console.log(`\n${run.name}: placement ${run.placement}, keep probability ${run.keepProb}`);
      const session = {
        backend: flags.backend, log, save,
        timeBudget: settings.minutesPerRun !== null ? String(settings.minutesPerRun) : undefined,
      };
      const resuming = existsSync(save) && before !== null;
      const stopped = await trainCommand(resuming ? { ...session, resume: save } : {
        ...session, config: 'small', train: trainPath, valid: splits.valid, test: splits.test,
        hidden: String(settings.hidden), layers: String(settings.layers), epochs: String(settings.epochs),
        maxEpoch: String(settings.maxEpoch), decay: String(settings.decay), seed: String(settings.seed),
        dropoutPlacement: run.placement, keepProb: String(run.keepProb), testBatchSize: '20', precision: settings.precision,
      }, { resumeCommand: 'rlstm ablate (the same flags)' });
      if (stopped === 'interrupted') return; // by a signal: the run saved its checkpoint and said how to go on
    }
    const after = readLog(log);
    if (after !== null) results.push(runResult(run, after));
    await writeAblationResults(out, settings, results, runs.length);
  }
  console.log(`\nresults: ${join(out, 'summary.json')}, ${join(out, 'placements.svg')}, ${join(out, 'keep-probability.svg')}`);
}
