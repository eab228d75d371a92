import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { UserError } from '../src/errors.js';
import { CONFIGS } from '../src/model/configs.js';
import { describeForm, NUMERIC_FLAGS, parseFlag, resolveTrainConfig, type NumberForm, type NumericFlag } from '../src/cli/options.js';
import { switchedOn } from '../src/kernels/env.js';
import { RLSTM, rlstm, tempDir, tinyCorpus } from './helpers.js';

/**
 * Numbers on the command line: every numeric flag of every command is read strictly (whole numbers for
 * counts, finite decimals for rates and scales, each with its range), and a bad value stops the command
 * with one line naming the flag, before anything is loaded or written. The value matrix runs against
 * parseFlag; the command line is spawned for two values per flag and command, which proves the wiring.
 */

/** Each numeric flag's form and range, in the words of its message (the README's table). */
const FORMS: Record<NumericFlag, string> = {
  '--layers': 'a whole number of at least 1',
  '--hidden': 'a whole number of at least 1',
  '--keep-prob': 'a number in (0, 1]',
  '--dropout': 'a number in [0, 1)',
  '--weight-decay': 'a number of at least 0',
  '--patience': 'a whole number of at least 0',
  '--init': 'a number of at least 0',
  '--lr': 'a number greater than 0',
  '--decay': 'a number greater than 0',
  '--max-epoch': 'a whole number of at least 0',
  '--epochs': 'a whole number of at least 1',
  '--clip': 'a number greater than 0',
  '--bptt': 'a whole number of at least 1',
  '--batch-size': 'a whole number of at least 1',
  '--seed': 'a whole number from 0 to 4294967295',
  '--max-steps': 'a whole number of at least 0',
  '--test-batch-size': 'a whole number of at least 1',
  '--test-bptt': 'a whole number of at least 1',
  '--time-budget': 'a number of minutes greater than 0',
  '--vocab-size': 'a whole number of at least 2',
  '--checkpoint-every': 'a number of minutes greater than 0',
  '--words': 'a whole number of at least 1',
  '--temperature': 'a number of at least 0',
  '--top-k': 'a whole number of at least 1',
  '--top-p': 'a number in (0, 1]',
  '--count': 'a whole number of at least 1',
  '--steps': 'a whole number of at least 1',
  '--budget-minutes': 'a number of minutes greater than 0',
  '--train-tokens': 'a whole number of at least 1',
};

/** Every command's numeric flags. */
const COMMAND_FLAGS: Record<string, NumericFlag[]> = {
  train: ['--layers', '--hidden', '--keep-prob', '--dropout', '--weight-decay', '--patience', '--init', '--lr', '--decay',
    '--max-epoch', '--epochs', '--clip', '--bptt', '--batch-size', '--seed', '--max-steps', '--test-batch-size', '--test-bptt',
    '--time-budget', '--vocab-size', '--checkpoint-every'],
  eval: ['--batch-size', '--bptt'],
  generate: ['--words', '--temperature', '--seed', '--top-k', '--top-p', '--count'],
  reproduce: ['--max-steps', '--time-budget', '--checkpoint-every'],
  bench: ['--steps'],
  plot: ['--epochs'],
  report: [],
  score: [],
  import: ['--batch-size', '--bptt'],
  ablate: ['--epochs', '--budget-minutes', '--hidden', '--train-tokens'],
};

/** The flags that take a value that is not a number (names, paths, text). */
const NOT_NUMERIC = new Set(['--config', '--data', '--train', '--valid', '--test', '--level', '--dropout-placement', '--backend',
  '--save', '--log', '--resume', '--checkpoint', '--split', '--prompt', '--out', '--weights', '--label', '--title', '--runs', '--text',
  '--state-dict', '--vocab', '--precision']);

const isWhole = (flag: NumericFlag): boolean => NUMERIC_FLAGS[flag].kind === 'whole';

/** How the message shows a value: as given, or quoted when it is empty or has spaces around it. */
const shown = (value: string): string => (value === '' || value.trim() !== value ? JSON.stringify(value) : value);

/** Values no numeric flag takes. */
const NOT_NUMBERS = ['abc', '', ' ', ' 5', '5 ', 'NaN', 'Infinity', '-Infinity', '0x10', '0b1', '0o7', '1_000', '1,5', '5abc',
  '1e', 'e5', '.', '-', '--5', '١٢'];

/** Values refused for `flag` because of its form or range (beyond NOT_NUMBERS). */
function refusedValues(flag: NumericFlag): string[] {
  const form: NumberForm = NUMERIC_FLAGS[flag];
  const values: string[] = [];
  if (form.kind === 'whole') {
    values.push('1.5', '2.0', '1e3', '+3', '-1', '-0', '9007199254740992', '99999999999999999999');
    if (form.min > 0) values.push(String(form.min - 1));
  } else {
    values.push('1e999', '-1e999');
    values.push(...(form.minExcluded ? [String(form.min), '-0', '-1e-9', '1e-400'] : [String(form.min - 1), '-1e-9']));
  }
  if (form.max !== undefined) values.push(...(form.maxExcluded ? [String(form.max), '1.5'] : [String(form.max + 1), '1.0000001']));
  return values;
}

/** Asserts that parseFlag refuses `value` for `flag` with the one-line message of its form. */
function assertRefused(flag: NumericFlag, value: string): void {
  assert.throws(() => parseFlag(flag, value), (err: unknown) => {
    assert.ok(err instanceof UserError, `${flag} ${JSON.stringify(value)}: not a UserError`);
    assert.ok(err.message.startsWith(`${flag} ${shown(value)}: `), err.message);
    assert.ok(!err.message.includes('\n'), 'one line');
    assert.ok(err.message.endsWith(`(e.g. ${flag} ${NUMERIC_FLAGS[flag].example})`), err.message);
    const tooLarge = isWhole(flag) && /^\d+$/.test(value) && !Number.isSafeInteger(Number(value));
    if (tooLarge) assert.match(err.message, /: too large; must be a whole number from \d+ to \d+/);
    else assert.ok(err.message.includes(`: must be ${FORMS[flag]}`), `${err.message} does not say ${FORMS[flag]}`);
    return true;
  }, `${flag} ${JSON.stringify(value)} was accepted`);
}

test('every command\'s flags that take a value are listed here, numeric or not', () => {
  for (const [command, flags] of Object.entries(COMMAND_FLAGS)) {
    const help = rlstm([command, '--help'], tempDir());
    assert.equal(help.status, 0, help.stderr);
    const withValue = [...help.stdout.matchAll(/^\s+(--[a-z-]+) <[^>]+>/gm)].map((m) => m[1]);
    const numeric = withValue.filter((f) => !NOT_NUMERIC.has(f));
    assert.deepEqual(numeric.sort(), [...flags].sort(), `rlstm ${command}: a flag neither numeric here nor in NOT_NUMERIC`);
  }
  assert.deepEqual(Object.keys(NUMERIC_FLAGS).sort(), [...new Set(Object.values(COMMAND_FLAGS).flat())].sort());
});

test('each numeric flag has the form and range the README states, and its example value is accepted', () => {
  assert.deepEqual(Object.keys(FORMS).sort(), Object.keys(NUMERIC_FLAGS).sort());
  for (const flag of Object.keys(FORMS) as NumericFlag[]) {
    assert.equal(describeForm(NUMERIC_FLAGS[flag]), FORMS[flag], flag);
    assert.equal(parseFlag(flag, NUMERIC_FLAGS[flag].example), Number(NUMERIC_FLAGS[flag].example), flag);
  }
});

test('a value that is not a number, a fraction for a count, or out of range is refused with one line naming the flag', () => {
  for (const flag of Object.keys(FORMS) as NumericFlag[]) {
    for (const value of [...NOT_NUMBERS, ...refusedValues(flag)]) assertRefused(flag, value);
  }
});

test('the messages read as the README shows them', () => {
  const message = (flag: NumericFlag, value: string): string => {
    try {
      parseFlag(flag, value);
    } catch (err) {
      return (err as Error).message;
    }
    return 'accepted';
  };
  assert.equal(message('--epochs', '0'), '--epochs 0: must be a whole number of at least 1 (e.g. --epochs 13)');
  assert.equal(message('--epochs', ''), '--epochs "": must be a whole number of at least 1 (e.g. --epochs 13)');
  assert.equal(message('--patience', '1.5'), '--patience 1.5: must be a whole number of at least 0; 0 means off (e.g. --patience 3)');
  assert.equal(message('--clip', '-1'), '--clip -1: must be a number greater than 0 (e.g. --clip 5)');
  assert.equal(message('--keep-prob', '1.5'), '--keep-prob 1.5: must be a number in (0, 1]; 1 means no dropout (e.g. --keep-prob 0.5)');
  assert.equal(message('--checkpoint-every', '-3'), '--checkpoint-every -3: must be a number of minutes greater than 0 (e.g. --checkpoint-every 10)');
  assert.equal(message('--seed', '4294967296'), '--seed 4294967296: must be a whole number from 0 to 4294967295 (e.g. --seed 1)');
  assert.equal(message('--max-steps', '9007199254740992'),
    '--max-steps 9007199254740992: too large; must be a whole number from 0 to 9007199254740991; 0 saves the initial model (e.g. --max-steps 1000)');
});

test('accepted values parse to the number they write', () => {
  const accepted: [NumericFlag, string, number][] = [
    ['--lr', '1e-1', 0.1], ['--lr', '+2.5E+1', 25], ['--lr', '.5', 0.5], ['--clip', '5.', 5], ['--init', '0', 0],
    ['--keep-prob', '1', 1], ['--keep-prob', '0.35', 0.35], ['--keep-prob', '1e-3', 0.001], ['--dropout', '0', 0],
    ['--weight-decay', '0', 0], ['--weight-decay', '1e-5', 1e-5], ['--temperature', '0', 0], ['--temperature', '0.8', 0.8],
    ['--decay', '0.8333333333333334', 1 / 1.2], ['--time-budget', '0.5', 0.5], ['--checkpoint-every', '1e-2', 0.01],
    ['--budget-minutes', '600', 600],
    ['--epochs', '13', 13], ['--epochs', '007', 7], ['--epochs', '9007199254740991', Number.MAX_SAFE_INTEGER],
    ['--max-steps', '0', 0], ['--patience', '0', 0], ['--max-epoch', '0', 0], ['--seed', '0', 0],
    ['--seed', '4294967295', 4294967295], ['--vocab-size', '2', 2], ['--words', '1', 1], ['--train-tokens', '200000', 200000],
  ];
  for (const [flag, value, expected] of accepted) assert.equal(parseFlag(flag, value), expected, `${flag} ${value}`);
  assert.ok(Object.is(parseFlag('--weight-decay', '-0'), 0), '-0 reads as 0');
});

test('resolveTrainConfig puts each flag\'s number in its field', () => {
  const c = resolveTrainConfig({
    config: 'quick', layers: '3', hidden: '7', keepProb: '0.9', weightDecay: '1e-4', patience: '2', init: '0.05', lr: '0.5',
    decay: '0.25', maxEpoch: '0', epochs: '6', clip: '2.5', bptt: '11', batchSize: '5', seed: '9', maxSteps: '0',
    testBatchSize: '4', testBptt: '13', timeBudget: '1.5', vocabSize: '50',
  });
  assert.deepEqual(
    [c.layers, c.hidden, c.keepProb, c.weightDecay, c.patience, c.init, c.lr, c.decay, c.maxEpoch, c.epochs, c.clip, c.bptt,
      c.batchSize, c.seed, c.maxSteps, c.testBatchSize, c.testBptt, c.timeBudgetMinutes, c.vocabSize],
    [3, 7, 0.9, 1e-4, 2, 0.05, 0.5, 0.25, 0, 6, 2.5, 11, 5, 9, 0, 4, 13, 1.5, 50]);
  assert.equal(resolveTrainConfig({ dropout: '0.65' }).keepProb, 1 - 0.65);
  assert.deepEqual(resolveTrainConfig({}), CONFIGS.small);
});

/** A command line that would load or write something right after reading its numbers. */
function commandLine(command: string): string[] {
  switch (command) {
    case 'train': return ['train', '--data', '/no/such/corpus']; // else: "no such folder"
    case 'eval': return ['eval', '--checkpoint', 'missing.safetensors']; // else: "no such file"
    case 'generate': return ['generate', '--checkpoint', 'missing.safetensors'];
    case 'reproduce': return ['reproduce', 'small']; // else: results/small and runs/ are made
    case 'bench': return ['bench', '--data', '/no/such/corpus', '--backend', 'js'];
    case 'plot': return ['plot', 'missing.json']; // else: "no such log"
    case 'import': return ['import', '--state-dict', 'missing.safetensors', '--vocab', 'missing.txt', '--out', 'm.safetensors'];
    case 'ablate': return ['ablate', '--data', '/no/such/corpus']; // else: "no such folder"
    default: throw new Error(command);
  }
}

/** One value just outside the flag's range, and one that is not a number (or not whole), chosen in turn. */
function spawnedValues(flag: NumericFlag, k: number): string[] {
  const form: NumberForm = NUMERIC_FLAGS[flag];
  let edge: string;
  if (form.max !== undefined) edge = form.maxExcluded ? String(form.max) : String(form.max + 1);
  else if (form.kind === 'whole') edge = form.min > 0 ? String(form.min - 1) : '-1';
  else edge = form.minExcluded ? String(form.min) : '-1';
  const others = ['abc', '', 'NaN', 'Infinity', form.kind === 'whole' ? '1.5' : '1e999'];
  return [edge, others[k % others.length]];
}

/** Runs `args` in an empty folder: exit status 2, one line `rlstm: FLAG VALUE: must be FORM ...`, nothing written. */
function assertRefusedByCli(args: string[], flag: NumericFlag, value: string): void {
  const work = tempDir();
  const r = rlstm([...args, flag, value], work);
  const what = `rlstm ${[...args, flag, JSON.stringify(value)].join(' ')}`;
  assert.equal(r.status, 2, `${what}: status ${r.status}, ${r.stderr}`);
  assert.ok(r.stderr.startsWith(`rlstm: ${flag} ${shown(value)}: must be ${FORMS[flag]}`), `${what}: ${r.stderr}`);
  assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line, got ${r.stderr}`);
  assert.equal(r.stdout, '', what);
  assert.deepEqual(readdirSync(work), [], `${what}: wrote files`);
}

for (const [command, flags] of Object.entries(COMMAND_FLAGS)) {
  if (flags.length === 0) continue;
  test(`rlstm ${command}: a bad number stops it with status 2 and one line, before it loads or writes anything`, () => {
    for (const [k, flag] of flags.entries()) {
      for (const value of spawnedValues(flag, k)) assertRefusedByCli(commandLine(command), flag, value);
    }
  });
}

test('rlstm train --resume: the session\'s numbers are read before the checkpoint', () => {
  for (const [k, flag] of (['--max-steps', '--time-budget', '--checkpoint-every'] as NumericFlag[]).entries()) {
    for (const value of spawnedValues(flag, k)) assertRefusedByCli(['train', '--resume', 'missing.safetensors'], flag, value);
  }
});

test('the argument parser\'s own errors are one line with status 2 too', () => {
  const cases: [string[], RegExp][] = [
    [['train', '--epoch', '3'], /^rlstm: unknown option '--epoch' \(Did you mean --epochs\?\); see rlstm train --help$/],
    [['eval', '--checkpoint'], /^rlstm: option '--checkpoint <file>' argument missing; see rlstm eval --help$/],
    [['generate'], /^rlstm: required option '--checkpoint <file>' not specified; see rlstm generate --help$/],
    [['bench', '--backend', 'gpu'], /^rlstm: option '--backend <name>' argument 'gpu' is invalid\. Allowed choices are auto, blas, js; see rlstm bench --help$/],
    [['trian'], /^rlstm: unknown command 'trian' \(Did you mean train\?\); see rlstm --help$/],
  ];
  for (const [args, message] of cases) {
    const work = tempDir();
    const r = rlstm(args, work);
    assert.equal(r.status, 2, `rlstm ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.trimEnd(), message);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.deepEqual(readdirSync(work), []);
  }
  assert.equal(rlstm(['train', '--help'], tempDir()).status, 0, 'help is not an error');
});

test('RLSTM_HELPER and RLSTM_BLIS: unset, empty or 1 is on, 0 is off, anything else is refused by name', () => {
  const before = process.env.RLSTM_HELPER;
  try {
    for (const [value, on] of [[undefined, true], ['', true], ['1', true], ['0', false]] as const) {
      if (value === undefined) delete process.env.RLSTM_HELPER;
      else process.env.RLSTM_HELPER = value;
      assert.equal(switchedOn('RLSTM_HELPER'), on, `RLSTM_HELPER=${value}`);
    }
    for (const value of ['off', 'false', 'no', '2', ' 0', '00']) {
      process.env.RLSTM_HELPER = value;
      assert.throws(() => switchedOn('RLSTM_HELPER'), (err: unknown) => err instanceof UserError
        && err.message === `RLSTM_HELPER is "${value}": use 0 (off) or 1 (on), or leave it unset`);
    }
  } finally {
    if (before === undefined) delete process.env.RLSTM_HELPER;
    else process.env.RLSTM_HELPER = before;
  }
  // through the command line: checked when the backend is chosen (the last input a command checks), before training
  const work = tempDir();
  const r = spawnSync(process.execPath, [RLSTM, 'train', '--data', tinyCorpus(), '--hidden', '8', '--batch-size', '2',
    '--bptt', '5', '--max-steps', '1', '--save', 'm.safetensors', '--log', 'm.json'],
    { cwd: work, encoding: 'utf8', env: { ...process.env, RLSTM_BLIS: 'off' } });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr, 'rlstm: RLSTM_BLIS is "off": use 0 (off) or 1 (on), or leave it unset\n');
  assert.deepEqual(readdirSync(work), []);
});

test('RLSTM_HELPER and RLSTM_RELAXED_SIMD are checked on the js backend too: a wrong value is refused by name, not read as one thread', () => {
  for (const name of ['RLSTM_HELPER', 'RLSTM_RELAXED_SIMD']) {
    const work = tempDir();
    const r = spawnSync(process.execPath, [RLSTM, 'train', '--backend', 'js', '--data', tinyCorpus(), '--hidden', '8', '--batch-size', '2',
      '--bptt', '5', '--max-steps', '1', '--save', 'm.safetensors', '--log', 'm.json'],
      { cwd: work, encoding: 'utf8', env: { ...process.env, [name]: 'yes' } });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, `rlstm: ${name} is "yes": use 0 (off) or 1 (on), or leave it unset\n`);
    assert.deepEqual(readdirSync(work), []);
  }
});
