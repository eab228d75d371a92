import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadBlasBackend } from '../src/kernels/blas.js';
import { gemmJs } from '../src/kernels/js.js';
import { lstmGatesForward, softmaxCrossEntropy } from '../src/kernels/pointwise.js';
import { loadWasmKernels } from '../src/kernels/wasm.js';
import { randomArray, testRng } from './helpers.js';

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k] - b[k]));
  return m;
}

/** A plain triple loop, the definition of C = alpha·op(A)·op(B) + beta·C. */
function gemmReference(tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, A: Float32Array, lda: number,
  B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (tA ? A[k * lda + i] : A[i * lda + k]) * (tB ? B[j * ldb + k] : B[k * ldb + j]);
      C[i * ldc + j] = alpha * s + (beta === 0 ? 0 : beta * C[i * ldc + j]);
    }
  }
}

let blas: ReturnType<typeof loadBlasBackend> | null = null;
try { blas = loadBlasBackend(); } catch { blas = null; }

test('GEMM: TypeScript and BLAS match the triple-loop definition for every transpose, stride and beta', () => {
  const rng = testRng(31);
  const M = 7, N = 5, K = 6;
  for (const tA of [false, true]) {
    for (const tB of [false, true]) {
      for (const beta of [0, 1, 0.5]) {
        const lda = (tA ? M : K) + 2, ldb = (tB ? K : N) + 1, ldc = N + 3; // padded rows: strides matter
        const A = randomArray((tA ? K : M) * lda, rng), B = randomArray((tB ? N : K) * ldb, rng);
        const C0 = randomArray(M * ldc, rng);
        const expected = C0.slice();
        gemmReference(tA, tB, M, N, K, 0.7, A, lda, B, ldb, beta, expected, ldc);
        const js = C0.slice();
        gemmJs(tA, tB, M, N, K, 0.7, A, lda, B, ldb, beta, js, ldc);
        assert.ok(maxAbsDiff(js, expected) < 1e-5, `js tA=${tA} tB=${tB} beta=${beta}`);
        if (blas !== null) {
          // a subarray at an offset: the pointer handed to BLAS must start at the view, not the buffer
          const big = new Float32Array(M * ldc + 9);
          big.set(C0, 9);
          blas.gemm(tA, tB, M, N, K, 0.7, A, lda, B, ldb, beta, big.subarray(9), ldc);
          assert.ok(maxAbsDiff(big.subarray(9), expected) < 1e-5, `blas tA=${tA} tB=${tB} beta=${beta}`);
          assert.deepEqual(Array.from(big.subarray(0, 9)), new Array(9).fill(0), 'nothing written before the view');
        }
      }
    }
  }
});

const wasm = loadWasmKernels();

test('WebAssembly softmax + cross-entropy equals the TypeScript kernel', { skip: wasm === null ? 'kernels.wasm not built' : false }, () => {
  const rng = testRng(32);
  const N = 13, V = 10003; // more rows than one copy chunk holds; V not a multiple of 4
  const logits = randomArray(N * V, rng, 8);
  const targets = Int32Array.from({ length: N }, (_, n) => (n * 7919) % V);
  targets[0] = V - 1; // a target in the scalar tail
  for (const scale of [0, 0.05]) {
    const a = logits.slice(), b = logits.slice();
    const nllTs = softmaxCrossEntropy(a, targets, N, V, scale);
    const nllWasm = wasm!.softmaxCrossEntropy(b, targets, N, V, scale);
    assert.ok(Math.abs(nllTs - nllWasm) < 1e-6 * Math.abs(nllTs), `nll ${nllTs} vs ${nllWasm}`);
    assert.ok(maxAbsDiff(a, b) < 1e-8, `gradient differs by ${maxAbsDiff(a, b)}`);
    if (scale === 0) assert.deepEqual(b, logits, 'evaluation leaves the scores as they were');
  }
});

test('WebAssembly LSTM gates equal the TypeScript kernel', { skip: wasm === null ? 'kernels.wasm not built' : false }, () => {
  const rng = testRng(33);
  for (const H of [12, 13, 650]) { // H = 13 and 650 (medium) leave units after the last group of four
    const B = 3;
    const z = randomArray(B * 4 * H, rng, 6), cPrev = randomArray(B * H, rng, 3);
    const outs = () => ({ z: z.slice(), c: new Float32Array(B * H), tanhC: new Float32Array(B * H), h: new Float32Array(B * H) });
    const t = outs(), w = outs();
    lstmGatesForward(t.z, cPrev, t.c, t.tanhC, t.h, B, H, null, null);
    wasm!.lstmGatesForward(w.z, cPrev, w.c, w.tanhC, w.h, B, H, null, null);
    for (const key of ['z', 'c', 'tanhC', 'h'] as const) {
      assert.ok(maxAbsDiff(t[key], w[key]) < 1e-6, `H ${H}: ${key} differs by ${maxAbsDiff(t[key], w[key])}`);
    }
  }
});
