import type { Backend } from '../kernels/backend.js';

/**
 * Linear layer, PyTorch layout: out = inp · weightᵀ + bias.
 *   out (N,Out)  inp (N,In)  weight (Out,In)  bias (Out)
 */
export function linearForward(
  backend: Backend, out: Float32Array, inp: Float32Array, weight: Float32Array, bias: Float32Array,
  N: number, In: number, Out: number,
): void {
  for (let n = 0; n < N; n++) out.set(bias.subarray(0, Out), n * Out);
  backend.gemm(false, true, N, Out, In, 1, inp, In, weight, In, 1, out, Out);
}

/**
 * Backward of out = inp · weightᵀ + bias:
 *   dinp (N,In) = dout · weight        (overwritten)
 *   dweight (Out,In) += doutᵀ · inp     dbias (Out) += Σ_n dout[n]
 */
export function linearBackward(
  backend: Backend, dinp: Float32Array, dweight: Float32Array, dbias: Float32Array,
  dout: Float32Array, inp: Float32Array, weight: Float32Array, N: number, In: number, Out: number,
): void {
  backend.gemm(false, false, N, In, Out, 1, dout, Out, weight, In, 0, dinp, In);
  backend.gemm(true, false, Out, In, N, 1, dout, Out, inp, In, 1, dweight, In);
  addColumnSums(backend, dbias, dout, N, Out);
}

/** acc (C) += Σ_n x[n] for x (N,C): the gradient of a bias broadcast over N rows. */
export function addColumnSums(backend: Backend, acc: Float32Array, x: Float32Array, N: number, C: number): void {
  backend.addColumnSums(N, C, x, acc);
}
