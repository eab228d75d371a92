import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { EOS, UNK, vocabularyFromWords } from '../src/data/corpus.js';
import { UserError } from '../src/errors.js';
import { jsBackend } from '../src/kernels/js.js';
import { CONFIGS } from '../src/model/configs.js';
import {
  createSamplingScratch, encodePrompt, formatTokens, generateSamples, generateTokens, promptTokens, sampleFromLogits,
  type SamplingFilter,
} from '../src/model/generate.js';
import { createWorkspace, modelBackward, modelForward, resetState, type ForwardOptions } from '../src/model/lm.js';
import { createModel, initializeParameters, type Model } from '../src/model/params.js';
import { saveCheckpoint } from '../src/train/checkpoint.js';
import { clipScale, modelGradientNorm, sgdStep, zeroGradients } from '../src/train/sgd.js';
import { loadModelFromCheckpoint } from '../src/train/load.js';
import { generateCommand } from '../src/cli/generate.js';
import { createRng } from '../src/util/rng.js';
import { rlstm, tempDir } from './helpers.js';

const WORDS = [EOS, 'the', 'cat', 'sat', 'on', 'a', 'mat', 'dog', 'ran', 'rug', 'far', UNK];
const vocab = vocabularyFromWords(WORDS);
const id = (word: string): number => vocab.ids.get(word)!;

/** A tiny random 2-layer model: its next-token distribution is close to uniform, plenty of entropy to sample. */
function tinyModel(seed = 3): Model {
  const model = createModel({ vocabSize: WORDS.length, hidden: 8, layers: 2, layerNorm: false });
  initializeParameters(model, 0.5, createRng(seed));
  return model;
}

/**
 * The logits after every position of `sequence`, from one evaluation forward over the whole sequence as a
 * single window (B = 1, T = length), as evaluate() runs it: independent of generate's step-by-step loop.
 */
function windowLogits(model: Model, sequence: number[]): Float32Array[] {
  const T = sequence.length, V = model.config.vocabSize;
  const ws = createWorkspace(model, T, 1, 'none');
  resetState(ws);
  ws.tokens.set(sequence);
  modelForward(jsBackend, model, ws, T, { train: false, placement: 'none', keepProb: 1, rng: null });
  return Array.from({ length: T }, (_, t) => ws.logits.slice(t * V, (t + 1) * V));
}

const argmax = (row: Float32Array): number => row.indexOf(Math.max(...row));

test('same seed, same tokens; another seed, other tokens', () => {
  const model = tinyModel();
  const options = { count: 40, temperature: 1, seed: 11, prompt: [] };
  const first = generateTokens(jsBackend, model, vocab, options);
  assert.equal(first.length, 40);
  assert.ok(first.every((k) => Number.isInteger(k) && k >= 0 && k < WORDS.length));
  assert.deepEqual(generateTokens(jsBackend, model, vocab, options), first);
  assert.notDeepEqual(generateTokens(jsBackend, model, vocab, { ...options, seed: 12 }), first);
  assert.ok(new Set(first).size > 3, `a sample of a non-trivial distribution: ${first.join(' ')}`);
});

/**
 * A small model trained (300 SGD steps, a fraction of a second) on two lines that share "on a" and end
 * differently: the word after "a" depends on the word four steps back, so only a model whose state is
 * carried from step to step can continue both lines right. Two rows (B = 2) start one at each line.
 */
const LINES = ['the cat sat on a mat <eos>', 'the dog ran on a rug <eos>'];
let trained: Model | null = null;
function trainedModel(): Model {
  if (trained !== null) return trained;
  const rows = [`${LINES[0]} ${LINES[1]}`, `${LINES[1]} ${LINES[0]}`].map((row) => row.split(' ').map(id));
  const T = rows[0].length, B = rows.length;
  const model = createModel({ vocabSize: WORDS.length, hidden: 16, layers: 1, layerNorm: false });
  initializeParameters(model, 0.1, createRng(1));
  const ws = createWorkspace(model, T, B, 'none');
  const options: ForwardOptions = { train: true, placement: 'none', keepProb: 1, rng: null };
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) { ws.tokens[t * B + b] = rows[b][t]; ws.targets[t * B + b] = rows[b][(t + 1) % T]; }
  }
  for (let step = 0; step < 300; step++) {
    resetState(ws);
    zeroGradients(model);
    modelForward(jsBackend, model, ws, T, options);
    modelBackward(jsBackend, model, ws, T, options);
    sgdStep(model, 0.5, 0, clipScale(modelGradientNorm(model), 5));
  }
  trained = model;
  return model;
}

const text = (ids: number[]): string => ids.map((k) => WORDS[k]).join(' ');

test('temperature 0 is greedy: each token is the argmax of a whole-sequence forward over the tokens before it', () => {
  const model = trainedModel();
  for (const prompt of [[], [id('the'), id('dog')]]) {
    const generated = generateTokens(jsBackend, model, vocab, { count: 20, temperature: 0, seed: 1, prompt });
    const context = prompt.length > 0 ? prompt : [id(EOS)];
    const logits = windowLogits(model, [...context, ...generated].slice(0, -1));
    for (let k = 0; k < generated.length; k++) {
      const row = logits[context.length - 1 + k];
      assert.equal(generated[k], argmax(row), `token ${k}: logits ${Array.from(row).map((x) => x.toFixed(3)).join(' ')}`);
    }
    // greedy draws no random numbers: the seed does not matter
    assert.deepEqual(generateTokens(jsBackend, model, vocab, { count: 20, temperature: 0, seed: 99, prompt }), generated);
  }
  // the model learned both lines, which needs the carried state ("a" is followed by "mat" and by "rug")
  assert.equal(text(generateTokens(jsBackend, model, vocab, { count: 13, temperature: 0, seed: 1, prompt: [] })),
    'the cat sat on a mat <eos> the dog ran on a rug');
});

test('the prompt sets the state: an empty prompt is <eos>, and sampling continues after the last prompt token', () => {
  const model = trainedModel();
  const greedy = (prompt: string, count: number): string =>
    text(generateTokens(jsBackend, model, vocab, { count, temperature: 0, seed: 1, prompt: prompt.split(' ').map(id) }));
  assert.equal(greedy('the cat sat on a', 2), 'mat <eos>');
  assert.equal(greedy('the dog ran on a', 2), 'rug <eos>');
  assert.equal(greedy('<eos> the cat', 4), 'sat on a mat');
  const options = { count: 20, temperature: 1, seed: 5 };
  const random = tinyModel();
  assert.deepEqual(generateTokens(jsBackend, random, vocab, { ...options, prompt: [] }),
    generateTokens(jsBackend, random, vocab, { ...options, prompt: [id(EOS)] }));
  assert.deepEqual(generateTokens(jsBackend, random, vocab, { ...options, count: 0, prompt: [id('a')] }), []);
});

test('sampling follows softmax(logits / temperature)', () => {
  const logits = Float32Array.from([1, 2, 3, 4].map(Math.log));
  const weights = new Float64Array(4);
  for (const [temperature, expected] of [[1, [1, 2, 3, 4]], [0.5, [1, 4, 9, 16]]] as const) {
    const rng = createRng(42);
    const counts = [0, 0, 0, 0];
    const draws = 20000;
    for (let n = 0; n < draws; n++) counts[sampleFromLogits(logits, 4, temperature, rng, weights)]++;
    const total = expected.reduce((s, x) => s + x, 0);
    for (let v = 0; v < 4; v++) {
      // the binomial standard deviation is at most 0.0036 here; allow 4 of them
      assert.ok(Math.abs(counts[v] / draws - expected[v] / total) < 0.015,
        `temperature ${temperature}, token ${v}: ${counts[v] / draws} vs ${expected[v] / total}`);
    }
  }
  assert.equal(sampleFromLogits(Float32Array.from([0, 5, 5, 1]), 4, 0, createRng(1), weights), 1, 'greedy: first of the ties');
  assert.equal(sampleFromLogits(Float32Array.from([0, 80, 0, 0]), 4, 1e-3, createRng(1), weights), 1, 'tiny temperature: no overflow');
});

test('prompt text → tokens at the model level, unknown tokens listed once and mapped to <unk>', () => {
  assert.deepEqual(promptTokens('the  cat ', 'word'), ['the', 'cat']);
  assert.deepEqual(promptTokens('the cat\n', 'word'), ['the', 'cat', EOS]);
  assert.deepEqual(promptTokens('', 'word'), []);
  assert.deepEqual(promptTokens('Ки 😀', 'char'), ['К', 'и', ' ', '😀']);
  assert.deepEqual(encodePrompt(['the', 'zebra', 'cat', 'zebra', 'yak'], vocab),
    { ids: [id('the'), id(UNK), id('cat'), id(UNK), id(UNK)], unknown: ['zebra', 'yak'] });
  assert.throws(() => encodePrompt(['zebra'], vocabularyFromWords(['a', EOS])), UserError);
  assert.equal(formatTokens([...promptTokens('the cat', 'word'), 'sat', EOS, 'on'], 'word'), 'the cat sat\non');
});

/** A checkpoint of the tiny model, as loadModelFromCheckpoint reads it (config and vocab metadata). */
function tinyCheckpoint(level?: 'word' | 'char', words = WORDS): string {
  const model = createModel({ vocabSize: words.length, hidden: 8, layers: 2, layerNorm: false });
  initializeParameters(model, 0.5, createRng(3));
  const config: Record<string, unknown> = { ...CONFIGS.small, hidden: 8, layers: 2 };
  if (level === undefined) delete config.level; // a checkpoint from before character models
  else config.level = level;
  const path = join(tempDir(), 'tiny.safetensors');
  saveCheckpoint(path, model, { config: JSON.stringify(config), vocab: JSON.stringify(words) });
  return path;
}

test('generateCommand refuses a negative temperature and a token count that is not a positive whole number', async () => {
  const checkpoint = tinyCheckpoint('word');
  const bad: [Record<string, string>, RegExp][] = [
    [{ temperature: '-1' }, /^--temperature -1: must be a number of at least 0; 0 means greedy \(e\.g\. --temperature 0\.8\)$/],
    [{ temperature: 'hot' }, /^--temperature hot: must be a number of at least 0/],
    [{ words: '0' }, /^--words 0: must be a whole number of at least 1 \(e\.g\. --words 100\)$/],
    [{ words: '2.5' }, /^--words 2.5: must be a whole number of at least 1 \(e\.g\. --words 100\)$/],
    [{ seed: '-3' }, /^--seed -3: must be a whole number from 0 to 4294967295 \(e\.g\. --seed 1\)$/],
  ];
  for (const [flags, message] of bad) {
    await assert.rejects(generateCommand({ checkpoint, backend: 'js', ...flags }), (err: unknown) =>
      err instanceof UserError && message.test(err.message));
  }
});

/** What generate should print: the prompt tokens and the sample of the same seed, formatted, newline-ended. */
function expectedOutput(checkpoint: string, prompt: string, count: number, seed: number, temperature = 1): string {
  const { model, config, vocab: v } = loadModelFromCheckpoint(checkpoint);
  const level = config.level ?? 'word';
  const tokens = promptTokens(prompt, level);
  const ids = encodePrompt(tokens, v).ids;
  const generated = generateTokens(jsBackend, model, v, { count, temperature, seed, prompt: ids });
  const text = formatTokens([...tokens, ...generated.map((k) => v.words[k])], level);
  return text.endsWith('\n') ? text : text + '\n';
}

test('rlstm generate: the prompt then the sample, reproducible by seed, one warning line for unknown words', () => {
  const work = tempDir();
  const checkpoint = tinyCheckpoint(undefined); // no level in the config: words
  const args = ['generate', '--checkpoint', checkpoint, '--words', '15', '--seed', '4', '--backend', 'js'];
  const prompt = 'the zebra sat on a yak';
  const a = rlstm([...args, '--prompt', prompt], work);
  assert.equal(a.status, 0, a.stderr);
  assert.equal(a.stderr, 'warning: not in the vocabulary, used <unk> for: "zebra", "yak"\n');
  assert.ok(a.stdout.startsWith(prompt), a.stdout);
  assert.equal(a.stdout, expectedOutput(checkpoint, prompt, 15, 4));
  assert.equal(rlstm([...args, '--prompt', prompt], work).stdout, a.stdout, 'same seed, same text');
  const greedy = rlstm([...args, '--temperature', '0'], work);
  assert.equal(greedy.status, 0, greedy.stderr);
  assert.equal(greedy.stderr, '');
  assert.equal(greedy.stdout, expectedOutput(checkpoint, '', 15, 4, 0));
  const bad = rlstm([...args, '--temperature', '-1'], work);
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, 'rlstm: --temperature -1: must be a number of at least 0; 0 means greedy (e.g. --temperature 0.8)\n');
});

test('rlstm generate with a character model prints characters', () => {
  const chars = [EOS, ...'abcdé 😀', UNK];
  const checkpoint = tinyCheckpoint('char', chars);
  const r = rlstm(['generate', '--checkpoint', checkpoint, '--words', '30', '--prompt', 'ab😀', '--backend', 'js'], tempDir());
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.ok(r.stdout.startsWith('ab😀'), r.stdout);
  assert.ok(!r.stdout.includes(EOS), 'line breaks, not <eos>');
  assert.equal(r.stdout, expectedOutput(checkpoint, 'ab😀', 30, 1));
});

/**
 * Sampling with top-k and nucleus (top-p) filters: the tokens drawn are only those of the filtered set, and
 * their frequencies are the renormalized probabilities. Pearson's chi-square over the kept tokens, against
 * the 0.1% critical value of its degrees of freedom (a seeded draw, so the result does not vary between
 * runs; a correct sampler passes such a test 999 times in 1000 seeds).
 */
const CHI_SQUARE_999 = [Infinity, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46]; // by degrees of freedom (none: one token, nothing to test)

/** Draws `n` tokens and returns the counts per token. */
function drawCounts(logits: Float32Array, temperature: number, filter: SamplingFilter | null, n: number, seed = 42): number[] {
  const V = logits.length;
  const rng = createRng(seed);
  const { weights, order } = createSamplingScratch(V);
  const counts = new Array<number>(V).fill(0);
  for (let k = 0; k < n; k++) counts[sampleFromLogits(logits, V, temperature, rng, weights, filter, order)]++;
  return counts;
}

/** Asserts counts follow `expected` (unnormalized weights): zero where it is zero, and chi-square below the 0.1% value. */
function assertFollows(counts: number[], expected: number[], what: string): void {
  const n = counts.reduce((a, b) => a + b, 0);
  const total = expected.reduce((a, b) => a + b, 0);
  let chi = 0, kept = 0;
  for (let v = 0; v < counts.length; v++) {
    if (expected[v] === 0) { assert.equal(counts[v], 0, `${what}: token ${v} is outside the filter but was drawn ${counts[v]} times`); continue; }
    const e = n * expected[v] / total;
    chi += (counts[v] - e) ** 2 / e;
    kept++;
  }
  assert.ok(chi < CHI_SQUARE_999[kept - 1], `${what}: chi-square ${chi.toFixed(2)} over ${kept - 1} degrees of freedom; counts ${counts}`);
}

// probabilities 0.40 0.25 0.15 0.10 0.06 0.04, shuffled over the ids so that "most likely" is not "lowest id"
const PROBS = [0.10, 0.40, 0.04, 0.15, 0.25, 0.06];
const LOGITS = Float32Array.from(PROBS.map((p) => Math.log(p) + 3));
const keep = (ids: number[], probs = PROBS): number[] => probs.map((p, v) => (ids.includes(v) ? p : 0));

test('top-k: only the K most likely tokens are drawn, as often as their renormalized probabilities', () => {
  const n = 20_000;
  assertFollows(drawCounts(LOGITS, 1, { topK: 3, topP: null }, n), keep([1, 4, 3]), 'top-k 3');
  assertFollows(drawCounts(LOGITS, 1, { topK: 2, topP: null }, n), keep([1, 4]), 'top-k 2');
  assertFollows(drawCounts(LOGITS, 1, { topK: 6, topP: null }, n), PROBS, 'top-k V: no filter');
  assertFollows(drawCounts(LOGITS, 1, { topK: 100, topP: null }, n), PROBS, 'top-k > V: no filter');
  assert.deepEqual(drawCounts(LOGITS, 1, { topK: 1, topP: null }, 500), [0, 500, 0, 0, 0, 0], 'top-k 1: the argmax');
  // the filter acts on the tempered distribution: temperature 0.5 squares the probabilities
  const squared = PROBS.map((p) => p * p);
  assertFollows(drawCounts(LOGITS, 0.5, { topK: 3, topP: null }, n), keep([1, 4, 3], squared), 'top-k 3, temperature 0.5');
  // a sampler that ignores the filter fails this test
  assert.throws(() => assertFollows(drawCounts(LOGITS, 1, null, n), keep([1, 4, 3]), 'unfiltered'), /outside the filter/);
  // ties at the K-th place go to the lower id
  const tied = Float32Array.from([0, 1, 1, 1, 0]);
  assertFollows(drawCounts(tied, 1, { topK: 2, topP: null }, n), [0, 1, 1, 0, 0], 'top-k 2 of a tie');
});

test('top-p: only the nucleus (the fewest most likely tokens reaching mass P) is drawn, renormalized', () => {
  const n = 20_000;
  // by decreasing probability, the cumulative mass is 0.40 0.65 0.80 0.90 0.96 1
  assertFollows(drawCounts(LOGITS, 1, { topK: null, topP: 0.3 }, n), keep([1]), 'top-p 0.3: the top token alone');
  assertFollows(drawCounts(LOGITS, 1, { topK: null, topP: 0.5 }, n), keep([1, 4]), 'top-p 0.5');
  assertFollows(drawCounts(LOGITS, 1, { topK: null, topP: 0.7 }, n), keep([1, 4, 3]), 'top-p 0.7');
  assertFollows(drawCounts(LOGITS, 1, { topK: null, topP: 0.85 }, n), keep([1, 4, 3, 0]), 'top-p 0.85');
  assertFollows(drawCounts(LOGITS, 1, { topK: null, topP: 1 }, n), PROBS, 'top-p 1: no filter');
  assert.throws(() => assertFollows(drawCounts(LOGITS, 1, { topK: null, topP: 1 }, n), keep([1, 4, 3]), 'unfiltered'), /outside the filter/);
  // with top-k, the nucleus is taken of the top K renormalized: of 0.40 0.25 0.15 0.10 (mass 0.9), P 0.85
  // reaches 0.85 · 0.9 = 0.765 with three tokens (0.80); of the whole distribution it would take four (0.90)
  assertFollows(drawCounts(LOGITS, 1, { topK: 4, topP: 0.85 }, n), keep([1, 4, 3]), 'top-k 4 then top-p 0.85');
  // greedy ignores the filters (the argmax is in every filtered set)
  assert.deepEqual(drawCounts(LOGITS, 0, { topK: 2, topP: 0.5 }, 100), [0, 100, 0, 0, 0, 0]);
});

test('a model\'s samples with --top-k stay in the top K of each step\'s logits; top-k 1 is greedy', () => {
  const model = tinyModel();
  const K = 3;
  const generated = generateTokens(jsBackend, model, vocab, { count: 60, temperature: 1, seed: 3, prompt: [], topK: K });
  const logits = windowLogits(model, [id(EOS), ...generated].slice(0, -1));
  for (let k = 0; k < generated.length; k++) {
    const row = logits[k];
    const rank = Array.from(row).filter((x) => x > row[generated[k]]).length;
    assert.ok(rank < K, `token ${k}: rank ${rank} in the logits`);
  }
  assert.ok(new Set(generated).size > 1, 'more than the argmax');
  assert.deepEqual(generateTokens(jsBackend, model, vocab, { count: 30, temperature: 1, seed: 3, prompt: [], topK: 1 }),
    generateTokens(jsBackend, model, vocab, { count: 30, temperature: 0, seed: 3, prompt: [] }));
  // samples: each starts from the prompt's state; the first is generateTokens' sample, the others differ
  const options = { count: 12, temperature: 1, seed: 8, prompt: [id('the')], topP: 0.9 };
  const samples = generateSamples(jsBackend, model, vocab, options, 3);
  assert.equal(samples.length, 3);
  assert.deepEqual(samples[0], generateTokens(jsBackend, model, vocab, options));
  assert.notDeepEqual(samples[1], samples[0]);
  assert.notDeepEqual(samples[2], samples[1]);
});

test('rlstm generate --top-k --top-p --count: N samples under "# sample i" lines; --top-k 1 prints the greedy text', () => {
  const work = tempDir();
  const checkpoint = tinyCheckpoint('word');
  const args = ['generate', '--checkpoint', checkpoint, '--words', '12', '--seed', '4', '--backend', 'js', '--prompt', 'the cat'];
  const three = rlstm([...args, '--count', '3', '--top-p', '0.8'], work);
  assert.equal(three.status, 0, three.stderr);
  const parts = three.stdout.split(/^# sample \d\n/m);
  assert.equal(parts[0], '');
  assert.equal(parts.length, 4, three.stdout);
  const one = rlstm([...args, '--top-p', '0.8'], work);
  assert.equal(parts[1], one.stdout, 'the first of three is the single sample');
  assert.ok(parts.slice(1).every((p) => p.startsWith('the cat')));
  assert.equal(rlstm([...args, '--top-k', '1'], work).stdout, rlstm([...args, '--temperature', '0'], work).stdout);
  const bad = rlstm([...args, '--top-p', '0'], work);
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, 'rlstm: --top-p 0: must be a number in (0, 1]; 1 means no filter (e.g. --top-p 0.9)\n');
});
