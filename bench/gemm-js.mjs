#!/usr/bin/env node
// The pure-TypeScript backend's GEMM on the small configuration's shapes (H=200, B=20, T=20, V=10000),
// against a naive triple loop timed in the same process, back to back, so the ratios mean something on a
// busy machine. Needs `npm run build` first. Usage: node bench/gemm-js.mjs [--seconds 0.3]
//
//   naive     for i, for j, for k: s += op(A)(i,k)·op(B)(k,j)   (the definition, row-major)
//   loop-TS   the plain-TypeScript gemmJs of commit 1e01353 (loops reordered to stream rows), copied below
//   TS        the blocked TypeScript fallback of the js backend (used where WebAssembly SIMD is missing)
//   js        what the js backend runs: the WebAssembly SIMD GEMM when it loads (copies included)
//   copy      the share of js's time that its copies would take alone: A and B into the module's memory
//             and C back out (Float32Array.set into a buffer of the same size; beta = 0, so C is not copied in)
import { gemmJs, gemmTs } from '../dist/src/kernels/js.js';

const args = process.argv.slice(2);
const seconds = args.includes('--seconds') ? Number(args[args.indexOf('--seconds') + 1]) : 0.3;

const H = 200, B = 20, T = 20, V = 10000, N = B * T;
const SHAPES = [
  { name: 'x·W_ihᵀ (all steps)', tA: false, tB: true, M: N, N: 4 * H, K: H },
  { name: 'dz·W_ih', tA: false, tB: false, M: N, N: H, K: 4 * H },
  { name: 'dzᵀ·x (weight grad)', tA: true, tB: false, M: 4 * H, N: H, K: N },
  { name: 'logits x·W_outᵀ', tA: false, tB: true, M: N, N: V, K: H },
  { name: 'dlogits·W_out', tA: false, tB: false, M: N, N: H, K: V },
  { name: 'dlogitsᵀ·x (weight grad)', tA: true, tB: false, M: V, N: H, K: N },
  { name: 'h·W_hhᵀ (per step)', tA: false, tB: true, M: B, N: 4 * H, K: H },
  { name: 'dz·W_hh (per step)', tA: false, tB: false, M: B, N: H, K: 4 * H },
  { name: 'Aᵀ·Bᵀ (not in the model)', tA: true, tB: true, M: N, N: 4 * H, K: H },
];

function naive(tA, tB, M, Nn, K, alpha, A, lda, Bm, ldb, beta, C, ldc) {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < Nn; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (tA ? A[k * lda + i] : A[i * lda + k]) * (tB ? Bm[j * ldb + k] : Bm[k * ldb + j]);
      C[i * ldc + j] = alpha * s + (beta === 0 ? 0 : beta * C[i * ldc + j]);
    }
  }
}

// gemmJs as it was before the blocked and WebAssembly versions (commit 1e01353), for the comparison.
function loopTs(transA, transB, M, Nn, K, alpha, A, lda, Bm, ldb, beta, C, ldc) {
  for (let i = 0; i < M; i++) {
    const ci = i * ldc;
    if (beta === 0) C.fill(0, ci, ci + Nn);
    else if (beta !== 1) for (let j = 0; j < Nn; j++) C[ci + j] *= beta;
  }
  if (!transB) {
    for (let i = 0; i < M; i++) {
      const ci = i * ldc;
      for (let k = 0; k < K; k++) {
        const a = alpha * (transA ? A[k * lda + i] : A[i * lda + k]);
        if (a === 0) continue;
        const bk = k * ldb;
        for (let j = 0; j < Nn; j++) C[ci + j] += a * Bm[bk + j];
      }
    }
    return;
  }
  for (let i = 0; i < M; i++) {
    const ci = i * ldc;
    for (let j = 0; j < Nn; j++) {
      const bj = j * ldb;
      let sum = 0;
      if (!transA) {
        const ai = i * lda;
        let k = 0;
        for (; k + 3 < K; k += 4) {
          sum += A[ai + k] * Bm[bj + k] + A[ai + k + 1] * Bm[bj + k + 1]
            + A[ai + k + 2] * Bm[bj + k + 2] + A[ai + k + 3] * Bm[bj + k + 3];
        }
        for (; k < K; k++) sum += A[ai + k] * Bm[bj + k];
      } else {
        for (let k = 0; k < K; k++) sum += A[k * lda + i] * Bm[bj + k];
      }
      C[ci + j] += alpha * sum;
    }
  }
}

const IMPLS = [['naive', naive], ['loop-TS', loopTs], ['TS', gemmTs], ['js', gemmJs]];

/** Seconds per call: the best of 3 rounds of at least `seconds`/3 each (at least one call per round). */
function time(fn, s, A, Bm, C) {
  const lda = s.tA ? s.M : s.K, ldb = s.tB ? s.K : s.N;
  const call = () => fn(s.tA, s.tB, s.M, s.N, s.K, 1, A, lda, Bm, ldb, 0, C, s.N);
  call();
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    let calls = 0;
    const start = performance.now();
    do { call(); calls++; } while (performance.now() - start < (seconds * 1000) / 3);
    best = Math.min(best, (performance.now() - start) / 1000 / calls);
  }
  return best;
}

let seed = 1;
const random = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32 - 0.5; };
const filled = (n) => Float32Array.from({ length: n }, random);

console.log(`GEMM C = op(A)·op(B), small configuration shapes; GFLOP/s (best of 3), ratios to naive and to loop-TS, same process`);
const head = ['shape', 'op', 'M×N×K', ...IMPLS.map(([n]) => n), 'js/naive', 'js/loop-TS', 'TS/naive', 'copy', 'maxdiff'];
console.log(head.join('\t'));
const rows = [];
for (const s of SHAPES) {
  const A = filled(s.M * s.K), Bm = filled(s.K * s.N);
  const outputs = {};
  const gflops = {};
  for (const [name, fn] of IMPLS) {
    const C = new Float32Array(s.M * s.N);
    gflops[name] = (2 * s.M * s.N * s.K) / time(fn, s, A, Bm, C) / 1e9;
    outputs[name] = C;
  }
  // the wrapper's copies, alone: A and B in, C out
  const scratch = new Float32Array(A.length + Bm.length + s.M * s.N);
  const cOut = new Float32Array(s.M * s.N);
  const copy = () => { scratch.set(A, 0); scratch.set(Bm, A.length); cOut.set(scratch.subarray(0, s.M * s.N)); };
  const copySeconds = time(copy, s, A, Bm, cOut);
  const copyShare = copySeconds / ((2 * s.M * s.N * s.K) / gflops.js / 1e9);
  let maxdiff = 0;
  for (let k = 0; k < outputs.naive.length; k++) maxdiff = Math.max(maxdiff, Math.abs(outputs.js[k] - outputs.naive[k]));
  const op = `${s.tA ? 'T' : 'N'}${s.tB ? 'T' : 'N'}`;
  const row = [s.name, op, `${s.M}×${s.N}×${s.K}`, ...IMPLS.map(([n]) => gflops[n].toFixed(2)),
    `${(gflops.js / gflops.naive).toFixed(1)}×`, `${(gflops.js / gflops['loop-TS']).toFixed(1)}×`,
    `${(gflops.TS / gflops.naive).toFixed(1)}×`, `${(100 * copyShare).toFixed(0)}%`, maxdiff.toExponential(1)];
  rows.push(row);
  console.log(row.join('\t'));
}
