import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { jsBackend, jsBackendOn } from '../src/kernels/js.js';
import { startWasmThreads } from '../src/kernels/wasm-threads.js';
import { nodeWasmThreads } from '../src/kernels/wasm-threads-node.js';
import { gemmChunks, loadWasmKernels, type WasmKernels } from '../src/kernels/wasm.js';
import { gemmReference, randomArray, runLstmLayer, testRng } from './helpers.js';

/**
 * The WebAssembly kernels on two threads (src/kernels/wasm-threads.ts): the GEMM cut between this thread and
 * a worker over one shared memory gives the one-thread bits; and the relaxed-SIMD build, where the engine has it.
 */

const one = loadWasmKernels();
const noTwo = one === null ? 'no WebAssembly SIMD' : availableParallelism() < 2 ? 'one core' : false;

/** The two-thread kernels with their worker up. */
async function readyTwoThreads(): Promise<WasmKernels> {
  const two = nodeWasmThreads();
  assert.ok(two !== null, 'the two-thread WebAssembly kernels did not start');
  const start = Date.now();
  while (!two.helperReady()) {
    assert.ok(!two.helperFailed(), 'the GEMM worker failed');
    assert.ok(Date.now() - start < 10_000, 'the GEMM worker did not start within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return two;
}


// The small model's products (H 200, B 20, T 20; the vocabulary cut to 1,000 to keep the reference loop short),
// and odd sizes whose cuts fall inside the micro-kernel's tiles of the other thread's edge.
const SHAPES: [string, boolean, boolean, number, number, number][] = [
  ['x·W_ihᵀ', false, true, 400, 800, 200], ['dz·W_ih', false, false, 400, 200, 800], ['dzᵀ·x', true, false, 800, 200, 400],
  ['logits', false, true, 400, 1000, 200], ['dlogitsᵀ·x', true, false, 1000, 200, 400],
  ['h·W_hhᵀ per step', false, true, 20, 800, 200], ['dz·W_hh per step', false, false, 20, 200, 800],
  ['Aᵀ·Bᵀ', true, true, 37, 203, 301], ['narrow: cut by rows', false, false, 301, 20, 203], ['rows, Aᵀ', true, false, 203, 21, 301],
];

test('two threads: every GEMM shape, transpose, alpha and beta gives the one-thread bits, and the worker computed part of each', { skip: noTwo }, async () => {
  const two = await readyTwoThreads();
  assert.equal(two.threads, 2);
  assert.equal(two.variant, one!.variant, 'both builds of one process are the same variant');
  const rng = testRng(61);
  for (const [name, tA, tB, M, N, K] of SHAPES) {
    const lda = (tA ? M : K) + 3, ldb = (tB ? K : N) + 1, ldc = N + 5; // padded rows: the gaps must survive
    const A = randomArray((tA ? K : M) * lda, rng), B = randomArray((tB ? N : K) * ldb, rng);
    for (const [alpha, beta] of [[1, 0], [0.5, 1], [-1.5, 0.25]]) {
      const C = randomArray(M * ldc, rng);
      const expected = C.slice(), reference = C.slice();
      one!.gemm(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, expected, ldc);
      // until the worker has computed some of the blocks (on a busy machine this thread may take them all)
      const before = two.helperCalls();
      let got = C.slice();
      for (let tries = 0; tries < 200 && two.helperCalls() === before; tries++) {
        got = C.slice();
        two.gemm(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, got, ldc);
        assert.deepEqual(got, expected, `${name}, alpha ${alpha}, beta ${beta}: the bits of one thread`);
      }
      assert.ok(two.helperCalls() > before, `${name}: the worker computed blocks`);
      gemmReference(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, reference, ldc);
      let worst = 0;
      for (let k = 0; k < got.length; k++) worst = Math.max(worst, Math.abs(got[k] - reference[k]) / (1 + Math.abs(reference[k])));
      assert.ok(worst < 1e-4, `${name}: off the definition by ${worst}`);
    }
  }
  // small products stay on this thread
  const before = two.helperCalls();
  two.gemm(false, false, 4, 8, 8, 1, randomArray(32, rng), 8, randomArray(64, rng), 8, 0, new Float32Array(32), 8);
  assert.equal(two.helperCalls(), before);
});

test('two threads: an LSTM layer\'s forward and backward on the js backend give the one-thread bits', { skip: noTwo }, async () => {
  const two = jsBackendOn(await readyTwoThreads());
  const rng = testRng(62);
  const T = 3, B = 20, In = 200, H = 200; // the small model's layer
  const w = {
    weightIh: randomArray(4 * H * In, rng, 0.1), weightHh: randomArray(4 * H * H, rng, 0.1),
    biasIh: randomArray(4 * H, rng, 0.3), biasHh: randomArray(4 * H, rng, 0.3),
    lnIhGain: null, lnHhGain: null, lnCellGain: null, lnCellBias: null,
  };
  const x = randomArray(T * B * In, rng), dH = randomArray(T * B * H, rng), h0 = randomArray(B * H, rng, 0.5), c0 = randomArray(B * H, rng, 0.5);
  const layer = { w, x, dH, h0, c0, T, B, In, H };
  const expected = runLstmLayer(jsBackend, layer), got = runLstmLayer(two, layer);
  assert.ok(expected.h.some((v) => v !== 0) && expected.dx.some((v) => v !== 0));
  assert.deepEqual(got, expected);
});

test('two threads: the GEMM is cut into blocks of columns (multiples of 8) or rows (of 4), at most 8 of them, or not at all', () => {
  assert.deepEqual(gemmChunks(400, 800, 200), { by: 'columns', width: 104, count: 8 });
  assert.deepEqual(gemmChunks(20, 200, 800), { by: 'columns', width: 40, count: 5 }); // 6.4 MFLOP: 6 blocks wanted, 5 of 40 columns
  assert.deepEqual(gemmChunks(20, 800, 200), { by: 'columns', width: 136, count: 6 });
  assert.deepEqual(gemmChunks(301, 20, 203), { by: 'rows', width: 152, count: 2 }); // 2.4 MFLOP: two blocks
  assert.equal(gemmChunks(4, 8, 8), null); // too few FLOPs to wake the worker for
  assert.equal(gemmChunks(8, 24, 8000), null); // neither enough columns nor enough rows
});

test('two threads: a worker that fails to start leaves the kernels on one thread, with the same bits', { skip: one === null ? 'no WebAssembly SIMD' : false }, () => {
  const kernels = startWasmThreads((fail) => { fail(); return { postMessage() {} }; });
  assert.ok(kernels !== null);
  assert.equal(kernels.helperReady(), false);
  assert.equal(kernels.helperFailed(), true);
  const rng = testRng(63);
  const A = randomArray(400 * 200, rng), B = randomArray(800 * 200, rng);
  const expected = new Float32Array(400 * 800), got = new Float32Array(400 * 800);
  one!.gemm(false, true, 400, 800, 200, 1, A, 200, B, 200, 0, expected, 800);
  kernels.gemm(false, true, 400, 800, 200, 1, A, 200, B, 200, 0, got, 800);
  assert.deepEqual(got, expected);
  assert.equal(kernels.helperCalls(), 0);
});

// Node 20 has relaxed SIMD behind --experimental-wasm-relaxed-simd, which the kernels set themselves; Chromium ships it.
// The child is a plain \`node\`, with no flag: what a user of the CLI or the library runs.
const RELAXED_CHILD = `
  const { loadWasmKernels } = await import(${JSON.stringify(new URL('../src/kernels/wasm.js', import.meta.url).href)});
  const { nodeWasmThreads } = await import(${JSON.stringify(new URL('../src/kernels/wasm-threads-node.js', import.meta.url).href)});
  const one = loadWasmKernels(), two = nodeWasmThreads();
  const start = Date.now();
  while (!two.helperReady() && Date.now() - start < 10000) await new Promise((r) => setTimeout(r, 5));
  let seed = 5; const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32 - 0.5; };
  const M = 40, N = 300, K = 500, A = Float32Array.from({ length: M * K }, rnd), B = Float32Array.from({ length: K * N }, rnd);
  const c1 = new Float32Array(M * N), c2 = new Float32Array(M * N);
  one.gemm(false, false, M, N, K, 1, A, K, B, N, 0, c1, N);
  two.gemm(false, false, M, N, K, 1, A, K, B, N, 0, c2, N);
  let worst = 0, same = true;
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    let s = 0; for (let k = 0; k < K; k++) s += A[i * K + k] * B[k * N + j];
    worst = Math.max(worst, Math.abs(c1[i * N + j] - s) / (1 + Math.abs(s)));
    if (!Object.is(c1[i * N + j], c2[i * N + j])) same = false;
  }
  console.log(JSON.stringify({ variant: one.variant, twoVariant: two.variant, workerUp: two.helperReady(), calls: two.helperCalls(), worst, same }));
`;

function relaxedChild(env: Record<string, string> = {}): { variant: string; twoVariant: string; workerUp: boolean; calls: number; worst: number; same: boolean } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', RELAXED_CHILD],
    { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim());
}

test('relaxed SIMD in a plain node (the kernels set V8\'s flag): that build runs, on both threads, near the definition, the same bits on one thread or two', { skip: noTwo }, () => {
  const r = relaxedChild();
  assert.equal(r.variant, 'relaxed SIMD');
  assert.equal(r.twoVariant, 'relaxed SIMD');
  assert.ok(r.workerUp, `the worker started: ${JSON.stringify(r)}`);
  assert.ok(r.worst < 1e-4, `off the definition by ${r.worst}`);
  assert.ok(r.same, 'two threads gave other bits than one');
  assert.equal(relaxedChild({ RLSTM_RELAXED_SIMD: '0' }).variant, 'SIMD', 'RLSTM_RELAXED_SIMD=0 keeps the plain build');
});
