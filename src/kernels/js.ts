import type { Backend } from './backend.js';
import { axpy, dot, lstmGatesBackward, lstmGatesForward, softmaxCrossEntropy } from './pointwise.js';

/**
 * C = alpha · op(A) · op(B) + beta · C in plain TypeScript (row-major; see Backend.gemm).
 * The loops are ordered so that the innermost one walks rows of B and C contiguously, and the sums of
 * the Aᵀ / Bᵀ forms are kept in float64 locals before one rounding to float32.
 */
export function gemmJs(
  transA: boolean, transB: boolean, M: number, N: number, K: number,
  alpha: number, A: Float32Array, lda: number, B: Float32Array, ldb: number,
  beta: number, C: Float32Array, ldc: number,
): void {
  for (let i = 0; i < M; i++) {
    const ci = i * ldc;
    if (beta === 0) C.fill(0, ci, ci + N);
    else if (beta !== 1) for (let j = 0; j < N; j++) C[ci + j] *= beta;
  }
  if (!transB) {
    // C[i,:] += alpha · A(i,k) · B[k,:] : row-streaming over B
    for (let i = 0; i < M; i++) {
      const ci = i * ldc;
      for (let k = 0; k < K; k++) {
        const a = alpha * (transA ? A[k * lda + i] : A[i * lda + k]);
        if (a === 0) continue;
        const bk = k * ldb;
        for (let j = 0; j < N; j++) C[ci + j] += a * B[bk + j];
      }
    }
    return;
  }
  // C[i,j] += alpha · Σ_k op(A)(i,k) · B[j,k] : a dot product of two rows when A is not transposed
  for (let i = 0; i < M; i++) {
    const ci = i * ldc;
    for (let j = 0; j < N; j++) {
      const bj = j * ldb;
      let sum = 0;
      if (!transA) {
        const ai = i * lda;
        let k = 0;
        for (; k + 3 < K; k += 4) {
          sum += A[ai + k] * B[bj + k] + A[ai + k + 1] * B[bj + k + 1]
            + A[ai + k + 2] * B[bj + k + 2] + A[ai + k + 3] * B[bj + k + 3];
        }
        for (; k < K; k++) sum += A[ai + k] * B[bj + k];
      } else {
        for (let k = 0; k < K; k++) sum += A[k * lda + i] * B[bj + k];
      }
      C[ci + j] += alpha * sum;
    }
  }
}

/** The pure-TypeScript backend: needs nothing installed, runs in Node and in browsers. */
export const jsBackend: Backend = {
  name: 'js',
  gemm: gemmJs,
  axpy,
  dot,
  lstmGatesForward,
  lstmGatesBackward,
  softmaxCrossEntropy,
};
