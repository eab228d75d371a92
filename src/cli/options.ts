import { UserError } from '../errors.js';
import { CONFIGS, type TrainConfig } from '../model/configs.js';
import { DROPOUT_PLACEMENTS, type DropoutPlacement } from '../model/lm.js';
import { BACKEND_CHOICES, type BackendChoice } from '../kernels/select.js';

/** Parsing of command-line values into a TrainConfig, with one-line errors that name the flag. */

export function parseNumber(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UserError(`${flag} ${value}: not a number; give a number such as ${flag} 0.5`);
  return n;
}

export function parsePositiveInt(flag: string, value: string): number {
  const n = parseNumber(flag, value);
  if (!Number.isInteger(n) || n <= 0) throw new UserError(`${flag} ${value}: must be a whole number of at least 1`);
  return n;
}

export function parseNonNegativeInt(flag: string, value: string): number {
  const n = parseNumber(flag, value);
  if (!Number.isInteger(n) || n < 0) throw new UserError(`${flag} ${value}: must be a whole number of at least 0`);
  return n;
}

export function parsePositive(flag: string, value: string): number {
  const n = parseNumber(flag, value);
  if (n <= 0) throw new UserError(`${flag} ${value}: must be greater than 0`);
  return n;
}

export function parseNonNegative(flag: string, value: string): number {
  const n = parseNumber(flag, value);
  if (n < 0) throw new UserError(`${flag} ${value}: must be 0 or more`);
  return n;
}

export function parseBackend(value: string): BackendChoice {
  if (!(BACKEND_CHOICES as readonly string[]).includes(value)) {
    throw new UserError(`--backend ${value}: unknown backend; use one of ${BACKEND_CHOICES.join(', ')}`);
  }
  return value as BackendChoice;
}

/** The raw values of the train command's flags, as commander gives them (strings, or booleans for switches). */
export interface TrainFlags {
  config?: string;
  layers?: string; hidden?: string; keepProb?: string; dropout?: string; dropoutPlacement?: string;
  layerNorm?: boolean; weightDecay?: string; patience?: string; init?: string; lr?: string; decay?: string;
  maxEpoch?: string; epochs?: string; clip?: string; bptt?: string; batchSize?: string; seed?: string;
  maxSteps?: string; testBatchSize?: string; testBptt?: string; timeBudget?: string;
  level?: string; vocabSize?: string;
}

/** The flags `train --resume` accepts; every other hyperparameter comes from the checkpoint. */
export const RESUMABLE_FLAGS = ['resume', 'maxSteps', 'timeBudget', 'checkpointEvery', 'backend', 'log', 'save', 'data',
  'train', 'valid', 'test'];

/** The named configuration with every flag given on the command line applied over it. */
export function resolveTrainConfig(flags: TrainFlags): TrainConfig {
  const name = flags.config ?? 'small';
  const base = CONFIGS[name];
  if (base === undefined) {
    throw new UserError(`--config ${name}: unknown configuration; use one of ${Object.keys(CONFIGS).join(', ')}`);
  }
  const c: TrainConfig = { ...base };
  if (flags.keepProb !== undefined && flags.dropout !== undefined) {
    throw new UserError('--keep-prob and --dropout both given; they say the same thing (keep = 1 − dropout), give only one');
  }
  if (flags.keepProb !== undefined) {
    c.keepProb = parseNumber('--keep-prob', flags.keepProb);
    if (!(c.keepProb > 0 && c.keepProb <= 1)) throw new UserError(`--keep-prob ${flags.keepProb}: must be in (0, 1]; 1 means no dropout`);
  }
  if (flags.dropout !== undefined) {
    const p = parseNumber('--dropout', flags.dropout);
    if (!(p >= 0 && p < 1)) throw new UserError(`--dropout ${flags.dropout}: must be in [0, 1); 0 means no dropout`);
    c.keepProb = 1 - p;
  }
  if (flags.dropoutPlacement !== undefined) {
    if (!(DROPOUT_PLACEMENTS as readonly string[]).includes(flags.dropoutPlacement)) {
      throw new UserError(`--dropout-placement ${flags.dropoutPlacement}: unknown placement; use one of ${DROPOUT_PLACEMENTS.join(', ')}`);
    }
    c.placement = flags.dropoutPlacement as DropoutPlacement;
  }
  if (flags.layerNorm !== undefined) c.layerNorm = flags.layerNorm;
  if (flags.layers !== undefined) c.layers = parsePositiveInt('--layers', flags.layers);
  if (flags.hidden !== undefined) c.hidden = parsePositiveInt('--hidden', flags.hidden);
  if (flags.weightDecay !== undefined) c.weightDecay = parseNonNegative('--weight-decay', flags.weightDecay);
  if (flags.patience !== undefined) c.patience = parseNonNegativeInt('--patience', flags.patience);
  if (flags.init !== undefined) c.init = parseNonNegative('--init', flags.init);
  if (flags.lr !== undefined) c.lr = parsePositive('--lr', flags.lr);
  if (flags.decay !== undefined) c.decay = parsePositive('--decay', flags.decay);
  if (flags.maxEpoch !== undefined) c.maxEpoch = parseNonNegativeInt('--max-epoch', flags.maxEpoch);
  if (flags.epochs !== undefined) c.epochs = parsePositiveInt('--epochs', flags.epochs);
  if (flags.clip !== undefined) c.clip = parsePositive('--clip', flags.clip);
  if (flags.bptt !== undefined) c.bptt = parsePositiveInt('--bptt', flags.bptt);
  if (flags.batchSize !== undefined) c.batchSize = parsePositiveInt('--batch-size', flags.batchSize);
  if (flags.seed !== undefined) c.seed = parseNonNegativeInt('--seed', flags.seed);
  if (flags.maxSteps !== undefined) c.maxSteps = parseNonNegativeInt('--max-steps', flags.maxSteps);
  if (flags.testBatchSize !== undefined) c.testBatchSize = parsePositiveInt('--test-batch-size', flags.testBatchSize);
  if (flags.testBptt !== undefined) c.testBptt = parsePositiveInt('--test-bptt', flags.testBptt);
  if (flags.timeBudget !== undefined) c.timeBudgetMinutes = parsePositive('--time-budget', flags.timeBudget);
  if (flags.vocabSize !== undefined) c.vocabSize = parsePositiveInt('--vocab-size', flags.vocabSize);
  if (flags.level !== undefined) {
    if (flags.level !== 'word' && flags.level !== 'char') throw new UserError(`--level ${flags.level}: unknown level; use word or char`);
    c.level = flags.level;
  }
  return c;
}
