#!/usr/bin/env node
// The js backend's WebAssembly GEMM on the small configuration's shapes (H=200, B=20, T=20, V=10000): one
// thread against two (wasm-threads.ts), and the one-thread multiply-add peak measured in the same process, in
// rounds that alternate, so that ratios mean something on a busy machine. Then the same in a child process with
// relaxed SIMD switched on (Node 20: --experimental-wasm-relaxed-simd; Chromium has it by default).
// Needs `npm run build` first. Usage: node bench/gemm-wasm.mjs [--seconds 0.1] [--no-relaxed]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadWasmKernels } from '../dist/src/kernels/wasm.js';
import { nodeWasmThreads } from '../dist/src/kernels/wasm-threads-node.js';

const args = process.argv.slice(2);
const seconds = args.includes('--seconds') ? Number(args[args.indexOf('--seconds') + 1]) : 0.1;

const H = 200, B = 20, T = 20, V = 10000, N = B * T;
// [name, transA, transB, M, N, K, calls per training step]
const SHAPES = [
  ['x·W_ihᵀ (all steps)', false, true, N, 4 * H, H, 2], ['dz·W_ih', false, false, N, H, 4 * H, 2],
  ['dzᵀ·x, dzᵀ·h (weight grads)', true, false, 4 * H, H, N, 4], ['logits x·W_outᵀ', false, true, N, V, H, 1],
  ['dlogits·W_out', false, false, N, H, V, 1], ['dlogitsᵀ·x (weight grad)', true, false, V, H, N, 1],
  ['h·W_hhᵀ (per step)', false, true, B, 4 * H, H, 2 * T], ['dz·W_hh (per step)', false, false, B, H, 4 * H, 2 * T],
];

const one = loadWasmKernels(), two = nodeWasmThreads();
if (one === null || two === null) { console.error('needs WebAssembly SIMD, shared memory and two cores'); process.exit(1); }
const start = Date.now();
while (!two.helperReady() && Date.now() - start < 10_000) await new Promise((r) => setTimeout(r, 5));

let seed = 1;
const random = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32 - 0.5; };
const filled = (n) => Float32Array.from({ length: n }, random);
/** Seconds per call over at least `seconds`. */
function time(call) {
  call();
  let calls = 0;
  const t = performance.now();
  do { call(); calls++; } while (performance.now() - t < seconds * 1000);
  return (performance.now() - t) / 1000 / calls;
}

const ROUNDS = 3;
const best = SHAPES.map(() => ({ one: Infinity, two: Infinity }));
let peak = 0;
for (let round = 0; round < ROUNDS; round++) {
  peak = Math.max(peak, one.peakGflops(seconds));
  SHAPES.forEach(([, tA, tB, M, Nn, K], i) => {
    const A = filled(M * K), Bm = filled(K * Nn), C = new Float32Array(M * Nn), lda = tA ? M : K, ldb = tB ? K : Nn;
    best[i].one = Math.min(best[i].one, time(() => one.gemm(tA, tB, M, Nn, K, 1, A, lda, Bm, ldb, 0, C, Nn)));
    best[i].two = Math.min(best[i].two, time(() => two.gemm(tA, tB, M, Nn, K, 1, A, lda, Bm, ldb, 0, C, Nn)));
  });
}
console.log(`WebAssembly ${one.variant} GEMM, small configuration's shapes, GFLOP/s (best of ${ROUNDS} alternating rounds; copies included)`);
console.log(`one-thread multiply-add peak (12 f32x4 chains): ${peak.toFixed(1)} GFLOP/s`);
console.log(['shape', 'M×N×K', '1 thread', '2 threads', '2/1', '1 thread / peak'].join('\t'));
let flops = 0, t1 = 0, t2 = 0, bFlops = 0, b1 = 0, b2 = 0;
SHAPES.forEach(([name, , , M, Nn, K, count], i) => {
  const f = 2 * M * Nn * K, g1 = f / best[i].one / 1e9, g2 = f / best[i].two / 1e9;
  flops += f * count; t1 += best[i].one * count; t2 += best[i].two * count;
  if (M !== B) { bFlops += f * count; b1 += best[i].one * count; b2 += best[i].two * count; }
  console.log([name, `${M}×${Nn}×${K}`, g1.toFixed(1), g2.toFixed(1), (g2 / g1).toFixed(2), `${(100 * g1 / peak).toFixed(0)}%`].join('\t'));
});
const row = (label, f, a, b) => console.log([label, '', (f / a / 1e9).toFixed(1), (f / b / 1e9).toFixed(1), (a / b).toFixed(2), `${(100 * f / a / 1e9 / peak).toFixed(0)}%`].join('\t'));
row('batched shapes (the roofline), FLOP-weighted', bFlops, b1, b2);
row('a training step\'s products, FLOP-weighted', flops, t1, t2);
console.log(`(the worker computed ${two.helperCalls()} blocks)`);

if (!args.includes('--no-relaxed') && one.variant !== 'relaxed SIMD') {
  console.log('\nwith relaxed SIMD (a child process, node --experimental-wasm-relaxed-simd):');
  const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', fileURLToPath(import.meta.url), '--no-relaxed', '--seconds', String(seconds)], { stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
}
