import type { Backend } from '../kernels/backend.js';
import { jsBackend } from '../kernels/js.js';
import { loadWasmKernels } from '../kernels/wasm.js';
import { batchify, fillWindow, windowCount, type Corpus } from '../data/corpus.js';
import type { Precision, TrainConfig } from '../model/configs.js';
import { mixedPrecision } from '../kernels/mixed-precision.js';
import { carryState, createWorkspace, modelBackward, modelForward, resetState, type ForwardOptions } from '../model/lm.js';
import { createModel, initializeParameters } from '../model/params.js';
import { embeddingBackward, embeddingForward } from '../nn/embedding.js';
import { clipScale, modelGradientNorm, sgdStep, zeroGradients } from '../train/sgd.js';
import { createRng } from '../util/rng.js';

/**
 * The performance benchmark behind `rlstm bench`, measured in one process so that ratios are meaningful
 * on a noisy machine: the GEMM speed on the configuration's own batched shapes (the roofline), training
 * and evaluation tokens/s, their ratio to the roofline, peak memory, and where a training step's time goes.
 */

export interface BenchResult {
  config: string;
  backend: string;
  precision: Precision; //             of the training steps' products, and of the roofline they are set against
  library: string; //                  the BLAS libraries in use (blas backend), or the js backend's GEMM
  steps: number;
  rounds: number; //                   training rounds, each set against the roofline measured right after it
  roundFigures: { tokens: number; seconds: number; gemmGflops: number; recurrentGemmGflops: number }[];
  flopsPerToken: number; //            6 · (Σ_layers 4H(in+H) + H·V)   (docs/performance.md, "Counting FLOPs")
  gemmGflops: number; //               FLOP-weighted speed of the batched GEMM shapes of one training step (mean of the rounds)
  recurrentGemmGflops: number; //      the per-step recurrent products (B rows only, one two-thread call each; training
  //                                     splits them by rows between two threads where it can, which is faster)
  rooflineTokensPerSecond: number; //  each round's gemmGflops / flopsPerToken, weighted by the round's tokens
  tokensPerSecond: number; //          training
  rooflineFraction: number; //         tokensPerSecond / rooflineTokensPerSecond
  /**
   * The fraction a step made of nothing but its GEMMs would reach, the batched ones at gemmGflops and the
   * per-step recurrent ones (B rows) at recurrentGemmGflops: the ceiling that the recurrent products'
   * lower speed puts on rooflineFraction, whatever the rest of the step costs.
   */
  gemmOnlyFraction: number;
  evalTokensPerSecond: number;
  peakRssMb: number;
  breakdown: Record<'gemm' | 'lstmElementwise' | 'softmaxCrossEntropy' | 'embedding' | 'optimizer' | 'other', number>; // fractions of a step
  gemmShapes: { name: string; M: number; N: number; K: number; gflops: number }[];
  /**
   * The js backend only: its WebAssembly GEMM on one thread (FLOP-weighted over the batched shapes, measured
   * after the rounds) as a fraction of the one-thread 128-bit multiply-add peak measured in the same process
   * (peakGflops in kernels/wasm.ts), and the gain of the backend's own GEMM (two threads where it has them) over it.
   */
  /**
   * The machine's limit for this configuration: the roofline of the fastest precision whose products the backend
   * has (bf16 where the CPU has bf16 dot products, else float32), measured in the same rounds, and this run's
   * training speed as a fraction of it.
   */
  machineBest: { precision: Precision; gemmGflops: number; rooflineTokensPerSecond: number; fraction: number };
  wasmGemm?: { variant: string; peakGflops: number; oneThreadGflops: number; oneThreadFractionOfPeak: number; backendOverOneThread: number };
}

export function flopsPerToken(config: TrainConfig, vocabSize: number): number {
  const H = config.hidden;
  let lstm = 0;
  for (let l = 0; l < config.layers; l++) lstm += 4 * H * (H + H);
  return 6 * (lstm + H * vocabSize);
}

/** Training rounds, each followed by its own roofline measurement (see runBench). */
const BENCH_ROUNDS = 3;

interface Shape { name: string; transA: boolean; transB: boolean; M: number; N: number; K: number; count: number }

/**
 * Seconds per call of one GEMM shape, the best of three timings of about minSeconds/3. The operands are
 * views into buffers the training steps use (the caller restores what they need afterwards), so that timing
 * the GEMMs does not raise the peak memory it reports: each of A, B and C goes into the first buffer left
 * that holds it.
 */
function timeGemm(backend: Backend, s: Shape, minSeconds: number, buffers: Float32Array[], precision: Precision = 'fp32'): number {
  const free = [...buffers];
  const take = (size: number): Float32Array => {
    const k = free.findIndex((b) => b.length >= size);
    return k < 0 ? new Float32Array(size) : free.splice(k, 1)[0].subarray(0, size);
  };
  /** bf16 operands in the memory of a float32 buffer of half their length */
  const takeBf16 = (size: number): Uint16Array => {
    const f = take(Math.ceil(size / 2));
    return new Uint16Array(f.buffer, f.byteOffset, size).fill(0x3c24); // 0.01 in bf16
  };
  const lda = s.transA ? s.M : s.K, ldb = s.transB ? s.K : s.N;
  let call: () => void;
  if (precision === 'bf16') {
    const A = takeBf16(s.M * s.K), B = takeBf16(s.K * s.N), C = take(s.M * s.N);
    call = () => backend.gemmBf16!(s.transA, s.transB, s.M, s.N, s.K, 1, A, lda, B, ldb, 0, C, s.N);
  } else {
    const A = take(s.M * s.K), B = take(s.K * s.N), C = take(s.M * s.N);
    A.fill(0.01); B.fill(0.01);
    call = () => backend.gemm(s.transA, s.transB, s.M, s.N, s.K, 1, A, lda, B, ldb, 0, C, s.N);
  }
  call(); call();
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    let calls = 0;
    const start = performance.now();
    do { call(); calls++; } while (performance.now() - start < (minSeconds * 1000) / 3);
    best = Math.min(best, (performance.now() - start) / 1000 / calls);
  }
  return best;
}

/** Wraps a backend so that the time spent in each kind of kernel is added up. */
function timedBackend(backend: Backend, timers: { gemm: number; lstmElementwise: number; softmaxCrossEntropy: number }): Backend {
  const timed = <A extends unknown[], R>(fn: (...args: A) => R, key: keyof typeof timers) => (...args: A): R => {
    const start = performance.now();
    const r = fn(...args);
    timers[key] += performance.now() - start;
    return r;
  };
  return {
    name: backend.name,
    gemm: timed(backend.gemm.bind(backend), 'gemm'),
    addColumnSums: backend.addColumnSums.bind(backend), // bias gradients: counted in 'other'
    axpy: backend.axpy.bind(backend), // timed with the optimizer
    dot: backend.dot.bind(backend),
    multiply: backend.multiply.bind(backend), // dropout: counted in 'other'
    add: timed(backend.add.bind(backend), 'lstmElementwise'), // the LSTM backward's dh_t
    lstmGatesForward: timed(backend.lstmGatesForward, 'lstmElementwise'),
    lstmGatesBackward: timed(backend.lstmGatesBackward, 'lstmElementwise'),
    softmaxCrossEntropy: timed(backend.softmaxCrossEntropy, 'softmaxCrossEntropy'),
    fillDropoutMask: backend.fillDropoutMask, // the masks are counted in 'other'
    recurrentLoop: backend.recurrentLoop?.bind(backend), // its calls on this thread are timed as they come
    allocateFloat32: backend.allocateFloat32, allocateInt32: backend.allocateInt32,
  };
}

export function runBench(backend: Backend, corpus: Corpus, config: TrainConfig, steps: number): BenchResult {
  const V = corpus.vocab.words.length, H = config.hidden, B = config.batchSize, T = config.bptt, N = T * B, L = config.layers;
  const flops = flopsPerToken(config, V);

  // 1. Training steps on real windows, with every kernel timed.
  const rng = createRng(config.seed);
  const model = createModel({ vocabSize: V, hidden: H, layers: L, layerNorm: config.layerNorm }, undefined, backend.allocateFloat32);
  initializeParameters(model, config.init, rng);
  const ws = createWorkspace(model, T, B, config.placement, backend);
  const data = batchify(corpus.train, B);
  const windows = windowCount(data, T);
  // bf16: the steps' products through the mixed-precision wrapper, as the trainer runs them
  const mixed = config.precision === 'bf16' ? mixedPrecision(backend, model.params) : null;
  const stepBackend = mixed ?? backend;
  const timers = { gemm: 0, lstmElementwise: 0, softmaxCrossEntropy: 0 };
  const timed = timedBackend(stepBackend, timers);
  const options: ForwardOptions = { train: true, placement: config.placement, keepProb: config.keepProb, rng };
  let optimizerMs = 0;
  const step = (k: number, b: Backend): number => {
    const len = fillWindow(data, k % windows, T, ws.tokens, ws.targets);
    let t = performance.now();
    zeroGradients(model);
    optimizerMs += performance.now() - t;
    modelForward(b, model, ws, len, options);
    modelBackward(b, model, ws, len, options);
    t = performance.now();
    sgdStep(model, 1, config.weightDecay, clipScale(modelGradientNorm(model, b), config.clip), b);
    mixed?.refreshWeightCopies();
    optimizerMs += performance.now() - t;
    carryState(ws, len, H);
    return len * B;
  };
  // The GEMM shapes of one training step: the batched ones set the roofline; the per-step recurrent ones
  // (B rows only) run slower, and set the ceiling reported as gemmOnlyFraction.
  const batched: Shape[] = [
    { name: 'input projections x·W_ihᵀ (all steps)', transA: false, transB: true, M: N, N: 4 * H, K: H, count: L },
    { name: 'input gradient dz·W_ih', transA: false, transB: false, M: N, N: H, K: 4 * H, count: L },
    { name: 'weight gradients dzᵀ·x, dzᵀ·h', transA: true, transB: false, M: 4 * H, N: H, K: N, count: 2 * L },
    { name: 'logits x·W_outᵀ', transA: false, transB: true, M: N, N: V, K: H, count: 1 },
    { name: 'decoder input gradient dlogits·W_out', transA: false, transB: false, M: N, N: H, K: V, count: 1 },
    { name: 'decoder weight gradient dlogitsᵀ·x', transA: true, transB: false, M: V, N: H, K: N, count: 1 },
  ];
  const recurrent: Shape[] = [
    { name: 'recurrent h·W_hhᵀ (per step)', transA: false, transB: true, M: B, N: 4 * H, K: H, count: L * T },
    { name: 'recurrent gradient dz·W_hh (per step)', transA: false, transB: false, M: B, N: H, K: 4 * H, count: L * T },
  ];
  // The GEMMs are timed in the buffers of the model and workspace (so that timing them does not raise the
  // peak memory reported), after which the parameters are drawn afresh for the next round's steps.
  // (not the embedding's part of grads: it is never written, so it takes no memory until something does)
  const scratch = [ws.logits, model.params, model.grads.subarray(model.tensors[0].size), ws.lstm[0].gates];
  const shapeSeconds = new Map<Shape, number[]>();
  /** GFLOP/s over a step's worth of these shapes, each timed for about `seconds`. */
  const weighted = (shapes: Shape[], seconds: number, precision: Precision = config.precision): number => {
    let totalFlops = 0, totalSeconds = 0;
    for (const s of shapes) {
      const perCall = timeGemm(backend, s, seconds, scratch, precision);
      if (precision === config.precision) shapeSeconds.set(s, [...(shapeSeconds.get(s) ?? []), perCall]);
      totalFlops += 2 * s.M * s.N * s.K * s.count; totalSeconds += perCall * s.count;
    }
    return totalFlops / totalSeconds / 1e9;
  };

  // 1. Training steps on real windows, in rounds, each followed by the roofline measured on the GEMM
  //    shapes: on a shared, noisy machine, speeds drift over seconds, so each round's tokens are set against
  //    the roofline measured next to them. rooflineFraction = Σ (round tokens ÷ round roofline) ÷ Σ round
  //    seconds: the time the roofline would need for the tokens trained, over the time they took.
  resetState(ws);
  for (let k = 0; k < 2; k++) step(k, stepBackend); // warm-up (compilation, first-touch of buffers)
  // the other precision's batched products too, where the backend has them: the machine's limit is the faster
  const otherPrecision: Precision | null = config.precision === 'bf16' ? 'fp32' : backend.gemmBf16 !== undefined ? 'bf16' : null;
  let otherRooflineSeconds = 0, otherGemmGflops = 0;
  const rounds = Math.min(BENCH_ROUNDS, steps);
  const recurrentFlops = L * 16 * H * H; // per token: h·W_hhᵀ forward and dz·W_hh backward, 2·4H·H each
  let tokens = 0, trainSeconds = 0, rooflineSeconds = 0, gemmOnlySeconds = 0, stepsDone = 0;
  const roundFigures: BenchResult['roundFigures'] = [];
  for (let round = 0; round < rounds; round++) {
    const roundSteps = Math.round(((round + 1) * steps) / rounds) - stepsDone;
    let roundTokens = 0;
    const start = performance.now();
    for (let k = 0; k < roundSteps; k++) roundTokens += step(2 + stepsDone + k, stepBackend);
    const seconds = (performance.now() - start) / 1000;
    stepsDone += roundSteps;
    const gemmGflops = weighted(batched, 0.6 / rounds);
    if (otherPrecision !== null) {
      const other = weighted(batched, 0.6 / rounds, otherPrecision);
      otherGemmGflops += other / rounds;
      otherRooflineSeconds += (roundTokens * flops) / (other * 1e9);
    }
    const recurrentGemmGflops = weighted(recurrent, 0.6 / rounds);
    tokens += roundTokens; trainSeconds += seconds;
    rooflineSeconds += (roundTokens * flops) / (gemmGflops * 1e9);
    gemmOnlySeconds += roundTokens * ((flops - recurrentFlops) / (gemmGflops * 1e9) + recurrentFlops / (recurrentGemmGflops * 1e9));
    roundFigures.push({ tokens: roundTokens, seconds, gemmGflops, recurrentGemmGflops });
    initializeParameters(model, config.init, createRng(config.seed + round + 1)); // the GEMMs wrote over them
    mixed?.refreshWeightCopies();
    resetState(ws);
  }
  const mean = (key: 'gemmGflops' | 'recurrentGemmGflops'): number => roundFigures.reduce((sum, r) => sum + r[key], 0) / rounds;
  const gemmGflops = mean('gemmGflops'), recurrentGemmGflops = mean('recurrentGemmGflops');
  const wasm = backend.name === 'js' ? loadWasmKernels() : null;
  let wasmGemm: BenchResult['wasmGemm'];
  if (wasm !== null) { // one thread's GEMM against one thread's peak, side by side
    let oneThreadFlops = 0, oneThreadSeconds = 0, peak = 0;
    for (let round = 0; round < 2; round++) {
      peak = Math.max(peak, wasm.peakGflops(0.1));
      for (const s of batched) {
        oneThreadFlops += 2 * s.M * s.N * s.K * s.count; oneThreadSeconds += timeGemm(jsBackend, s, 0.15, scratch) * s.count;
      }
    }
    const oneThreadGflops = oneThreadFlops / oneThreadSeconds / 1e9;
    wasmGemm = { variant: wasm.variant, peakGflops: peak, oneThreadGflops, oneThreadFractionOfPeak: oneThreadGflops / peak,
      backendOverOneThread: mean('gemmGflops') / oneThreadGflops };
    initializeParameters(model, config.init, createRng(config.seed)); // the GEMMs wrote over them
  }
  const gemmShapes: BenchResult['gemmShapes'] = [...batched, ...recurrent].map((s) => {
    const times = shapeSeconds.get(s)!;
    return { name: s.name, M: s.M, N: s.N, K: s.K, gflops: (2 * s.M * s.N * s.K) / Math.min(...times) / 1e9 };
  });

  // 2. The same number of steps with the breakdown timers
  timers.gemm = 0; timers.lstmElementwise = 0; timers.softmaxCrossEntropy = 0; optimizerMs = 0;
  let start = performance.now();
  mixed?.refreshWeightCopies();
  for (let k = 0; k < steps; k++) step(2 + steps + k, timed);
  const timedMs = performance.now() - start;

  // the embedding's forward and backward on the same shapes (its loops are not backend calls)
  const embedded = ws.dx; // scratch of the right size
  start = performance.now();
  for (let k = 0; k < steps; k++) {
    embeddingForward(embedded, ws.tokens, model.encoder.weight, N, H);
    embeddingBackward(model.encoder.grad, embedded, ws.tokens, N, H);
  }
  const embeddingMs = performance.now() - start;

  // 3. Evaluation: forward only, dropout off, in the training workspace (as the trainer does)
  const evalWs = ws;
  resetState(evalWs);
  let evalTokens = 0;
  start = performance.now();
  for (let k = 0; k < steps; k++) {
    const len = fillWindow(data, k % windows, T, evalWs.tokens, evalWs.targets);
    modelForward(backend, model, evalWs, len, { train: false, placement: 'none', keepProb: 1, rng: null });
    carryState(evalWs, len, H);
    evalTokens += len * B;
  }
  const evalSeconds = (performance.now() - start) / 1000;

  const tokensPerSecond = tokens / trainSeconds;
  const rooflineFraction = rooflineSeconds / trainSeconds;
  const rooflineTokensPerSecond = tokensPerSecond / rooflineFraction; // the rounds' rooflines, weighted by their tokens
  const fraction = (ms: number): number => ms / timedMs;
  // the machine's limit: the faster of the two precisions' rooflines (the shorter time for the same tokens)
  const otherFaster = otherPrecision !== null && otherRooflineSeconds < rooflineSeconds;
  const machineBest = otherFaster
    ? { precision: otherPrecision!, gemmGflops: otherGemmGflops, rooflineTokensPerSecond: tokens / otherRooflineSeconds, fraction: otherRooflineSeconds / trainSeconds }
    : { precision: config.precision, gemmGflops, rooflineTokensPerSecond, fraction: rooflineFraction };
  const known = timers.gemm + timers.lstmElementwise + timers.softmaxCrossEntropy + embeddingMs + optimizerMs;
  return {
    config: config.name, backend: backend.name, precision: config.precision, machineBest, library: (backend as { library?: string }).library ?? 'TypeScript + WebAssembly', steps, flopsPerToken: flops, gemmGflops, recurrentGemmGflops,
    rooflineTokensPerSecond, tokensPerSecond, rooflineFraction, rounds, roundFigures,
    gemmOnlyFraction: rooflineSeconds / gemmOnlySeconds,
    evalTokensPerSecond: evalTokens / evalSeconds,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    breakdown: {
      gemm: fraction(timers.gemm), lstmElementwise: fraction(timers.lstmElementwise),
      softmaxCrossEntropy: fraction(timers.softmaxCrossEntropy), embedding: fraction(embeddingMs),
      optimizer: fraction(optimizerMs), other: Math.max(0, fraction(timedMs - known)),
    },
    gemmShapes,
    ...(wasmGemm === undefined ? {} : { wasmGemm }),
  };
}
