import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readCheckpoint } from '../src/train/checkpoint.js';
import { PROJECT_ROOT, PYTHON, RLSTM, tempDir, torchMissing as torchMissingReason } from './helpers.js';

// The trained model that ships in models/ (issue 16): float16, small enough to commit, with the metadata a
// user needs (configuration, vocabulary, what it scored and how it was made), scoring in rlstm and in PyTorch
// what its metadata says.

const MODEL = join(PROJECT_ROOT, 'models/ptb-small.safetensors');
const PTB = join(PROJECT_ROOT, 'data/ptb');


const torchMissing = torchMissingReason();

interface Evaluated { validPerplexity: number; testPerplexity: number; test: { batchSize: number; bptt: number; tokens: number } }

const checkpoint = readCheckpoint(MODEL); // the checksum holds
const meta = checkpoint.metadata;
const evaluated = JSON.parse(meta.evaluated) as Evaluated;

function evalJson(args: string[]): { perplexity: number; tokens: number } {
  const r = spawnSync(process.execPath, [RLSTM, 'eval', '--checkpoint', MODEL, '--json', ...args],
    { cwd: tempDir(), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

test('models/ptb-small: float16, under 10 MB, with its configuration, vocabulary, scores and provenance', () => {
  assert.equal(checkpoint.dtype, 'F16');
  assert.ok(statSync(MODEL).size <= 10 * 1024 * 1024, `${statSync(MODEL).size} bytes`);
  const config = JSON.parse(meta.config);
  assert.equal(config.name, 'small');
  assert.deepEqual([config.layers, config.hidden, config.keepProb, config.epochs], [2, 200, 1, 13]);
  assert.equal(JSON.parse(meta.vocab).length, 10_000);
  const scores = JSON.parse(meta.scores); // of the float32 run that trained it
  assert.equal(scores.epochs, 13);
  assert.deepEqual(scores.testProtocol, { batchSize: 1, bptt: 20, tokens: 82_429, complete: true });
  assert.ok(Math.abs(evaluated.testPerplexity - scores.testPerplexity) <= 0.1,
    `float16 ${evaluated.testPerplexity} against float32 ${scores.testPerplexity}`);
  assert.match(meta.commit, /^[0-9a-f]{40}$/);
  assert.match(meta.trainedBy, /^rlstm reproduce small/);
  assert.equal(meta.dataSource, undefined, 'the bundled PTB, wherever the package is installed');
  assert.equal(meta.trainingState, undefined);
});

test('models/ptb-small: rlstm eval of the test split with batch 1 prints the perplexity its metadata records', () => {
  const r = evalJson(['--split', 'test', '--batch-size', '1', '--bptt', String(evaluated.test.bptt)]);
  assert.equal(r.tokens, evaluated.test.tokens);
  assert.ok(Math.abs(r.perplexity - evaluated.testPerplexity) < 0.005, `${r.perplexity} against ${evaluated.testPerplexity}`);
});

test('models/ptb-small loads into PyTorch\'s nn.LSTM model (strict) and scores the same perplexity there', (t) => {
  if (torchMissing) { t.skip(`PyTorch not available: ${torchMissing}`); return; }
  const ours = evalJson(['--split', 'valid', '--batch-size', '20', '--bptt', '35']);
  const r = spawnSync(PYTHON, [join(PROJECT_ROOT, 'scripts/pytorch_check.py'), 'eval', MODEL, PTB, '--split', 'valid',
    '--batch-size', '20', '--bptt', '35'], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const torch = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  t.diagnostic(`valid B 20 T 35: rlstm ${ours.perplexity}, PyTorch ${torch.perplexity}`);
  assert.equal(ours.tokens, torch.tokens);
  assert.ok(Math.abs(ours.perplexity - torch.perplexity) <= 1e-4 * torch.perplexity, `${ours.perplexity} vs ${torch.perplexity}`);
  assert.ok(Math.abs(ours.perplexity - evaluated.validPerplexity) <= 1e-4 * ours.perplexity, 'the recorded validation perplexity');
});
