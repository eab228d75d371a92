/**
 * The compute interface the model is written against.
 *
 * Every matrix is a row-major Float32Array (a `subarray` view is fine). The model's FLOPs are almost all
 * in `gemm`; the elementwise kernels are the fused loops of the LSTM cell and of softmax + cross-entropy.
 * Two implementations: `js` (TypeScript with a WebAssembly SIMD GEMM embedded in the bundle; needs nothing
 * installed, runs anywhere, including a browser) and `blas` (OpenBLAS or Accelerate through koffi). They share the
 * elementwise kernels: WebAssembly SIMD (`wasm.ts`) where the engine has it, else the TypeScript loops of `pointwise.ts`.
 */
export interface Backend {
  readonly name: 'js' | 'blas';
  /** What runs the products, in words (for reports): the BLAS libraries, or the js backend's GEMM and its threads. */
  readonly library?: string;
  /**
   * C = alpha · op(A) · op(B) + beta · C, where op(X) is X or Xᵀ.
   * op(A) is (M,K), op(B) is (K,N), C is (M,N). lda/ldb/ldc are the row strides of A, B, C as stored.
   * beta = 0 overwrites C (its old contents, even NaN, are ignored).
   */
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number,
    alpha: number, A: Float32Array, lda: number, B: Float32Array, ldb: number,
    beta: number, C: Float32Array, ldc: number,
  ): void;
  /**
   * The same product with bf16 operands (the bits of each element in a Uint16Array, laid out as gemm's) and
   * float32 accumulation into a float32 C: what bf16 mixed precision runs every product on (mixed-precision.ts).
   * Absent where the backend cannot run it faster than float32; bf16Unavailable then says why, in words.
   */
  gemmBf16?(
    transA: boolean, transB: boolean, M: number, N: number, K: number,
    alpha: number, A: Uint16Array, lda: number, B: Uint16Array, ldb: number,
    beta: number, C: Float32Array, ldc: number,
  ): void;
  readonly bf16Unavailable?: string;
  /** y[0..n) += alpha · x[0..n)   (the SGD update) */
  axpy(n: number, alpha: number, x: Float32Array, y: Float32Array): void;
  /** acc[c] += Σ_n x[n·C + c] for x (N,C): the gradient of a bias added to every row */
  addColumnSums(N: number, C: number, x: Float32Array, acc: Float32Array): void;
  /**
   * out[k] = a[k] · b[k] and out[k] = a[k] + b[k] over [0, n), in float32 (the bits of pointwise.ts's loops);
   * out may be a or b. Dropout's multiply by its mask, and the LSTM backward's sum of the gradients reaching h_t.
   */
  multiply(n: number, a: Float32Array, b: Float32Array, out: Float32Array): void;
  add(n: number, a: Float32Array, b: Float32Array, out: Float32Array): void;
  /** Σ x[k] · y[k] over [0, n)   (the gradient norm) */
  dot(n: number, x: Float32Array, y: Float32Array): number;
  lstmGatesForward: typeof import('./pointwise.js').lstmGatesForward;
  /** Must allow dz to be the gates buffer itself (the LSTM layer overwrites the saved gates with dz). */
  lstmGatesBackward: typeof import('./pointwise.js').lstmGatesBackward;
  softmaxCrossEntropy: typeof import('./pointwise.js').softmaxCrossEntropy;
  /**
   * fillDropoutMaskPerStep (pointwise.ts), with the same result; absent: that function. (The BLAS backend
   * fills long masks in shared memory on two threads.)
   */
  fillDropoutMask?: typeof import('./pointwise.js').fillDropoutMaskPerStep;
  /**
   * Runs the recurrent loop of a plain LSTM layer (recurrent.ts: recurrentForwardLoop or recurrentBackwardLoop,
   * by job.pass) on two threads: `run(share)` runs the calling thread's share (RecurrentShare: rows of the
   * cell, rows or columns of the product). Returns false, having done nothing, when it cannot (the caller
   * then runs the whole loop). The results are those of one thread, bit for bit.
   */
  recurrentLoop?(job: import('./recurrent.js').RecurrentJob, run: (share: import('./recurrent.js').RecurrentShare) => void): boolean;
  /**
   * New zeroed buffers for a workspace, of the kind this backend works on fastest (shared memory, which a
   * helper thread can take half of a loop over); absent: plain typed arrays.
   */
  allocateFloat32?(n: number): Float32Array;
  allocateInt32?(n: number): Int32Array;
}
