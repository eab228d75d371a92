import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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

const BAD_INPUTS: [string, string[], RegExp][] = [
  ['keep probability above 1', ['--keep-prob', '1.5'], /--keep-prob 1.5: must be in \(0, 1\]/],
  ['keep probability 0', ['--keep-prob', '0'], /--keep-prob 0: must be in \(0, 1\]/],
  ['--keep-prob with --dropout', ['--keep-prob', '0.5', '--dropout', '0.5'], /--keep-prob and --dropout both given/],
  ['negative learning rate', ['--lr', '-1'], /--lr -1: must be greater than 0/],
  ['zero BPTT length', ['--bptt', '0'], /--bptt 0: must be a whole number of at least 1/],
  ['zero layers', ['--layers', '0'], /--layers 0/],
  ['unknown configuration', ['--config', 'huge'], /--config huge: unknown configuration; use one of small, medium, large, quick/],
  ['unknown placement', ['--dropout-placement', 'everywhere'], /--dropout-placement everywhere: unknown placement/],
  ['batch too large', ['--batch-size', '100000'], /--batch-size 100000: too large/],
  ['missing data folder', ['--data', '/no/such/dir'], /--data \/no\/such\/dir: no such folder/],
  ['save folder missing', ['--save', '/no/such/dir/m.safetensors'], /--save \/no\/such\/dir\/m.safetensors: the folder \/no\/such\/dir does not exist/],
];

for (const [name, args, message] of BAD_INPUTS) {
  test(`bad input gives one clear line and a non-zero exit: ${name}`, () => {
    const data = tinyCorpus();
    const work = tempDir();
    const r = rlstm(['train', '--data', data, ...SMALL, '--log', 'log.json', ...args], work);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line, got: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    assert.ok(!existsSync(join(work, 'log.json')), 'nothing written');
    assert.deepEqual(readdirSync(work), []);
  });
}

test('eval of a file that is not a checkpoint: one line, non-zero exit', () => {
  const work = tempDir();
  writeFileSync(join(work, 'x.safetensors'), 'not a model at all');
  const r = rlstm(['eval', '--checkpoint', 'x.safetensors'], work);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /x.safetensors: not a safetensors file/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});
