import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { UNK } from '../src/data/corpus.js';
import { jsBackend } from '../src/kernels/js.js';
import { carryState, createWorkspace, modelForward, resetState } from '../src/model/lm.js';
import { scoreText, textLines } from '../src/model/score.js';
import { loadModelFromCheckpoint } from '../src/train/load.js';
import { PROJECT_ROOT, RLSTM, rlstm, tempDir } from './helpers.js';

// rlstm score (issue 19): a text scored token by token exactly as evaluation scores a split with batch 1.
// The model: one LSTM layer of 16 units trained 20 steps on the bundled PTB with a vocabulary of 1,000
// (so that scoring all of PTB's test split takes seconds, and many of its words are scored as <unk>).

const PTB = join(PROJECT_ROOT, 'data/ptb');
const TEST_SPLIT = join(PTB, 'ptb.test.txt');
const work = tempDir();
const MODEL = join(work, 'tiny.safetensors');
{
  const r = rlstm(['train', '--data', PTB, '--layers', '1', '--hidden', '16', '--vocab-size', '1000', '--batch-size', '20',
    '--bptt', '20', '--max-steps', '20', '--save', MODEL, '--log', join(work, 'tiny.json'), '--backend', 'js'], work);
  assert.equal(r.status, 0, r.stderr);
}

interface ScoreJson {
  checkpoint: string; perplexity: number; tokens: number; unknown: number; context: string;
  lines: { text: string; tokens: number; perplexity: number | null }[];
  entries: { line: number; token: string; id: number; logProb: number; surprisal: number; unknown: boolean }[];
}

function scoreJson(args: string[], input?: string): { json: ScoreJson; stderr: string } {
  const r = spawnSync(process.execPath, [RLSTM, 'score', '--checkpoint', MODEL, '--json', ...args],
    { cwd: work, encoding: 'utf8', input, maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 1, 'one JSON object on one line');
  return { json: JSON.parse(r.stdout) as ScoreJson, stderr: r.stderr };
}

for (const backend of ['js', 'auto']) {
  test(`score of the PTB test split gives exactly the perplexity of eval --split test --batch-size 1 (backend ${backend})`, () => {
    const evaluated = rlstm(['eval', '--checkpoint', MODEL, '--split', 'test', '--batch-size', '1', '--json', '--backend', backend], work);
    assert.equal(evaluated.status, 0, evaluated.stderr);
    const ev = JSON.parse(evaluated.stdout.trim().split('\n').at(-1)!) as { perplexity: number; tokens: number; nll: number };
    const { json, stderr } = scoreJson([TEST_SPLIT, '--backend', backend]);
    assert.equal(json.perplexity, ev.perplexity, 'the same bits');
    assert.equal(json.tokens, ev.tokens);
    assert.equal(json.entries.length, json.tokens);
    // the per-token figures add up to the total (they are computed apart from it, in float64)
    const sum = json.entries.reduce((s, e) => s + e.logProb, 0);
    assert.ok(Math.abs(-sum - ev.nll) <= 1e-6 * ev.nll, `Σ logProb ${sum} against nll ${ev.nll}`);
    for (const e of json.entries.slice(0, 2000)) assert.ok(Math.abs(e.surprisal - -e.logProb / Math.LN2) < 1e-12);
    const ptbLines = readFileSync(TEST_SPLIT, 'utf8').split('\n').slice(0, -1);
    assert.equal(json.lines.length, ptbLines.length);
    assert.equal(json.lines[5].text, ptbLines[5]);
    assert.equal(json.lines.reduce((s, l) => s + l.tokens, 0), json.tokens);
    assert.equal(json.context, 'no', 'PTB\'s test split starts with "no", which is read, not scored');
    // the vocabulary of 1,000 leaves words out: counted, and named in one note
    assert.ok(json.unknown > 1000, `${json.unknown}`);
    assert.equal(json.entries.filter((e) => e.unknown).length, json.unknown);
    assert.equal(stderr.trim().split('\n').filter((l) => l.includes('vocabulary')).length, 1, stderr);
    assert.match(stderr, new RegExp(`^note: ${json.unknown} tokens are not in the model's vocabulary and scored as <unk>: "`, 'm'));
    if (backend !== 'js') return;
    // the plain output: a row per scored token, and the total line prints the figure eval prints (toFixed(2))
    const plain = spawnSync(process.execPath, [RLSTM, 'score', '--checkpoint', MODEL, TEST_SPLIT, '--backend', backend],
      { cwd: work, encoding: 'utf8', maxBuffer: 1 << 28 });
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal(plain.stdout.split('\n').filter((l) => / bits$/.test(l)).length, ev.tokens, 'one row per scored token');
    assert.equal(plain.stdout.trim().split('\n').at(-1),
      `perplexity ${ev.perplexity.toFixed(2)} (${ev.tokens} tokens, ${ptbLines.length} lines, ${json.unknown} scored as <unk>)`);
  });
}

test('each token\'s log-probability is the one the model gives stepping through the text one token at a time', () => {
  const { model, vocab } = loadModelFromCheckpoint(MODEL);
  const text = 'the market fell\n\nit was the zorblax of N years\r\nthe end';
  const { json } = scoreJson(['--text', text, '--backend', 'js']);
  // independent of the windows: B = 1, T = 1, the state carried by hand, log-softmax in float64
  const words = ['the', 'market', 'fell', '<eos>', '<eos>', 'it', 'was', 'the', 'zorblax', 'of', 'N', 'years', '<eos>', 'the', 'end', '<eos>'];
  const ids = words.map((w) => vocab.ids.get(w) ?? vocab.ids.get(UNK)!);
  const V = model.config.vocabSize;
  const ws = createWorkspace(model, 1, 1, 'none');
  resetState(ws);
  const expected: number[] = [];
  for (let k = 0; k + 1 < ids.length; k++) {
    ws.tokens[0] = ids[k];
    ws.targets[0] = ids[k + 1];
    modelForward(jsBackend, model, ws, 1, { train: false, placement: 'none', keepProb: 1, rng: null });
    carryState(ws, 1, model.config.hidden);
    let max = -Infinity, sum = 0;
    for (let v = 0; v < V; v++) max = Math.max(max, ws.logits[v]);
    for (let v = 0; v < V; v++) sum += Math.exp(ws.logits[v] - max);
    expected.push(ws.logits[ids[k + 1]] - max - Math.log(sum));
  }
  assert.equal(json.context, 'the');
  assert.deepEqual(json.entries.map((e) => e.token), words.slice(1));
  assert.deepEqual(json.entries.map((e) => e.id), ids.slice(1));
  assert.deepEqual(json.entries.map((e) => e.line), [0, 0, 0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3]);
  json.entries.forEach((e, k) => assert.ok(Math.abs(e.logProb - expected[k]) < 1e-5, `${e.token}: ${e.logProb} vs ${expected[k]}`));
  assert.deepEqual(json.entries.filter((e) => e.unknown).map((e) => e.token), ['zorblax']);
  assert.equal(json.entries[7].id, vocab.ids.get(UNK));
  assert.equal(json.unknown, 1);
  assert.deepEqual(json.lines.map((l) => [l.text, l.tokens]),
    [['the market fell', 3], ['', 1], ['it was the zorblax of N years', 8], ['the end', 3]]);
  const line2 = json.entries.filter((e) => e.line === 2);
  assert.ok(Math.abs(json.lines[2].perplexity! - Math.exp(-line2.reduce((s, e) => s + e.logProb, 0) / 8)) < 1e-9);
  // the total is evaluation's (the backend's WebAssembly softmax kernel, its exponentials in float32 lanes),
  // the expected one from float64 log-softmax: they agree to float32 rounding (here 1.0e-9; 1e-9 was the
  // tolerance while the js backend's softmax took float64 exponentials)
  const rel = Math.abs(json.perplexity - Math.exp(-expected.reduce((a, b) => a + b, 0) / 15)) / json.perplexity;
  assert.ok(rel < 1e-7, `total perplexity off the float64 log-softmax by ${rel} (relative)`);
  // in-process, the same numbers
  const inProcess = scoreText(jsBackend, model, vocab, 'word', text, 20);
  assert.equal(inProcess.perplexity, json.perplexity);
  // a window shorter than the text: the same scores to rounding (the state carries from window to window)
  const short = scoreText(jsBackend, model, vocab, 'word', text, 4);
  short.entries.forEach((e, k) => assert.ok(Math.abs(e.logProb - expected[k]) < 1e-5, `T 4, ${e.token}`));
});

test('a file, standard input (-) and --text give the same scores; the plain output has one row per token', () => {
  const text = 'the company said\nprices rose N N\n';
  const file = join(work, 'some.txt');
  writeFileSync(file, text);
  const fromFile = scoreJson([file]).json;
  const fromStdin = scoreJson(['-'], text).json;
  const fromText = scoreJson(['--text', text]).json;
  assert.deepEqual(fromStdin.entries, fromFile.entries);
  assert.deepEqual(fromText.entries, fromFile.entries);
  assert.equal(fromText.perplexity, fromFile.perplexity);
  const plain = rlstm(['score', '--checkpoint', MODEL, file, '--backend', 'js'], work);
  assert.equal(plain.status, 0, plain.stderr);
  assert.equal(plain.stderr, '', 'every word is in the vocabulary: no note');
  const rows = plain.stdout.split('\n').filter((l) => / bits$/.test(l));
  assert.equal(rows.length, fromFile.tokens);
  const first = fromFile.entries[0];
  assert.match(rows[0], new RegExp(`^  ${first.token} +${first.logProb.toFixed(3)} +${first.surprisal.toFixed(2)} bits$`));
  assert.match(plain.stdout, /^line 1: the company said\n  the +\(read first, not scored\)\n/);
  assert.match(plain.stdout, new RegExp(`line perplexity ${fromFile.lines[1].perplexity!.toFixed(2)} \\(5 tokens\\)`));
});

test('textLines: the lines the tokenizer reads (a last line end opens no line, a BOM is not text)', () => {
  assert.deepEqual(textLines('a b\nc\r\nd\re\n'), ['a b', 'c', 'd', 'e']);
  assert.deepEqual(textLines('\ufeffx'), ['x']);
  assert.deepEqual(textLines('x\n\n'), ['x', '']);
});

test('mistakes: one line naming the input, status 2, nothing on stdout', () => {
  const empty = join(work, 'empty.txt');
  writeFileSync(empty, '');
  const cases: [string[], string | undefined, RegExp][] = [
    [['score', '--checkpoint', join(work, 'missing.safetensors'), '--text', 'a b'], undefined, /^rlstm: --checkpoint .*missing\.safetensors: /],
    [['score', '--checkpoint', MODEL, '--text', ''], undefined, /^rlstm: --text: empty; give some text to score$/],
    [['score', '--checkpoint', MODEL, '--text', ' \n '], undefined, /^rlstm: --text: only whitespace; give some text to score$/],
    [['score', '--checkpoint', MODEL, empty], undefined, /^rlstm: .*empty\.txt: empty; give some text to score$/],
    [['score', '--checkpoint', MODEL, '-'], '', /^rlstm: standard input: empty; give some text to score$/],
    [['score', '--checkpoint', MODEL, empty, '--text', 'a b'], undefined, /^rlstm: .*empty\.txt and --text both given; score either/],
    [['score', '--checkpoint', MODEL], undefined, /^rlstm: no text to score; give a FILE, - to read standard input, or --text "\.\.\."$/],
    [['score', '--checkpoint', MODEL, join(work, 'nope.txt')], undefined, /^rlstm: .*nope\.txt: no such file; give a readable text file/],
    [['score', '--checkpoint', MODEL, work], undefined, /: a folder, not a file; /],
    [['score', '--checkpoint', MODEL, MODEL], undefined, /tiny\.safetensors: not (a text file|valid UTF-8)/],
  ];
  for (const [args, input, message] of cases) {
    const cwd = tempDir();
    const r = spawnSync(process.execPath, [RLSTM, ...args], { cwd, encoding: 'utf8', input });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.trimEnd(), message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.deepEqual(readdirSync(cwd), []);
  }
});

test('a character model scores characters, the line ends included', async () => {
  const { train } = await import('regularized-lstm');
  const model = await train({
    corpus: { texts: { train: 'abc abd\n'.repeat(30), valid: 'abc\n'.repeat(5), test: 'abd\n'.repeat(5) } },
    config: { name: 'quick', level: 'char', layers: 1, hidden: 8, epochs: 1, bptt: 5, batchSize: 4 }, backend: 'js',
  });
  const score = model.score('ab\nbé\n');
  assert.equal(score.context, 'a');
  assert.deepEqual(score.entries.map((e) => [e.line, e.token, e.unknown]),
    [[0, 'b', false], [0, '<eos>', false], [1, 'b', false], [1, 'é', true], [1, '<eos>', false]]);
  assert.deepEqual(score.unknownWords, ['é']);
  assert.equal(score.tokens, 5);
});
