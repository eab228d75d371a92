import { advancedState } from '../util/rng.js';
import { KERNELS_WASM_BASE64 } from './kernels-wasm.generated.js';
import {
  add as addTs, fillDropoutMaskPerStep, multiply as multiplyTs,
  lstmGatesBackward as lstmGatesBackwardTs, lstmGatesForward as lstmGatesForwardTs, softmaxCrossEntropy as softmaxCrossEntropyTs,
} from './pointwise.js';

/**
 * The WebAssembly SIMD kernels of assembly/ (kernels.ts, gemm.ts), compiled by the build and embedded in
 * kernels-wasm.generated.ts as base64, so that Node and a browser bundle load them the same way.
 * Their data lives in the module's own memory, so the wrappers here copy operands in (and results out):
 * a few rows at a time for the elementwise kernels, whole matrices for the GEMM, whose O(n²) copies are
 * small next to its O(n³) arithmetic.
 */

/**
 * softmaxCrossEntropy (pointwise.ts), done a few rows at a time; with chunkSums, each chunk's summed NLL
 * is also written there (chunk c is rows [c·r, (c+1)·r) for r = softmaxRowsPerChunk(V)), so that two
 * threads can each take whole chunks and the caller add the sums in the one-thread order.
 */
export type ChunkedSoftmax = (logits: Float32Array, targets: Int32Array, N: number, V: number, scale: number,
  chunkSums?: Float64Array) => number;

/** Rows of V logits per chunk copied into the module. */
export function softmaxRowsPerChunk(V: number): number {
  return Math.max(1, Math.floor(CHUNK_FLOATS / V));
}

interface KernelExports {
  memory: WebAssembly.Memory;
  scratch(bytes: number): number;
  softmaxCrossEntropy(logits: number, targets: number, N: number, V: number, scale: number): number;
  lstmGatesForward(z: number, cPrev: number, c: number, tanhC: number, h: number, B: number, H: number): void;
  lstmGatesBackward(dh: number, dcNext: number, gates: number, cPrev: number, tanhC: number, dz: number, B: number, H: number): void;
  gemm(transA: number, transB: number, M: number, N: number, K: number, alpha: number, A: number, lda: number,
    B: number, ldb: number, beta: number, C: number, ldc: number): void;
  multiply(a: number, b: number, out: number, n: number): void;
  add(a: number, b: number, out: number, n: number): void;
  dropoutMaskLanes(state: number, out: number, count: number, threshold: number, scale: number): void;
}

/** Floats per chunk copied into the module: ~256 KB, about what a core's L2 cache holds comfortably. */
const CHUNK_FLOATS = 65536;

export interface WasmKernels {
  softmaxCrossEntropy: ChunkedSoftmax;
  lstmGatesForward: typeof lstmGatesForwardTs;
  /**
   * multiply and add (pointwise.ts), bit for bit, four lanes at a time. Even with the copies in and out
   * (memcpy speed), several times faster than a TypeScript loop, which V8 runs one element at a time.
   */
  multiply: typeof multiplyTs;
  add: typeof addTs;
  /**
   * fillDropoutMaskPerStep (pointwise.ts), bit for bit, with the generator left in the same state: the n
   * draws are cut in four quarters, each drawn by its own lane from the generator's state at the start of
   * its quarter (advancedState, util/rng.ts); the last n mod 4 by the TypeScript loop.
   */
  fillDropoutMask: typeof fillDropoutMaskPerStep;
  /** Bit for bit the TypeScript lstmGatesBackward (float64 arithmetic in the same order). */
  lstmGatesBackward: typeof lstmGatesBackwardTs;
  /**
   * Backend.gemm's contract (C = alpha·op(A)·op(B) + beta·C). Returns false, having done nothing, when
   * the module's memory cannot grow to hold the operands; the caller then computes it another way.
   */
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number,
    alpha: number, A: Float32Array, lda: number, B: Float32Array, ldb: number,
    beta: number, C: Float32Array, ldc: number,
  ): boolean;
}

let cached: WasmKernels | null | undefined;

/** The kernels, or null when the engine lacks WebAssembly SIMD (callers fall back to TypeScript). */
export function loadWasmKernels(): WasmKernels | null {
  if (cached !== undefined) return cached;
  try {
    const binary = atob(KERNELS_WASM_BASE64);
    const bytes = new Uint8Array(binary.length);
    for (let k = 0; k < binary.length; k++) bytes[k] = binary.charCodeAt(k);
    // synchronous compilation: fine in Node and in a Web Worker (a browser's main thread allows it only up to 4 KB)
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { abort: () => { throw new Error('wasm abort'); } } });
    cached = makeKernels(instance.exports as unknown as KernelExports);
  } catch {
    cached = null;
  }
  return cached;
}

/** Floats from the first to the last element of a rows × cols matrix stored with row stride ld. */
function span(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

function makeKernels(k: KernelExports): WasmKernels {
  // One scratch region in the module's memory, grown on demand to the largest need: floats, then ints.
  let base = 0;
  let floats = new Float32Array(0), ints = new Int32Array(0);
  const ensure = (floatCount: number, intCount: number): boolean => {
    base = k.scratch((floatCount + intCount) * 4 + 16);
    if (base === 0) return false;
    if (floats.buffer !== k.memory.buffer) { // views made before the memory grew are detached
      floats = new Float32Array(k.memory.buffer);
      ints = new Int32Array(k.memory.buffer);
    }
    return true;
  };
  /** out = op(a, b), a chunk at a time: a and b copied in side by side, the result copied out. */
  const vectorOp = (op: (a: number, b: number, out: number, n: number) => void, fallback: typeof multiplyTs): typeof multiplyTs =>
    (n, a, b, out) => {
      const chunk = Math.min(n, CHUNK_FLOATS);
      if (!ensure(2 * chunk, 0)) { fallback(n, a, b, out); return; }
      const f = base / 4;
      for (let k0 = 0; k0 < n; k0 += chunk) {
        const r = Math.min(chunk, n - k0);
        floats.set(a.subarray(k0, k0 + r), f);
        floats.set(b.subarray(k0, k0 + r), f + chunk);
        op(base, base + chunk * 4, base, r);
        out.set(floats.subarray(f, f + r), k0);
      }
    };
  return {
    multiply: vectorOp(k.multiply, multiplyTs),
    add: vectorOp(k.add, addTs),
    fillDropoutMask(mask, n, keep, rng) {
      const threshold = Math.ceil(keep * 4294967296); // draw / 2^32 < keep  ⇔  draw < ⌈keep · 2^32⌉ (draws are integers)
      const quarter = Math.floor(n / 4), chunk = Math.min(quarter, CHUNK_FLOATS / 4);
      if (quarter === 0 || !(threshold >= 0 && threshold <= 0xffffffff) || !ensure(4 * chunk + 16, 0)) {
        fillDropoutMaskPerStep(mask, n, keep, rng);
        return;
      }
      const stateAt = base, outAt = base + 64, f = outAt / 4, words = stateAt / 4;
      for (let lane = 0; lane < 4; lane++) { // lane i starts i quarters later: s0 of every lane, then s1, ...
        const s = lane === 0 ? rng.state : advancedState(rng.state, lane * quarter);
        for (let w = 0; w < 4; w++) ints[words + 4 * w + lane] = s[w];
      }
      for (let j0 = 0; j0 < quarter; j0 += chunk) {
        const r = Math.min(chunk, quarter - j0);
        k.dropoutMaskLanes(stateAt, outAt, r, threshold | 0, 1 / keep);
        for (let lane = 0; lane < 4; lane++) mask.set(floats.subarray(f + lane * r, f + (lane + 1) * r), lane * quarter + j0);
      }
      for (let w = 0; w < 4; w++) rng.state[w] = ints[words + 4 * w + 3]; // lane 3 ends where n − n mod 4 draws end
      if (4 * quarter < n) fillDropoutMaskPerStep(mask.subarray(4 * quarter), n - 4 * quarter, keep, rng);
    },
    softmaxCrossEntropy(logits, targets, N, V, scale, chunkSums) {
      const rows = softmaxRowsPerChunk(V);
      if (!ensure(rows * V, rows)) {
        if (chunkSums === undefined) return softmaxCrossEntropyTs(logits, targets, N, V, scale);
        throw new Error(`softmaxCrossEntropy: the WebAssembly memory cannot hold ${rows} rows of ${V}`);
      }
      const logitsPtr = base, targetsPtr = base + rows * V * 4;
      let nll = 0;
      for (let n0 = 0; n0 < N; n0 += rows) {
        const r = Math.min(rows, N - n0);
        const chunk = logits.subarray(n0 * V, (n0 + r) * V);
        floats.set(chunk, logitsPtr / 4);
        ints.set(targets.subarray(n0, n0 + r), targetsPtr / 4);
        const chunkNll = k.softmaxCrossEntropy(logitsPtr, targetsPtr, r, V, scale);
        if (chunkSums !== undefined) chunkSums[n0 / rows] = chunkNll;
        nll += chunkNll;
        if (scale !== 0) chunk.set(floats.subarray(logitsPtr / 4, logitsPtr / 4 + r * V));
      }
      return nll;
    },
    lstmGatesForward(z, cPrev, c, tanhC, h, B, H, normalizeCell, cAct) {
      if (normalizeCell !== null) {
        lstmGatesForwardTs(z, cPrev, c, tanhC, h, B, H, normalizeCell, cAct);
        return;
      }
      const n = B * H;
      if (!ensure(8 * n, 0)) {
        lstmGatesForwardTs(z, cPrev, c, tanhC, h, B, H, normalizeCell, cAct);
        return;
      }
      const f = base / 4; // float offsets: z (4n), cPrev, c, tanhC, h (n each)
      floats.set(z.subarray(0, 4 * n), f);
      floats.set(cPrev.subarray(0, n), f + 4 * n);
      k.lstmGatesForward(base, base + 16 * n, base + 20 * n, base + 24 * n, base + 28 * n, B, H);
      z.set(floats.subarray(f, f + 4 * n));
      c.set(floats.subarray(f + 5 * n, f + 6 * n));
      tanhC.set(floats.subarray(f + 6 * n, f + 7 * n));
      h.set(floats.subarray(f + 7 * n, f + 8 * n));
    },
    lstmGatesBackward(dh, dcNext, gates, cPrev, tanhC, dz, dcAct, B, H, normalizeCellBackward) {
      const n = B * H;
      if (normalizeCellBackward !== null || !ensure(8 * n, 0)) {
        lstmGatesBackwardTs(dh, dcNext, gates, cPrev, tanhC, dz, dcAct, B, H, normalizeCellBackward);
        return;
      }
      const f = base / 4; // float offsets: gates (4n, overwritten by dz), dh, dcNext, cPrev, tanhC (n each)
      floats.set(gates.subarray(0, 4 * n), f);
      floats.set(dh.subarray(0, n), f + 4 * n);
      floats.set(dcNext.subarray(0, n), f + 5 * n);
      floats.set(cPrev.subarray(0, n), f + 6 * n);
      floats.set(tanhC.subarray(0, n), f + 7 * n);
      k.lstmGatesBackward(base + 16 * n, base + 20 * n, base, base + 24 * n, base + 28 * n, base, B, H);
      dz.set(floats.subarray(f, f + 4 * n));
      dcNext.set(floats.subarray(f + 5 * n, f + 6 * n));
    },
    gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) {
      if (M <= 0 || N <= 0) return true;
      const readsAB = alpha !== 0 && K > 0;
      const aLen = readsAB ? span(transA ? K : M, transA ? M : K, lda) : 0;
      const bLen = readsAB ? span(transB ? N : K, transB ? K : N, ldb) : 0;
      const cLen = span(M, N, ldc);
      if (A.length < aLen || B.length < bLen || C.length < cLen) {
        throw new RangeError(`gemm: an operand is shorter than M=${M} N=${N} K=${K} and its stride say`);
      }
      // float offsets in the scratch region, each 16-byte aligned: A, then B, then C
      const bAt = (aLen + 3) & ~3, cAt = bAt + ((bLen + 3) & ~3);
      if (!ensure(cAt + cLen, 0)) return false;
      const f = base / 4;
      if (aLen > 0) floats.set(A.subarray(0, aLen), f);
      if (bLen > 0) floats.set(B.subarray(0, bLen), f + bAt);
      // C is read only when beta ≠ 0; with padded rows it goes in anyway, so the copy back keeps the gaps
      if (beta !== 0 || ldc !== N) floats.set(C.subarray(0, cLen), f + cAt);
      k.gemm(transA ? 1 : 0, transB ? 1 : 0, M, N, K, alpha, base, lda, base + bAt * 4, ldb, beta, base + cAt * 4, ldc);
      C.set(floats.subarray(f + cAt, f + cAt + cLen));
      return true;
    },
  };
}
