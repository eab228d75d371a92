import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../src/errors.js';
import { createModel, initializeParameters } from '../src/model/params.js';
import { decodeSafetensors, loadParametersInto, readCheckpoint, saveCheckpoint } from '../src/train/checkpoint.js';
import { createRng } from '../src/util/rng.js';
import { tempDir } from './helpers.js';

test('safetensors round trip: PyTorch names and shapes, metadata, bit-identical weights', () => {
  const config = { vocabSize: 13, hidden: 6, layers: 2, layerNorm: false };
  const model = createModel(config);
  initializeParameters(model, 0.1, createRng(3));
  const path = join(tempDir(), 'm.safetensors');
  saveCheckpoint(path, model, { config: '{"hidden":6}', vocab: '["a"]' });
  const checkpoint = readCheckpoint(path);
  assert.deepEqual([...checkpoint.tensors.keys()], [
    'encoder.weight', 'rnn.weight_ih_l0', 'rnn.weight_hh_l0', 'rnn.bias_ih_l0', 'rnn.bias_hh_l0',
    'rnn.weight_ih_l1', 'rnn.weight_hh_l1', 'rnn.bias_ih_l1', 'rnn.bias_hh_l1', 'decoder.weight', 'decoder.bias',
  ]);
  assert.deepEqual(checkpoint.tensors.get('rnn.weight_ih_l0')!.shape, [24, 6]);
  assert.deepEqual(checkpoint.tensors.get('decoder.weight')!.shape, [13, 6]);
  assert.equal(checkpoint.metadata.config, '{"hidden":6}');
  assert.equal(checkpoint.metadata.vocab, '["a"]');
  const copy = createModel(config);
  loadParametersInto(copy, checkpoint, path);
  assert.deepEqual(copy.params, model.params);
  // the header length is a little-endian u64 and the data starts 8-byte aligned
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  assert.equal(headerLength % 8, 0);
  assert.equal(bytes.length, 8 + headerLength + model.params.length * 4);
});

test('tensor data starts 8-byte aligned even with non-ASCII metadata, and decodes without a copy', () => {
  const model = createModel({ vocabSize: 5, hidden: 3, layers: 1, layerNorm: false });
  initializeParameters(model, 0.1, createRng(2));
  const path = join(tempDir(), 'unicode.safetensors');
  saveCheckpoint(path, model, { vocab: JSON.stringify(['é', '日本', '🙂', 'a', '<unk>']) }); // 2-, 3- and 4-byte UTF-8
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  assert.equal((8 + headerLength) % 8, 0, 'the data section is aligned');
  const loaded = decodeSafetensors(bytes, path);
  const encoder = loaded.tensors.get('encoder.weight')!.data;
  assert.equal(encoder.buffer, bytes.buffer, 'a view of the file bytes');
  assert.deepEqual(encoder, model.encoder.weight);
  assert.equal(JSON.parse(loaded.metadata.vocab)[1], '日本');
});

test('layer-norm gains get their own tensor names', () => {
  const model = createModel({ vocabSize: 5, hidden: 3, layers: 1, layerNorm: true });
  const names = model.tensors.map((t) => t.name);
  for (const n of ['rnn.ln_ih_gain_l0', 'rnn.ln_hh_gain_l0', 'rnn.ln_cell_gain_l0', 'rnn.ln_cell_bias_l0']) assert.ok(names.includes(n), n);
});

test('a corrupted, truncated or foreign file is rejected with a one-line UserError', () => {
  const model = createModel({ vocabSize: 5, hidden: 3, layers: 1, layerNorm: false });
  initializeParameters(model, 0.1, createRng(1));
  const dir = tempDir();
  const path = join(dir, 'm.safetensors');
  saveCheckpoint(path, model, { config: '{}', vocab: '[]' });
  const good = readFileSync(path);
  const flipped = Buffer.from(good); flipped[flipped.length - 3] ^= 0xff;
  assert.throws(() => decodeSafetensors(flipped, 'flipped'), (e: unknown) => e instanceof UserError && /checksum/.test(e.message));
  assert.throws(() => decodeSafetensors(good.subarray(0, good.length - 10), 'short'), UserError);
  assert.throws(() => decodeSafetensors(Buffer.from('hello world, not a model'), 'text'), /not a safetensors file/);
  writeFileSync(join(dir, 'x'), 'x');
  assert.throws(() => readCheckpoint(join(dir, 'missing')), /cannot read the file/);
  const other = createModel({ vocabSize: 5, hidden: 4, layers: 1, layerNorm: false });
  assert.throws(() => loadParametersInto(other, readCheckpoint(path), path), /does not match this configuration/);
});
