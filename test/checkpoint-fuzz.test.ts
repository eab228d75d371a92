import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../src/errors.js';
import { CONFIGS } from '../src/model/configs.js';
import { createModel, initializeParameters } from '../src/model/params.js';
import {
  decodeSafetensors, encodeSafetensors, modelTensors, readCheckpoint, safetensorsPieces,
} from '../src/train/checkpoint.js';
import { exportCheckpoint } from '../src/train/export.js';
import { modelFromCheckpoint } from '../src/train/load.js';
import { createRng, nextFloat, nextUint32, type Rng } from '../src/util/rng.js';
import { rlstm, tempDir } from './helpers.js';

// Checkpoint files from anywhere (issue 17): every malformed file is refused in one line, before
// anything is allocated from its header; several hundred seeded random mutations of a real checkpoint
// either load the very same model (the checksum held) or are refused that way.

const SOURCE = 'fuzz.safetensors';

/** A real checkpoint of a tiny model (vocabulary 50, 2 layers of 8), as training writes it, and in float16. */
function tinyCheckpoints(): { f32: Uint8Array; f16: Uint8Array } {
  const model = createModel({ vocabSize: 50, hidden: 8, layers: 2, layerNorm: false });
  initializeParameters(model, 0.1, createRng(17));
  const metadata = {
    config: JSON.stringify({ ...CONFIGS.small, hidden: 8, layers: 2 }),
    vocab: JSON.stringify(['<unk>', '<eos>', ...Array.from({ length: 48 }, (_, k) => `w${k}`)]),
    corpus: 'fingerprint', trainingState: JSON.stringify({ step: 3 }), hiddenState: 'AAAA',
  };
  const f32 = encodeSafetensors(modelTensors(model), metadata);
  const pieces = exportCheckpoint(decodeSafetensors(f32, 'tiny'), 'tiny', 'F16').pieces;
  return { f32, f16: Buffer.concat(pieces) };
}

/** The model's parameters as bits, or the UserError that refused the file; anything else is thrown. */
function load(bytes: Uint8Array): Uint32Array | UserError {
  try {
    const { model } = modelFromCheckpoint(decodeSafetensors(bytes, SOURCE), SOURCE);
    return new Uint32Array(model.params.buffer, model.params.byteOffset, model.params.length);
  } catch (err) {
    if (err instanceof UserError) return err;
    throw err;
  }
}

const randomInt = (rng: Rng, n: number): number => nextUint32(rng) % n;

/** One random mutation of `good`, with a description for the failure message. */
function mutate(good: Uint8Array, rng: Rng): { kind: string; bytes: Uint8Array } {
  const headerLength = Number(Buffer.from(good).readBigUInt64LE(0));
  const bytes = Uint8Array.from(good);
  const view = new DataView(bytes.buffer);
  const inHeader = (): number => 8 + randomInt(rng, headerLength);
  const inData = (): number => 8 + headerLength + randomInt(rng, good.length - 8 - headerLength);
  switch (randomInt(rng, 9)) {
    case 0: { const n = randomInt(rng, good.length); return { kind: `truncated to ${n} bytes`, bytes: bytes.subarray(0, n) }; }
    case 1: { const at = randomInt(rng, 8), x = 1 + randomInt(rng, 255); bytes[at] ^= x; return { kind: `length byte ${at} ^= ${x}`, bytes }; }
    case 2: { const at = inHeader(), x = 1 << randomInt(rng, 8); bytes[at] ^= x; return { kind: `header byte ${at} ^= ${x}`, bytes }; }
    case 3: { // a digit of the header replaced by another: shapes and offsets that still parse
      const digits = [...Array(headerLength).keys()].map((k) => k + 8).filter((k) => bytes[k] >= 0x30 && bytes[k] <= 0x39);
      const at = digits[randomInt(rng, digits.length)], d = 0x30 + randomInt(rng, 10);
      bytes[at] = d;
      return { kind: `header digit at ${at} := ${String.fromCharCode(d)}`, bytes };
    }
    case 4: { const at = inData(), x = 1 << randomInt(rng, 8); bytes[at] ^= x; return { kind: `data byte ${at} ^= ${x}`, bytes }; }
    case 5: { // the header length shrunk or grown by up to 64 bytes (into the padding, the JSON or the data)
      const by = 1 + randomInt(rng, 64), grow = nextFloat(rng) < 0.5;
      view.setBigUint64(0, BigInt(grow ? headerLength + by : headerLength - by), true);
      return { kind: `header length ${grow ? '+' : '-'}${by}`, bytes };
    }
    case 6: { // a random 64-bit header length
      const length = (BigInt(nextUint32(rng)) << 32n) | BigInt(nextUint32(rng));
      view.setBigUint64(0, length >> BigInt(randomInt(rng, 64)), true);
      return { kind: `header length ${view.getBigUint64(0, true)}`, bytes };
    }
    case 7: { // a header byte replaced by JSON punctuation or a space
      const at = inHeader(), c = ' ,:[]{}"\\0-'.charCodeAt(randomInt(rng, 11));
      bytes[at] = c;
      return { kind: `header byte ${at} := ${JSON.stringify(String.fromCharCode(c))}`, bytes };
    }
    default: { // bytes appended
      const extra = new Uint8Array(1 + randomInt(rng, 16)).map(() => randomInt(rng, 256));
      return { kind: `${extra.length} bytes appended`, bytes: Buffer.concat([bytes, extra]) };
    }
  }
}

test('seeded random mutations of a real checkpoint (float32 and float16) load the same model or are refused in one line', () => {
  const started = performance.now();
  const { f32, f16 } = tinyCheckpoints();
  const rng = createRng(2024);
  const tally = { loaded: 0, refused: 0 };
  const refusals = new Map<string, number>();
  for (const [name, good] of [['float32', f32], ['float16', f16]] as const) {
    const expected = load(good);
    assert.ok(expected instanceof Uint32Array, `the unmutated ${name} file loads`);
    for (let k = 0; k < 400; k++) {
      const { kind, bytes } = mutate(good, rng);
      const t0 = performance.now();
      let result: Uint32Array | UserError;
      try {
        result = load(bytes);
      } catch (err) {
        assert.fail(`${name}, ${kind}: not a UserError: ${(err as Error).stack}`);
      }
      assert.ok(performance.now() - t0 < 1000, `${name}, ${kind}: took ${performance.now() - t0} ms`);
      if (result instanceof UserError) {
        assert.ok(!result.message.includes('\n'), `${name}, ${kind}: a message of several lines: ${result.message}`);
        assert.ok(result.message.startsWith(`${SOURCE}: `) || result.message.startsWith(`--checkpoint ${SOURCE}: `),
          `${name}, ${kind}: the message names the file: ${result.message}`);
        tally.refused++;
        const why = result.message.replace(/\d+/g, 'N').replace(/tensors? \S+/g, 'tensor X').slice(0, 90);
        refusals.set(why, (refusals.get(why) ?? 0) + 1);
      } else {
        assert.deepEqual(result, expected, `${name}, ${kind}: loaded, but not the same weights`);
        tally.loaded++;
      }
    }
  }
  const seconds = (performance.now() - started) / 1000;
  for (const [why, n] of [...refusals].sort((a, b) => b[1] - a[1])) console.log(`# ${n} × ${why}`);
  console.log(`# ${tally.loaded} loaded unchanged, ${tally.refused} refused, ${seconds.toFixed(2)} s`);
  assert.ok(tally.loaded > 0 && tally.refused > 600, `both outcomes occur (${JSON.stringify(tally)})`);
  assert.ok(refusals.size >= 8, `the mutations reach many different checks (${refusals.size})`);
  assert.ok(seconds < 20, `${seconds} s`);
});

test('mutated files through rlstm eval: one line, exit 2', () => {
  const { f32 } = tinyCheckpoints();
  const dir = tempDir();
  const headerLength = Number(Buffer.from(f32).readBigUInt64LE(0));
  const cases: [string, Uint8Array, RegExp][] = [
    ['truncated', f32.subarray(0, f32.length - 7), /lie outside the \d+ bytes of data \(the file is truncated or damaged\)/],
    ['huge-length', Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x80]), f32.subarray(8)]), /header length 9223372036854775808 is over the 100 MB limit/],
    ['data-flip', Uint8Array.from(f32, (b, k) => (k === f32.length - 5 ? b ^ 1 : b)), /checksum mismatch/],
    ['header-flip', Uint8Array.from(f32, (b, k) => (k === 9 ? 0xff : b)), /the header is not UTF-8/],
    ['grown', ((): Uint8Array => { const b = Uint8Array.from(f32); new DataView(b.buffer).setBigUint64(0, BigInt(headerLength + 8), true); return b; })(),
      /not a safetensors file \(the header is not (valid JSON|UTF-8)\)/],
  ];
  for (const [name, bytes, message] of cases) {
    writeFileSync(join(dir, `${name}.safetensors`), bytes);
    const r = rlstm(['eval', '--checkpoint', `${name}.safetensors`], dir);
    assert.equal(r.status, 2, `${name}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${name}: one line, got ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^rlstm: ${name}\\.safetensors: `), name);
    assert.match(r.stderr, message, name);
  }
});

// ----------------------------------------------------------------------------- hand-made files

/** A safetensors file from a header (an object, or raw text) and data bytes; `length` overrides the header length. */
function file(header: unknown, data: Uint8Array = new Uint8Array(0), length?: bigint): Uint8Array {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const start = Buffer.alloc(8);
  start.writeBigUInt64LE(length ?? BigInt(json.length));
  return Buffer.concat([start, json, data]);
}

function refused(bytes: Uint8Array, message: RegExp): void {
  assert.throws(() => decodeSafetensors(bytes, SOURCE), (err: unknown) => {
    assert.ok(err instanceof UserError, `a UserError, not ${String(err)}`);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    assert.match(err.message, new RegExp(`^${SOURCE}: `));
    assert.match(err.message, message);
    assert.match(err.message, /; pass a checkpoint written by 'rlstm train' or 'rlstm export'$/);
    return true;
  });
}

const f32 = (...values: number[]): Uint8Array => new Uint8Array(new Float32Array(values).buffer);
const tensor = (dtype: string, shape: unknown, offsets: unknown): unknown => ({ dtype, shape, data_offsets: offsets });

test('the header length: too short a file, over 100 MB (64-bit lengths included), past the end, too small', () => {
  refused(Buffer.from([1, 2, 3, 4, 5]), /not a safetensors file \(5 bytes, too short to hold a header length\)/);
  refused(file({}, undefined, 2n ** 64n - 1n), /not a safetensors file \(its header length 18446744073709551615 is over the 100 MB limit\)/);
  refused(file({}, undefined, 2n ** 53n + 1n), /its header length 9007199254740993 is over the 100 MB limit/);
  refused(file({}, undefined, 100_000_001n), /its header length 100000001 is over the 100 MB limit/);
  refused(file({}, new Uint8Array(10), 50_000_000n), /not a safetensors file, or truncated \(its header length 50000000 exceeds the 12 bytes after it\)/);
  refused(file('', new Uint8Array(4)), /its header length 0 is too small/);
  assert.equal(decodeSafetensors(file({}), SOURCE).tensors.size, 0, 'an empty header is a (useless) safetensors file');
});

test('the header: UTF-8, JSON, an object, string metadata; trailing spaces allowed, trailing garbage not', () => {
  refused(Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]), /not a safetensors file \(the header is not UTF-8\)/);
  refused(file('{"a": '), /not a safetensors file \(the header is not valid JSON\)/);
  refused(file('{}xyz'), /the header is not valid JSON/);
  for (const header of ['[1, 2]', '"text"', 'null', '77']) refused(file(header), /not a safetensors file \(the header is not a JSON object\)/);
  refused(file({ __metadata__: { config: 1 } }), /the header's __metadata__ entry config is not a string/);
  refused(file({ __metadata__: ['a'] }), /the header's __metadata__ is not an object of strings/);
  refused(file({ __metadata__: 'a' }), /the header's __metadata__ is not an object of strings/);
  const padded = decodeSafetensors(file('{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}    ', f32(2.5)), SOURCE);
  assert.deepEqual([...padded.tensors.get('x')!.data], [2.5]);
});

test('tensors: unknown dtypes, bad shapes and offsets, a size that differs from the span, outside the data', () => {
  for (const dtype of ['F64', 'I32', 'f32', 'toString', '__proto__']) {
    refused(file({ x: tensor(dtype, [1], [0, 4]) }, f32(1)), new RegExp(`tensor x has dtype ${dtype}; rlstm reads F32, F16 and BF16`));
  }
  refused(file({ x: 5 }, f32(1)), /tensor x has dtype undefined; rlstm reads F32, F16 and BF16/);
  for (const shape of [[-1], [1.5], ['1'], 1, null, [2 ** 60]]) {
    refused(file({ x: tensor('F32', shape, [0, 4]) }, f32(1)), /tensor x: shape .* is not a list of non-negative integers/);
  }
  for (const offsets of [[0], [0, 4, 8], [4, 0], ['0', '4'], [-4, 0], [0, 4.5], null]) {
    refused(file({ x: tensor('F32', [1], offsets) }, f32(1)), /tensor x: data_offsets .* is not a pair of integers begin <= end/);
  }
  refused(file({ x: tensor('F32', [100], [0, 400]) }, f32(1, 2, 3, 4)),
    /tensor x: data_offsets \[0, 400\] lie outside the 16 bytes of data \(the file is truncated or damaged\)/);
  refused(file({ x: tensor('F32', [3], [0, 16]) }, f32(1, 2, 3, 4)),
    /tensor x: shape \[3\] of F32 takes 12 bytes, but data_offsets \[0, 16\] span 16/);
  refused(file({ x: tensor('F16', [4], [0, 16]) }, f32(1, 2, 3, 4)), /shape \[4\] of F16 takes 8 bytes, but data_offsets \[0, 16\] span 16/);
  // a shape whose byte size overflows 2^53 is compared exactly, not rounded
  refused(file({ x: tensor('F32', [2 ** 52, 2 ** 52], [0, 16]) }, f32(1, 2, 3, 4)), /takes 81129638414606681695789005144064 bytes/);
  // a name that would break the line is quoted
  refused(file({ 'a\nb': tensor('F64', [1], [0, 4]) }, f32(1)), /tensor "a\\nb" has dtype F64/);
});

test('the tensors tile the data: overlapping tensors, a gap, stray bytes at the end are refused', () => {
  refused(file({ a: tensor('F32', [2], [0, 8]), b: tensor('F32', [2], [4, 12]) }, f32(1, 2, 3)), /tensors a and b overlap \(bytes 4\.\.8 of the data\)/);
  refused(file({ a: tensor('F32', [2], [0, 8]), b: tensor('F32', [2], [0, 8]) }, f32(1, 2)), /tensors a and b overlap/);
  refused(file({ a: tensor('F32', [1], [0, 4]), b: tensor('F32', [1], [8, 12]) }, f32(1, 2, 3)), /bytes 4\.\.8 of the data belong to no tensor/);
  refused(file({ a: tensor('F32', [1], [0, 4]) }, f32(1, 2)), /bytes 4\.\.8 of the data belong to no tensor/);
  refused(file({}, f32(1)), /bytes 0\.\.4 of the data belong to no tensor/);
  // an empty tensor takes no bytes, anywhere; the order of the header does not matter
  const ok = decodeSafetensors(file({ b: tensor('F32', [1], [4, 8]), empty: tensor('F32', [0, 3], [4, 4]), a: tensor('F16', [2], [0, 4]) },
    Buffer.concat([Buffer.from([0x00, 0x3c, 0x00, 0xc0]), f32(7)])), SOURCE);
  assert.deepEqual([...ok.tensors.keys()], ['b', 'empty', 'a']);
  assert.deepEqual([...ok.tensors.get('a')!.data], [1, -2]);
  assert.deepEqual([...ok.tensors.get('b')!.data], [7]);
  assert.equal(ok.dtype, 'mixed');
});

test('the checksum: a mismatch, and one missing from a file in our format, are refused', () => {
  const model = createModel({ vocabSize: 5, hidden: 2, layers: 1, layerNorm: false });
  const good = Buffer.concat(safetensorsPieces(modelTensors(model), { config: '{}', vocab: '[]' }));
  const headerLength = Number(good.readBigUInt64LE(0));
  const header = JSON.parse(good.subarray(8, 8 + headerLength).toString('utf8'));
  const data = good.subarray(8 + headerLength);
  const { sha256: _, ...withoutChecksum } = header.__metadata__;
  refused(file({ ...header, __metadata__: withoutChecksum }, data), /the file is damaged \(its sha256 checksum is missing, which every regularized-lstm\/1 file has\)/);
  refused(file({ ...header, __metadata__: { ...header.__metadata__, sha256: '0'.repeat(64) } }, data), /the file is corrupted or truncated \(checksum mismatch\)/);
  refused(file({ ...header, __metadata__: { ...header.__metadata__, vocab: '["x"]' } }, data), /checksum mismatch/);
  // a file from elsewhere (not our format) has no checksum to check
  const { format: _f, ...foreign } = withoutChecksum;
  assert.equal(decodeSafetensors(file({ ...header, __metadata__: foreign }, data), SOURCE).tensors.size, 7);
});

test('missing and extra tensors, and a config that does not describe a model, are refused when the model is built', () => {
  const model = createModel({ vocabSize: 5, hidden: 2, layers: 1, layerNorm: false });
  const vocab = JSON.stringify(['a', 'b', 'c', '<unk>', '<eos>']);
  const config = JSON.stringify({ ...CONFIGS.small, hidden: 2, layers: 1 });
  const build = (tensors: ReturnType<typeof modelTensors>, metadata = { config, vocab }): (() => unknown) =>
    () => modelFromCheckpoint(decodeSafetensors(encodeSafetensors(tensors, metadata), SOURCE), SOURCE);
  assert.doesNotThrow(build(modelTensors(model)));
  const oneLine = (message: RegExp) => (err: unknown): boolean =>
    err instanceof UserError && !err.message.includes('\n') && message.test(err.message);
  assert.throws(build(modelTensors(model).filter((t) => t.name !== 'decoder.bias')),
    oneLine(/^fuzz.safetensors: tensor decoder.bias is missing, the model needs 5; the checkpoint does not match this configuration$/));
  assert.throws(build([...modelTensors(model), { name: 'extra.weight', shape: [1], data: new Float32Array(1) }]),
    oneLine(/^fuzz.safetensors: tensor extra.weight is not part of the model its config describes; the checkpoint does not match this configuration$/));
  for (const bad of [{ config, vocab: '[1, 2]' }, { config, vocab: '[]' }, { config: '{', vocab },
    { config: JSON.stringify({ layers: 1e9, hidden: 2 }), vocab }, { config: JSON.stringify({ layers: 1, hidden: -2 }), vocab },
    { config: JSON.stringify({ layers: 1, hidden: 2, layerNorm: 'no' }), vocab }]) {
    assert.throws(build(modelTensors(model), bad),
      oneLine(/^--checkpoint fuzz.safetensors: the metadata lacks a valid config or vocab; pass a checkpoint written by 'rlstm train'$/),
      JSON.stringify(bad));
  }
});

test('readCheckpoint checks the header length against the file size before reading the file', () => {
  const dir = tempDir();
  const path = join(dir, 'big-length.safetensors');
  writeFileSync(path, file({}, new Uint8Array(100), 1_000_000n));
  assert.throws(() => readCheckpoint(path), /big-length.safetensors: not a safetensors file, or truncated \(its header length 1000000 exceeds the 102 bytes after it\)/);
  writeFileSync(join(dir, 'tiny.safetensors'), 'abc');
  assert.throws(() => readCheckpoint(join(dir, 'tiny.safetensors')), /tiny.safetensors: not a safetensors file \(3 bytes, too short/);
  mkdirSync(join(dir, 'folder.safetensors'));
  assert.throws(() => readCheckpoint(join(dir, 'folder.safetensors')), /--checkpoint .*folder.safetensors: cannot read the file \(EISDIR\); check the path/);
});
