import type { Backend } from './backend.js';
import { add, axpy, dot, lstmGatesBackward, lstmGatesForward, multiply, softmaxCrossEntropy } from './pointwise.js';
import { startWasmThreads, type WorkerLike } from './wasm-threads.js';
import { loadWasmKernels, type WasmKernels } from './wasm.js';

// Blocking of the TypeScript GEMM (the same plan as assembly/gemm.ts, with a 4 × 4 tile of float64 sums)
const TS_MR = 4;
const TS_NR = 4;
const TS_KC = 256;
const TS_NC = 1024;
/** Packed panels of op(A) (4 rows) and op(B) (up to TS_NC columns), grown once to the largest need. */
let packedA = new Float32Array(0);
let packedB = new Float32Array(0);

/**
 * C = alpha · op(A) · op(B) + beta · C in plain TypeScript (row-major; see Backend.gemm): the fallback
 * where WebAssembly SIMD is missing, and the reference the WebAssembly GEMM is tested against.
 * op(B) is packed, TS_NC columns and TS_KC steps of the sum at a time, into panels of 4 columns
 * (k-major), and op(A) into panels of 4 rows, so that every transpose case runs the same 4 × 4
 * register tile: 16 float64 sums, each rounded once to float32 per block of the sum.
 */
export function gemmTs(
  transA: boolean, transB: boolean, M: number, N: number, K: number,
  alpha: number, A: Float32Array, lda: number, B: Float32Array, ldb: number,
  beta: number, C: Float32Array, ldc: number,
): void {
  if (M <= 0 || N <= 0) return;
  for (let i = 0; i < M; i++) {
    const ci = i * ldc;
    if (beta === 0) C.fill(0, ci, ci + N); // NaN in C does not survive beta = 0
    else if (beta !== 1) for (let j = 0; j < N; j++) C[ci + j] *= beta;
  }
  if (alpha === 0 || K <= 0) return;
  const kBlocks = Math.ceil(K / TS_KC), kcEven = Math.ceil(K / kBlocks);
  if (packedA.length < TS_MR * kcEven) packedA = new Float32Array(TS_MR * kcEven);
  const widest = Math.min(TS_NC, Math.ceil(N / TS_NR) * TS_NR);
  if (packedB.length < widest * kcEven) packedB = new Float32Array(widest * kcEven);
  const pa = packedA, pb = packedB;
  for (let jc = 0; jc < N; jc += TS_NC) {
    const nc = Math.min(TS_NC, N - jc);
    for (let pc = 0; pc < K; pc += kcEven) {
      const kc = Math.min(kcEven, K - pc);
      // op(B)[pc..pc+kc) × [jc..jc+nc) → panels of 4 columns, (k, c) at [jr·kc + 4k + c], zero padded
      for (let jr = 0; jr < nc; jr += TS_NR) {
        const panel = jr * kc;
        for (let c = 0; c < TS_NR; c++) {
          const j = jc + jr + c;
          if (j >= jc + nc) { for (let k = 0; k < kc; k++) pb[panel + 4 * k + c] = 0; continue; }
          if (transB) for (let k = 0, src = j * ldb + pc; k < kc; k++) pb[panel + 4 * k + c] = B[src + k];
          else for (let k = 0, src = pc * ldb + j; k < kc; k++, src += ldb) pb[panel + 4 * k + c] = B[src];
        }
      }
      for (let ir = 0; ir < M; ir += TS_MR) {
        const mr = Math.min(TS_MR, M - ir);
        // op(A)[ir..ir+4) × [pc..pc+kc) → (r, k) at [4k + r], zero padded
        for (let r = 0; r < TS_MR; r++) {
          const i = ir + r;
          if (r >= mr) { for (let k = 0; k < kc; k++) pa[4 * k + r] = 0; continue; }
          if (transA) for (let k = 0, src = pc * lda + i; k < kc; k++, src += lda) pa[4 * k + r] = A[src];
          else for (let k = 0, src = i * lda + pc; k < kc; k++) pa[4 * k + r] = A[src + k];
        }
        for (let jr = 0; jr < nc; jr += TS_NR) {
          const nr = Math.min(TS_NR, nc - jr);
          let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
          let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
          for (let k = 0, a = 0, b = jr * kc; k < kc; k++, a += 4, b += 4) {
            const b0 = pb[b], b1 = pb[b + 1], b2 = pb[b + 2], b3 = pb[b + 3];
            let x = pa[a];
            c00 += x * b0; c01 += x * b1; c02 += x * b2; c03 += x * b3;
            x = pa[a + 1];
            c10 += x * b0; c11 += x * b1; c12 += x * b2; c13 += x * b3;
            x = pa[a + 2];
            c20 += x * b0; c21 += x * b1; c22 += x * b2; c23 += x * b3;
            x = pa[a + 3];
            c30 += x * b0; c31 += x * b1; c32 += x * b2; c33 += x * b3;
          }
          const ci = ir * ldc + jc + jr;
          if (mr === TS_MR && nr === TS_NR) {
            C[ci] += alpha * c00; C[ci + 1] += alpha * c01; C[ci + 2] += alpha * c02; C[ci + 3] += alpha * c03;
            const c1 = ci + ldc;
            C[c1] += alpha * c10; C[c1 + 1] += alpha * c11; C[c1 + 2] += alpha * c12; C[c1 + 3] += alpha * c13;
            const c2 = c1 + ldc;
            C[c2] += alpha * c20; C[c2 + 1] += alpha * c21; C[c2 + 2] += alpha * c22; C[c2 + 3] += alpha * c23;
            const c3 = c2 + ldc;
            C[c3] += alpha * c30; C[c3 + 1] += alpha * c31; C[c3 + 2] += alpha * c32; C[c3 + 3] += alpha * c33;
          } else { // an edge tile: only the rows and columns that exist
            const tile = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
            for (let r = 0; r < mr; r++) for (let c = 0; c < nr; c++) C[ci + r * ldc + c] += alpha * tile[4 * r + c];
          }
        }
      }
    }
  }
}

const wasm = loadWasmKernels();


/**
 * The js backend's GEMM: the WebAssembly SIMD kernel (assembly/gemm.ts) when the engine runs it, else
 * gemmTs. Both are deterministic; they round differently, so results differ in the last bits between them.
 */
export const gemmJs: Backend['gemm'] = gemmWith(wasm);

/** Backend.gemm on these WebAssembly kernels, falling back to gemmTs (see gemmJs). */
function gemmWith(kernels: WasmKernels | null): Backend['gemm'] {
  return (transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) => {
    if (kernels !== null && kernels.gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
    gemmTs(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  };
}

/**
 * Column sums as the product of a row of N ones with x (N,C), so that a GEMM does the summing: for a
 * backend whose GEMM is much faster than a TypeScript loop over the rows.
 */
export function columnSumsByGemm(gemm: Backend['gemm']): Backend['addColumnSums'] {
  let ones = new Float32Array(0);
  return (N, C, x, acc) => {
    if (ones.length < N) ones = new Float32Array(N).fill(1); // grows once, to the largest N
    gemm(false, false, 1, C, N, 1, ones, N, x, C, 1, acc, C);
  };
}

/**
 * The pure-TypeScript backend on these WebAssembly kernels (null: none, TypeScript loops throughout).
 * One thread or two (wasm-threads.ts), the same bits.
 */
export function jsBackendOn(kernels: WasmKernels | null): Backend {
  const gemm = kernels === wasm ? gemmJs : gemmWith(kernels);
  return {
    name: 'js',
    library: kernels === null ? 'TypeScript' : `WebAssembly ${kernels.variant}, ${kernels.threads === 2 ? '2 threads' : '1 thread'}`,
    gemm,
    addColumnSums: columnSumsByGemm(gemm),
    axpy,
    dot,
    multiply: kernels?.multiply ?? multiply, // WebAssembly where it runs: the same bits, several times faster
    add: kernels?.add ?? add,
    fillDropoutMask: kernels?.fillDropoutMask, // the draws of fillDropoutMaskPerStep, four lanes at a time
    // the WebAssembly SIMD kernels of the BLAS backend (four exponentials at a time, in float32: the cell's
    // gates and softmax differ from the TypeScript loops' in the last bits). Softmax stays on this thread: the
    // worker sees only the shared memory, and copying the logits there costs what it saves (docs/performance.md)
    lstmGatesForward: kernels?.lstmGatesForward ?? lstmGatesForward,
    lstmGatesBackward: kernels?.lstmGatesBackward ?? lstmGatesBackward, // WebAssembly, the same bits as the TypeScript loop
    softmaxCrossEntropy: kernels?.softmaxCrossEntropy ?? softmaxCrossEntropy,
  };
}

/** The pure-TypeScript backend: needs nothing installed, runs in Node and in browsers (GEMM: gemmJs above). One thread. */
export const jsBackend: Backend = jsBackendOn(wasm);

/**
 * The js backend on `threads` threads (1 or 2), for a browser (in Node, selectBackend starts the second thread
 * itself). With 2, `startWorker` starts src/kernels/wasm-worker-browser.ts as a module Web Worker; the GEMM is
 * then cut between the calling thread (which must itself be a worker: it blocks in Atomics.wait) and that one.
 * Where two threads cannot run (the page is not cross-origin isolated, so there is no shared memory; the
 * worker did not start within `timeoutMs`) it resolves to the one-thread backend. Same bits either way.
 */
export async function createJsBackend(options: { threads?: number; startWorker?: () => WorkerLike; timeoutMs?: number } = {}): Promise<Backend> {
  const { threads = 1, startWorker, timeoutMs = 5000 } = options;
  if (threads < 2 || startWorker === undefined || wasm === null) return jsBackend;
  const kernels = startWasmThreads(startWorker);
  if (kernels === null) return jsBackend;
  const start = Date.now();
  while (!kernels.helperReady()) {
    if (kernels.helperFailed() || Date.now() - start > timeoutMs) return jsBackend;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return jsBackendOn(kernels);
}
