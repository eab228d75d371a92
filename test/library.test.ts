import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as publicApi from 'regularized-lstm';
import { CONFIGS, loadModel, train, UserError } from 'regularized-lstm';
import * as internals from 'regularized-lstm/internals';
import { PROJECT_ROOT, RLSTM, rlstm, tempDir } from './helpers.js';

// The library's main entry (src/index.ts, imported here by the package's own name through package.json
// "exports", as a user's code imports it), its reference docs/api.md, and the example of docs/library.md.

const INDEX = readFileSync(join(PROJECT_ROOT, 'src/index.ts'), 'utf8');
const API_DOC = readFileSync(join(PROJECT_ROOT, 'docs/api.md'), 'utf8');
const LIBRARY_DOC = readFileSync(join(PROJECT_ROOT, 'docs/library.md'), 'utf8');

/** The names src/index.ts exports, values and types (`export { a, type B } from`, `export type { C } from`). */
function exportedNames(source: string): string[] {
  const names: string[] = [];
  for (const m of source.matchAll(/^export (?:type )?\{([^}]*)\} from/gm)) {
    for (const part of m[1].split(',')) names.push(part.trim().replace(/^type /, ''));
  }
  assert.ok(!/^export \*/m.test(source), 'the main entry names what it exports (no export *)');
  return names.filter((n) => n !== '').sort();
}

test('docs/api.md documents every public export, and nothing else, once each', () => {
  const exported = exportedNames(INDEX);
  const documented = [...API_DOC.matchAll(/^### `([A-Za-z]+)`$/gm)].map((m) => m[1]).sort();
  assert.deepEqual(documented, [...new Set(documented)], 'no section twice');
  assert.deepEqual(documented, exported);
  // the runtime values of the package's main entry are among them, and are few
  const values = Object.keys(publicApi).sort();
  assert.deepEqual(values, ['CONFIGS', 'UserError', 'WriteError', 'loadModel', 'train']);
  for (const v of values) assert.ok(exported.includes(v), v);
});

test('the building blocks stay available from regularized-lstm/internals', () => {
  for (const name of ['lstmForward', 'lstmBackward', 'dropoutForward', 'trainModel', 'evaluate', 'scoreText', 'sampleFromLogits',
    'createModel', 'loadCorpusFrom', 'readCheckpoint', 'train', 'loadModel']) {
    assert.equal(typeof (internals as Record<string, unknown>)[name], 'function', name);
  }
  assert.equal(internals.jsBackend.name, 'js');
  assert.equal(internals.train, train, 'one implementation behind both entries');
});

test('docs/library.md shows examples/library.ts as it is, and what it prints; the compiled example runs', () => {
  const source = readFileSync(join(PROJECT_ROOT, 'examples/library.ts'), 'utf8');
  assert.ok(LIBRARY_DOC.includes('```ts\n' + source + '```\n'), 'the example in the guide is the file');
  assert.match(source, /from 'regularized-lstm';/, 'imports the package by name, as after npm install');
  const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'dist/examples/library.js')], { cwd: tempDir(), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.ok(LIBRARY_DOC.includes('```\n' + r.stdout + '```\n'), `the guide shows what it prints:\n${r.stdout}`);
  const lines = r.stdout.trim().split('\n');
  const valid = lines.filter((l) => l.startsWith('epoch ')).map((l) => Number(/perplexity ([\d.]+)/.exec(l)![1]));
  assert.equal(valid.length, 3);
  assert.ok(valid[2] < valid[0] && valid[2] < 3, `it learns the sentences: ${valid}`);
  const [seen, swapped] = lines.filter((l) => l.startsWith('line ')).map((l) => Number(/perplexity ([\d.]+)/.exec(l)![1]));
  assert.ok(seen < swapped, 'a sentence of the training text is less surprising than its words shuffled');
  assert.match(lines.at(-1)!, /^sample: the dog( \S+| \/)+$/);
});

/** A model trained in memory in well under a second, for the checks below. */
const TEXTS = {
  train: 'the cat sat on the mat\nthe dog sat on the rug\n'.repeat(40),
  valid: 'the cat sat on the rug\n'.repeat(5),
  test: 'the dog sat on the mat\n'.repeat(5),
};
const CONFIG = { name: 'quick', layers: 1, hidden: 8, epochs: 1, bptt: 5, batchSize: 4, seed: 3 };

test('train → save → loadModel: the loaded model scores, generates and evaluates as the command line does', async () => {
  const epochs: number[] = [];
  const trained = await train({ corpus: { texts: TEXTS }, config: CONFIG, backend: 'js', onEpoch: (m) => epochs.push(m.epoch) });
  assert.deepEqual(epochs, [1]);
  assert.equal(trained.config.hidden, 8);
  assert.deepEqual([...trained.vocabulary].sort(), ['<eos>', '<unk>', 'cat', 'dog', 'mat', 'on', 'rug', 'sat', 'the']);
  const work = tempDir();
  const file = join(work, 'm.safetensors');
  trained.save(file);
  const model = loadModel(file, { backend: 'js' });
  const text = 'the cat sat on the mat\nthe zebra sat\n';
  const score = model.score(text);
  assert.deepEqual(score, trained.score(text), 'the saved model is the trained one');
  const cli = spawnSync(process.execPath, [RLSTM, 'score', '--checkpoint', file, '--text', text, '--json', '--backend', 'js'],
    { cwd: work, encoding: 'utf8' });
  assert.equal(cli.status, 0, cli.stderr);
  const json = JSON.parse(cli.stdout);
  assert.equal(score.perplexity, json.perplexity);
  assert.deepEqual(score.entries, json.entries);
  assert.deepEqual(score.unknownWords, ['zebra']);
  // generate: the text rlstm generate prints (without its final newline)
  const sampled = model.generate('the cat', { tokens: 9, seed: 5, topK: 3, temperature: 0.8 });
  const gen = rlstm(['generate', '--checkpoint', file, '--prompt', 'the cat', '--words', '9', '--seed', '5', '--top-k', '3',
    '--temperature', '0.8', '--backend', 'js'], work);
  assert.equal(gen.status, 0, gen.stderr);
  assert.equal(sampled + (sampled.endsWith('\n') ? '' : '\n'), gen.stdout);
  const three = model.samples('the cat', 3, { tokens: 9, seed: 5, topK: 3, temperature: 0.8 });
  assert.equal(three.length, 3);
  assert.equal(three[0], sampled);
  // evaluate: the in-memory test split, as eval scores it from a file
  writeSplits(work);
  const evaluated = model.evaluate('test', { corpus: { texts: TEXTS }, batchSize: 1 });
  const ev = rlstm(['eval', '--checkpoint', file, '--data', work, '--split', 'test', '--batch-size', '1', '--json', '--backend', 'js'], work);
  assert.equal(ev.status, 0, ev.stderr);
  assert.equal(evaluated.perplexity, JSON.parse(ev.stdout).perplexity);
  assert.deepEqual(model.evaluate('test', { corpus: { dir: work }, batchSize: 1 }), evaluated);
});

function writeSplits(dir: string): void {
  for (const split of ['train', 'valid', 'test'] as const) writeFileSync(join(dir, `${split}.txt`), TEXTS[split]);
}

test('a bad argument throws a UserError of one line that names it', async () => {
  const cases: [() => unknown, RegExp][] = [
    [() => train({ corpus: { texts: TEXTS }, config: { ...CONFIG, hidden: 0 } }), /^config\.hidden 0: must be a whole number of at least 1$/],
    [() => train({ corpus: { texts: TEXTS }, config: { ...CONFIG, keepProb: 1.5 } }), /^config\.keepProb 1\.5: must be a number in \(0, 1\]$/],
    [() => train({ corpus: { texts: TEXTS }, config: { name: 'huge' } }), /^config\.name "huge": unknown configuration; use one of small, medium, large, quick$/],
    [() => train({ corpus: { texts: TEXTS }, config: { hiden: 8 } as never }), /^config\.hiden: no such field; the fields are batchSize, bptt, clip, /],
    [() => train({ corpus: { texts: { ...TEXTS, valid: ' ' } }, config: CONFIG }), /^corpus\.texts\.valid: empty or not a string; give it some text$/],
    [() => train({ corpus: { dir: '/no/such/folder' }, config: CONFIG }), /^--data \/no\/such\/folder: no such folder/],
    [() => train({ corpus: { texts: TEXTS }, config: CONFIG, backend: 'gpu' as never }), /^backend "gpu": must be "auto", "blas" or "js"$/],
    [() => loadModel(join(tempDir(), 'missing.safetensors')), /missing\.safetensors: /],
  ];
  for (const [call, message] of cases) {
    await assert.rejects(async () => call(), (err: unknown) => {
      assert.ok(err instanceof UserError, String(err));
      assert.match(err.message, message);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
  }
  const model = await train({ corpus: { texts: TEXTS }, config: CONFIG, backend: 'js' });
  assert.throws(() => model.score(''), /^UserError: score\(text\): empty; give some text to score$/);
  assert.throws(() => model.generate('the', { topP: 0 }), /^UserError: topP 0: must be a number in \(0, 1\]$/);
  assert.throws(() => model.generate('the', { tokens: 1.5 }), /^UserError: tokens 1\.5: must be a whole number of at least 1$/);
  assert.throws(() => model.samples('the', 0), /^UserError: count 0: must be a whole number of at least 1$/);
  assert.throws(() => model.evaluate('train' as never), /^UserError: evaluate\("train"\): unknown split; use "valid" or "test"$/);
  assert.equal(CONFIGS.small.hidden, 200);
});
