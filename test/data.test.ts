import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  batchify, buildVocabulary, EOS, encodeWords, fillWindow, fittingBatchSize, loadCorpus, tokenizeWords, UNK, windowCount,
} from '../src/data/corpus.js';
import { UserError } from '../src/errors.js';
import { PROJECT_ROOT, tempDir } from './helpers.js';

const PTB = join(PROJECT_ROOT, 'data/ptb');

test('the bundled PTB files match their MD5 sums', () => {
  const lines = readFileSync(join(PTB, 'MD5SUMS'), 'utf8').trim().split('\n');
  assert.equal(lines.length, 3);
  for (const line of lines) {
    const [sum, name] = line.trim().split(/\s+/);
    const actual = createHash('md5').update(readFileSync(join(PTB, name))).digest('hex');
    assert.equal(actual, sum, name);
  }
});

test('PTB: 10,000 word types, <eos> per line, known split sizes', () => {
  const corpus = loadCorpus(PTB);
  assert.equal(corpus.vocab.words.length, 10000);
  assert.ok(corpus.vocab.ids.has(EOS) && corpus.vocab.ids.has(UNK));
  // the token counts every reference reports for Mikolov's PTB (words + one <eos> per sentence)
  assert.equal(corpus.train.length, 929589);
  assert.equal(corpus.valid.length, 73760);
  assert.equal(corpus.test.length, 82430);
});

test('tokenize: words of each line then <eos>; vocabulary by count then word', () => {
  assert.deepEqual(tokenizeWords(' a b \nc\n'), ['a', 'b', EOS, 'c', EOS]);
  assert.deepEqual(tokenizeWords('a b'), ['a', 'b', EOS]);
  const vocab = buildVocabulary(['b', 'a', 'b', 'c', 'a', 'b']);
  assert.deepEqual(vocab.words, ['b', 'a', 'c']);
  assert.deepEqual(Array.from(encodeWords(['c', 'b'], vocab, 'x')), [2, 0]);
  assert.throws(() => encodeWords(['zzz'], vocab, 'x'), UserError);
  const withUnk = buildVocabulary(['a', UNK]);
  assert.deepEqual(Array.from(encodeWords(['zzz'], withUnk, 'x')), [withUnk.ids.get(UNK)]);
});

test('batchify into B contiguous rows and time-major windows with shifted targets', () => {
  const stream = Int32Array.from({ length: 23 }, (_, k) => k);
  const data = batchify(stream, 3); // L = 7, tokens 21 and 22 dropped
  assert.equal(data.L, 7);
  assert.deepEqual(Array.from(data.rows.subarray(7, 14)), [7, 8, 9, 10, 11, 12, 13]);
  assert.equal(windowCount(data, 4), 2); // 6 predictions per row: windows of 4 and 2
  const tokens = new Int32Array(12), targets = new Int32Array(12);
  assert.equal(fillWindow(data, 0, 4, tokens, targets), 4);
  assert.deepEqual(Array.from(tokens.subarray(0, 3)), [0, 7, 14]); // step 0 of rows 0, 1, 2
  assert.deepEqual(Array.from(targets.subarray(0, 3)), [1, 8, 15]);
  assert.equal(fillWindow(data, 1, 4, tokens, targets), 2);
  assert.deepEqual(Array.from(tokens.subarray(3, 6)), [5, 12, 19]); // step 1 of window 1 = position 5
  assert.deepEqual(Array.from(targets.subarray(3, 6)), [6, 13, 20]);
  assert.throws(() => batchify(stream, 12), /--batch-size 12: too large/);
});

test('fittingBatchSize: the batch asked for when its rows hold two tokens, else the largest whose rows do', () => {
  assert.equal(fittingBatchSize(8, 4), 4); //   rows of 2: as asked
  assert.equal(fittingBatchSize(7, 4), 3); //   rows of 1 at 4: 3 rows of 2
  assert.equal(fittingBatchSize(4, 20), 2);
  assert.equal(fittingBatchSize(3, 20), 1);
  assert.equal(fittingBatchSize(73760, 20), 20); // PTB's validation split at the paper's batch size
  assert.equal(fittingBatchSize(1, 5), 5, 'nothing fits one token: left to batchify to refuse');
  for (const [n, B] of [[7, 4], [4, 20], [3, 20], [100, 51]]) {
    const fitted = fittingBatchSize(n, B);
    assert.ok(Math.floor(n / fitted) >= 2 && Math.floor(n / (fitted + 1)) < 2, `${n} tokens, asked ${B}: ${fitted}`);
  }
});

test('a missing data folder or split is a clear UserError', () => {
  assert.throws(() => loadCorpus('/no/such/folder'), (err: unknown) =>
    err instanceof UserError && /--data \/no\/such\/folder: no such folder/.test(err.message));
  const dir = tempDir();
  writeFileSync(join(dir, 'train.txt'), 'a b c\n');
  assert.throws(() => loadCorpus(dir), /no valid split found/);
});
