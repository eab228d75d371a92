import { createRequire } from 'node:module';
import type { Backend } from './backend.js';
import { axpy, dot, lstmGatesBackward, lstmGatesForward, softmaxCrossEntropy } from './pointwise.js';
import { loadWasmKernels } from './wasm.js';

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

export const BLAS_INSTALL_HINT = process.platform === 'darwin'
  ? 'Accelerate should be present on macOS; check that koffi installed (npm install)'
  : 'install OpenBLAS (Debian/Ubuntu: sudo apt-get install libopenblas0-pthread)';

type SaxpyFn = (n: number, alpha: number, x: Float32Array, incx: number, y: Float32Array, incy: number) => void;
type SgemvFn = (order: number, trans: number, M: number, N: number, alpha: number, A: Float32Array, lda: number,
  x: Float32Array, incx: number, beta: number, y: Float32Array, incy: number) => void;
type SdotFn = (n: number, x: Float32Array, incx: number, y: Float32Array, incy: number) => number;

/** Below this length a vector operation stays in TypeScript: the foreign call would cost more than it saves. */
const BLAS_VECTOR_MIN = 4096;

type SgemmFn = (
  order: number, transA: number, transB: number, M: number, N: number, K: number,
  alpha: number, A: Float32Array, lda: number, B: Float32Array, ldb: number,
  beta: number, C: Float32Array, ldc: number,
) => void;

/**
 * Loads cblas_sgemm through koffi and returns the BLAS backend, or throws an Error whose message says
 * what failed. koffi passes a Float32Array (including a subarray view) as a pointer to its first element.
 */
export function loadBlasBackend(): Backend {
  const require = createRequire(import.meta.url);
  let koffi: typeof import('koffi');
  try {
    koffi = require('koffi') as typeof import('koffi');
  } catch (err) {
    throw new Error(`the koffi package did not load (${(err as Error).message.split('\n')[0]})`);
  }
  const tried: string[] = [];
  for (const name of CANDIDATES[process.platform] ?? CANDIDATES.linux) {
    try {
      const lib = koffi.load(name);
      const sgemm = lib.func('void cblas_sgemm(int, int, int, int, int, int, float, const float *, int, '
        + 'const float *, int, float, _Inout_ float *, int)') as unknown as SgemmFn;
      const saxpy = lib.func('void cblas_saxpy(int, float, const float *, int, _Inout_ float *, int)') as unknown as SaxpyFn;
      const sdot = lib.func('float cblas_sdot(int, const float *, int, const float *, int)') as unknown as SdotFn;
      const sgemv = lib.func('void cblas_sgemv(int, int, int, int, float, const float *, int, const float *, int, '
        + 'float, _Inout_ float *, int)') as unknown as SgemvFn;
      return makeBlasBackend(sgemm, sgemv, saxpy, sdot, name);
    } catch (err) {
      tried.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`no CBLAS library found (${tried.join('; ')})`);
}

function makeBlasBackend(sgemm: SgemmFn, sgemv: SgemvFn, saxpy: SaxpyFn, sdot: SdotFn, library: string): Backend & { library: string } {
  const wasm = loadWasmKernels();
  let ones = new Float32Array(0);
  return {
    name: 'blas',
    library,
    gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) {
      if (M === 0 || N === 0) return;
      sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
        M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    },
    addColumnSums(N, C, x, acc) {
      // acc += xᵀ · ones: a matrix-vector product reads x once (5× faster than a GEMM with one row here)
      if (N === 0 || C === 0) return;
      if (ones.length < N) ones = new Float32Array(N).fill(1); // grows once, to the largest N
      sgemv(CblasRowMajor, CblasTrans, N, C, 1, x, C, ones, 1, 1, acc, 1);
    },
    axpy(n, alpha, x, y) {
      if (n < BLAS_VECTOR_MIN) axpy(n, alpha, x, y);
      else saxpy(n, alpha, x, 1, y, 1);
    },
    dot(n, x, y) {
      return n < BLAS_VECTOR_MIN ? dot(n, x, y) : sdot(n, x, 1, y, 1);
    },
    lstmGatesForward: wasm?.lstmGatesForward ?? lstmGatesForward,
    lstmGatesBackward: wasm?.lstmGatesBackward ?? lstmGatesBackward, // the same bits as the TypeScript loop, faster
    // WebAssembly SIMD when the build produced it (4 exponentials at a time), else the TypeScript loop
    softmaxCrossEntropy: wasm?.softmaxCrossEntropy ?? softmaxCrossEntropy,
  };
}
