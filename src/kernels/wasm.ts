import { advancedState } from '../util/rng.js';
import {
  KERNELS_RELAXED_WASM_BASE64, KERNELS_SHARED_RELAXED_WASM_BASE64, KERNELS_SHARED_WASM_BASE64, KERNELS_WASM_BASE64,
} from './kernels-wasm.generated.js';
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
 *
 * Four builds (scripts/build-wasm.mjs): plain SIMD or relaxed SIMD (the GEMM's multiply-adds as
 * f32x4.relaxed_madd, fused on a CPU with FMA), each with its own memory (one thread) or on a shared memory
 * that a second thread's instance works on too (wasm-threads.ts). The relaxed build is chosen when the
 * engine validates a relaxed instruction (relaxedSimdAvailable): Chromium since 114 does, and Node 20 once
 * the kernels have set V8's flag for it (enableRelaxedSimdInNode). Its products round differently from the plain build's (one rounding
 * per multiply-add instead of two), so results differ in the last bits between engines that differ here;
 * within one process every call, on either thread, runs the same build.
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

export interface KernelExports {
  memory: WebAssembly.Memory;
  scratch(bytes: number): number;
  softmaxCrossEntropy(logits: number, targets: number, N: number, V: number, scale: number): number;
  lstmGatesForward(z: number, cPrev: number, c: number, tanhC: number, h: number, B: number, H: number): void;
  lstmGatesBackward(dh: number, dcNext: number, gates: number, cPrev: number, tanhC: number, dz: number, B: number, H: number): void;
  gemm(transA: number, transB: number, M: number, N: number, K: number, alpha: number, A: number, lda: number,
    B: number, ldb: number, beta: number, C: number, ldc: number, work: number): void;
  gemmWorkBytes(): number;
  reserve(bytes: number): number;
  peakMultiplyAdd(iterations: number): number;
  multiply(a: number, b: number, out: number, n: number): void;
  add(a: number, b: number, out: number, n: number): void;
  dropoutMaskLanes(state: number, out: number, count: number, threshold: number, scale: number): void;
  roundToBf16(src: number, dst: number, n: number): void;
}

/** Which build runs: relaxed SIMD (fused multiply-adds where the CPU has them) or plain SIMD. */
export type WasmVariant = 'relaxed SIMD' | 'SIMD';

/**
 * A GEMM call on pointers into the module's memory (transA/transB 0 or 1), cut into `count` blocks of C:
 * blocks of `width` columns (byColumns = 1) or rows (0), the last one narrower (gemmChunks).
 */
export interface GemmCall {
  transA: number; transB: number; M: number; N: number; K: number; alpha: number;
  A: number; lda: number; B: number; ldb: number; beta: number; C: number; ldc: number;
  byColumns: number; width: number; count: number;
}

/** Block c of a cut call, computed with this thread's workspace: a gemm on those columns or rows alone. */
export function gemmBlock(k: KernelExports, g: GemmCall, c: number, work: number): void {
  const first = c * g.width;
  if (g.byColumns === 1) { // columns of C: columns of op(B), i.e. rows of B when transposed
    const n = Math.min(g.width, g.N - first);
    k.gemm(g.transA, g.transB, g.M, n, g.K, g.alpha, g.A, g.lda, g.B + (g.transB ? first * g.ldb : first) * 4, g.ldb,
      g.beta, g.C + first * 4, g.ldc, work);
  } else { // rows of C: rows of op(A), i.e. columns of A when transposed
    const m = Math.min(g.width, g.M - first);
    k.gemm(g.transA, g.transB, m, g.N, g.K, g.alpha, g.A + (g.transA ? first : first * g.lda) * 4, g.lda, g.B, g.ldb,
      g.beta, g.C + first * g.ldc * 4, g.ldc, work);
  }
}

/**
 * A second thread that computes blocks of a GEMM on the same (shared) memory with its own instance of the
 * module (wasm-threads.ts). `post` offers it the call's blocks; both threads then take blocks one at a time
 * (`claim`: the next block nobody has taken, or −1), so that a helper the machine does not run at the moment
 * leaves its blocks to this thread instead of holding it up; `finish` waits for the blocks the helper took.
 */
export interface GemmHelper {
  ready(): boolean;
  failed(): boolean;
  /** Blocks the helper has computed since it started. */
  tasksDone(): number;
  post(call: GemmCall): void;
  claim(): number;
  finish(blocksDoneHere: number): void;
}

/** Floats per chunk copied into the module: ~256 KB, about what a core's L2 cache holds comfortably. */
const CHUNK_FLOATS = 65536;

export interface WasmKernels {
  /** The build that runs (see WasmVariant) and on how many threads its GEMM may run. */
  variant: WasmVariant;
  threads: 1 | 2;
  /** Two threads: whether the second is up (until then every GEMM runs on this one), or has failed. */
  helperReady(): boolean;
  helperFailed(): boolean;
  /** GEMM blocks the second thread has computed (for tests: did the products really use it?). */
  helperCalls(): number;
  /**
   * The build's multiply-add peak on this thread, in GFLOP/s: twelve independent f32x4 chains for about
   * `seconds` (assembly/gemm.ts, peakMultiplyAdd). For the bench: the GEMM's speed as a fraction of it.
   */
  peakGflops(seconds?: number): number;
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
  /**
   * roundToBf16 (bf16.ts), bit for bit its TypeScript loop, eight values at a time; the floats cross into the
   * module as bits, so that a signalling NaN arrives as it was. Returns false, having done nothing, when the
   * module's memory cannot grow to hold a chunk; the caller then runs the TypeScript loop.
   */
  roundToBf16(src: Float32Array, dst: Uint16Array, n: number): boolean;
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

function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let k = 0; k < binary.length; k++) bytes[k] = binary.charCodeAt(k);
  return bytes;
}

/**
 * (module (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd)):
 * an engine that validates it runs the relaxed build.
 */
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, // types: (v128 v128 v128) → v128
  0x03, 0x02, 0x01, 0x00, // functions: one, of type 0
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b, // code: f32x4.relaxed_madd (0xfd 261)
]);

interface NodeProcess {
  env?: Record<string, string | undefined>;
  getBuiltinModule?: (id: string) => unknown;
}

/**
 * Node 20's V8 has relaxed SIMD but validates it only with --experimental-wasm-relaxed-simd (Node 22 and
 * later: on by default). The kernels set that flag for the process themselves, before they compile, so that
 * the CLI, the library and their GEMM worker (V8's flags are process-wide) run the relaxed build alike,
 * without anyone passing a flag to node. Reached through process.getBuiltinModule (Node ≥ 20.16), so that
 * this file imports nothing of Node's and runs in a browser, where it does nothing. Other WebAssembly of
 * the process then also finds relaxed SIMD, as it will by default on Node 22.
 */
function enableRelaxedSimdInNode(): void {
  const proc = (globalThis as { process?: NodeProcess }).process;
  try {
    const v8 = proc?.getBuiltinModule?.('node:v8') as { setFlagsFromString(flags: string): void } | undefined;
    v8?.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch { /* not Node, or a V8 without the flag: the plain build runs */ }
}

/**
 * True when the engine has relaxed SIMD: Chromium ≥ 114, Node ≥ 22, Node 20.16 and later once
 * enableRelaxedSimdInNode has set V8's flag. RLSTM_RELAXED_SIMD=0 says no (and sets no flag).
 */
export function relaxedSimdAvailable(): boolean {
  const env = (globalThis as { process?: NodeProcess }).process?.env;
  if (env?.RLSTM_RELAXED_SIMD === '0') return false;
  try {
    if (WebAssembly.validate(RELAXED_PROBE)) return true;
    enableRelaxedSimdInNode();
    return WebAssembly.validate(RELAXED_PROBE);
  } catch { return false; }
}

/** The compiled build for one thread (shared = false) or for a shared memory, and which variant it is. */
export function compileKernels(shared: boolean): { module: WebAssembly.Module; variant: WasmVariant } {
  const relaxed = relaxedSimdAvailable();
  const base64 = shared ? (relaxed ? KERNELS_SHARED_RELAXED_WASM_BASE64 : KERNELS_SHARED_WASM_BASE64)
    : (relaxed ? KERNELS_RELAXED_WASM_BASE64 : KERNELS_WASM_BASE64);
  // synchronous compilation: fine in Node and in a Web Worker (a browser's main thread allows it only up to 4 KB)
  return { module: new WebAssembly.Module(decodeBase64(base64) as Uint8Array<ArrayBuffer>), variant: relaxed ? 'relaxed SIMD' : 'SIMD' };
}

/** The module's imports: the shared memory, when there is one. */
export function kernelImports(memory?: WebAssembly.Memory): WebAssembly.Imports {
  const env: Record<string, WebAssembly.ImportValue> = { abort: () => { throw new Error('wasm abort'); } };
  if (memory !== undefined) env.memory = memory;
  return { env };
}

/** The kernels, or null when the engine lacks WebAssembly SIMD (callers fall back to TypeScript). One thread. */
export function loadWasmKernels(): WasmKernels | null {
  if (cached !== undefined) return cached;
  try {
    const { module, variant } = compileKernels(false);
    const instance = new WebAssembly.Instance(module, kernelImports());
    cached = makeKernels(instance.exports as unknown as KernelExports, variant, null);
  } catch {
    cached = null;
  }
  return cached;
}

/** The exports of an instance, as makeKernels and the helper thread use them. */
export function kernelExports(instance: WebAssembly.Instance): KernelExports {
  return instance.exports as unknown as KernelExports;
}

/** GEMMs below this many FLOPs run on one thread (waking the helper costs microseconds); a block has at least this many. */
const BLOCK_MIN_FLOPS = 1 << 20;
/** Blocks a GEMM is cut into at most: enough for the two threads to even out, few enough to keep packing op(A) cheap. */
const MAX_BLOCKS = 8;

/**
 * How a two-thread GEMM is cut into blocks of C that either thread may take (GemmHelper.claim): blocks of
 * `width` columns (`by: 'columns'`) or rows, `count` of them; null: one thread. Columns when there are
 * enough of them (each block then packs all of op(A), which is small when M is: the model's per-step
 * products have 20 rows), at a multiple of the micro-kernel's 8 columns (or rows at a multiple of its 4),
 * so that no block adds an edge tile. Any cut gives the one-thread bits (assembly/gemm.ts).
 */
export function gemmChunks(M: number, N: number, K: number): { by: 'columns' | 'rows'; width: number; count: number } | null {
  const flops = 2 * M * N * K;
  if (flops < 2 * BLOCK_MIN_FLOPS) return null;
  const wanted = Math.min(MAX_BLOCKS, Math.floor(flops / BLOCK_MIN_FLOPS));
  const cut = (size: number, multiple: number) => {
    const width = Math.ceil(size / wanted / multiple) * multiple;
    return { width, count: Math.ceil(size / width) };
  };
  if (N >= 16 * 2) return { by: 'columns', ...cut(N, 8) };
  if (M >= 8 * 2) return { by: 'rows', ...cut(M, 4) };
  return null;
}

/** Floats from the first to the last element of a rows × cols matrix stored with row stride ld. */
function span(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

/**
 * The wrappers over one instance. `helper`: a second thread with its own instance on the same shared memory,
 * which then takes part of every large enough GEMM (gemmChunks); null: one thread.
 */
export function makeKernels(k: KernelExports, variant: WasmVariant, helper: { thread: GemmHelper; work: number } | null): WasmKernels {
  const work = k.reserve(k.gemmWorkBytes()); // this thread's GEMM workspace (the helper's was reserved for it)
  if (work === 0) throw new Error('the WebAssembly kernels could not reserve their GEMM workspace');
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
    variant,
    threads: helper === null ? 1 : 2,
    helperReady: () => helper !== null && helper.thread.ready(),
    helperFailed: () => helper !== null && helper.thread.failed(),
    helperCalls: () => helper?.thread.tasksDone() ?? 0,
    peakGflops(seconds = 0.2) {
      let iterations = 1 << 16, elapsed = 0;
      for (;;) { // grow the count until one call lasts `seconds`/4, then take the best of four calls
        const start = performance.now();
        k.peakMultiplyAdd(iterations);
        elapsed = (performance.now() - start) / 1000;
        if (elapsed >= seconds / 4 || iterations >= 1 << 30) break;
        iterations *= 2;
      }
      let best = elapsed;
      for (let round = 0; round < 3; round++) {
        const start = performance.now();
        k.peakMultiplyAdd(iterations);
        best = Math.min(best, (performance.now() - start) / 1000);
      }
      return (96 * iterations) / best / 1e9; // 12 chains × 4 lanes × (multiply + add) an iteration
    },
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
    roundToBf16(src, dst, n) {
      const chunk = Math.min(n, CHUNK_FLOATS), inWords = (chunk + 3) & ~3; // the halves start 16-byte aligned
      if (chunk <= 0) return true;
      if (!ensure(inWords + Math.ceil(chunk / 2), 0)) return false;
      const bits = new Uint32Array(src.buffer, src.byteOffset, n), outAt = base + inWords * 4;
      const bitsIn = new Uint32Array(k.memory.buffer, base, chunk), halvesOut = new Uint16Array(k.memory.buffer, outAt, chunk);
      for (let k0 = 0; k0 < n; k0 += chunk) {
        const r = Math.min(chunk, n - k0);
        bitsIn.set(bits.subarray(k0, k0 + r));
        k.roundToBf16(base, outAt, r);
        dst.set(halvesOut.subarray(0, r), k0);
      }
      return true;
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
      const tA = transA ? 1 : 0, tB = transB ? 1 : 0, aPtr = base, bPtr = base + bAt * 4, cPtr = base + cAt * 4;
      const chunks = helper !== null && helper.thread.ready() ? gemmChunks(M, N, K) : null;
      if (chunks === null) {
        k.gemm(tA, tB, M, N, K, alpha, aPtr, lda, bPtr, ldb, beta, cPtr, ldc, work);
      } else {
        const call: GemmCall = { transA: tA, transB: tB, M, N, K, alpha, A: aPtr, lda, B: bPtr, ldb, beta, C: cPtr, ldc,
          byColumns: chunks.by === 'columns' ? 1 : 0, width: chunks.width, count: chunks.count };
        const thread = helper!.thread;
        thread.post(call);
        let mine = 0;
        for (let c = thread.claim(); c >= 0; c = thread.claim()) { gemmBlock(k, call, c, work); mine++; }
        thread.finish(mine);
      }
      C.set(floats.subarray(f + cAt, f + cAt + cLen));
      return true;
    },
  };
}
