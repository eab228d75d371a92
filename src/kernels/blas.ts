import { createRequire } from 'node:module';
import os from 'node:os';
import { isMainThread } from 'node:worker_threads';
import type { Backend } from './backend.js';
import { UserError } from '../errors.js';
import { add, axpy, dot, fillDropoutMaskPerStep, lstmGatesBackward, lstmGatesForward, multiply, softmaxCrossEntropy } from './pointwise.js';
import { advancedState } from '../util/rng.js';
import { switchedOn } from './env.js';
import { allShared, elementwiseHelper, failMeetings, meeting, MeetingFailed, newMeetings, sharedFloat32, sharedInt32, type Helper } from './helper.js';
import { loadWasmKernels, softmaxRowsPerChunk, type WasmKernels } from './wasm.js';
import { bf16ToFloat32 } from './bf16.js';
import { operandLength } from './mixed-precision.js';
import { wholeLoop, type RecurrentJob, type RecurrentKernels, type RecurrentShare } from './recurrent.js';

// CBLAS enums (cblas.h)
const CblasRowMajor = 101;
const CblasNoTrans = 111;
const CblasTrans = 112;

/** Where we look for a CBLAS library, in order, per platform. */
const CANDIDATES: Record<string, string[]> = {
  linux: ['libopenblas.so.0', 'libopenblas.so', 'libcblas.so.3', 'libblas.so.3'],
  darwin: ['/System/Library/Frameworks/Accelerate.framework/Accelerate', 'libopenblas.dylib'],
  win32: ['libopenblas.dll'],
};

/**
 * RLSTM_NATIVE=0 in the environment makes the native libraries (koffi, and through it OpenBLAS, Accelerate
 * and BLIS) count as absent: loadBlasBackend fails with "disabled by RLSTM_NATIVE=0", so `--backend auto`
 * falls back to the TypeScript backend with its note and `--backend blas` is refused, as on a machine
 * without them. The tests honour it too (those that need BLAS, BLIS or PyTorch skip), so that CI runs the
 * suite as a new user without the native extras would (.ci/run). Any other value, or none, changes nothing.
 */
export function nativeDisabled(): boolean {
  return process.env.RLSTM_NATIVE === '0';
}

export const NATIVE_DISABLED_REASON = 'disabled by RLSTM_NATIVE=0';

export const BLAS_INSTALL_HINT = process.platform === 'darwin'
  ? 'Accelerate should be present on macOS; check that koffi installed (npm install)'
  : 'install OpenBLAS (Debian/Ubuntu: sudo apt-get install libopenblas0-pthread)';

/** How to get the BLAS backend: unset RLSTM_NATIVE where it turned the libraries off, else install them. */
export function blasHint(): string {
  return nativeDisabled() ? 'unset RLSTM_NATIVE' : BLAS_INSTALL_HINT;
}

type SaxpyFn = (n: number, alpha: number, x: Float32Array, incx: number, y: Float32Array, incy: number) => void;
type SgemvFn = (order: number, trans: number, M: number, N: number, alpha: number, A: Float32Array, lda: number,
  x: Float32Array, incx: number, beta: number, y: Float32Array, incy: number) => void;
type SdotFn = (n: number, x: Float32Array, incx: number, y: Float32Array, incy: number) => number;

/**
 * Products of few rows with a large second operand (the per-step recurrent products of the medium and
 * large models: B = 20 rows times a 4H×H weight) go to BLIS when it is installed (Debian: libblis4-pthread):
 * its kernels for skinny shapes do not repack the whole weight on every call as OpenBLAS does; OpenBLAS stays
 * ahead on the small model's and on the batched shapes, which keep it (docs/performance.md has the figures). The recurrent loop (Backend.recurrentLoop) does all its products
 * in BLIS, whatever the model: on two threads, each with one-thread BLIS (half the rows in one thread
 * beat the whole product on two), or on one. Where oneDNN is installed, none of this is used: it runs these
 * products at full speed itself. RLSTM_BLIS=0 in the
 * environment turns BLIS off.
 */
const SKINNY_ROWS = 32;
const SKINNY_MIN_WEIGHT = 1 << 20; // floats in W_hh (4H·H): 4 MB. Smaller models keep OpenBLAS throughout
// floats in op(B) (K·N): 2 MB, for the products outside the recurrent loop (inside it, every product goes to
// BLIS whatever its size: the pieces of a product split by columns must get the whole product's bits)
const SKINNY_MIN_OPERAND = SKINNY_MIN_WEIGHT / 2;
const SKINNY_CANDIDATES: Record<string, string[]> = { linux: ['libblis.so.4', 'libblis.so'] };

/**
 * From this size of W_hh (floats) on, the recurrent products of the two-thread loop are split by columns
 * rather than rows (see twoThreadRecurrence): where W_hh (4H·H floats) does not fit in the cache, reading
 * it once per step instead of once per thread per step matters more than the two meetings a step costs.
 */
const RECURRENT_COLUMNS_MIN = 4 << 20; // 16 MB

/** Loops shorter than this stay on one thread: handing half to the helper would cost more than it saves. */
const HELPER_MIN_ELEMENTS = 1 << 16;

/**
 * Recurrent loops whose products are smaller than this (B·4H·H multiply-adds a step) stay on one thread.
 * (The small model's, 3.2M, gain from two.)
 */
const RECURRENT_HELPER_MIN = 1 << 20;

/** Below this length a vector operation stays in TypeScript: the foreign call would cost more than it saves. */
const BLAS_VECTOR_MIN = 4096;

type SgemmFn = (
  order: number, transA: number, transB: number, M: number, N: number, K: number,
  alpha: number, A: Float32Array, lda: number, B: Float32Array, ldb: number,
  beta: number, C: Float32Array, ldc: number,
) => void;

export interface BlasOptions {
  /**
   * The hidden size of the model to run, when known: BLIS takes the skinny products outside the recurrent
   * loop only when W_hh (4H·H floats) is large enough to gain from it (the medium and large models, not the
   * small one; see SKINNY_ROWS).
   */
  hidden?: number;
  /**
   * How the two-thread recurrent loop splits its products (see twoThreadRecurrence): by rows, by columns,
   * or 'auto' (columns where W_hh has at least RECURRENT_COLUMNS_MIN floats). Default: the environment's
   * RLSTM_RECURRENT_SPLIT, else 'auto'. The split can change the bits (a library's result for an element may
   * depend on the product's shape: BLIS picks its method by size); the thread count never does (one thread
   * makes the very products the two threads' shares make, see twoThreadRecurrence).
   */
  recurrentSplit?: 'rows' | 'columns' | 'auto';
  /** 1: the recurrent loop stays on this thread (the same bits as 2, the default; for tests). */
  recurrentThreads?: 1 | 2;
  /**
   * 'auto' (default): an installed BLIS where it has kernels for the CPU (see blisKernelsFit), unless
   * RLSTM_BLIS=0; 'off': never; 'generic-too': also where it has only its generic kernels (slower, the same
   * contract; for the tests of the BLIS paths on any machine).
   */
  blis?: 'auto' | 'off' | 'generic-too';
  /**
   * 'auto' (default): oneDNN where it is installed (Debian: libdnnl2), unless RLSTM_DNNL=0; 'off': never (the
   * OpenBLAS and BLIS paths, e.g. for their tests).
   */
  dnnl?: 'auto' | 'off';
  /**
   * 'native' (default): bf16 products where oneDNN has bf16 dot products for this CPU, else none (Backend.
   * bf16Unavailable says why). 'emulate': bf16 products everywhere, as float32 products of the operands rounded to
   * bf16 (the same numbers up to the order of the sums; slower than float32): bf16's numerics on any CPU, for the
   * tests and for checking a run's quality where the CPU has no bf16. Default: RLSTM_BF16_EMULATE=1 in the
   * environment means 'emulate'.
   */
  bf16?: 'native' | 'emulate';
}

/**
 * Loads cblas_sgemm through koffi (and BLIS's, see SKINNY_ROWS) and returns the BLAS backend, or throws an
 * Error whose message says what failed. koffi passes a Float32Array (including a subarray view) as a pointer
 * to its first element.
 */
export function loadBlasBackend(options: BlasOptions = {}): BlasBackend {
  if (nativeDisabled()) throw new Error(NATIVE_DISABLED_REASON);
  const require = createRequire(import.meta.url);
  let koffi: typeof import('koffi');
  try {
    koffi = require('koffi') as typeof import('koffi');
  } catch (err) {
    throw new Error(`the koffi package did not load (${(err as Error).message.split('\n')[0]})`);
  }
  const split = recurrentSplit(options);
  const dnnl = options.dnnl !== 'off' && switchedOn('RLSTM_DNNL') ? loadDnnl(koffi) : null;
  const emulateBf16 = (options.bf16 ?? (process.env.RLSTM_BF16_EMULATE === '1' ? 'emulate' : 'native')) === 'emulate';
  // BLIS serves the 20-row products, which oneDNN runs at full speed itself
  const blisWanted = dnnl === null && (options.blis === undefined || options.blis === 'auto' ? switchedOn('RLSTM_BLIS') : options.blis !== 'off');
  const skinny = blisWanted ? loadSkinnyGemm(koffi, options.blis === 'generic-too') : { gemm: null, note: null };
  const blis = skinny.gemm;
  const skinnyOutsideLoop = options.hidden === undefined || 4 * options.hidden * options.hidden >= SKINNY_MIN_WEIGHT;
  // With the recurrent loop on two threads of its own (BLIS's products, or one-thread OpenBLAS ones on each),
  // OpenBLAS's idle threads must not spin through it: by default they spin 2^28 cycles (~0.1 s) after each
  // product before sleeping, taking a core from the loop's threads. 2^20 cycles still cover the gaps between
  // OpenBLAS's own products. (Read when OpenBLAS loads; a value set by the user wins.)
  process.env.OPENBLAS_THREAD_TIMEOUT ??= '20';
  const tried: string[] = [];
  for (const name of CANDIDATES[process.platform] ?? CANDIDATES.linux) {
    try {
      const lib = koffi.load(name);
      const sgemm = lib.func(SGEMM_SIGNATURE) as unknown as SgemmFn;
      const saxpy = lib.func('void cblas_saxpy(int, float, const float *, int, _Inout_ float *, int)') as unknown as SaxpyFn;
      const sdot = lib.func('float cblas_sdot(int, const float *, int, const float *, int)') as unknown as SdotFn;
      const sgemv = lib.func('void cblas_sgemv(int, int, int, int, float, const float *, int, const float *, int, '
        + 'float, _Inout_ float *, int)') as unknown as SgemvFn;
      let threads = os.availableParallelism();
      try {
        threads = (lib.func('int openblas_get_num_threads()') as unknown as () => number)();
      } catch { /* not OpenBLAS: as many threads as cores */ }
      const vectors = { sgemv, saxpy, sdot };
      if (dnnl !== null) return makeBlasBackend(dnnlProducts(dnnl, emulateBf16), vectors, `${dnnl.name} (${dnnl.isaName}) for every product, ${name} for vector operations`, null,
        { split, skinnyOutsideLoop: false, threads: options.recurrentThreads ?? 2 });
      if (blis !== null) { blis.threads = threads; blis.setThreads(threads); }
      // Without BLIS the recurrent loop still runs on two threads, each with one-thread OpenBLAS on its share
      // (see openblasRecurrence); not in Accelerate, which has no thread-count call.
      const recurrence = blis ?? openblasRecurrence(lib, sgemm, name, threads);
      const library = [name, ...(skinny.note === null ? [] : [skinny.note])].join('; ');
      return makeBlasBackend(cblasProducts(sgemm, emulateBf16), vectors, library, recurrence,
        { split, skinnyOutsideLoop: skinnyOutsideLoop && blis !== null, threads: options.recurrentThreads ?? 2 });
    } catch (err) {
      tried.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  // oneDNN alone: its products, and the vector operations in TypeScript
  if (dnnl !== null) return makeBlasBackend(dnnlProducts(dnnl, emulateBf16), null, `${dnnl.name} (${dnnl.isaName}) for every product`, null,
    { split, skinnyOutsideLoop: false, threads: options.recurrentThreads ?? 2 });
  throw new Error(`no CBLAS library found (${tried.join('; ')})`);
}

/** Where the two-thread recurrent loop cuts a product's n output columns: near the middle, at a multiple of 64. */
function columnCut(n: number): number {
  return Math.round(n / 128) * 64;
}

/**
 * OpenBLAS as the recurrent loop's library, where BLIS is not used: two threads, each running its share of the
 * per-step products in one-thread OpenBLAS, beat OpenBLAS's own two threads on these 20-row products, which
 * it hardly speeds up (docs/performance.md, "A new machine kind (Zen 5)"). Null where the
 * library has no openblas_set_num_threads.
 */
function openblasRecurrence(lib: ReturnType<typeof import('koffi').load>, sgemm: SgemmFn, name: string, threads: number): SkinnyGemm | null {
  try {
    const setThreads = lib.func('void openblas_set_num_threads(int)') as unknown as (n: number) => void;
    return { sgemm, setThreads, library: name, threads, rowsIndependent: false };
  } catch {
    return null;
  }
}

/** The recurrent split asked for (BlasOptions.recurrentSplit); a UserError naming the variable if it is not one of the three. */
export function recurrentSplit(options: BlasOptions): 'rows' | 'columns' | 'auto' {
  const split = options.recurrentSplit ?? process.env.RLSTM_RECURRENT_SPLIT ?? 'auto';
  if (split !== 'rows' && split !== 'columns' && split !== 'auto') {
    throw new UserError(`RLSTM_RECURRENT_SPLIT is "${split}": use rows, columns or auto (or leave it unset)`);
  }
  return split;
}

interface SkinnyGemm {
  sgemm: SgemmFn; setThreads: (n: number) => void; library: string; threads: number;
  /**
   * Whether an element's bits are the same whatever the product's other rows and thread count (BLIS), so that
   * the loop may split its products by rows and run on more threads alone. OpenBLAS's are not: they change with
   * how a product is cut, even by columns, and with its thread count. Its loop runs one-thread products cut by
   * columns, at the same places on one thread as on two (RecurrentShare's columns.cut).
   */
  rowsIndependent: boolean;
}

/** C = alpha · op(A) · op(B) + beta · C in float32, row-major, as Backend.gemm takes it. */
type RowMajorGemm = Backend['gemm'];
/** The same with bf16 operands (their bits in a Uint16Array) and float32 accumulation and C (Backend.gemmBf16). */
type Bf16Gemm = NonNullable<Backend['gemmBf16']>;

/**
 * How a backend computes its matrix products: every float32 product in one library (BLIS's recurrent loop
 * aside, see SKINNY_ROWS), and the bf16 products where the library has them for this CPU.
 */
interface Products {
  gemm: RowMajorGemm;
  gemmBf16: Bf16Gemm | null;
  /** Why there are no bf16 products, in words (for the refusal of --precision bf16). */
  bf16Unavailable: string | null;
}

/** A CBLAS sgemm as a RowMajorGemm. */
function rowMajor(sgemm: SgemmFn): RowMajorGemm {
  return (transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) =>
    callRowMajor(sgemm, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/** OpenBLAS's (or Accelerate's) products: float32, and bf16 only emulated. */
function cblasProducts(sgemm: SgemmFn, emulateBf16: boolean): Products {
  const gemm = rowMajor(sgemm);
  return emulateBf16 ? { gemm, gemmBf16: emulatedBf16Gemm(gemm), bf16Unavailable: null }
    : { gemm, gemmBf16: null, bf16Unavailable: 'bf16 products need oneDNN (Debian: sudo apt-get install libdnnl2), and a CPU with bf16 dot products (AVX512_BF16)' };
}

/**
 * bf16 products computed as float32 products of the operands widened back from bf16: the product of two bf16
 * numbers is exact in float32, so these are bf16 products with float32 accumulation, as oneDNN's, up to the
 * order of the sums. Slower than float32 (two conversions more per product): for bf16's numerics on any CPU.
 */
function emulatedBf16Gemm(gemm: RowMajorGemm): Bf16Gemm {
  let a32 = new Float32Array(0), b32 = new Float32Array(0);
  return (transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) => {
    const aLength = operandLength(transA ? K : M, transA ? M : K, lda), bLength = operandLength(transB ? N : K, transB ? K : N, ldb);
    if (a32.length < aLength) a32 = new Float32Array(aLength);
    if (b32.length < bLength) b32 = new Float32Array(bLength);
    bf16ToFloat32(A, a32, aLength);
    bf16ToFloat32(B, b32, bLength);
    gemm(transA, transB, M, N, K, alpha, a32, lda, b32, ldb, beta, C, ldc);
  };
}

/** Where we look for oneDNN (Debian: libdnnl2). */
const DNNL_CANDIDATES: Record<string, string[]> = { linux: ['libdnnl.so.2', 'libdnnl.so'] };

/** dnnl_status_t's names (dnnl_types.h), for the errors. */
const DNNL_STATUS = ['success', 'out of memory', 'invalid arguments', 'unimplemented', 'iterator ends', 'runtime error', 'not required'];

/** The bit of dnnl_cpu_isa_t that the ISAs with bf16 dot products (avx512_core_bf16, avx512_core_amx) carry. */
const DNNL_ISA_BF16_BIT = 0x80;
const DNNL_ISA_NAMES: Record<number, string> = {
  0x1: 'SSE4.1', 0x3: 'AVX', 0x7: 'AVX2', 0x27: 'AVX-512', 0x67: 'AVX-512 VNNI', 0xe7: 'AVX-512 BF16', 0x3e7: 'AMX', 0x407: 'AVX2 VNNI',
};

type DnnlSgemmFn = (transA: number, transB: number, M: number, N: number, K: number, alpha: number, A: Float32Array, lda: number,
  B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number) => number;
type DnnlBf16Fn = (transA: number, transB: number, M: number, N: number, K: number, alpha: number, A: Uint16Array, lda: number,
  B: Uint16Array, ldb: number, beta: number, C: Float32Array, ldc: number) => number;

interface Dnnl { name: string; isaName: string; sgemm: DnnlSgemmFn; gemmBf16: DnnlBf16Fn | null; bf16Unavailable: string | null }

const CHAR_N = 'N'.charCodeAt(0), CHAR_T = 'T'.charCodeAt(0);

/**
 * oneDNN's BLAS-like products (dnnl_sgemm, dnnl_gemm_bf16bf16f32: row-major, transposes as 'N'/'T', a status
 * returned), or null where it is not installed. Its bf16 products are used only where its effective ISA has bf16
 * dot products: elsewhere it computes them with float32 instructions, slower than its float32 products.
 */
function loadDnnl(koffi: typeof import('koffi')): Dnnl | null {
  for (const name of DNNL_CANDIDATES[process.platform] ?? []) {
    let lib: ReturnType<typeof koffi.load>;
    try {
      lib = koffi.load(name);
    } catch { continue; }
    try {
      const sgemm = lib.func('int dnnl_sgemm(char, char, int64_t, int64_t, int64_t, float, const float *, int64_t, '
        + 'const float *, int64_t, float, _Inout_ float *, int64_t)') as unknown as DnnlSgemmFn;
      const bf16 = lib.func('int dnnl_gemm_bf16bf16f32(char, char, int64_t, int64_t, int64_t, float, const uint16_t *, int64_t, '
        + 'const uint16_t *, int64_t, float, _Inout_ float *, int64_t)') as unknown as DnnlBf16Fn;
      const isa = (lib.func('int dnnl_get_effective_cpu_isa()') as unknown as () => number)();
      const isaName = DNNL_ISA_NAMES[isa] ?? `ISA 0x${isa.toString(16)}`;
      exitWithoutTeardown();
      const hasBf16 = (isa & DNNL_ISA_BF16_BIT) !== 0;
      return {
        name, isaName, sgemm, gemmBf16: hasBf16 ? bf16 : null,
        bf16Unavailable: hasBf16 ? null : `this CPU has no bf16 dot products (oneDNN's instruction set here: ${isaName}; bf16 needs AVX512_BF16 or AMX)`,
      };
    } catch { /* an older oneDNN without these functions: not used */ }
  }
  return null;
}

/** A oneDNN status other than success, as an Error naming the call. */
function dnnlFailed(what: string, status: number, M: number, N: number, K: number): Error {
  return new Error(`${what} failed for a ${M}×${K} · ${K}×${N} product: ${DNNL_STATUS[status] ?? `status ${status}`}`);
}

function dnnlProducts(dnnl: Dnnl, emulateBf16: boolean): Products {
  const gemm: RowMajorGemm = (transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) => {
    const status = dnnl.sgemm(transA ? CHAR_T : CHAR_N, transB ? CHAR_T : CHAR_N, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (status !== 0) throw dnnlFailed('dnnl_sgemm', status, M, N, K);
  };
  const native = dnnl.gemmBf16;
  if (native === null) {
    return { gemm, gemmBf16: emulateBf16 ? emulatedBf16Gemm(gemm) : null, bf16Unavailable: emulateBf16 ? null : dnnl.bf16Unavailable };
  }
  return {
    gemm,
    gemmBf16(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) {
      const status = native(transA ? CHAR_T : CHAR_N, transB ? CHAR_T : CHAR_N, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      if (status !== 0) throw dnnlFailed('dnnl_gemm_bf16bf16f32', status, M, N, K);
    },
    bf16Unavailable: null,
  };
}

let exitGuarded = false;

/**
 * A Node process that has run oneDNN's products on several OpenMP threads can die with SIGSEGV in its own
 * teardown when it ends by itself (the event loop empty); one that ends through process.exit does not. So,
 * once oneDNN is loaded: when the loop empties, the process ends through process.exit, after every other
 * 'exit' listener, with the exit code it would have had. (An uncaught error and process.exit end it that way already.)
 */
function exitWithoutTeardown(): void {
  if (exitGuarded || !isMainThread) return;
  exitGuarded = true;
  process.once('beforeExit', () => {
    process.once('exit', (code) => process.exit(code)); // registered last, so it runs after the others
  });
}

/** acc[c] += Σ_n x[n·C + c], in TypeScript (where there is no CBLAS for its sgemv). */
function addColumnSumsLoop(N: number, C: number, x: Float32Array, acc: Float32Array): void {
  for (let n = 0; n < N; n++) {
    const row = n * C;
    for (let c = 0; c < C; c++) acc[c] += x[row + c];
  }
}

/** Backend.gemm's arguments passed to a CBLAS sgemm: row-major, transposes as CBLAS enums. */
function callRowMajor(
  sgemm: SgemmFn, transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number,
): void {
  sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
    M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const SGEMM_SIGNATURE = 'void cblas_sgemm(int, int, int, int, int, int, float, const float *, int, '
  + 'const float *, int, float, _Inout_ float *, int)';

/**
 * Whether BLIS has real kernels for this CPU: it picks a configuration at load (bli_arch_query_id), and
 * where it does not know the CPU it runs its portable C kernels, "generic". Debian's BLIS 0.9 does not know
 * AMD's family 1Ah (Zen 5), where its 20-row products ran at a third to two thirds of OpenBLAS's speed
 * (docs/performance.md; and BLIS 0.9 aborts on any
 * BLIS_ARCH_TYPE, so it cannot be told which kernels to use). Such a BLIS is not used.
 */
export function blisKernelsFit(arch: string): boolean {
  return arch !== 'generic';
}

/**
 * BLIS's cblas_sgemm (`gemm`), or null when it is not installed or not used; `note` says why an installed
 * BLIS is not used.
 */
function loadSkinnyGemm(koffi: typeof import('koffi'), genericToo: boolean): { gemm: SkinnyGemm | null; note: string | null } {
  for (const name of SKINNY_CANDIDATES[process.platform] ?? []) {
    let lib: ReturnType<typeof koffi.load>;
    try {
      lib = koffi.load(name);
    } catch { continue; } // not installed: OpenBLAS does every product
    let arch = 'unknown';
    try {
      const archId = lib.func('int bli_arch_query_id(void)') as unknown as () => number;
      const archName = lib.func('const char *bli_arch_string(int)') as unknown as (id: number) => string;
      arch = archName(archId());
    } catch { /* a BLIS without these queries: trust its choice */ }
    if (!blisKernelsFit(arch) && !genericToo) return { gemm: null, note: `${name} not used: it has only its generic kernels for this CPU` };
    try {
      const setThreads = lib.func('void bli_thread_set_num_threads(int64_t)') as unknown as (n: number) => void;
      const sgemm = lib.func(SGEMM_SIGNATURE) as unknown as SgemmFn;
      return { gemm: { sgemm, setThreads, library: name, threads: 1, rowsIndependent: true }, note: null };
    } catch { /* without its CBLAS interface: OpenBLAS does every product */ }
  }
  return { gemm: null, note: null };
}

export type BlasBackend = Backend & {
  /** The libraries in use, e.g. "libopenblas.so.0, libblis.so.4 for products of ≤ 32 rows by ≥ 2 MB". */
  library: string;
};

/** How the products of few rows are shared out (see SKINNY_ROWS, twoThreadRecurrence). */
interface SkinnyRouting {
  split: 'rows' | 'columns' | 'auto';
  /** Whether the products of ≤ SKINNY_ROWS rows by ≥ SKINNY_MIN_OPERAND outside the recurrent loop go to BLIS. */
  skinnyOutsideLoop: boolean;
  threads: 1 | 2; // of the recurrent loop
}

function makeBlasBackend(
  products: Products, vectors: { sgemv: SgemvFn; saxpy: SaxpyFn; sdot: SdotFn } | null, library: string,
  skinny: SkinnyGemm | null, routing: SkinnyRouting,
): BlasBackend {
  const wasm = loadWasmKernels();
  const sgemm = products.gemm;
  const skinnyGemm = skinny === null ? sgemm : rowMajor(skinny.sgemm);
  let ones = new Float32Array(0);
  const helper = wasm === null ? null : elementwiseHelper();
  const loop = { running: false }; // set while this thread runs the recurrent loop, or its share of it
  const outside = skinny !== null && routing.skinnyOutsideLoop;
  return {
    name: 'blas',
    library: skinny === null ? library
      : !skinny.rowsIndependent ? `${library}; the recurrent loop's products one-thread on each of two threads`
        : `${library}, ${skinny.library} for the recurrent loop${outside ? ` and products of ≤ ${SKINNY_ROWS} rows by ≥ 2 MB` : ''}`,
    gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) {
      if (M === 0 || N === 0) return;
      // inside the recurrent loop every product goes to the loop's library, whatever its rows: the two threads'
      // shares must be computed as one thread computes them (a batch over 32 rows included)
      const gemm = loop.running || (outside && M <= SKINNY_ROWS && K * N >= SKINNY_MIN_OPERAND) ? skinnyGemm : sgemm;
      gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    },
    ...(products.gemmBf16 === null ? { bf16Unavailable: products.bf16Unavailable ?? 'no bf16 products' } : {
      gemmBf16(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) {
        if (M === 0 || N === 0) return;
        products.gemmBf16!(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      },
    }),
    addColumnSums(N, C, x, acc) {
      // acc += xᵀ · ones: a matrix-vector product reads x once (5× faster than a GEMM with one row here)
      if (N === 0 || C === 0) return;
      if (vectors === null) { addColumnSumsLoop(N, C, x, acc); return; }
      if (ones.length < N) ones = new Float32Array(N).fill(1); // grows once, to the largest N
      vectors.sgemv(CblasRowMajor, CblasTrans, N, C, 1, x, C, ones, 1, 1, acc, 1);
    },
    axpy(n, alpha, x, y) {
      if (n < BLAS_VECTOR_MIN || vectors === null) axpy(n, alpha, x, y);
      else vectors.saxpy(n, alpha, x, 1, y, 1);
    },
    dot(n, x, y) {
      return n < BLAS_VECTOR_MIN || vectors === null ? dot(n, x, y) : vectors.sdot(n, x, 1, y, 1);
    },
    multiply: wasm?.multiply ?? multiply, // WebAssembly: the same bits as the TypeScript loop, several times faster
    add: wasm?.add ?? add,
    lstmGatesForward: wasm?.lstmGatesForward ?? lstmGatesForward,
    lstmGatesBackward: wasm?.lstmGatesBackward ?? lstmGatesBackward, // the same bits as the TypeScript loop, faster
    // WebAssembly SIMD when the build produced it (4 exponentials at a time), else the TypeScript loop
    softmaxCrossEntropy: wasm === null ? softmaxCrossEntropy
      : helper === null ? wasm.softmaxCrossEntropy : twoThreadSoftmax(wasm, helper),
    ...(skinny === null ? {} : { recurrentLoop: twoThreadRecurrence(routing.threads === 2 ? helper : null, skinny, routing.split, loop) }),
    ...(helper === null ? { fillDropoutMask: wasm?.fillDropoutMask } : {
      fillDropoutMask: twoThreadDropoutMask(wasm!, helper),
      allocateFloat32: sharedFloat32,
      allocateInt32: sharedInt32,
    }),
  };
}

/**
 * Softmax + cross-entropy with the helper thread taking the second half of the rows, in whole chunks of
 * the WebAssembly kernel (softmaxRowsPerChunk), and the caller adding the helper's chunk sums after its
 * own in order: the same gradient and the same float64 NLL, bit for bit, as one thread.
 */
function twoThreadSoftmax(wasm: WasmKernels, helper: Helper): Backend['softmaxCrossEntropy'] {
  let chunkSums: Float64Array = new Float64Array(0);
  return (logits, targets, N, V, scale) => {
    const rows = softmaxRowsPerChunk(V), chunks = Math.ceil(N / rows);
    if (N * V < HELPER_MIN_ELEMENTS || chunks < 2 || !allShared(logits, targets) || !helper.ready()) {
      return wasm.softmaxCrossEntropy(logits, targets, N, V, scale);
    }
    if (chunkSums.length < chunks) chunkSums = new Float64Array(new SharedArrayBuffer(8 * chunks));
    const first = Math.floor(chunks / 2), n0 = first * rows; // the helper: chunks [first, chunks)
    helper.run({ kind: 'softmax', logits, targets, n0, N, V, scale, chunkSums: chunkSums.subarray(0, chunks - first) });
    let nll = wasm.softmaxCrossEntropy(logits, targets, n0, V, scale);
    helper.finish();
    for (let c = 0; c < chunks - first; c++) nll += chunkSums[c];
    return nll;
  };
}

/**
 * The recurrent loop of an LSTM layer with its products in BLIS (or OpenBLAS, see openblasRecurrence and
 * SkinnyGemm.rowsIndependent): on two threads where it can (see below),
 * else on this one. One thread: BLIS with as many threads as OpenBLAS has when W_hh is large (medium,
 * large), with one below that (small: BLIS is faster on one thread than on two at that size).
 *
 * On two threads the helper runs one share (RecurrentShare, recurrent.ts)
 * through the same code (recurrentForwardLoop / recurrentBackwardLoop) while this thread runs the other, each
 * with one-thread BLIS. The cell's work is split by rows: rows [0, B/2) here, [B/2, B) there. The products
 * are split by rows too (no waiting between the threads), or, when W_hh is larger than RECURRENT_COLUMNS_MIN,
 * by columns, each thread reading half of W_hh (see RecurrentShare). Either way the bits are those of one
 * thread: BLIS's result for an element does not depend on the thread count or on the other rows, nor on the
 * other columns when the cut falls between its tiles of columns (see `cut` below).
 */
function twoThreadRecurrence(
  helper: Helper | null, skinny: SkinnyGemm, split: 'rows' | 'columns' | 'auto', loop: { running: boolean },
): NonNullable<Backend['recurrentLoop']> {
  let weightCopy: Float32Array = new Float32Array(0);
  const sync = sharedInt32(3);
  /** Runs body with this thread's products in the loop's library, at `threads` threads; restores both after. */
  const inLoop = (threads: number, body: () => void): true => {
    skinny.setThreads(threads);
    loop.running = true;
    try {
      body();
    } finally {
      loop.running = false;
      skinny.setThreads(skinny.threads);
    }
    return true;
  };
  /** Whether two threads would split this loop's products by columns (else by rows). */
  const byColumns = (H: number): boolean => !skinny.rowsIndependent || split === 'columns' || (split === 'auto' && 4 * H * H >= RECURRENT_COLUMNS_MIN);
  /** Whether the loop is large enough for two threads (whether they are there or not). */
  const twoThreadSized = (job: RecurrentJob): boolean => job.B >= 2 && job.B * 4 * job.H * job.H >= RECURRENT_HELPER_MIN;
  /**
   * The loop on this thread alone. Where two threads could have run it (the helper busy, not started, or
   * recurrentThreads 1), it makes the very products the two threads' shares make, one after the other, in one-
   * thread BLAS: a library's bits may depend on a product's shape (BLIS picks its method by size; OpenBLAS's
   * depend on how a product is cut), so only the same calls give the same bits. Cut by rows, each share's loop
   * runs whole, one share after the other (the rows never meet); cut by columns, one loop makes both shares'
   * column pieces at every step (RecurrentShare's `cut`).
   */
  const oneThread = (job: RecurrentJob, run: (share: RecurrentShare) => void): true => {
    if (!twoThreadSized(job)) return inLoop(4 * job.H * job.H >= SKINNY_MIN_WEIGHT ? skinny.threads : 1, () => run(wholeLoop(job.B)));
    const n = job.pass === 'forward' ? 4 * job.H : job.H, half = job.B >>> 1;
    if (byColumns(job.H)) return inLoop(1, () => run({ b0: 0, b1: job.B, columns: { n0: 0, n1: n, cut: columnCut(n), meet: () => {} } }));
    return inLoop(1, () => { run({ b0: 0, b1: half, columns: null }); run({ b0: half, b1: job.B, columns: null }); });
  };
  return (job, run) => {
    const { B, H } = job;
    const buffers = [job.gates, job.c, job.tanhC, job.states, job.c0, job.dh, job.dhNext, job.dcNext, job.dcAct];
    if (job.dH !== null) buffers.push(job.dH);
    if (helper === null || !twoThreadSized(job) || !allShared(...buffers) || !helper.ready()) {
      return oneThread(job, run);
    }
    let weightHh = job.weightHh;
    if (!allShared(weightHh)) { // the parameters live in ordinary memory: the helper reads a copy
      if (weightCopy.length < weightHh.length) weightCopy = sharedFloat32(weightHh.length);
      weightHh = weightCopy.subarray(0, weightHh.length);
      weightHh.set(job.weightHh);
    }
    const half = B >>> 1, columns = byColumns(H);
    // the product's output columns, cut near the middle at a multiple of 64: BLAS computes a product in tiles
    // of columns (16 wide in BLIS's kernels here) and the last, partial tile differently, so a cut inside a
    // tile would change the bits of the columns around it
    const n = job.pass === 'forward' ? 4 * H : H, cut = columnCut(n);
    newMeetings(sync);
    return inLoop(1, () => { // one-thread BLIS on each thread, as on the helper
      helper.run({ kind: 'recurrent', job: { ...job, weightHh }, b0: half, b1: B, columns: columns ? { n0: cut, n1: n } : null,
        sync, library: skinny.library });
      try {
        run({ b0: 0, b1: half, columns: columns ? { n0: 0, n1: cut, meet: meeting(sync, 0) } : null });
      } catch (err) {
        failMeetings(sync); // the helper must not wait for this thread at its next meeting
        try {
          helper.finish();
        } catch (helperErr) { // when this thread stopped because the helper failed, the helper's error says why
          if (err instanceof MeetingFailed) throw helperErr;
        }
        throw err;
      }
      helper.finish();
    });
  };
}

/** The kernels of the recurrent loop for the helper thread: the BLIS library named, and WebAssembly. */
export function recurrentKernels(library: string): RecurrentKernels {
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const sgemm = koffi.load(library).func(SGEMM_SIGNATURE) as unknown as SgemmFn;
  const wasm = loadWasmKernels();
  if (wasm === null) throw new Error('WebAssembly SIMD is missing in the helper thread');
  return {
    gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) {
      callRowMajor(sgemm, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    },
    add: wasm.add, lstmGatesForward: wasm.lstmGatesForward, lstmGatesBackward: wasm.lstmGatesBackward,
  };
}

/**
 * A dropout mask drawn on two threads: the helper fills the second half from the generator's state after
 * the first half's draws (advancedState), so every element gets the draw it gets on one thread, and the
 * generator ends where one thread leaves it.
 */
function twoThreadDropoutMask(wasm: WasmKernels, helper: Helper): typeof fillDropoutMaskPerStep {
  const state = new Uint32Array(new SharedArrayBuffer(16));
  return (mask, n, keep, rng) => {
    if (n < HELPER_MIN_ELEMENTS || !allShared(mask) || !helper.ready()) {
      wasm.fillDropoutMask(mask, n, keep, rng);
      return;
    }
    const half = n >>> 1;
    state.set(advancedState(rng.state, half));
    helper.run({ kind: 'mask', mask, from: half, to: n, keep, state });
    wasm.fillDropoutMask(mask, half, keep, rng);
    helper.finish();
    rng.state.set(state);
  };
}
