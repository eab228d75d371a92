/**
 * Embedding: each token id selects one row of the table.
 *   out    (N,C)  N = T·B rows, time-major (row t·B + b is step t of sequence b)
 *   tokens (N)    ids in [0, V)
 *   weight (V,C)  the table (`encoder.weight` in PyTorch's names)
 */
export function embeddingForward(
  out: Float32Array, tokens: Int32Array, weight: Float32Array, N: number, C: number,
): void {
  for (let n = 0; n < N; n++) {
    const row = tokens[n] * C;
    out.set(weight.subarray(row, row + C), n * C);
  }
}

/**
 * dweight (V,C) += the rows of dout (N,C), each added to the row of its token (forward: out[n] = weight[tokens[n]]).
 * Only the rows of tokens that occur are touched.
 */
export function embeddingBackward(
  dweight: Float32Array, dout: Float32Array, tokens: Int32Array, N: number, C: number,
): void {
  for (let n = 0; n < N; n++) {
    const row = tokens[n] * C, src = n * C;
    for (let j = 0; j < C; j++) dweight[row + j] += dout[src + j];
  }
}
