import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT, PYTHON, tempDir, torchMissing as torchMissingReason } from './helpers.js';

/**
 * Cross-checks against PyTorch (scripts/pytorch_check.py): a trained checkpoint loads into
 * nn.Embedding → nn.LSTM → nn.Linear with strict=True and scores the same perplexity there, and one
 * training step (loss, backward, global-norm clipping, SGD) lands on the same weights as PyTorch's.
 * Skipped where Debian's system Python has no torch, and under RLSTM_NATIVE=0.
 */

const CHECK = join(PROJECT_ROOT, 'scripts/pytorch_check.py');
const RLSTM = join(PROJECT_ROOT, 'bin/rlstm.js');

const torchMissing = torchMissingReason();
const SKIP = `PyTorch not available: ${torchMissing}`;

interface Run { status: number | null; stdout: string; stderr: string }

function run(command: string, args: string[], cwd: string): Run {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a command that must succeed and print one JSON line last; returns that line parsed. */
function runJson(command: string, args: string[], cwd: string): any {
  const r = run(command, args, cwd);
  assert.equal(r.status, 0, `${[command, ...args].join(' ')} failed:\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

function rlstm(args: string[], cwd: string): Run {
  return run(process.execPath, [RLSTM, ...args], cwd);
}

function rlstmOk(args: string[], cwd: string): void {
  const r = rlstm(args, cwd);
  assert.equal(r.status, 0, `rlstm ${args.join(' ')} failed:\n${r.stderr}`);
}

/** About 3000 training words cut from PTB, with short valid and test splits (train.txt naming). */
function tinyCorpus(): string {
  const dir = tempDir('rlstm-torch-');
  const lines = readFileSync(join(PROJECT_ROOT, 'data/ptb/ptb.train.txt'), 'utf8').split('\n');
  writeFileSync(join(dir, 'train.txt'), lines.slice(0, 150).join('\n') + '\n');
  writeFileSync(join(dir, 'valid.txt'), lines.slice(150, 190).join('\n') + '\n');
  writeFileSync(join(dir, 'test.txt'), lines.slice(190, 230).join('\n') + '\n');
  return dir;
}

const SMALL = ['--layers', '2', '--hidden', '16', '--batch-size', '4', '--bptt', '5', '--epochs', '1',
  '--test-batch-size', '4', '--test-bptt', '5'];

test('a trained checkpoint loads into PyTorch (strict) and scores the same perplexity there', (t) => {
  if (torchMissing) { t.skip(SKIP); return; }
  const data = tinyCorpus();
  const work = tempDir('rlstm-torch-');
  rlstmOk(['train', '--data', data, ...SMALL, '--max-steps', '30', '--keep-prob', '0.8', '--backend', 'js',
    '--save', 'A.safetensors', '--log', 'A.json'], work);
  for (const [split, B, T] of [['valid', 4, 5], ['test', 3, 7]] as const) {
    const ours = runJson(process.execPath, [RLSTM, 'eval', '--checkpoint', 'A.safetensors', '--data', data,
      '--split', split, '--batch-size', String(B), '--bptt', String(T), '--json', '--backend', 'js'], work);
    const torch = runJson(PYTHON, [CHECK, 'eval', 'A.safetensors', data, '--split', split,
      '--batch-size', String(B), '--bptt', String(T)], work);
    t.diagnostic(`${split} B=${B} T=${T}: rlstm ${ours.perplexity}, PyTorch ${torch.perplexity} (${torch.tokens} tokens)`);
    assert.equal(ours.tokens, torch.tokens, `${split}: predicted tokens`);
    assert.ok(Math.abs(ours.perplexity - torch.perplexity) <= 1e-4 * torch.perplexity,
      `${split}: rlstm ${ours.perplexity} vs PyTorch ${torch.perplexity}`);
  }
});

/** The blas backend, when this machine can run it (it needs OpenBLAS). */
const blasMissing = torchMissing ? null : ((): string | null => {
  const data = tinyCorpus();
  const r = rlstm(['train', '--data', data, ...SMALL, '--max-steps', '0', '--backend', 'blas', '--log', 'x.json'],
    tempDir('rlstm-torch-'));
  return r.status === 0 ? null : `the blas backend does not run here: ${r.stderr.trim()}`;
})();

for (const backend of ['js', 'blas']) {
  for (const [clip, clipped] of [['0.1', true], ['1000', false]] as const) {
    test(`one training step equals PyTorch's (${backend} backend, ${clipped ? 'clipped' : 'unclipped'})`, (t) => {
      if (torchMissing) { t.skip(SKIP); return; }
      if (backend === 'blas' && blasMissing) { t.skip(blasMissing); return; }
      const data = tinyCorpus();
      const work = tempDir('rlstm-torch-');
      const common = ['train', '--data', data, ...SMALL, '--seed', '11', '--lr', '1', '--clip', clip,
        '--keep-prob', '1', '--backend', backend];
      rlstmOk([...common, '--max-steps', '0', '--save', 'init.safetensors', '--log', 'init.json'], work);
      rlstmOk([...common, '--max-steps', '1', '--save', 'step.safetensors', '--log', 'step.json'], work);
      const r = runJson(PYTHON, [CHECK, 'step', 'init.safetensors', 'step.safetensors', data], work);
      t.diagnostic(`grad norm ${r.gradNorm} (clip ${r.clip}), max |PyTorch − rlstm| ${r.maxAbsDiff}, `
        + `max |step| ${r.maxAbsChange}`);
      assert.equal(r.clipped, clipped, `gradient norm ${r.gradNorm} against clip ${clip}`);
      assert.ok(r.maxAbsDiff < 1e-5, `weights after one step differ from PyTorch's by up to ${r.maxAbsDiff}`);
      assert.ok(r.maxAbsChange > 1e-2, `the step barely moved the weights (${r.maxAbsChange})`);
      for (const [name, m] of Object.entries(r.tensors as Record<string, { maxAbsDiff: number; maxAbsChange: number }>)) {
        assert.ok(m.maxAbsChange > 0, `${name}: unchanged by the step`);
        assert.ok(m.maxAbsDiff <= 1e-2 * m.maxAbsChange,
          `${name}: differs from PyTorch by ${m.maxAbsDiff}, the step moved it by ${m.maxAbsChange}`);
      }
    });
  }
}

test('a layer-normalized checkpoint is refused with a clear message', (t) => {
  if (torchMissing) { t.skip(SKIP); return; }
  const data = tinyCorpus();
  const work = tempDir('rlstm-torch-');
  rlstmOk(['train', '--data', data, ...SMALL, '--layer-norm', '--max-steps', '0', '--backend', 'js',
    '--save', 'ln.safetensors', '--log', 'ln.json'], work);
  const r = run(PYTHON, [CHECK, 'eval', 'ln.safetensors', data, '--split', 'valid', '--batch-size', '4', '--bptt', '5'], work);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /ln\.safetensors: a layer-normalized LSTM .*nn\.LSTM has no layer normalization/);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line, got: ${r.stderr}`);
});

test('float16 and bfloat16 exports score the same perplexity in PyTorch as in rlstm, close to the float32 model\'s', (t) => {
  if (torchMissing) { t.skip(SKIP); return; }
  const data = tinyCorpus();
  const work = tempDir('rlstm-torch-');
  rlstmOk(['train', '--data', data, ...SMALL, '--max-steps', '30', '--backend', 'js', '--save', 'A.safetensors', '--log', 'A.json'], work);
  rlstmOk(['export', '--checkpoint', 'A.safetensors', '--dtype', 'f16', '--out', 'A.f16.safetensors'], work);
  rlstmOk(['export', '--checkpoint', 'A.safetensors', '--dtype', 'bf16', '--out', 'A.bf16.safetensors'], work);
  const score = (file: string): { ours: number; torch: number } => {
    const ours = runJson(process.execPath, [RLSTM, 'eval', '--checkpoint', file, '--data', data, '--split', 'valid',
      '--batch-size', '4', '--bptt', '5', '--json', '--backend', 'js'], work);
    const torch = runJson(PYTHON, [CHECK, 'eval', file, data, '--split', 'valid', '--batch-size', '4', '--bptt', '5'], work);
    assert.equal(ours.tokens, torch.tokens, `${file}: predicted tokens`);
    return { ours: ours.perplexity, torch: torch.perplexity };
  };
  const full = score('A.safetensors');
  for (const [file, tolerance] of [['A.f16.safetensors', 1e-3], ['A.bf16.safetensors', 1e-2]] as const) {
    const half = score(file);
    t.diagnostic(`${file}: rlstm ${half.ours}, PyTorch ${half.torch}; float32 model ${full.ours}`);
    // the same float16 values in both, computed in float32: agreement at float32 rounding level
    assert.ok(Math.abs(half.ours - half.torch) <= 1e-4 * half.torch, `${file}: rlstm ${half.ours} vs PyTorch ${half.torch}`);
    // rounding the weights (relative error 2^-11 for float16, 2^-8 for bfloat16) barely moves the perplexity
    assert.ok(Math.abs(half.ours - full.ours) <= tolerance * full.ours, `${file}: ${half.ours} vs float32 ${full.ours}`);
    assert.notEqual(half.ours, full.ours, `${file}: the weights were rounded`);
  }
});
