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
 * The gradient of a (V,C) table of which a batch uses only a few rows (PTB: a few hundred of 10,000),
 * kept as those rows: row k of `rows` is the gradient of table row `list[k]`, and `slotOf[v]` is the k of
 * table row v, or −1 when the batch did not use it (its gradient is zero). A dense (V,C) gradient would
 * be written in the same few rows, but over a long run every row gets written once and stays in memory.
 */
export interface RowGradient {
  C: number;
  rows: Float32Array; //  (capacity, C), the first `count` rows in use
  slotOf: Int32Array; //  (V)
  list: Int32Array; //    (V), the first `count` entries in use
  count: number;
}

export function createRowGradient(V: number, C: number): RowGradient {
  return { C, rows: new Float32Array(0), slotOf: new Int32Array(V).fill(-1), list: new Int32Array(V), count: 0 };
}

/** Zeroes the gradient: every row back to unused. */
export function clearRowGradient(g: RowGradient): void {
  for (let k = 0; k < g.count; k++) g.slotOf[g.list[k]] = -1;
  g.count = 0;
}

/** Where table row v's gradient starts in g.rows: its row, taken (and zeroed) on first use. */
export function embeddingGradientRowOf(g: RowGradient, v: number): number {
  let slot = g.slotOf[v];
  if (slot >= 0) return slot * g.C;
  slot = g.count++;
  if (g.count * g.C > g.rows.length) { // grows by doubling, to the most rows a batch has used
    const grown = new Float32Array(Math.max(2 * g.rows.length, 64 * g.C));
    grown.set(g.rows.subarray(0, slot * g.C));
    g.rows = grown;
  }
  g.slotOf[v] = slot;
  g.list[slot] = v;
  g.rows.fill(0, slot * g.C, (slot + 1) * g.C);
  return slot * g.C;
}

/**
 * grad (V,C) += the rows of dout (N,C), each added to the row of its token (forward: out[n] = weight[tokens[n]]).
 */
export function embeddingBackward(
  grad: RowGradient, dout: Float32Array, tokens: Int32Array, N: number, C: number,
): void {
  for (let n = 0; n < N; n++) {
    const row = embeddingGradientRowOf(grad, tokens[n]), src = n * C;
    for (let j = 0; j < C; j++) grad.rows[row + j] += dout[src + j];
  }
}

/** The gradient as a dense (V,C) array (tests, and anything that wants to look at all of it). */
export function denseRowGradient(g: RowGradient, V: number): Float32Array {
  const dense = new Float32Array(V * g.C);
  for (let k = 0; k < g.count; k++) dense.set(g.rows.subarray(k * g.C, (k + 1) * g.C), g.list[k] * g.C);
  return dense;
}
