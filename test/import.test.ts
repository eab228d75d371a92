import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readCheckpoint } from '../src/train/checkpoint.js';
import { float32ToFloat16 } from '../src/util/float16.js';
import { PROJECT_ROOT, PYTHON, rlstm, tempDir, tinyCorpus, torchMissing as torchMissingReason } from './helpers.js';

/**
 * rlstm import (issue 19): a PyTorch state_dict of the README's model (safetensors, as PyTorch writes it: no
 * checksum, with or without __metadata__) and a vocabulary file become an rlstm checkpoint that scores what
 * PyTorch scores. Without PyTorch: a model trained here, saved as a foreign state_dict with its vocabulary in
 * another order, comes back exactly; every misfit is one line. With PyTorch: a model trained there a few steps.
 */

const TINY = ['--layers', '2', '--hidden', '8', '--bptt', '5', '--batch-size', '4', '--backend', 'js', '--seed', '3',
  '--test-batch-size', '4', '--test-bptt', '5'];

interface Tensor { shape: number[]; data: Float32Array; dtype?: 'F32' | 'F16' | 'F64' }

/** A safetensors file as PyTorch's writer makes it: tensors in the given order, no sha256, metadata only if given. */
function stateDictBytes(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  const body: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    let bytes: Buffer;
    if (t.dtype === 'F16') bytes = Buffer.from(new Uint16Array(Array.from(t.data, float32ToFloat16)).buffer);
    else if (t.dtype === 'F64') bytes = Buffer.from(new Float64Array(t.data).buffer);
    else bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype: t.dtype ?? 'F32', shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    body.push(bytes);
    offset += bytes.length;
  }
  if (metadata !== undefined) header.__metadata__ = metadata;
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, Buffer.from(json), ...body]);
}

// a model trained here, and the same model as a foreign state_dict: its tokens in reverse id order (rows of the
// embedding, the decoder and its bias moved with them), every name under DDP's `module.`, no metadata
const data = tinyCorpus(200);
const work = tempDir('rlstm-import-');
const trained = rlstm(['train', '--data', data, '--epochs', '1', '--max-steps', '20', '--save', 'm.safetensors', '--log', 'm.json', ...TINY], work);
assert.equal(trained.status, 0, trained.stderr);
const source = readCheckpoint(join(work, 'm.safetensors'));
const words: string[] = JSON.parse(source.metadata.vocab);
const V = words.length, H = 8;
const order = words.map((_, k) => V - 1 - k); // new id j holds old id order[j]

function permutedRows(t: Float32Array, width: number): Float32Array {
  const out = new Float32Array(t.length);
  for (let j = 0; j < V; j++) out.set(t.subarray(order[j] * width, (order[j] + 1) * width), j * width);
  return out;
}

/** The trained model as a PyTorch state_dict (names without prefix), in the permuted vocabulary. */
function foreignTensors(): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of source.tensors) {
    const rows = name === 'encoder.weight' || name === 'decoder.weight' ? H : name === 'decoder.bias' ? 1 : 0;
    out[name] = { shape: t.shape, data: rows > 0 ? permutedRows(t.data, rows) : t.data.slice() };
  }
  return out;
}

const foreignWords = order.map((k) => words[k]);

function writeInputs(dir: string, tensors: Record<string, Tensor>, vocab: string[], metadata?: Record<string, string>): void {
  writeFileSync(join(dir, 'sd.safetensors'), stateDictBytes(tensors, metadata));
  writeFileSync(join(dir, 'vocab.txt'), vocab.map((w) => `${w}\n`).join(''));
}

function evalJson(checkpoint: string, cwd: string, args: string[] = []): { perplexity: number; tokens: number } {
  const r = rlstm(['eval', '--checkpoint', checkpoint, '--data', data, '--split', 'valid', '--json', '--backend', 'js', ...args], cwd);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

test('a state_dict with its vocabulary in another order and DDP\'s module. prefix imports exactly and scores the same', () => {
  const dir = tempDir('rlstm-import-');
  const prefixed = Object.fromEntries(Object.entries(foreignTensors()).map(([n, t]) => [`module.${n}`, t]));
  writeInputs(dir, prefixed, foreignWords);
  const r = rlstm(['import', '--state-dict', 'sd.safetensors', '--vocab', 'vocab.txt', '--out', 'imported.safetensors',
    '--batch-size', '4', '--bptt', '5'], dir);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^imported sd\\.safetensors \\(F32\\) with vocab\\.txt to imported\\.safetensors: 2 layers, hidden 8, vocabulary ${V}, `));
  assert.match(r.stderr, /^note: the key prefix module\. \(DistributedDataParallel\) was removed$/m);

  // every tensor as the state_dict holds it, bit for bit, in rlstm's order
  const imported = readCheckpoint(join(dir, 'imported.safetensors')); // its checksum holds
  const foreign = foreignTensors();
  assert.deepEqual([...imported.tensors.keys()], [...source.tensors.keys()]);
  for (const [name, t] of imported.tensors) {
    assert.deepEqual(t.shape, foreign[name].shape, name);
    assert.deepEqual(new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length),
      new Uint32Array(foreign[name].data.buffer, foreign[name].data.byteOffset, foreign[name].data.length), `${name}: the same bits`);
  }
  assert.deepEqual(JSON.parse(imported.metadata.vocab), foreignWords);
  const config = JSON.parse(imported.metadata.config);
  assert.deepEqual([config.layers, config.hidden, config.layerNorm, config.level, config.batchSize, config.bptt], [2, 8, false, 'word', 4, 5]);
  const from = JSON.parse(imported.metadata.importedFrom);
  assert.equal(from.stateDict.file, 'sd.safetensors');
  assert.equal(from.stateDict.sha256, createHash('sha256').update(readFileSync(join(dir, 'sd.safetensors'))).digest('hex'));
  assert.equal(from.vocab.sha256, createHash('sha256').update(readFileSync(join(dir, 'vocab.txt'))).digest('hex'));
  assert.equal(from.prefixRemoved, 'module.');
  assert.equal(from.pytorch, `nn.Embedding(${V}, 8) -> nn.LSTM(8, 8, 2) -> nn.Linear(8, ${V})`);

  // the same model, its ids renamed: the same perplexity (the softmax sums in another order), with the recorded defaults too
  const original = evalJson('m.safetensors', work, ['--batch-size', '4', '--bptt', '5']);
  const back = evalJson(join(dir, 'imported.safetensors'), dir);
  assert.equal(back.tokens, original.tokens);
  assert.ok(Math.abs(back.perplexity - original.perplexity) <= 1e-6 * original.perplexity, `${back.perplexity} vs ${original.perplexity}`);

  // it works with the other commands: sampling, export, and resuming is refused as for any export
  const sample = rlstm(['generate', '--checkpoint', join(dir, 'imported.safetensors'), '--words', '5', '--backend', 'js'], dir);
  assert.equal(sample.status, 0, sample.stderr);
  assert.equal(sample.stdout.trim().split(/\s+/).length, 5);
  const exported = rlstm(['export', '--checkpoint', 'imported.safetensors', '--out', 'imported.f16.safetensors'], dir);
  assert.equal(exported.status, 0, exported.stderr);
  const resumed = rlstm(['train', '--resume', 'imported.safetensors'], dir);
  assert.equal(resumed.status, 2);
  assert.match(resumed.stderr, /holds no training state/);
});

test('nn.LSTM(bias=False) and nn.Linear(bias=False), in float16 with PyTorch\'s metadata: zero biases, the weights as stored', () => {
  const dir = tempDir('rlstm-import-');
  const tensors = Object.fromEntries(Object.entries(foreignTensors()).filter(([n]) => !n.includes('bias'))
    .map(([n, t]) => [n, { ...t, dtype: 'F16' as const }]));
  writeInputs(dir, tensors, foreignWords, { format: 'pt' });
  const r = rlstm(['import', '--state-dict', 'sd.safetensors', '--vocab', 'vocab.txt', '--out', 'nb.safetensors'], dir);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\(F16\)/);
  assert.match(r.stderr, /note: the LSTM has no biases \(nn\.LSTM bias=False\): they are zero/);
  assert.match(r.stderr, /note: the decoder has no bias \(nn\.Linear bias=False\): it is zero/);
  const imported = readCheckpoint(join(dir, 'nb.safetensors'));
  assert.equal(imported.tensors.size, source.tensors.size, 'every tensor of the model, biases included');
  const stored = readCheckpoint(join(dir, 'sd.safetensors'), '--state-dict', 'x');
  for (const [name, t] of imported.tensors) {
    if (name.includes('bias')) assert.ok(t.data.every((x) => x === 0), `${name}: zero`);
    else assert.deepEqual(t.data, stored.tensors.get(name)!.data, `${name}: the float16 values, exactly`);
  }
  const config = JSON.parse(imported.metadata.config);
  assert.deepEqual([config.batchSize, config.bptt], [20, 35], 'the default evaluation settings');
  assert.deepEqual(JSON.parse(imported.metadata.importedFrom).stateDict.metadata, { format: 'pt' });
});

const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Each bad input: what to change from a good import, and the one line expected. */
const BAD: { what: string; tensors?: (t: Record<string, Tensor>) => void; vocab?: (w: string[]) => string; stateDict?: Buffer | string;
  args?: string[]; error: RegExp }[] = [
  { what: 'a missing tensor', tensors: (t) => { delete t['decoder.weight']; },
    error: /--state-dict sd\.safetensors: tensor decoder\.weight \(the output layer's weights, nn\.Linear's weight\) is missing; the file has encoder\.weight, .*; save the whole state_dict of the README's model \(a decoder tied to the encoder: save its weight under both names\)/ },
  { what: 'another model\'s names', tensors: (t) => { t['embedding.weight'] = t['encoder.weight']; delete t['encoder.weight']; },
    error: /tensor encoder\.weight \(the embedding, nn\.Embedding's weight\) is missing; the file has embedding\.weight, rnn\.weight_ih_l0, .*; save a state_dict of the README's model \(encoder = nn\.Embedding, rnn = nn\.LSTM, decoder = nn\.Linear\), with these attribute names/ },
  { what: 'an extra tensor', tensors: (t) => { t['dropout.p'] = { shape: [1], data: new Float32Array(1) }; },
    error: /tensor dropout\.p is not part of the README's model \(encoder, rnn, decoder\); save the state_dict of exactly that model, or remove the tensor/ },
  { what: 'a layer beyond a missing one', tensors: (t) => { t['rnn.weight_ih_l3'] = t['rnn.weight_ih_l1']; },
    error: /tensor rnn\.weight_ih_l3 belongs to layer 3, but layer 2 is missing \(rnn\.weight_ih_l2\)/ },
  { what: 'an inconsistent shape', tensors: (t) => { t['rnn.weight_ih_l1'] = { shape: [32, 7], data: new Float32Array(224) }; },
    error: /tensor rnn\.weight_ih_l1 is shaped \[32, 7\], but layer 1's input weights \(nn\.LSTM's weight_ih_l1\) must be \[32, 8\] here; save the state_dict of one consistent model/ },
  { what: 'a decoder of another vocabulary', tensors: (t) => { t['decoder.bias'] = { shape: [V + 1], data: new Float32Array(V + 1) }; },
    error: new RegExp(`tensor decoder\\.bias is shaped \\[${V + 1}\\], but the output layer's bias \\(nn\\.Linear's bias\\) must be \\[${V}\\] here`) },
  { what: 'an embedding size other than the hidden size', tensors: (t) => { t['encoder.weight'] = { shape: [V, 6], data: new Float32Array(V * 6) }; },
    error: /the embedding size 6 \(encoder\.weight\) differs from the LSTM's hidden size 8 \(rnn\.weight_hh_l0\); rlstm's model has embedding size = hidden size/ },
  { what: 'one of a layer\'s two biases', tensors: (t) => { delete t['rnn.bias_ih_l1']; },
    error: /tensor rnn\.bias_ih_l1 \(layer 1's input bias, nn\.LSTM's bias_ih_l1\) is missing/ },
  { what: 'biases in one layer only', tensors: (t) => { delete t['rnn.bias_ih_l0']; delete t['rnn.bias_hh_l0']; },
    error: /tensor rnn\.bias_ih_l1 is there but rnn\.bias_ih_l0 and rnn\.bias_hh_l0 are not; nn\.LSTM has both biases in every layer or none/ },
  { what: 'a bidirectional LSTM', tensors: (t) => { t['rnn.weight_ih_l0_reverse'] = t['rnn.weight_ih_l0']; },
    error: /tensor rnn\.weight_ih_l0_reverse belongs to a bidirectional nn\.LSTM; a language model reads left to right: train with bidirectional=False/ },
  { what: 'an LSTM with a projection', tensors: (t) => { t['rnn.weight_hr_l0'] = { shape: [4, 8], data: new Float32Array(32) }; },
    error: /tensor rnn\.weight_hr_l0 is nn\.LSTM's projection \(proj_size > 0\), which rlstm's LSTM has not; train with proj_size=0/ },
  { what: 'a NaN weight', tensors: (t) => { t['rnn.weight_hh_l1'].data[5] = NaN; },
    error: /tensor rnn\.weight_hh_l1 holds NaN \(element 5\); the PyTorch training diverged there/ },
  { what: 'float64 weights', tensors: (t) => { t['decoder.bias'] = { ...t['decoder.bias'], dtype: 'F64' }; },
    error: /sd\.safetensors: tensor decoder\.bias has dtype F64; rlstm reads F32, F16 and BF16; save it with safetensors\.torch\.save_file\(model\.float\(\)\.state_dict\(\), FILE\)/ },
  { what: 'a file that is not safetensors', stateDict: 'encoder.weight 1 2 3\n',
    error: /sd\.safetensors: not a safetensors file .*; save it with safetensors\.torch\.save_file/ },
  { what: 'an rlstm checkpoint', stateDict: 'rlstm',
    error: /this is already an rlstm checkpoint; use it as it is/ },
  { what: 'a vocabulary one token short', vocab: (w) => w.slice(0, -1).map((x) => `${x}\n`).join(''),
    error: new RegExp(`--vocab vocab\\.txt: ${V - 1} tokens, but encoder\\.weight has ${V} rows \\(one per token\\); pass the vocabulary the model was trained with`) },
  { what: 'a duplicate token', vocab: (w) => [...w.slice(0, 6), w[2], ...w.slice(7)].map((x) => `${x}\n`).join(''),
    error: new RegExp(`--vocab vocab\\.txt: line 7 repeats the token ${escaped(JSON.stringify(foreignWords[2]))} of line 3; every token once`) },
  { what: 'a blank line', vocab: (w) => [...w.slice(0, 3), '', ...w.slice(4)].map((x) => `${x}\n`).join(''),
    error: /--vocab vocab\.txt: line 4 is empty; write one token per line, in id order, with no blank lines/ },
  { what: 'a token with a space', vocab: (w) => [...w.slice(0, 3), 'two words', ...w.slice(4)].map((x) => `${x}\n`).join(''),
    error: /--vocab vocab\.txt: line 4 \("two words"\) holds whitespace, which no word has .*; for a character-level model pass --level char/ },
  { what: 'no <eos>', vocab: (w) => w.map((x) => `${x === '<eos>' ? '</s>' : x}\n`).join(''),
    error: /--vocab vocab\.txt: no <eos> token in its \d+ lines; rlstm ends every line of text with <eos>; name the model's end-of-line token <eos> in the file/ },
  { what: 'a missing vocabulary file', args: ['--vocab', 'nowhere.txt'], error: /--vocab nowhere\.txt: no such file; check the path/ },
  { what: 'a missing state_dict', args: ['--state-dict', 'nowhere.safetensors'], error: /--state-dict nowhere\.safetensors: cannot read the file \(ENOENT\); check the path/ },
  { what: '--out on the input', args: ['--out', 'sd.safetensors'], error: /--out sd\.safetensors: the same file as --state-dict; choose another --out/ },
  { what: 'an unknown level', args: ['--level', 'byte'], error: /--level byte: unknown; use word or char/ },
  { what: 'a bad number', args: ['--bptt', '0'], error: /--bptt 0: must be a whole number of at least 1/ },
];

test('every input that does not fit is refused in one line naming it and the fix, and nothing is written', () => {
  for (const bad of BAD) {
    const dir = tempDir('rlstm-import-');
    const tensors = foreignTensors();
    bad.tensors?.(tensors);
    writeInputs(dir, tensors, foreignWords);
    if (bad.vocab) writeFileSync(join(dir, 'vocab.txt'), bad.vocab(foreignWords));
    if (bad.stateDict === 'rlstm') writeFileSync(join(dir, 'sd.safetensors'), readFileSync(join(work, 'm.safetensors')));
    else if (bad.stateDict !== undefined) writeFileSync(join(dir, 'sd.safetensors'), bad.stateDict);
    const r = rlstm(['import', '--state-dict', 'sd.safetensors', '--vocab', 'vocab.txt', '--out', 'out.safetensors', ...(bad.args ?? [])], dir);
    assert.equal(r.status, 2, `${bad.what}: exit status 2, got ${r.status}: ${r.stderr}`);
    assert.equal(r.stdout, '', bad.what);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${bad.what}: one line, got ${r.stderr}`);
    assert.ok(lines[0].startsWith('rlstm: '), `${bad.what}: ${lines[0]}`);
    assert.match(lines[0], bad.error, bad.what);
    assert.ok(!existsSync(join(dir, 'out.safetensors')) && !existsSync(join(dir, 'out.safetensors.tmp')), `${bad.what}: nothing written`);
  }
});

test('a disk that fills up while the checkpoint is written: one line, status 1, the previous file kept, no temporary file', () => {
  const dir = tempDir('rlstm-import-');
  writeInputs(dir, foreignTensors(), foreignWords);
  writeFileSync(join(dir, 'out.safetensors'), 'the previous file');
  const r = rlstm(['import', '--state-dict', 'sd.safetensors', '--vocab', 'vocab.txt', '--out', 'out.safetensors'], dir,
    { RLSTM_FAIL_WRITES: 'ENOSPC:out.safetensors' });
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr.trim(), 'rlstm: out.safetensors: cannot write (ENOSPC: no space left on the device); free some space, or write it elsewhere');
  assert.equal(readFileSync(join(dir, 'out.safetensors'), 'utf8'), 'the previous file');
  assert.ok(!existsSync(join(dir, 'out.safetensors.tmp')));
});

test('a character-level vocabulary: one character per line, spaces included', () => {
  const dir = tempDir('rlstm-import-');
  // the word-level model's shapes with a vocabulary of V single characters (and <eos>, <unk>)
  const chars = [' ', '<eos>', '<unk>'];
  for (let c = 0x61; chars.length < V; c++) chars.push(String.fromCodePoint(c));
  writeInputs(dir, foreignTensors(), chars);
  const ok = rlstm(['import', '--state-dict', 'sd.safetensors', '--vocab', 'vocab.txt', '--out', 'c.safetensors', '--level', 'char'], dir);
  assert.equal(ok.status, 0, ok.stderr);
  const imported = readCheckpoint(join(dir, 'c.safetensors'));
  assert.deepEqual(JSON.parse(imported.metadata.vocab), chars);
  assert.equal(JSON.parse(imported.metadata.config).level, 'char');
  writeFileSync(join(dir, 'vocab.txt'), ['ab', ...chars.slice(1)].map((x) => `${x}\n`).join(''));
  const bad = rlstm(['import', '--state-dict', 'sd.safetensors', '--vocab', 'vocab.txt', '--out', 'c2.safetensors', '--level', 'char'], dir);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^rlstm: --vocab vocab\.txt: line 1 \("ab"\) is not one character \(--level char\)/);
});

// ---------------------------------------------------------------------------------------------- with PyTorch

const torchMissing = torchMissingReason();
const TRAIN = join(PROJECT_ROOT, 'scripts/pytorch_train.py');

for (const variant of [
  { name: 'float32, with __metadata__', args: [] as string[], layers: 2, hidden: 16 },
  { name: 'bfloat16, no __metadata__, trained through DistributedDataParallel', args: ['--dtype', 'bf16', '--no-metadata', '--ddp'], layers: 2, hidden: 12 },
  { name: 'float16, nn.LSTM(bias=False) and nn.Linear(bias=False)', args: ['--dtype', 'f16', '--no-bias'], layers: 1, hidden: 10 },
]) {
  test(`a model trained in PyTorch (${variant.name}) imports and scores PyTorch's perplexity within 1e-5`, (t) => {
    if (torchMissing) { t.skip(`PyTorch not available: ${torchMissing}`); return; }
    const dir = tempDir('rlstm-import-');
    const corpus = tinyCorpus(300); // a few thousand tokens of the bundled PTB
    const splits = [['valid', 3, 7], ['test', 4, 5]] as const;
    const py = spawnSync(PYTHON, [TRAIN, corpus, dir, '--layers', String(variant.layers), '--hidden', String(variant.hidden),
      '--steps', '25', '--batch-size', '4', '--bptt', '6', '--seed', '5', ...variant.args,
      ...splits.flatMap(([split, B, T]) => ['--eval', `${split}:${B}:${T}`])], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(py.status, 0, `pytorch_train.py failed: ${py.stderr}`);
    const torch = JSON.parse(py.stdout.trim().split('\n').at(-1)!);
    if (variant.args.includes('--ddp')) assert.ok(torch.keys.every((k: string) => k.startsWith('module.')), 'DDP names every tensor module.*');
    const imported = rlstm(['import', '--state-dict', 'model.safetensors', '--vocab', 'vocab.txt', '--out', 'rlstm.safetensors'], dir);
    assert.equal(imported.status, 0, imported.stderr);
    splits.forEach(([split, B, T], k) => {
      const theirs = torch.evaluations[k];
      const r = rlstm(['eval', '--checkpoint', 'rlstm.safetensors', '--data', corpus, '--split', split, '--batch-size', String(B),
        '--bptt', String(T), '--json', '--backend', 'js'], dir);
      assert.equal(r.status, 0, r.stderr);
      const ours = JSON.parse(r.stdout.trim());
      t.diagnostic(`${split} B=${B} T=${T}: PyTorch ${theirs.perplexity}, rlstm ${ours.perplexity} (${theirs.tokens} tokens; file ${torch.writer})`);
      assert.equal(ours.tokens, theirs.tokens, `${split}: predicted tokens`);
      assert.ok(theirs.perplexity > 50 && theirs.perplexity < 5000, `${split}: a trained model's perplexity, ${theirs.perplexity}`);
      assert.ok(Math.abs(ours.perplexity - theirs.perplexity) <= 1e-5 * theirs.perplexity,
        `${split}: rlstm ${ours.perplexity} vs PyTorch ${theirs.perplexity}`);
    });
  });
}
