import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { blisKernelsFit, loadBlasBackend } from '../src/kernels/blas.js';
import { gemmJs, gemmTs, jsBackend } from '../src/kernels/js.js';
import { add, lstmGatesBackward, lstmGatesForward, multiply, softmaxCrossEntropy } from '../src/kernels/pointwise.js';
import { loadWasmKernels } from '../src/kernels/wasm.js';
import { elementwiseHelper, failMeetings, meeting, newMeetings, sharedFloat32, sharedInt32 } from '../src/kernels/helper.js';
import { waitPatience } from '../src/kernels/patience.js';
import { fillDropoutMaskPerStep } from '../src/nn/dropout.js';
import { createLstmActivations, lstmForward } from '../src/nn/lstm.js';
import { advancedState, createRng, nextUint32 } from '../src/util/rng.js';
import { gemmReference, randomArray, runLstmLayer, testRng } from './helpers.js';

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k] - b[k]));
  return m;
}


let blas: ReturnType<typeof loadBlasBackend> | null = null;
let noBlas = ''; // why the BLAS backend did not load (no OpenBLAS, or RLSTM_NATIVE=0), for the skip messages
try { blas = loadBlasBackend(); } catch (err) { blas = null; noBlas = ` (${(err as Error).message})`; }
// the BLIS paths, tested also where BLIS has only its generic kernels for the CPU (and the default backend skips it)
let blisBlas: ReturnType<typeof loadBlasBackend> | null = null;
try { blisBlas = loadBlasBackend({ blis: 'generic-too', dnnl: 'off' }); } catch { blisBlas = null; }
// OpenBLAS (and BLIS where it fits the CPU) as they run without oneDNN
let openblas: ReturnType<typeof loadBlasBackend> | null = null;
try { openblas = loadBlasBackend({ dnnl: 'off' }); } catch { openblas = null; }

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
  // more rows than one copy chunk holds; V not a multiple of 4, and V = 10,013 also leaves 3 groups of 4
  // after the last group of 16 (the kernel's main loop)
  for (const [N, V] of [[13, 10003], [7, 10013]]) {
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

test('WebAssembly LSTM gates backward equals the TypeScript kernel bit for bit, dz written over the gates', { skip: wasm === null ? 'kernels.wasm not built' : false }, () => {
  const rng = testRng(34);
  for (const H of [12, 13, 650]) { // H = 13: a last unit after the pairs
    const B = 3, n = B * H;
    const dh = randomArray(n, rng, 2), dcNext = randomArray(n, rng, 2), cPrev = randomArray(n, rng, 3);
    const tanhC = randomArray(n, rng, 1);
    const gates = Float32Array.from(randomArray(4 * n, rng, 1), (x) => Math.abs(x)); // activated gates lie in (0, 1) / (−1, 1)
    const run = (fn: typeof lstmGatesBackward) => {
      const g = gates.slice(), dc = dcNext.slice();
      fn(dh, dc, g, cPrev, tanhC, g, new Float32Array(n), B, H, null); // dz aliases the gates, as the LSTM layer calls it
      return { dz: g, dcNext: dc };
    };
    const t = run(lstmGatesBackward), w = run(wasm!.lstmGatesBackward);
    assert.deepEqual(w.dz, t.dz, `H ${H}: dz`);
    assert.deepEqual(w.dcNext, t.dcNext, `H ${H}: dcNext`);
    assert.notDeepEqual(t.dz, gates, 'the kernel wrote dz');
  }
});

test('WebAssembly multiply and add equal the TypeScript loops bit for bit, in place too, on every backend', { skip: wasm === null ? 'kernels.wasm not built' : false }, () => {
  const rng = testRng(37);
  const backends = [jsBackend, ...(blas === null ? [] : [blas])];
  for (const n of [1, 7, 64, 65536 + 5, 3 * 65536]) { // odd tails, and more than one chunk copied into the module
    const a = randomArray(n, rng, 3), b = randomArray(n, rng, 3);
    for (const [name, ts, op] of [['multiply', multiply, 'multiply'], ['add', add, 'add']] as const) {
      const expected = new Float32Array(n);
      ts(n, a, b, expected);
      assert.ok(expected.some((x, k) => x !== a[k]), `${name} changed something`);
      const w = new Float32Array(n);
      wasm![op](n, a, b, w);
      assert.deepEqual(w, expected, `wasm ${name}, n ${n}`);
      for (const backend of backends) {
        const inPlace = a.slice();
        backend[op](n, inPlace, b, inPlace);
        assert.deepEqual(inPlace, expected, `${backend.name} ${name} in place, n ${n}`);
      }
    }
  }
});

test('WebAssembly dropout masks (four generators, one per lane) are the TypeScript draws, and leave the same state', { skip: wasm === null ? 'kernels.wasm not built' : false }, () => {
  // keep 0.5: keep·2^32 is a whole number; 0.35 and 0.65: it is not (the threshold is rounded up)
  for (const [n, keep] of [[3, 0.5], [4, 0.35], [1001, 0.65], [4 * 16384 + 2, 0.5], [700 * 650, 0.35], [1_000_003, 0.8]] as const) {
    const one = createRng(17 + n), four = createRng(17 + n);
    const expected = new Float32Array(n), mask = new Float32Array(n).fill(NaN);
    for (let round = 0; round < 2; round++) {
      fillDropoutMaskPerStep(expected, n, keep, one);
      wasm!.fillDropoutMask(mask, n, keep, four);
      assert.deepEqual(mask, expected, `n ${n}, keep ${keep}, round ${round}`);
      assert.deepEqual([...four.state], [...one.state], `generator state after n ${n}`);
    }
  }
});

test('WebAssembly softmax: a NaN score makes the loss NaN (the trainer stops on it)', { skip: wasm === null ? 'kernels.wasm not built' : false }, () => {
  const V = 40, logits = randomArray(2 * V, testRng(35), 3);
  logits[V + 5] = NaN;
  const nll = wasm!.softmaxCrossEntropy(logits.slice(), Int32Array.from([1, 2]), 2, V, 0.5);
  assert.ok(Number.isNaN(nll), `nll ${nll}`);
});

test('column sums (bias gradients) on both backends: acc += Σ_n x[n], accumulated onto what acc holds', () => {
  const rng = testRng(36);
  for (const backend of [jsBackend, ...(blas === null ? [] : [blas])]) {
    for (const [N, C] of [[1, 5], [7, 13], [700, 2600]]) {
      const x = randomArray(N * C, rng, 1), start = randomArray(C, rng, 1);
      const acc = start.slice();
      backend.addColumnSums(N, C, x, acc);
      let worst = 0;
      for (let c = 0; c < C; c++) {
        let sum = start[c];
        for (let n = 0; n < N; n++) sum += x[n * C + c];
        worst = Math.max(worst, Math.abs(sum - acc[c]));
      }
      assert.ok(worst < 1e-5 * Math.sqrt(N) + 1e-6, `${backend.name} N=${N} C=${C}: off by ${worst}`);
    }
  }
});

type Gemm = (tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, A: Float32Array, lda: number,
  B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number) => void;

const GEMMS: [string, Gemm | null][] = [
  ['TypeScript fallback gemmTs', gemmTs],
  ['WebAssembly SIMD gemm', wasm === null ? null : (...args: Parameters<Gemm>) => { assert.ok(wasm!.gemm(...args)); }],
  ['js backend gemmJs', gemmJs],
];

/**
 * Checks one GEMM against the definition computed in float64, element by element, within the bound on
 * float32 rounding of a K-term dot product: |C − exact| ≤ (K + 4)·2⁻²³·(|alpha|·Σ_k |op(A)ᵢₖ·op(B)ₖⱼ| + |beta·C₀ᵢⱼ|).
 * Every operand is a view at an odd offset (not 16-byte aligned) into a larger buffer, with padded rows;
 * whatever lies outside the matrices (before, after, and the padding of C's rows) must stay untouched.
 */
function checkGemm(gemm: Gemm, tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, beta: number,
  rng: ReturnType<typeof testRng>, label: string, garbage = Number.NaN): void {
  const lda = (tA ? M : K) + 3, ldb = (tB ? K : N) + 1, ldc = N + 2;
  const aRows = tA ? K : M, bRows = tB ? N : K;
  const A = randomArray(aRows * lda + 5, rng).subarray(3, 3 + aRows * lda);
  const B = randomArray(bRows * ldb + 5, rng).subarray(1, 1 + bRows * ldb);
  const cBuffer = new Float32Array(M * ldc + 10).fill(-7); // sentinel outside C's M × N elements
  const C = cBuffer.subarray(5, 5 + M * ldc);
  const C0 = randomArray(M * N, rng);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) C[i * ldc + j] = beta === 0 ? garbage : C0[i * N + j];
  gemm(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  const a = (i: number, k: number): number => (tA ? A[k * lda + i] : A[i * lda + k]);
  const b = (k: number, j: number): number => (tB ? B[j * ldb + k] : B[k * ldb + j]);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let exact = 0, magnitude = 0;
      for (let k = 0; k < K; k++) { const p = a(i, k) * b(k, j); exact += p; magnitude += Math.abs(p); }
      const c0 = beta === 0 ? 0 : C0[i * N + j];
      const want = alpha * exact + beta * c0;
      const tolerance = (K + 4) * 2 ** -23 * (Math.abs(alpha) * magnitude + Math.abs(beta * c0));
      const got = C[i * ldc + j];
      if (!(Math.abs(got - want) <= tolerance)) {
        assert.fail(`${label}: C[${i},${j}] = ${got}, want ${want} ± ${tolerance.toExponential(1)}`);
      }
    }
  }
  for (let k = 0; k < cBuffer.length; k++) {
    const inside = k >= 5 && k < 5 + M * ldc && (k - 5) % ldc < N;
    if (!inside && cBuffer[k] !== -7) assert.fail(`${label}: wrote outside C (buffer index ${k})`);
  }
}

// Odd sizes around the blockings: WebAssembly tiles 4×8, MC 128, KC 256, NC 2048; TypeScript tiles 4×4, KC 256, NC 1024.
const GEMM_SIZES: [number, number, number][] = [
  [1, 1, 1], [1, 9, 3], [5, 1, 7], [3, 7, 5], [4, 8, 256], [13, 17, 257], [133, 11, 40], [6, 2053, 3], [9, 10, 700],
];

for (const [name, gemm] of GEMMS) {
  test(`GEMM (${name}) equals the float64 definition: every transpose, odd sizes, alpha and beta, offset views`, {
    skip: gemm === null ? 'WebAssembly SIMD is not available here' : false,
  }, () => {
    const rng = testRng(34);
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        for (const [M, N, K] of GEMM_SIZES) {
          for (const [alpha, beta] of [[1, 0], [1, 1], [0.7, 0.5], [-1.5, 1]]) {
            checkGemm(gemm!, tA, tB, M, N, K, alpha, beta, rng, `tA=${tA} tB=${tB} ${M}×${N}×${K} alpha=${alpha} beta=${beta}`);
          }
        }
      }
    }
    // beta = 0 ignores C, even ±Infinity; K = 0 and alpha = 0 leave beta·C and read neither A nor B
    checkGemm(gemm!, false, true, 6, 10, 9, 1, 0, rng, 'beta 0 over Infinity', Number.POSITIVE_INFINITY);
    checkGemm(gemm!, true, false, 6, 10, 0, 1, 0.5, rng, 'K = 0');
    checkGemm(gemm!, false, false, 6, 10, 9, 0, 0, rng, 'alpha = 0, beta = 0 over NaN');
    const A = new Float32Array([Number.NaN, Number.NaN]), C = new Float32Array([2, 4]);
    gemm!(false, false, 1, 2, 1, 0, A, 1, A, 2, 0.5, C, 2);
    assert.deepEqual(Array.from(C), [1, 2], 'alpha = 0: NaN in A and B is not read');
    // beta = 1 accumulates, call after call
    const X = randomArray(30 * 40, rng), Y = randomArray(40 * 50, rng);
    const once = new Float32Array(30 * 50), twice = new Float32Array(30 * 50);
    gemm!(false, false, 30, 50, 40, 1, X, 40, Y, 50, 0, once, 50);
    gemm!(false, false, 30, 50, 40, 1, X, 40, Y, 50, 1, twice, 50);
    gemm!(false, false, 30, 50, 40, 1, X, 40, Y, 50, 1, twice, 50);
    for (let k = 0; k < once.length; k++) assert.ok(Math.abs(twice[k] - 2 * once[k]) <= 1e-5 * (1 + Math.abs(once[k])), 'beta 1 accumulates');
  });
}

const blis = openblas !== null && /libblis\S* for /.test(openblas.library);

test('an installed BLIS is used only where it has kernels for the CPU, not its generic C ones', () => {
  assert.equal(blisKernelsFit('generic'), false);
  for (const arch of ['zen3', 'zen2', 'haswell', 'skx', 'unknown']) assert.equal(blisKernelsFit(arch), true, arch);
});

test('BLAS backend, products of few rows by a large operand (BLIS when installed): the float64 definition, every transpose, deterministic', {
  skip: blas === null ? `BLAS not available${noBlas}` : false,
}, () => {
  if (existsSync('/usr/lib/x86_64-linux-gnu/libblis.so.4') && process.env.RLSTM_BLIS !== '0') {
    // used, or said not to be where it knows no kernels for the CPU (BLIS 0.9 on Zen 5)
    assert.ok(blis || /; libblis\.so\.4 not used: it has only its generic kernels for this CPU(;|$)/.test(openblas!.library),
      `BLIS is installed but the backend without oneDNN does not use it: ${openblas!.library}`);
  }
  const rng = testRng(37);
  const backends = [blas!, openblas!, ...(blisBlas !== null && blisBlas.library !== openblas!.library ? [blisBlas] : [])];
  for (const backend of [...new Set(backends.filter((b) => b !== null))]) {
    const gemm: Gemm = (...args) => backend.gemm(...args);
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        for (const [alpha, beta] of [[1, 0], [1, 1], [0.7, -0.5]]) {
          // K·N ≥ 2^20 floats with at most 32 rows: the recurrent products' route (3×1100×1000; and B = 20 rows)
          checkGemm(gemm, tA, tB, 3, 1100, 1000, alpha, beta, rng, `tA=${tA} tB=${tB} 3×1100×1000 alpha=${alpha} beta=${beta}`);
        }
      }
    }
    checkGemm(gemm, false, true, 20, 2600, 650, 1, 1, rng, 'medium recurrent 20×2600×650');
    const A = randomArray(20 * 650, rng), B = randomArray(2600 * 650, rng);
    const first = new Float32Array(20 * 2600), second = new Float32Array(20 * 2600);
    gemm(false, true, 20, 2600, 650, 1, A, 650, B, 650, 0, first, 2600);
    gemm(false, false, 20, 650, 2600, 1, first, 2600, B, 650, 0, new Float32Array(20 * 650), 650); // something else in between
    gemm(false, true, 20, 2600, 650, 1, A, 650, B, 650, 0, second, 2600);
    assert.deepEqual(second, first, `${backend.library}: bit-identical on a second call`);
  }
});

test('GEMM is deterministic: the same inputs give bit-identical outputs, run after run, on the model\'s shapes', () => {
  const rng = testRng(35);
  const M = 400, N = 800, K = 200; // small configuration: x · W_ihᵀ over all steps
  const A = randomArray(M * K, rng), B = randomArray(N * K, rng);
  for (const [name, gemm] of GEMMS) {
    if (gemm === null) continue;
    const first = new Float32Array(M * N), second = new Float32Array(M * N);
    gemm(false, true, M, N, K, 1, A, K, B, K, 0, first, N);
    gemm(true, true, 7, 9, 3, 1, randomArray(100, rng), 7, randomArray(100, rng), 3, 0, new Float32Array(63), 9); // something else in between
    gemm(false, true, M, N, K, 1, A, K, B, K, 0, second, N);
    assert.deepEqual(second, first, name);
  }
});

test('the js backend runs its GEMM in WebAssembly SIMD where the engine has it (Node 20 does)', () => {
  assert.notEqual(wasm, null, 'the embedded kernels did not load: run npm run build (build:wasm writes src/kernels/kernels-wasm.generated.ts)');
});

test('the js backend runs the elementwise kernels of the BLAS backend in WebAssembly: the cell forward and backward, softmax, the masks', { skip: wasm === null ? 'kernels.wasm not built' : false }, () => {
  const rng = testRng(37);
  // softmax + cross-entropy over more rows than one copy chunk, training and evaluation: the WebAssembly bits
  const N = 9, V = 10003;
  const logits = randomArray(N * V, rng, 8), targets = Int32Array.from({ length: N }, (_, n) => (n * 7919) % V);
  for (const scale of [0, 0.05]) {
    const a = logits.slice(), b = logits.slice();
    assert.equal(jsBackend.softmaxCrossEntropy(a, targets, N, V, scale), wasm!.softmaxCrossEntropy(b, targets, N, V, scale));
    assert.deepEqual(a, b);
  }
  // one LSTM step, without layer norm: the WebAssembly bits (which differ from the TypeScript loop's: the test fails on it)
  const B = 3, H = 13;
  const z = randomArray(B * 4 * H, rng, 3), cPrev = randomArray(B * H, rng);
  const run = (forward: typeof lstmGatesForward) => {
    const out = { z: z.slice(), c: new Float32Array(B * H), tanhC: new Float32Array(B * H), h: new Float32Array(B * H) };
    forward(out.z, cPrev, out.c, out.tanhC, out.h, B, H, null, null);
    return out;
  };
  const viaBackend = run(jsBackend.lstmGatesForward);
  assert.deepEqual(viaBackend, run(wasm!.lstmGatesForward));
  assert.notDeepEqual(viaBackend, run(lstmGatesForward), 'these inputs tell the two kernels apart');
  assert.equal(jsBackend.lstmGatesBackward, wasm!.lstmGatesBackward);
  assert.equal(jsBackend.fillDropoutMask, wasm!.fillDropoutMask);
});

test('the generator jumped ahead n draws (advancedState) is where n draws leave it', () => {
  for (const seed of [1, 42, 2024]) {
    for (const n of [0, 1, 2, 31, 32, 33, 1000, 65537]) {
      const rng = createRng(seed);
      const start = rng.state.slice();
      for (let k = 0; k < n; k++) nextUint32(rng);
      assert.deepEqual([...advancedState(start, n)], [...rng.state], `seed ${seed}, n ${n}`);
    }
  }
  assert.throws(() => advancedState(new Uint32Array(4), -1), /whole number/);
});

/** Waits (up to 10 s) for the helper thread to come up. */
async function readyHelper(): Promise<NonNullable<ReturnType<typeof elementwiseHelper>>> {
  const helper = elementwiseHelper();
  assert.ok(helper !== null, 'no helper thread (RLSTM_HELPER=0, or one core)');
  for (let waited = 0; !helper.ready() && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
  assert.ok(helper.ready(), 'the helper thread did not start');
  return helper;
}

const twoThreads = blas !== null && wasm !== null && process.env.RLSTM_HELPER !== '0' && availableParallelism() >= 2;

test('two threads: softmax + cross-entropy over shared memory gives the one-thread bits (loss and gradient)', {
  skip: twoThreads ? false : `needs OpenBLAS, WebAssembly SIMD and two cores${noBlas}`,
}, async () => {
  const helper = await readyHelper();
  const rng = testRng(77);
  for (const [N, V, scale] of [[140, 1000, 0.05], [61, 10000, 1 / 20], [61, 10000, 0]] as const) {
    const logits = sharedFloat32(N * V), targets = sharedInt32(N);
    logits.set(randomArray(N * V, rng, 6));
    for (let n = 0; n < N; n++) targets[n] = (n * 7919) % V;
    const expected = logits.slice();
    const expectedNll = wasm!.softmaxCrossEntropy(expected, targets, N, V, scale);
    const before = helper.tasksDone();
    const nll = blas!.softmaxCrossEntropy(logits, targets, N, V, scale);
    assert.equal(helper.tasksDone(), before + 1, 'the helper took no part');
    assert.equal(nll, expectedNll, `N ${N} V ${V}`);
    assert.deepEqual(logits, expected);
  }
});

test('two threads: a dropout mask in shared memory has the one-thread draws, and the generator ends in the same state', {
  skip: twoThreads ? false : `needs OpenBLAS, WebAssembly SIMD and two cores${noBlas}`,
}, async () => {
  const helper = await readyHelper();
  for (const n of [65536, 700 * 650 + 3]) {
    const one = createRng(9), two = createRng(9);
    const expected = new Float32Array(n), mask = sharedFloat32(n);
    for (let round = 0; round < 2; round++) {
      fillDropoutMaskPerStep(expected, n, 0.35, one);
      const before = helper.tasksDone();
      blas!.fillDropoutMask!(mask, n, 0.35, two);
      assert.equal(helper.tasksDone(), before + 1, 'the helper took no part');
      assert.deepEqual(mask, expected, `n ${n}, round ${round}`);
      assert.deepEqual([...two.state], [...one.state]);
    }
  }
});

// The recurrent loop's library: BLIS (where installed, even with only its generic kernels), and OpenBLAS alone,
// one-thread on each of the two threads (the route where BLIS is not used)
const RECURRENT_LIBRARIES = [...(blisBlas?.library.includes('libblis') ? ['generic-too' as const] : []), 'off' as const];

test('two threads: an LSTM layer\'s recurrent loop, its products split by rows or by columns, gives the one-thread bits, forward and backward, in BLIS and in OpenBLAS', {
  skip: twoThreads && openblas?.recurrentLoop !== undefined ? false : `needs OpenBLAS, WebAssembly SIMD and two cores${noBlas}`,
}, async () => {
  const helper = await readyHelper();
  const rng = testRng(41);
  // H = 522: 4H·H ≥ 2^20 floats, as in the medium and large models. H not a multiple of 8: the middles of the
  // products (2H, H/2) fall inside BLIS's 16-column tiles, where no cut may go; the forward's columns split
  // into pieces (FORWARD_PIECE_ROWS). H = 200: the small model, whose products outside the loop keep OpenBLAS.
  // B odd: halves of 3 and 4 rows (and B·4H·H ≥ RECURRENT_HELPER_MIN at H = 200). B = 40: more rows than BLIS takes outside the
  // loop (SKINNY_ROWS), which inside it must still go to the loop's library on one thread as on two.
  // And medium's shape in OpenBLAS (H 650, B 20), whose bits for such a product depend on how it is cut: the one-thread
  // loop must make the two threads' calls.
  for (const blis of RECURRENT_LIBRARIES) for (const [H, B] of [[522, 7], [200, 7], [200, 40], ...(blis === 'off' ? [[650, 20]] : [])]) {
    const T = 3, In = 6;
    const w = {
      weightIh: randomArray(4 * H * In, rng, 0.3), weightHh: randomArray(4 * H * H, rng, 0.05),
      biasIh: randomArray(4 * H, rng, 0.3), biasHh: randomArray(4 * H, rng, 0.3),
      lnIhGain: null, lnHhGain: null, lnCellGain: null, lnCellBias: null,
    };
    const x = randomArray(T * B * In, rng), dH = sharedFloat32(T * B * H), h0 = randomArray(B * H, rng, 0.5), c0 = randomArray(B * H, rng, 0.5);
    dH.set(randomArray(T * B * H, rng));
    const run = (backend: NonNullable<typeof blas>) => runLstmLayer(backend, { w, x, dH, h0, c0, T, B, In, H }, sharedFloat32);
    for (const recurrentSplit of ['rows', 'columns'] as const) {
      let before = helper.tasksDone();
      // one thread makes the products that the two threads' shares make for this split, one after the other
      const oneThread = run(loadBlasBackend({ hidden: H, recurrentThreads: 1, recurrentSplit, blis, dnnl: 'off' }));
      assert.equal(helper.tasksDone(), before, 'recurrentThreads 1 kept the loop on this thread');
      assert.ok(oneThread.h.some((v) => v !== 0) && oneThread.dx.some((v) => v !== 0));
      before = helper.tasksDone();
      const backend = loadBlasBackend({ hidden: H, recurrentSplit, blis, dnnl: 'off' });
      assert.equal(backend.library.includes('libblis'), blis !== 'off', backend.library);
      const split = run(backend);
      const what = `${blis === 'off' ? 'OpenBLAS' : 'BLIS'}, H ${H}, ${recurrentSplit}`;
      assert.equal(helper.tasksDone(), before + 2, `${what}: the helper ran the forward and the backward loops`);
      assert.deepEqual(split.h, oneThread.h, `${what}: h`);
      assert.deepEqual(split.c, oneThread.c, `${what}: c`);
      assert.deepEqual(split.dx, oneThread.dx, `${what}: dx`);
      assert.deepEqual(split.g, oneThread.g, `${what}: weight and bias gradients`);
    }
  }
});

test('two threads in lockstep: an error on one thread ends the loop with that error instead of a hang', {
  skip: twoThreads && blisBlas?.recurrentLoop !== undefined ? false : `needs OpenBLAS, WebAssembly SIMD and two cores${noBlas}`,
}, () => {
  // in a child process: the failure leaves the process's helper thread marked as failed
  const src = new URL('../src/', import.meta.url).href;
  const script = `
    const { loadBlasBackend } = await import('${src}kernels/blas.js');
    const { elementwiseHelper } = await import('${src}kernels/helper.js');
    const { createLstmActivations, lstmForward } = await import('${src}nn/lstm.js');
    const helper = elementwiseHelper();
    while (!helper.ready()) await new Promise((r) => setTimeout(r, 10));
    const blas = loadBlasBackend({ recurrentSplit: 'columns', blis: 'generic-too', dnnl: 'off' });
    const T = 4, B = 4, H = 512, f = (n) => new Float32Array(new SharedArrayBuffer(4 * n)).fill(0.01);
    const w = { weightIh: f(4 * H * 8), weightHh: f(4 * H * H), biasIh: f(4 * H), biasHh: f(4 * H),
      lnIhGain: null, lnHhGain: null, lnCellGain: null, lnCellBias: null };
    let calls = 0;
    const failing = { ...blas, lstmGatesForward(...args) {
      if (++calls === 2) throw new Error('injected failure at step 2');
      return blas.lstmGatesForward(...args);
    } };
    lstmForward(failing, createLstmActivations(T, B, H, false, false, f), w, f(T * B * 8), null, T, B, 8, H);
  `;
  const dir = mkdtempSync(join(tmpdir(), 'rlstm-lockstep-'));
  const file = join(dir, 'fail.mjs'); // a file, not -e: a worker inherits -e and would run the script instead
  writeFileSync(file, script);
  const started = Date.now();
  const child = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 15_000 });
  rmSync(dir, { recursive: true });
  assert.equal(child.signal, null, `the loop hung: ${child.stderr}`);
  assert.notEqual(child.status, 0);
  assert.match(child.stderr, /injected failure at step 2/);
  assert.ok(Date.now() - started < 20_000);
});

test('a lockstep meeting returns once the other thread has arrived as often, and throws once it has failed', () => {
  const sync = sharedInt32(3);
  newMeetings(sync);
  const meet = meeting(sync, 0);
  Atomics.store(sync, 1, 2); // the other thread has reached its second meeting
  meet();
  meet();
  assert.equal(Atomics.load(sync, 0), 2, 'this thread\'s arrivals are counted');
  failMeetings(sync); // the other thread fails before its third
  assert.throws(() => meet(), /the other thread of the recurrent loop failed/);
  newMeetings(sync);
  assert.deepEqual([...sync], [0, 0, 0]);
});

test('a waiting thread gives up after its timeout of close readings, but not because the process was suspended', () => {
  let t = 0;
  const clock = (): number => t;
  const steady = waitPatience(60_000, clock);
  for (; t < 60_000; t += 10) assert.equal(steady.expired(), false, `expired after ${t} ms of a 60 s timeout`);
  t += 20;
  assert.equal(steady.expired(), true, 'just past 60 s of waiting in 10 ms slices');

  t = 0;
  const paused = waitPatience(60_000, clock);
  for (; t < 30_000; t += 10) paused.expired();
  t += 3_600_000; // kill -STOP, an hour, kill -CONT: one reading an hour after the previous one
  assert.equal(paused.expired(), false, 'the hour the process stood still does not count');
  for (let k = 0; k < 2_000; k++) { t += 10; assert.equal(paused.expired(), false, 'within 30 + 20 s of waiting'); }
  for (let k = 0; k < 1_002; k++) { t += 10; paused.expired(); } // 10.02 s more: 60.02 s of waiting in all
  assert.equal(paused.expired(), true, 'the waiting before and after the pause adds up');
});
