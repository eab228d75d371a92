import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { rlstm, tempDir, tinyCorpus } from './helpers.js';

const SMALL = ['--layers', '2', '--hidden', '16', '--batch-size', '4', '--bptt', '8', '--test-batch-size', '4',
  '--test-bptt', '8', '--backend', 'js'];

test('train then eval from the command line: log, checkpoint, matching perplexities', () => {
  const data = tinyCorpus();
  const work = tempDir();
  const r = rlstm(['train', '--data', data, ...SMALL, '--epochs', '2', '--keep-prob', '0.8', '--save', 'm.safetensors',
    '--log', 'log.json'], work);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /epoch 1 .*valid ppl/);
  assert.match(r.stdout, /epoch 2 .*valid ppl/);
  assert.match(r.stdout, /test perplexity \d/);
  const log = JSON.parse(readFileSync(join(work, 'log.json'), 'utf8'));
  assert.equal(log.epochs.length, 2);
  assert.equal(log.config.keepProb, 0.8);
  assert.equal(log.backend, 'js');
  assert.ok(log.epochs[1].trainPerplexity < log.epochs[0].trainPerplexity, 'training perplexity falls');
  const e = rlstm(['eval', '--checkpoint', 'm.safetensors', '--data', data, '--split', 'valid', '--json', '--backend', 'js'], work);
  assert.equal(e.status, 0, e.stderr);
  const result = JSON.parse(e.stdout.trim());
  assert.ok(Math.abs(result.perplexity - log.epochs[1].validPerplexity) < 1e-9 * result.perplexity,
    `eval ${result.perplexity} vs log ${log.epochs[1].validPerplexity}`);
  const t = rlstm(['eval', '--checkpoint', 'm.safetensors', '--data', data, '--json', '--backend', 'js'], work);
  assert.ok(Math.abs(JSON.parse(t.stdout).perplexity - log.test.perplexity) < 1e-9 * log.test.perplexity);
});

test('same seed and configuration from the command line: identical logs', () => {
  const data = tinyCorpus();
  const work = tempDir();
  for (const name of ['a', 'b']) {
    const r = rlstm(['train', '--data', data, ...SMALL, '--epochs', '1', '--keep-prob', '0.7', '--seed', '5', '--log', `${name}.json`], work);
    assert.equal(r.status, 0, r.stderr);
  }
  const strip = (f: string) => JSON.parse(readFileSync(join(work, f), 'utf8')).epochs
    .map((m: { trainPerplexity: number; validPerplexity: number }) => [m.trainPerplexity, m.validPerplexity]);
  assert.deepEqual(strip('a.json'), strip('b.json'));
});

/** A corpus folder whose `split` file holds `content` (the others are fine). */
function corpusWith(split: 'train' | 'valid' | 'test', content: string | Buffer): string {
  const dir = tinyCorpus();
  writeFileSync(join(dir, `${split}.txt`), content);
  return dir;
}

const BAD_INPUTS: [string, (data: string) => string[], RegExp][] = [
  ['keep probability above 1', () => ['--keep-prob', '1.5'], /--keep-prob 1.5: must be a number in \(0, 1\]/],
  ['keep probability 0', () => ['--keep-prob', '0'], /--keep-prob 0: must be a number in \(0, 1\]/],
  ['--keep-prob with --dropout', () => ['--keep-prob', '0.5', '--dropout', '0.5'], /--keep-prob and --dropout both given/],
  ['negative learning rate', () => ['--lr', '-1'], /--lr -1: must be a number greater than 0/],
  ['zero learning rate', () => ['--lr', '0'], /--lr 0: must be a number greater than 0/],
  ['zero BPTT length', () => ['--bptt', '0'], /--bptt 0: must be a whole number of at least 1/],
  ['zero batch size', () => ['--batch-size', '0'], /--batch-size 0: must be a whole number of at least 1/],
  ['zero hidden size', () => ['--hidden', '0'], /--hidden 0: must be a whole number of at least 1/],
  ['zero layers', () => ['--layers', '0'], /--layers 0: must be a whole number of at least 1/],
  ['unknown configuration', () => ['--config', 'huge'], /--config huge: unknown configuration; use one of small, medium, large, quick/],
  ['unknown placement', () => ['--dropout-placement', 'everywhere'], /--dropout-placement everywhere: unknown placement/],
  ['batch too large', () => ['--batch-size', '100000'], /--batch-size 100000: too large/],
  ['missing data folder', () => ['--data', '/no/such/dir'], /\/no\/such\/dir.*no such folder/],
  ['unreadable data path (a folder given as a file)', (data) => ['--train', data, '--valid', join(data, 'valid.txt'), '--test', join(data, 'test.txt')],
    /the training split.*folder/],
  ['empty split', () => ['--data', corpusWith('valid', '')], /valid.txt.*empty/],
  ['whitespace-only split', () => ['--data', corpusWith('test', ' \n\t\n  ')], /test.txt.*(empty|whitespace)/],
  ['binary data file', () => ['--data', corpusWith('train', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 0, 0]))], /train.txt.*not a text file/],
  ['save folder missing', () => ['--save', '/no/such/dir/m.safetensors'], /--save \/no\/such\/dir\/m.safetensors: the folder \/no\/such\/dir does not exist/],
  ['save folder not writable', () => ['--save', '/proc/m.safetensors'], /--save \/proc\/m.safetensors: the folder \/proc is not writable/],
];

/**
 * The environments a mistake must print one line in: this machine's, and one without the native libraries
 * (RLSTM_NATIVE=0), where the default backend's fallback note would come first if a command chose its
 * backend before checking its inputs.
 */
const ENVIRONMENTS: [string, Record<string, string>][] = [['', {}], [' (RLSTM_NATIVE=0: no BLAS)', { RLSTM_NATIVE: '0' }]];
const SMALL_DEFAULT_BACKEND = SMALL.slice(0, SMALL.indexOf('--backend'));

for (const [name, extra, message] of BAD_INPUTS) {
  test(`bad input gives one clear line, a non-zero exit, and leaves files untouched: ${name}`, () => {
    for (const [where, env] of ENVIRONMENTS) {
      const data = tinyCorpus();
      const work = tempDir();
      // files from an earlier run that a failed command must not touch
      writeFileSync(join(work, 'model.safetensors'), 'earlier checkpoint');
      writeFileSync(join(work, 'log.json'), '{"earlier": true}');
      const args = extra(data);
      const dataArgs = args.includes('--data') || args.includes('--train') ? [] : ['--data', data];
      const r = rlstm(['train', ...dataArgs, ...SMALL_DEFAULT_BACKEND, '--save', 'model.safetensors', '--log', 'log.json', ...args], work, env);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line${where}, got: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
      assert.deepEqual(readdirSync(work).sort(), ['log.json', 'model.safetensors']);
      assert.equal(readFileSync(join(work, 'model.safetensors'), 'utf8'), 'earlier checkpoint');
      assert.equal(readFileSync(join(work, 'log.json'), 'utf8'), '{"earlier": true}');
    }
  });
}

test('eval, generate and bench of a file that is not a checkpoint or corpus: one line, non-zero exit', () => {
  const work = tempDir();
  writeFileSync(join(work, 'x.safetensors'), 'not a model at all');
  for (const [where, env] of ENVIRONMENTS) {
    for (const [args, message] of [
      [['eval', '--checkpoint', 'x.safetensors'], /x.safetensors: not a safetensors file/],
      [['generate', '--checkpoint', 'x.safetensors'], /x.safetensors: not a safetensors file/],
      [['bench', '--config', 'quick', '--data', 'no-such-folder'], /--data no-such-folder: no such folder/],
    ] as const) {
      const r = rlstm([...args], work, env);
      assert.equal(r.status, 2, `${args[0]}${where}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${args[0]}${where}: one line, got: ${r.stderr}`);
    }
  }
});

test('RLSTM_NATIVE=0: --backend blas is refused in one line naming the variable; the default backend falls back with one note', () => {
  const data = tinyCorpus();
  const work = tempDir();
  const off = { RLSTM_NATIVE: '0' };
  const blas = rlstm(['train', '--data', data, ...SMALL_DEFAULT_BACKEND, '--backend', 'blas', '--max-steps', '1', '--log', 'b.json'], work, off);
  assert.equal(blas.status, 2);
  assert.equal(blas.stderr, 'rlstm: --backend blas: disabled by RLSTM_NATIVE=0; unset RLSTM_NATIVE, or use --backend js\n');
  const auto = rlstm(['train', '--data', data, ...SMALL_DEFAULT_BACKEND, '--max-steps', '2', '--log', 'a.json'], work, off);
  assert.equal(auto.status, 0, auto.stderr);
  assert.equal(auto.stderr, 'note: BLAS is not available (disabled by RLSTM_NATIVE=0); using the pure-TypeScript backend, '
    + 'which is much slower; to speed up, unset RLSTM_NATIVE\n');
  assert.equal(JSON.parse(readFileSync(join(work, 'a.json'), 'utf8')).backend, 'js');
});

test('a validation or test split too short for its batch size is scored with the largest batch that fits, saying so; eval does the same', () => {
  const data = tinyCorpus();
  writeFileSync(join(data, 'valid.txt'), 'the company said\n'); // 4 tokens: rows of 1 for batch 4
  writeFileSync(join(data, 'test.txt'), 'it was n\'t\n'); //       4 tokens
  const work = tempDir();
  const r = rlstm(['train', '--data', data, ...SMALL, '--max-steps', '3', '--save', 's.safetensors', '--log', 's.json'], work);
  assert.equal(r.status, 0, r.stderr);
  const note = (file: string, flag: string) => `note: ${join(data, file)} has 4 tokens, too few for ${flag} 4 (rows of at least 2 tokens); `
    + 'it is scored with batch 2, the largest that fits';
  assert.deepEqual(r.stderr.trim().split('\n'), [note('valid.txt', '--batch-size'), note('test.txt', '--test-batch-size')]);
  const log = JSON.parse(readFileSync(join(work, 's.json'), 'utf8'));
  assert.equal(log.validBatchSize, 2);
  assert.equal(log.test.batchSize, 2);
  assert.equal(log.test.tokens, 2, 'two rows of two tokens: one prediction each');
  assert.match(r.stdout, /test perplexity [\d.]+ \(2 tokens, batch 2, T 8/);
  const e = rlstm(['eval', '--checkpoint', 's.safetensors', '--data', data, '--split', 'valid', '--json', '--backend', 'js'], work);
  assert.equal(e.status, 0, e.stderr);
  assert.equal(e.stderr, note('valid.txt', '--batch-size') + '\n');
  const result = JSON.parse(e.stdout);
  assert.equal(result.batchSize, 2);
  assert.ok(Math.abs(result.perplexity - log.partial.validPerplexity) < 1e-9 * result.perplexity,
    `eval ${result.perplexity} vs the log's ${log.partial.validPerplexity}`);
  // a batch that fits is used as asked, without a note
  const fits = rlstm(['eval', '--checkpoint', 's.safetensors', '--data', data, '--split', 'test', '--batch-size', '1', '--json', '--backend', 'js'], work);
  assert.equal(fits.stderr, '');
  assert.equal(JSON.parse(fits.stdout).batchSize, 1);
});

test('a character-level model trains on a small UTF-8 text of several scripts and writes text', () => {
  const dir = tempDir();
  const text = 'le café est chaud\nКиев и Москва\n東京は大きい\nthe cat sat on the mat 😀\n';
  writeFileSync(join(dir, 'train.txt'), text.repeat(30));
  writeFileSync(join(dir, 'valid.txt'), text.repeat(3));
  writeFileSync(join(dir, 'test.txt'), text.repeat(3));
  const work = tempDir();
  const r = rlstm(['train', '--data', dir, '--level', 'char', '--layers', '1', '--hidden', '32', '--batch-size', '4',
    '--bptt', '16', '--epochs', '3', '--test-batch-size', '4', '--test-bptt', '16', '--backend', 'js',
    '--save', 'c.safetensors', '--log', 'c.json'], work);
  assert.equal(r.status, 0, r.stderr);
  const log = JSON.parse(readFileSync(join(work, 'c.json'), 'utf8'));
  assert.equal(log.config.level, 'char');
  const characters = new Set(Array.from(text.replace(/\n/g, '')));
  assert.equal(log.vocabSize, characters.size + 2, 'one token per character, plus <eos> and <unk>');
  assert.ok(log.epochs[2].trainPerplexity < log.epochs[0].trainPerplexity / 2, 'it learns');
  const g = rlstm(['generate', '--checkpoint', 'c.safetensors', '--words', '60', '--seed', '4', '--backend', 'js'], work);
  assert.equal(g.status, 0, g.stderr);
  for (const ch of Array.from(g.stdout.replace(/\n/g, ''))) assert.ok(characters.has(ch), `unexpected character ${ch}`);
  const again = rlstm(['generate', '--checkpoint', 'c.safetensors', '--words', '60', '--seed', '4', '--backend', 'js'], work);
  assert.equal(again.stdout, g.stdout, 'same seed, same text');
});
