import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadBlasBackend } from '../src/kernels/blas.js';
import type { Backend } from '../src/kernels/backend.js';
import { bf16ToFloat32, roundToBf16 } from '../src/kernels/bf16.js';
import { mixedPrecision } from '../src/kernels/mixed-precision.js';
import { CONFIGS } from '../src/model/configs.js';
import { createWorkspace, modelBackward, modelForward, resetState } from '../src/model/lm.js';
import { createModel, initializeParameters } from '../src/model/params.js';
import { readCheckpoint } from '../src/train/checkpoint.js';
import { createRng, nextUint32 } from '../src/util/rng.js';
import { randomArray, rlstm, testRng, tinyCorpus } from './helpers.js';
import { train } from '../src/api.js';
import { UserError } from '../src/errors.js';

/**
 * oneDNN (its float32 products, and the teardown of a process that used it) and bf16 mixed precision: the
 * products against float64, a training step against float32, the same bits twice, and the refusals. bf16 runs
 * natively only on a CPU with bf16 dot products; elsewhere the emulated bf16 products (float32 products of the
 * rounded operands, BlasOptions.bf16 'emulate') test the same code around them.
 */

const load = (options: Parameters<typeof loadBlasBackend>[0]): ReturnType<typeof loadBlasBackend> | null => {
  try { return loadBlasBackend(options); } catch { return null; }
};
const dnnl = load({});
const hasDnnl = dnnl !== null && dnnl.library.includes('libdnnl');
const noDnnl = hasDnnl ? false : `oneDNN is not installed or not used here (${dnnl?.library ?? 'no BLAS backend'})`;
const emulated = load({ bf16: 'emulate' });
const native = hasDnnl && dnnl!.gemmBf16 !== undefined ? dnnl : null;
/** The backends whose bf16 products are tested here: emulated always (where BLAS loads), native where the CPU has them. */
const BF16_BACKENDS: [string, Backend][] = [
  ...(emulated !== null ? [['emulated', emulated] as [string, Backend]] : []),
  ...(native !== null ? [['oneDNN native', native] as [string, Backend]] : []),
];

/** C = alpha · op(A) · op(B) + beta · C in float64, and Σ|terms| per element (the scale of its rounding error). */
function reference(tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, A: ArrayLike<number>, lda: number,
  B: ArrayLike<number>, ldb: number, beta: number, C: ArrayLike<number>, ldc: number): { value: Float64Array; scale: Float64Array } {
  const value = new Float64Array(M * N), scale = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let sum = 0, abs = 0;
      for (let k = 0; k < K; k++) {
        const term = (tA ? A[k * lda + i] : A[i * lda + k]) * (tB ? B[j * ldb + k] : B[k * ldb + j]);
        sum += term; abs += Math.abs(term);
      }
      value[i * N + j] = alpha * sum + beta * C[i * ldc + j];
      scale[i * N + j] = Math.abs(alpha) * abs + Math.abs(beta * C[i * ldc + j]);
    }
  }
  return { value, scale };
}

/** The largest |got − expected| / scale over C's M×N elements (scale: Σ|terms| of each, at least 1e-30). */
function worstRelative(got: Float32Array, ldc: number, r: { value: Float64Array; scale: Float64Array }, M: number, N: number): number {
  let worst = 0;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) worst = Math.max(worst, Math.abs(got[i * ldc + j] - r.value[i * N + j]) / Math.max(r.scale[i * N + j], 1e-30));
  }
  return worst;
}

const CASES: [boolean, boolean, number][] = [[false, false, 0], [false, true, 1], [true, false, 0.5], [true, true, -1]];

test('oneDNN\'s float32 products: every transpose, padded strides, alpha and beta against the float64 product', { skip: noDnnl }, () => {
  const rng = testRng(51);
  for (const [tA, tB, beta] of CASES) {
    for (const [M, N, K] of [[7, 5, 6], [20, 300, 130], [70, 33, 257]]) {
      const lda = (tA ? M : K) + 3, ldb = (tB ? K : N) + 1, ldc = N + 2;
      const A = randomArray((tA ? K : M) * lda, rng), B = randomArray((tB ? N : K) * ldb, rng), C = randomArray(M * ldc, rng);
      const expected = reference(tA, tB, M, N, K, 0.7, A, lda, B, ldb, beta, C, ldc);
      const got = C.slice();
      dnnl!.gemm(tA, tB, M, N, K, 0.7, A, lda, B, ldb, beta, got, ldc);
      const worst = worstRelative(got, ldc, expected, M, N);
      assert.ok(worst < 1e-5, `tA=${tA} tB=${tB} ${M}×${N}×${K} beta=${beta}: relative error ${worst}`);
    }
  }
});

test('a process that ran oneDNN\'s products on two threads ends cleanly however it ends: by itself, with an exit code, by an error', { skip: noDnnl }, () => {
  const blas = new URL('../src/kernels/blas.js', import.meta.url).href;
  const script = (end: string): string => `
    const { loadBlasBackend } = await import('${blas}');
    const b = loadBlasBackend();
    const n = 300, A = new Float32Array(n * n).fill(0.5), C = new Float32Array(n * n);
    for (let k = 0; k < 20; k++) b.gemm(false, true, n, n, n, 1, A, n, A, n, 0, C, n);
    ${end}`;
  // without the guard, a natural end died with SIGSEGV in about one run of two here: several runs each
  for (const [end, status, runs] of [['', 0, 6], ['process.exitCode = 3;', 3, 3], ['throw new Error("stop");', 1, 2]] as const) {
    for (let k = 0; k < runs; k++) {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script(end)], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '2' } });
      assert.equal(r.signal, null, `"${end || 'natural end'}" died by ${r.signal}: ${r.stderr}`);
      assert.equal(r.status, status, `"${end || 'natural end'}": ${r.stderr}`);
    }
  }
});

test('bf16 products: every transpose, padded strides, alpha and beta against the float64 product of the bf16-rounded operands, within 1e-5 relative', {
  skip: BF16_BACKENDS.length === 0 ? 'needs the BLAS backend' : false,
}, () => {
  const rng = testRng(52);
  for (const [name, backend] of BF16_BACKENDS) {
    for (const [tA, tB, beta] of CASES) {
      for (const [M, N, K] of [[7, 5, 6], [20, 260, 65], [35, 40, 300]]) {
        const lda = (tA ? M : K) + 2, ldb = (tB ? K : N) + 3, ldc = N + 1;
        const A = randomArray((tA ? K : M) * lda, rng), B = randomArray((tB ? N : K) * ldb, rng), C = randomArray(M * ldc, rng);
        const A16 = new Uint16Array(A.length), B16 = new Uint16Array(B.length);
        roundToBf16(A, A16, A.length);
        roundToBf16(B, B16, B.length);
        const Ar = new Float32Array(A.length), Br = new Float32Array(B.length);
        bf16ToFloat32(A16, Ar, A.length);
        bf16ToFloat32(B16, Br, B.length);
        const expected = reference(tA, tB, M, N, K, 0.7, Ar, lda, Br, ldb, beta, C, ldc);
        const got = C.slice();
        backend.gemmBf16!(tA, tB, M, N, K, 0.7, A16, lda, B16, ldb, beta, got, ldc);
        const worst = worstRelative(got, ldc, expected, M, N);
        assert.ok(worst < 1e-5, `${name}: tA=${tA} tB=${tB} ${M}×${N}×${K} beta=${beta}: relative error ${worst}`);
        // and the same through the mixed-precision wrapper, from float32 operands (A as a weight in the parameters)
        const params = new Float32Array(A.length + 5);
        params.set(A, 5);
        const viaWrapper = C.slice();
        mixedPrecision(backend, params).gemm(tA, tB, M, N, K, 0.7, params.subarray(5), lda, B, ldb, beta, viaWrapper, ldc);
        assert.deepEqual(viaWrapper, got, `${name}: the wrapper rounds its operands as roundToBf16 does`);
      }
    }
  }
});

test('bf16 mixed precision: a weight\'s bf16 copy is made once per step, and made again after refreshWeightCopies', {
  skip: emulated === null ? 'needs the BLAS backend' : false,
}, () => {
  const rng = testRng(53);
  const M = 4, N = 6, K = 8;
  const params = randomArray(N * K, rng), x = randomArray(M * K, rng);
  const mixed = mixedPrecision(emulated!, params);
  const product = (): Float32Array => {
    const out = new Float32Array(M * N);
    mixed.gemm(false, true, M, N, K, 1, x, K, params, K, 0, out, N);
    return out;
  };
  const first = product();
  params.fill(0.25); // an optimizer step, not yet announced
  assert.deepEqual(product(), first, 'the weights are read from the copy made on their first use');
  mixed.refreshWeightCopies();
  const after = product();
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let sum = 0;
      for (let k = 0; k < K; k++) sum += 0.25 * bf16Of(x[i * K + k]);
      assert.ok(Math.abs(after[i * N + j] - sum) < 1e-5, `after the refresh: ${after[i * N + j]} vs ${sum}`);
    }
  }
});

function bf16Of(v: number): number {
  const h = new Uint16Array(1), f = new Float32Array(1);
  roundToBf16(Float32Array.of(v), h, 1);
  bf16ToFloat32(h, f, 1);
  return f[0];
}

/** One training step (forward, backward) of a small model from a fixed start; the loss and the gradients. */
function trainingStep(backend: Backend, precision: 'fp32' | 'bf16'): { nll: number; grads: Float32Array } {
  const H = 48, V = 120, T = 7, B = 5;
  const model = createModel({ vocabSize: V, hidden: H, layers: 2, layerNorm: false }, undefined, backend.allocateFloat32);
  initializeParameters(model, 0.1, createRng(5));
  const ws = createWorkspace(model, T, B, 'zaremba', backend);
  const rng = testRng(54);
  for (let k = 0; k < T * B; k++) { ws.tokens[k] = nextUint32(rng) % V; ws.targets[k] = nextUint32(rng) % V; }
  resetState(ws);
  const stepBackend = precision === 'bf16' ? mixedPrecision(backend, model.params) : backend;
  const options = { train: true, placement: 'zaremba' as const, keepProb: 0.5, rng: createRng(9) };
  const nll = modelForward(stepBackend, model, ws, T, options);
  modelBackward(stepBackend, model, ws, T, options);
  return { nll, grads: model.grads.slice() };
}

test('a bf16 training step against the float32 one: the loss within 0.5%, the gradient within 3% (norm of the difference over the norm)', {
  skip: BF16_BACKENDS.length === 0 ? 'needs the BLAS backend' : false,
}, () => {
  for (const [name, backend] of BF16_BACKENDS) {
    const fp32 = trainingStep(backend, 'fp32'), bf16 = trainingStep(backend, 'bf16');
    const lossError = Math.abs(bf16.nll - fp32.nll) / fp32.nll;
    let diff = 0, norm = 0;
    for (let k = 0; k < fp32.grads.length; k++) { diff += (bf16.grads[k] - fp32.grads[k]) ** 2; norm += fp32.grads[k] ** 2; }
    const gradError = Math.sqrt(diff / norm);
    assert.ok(lossError < 5e-3, `${name}: loss ${bf16.nll} vs ${fp32.nll} (${lossError})`);
    assert.ok(gradError < 3e-2, `${name}: gradient relative error ${gradError}`);
    assert.ok(gradError > 0, `${name}: bf16 rounding changed nothing: is the step really in bf16?`);
  }
});

test('the same bits run after run: oneDNN float32, and bf16 mixed precision, on one backend and thread count', {
  skip: emulated === null ? 'needs the BLAS backend' : false,
}, () => {
  const runs: [string, Backend, 'fp32' | 'bf16'][] = [['bf16 (emulated)', emulated!, 'bf16'],
    ...(hasDnnl ? [['oneDNN fp32', dnnl!, 'fp32'] as [string, Backend, 'fp32']] : []),
    ...(native !== null ? [['oneDNN bf16', native, 'bf16'] as [string, Backend, 'bf16']] : [])];
  for (const [name, backend, precision] of runs) {
    const first = trainingStep(backend, precision), second = trainingStep(backend, precision);
    assert.equal(second.nll, first.nll, `${name}: loss`);
    assert.deepEqual(second.grads, first.grads, `${name}: gradients`);
  }
});

test('--precision: an unknown value and bf16 where it cannot run are refused in one line; bf16 is recorded and kept by --resume', () => {
  const dir = tinyCorpus(120);
  const unknown = rlstm(['train', '--config', 'quick', '--data', dir, '--precision', 'fp16'], dir);
  assert.equal(unknown.status, 2);
  assert.equal(unknown.stderr.trim(), 'rlstm: --precision fp16: unknown precision; use fp32 or bf16');
  // the TypeScript backend has no bf16 products
  const js = rlstm(['train', '--config', 'quick', '--data', dir, '--backend', 'js', '--precision', 'bf16', '--max-steps', '1'], dir);
  assert.equal(js.status, 2, js.stderr);
  assert.match(js.stderr.trim(), /^rlstm: --precision bf16: the TypeScript backend has no bf16 products; .*--precision fp32\)$/);
  assert.equal(js.stderr.trim().split('\n').length, 1);
  if (native === null && hasDnnl) { // oneDNN here, but no bf16 dot products in this CPU: refused, saying so
    const r = rlstm(['train', '--config', 'quick', '--data', dir, '--precision', 'bf16', '--max-steps', '1'], dir);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr.trim(), /^rlstm: --precision bf16: this CPU has no bf16 dot products \(oneDNN's instruction set here: .*\)/);
  }
  if (emulated === null) return;
  // recorded in the log and the checkpoint, and kept by --resume (emulated bf16, which runs anywhere)
  const env = { RLSTM_BF16_EMULATE: '1' };
  const save = join(dir, 'run.safetensors'), log = join(dir, 'run.json');
  const first = rlstm(['train', '--config', 'quick', '--data', dir, '--precision', 'bf16', '--max-steps', '2', '--save', save, '--log', log], dir, env);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /bf16 mixed precision/);
  const resumed = rlstm(['train', '--resume', save, '--max-steps', '4'], dir, env);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.equal(JSON.parse(readFileSync(log, 'utf8')).config.precision, 'bf16');
  assert.equal(JSON.parse(readCheckpoint(save).metadata.config).precision, 'bf16');
  const changed = rlstm(['train', '--resume', save, '--precision', 'fp32'], dir, env);
  assert.equal(changed.status, 2);
  assert.match(changed.stderr, /--precision cannot be changed when resuming/);
});

test('the paper\'s configurations train in fp32 unless asked', () => {
  for (const name of ['small', 'medium', 'large', 'quick']) assert.equal(CONFIGS[name].precision, 'fp32', name);
});

test('the library\'s train() takes config.precision, refusing an unknown one and bf16 where it cannot run, in one line', async () => {
  const dir = tinyCorpus(60);
  await assert.rejects(train({ config: { name: 'quick', precision: 'fp16' as 'bf16' }, corpus: { dir }, backend: 'js' }),
    (err: unknown) => err instanceof UserError && err.message === 'config.precision "fp16": must be "fp32" or "bf16"');
  await assert.rejects(train({ config: { name: 'quick', precision: 'bf16', maxSteps: 1 }, corpus: { dir }, backend: 'js' }),
    (err: unknown) => err instanceof UserError && /^config\.precision "bf16": the TypeScript backend has no bf16 products; .*; train in fp32$/.test(err.message)
      && !err.message.includes('\n'));
});
