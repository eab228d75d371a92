import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Backend } from '../src/kernels/backend.js';
import { jsBackend } from '../src/kernels/js.js';
import { loadBlasBackend } from '../src/kernels/blas.js';
import {
  createWorkspace, DROPOUT_PLACEMENTS, modelBackward, modelForward, type DropoutPlacement, type ForwardOptions,
} from '../src/model/lm.js';
import { clearGradients, createModel, denseGradients, initializeParameters, type Model } from '../src/model/params.js';
import { checkGradient } from '../src/util/gradcheck.js';
import { createRng, nextUint32 } from '../src/util/rng.js';
import { assertGradientOk, randomArray, testRng } from './helpers.js';

// Whole-model gradient checks: every parameter of a tiny 2-layer model, loss = Σ_t mean_b NLL (the paper's),
// with the dropout masks drawn once and then held fixed. Tolerance as in layers.test.ts:
// |analytic − numeric| ≤ 1e-3 + 1e-2 · max(|analytic|, |numeric|).

function tinySetup(placement: DropoutPlacement, layerNorm: boolean, keepProb = 0.6) {
  const V = 7, H = 4, L = 2, T = 3, B = 2;
  const model = createModel({ vocabSize: V, hidden: H, layers: L, layerNorm });
  const rng = createRng(11);
  initializeParameters(model, 0.5, rng);
  if (layerNorm) { // move gains and norm shifts away from 1 and 0 so their gradients are exercised
    for (const t of model.tensors) {
      if (t.kind === 'normGain' || t.kind === 'normBias') {
        const v = model.params.subarray(t.offset, t.offset + t.size);
        v.set(randomArray(t.size, rng, 0.3).map((x) => x + (t.kind === 'normGain' ? 1 : 0)));
      }
    }
  }
  const ws = createWorkspace(model, T, B, placement);
  for (let k = 0; k < T * B; k++) { ws.tokens[k] = nextUint32(rng) % V; ws.targets[k] = nextUint32(rng) % V; }
  for (const a of ws.lstm) { a.h0.set(randomArray(B * H, rng, 0.5)); a.c0.set(randomArray(B * H, rng, 0.5)); }
  const options: ForwardOptions = { train: true, placement, keepProb, rng };
  return { model, ws, T, B, options, rng };
}

function lossAndGradient(backend: Backend, model: Model, ws: ReturnType<typeof createWorkspace>, T: number, options: ForwardOptions): number {
  clearGradients(model);
  const nll = modelForward(backend, model, ws, T, options);
  modelBackward(backend, model, ws, T, options);
  return nll / ws.B;
}

for (const placement of DROPOUT_PLACEMENTS) {
  for (const layerNorm of [false, true]) {
    test(`whole model gradient check: placement ${placement}${layerNorm ? ', layer norm' : ''}`, () => {
      const { model, ws, T, B, options } = tinySetup(placement, layerNorm);
      lossAndGradient(jsBackend, model, ws, T, options); // draws the masks
      const fixed = { ...options, rng: null };
      const analytic = denseGradients(model);
      const loss = (): number => modelForward(jsBackend, model, ws, T, fixed) / B;
      assertGradientOk(`model/${placement}`, checkGradient(loss, model.params, analytic));
    });
  }
}

test('zaremba leaves the recurrent path alone: the recurrent input is exactly h_{t-1}', () => {
  for (const placement of ['zaremba', 'recurrent', 'variational'] as const) {
    const { model, ws, T, B, options } = tinySetup(placement, false, 0.5);
    modelForward(jsBackend, model, ws, T, options);
    const H = model.config.hidden;
    let identical = true;
    for (const a of ws.lstm) {
      for (let t = 0; t < T; t++) {
        const used = a.hPrev.subarray(t * B * H, (t + 1) * B * H);
        const previous = t === 0 ? a.h0 : a.h.subarray((t - 1) * B * H, t * B * H);
        if (!used.every((v, k) => v === previous[k])) identical = false;
      }
    }
    if (placement === 'zaremba') assert.ok(identical, 'zaremba must feed h_{t-1} to W_hh unchanged');
    else assert.ok(!identical, `${placement} should drop units of h_{t-1} (else this test could not fail)`);
  }
});

test('zaremba applies dropout at exactly the L+1 vertical sites', () => {
  const { model, ws, T, options } = tinySetup('zaremba', false, 0.5);
  modelForward(jsBackend, model, ws, T, options);
  assert.equal(ws.siteMasks.filter((m) => m !== null).length, model.config.layers + 1);
  assert.ok(ws.recurrentMasks.every((m) => m === null));
  for (const mask of ws.siteMasks) assert.ok(mask!.some((v) => v === 0), 'each site drops some units');
});

test('evaluation is deterministic and ignores dropout', () => {
  const { model, ws, T } = tinySetup('zaremba', false, 0.5);
  const evalOptions: ForwardOptions = { train: false, placement: 'zaremba', keepProb: 0.5, rng: createRng(1) };
  const first = modelForward(jsBackend, model, ws, T, evalOptions);
  const second = modelForward(jsBackend, model, ws, T, { ...evalOptions, rng: createRng(2) });
  const noDropout = modelForward(jsBackend, model, ws, T, { train: false, placement: 'none', keepProb: 1, rng: null });
  assert.equal(first, second);
  assert.equal(first, noDropout);
  const train = modelForward(jsBackend, model, ws, T, { train: true, placement: 'zaremba', keepProb: 0.5, rng: createRng(3) });
  assert.notEqual(train, first, 'training with dropout differs from evaluation');
});

test('same seed, same configuration: identical losses and weights after several steps', () => {
  const run = (): { losses: number[]; params: Float32Array } => {
    const { model, ws, T, options } = tinySetup('zaremba', false, 0.7);
    const losses: number[] = [];
    for (let step = 0; step < 5; step++) {
      losses.push(lossAndGradient(jsBackend, model, ws, T, options));
      const grads = denseGradients(model);
      for (let k = 0; k < model.params.length; k++) model.params[k] -= 0.5 * grads[k];
    }
    return { losses, params: model.params };
  };
  const a = run(), b = run();
  assert.deepEqual(a.losses, b.losses);
  assert.deepEqual(a.params, b.params);
  assert.notEqual(a.losses[0], a.losses[4], 'training changed the loss');
});

let blas: Backend | null = null;
let noBlas = ''; // why not: no OpenBLAS, or RLSTM_NATIVE=0
try { blas = loadBlasBackend(); } catch (err) { blas = null; noBlas = (err as Error).message; }

test('the BLAS and TypeScript backends give the same loss and gradients', { skip: blas === null ? `BLAS not available (${noBlas})` : false }, () => {
  // a mid-sized model so that BLAS takes its blocked paths; tolerance: relative 1e-5 on the loss,
  // 1e-4 · max|g| on every gradient (float32 sums in a different order)
  for (const layerNorm of [false, true]) {
    const V = 50, H = 24, T = 6, B = 5;
    const model = createModel({ vocabSize: V, hidden: H, layers: 2, layerNorm });
    const rng = testRng(21);
    initializeParameters(model, 0.1, rng);
    const ws = createWorkspace(model, T, B, 'zaremba');
    for (let k = 0; k < T * B; k++) { ws.tokens[k] = nextUint32(rng) % V; ws.targets[k] = nextUint32(rng) % V; }
    const lossJs = lossAndGradient(jsBackend, model, ws, T, { train: true, placement: 'zaremba', keepProb: 0.8, rng: createRng(5) });
    const gradJs = denseGradients(model);
    const lossBlas = lossAndGradient(blas!, model, ws, T, { train: true, placement: 'zaremba', keepProb: 0.8, rng: createRng(5) });
    assert.ok(Math.abs(lossJs - lossBlas) <= 1e-5 * Math.abs(lossJs), `loss js ${lossJs} vs blas ${lossBlas}`);
    const gradBlas = denseGradients(model);
    let maxGrad = 0, maxDiff = 0;
    for (let k = 0; k < gradJs.length; k++) {
      maxGrad = Math.max(maxGrad, Math.abs(gradJs[k]));
      maxDiff = Math.max(maxDiff, Math.abs(gradJs[k] - gradBlas[k]));
    }
    assert.ok(maxDiff <= 1e-4 * maxGrad, `gradients differ by ${maxDiff} (max ${maxGrad})`);
  }
});
