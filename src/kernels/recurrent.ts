import type { Backend } from './backend.js';

/**
 * The recurrent loop of the paper's LSTM layer (nn/lstm.ts, no layer norm, no recurrent mask) as the kernels
 * layer offers it: the job it works on, one thread's share of it, and the loop itself, written against the
 * Backend's kernels alone. The layer fills a RecurrentJob with views of its activations and weights and hands
 * it to Backend.recurrentLoop, which may run part of it on a second thread (both threads run these very
 * functions, on their shares); without one, the layer runs the whole loop here on its own thread.
 */

/**
 * What the recurrent loop of the paper's LSTM layer (no layer norm, no recurrent mask) reads and writes, by
 * itself: a backend with a second thread can run part of the loop there (Backend.recurrentLoop). The
 * layer (nn/lstm.ts) fills it from its activations and weights.
 */
export interface RecurrentJob {
  pass: 'forward' | 'backward';
  T: number;
  B: number;
  H: number;
  weightHh: Float32Array; //  (4H, H)
  gates: Float32Array; //     (T·B, 4H) forward: in, the input projections; out, the activated gates. Backward: → dz
  c: Float32Array; //         (T·B, H)
  tanhC: Float32Array; //     (T·B, H)
  states: Float32Array; //    ((T+1)·B, H) h0, then h_0 … h_{T-1}
  c0: Float32Array; //        (B, H)
  dH: Float32Array | null; // (T·B, H) backward: the gradient from above
  dh: Float32Array; //        (B, H) backward scratch, as are dhNext, dcNext, dcAct
  dhNext: Float32Array;
  dcNext: Float32Array;
  dcAct: Float32Array;
}

/**
 * One thread's share of a recurrent loop that two threads run together. Each step's cell (elementwise) work
 * is split by rows: this thread does rows [b0, b1), which the other thread never touches, since row b of a
 * step depends only on row b of the step before. The step's recurrent product is split one of two ways:
 *
 * - `columns: null`: by the same rows. The threads never wait on each other, but each reads all of W_hh at
 *   every step.
 * - `columns`: by output columns. This thread computes columns [n0, n1) of the product (forward: z's 4H
 *   columns, the gate pre-activations; backward: dh_{t-1}'s H columns) for every row, reading only those
 *   rows (forward) or columns (backward) of W_hh: half the memory traffic, which pays when W_hh does not
 *   fit in the cache (the large model). The product then needs every row of the step before, so the two
 *   threads `meet` (each waits until the other has got as far) twice a step: once the product is whole,
 *   and once every row's cell is done.
 *
 * Either way each element gets the arithmetic it gets on one thread: BLAS computes an element of a product
 * from its row of A and column of B alone, the same way whatever the other rows, and whatever the other
 * columns as long as a cut between columns falls between BLAS's tiles of columns (blisRecurrence in
 * kernels/blas.ts cuts at a multiple of 64).
 */
export interface RecurrentShare {
  b0: number;
  b1: number;
  /**
   * `cut` (one thread doing both shares' columns): the columns are computed as [n0, cut) and [cut, n1) would
   * be by two threads, in the same calls, for a BLAS whose bits depend on how a product is cut (OpenBLAS).
   */
  columns: { n0: number; n1: number; cut?: number; meet: () => void } | null;
}

/** The column ranges a share's products are computed in: [n0, n1), or [n0, cut) and [cut, n1). */
function segments(columns: { n0: number; n1: number; cut?: number }): [number, number][] {
  const { n0, n1, cut } = columns;
  return cut === undefined || cut <= n0 || cut >= n1 ? [[n0, n1]] : [[n0, cut], [cut, n1]];
}

/**
 * With the product split by columns, the forward computes its columns in pieces of this many rows of W_hh
 * (3 MB at H = 1,500), first to last at even steps and last to first at odd ones, so that each step begins
 * with the rows the step before ended with, still in the cache: W_hh (36 MB for large) does not fit in it
 * whole. A multiple of 64, so that every cut falls between BLAS's tiles of columns and the bits stay those
 * of one product (see RecurrentShare); docs/performance.md has what it gained. The backward's columns are columns of W_hh,
 * strided in memory: cut into pieces, they were slower, so it keeps one product a step.
 */
export const FORWARD_PIECE_ROWS = 512;

/** The whole loop on one thread. */
export function wholeLoop(B: number): RecurrentShare {
  return { b0: 0, b1: B, columns: null };
}

/** The kernels the recurrent loop calls. */
export type RecurrentKernels = Pick<Backend, 'gemm' | 'add' | 'lstmGatesForward' | 'lstmGatesBackward'>;

/** The forward's steps 0 … T−1 for one share (see RecurrentShare): z_t += h_{t-1}·W_hhᵀ, then the cell. */
export function recurrentForwardLoop(k: RecurrentKernels, j: RecurrentJob, share: RecurrentShare): void {
  const { T, B, H } = j, H4 = 4 * H, { b0, b1, columns } = share, m = b1 - b0;
  for (let t = 0; t < T; t++) {
    const s = t * B, r = s + b0; // this step's first row, this share's first row
    // z += h_{t-1} · W_hhᵀ   (h_{t-1}: row block t of the states, h0 for t = 0)
    if (columns === null) { // this share's rows
      k.gemm(false, true, m, H4, H, 1, j.states.subarray(r * H, (r + m) * H), H, j.weightHh, H, 1,
        j.gates.subarray(r * H4, (r + m) * H4), H4);
    } else { // columns [n0, n1) of every row: rows [n0, n1) of W_hh, in pieces (see FORWARD_PIECE_ROWS)
      for (const [n0, n1] of segments(columns)) {
        const pieces = Math.ceil((n1 - n0) / FORWARD_PIECE_ROWS);
        for (let q = 0; q < pieces; q++) {
          const p = t % 2 === 0 ? q : pieces - 1 - q; // even steps first to last, odd steps last to first
          const p0 = n0 + p * FORWARD_PIECE_ROWS, p1 = Math.min(n1, p0 + FORWARD_PIECE_ROWS);
          k.gemm(false, true, B, p1 - p0, H, 1, j.states.subarray(s * H, (s + B) * H), H, j.weightHh.subarray(p0 * H, p1 * H), H, 1,
            j.gates.subarray(s * H4 + p0, (s + B) * H4), H4);
        }
      }
      columns.meet(); // the other columns are in
    }
    const cPrev = t === 0 ? j.c0.subarray(b0 * H, b1 * H) : j.c.subarray((r - B) * H, (r - B + m) * H);
    k.lstmGatesForward(j.gates.subarray(r * H4, (r + m) * H4), cPrev, j.c.subarray(r * H, (r + m) * H),
      j.tanhC.subarray(r * H, (r + m) * H), j.states.subarray((r + B) * H, (r + B + m) * H), m, H, null, null);
    columns?.meet(); // every row of h_t is in: the next product may read them
  }
}

/**
 * The backward's steps T−1 … 0 for one share: dh_t = (from above) + (from step t+1), the cell's backward
 * (the saved gates become dz), and dh_{t-1} = dz_t · W_hh. Truncated BPTT: nothing enters from after the window.
 */
export function recurrentBackwardLoop(k: RecurrentKernels, j: RecurrentJob, share: RecurrentShare): void {
  const { T, B, H } = j, H4 = 4 * H, { b0, b1, columns } = share, m = b1 - b0;
  const dh = j.dh.subarray(b0 * H, b1 * H), dhNext = j.dhNext.subarray(b0 * H, b1 * H);
  const dcNext = j.dcNext.subarray(b0 * H, b1 * H), dcAct = j.dcAct.subarray(b0 * H, b1 * H);
  dhNext.fill(0);
  dcNext.fill(0);
  for (let t = T - 1; t >= 0; t--) {
    const s = t * B, r = s + b0;
    k.add(m * H, j.dH!.subarray(r * H, (r + m) * H), dhNext, dh);
    const cPrev = t === 0 ? j.c0.subarray(b0 * H, b1 * H) : j.c.subarray((r - B) * H, (r - B + m) * H);
    const dz = j.gates.subarray(r * H4, (r + m) * H4);
    k.lstmGatesBackward(dh, dcNext, dz, cPrev, j.tanhC.subarray(r * H, (r + m) * H), dz, dcAct, m, H, null);
    if (columns === null) { // this share's rows
      k.gemm(false, false, m, H, H4, 1, dz, H4, j.weightHh, H, 0, dhNext, H);
    } else { // columns [n0, n1) of every row: columns [n0, n1) of W_hh
      columns.meet(); // every row of dz_t is in
      for (const [n0, n1] of segments(columns)) {
        k.gemm(false, false, B, n1 - n0, H4, 1, j.gates.subarray(s * H4, (s + B) * H4), H4, j.weightHh.subarray(n0), H, 0,
          j.dhNext.subarray(n0), H);
      }
      columns.meet(); // dh_{t-1} is whole: the next step may read its rows
    }
  }
}
