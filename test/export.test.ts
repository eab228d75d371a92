import assert from 'node:assert/strict';
import { existsSync, linkSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeSafetensors, readCheckpoint } from '../src/train/checkpoint.js';
import { bfloat16ToFloat32, float16ToFloat32, float32ToBfloat16, float32ToFloat16 } from '../src/util/float16.js';
import { rlstm, tempDir, tinyCorpus } from './helpers.js';

// rlstm export (issue 16): float16, bfloat16 and float32 files of a trained model, with the model's
// metadata and no training state; every command that reads a checkpoint reads them; resuming is refused.

const TINY = ['--hidden', '8', '--bptt', '5', '--batch-size', '4', '--backend', 'js', '--seed', '3',
  '--test-batch-size', '4', '--test-bptt', '5'];

const data = tinyCorpus(200);
const work = tempDir();
const trained = rlstm(['train', '--data', data, '--epochs', '1', '--save', 'm.safetensors', '--log', 'm.json', ...TINY], work);
assert.equal(trained.status, 0, trained.stderr);
const source = readCheckpoint(join(work, 'm.safetensors'));

function exportOk(args: string[]): string {
  const r = rlstm(['export', '--checkpoint', 'm.safetensors', ...args], work);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 1, `one line: ${r.stdout}`);
  return r.stdout.trim();
}

test('export f16, bf16, f32: each weight rounded to nearest even, the model\'s metadata kept, the training state dropped', () => {
  const rounders = {
    f16: (x: number) => float16ToFloat32(float32ToFloat16(x)),
    bf16: (x: number) => bfloat16ToFloat32(float32ToBfloat16(x)),
    f32: (x: number) => x,
  };
  assert.ok(source.metadata.trainingState && source.metadata.hiddenState && source.metadata.logPath, 'the source has training state');
  for (const [flag, dtype, name] of [['f16', 'F16', 'float16'], ['bf16', 'BF16', 'bfloat16'], ['f32', 'F32', 'float32']] as const) {
    const line = exportOk(['--dtype', flag]); // the default --out: m.<dtype>.safetensors
    const weights = source.tensors.size;
    const count = [...source.tensors.values()].reduce((s, t) => s + t.data.length, 0);
    const bytes = count * (flag === 'f32' ? 4 : 2);
    assert.match(line, new RegExp(`^exported m\\.safetensors as ${name} to m\\.${flag}\\.safetensors: ${weights} tensors, `
      + `${count.toLocaleString('en-US')} weights, ${(count * 4).toLocaleString('en-US')} -> ${bytes.toLocaleString('en-US')} bytes of weights `
      + `\\(file [\\d,]+ -> ${statSync(join(work, `m.${flag}.safetensors`)).size.toLocaleString('en-US')} bytes, training state dropped\\)`
      + (flag === 'f32' ? '$' : '; largest rounding change of a weight \\d\\.\\d\\de-\\d+$')));
    const exported = readCheckpoint(join(work, `m.${flag}.safetensors`)); // the checksum holds
    assert.equal(exported.dtype, dtype);
    assert.deepEqual(Object.keys(exported.metadata).sort(),
      ['config', 'corpus', 'dataSource', 'dtype', 'exportedFrom', 'format', 'scores', 'sha256', 'vocab']);
    const state = JSON.parse(source.metadata.trainingState);
    assert.deepEqual(JSON.parse(exported.metadata.scores), {
      epochs: 1, validPerplexity: state.epochs[0].validPerplexity, testPerplexity: state.test.perplexity,
      testProtocol: { batchSize: 4, bptt: 5, tokens: state.test.tokens, complete: true },
    }, 'what the run scored, from its training state');
    for (const key of ['config', 'vocab', 'corpus', 'dataSource']) assert.equal(exported.metadata[key], source.metadata[key], key);
    assert.equal(exported.metadata.dtype, dtype);
    const from = JSON.parse(exported.metadata.exportedFrom);
    assert.equal(from.file, 'm.safetensors');
    assert.equal(from.sha256, source.metadata.sha256);
    assert.equal(from.dtype, 'F32');
    assert.equal(from.step, JSON.parse(source.metadata.trainingState).step);
    assert.deepEqual([...exported.tensors.keys()], [...source.tensors.keys()]);
    for (const [tensor, t] of source.tensors) {
      const e = exported.tensors.get(tensor)!;
      assert.deepEqual(e.shape, t.shape);
      assert.equal(e.dtype, dtype);
      const expected = Float32Array.from(t.data, rounders[flag]);
      assert.deepEqual(e.data, expected, `${tensor}: every weight the nearest ${name}`);
    }
    // the file holds nothing else: header, then exactly the stored tensor bytes
    const file = readFileSync(join(work, `m.${flag}.safetensors`));
    assert.equal(file.length, 8 + Number(file.readBigUInt64LE(0)) + bytes);
  }
});

test('eval, generate, plot --weights and report read a float16 export, computing in float32', () => {
  const evalJson = (file: string): { perplexity: number; tokens: number } => {
    const r = rlstm(['eval', '--checkpoint', file, '--split', 'valid', '--json', '--backend', 'js'], work);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim());
  };
  exportOk(['--dtype', 'f16', '--out', 'e.f16.safetensors']);
  exportOk(['--dtype', 'bf16', '--out', 'e.bf16.safetensors']);
  exportOk(['--dtype', 'f32', '--out', 'e.f32.safetensors']);
  const original = evalJson('m.safetensors'); // eval finds the corpus through the kept dataSource
  const half = evalJson('e.f16.safetensors');
  const brain = evalJson('e.bf16.safetensors');
  assert.equal(evalJson('e.f32.safetensors').perplexity, original.perplexity, 'float32 export: the same bits');
  assert.equal(half.tokens, original.tokens);
  const relative = (x: number): number => Math.abs(x - original.perplexity) / original.perplexity;
  console.log(`# valid perplexity: float32 ${original.perplexity}, float16 ${half.perplexity} (${relative(half.perplexity).toExponential(1)}), `
    + `bfloat16 ${brain.perplexity} (${relative(brain.perplexity).toExponential(1)})`);
  assert.ok(relative(half.perplexity) < 1e-3, `float16 perplexity ${half.perplexity} vs ${original.perplexity}`);
  assert.ok(relative(brain.perplexity) < 1e-2, `bfloat16 perplexity ${brain.perplexity} vs ${original.perplexity}`);
  assert.notEqual(half.perplexity, original.perplexity, 'the weights were rounded');

  const sample = rlstm(['generate', '--checkpoint', 'e.f16.safetensors', '--words', '20', '--seed', '2', '--backend', 'js'], work);
  assert.equal(sample.status, 0, sample.stderr);
  assert.ok(sample.stdout.trim().split(/\s+/).length >= 5, sample.stdout);
  const plot = rlstm(['plot', '--weights', 'e.f16.safetensors', '--out', 'w.svg'], work);
  assert.equal(plot.status, 0, plot.stderr);
  assert.ok(readFileSync(join(work, 'w.svg'), 'utf8').includes('decoder.weight'));
  const report = rlstm(['report', 'm.json', '--checkpoint', 'e.f16.safetensors', '--out', 'r.html', '--backend', 'js'], work);
  assert.equal(report.status, 0, report.stderr);
  assert.ok(readFileSync(join(work, 'r.html'), 'utf8').includes('e.f16.safetensors'));
});

test('resuming from an export is refused in one line: train --resume and reproduce --resume', () => {
  exportOk(['--dtype', 'f16', '--out', 'r.f16.safetensors']);
  exportOk(['--dtype', 'bf16', '--out', 'r.bf16.safetensors']);
  exportOk(['--dtype', 'f32', '--out', 'r.f32.safetensors']);
  const cases: [string[], RegExp][] = [
    [['train', '--resume', 'r.f16.safetensors'],
      /^rlstm: --resume r\.f16\.safetensors: a float16 file \(rlstm export\) holds no training state and has lost precision; resume from the float32 checkpoint that training wrote$/],
    [['train', '--resume', 'r.bf16.safetensors'], /^rlstm: --resume r\.bf16\.safetensors: a bfloat16 file \(rlstm export\) holds no training state/],
    [['reproduce', 'small', '--checkpoint', 'r.f16.safetensors', '--resume', '--out', 'results'],
      /^rlstm: --resume r\.f16\.safetensors: a float16 file \(rlstm export\) holds no training state and has lost precision/],
    [['train', '--resume', 'r.f32.safetensors'], /^rlstm: --resume r\.f32\.safetensors: the checkpoint holds no training state \(it can be evaluated, not resumed\)/],
  ];
  for (const [args, message] of cases) {
    const before = readFileSync(join(work, args.includes('--checkpoint') ? 'r.f16.safetensors' : args[2]));
    const r = rlstm(args, work);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr.trim(), message);
    assert.deepEqual(readFileSync(join(work, args.includes('--checkpoint') ? 'r.f16.safetensors' : args[2])), before, 'left as it was');
  }
  assert.ok(!existsSync(join(work, 'results')), 'reproduce wrote nothing');
});

test('export refuses to overwrite its source, a folder, a missing folder, and a weight beyond float16', () => {
  const before = readFileSync(join(work, 'm.safetensors'));
  linkSync(join(work, 'm.safetensors'), join(work, 'hardlink.safetensors'));
  mkdirSync(join(work, 'a-folder'));
  const cases: [string[], RegExp][] = [
    [['--out', './m.safetensors'], /^rlstm: --out \.\/m\.safetensors: the same file as --checkpoint; an export holds no training state, so writing it there would lose the run's; choose another --out$/],
    [['--out', 'hardlink.safetensors'], /^rlstm: --out hardlink\.safetensors: the same file as --checkpoint/],
    [['--out', 'a-folder'], /^rlstm: --out a-folder: a folder, not a file; name the file to write$/],
    [['--out', 'nowhere/x.safetensors'], /^rlstm: --out nowhere\/x\.safetensors: the folder .*nowhere does not exist; create it or choose another path$/],
  ];
  for (const [args, message] of cases) {
    const r = rlstm(['export', '--checkpoint', 'm.safetensors', ...args], work);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr.trim(), message);
  }
  assert.deepEqual(readFileSync(join(work, 'm.safetensors')), before);
  const unknown = rlstm(['export', '--checkpoint', 'm.safetensors', '--dtype', 'f8'], work);
  assert.notEqual(unknown.status, 0);
  assert.match(unknown.stderr, /'f8' is invalid. Allowed choices are f16, bf16, f32/);

  // a model with one weight past 65504 (checksum redone): float16 cannot hold it, bfloat16 can
  const tensors = [...source.tensors].map(([name, t]) => ({ name, shape: t.shape, data: Float32Array.from(t.data) }));
  tensors.find((t) => t.name === 'decoder.bias')!.data[3] = 70000;
  const { sha256: _, format: _f, ...metadata } = source.metadata;
  writeFileSync(join(work, 'big.safetensors'), encodeSafetensors(tensors, metadata));
  const big = rlstm(['export', '--checkpoint', 'big.safetensors', '--dtype', 'f16', '--out', 'big.f16.safetensors'], work);
  assert.equal(big.status, 2);
  assert.equal(big.stderr.trim(), 'rlstm: --checkpoint big.safetensors: tensor decoder.bias holds 70000 (element 3), '
    + 'beyond float16\'s range (±65504); export it as --dtype bf16 or f32');
  assert.ok(!existsSync(join(work, 'big.f16.safetensors')) && !existsSync(join(work, 'big.f16.safetensors.tmp')), 'nothing written');
  const asBf16 = rlstm(['export', '--checkpoint', 'big.safetensors', '--dtype', 'bf16', '--out', 'big.bf16.safetensors'], work);
  assert.equal(asBf16.status, 0, asBf16.stderr);
  assert.equal(readCheckpoint(join(work, 'big.bf16.safetensors')).tensors.get('decoder.bias')!.data[3], 70144);
});

test('export replaces an existing --out whole; an export of an export keeps the chain of provenance', () => {
  writeFileSync(join(work, 'old.safetensors'), 'an older file');
  exportOk(['--dtype', 'f16', '--out', 'old.safetensors']);
  assert.equal(readCheckpoint(join(work, 'old.safetensors')).dtype, 'F16');
  assert.ok(!existsSync(join(work, 'old.safetensors.tmp')));
  const r = rlstm(['export', '--checkpoint', 'old.safetensors', '--dtype', 'f32', '--out', 'again.safetensors'], work);
  assert.equal(r.status, 0, r.stderr);
  const again = readCheckpoint(join(work, 'again.safetensors'));
  const from = JSON.parse(again.metadata.exportedFrom);
  assert.equal(from.file, 'old.safetensors');
  assert.equal(from.dtype, 'F16');
  assert.equal(from.exportedFrom.file, 'm.safetensors');
  // float16 -> float32 is exact: the same values as the float16 file
  const half = readCheckpoint(join(work, 'old.safetensors'));
  for (const [name, t] of half.tensors) assert.deepEqual(again.tensors.get(name)!.data, t.data, name);
});

test('export --meta records strings in the metadata; keys rlstm writes itself, and malformed pairs, are refused', () => {
  exportOk(['--out', 'meta.safetensors', '--meta', 'commit=abc123', '--meta', 'trainedBy=rlstm reproduce small', '--meta', 'empty=']);
  const m = readCheckpoint(join(work, 'meta.safetensors')).metadata; // the checksum covers them
  assert.equal(m.commit, 'abc123');
  assert.equal(m.trainedBy, 'rlstm reproduce small');
  assert.equal(m.empty, '');
  for (const [pair, why] of [['sha256=0', /sha256 is written by rlstm itself/], ['scores=x', /scores is written by rlstm itself/],
    ['novalue', /give KEY=VALUE/], ['=x', /give KEY=VALUE/]] as const) {
    const r = rlstm(['export', '--checkpoint', 'm.safetensors', '--out', 'refused.safetensors', '--meta', pair], work);
    assert.equal(r.status, 2, pair);
    assert.match(r.stderr, why);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(existsSync(join(work, 'refused.safetensors')), false, 'nothing written');
  }
});

test('an export of a model trained on a copy of the bundled PTB records no data source, so eval finds the bundled one anywhere', () => {
  const dir = tempDir();
  const ptb = join(dir, 'data', 'ptb');
  mkdirSync(ptb, { recursive: true });
  for (const f of ['ptb.train.txt', 'ptb.valid.txt', 'ptb.test.txt']) {
    writeFileSync(join(ptb, f), readFileSync(new URL(`../../data/ptb/${f}`, import.meta.url)));
  }
  const r = rlstm(['train', '--data', ptb, '--hidden', '4', '--layers', '1', '--max-steps', '0', '--backend', 'js',
    '--save', 'p.safetensors', '--log', 'p.json'], dir);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(readCheckpoint(join(dir, 'p.safetensors')).metadata.dataSource).dir, ptb);
  const e = rlstm(['export', '--checkpoint', 'p.safetensors', '--out', 'p.f16.safetensors'], dir);
  assert.equal(e.status, 0, e.stderr);
  assert.equal(readCheckpoint(join(dir, 'p.f16.safetensors')).metadata.dataSource, undefined, 'the machine\'s own path is not shipped');
  // a corpus that is not PTB keeps its source (the tiny one above: see the first test)
});
