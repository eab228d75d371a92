import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../errors.js';
import { CONFIGS, PAPER_RESULTS, type TrainConfig } from '../model/configs.js';
import { writeFileAtomic } from '../train/checkpoint.js';
import { loadResumePoint } from '../train/load.js';
import type { TrainingState } from '../train/trainer.js';
import { learningCurvesSvg } from '../viz/curves.js';
import { parseFlag, parsePrecision } from './options.js';
import { trainCommand } from './train.js';

/**
 * `rlstm reproduce small|medium|large`: trains one of the paper's configurations exactly as docs/method.md
 * states, resumable, and keeps a results folder up to date after every epoch: the JSON log,
 * summary.json and the learning curves (curves.svg) with the paper's numbers as reference lines.
 * The checkpoint lives elsewhere (default runs/reproduce-NAME.safetensors), so the results folder holds
 * only small files worth committing.
 */

export interface ReproduceFlags {
  out?: string;
  checkpoint?: string;
  resume?: boolean;
  backend: string;
  maxSteps?: string;
  timeBudget?: string;
  checkpointEvery?: string;
  precision?: string;
}

/**
 * Fields that may differ from the paper's configuration in a reproduction: the session-level stop conditions,
 * and the products' precision (bf16 mixed precision trains the same model with the same hyperparameters).
 */
const SESSION_FIELDS = new Set(['maxSteps', 'timeBudgetMinutes', 'precision']);

function sameHyperparameters(a: TrainConfig, b: TrainConfig): string | null {
  for (const key of Object.keys(b) as (keyof TrainConfig)[]) {
    if (SESSION_FIELDS.has(key)) continue;
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) return key;
  }
  return null;
}

/** The commit of the code that is running (the package's own checkout), or null outside git. */
function gitCommit(): string | null {
  const packageRoot = new URL('../../../', import.meta.url).pathname;
  try {
    return execFileSync('git', ['-C', packageRoot, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

export interface ReproduceSummary {
  config: TrainConfig;
  precision: TrainConfig['precision']; // of the training steps' products (evaluation is float32)
  epochsCompleted: number;
  epochsPlanned: number;
  complete: boolean;
  validPerplexity: number | null; // after the last completed epoch
  testPerplexity: number | null; //  once training is complete
  testProtocol: { batchSize: number; bptt: number };
  wallSeconds: number; //            training and evaluation time over all sessions
  tokensPerSecond: number | null; // training tokens per second, over the completed epochs
  backend: string;
  gitCommit: string | null; //       the commit of the code that wrote this summary (its last session)
  paper: { valid: number; test: number; tfValid: number; tfTest: number } | null;
}

/** The commit of the code in this process, read once when the command starts. */
let runningCommit: string | null = null;

export function summarize(state: TrainingState, config: TrainConfig, backend: string): ReproduceSummary {
  const last = state.epochs.at(-1);
  const seconds = state.epochs.reduce((s, m) => s + m.seconds, 0);
  const tokens = state.epochs.reduce((s, m) => s + m.tokensPerSecond * m.seconds, 0);
  return {
    config,
    precision: config.precision ?? 'fp32',
    epochsCompleted: state.epochs.length,
    epochsPlanned: config.epochs,
    complete: state.finished,
    validPerplexity: last?.validPerplexity ?? null,
    testPerplexity: state.finished && state.test !== null ? state.test.perplexity : null,
    testProtocol: { batchSize: config.testBatchSize, bptt: config.testBptt },
    wallSeconds: state.trainSeconds,
    tokensPerSecond: seconds > 0 ? tokens / seconds : null,
    backend,
    gitCommit: runningCommit,
    paper: PAPER_RESULTS[config.name] ?? null,
  };
}

/** summary.json and curves.svg in the results folder (after every epoch and at the end of a session). */
export async function writeResults(out: string, state: TrainingState, config: TrainConfig, backend: string): Promise<void> {
  const summary = summarize(state, config, backend);
  writeFileAtomic(join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  const paper = PAPER_RESULTS[config.name];
  const svg = await learningCurvesSvg([{ label: config.name, epochs: state.epochs, progress: state.progress }], {
    title: `${config.name} configuration: perplexity per epoch${summary.complete ? '' : ` (${summary.epochsCompleted} of ${summary.epochsPlanned} epochs)`}`,
    references: paper ? [
      { label: `paper valid ${paper.valid}`, value: paper.valid },
      { label: `paper test ${paper.test}`, value: paper.test },
    ] : [],
  });
  writeFileAtomic(join(out, 'curves.svg'), svg);
}

export async function reproduceCommand(name: string, flags: ReproduceFlags): Promise<void> {
  if (!['small', 'medium', 'large'].includes(name)) {
    throw new UserError(`reproduce ${name}: unknown configuration; use small, medium or large`);
  }
  // checked here, before any folder is made; train reads them again from the same strings
  if (flags.maxSteps !== undefined) parseFlag('--max-steps', flags.maxSteps);
  if (flags.timeBudget !== undefined) parseFlag('--time-budget', flags.timeBudget);
  if (flags.checkpointEvery !== undefined) parseFlag('--checkpoint-every', flags.checkpointEvery);
  const precision = flags.precision === undefined ? undefined : parsePrecision(flags.precision);
  const out = flags.out ?? join('results', name);
  const checkpoint = flags.checkpoint ?? join('runs', `reproduce-${name}.safetensors`);
  if (flags.resume) {
    if (!existsSync(checkpoint)) {
      throw new UserError(`--resume: no run to resume at ${checkpoint}; start one without --resume, or pass --checkpoint`);
    }
    const saved = loadResumePoint(checkpoint).config;
    if (precision !== undefined && precision !== saved.precision) {
      throw new UserError(`--precision ${precision}: the run in ${checkpoint} trains in ${saved.precision}; a run keeps its precision `
        + `(drop --precision to continue it, or start another run with another --checkpoint)`);
    }
    const differs = sameHyperparameters(saved, CONFIGS[name]);
    if (differs !== null) {
      throw new UserError(`--checkpoint ${checkpoint}: its ${differs} differs from the paper's ${name} configuration; `
        + 'reproduce resumes only runs of the exact configuration (use rlstm train --resume for others)');
    }
  } else if (existsSync(checkpoint)) {
    throw new UserError(`--checkpoint ${checkpoint}: a run already exists there; add --resume to continue it, `
      + 'or choose another --checkpoint');
  }
  mkdirSync(out, { recursive: true });
  mkdirSync(dirname(checkpoint), { recursive: true });
  runningCommit = gitCommit();
  const session = {
    backend: flags.backend, log: join(out, 'log.json'), maxSteps: flags.maxSteps, timeBudget: flags.timeBudget,
    checkpointEvery: flags.checkpointEvery ?? '10',
  };
  const trainFlags = flags.resume ? { ...session, resume: checkpoint } : { ...session, config: name, save: checkpoint, precision };
  await trainCommand(trainFlags, {
    resumeCommand: `rlstm reproduce ${name} --resume --checkpoint ${checkpoint} --out ${out}`,
    onProgressSaved: async (state, config, backend) => {
      await writeResults(out, state, config, backend);
    },
  });
  console.log(`results: ${join(out, 'summary.json')}, ${join(out, 'curves.svg')}, ${join(out, 'log.json')}`);
}
