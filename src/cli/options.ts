import { UserError } from '../errors.js';
import { CONFIGS, PRECISIONS, type Precision, type TrainConfig } from '../model/configs.js';
import { DROPOUT_PLACEMENTS, type DropoutPlacement } from '../model/lm.js';
import { BACKEND_CHOICES, type BackendChoice } from '../kernels/select.js';

/** Parsing of command-line values into a TrainConfig, with one-line errors that name the flag. */

/**
 * How a numeric flag is written and which values it takes. A `whole` number (a count, a seed) is plain
 * decimal digits: `13`, never `1.5`, `1e3`, `0x10` or `+3`. A `real` number (a rate, a scale, minutes) is
 * a finite decimal, optionally signed and in scientific notation: `0.5`, `.5`, `1e-1`; never `NaN`,
 * `Infinity` or `0x10`. Neither may be empty or carry spaces (JavaScript's Number() reads '' and ' ' as 0).
 */
export interface NumberForm {
  kind: 'whole' | 'real';
  min: number;
  minExcluded?: boolean; // the value must be greater than min
  max?: number; //         whole numbers are also bounded by Number.MAX_SAFE_INTEGER
  maxExcluded?: boolean; // the value must be less than max
  unit?: string; //        what the number counts, e.g. 'minutes'
  meaning?: string; //     what a boundary value does, e.g. '0 means greedy'
  example: string; //      a typical value, shown in the message
}

/** The largest seed that means itself: the generator takes its seed modulo 2^32. */
const MAX_SEED = 2 ** 32 - 1;

/** Every numeric flag of every command, with its form and range (the same flag means the same thing everywhere). */
export const NUMERIC_FLAGS = {
  // train (and ablate: --hidden, --epochs; plot: --epochs)
  '--layers': { kind: 'whole', min: 1, example: '2' },
  '--hidden': { kind: 'whole', min: 1, example: '200' },
  '--keep-prob': { kind: 'real', min: 0, minExcluded: true, max: 1, meaning: '1 means no dropout', example: '0.5' },
  '--dropout': { kind: 'real', min: 0, max: 1, maxExcluded: true, meaning: '0 means no dropout', example: '0.5' },
  '--weight-decay': { kind: 'real', min: 0, meaning: '0 means off', example: '1e-5' },
  '--patience': { kind: 'whole', min: 0, meaning: '0 means off', example: '3' },
  '--init': { kind: 'real', min: 0, example: '0.1' },
  '--lr': { kind: 'real', min: 0, minExcluded: true, example: '1' },
  '--decay': { kind: 'real', min: 0, minExcluded: true, meaning: '1 keeps the rate constant', example: '0.5' },
  '--max-epoch': { kind: 'whole', min: 0, meaning: '0 decays from the first epoch', example: '4' },
  '--epochs': { kind: 'whole', min: 1, example: '13' },
  '--clip': { kind: 'real', min: 0, minExcluded: true, example: '5' },
  '--bptt': { kind: 'whole', min: 1, example: '35' },
  '--batch-size': { kind: 'whole', min: 1, example: '20' },
  '--seed': { kind: 'whole', min: 0, max: MAX_SEED, example: '1' },
  '--max-steps': { kind: 'whole', min: 0, meaning: '0 saves the initial model', example: '1000' },
  '--test-batch-size': { kind: 'whole', min: 1, example: '1' },
  '--test-bptt': { kind: 'whole', min: 1, example: '35' },
  '--time-budget': { kind: 'real', min: 0, minExcluded: true, unit: 'minutes', example: '30' },
  '--vocab-size': { kind: 'whole', min: 2, meaning: 'the vocabulary holds <unk> and at least one token', example: '10000' },
  '--checkpoint-every': { kind: 'real', min: 0, minExcluded: true, unit: 'minutes', example: '10' },
  // generate
  '--words': { kind: 'whole', min: 1, example: '100' },
  '--temperature': { kind: 'real', min: 0, meaning: '0 means greedy', example: '0.8' },
  '--top-k': { kind: 'whole', min: 1, meaning: '1 means greedy', example: '40' },
  '--top-p': { kind: 'real', min: 0, minExcluded: true, max: 1, meaning: '1 means no filter', example: '0.9' },
  '--count': { kind: 'whole', min: 1, example: '3' },
  // bench
  '--steps': { kind: 'whole', min: 1, example: '40' },
  // ablate
  '--budget-minutes': { kind: 'real', min: 0, minExcluded: true, unit: 'minutes', example: '60' },
  '--train-tokens': { kind: 'whole', min: 1, example: '200000' },
} as const satisfies Record<string, NumberForm>;

export type NumericFlag = keyof typeof NUMERIC_FLAGS;

const WHOLE = /^\d+$/;
const REAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** The form and range in words: 'a whole number of at least 1', 'a number of minutes greater than 0', 'a number in (0, 1]'. */
export function describeForm(form: NumberForm): string {
  if (form.kind === 'whole') {
    return form.max === undefined ? `a whole number of at least ${form.min}` : `a whole number from ${form.min} to ${form.max}`;
  }
  const what = `a number${form.unit ? ` of ${form.unit}` : ''}`;
  if (form.max === undefined) return `${what} ${form.minExcluded ? 'greater than' : 'of at least'} ${form.min}`;
  return `${what} in ${form.minExcluded ? '(' : '['}${form.min}, ${form.max}${form.maxExcluded ? ')' : ']'}`;
}

/** `value` read as `form` says, or a UserError: `--epochs 0: must be a whole number of at least 1 (e.g. --epochs 13)`. */
export function parseNumeric(flag: string, value: string, form: NumberForm): number {
  const shown = value === '' || value.trim() !== value ? JSON.stringify(value) : value; // --epochs "": ...
  const refuse = (why = `must be ${describeForm(form)}`): never => {
    throw new UserError(`${flag} ${shown}: ${why}${form.meaning ? `; ${form.meaning}` : ''} (e.g. ${flag} ${form.example})`);
  };
  if (!(form.kind === 'whole' ? WHOLE : REAL).test(value)) refuse();
  const n = Number(value) + 0; // + 0 turns -0 into 0
  if (form.kind === 'whole' && !Number.isSafeInteger(n)) {
    refuse(`too large; must be ${describeForm({ ...form, max: form.max ?? Number.MAX_SAFE_INTEGER })}`);
  }
  if (!Number.isFinite(n)) refuse();
  if (form.minExcluded ? n <= form.min : n < form.min) refuse();
  if (form.max !== undefined && (form.maxExcluded ? n >= form.max : n > form.max)) refuse();
  return n;
}

/** The value of one of the commands' numeric flags (NUMERIC_FLAGS), or a UserError naming the flag and its form. */
export function parseFlag(flag: NumericFlag, value: string): number {
  return parseNumeric(flag, value, NUMERIC_FLAGS[flag]);
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
  level?: string; vocabSize?: string; precision?: string;
}

/** --precision's value, or a UserError naming the choices. */
export function parsePrecision(value: string): Precision {
  if (!(PRECISIONS as readonly string[]).includes(value)) {
    throw new UserError(`--precision ${value}: unknown precision; use fp32 or bf16`);
  }
  return value as Precision;
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
  if (flags.keepProb !== undefined) c.keepProb = parseFlag('--keep-prob', flags.keepProb);
  if (flags.dropout !== undefined) c.keepProb = 1 - parseFlag('--dropout', flags.dropout);
  if (flags.dropoutPlacement !== undefined) {
    if (!(DROPOUT_PLACEMENTS as readonly string[]).includes(flags.dropoutPlacement)) {
      throw new UserError(`--dropout-placement ${flags.dropoutPlacement}: unknown placement; use one of ${DROPOUT_PLACEMENTS.join(', ')}`);
    }
    c.placement = flags.dropoutPlacement as DropoutPlacement;
  }
  if (flags.layerNorm !== undefined) c.layerNorm = flags.layerNorm;
  if (flags.layers !== undefined) c.layers = parseFlag('--layers', flags.layers);
  if (flags.hidden !== undefined) c.hidden = parseFlag('--hidden', flags.hidden);
  if (flags.weightDecay !== undefined) c.weightDecay = parseFlag('--weight-decay', flags.weightDecay);
  if (flags.patience !== undefined) c.patience = parseFlag('--patience', flags.patience);
  if (flags.init !== undefined) c.init = parseFlag('--init', flags.init);
  if (flags.lr !== undefined) c.lr = parseFlag('--lr', flags.lr);
  if (flags.decay !== undefined) c.decay = parseFlag('--decay', flags.decay);
  if (flags.maxEpoch !== undefined) c.maxEpoch = parseFlag('--max-epoch', flags.maxEpoch);
  if (flags.epochs !== undefined) c.epochs = parseFlag('--epochs', flags.epochs);
  if (flags.clip !== undefined) c.clip = parseFlag('--clip', flags.clip);
  if (flags.bptt !== undefined) c.bptt = parseFlag('--bptt', flags.bptt);
  if (flags.batchSize !== undefined) c.batchSize = parseFlag('--batch-size', flags.batchSize);
  if (flags.seed !== undefined) c.seed = parseFlag('--seed', flags.seed);
  if (flags.maxSteps !== undefined) c.maxSteps = parseFlag('--max-steps', flags.maxSteps);
  if (flags.testBatchSize !== undefined) c.testBatchSize = parseFlag('--test-batch-size', flags.testBatchSize);
  if (flags.testBptt !== undefined) c.testBptt = parseFlag('--test-bptt', flags.testBptt);
  if (flags.timeBudget !== undefined) c.timeBudgetMinutes = parseFlag('--time-budget', flags.timeBudget);
  if (flags.vocabSize !== undefined) c.vocabSize = parseFlag('--vocab-size', flags.vocabSize);
  if (flags.precision !== undefined) c.precision = parsePrecision(flags.precision);
  if (flags.level !== undefined) {
    if (flags.level !== 'word' && flags.level !== 'char') throw new UserError(`--level ${flags.level}: unknown level; use word or char`);
    c.level = flags.level;
  }
  return c;
}
