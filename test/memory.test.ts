import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { failureLine } from '../src/cli/failure.js';
import { jsBackend } from '../src/kernels/js.js';
import { createWorkspace, DROPOUT_PLACEMENTS, modelBackward, modelForward } from '../src/model/lm.js';
import { createModel, initializeParameters } from '../src/model/params.js';
import { evaluate } from '../src/train/evaluate.js';
import { estimateTrainingBytes, parameterCount, workspaceBytes } from '../src/train/memory.js';
import { createRng } from '../src/util/rng.js';
import { RLSTM, rlstm, tempDir, tinyCorpus } from './helpers.js';

// The memory estimate is made of the sizes the allocations use: checked here against the byte lengths
// of the buffers a tiny model really allocates. (Against the peak RSS of real runs, which a test cannot
// measure reliably, see the report of issue 17: small and medium within a few per cent.)

/** The bytes of every distinct buffer under `value` (typed arrays, arrays and objects of them; views counted once). */
function allocatedBytes(value: unknown, seen = new Set<ArrayBufferLike>()): number {
  if (ArrayBuffer.isView(value)) {
    if (seen.has(value.buffer)) return 0;
    seen.add(value.buffer);
    return value.buffer.byteLength;
  }
  if (value === null || typeof value !== 'object') return 0;
  return Object.values(value).reduce((s: number, v) => s + allocatedBytes(v, seen), 0);
}

function rlstmWith(env: Record<string, string>, args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [RLSTM, ...args], { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the estimate is the allocations: parameters, gradients, workspaces of every placement, with and without layer norm', () => {
  for (const layerNorm of [false, true]) {
    const arch = { vocabSize: 50, hidden: 6, layers: 2, layerNorm };
    const model = createModel(arch);
    const P = parameterCount(arch);
    assert.equal(model.params.byteLength, 4 * P);
    assert.equal(model.grads.byteLength, 4 * P);
    for (const placement of DROPOUT_PLACEMENTS) {
      assert.equal(workspaceBytes(arch, 5, 3, placement), allocatedBytes(createWorkspace(model, 5, 3, placement)),
        `workspace, ${placement}${layerNorm ? ', layer norm' : ''}`);
    }
  }
  // the gradients: what a training step touches of the flat buffer (all but the embedding table's part, which
  // stays zero and takes no memory) and the row gradient it grows
  const arch = { vocabSize: 200, hidden: 8, layers: 2, layerNorm: false };
  const run = { bptt: 7, batchSize: 10, placement: 'zaremba' as const, testBatchSize: 1, testBptt: 7, patience: 0 };
  const model = createModel(arch);
  const rng = createRng(3);
  initializeParameters(model, 0.1, rng);
  const ws = createWorkspace(model, run.bptt, run.batchSize, run.placement);
  for (let k = 0; k < ws.tokens.length; k++) { ws.tokens[k] = k % arch.vocabSize; ws.targets[k] = (3 * k) % arch.vocabSize; }
  const options = { train: true, placement: run.placement, keepProb: 0.5, rng };
  modelForward(jsBackend, model, ws, run.bptt, options);
  modelBackward(jsBackend, model, ws, run.bptt, options);
  const estimate = estimateTrainingBytes(arch, run, { train: 0, valid: 0, test: 0 });
  const part = (what: string): number => estimate.parts.find((p) => p.what === what)?.bytes ?? 0;
  const table = arch.vocabSize * arch.hidden;
  assert.ok(model.grads.subarray(0, table).every((g) => g === 0), 'the embedding part of the flat gradients is never written');
  const g = model.encoder.grad;
  assert.equal(part('gradients'), 4 * (parameterCount(arch) - table) + g.rows.byteLength + g.slotOf.byteLength + g.list.byteLength);
  assert.equal(part('parameters'), model.params.byteLength);
  assert.equal(part('workspace'), allocatedBytes(ws));
  // test scored with batch 1: a workspace of its own (validation reuses the training one)
  assert.equal(part('evaluation'), workspaceBytes(arch, run.testBptt, 1, 'none'));
  assert.equal(part('best weights (early stopping)'), 0);
  assert.equal(estimateTrainingBytes(arch, { ...run, patience: 3 }, { train: 0, valid: 0, test: 0 }).parts
    .find((p) => p.what === 'best weights (early stopping)')?.bytes, model.params.byteLength);
  evaluate(jsBackend, model, new Int32Array(40).fill(1), 1, run.testBptt); // runs in the workspace estimated
  assert.equal(estimateTrainingBytes(arch, run, { train: 0, valid: 0, test: 0 }, true).parts.find((p) => p.what === 'parameters'),
    undefined, 'a resumed run trains the checkpoint\'s bytes, already read');
});

test('--hidden 200000 is refused at once, in one line naming the estimate, what is available and the flag to lower', () => {
  const started = performance.now();
  const r = rlstm(['train', '--hidden', '200000'], tempDir());
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^rlstm: this run needs about [\d.]+ TB of memory \(parameters [\d.]+ TB, gradients [\d.]+ TB, workspace [\d.]+ GB, evaluation [\d.]+ MB\), and [\d.]+ [KMGT]?B is available; lower --hidden, --layers or --vocab-size\n$/);
  assert.ok(performance.now() - started < 10_000, 'before the corpus is read');
});

test('RLSTM_MEMORY_LIMIT_MB: train, eval and generate refuse what does not fit, in one line, writing nothing', () => {
  const data = tinyCorpus();
  const work = tempDir();
  const args = ['train', '--data', data, '--hidden', '16', '--batch-size', '4', '--bptt', '8', '--backend', 'js'];
  const refused = rlstmWith({ RLSTM_MEMORY_LIMIT_MB: '0.5' }, [...args, '--max-steps', '2', '--save', 'm.safetensors', '--log', 'm.json'], work);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /^rlstm: this run needs about [\d.]+ (KB|MB) of memory \(parameters [\d.]+ KB, gradients .*, batched data [\d.]+ KB\), and 524 KB is allowed \(RLSTM_MEMORY_LIMIT_MB\); lower --batch-size, --bptt or --hidden\n$/);
  assert.ok(!existsSync(join(work, 'm.safetensors')) && !existsSync(join(work, 'm.json')));

  const trained = rlstm([...args, '--max-steps', '2', '--save', 'm.safetensors', '--log', 'm.json'], work);
  assert.equal(trained.status, 0, trained.stderr);
  for (const command of [['eval', '--checkpoint', 'm.safetensors', '--data', data], ['generate', '--checkpoint', 'm.safetensors']]) {
    const r = rlstmWith({ RLSTM_MEMORY_LIMIT_MB: '0.1' }, command, work);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^rlstm: --checkpoint m.safetensors needs about [\d.]+ KB of memory \(the file [\d.]+ KB, parameters [\d.]+ KB\), and 105 KB is allowed \(RLSTM_MEMORY_LIMIT_MB\); free some memory, or use a machine with more\n$/);
  }
  const wide = rlstm(['eval', '--checkpoint', 'm.safetensors', '--data', data, '--batch-size', '100000000'], work);
  assert.equal(wide.status, 2);
  assert.match(wide.stderr, /^rlstm: this evaluation needs about [\d.]+ TB of memory \(workspace [\d.]+ TB\), and .* is available; lower --batch-size or --bptt\n$/);
});

test('memory that runs out while allocating is one line, status 1, with the flags that lower it', () => {
  for (const allocate of [() => new Float32Array(2 ** 33), () => new ArrayBuffer(2 ** 50)]) {
    let err: unknown = null;
    try { allocate(); } catch (e) { err = e; }
    assert.ok(err instanceof RangeError);
    const failure = failureLine(err);
    assert.equal(failure?.status, 1);
    assert.match(failure!.line, /^rlstm: out of memory \((Invalid typed array length: 8589934592|Array buffer allocation failed)\); lower --hidden, --batch-size, --bptt or --vocab-size, or free some memory$/);
  }
  assert.equal(failureLine(new RangeError('Maximum call stack size exceeded')), null, 'a bug stays a bug');
});
