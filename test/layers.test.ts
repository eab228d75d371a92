import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsBackend } from '../src/kernels/js.js';
import { softmaxCrossEntropy } from '../src/kernels/pointwise.js';
import { dropoutBackward, dropoutForward, fillDropoutMaskPerSequence, fillDropoutMaskPerStep } from '../src/nn/dropout.js';
import { clearRowGradient, createRowGradient, denseRowGradient, embeddingBackward, embeddingForward } from '../src/nn/embedding.js';
import { layerNormBackward, layerNormForward } from '../src/nn/layernorm.js';
import { linearBackward, linearForward } from '../src/nn/linear.js';
import { createLstmActivations, lstmBackward, lstmForward, type LstmWeights } from '../src/nn/lstm.js';
import { checkGradient } from '../src/util/gradcheck.js';
import { createRng, nextFloat } from '../src/util/rng.js';
import { assertGradientOk, dot, randomArray, testRng } from './helpers.js';

// Tolerance of every gradient check here (float32 parameters, central differences with ε = 1e-3):
// |analytic − numeric| ≤ 1e-3 + 1e-2 · max(|analytic|, |numeric|).
const backend = jsBackend;

test('embedding backward matches finite differences', () => {
  const rng = testRng(1);
  const V = 6, C = 4, N = 5;
  const tokens = Int32Array.from([1, 3, 1, 5, 0]);
  const weight = randomArray(V * C, rng), R = randomArray(N * C, rng);
  const out = new Float32Array(N * C);
  const loss = (): number => { embeddingForward(out, tokens, weight, N, C); return dot(out, R); };
  const grad = createRowGradient(V, C);
  embeddingBackward(grad, R, tokens, N, C);
  const dweight = denseRowGradient(grad, V);
  assertGradientOk('embedding', checkGradient(loss, weight, dweight));
  // rows of unused tokens (2, 4) get no gradient; token 1 (used twice) gets both rows
  assert.deepEqual(Array.from(dweight.subarray(2 * C, 3 * C)), [0, 0, 0, 0]);
  assert.ok(Math.abs(dweight[C] - (R[0] + R[2 * C])) < 1e-6);
  // only the used rows are kept, in order of first use; a second backward accumulates, clearing empties it
  assert.deepEqual(Array.from(grad.list.subarray(0, grad.count)), [1, 3, 5, 0]);
  embeddingBackward(grad, R, tokens, N, C);
  assert.ok(Math.abs(denseRowGradient(grad, V)[C] - 2 * dweight[C]) < 1e-6);
  clearRowGradient(grad);
  assert.equal(grad.count, 0);
  embeddingBackward(grad, R, Int32Array.from([4, 4, 4, 4, 4]), N, C);
  const again = denseRowGradient(grad, V);
  assert.deepEqual(Array.from(again.subarray(C, 2 * C)), [0, 0, 0, 0], 'a cleared row starts from zero');
  assert.ok(Math.abs(again[4 * C] - (R[0] + R[C] + R[2 * C] + R[3 * C] + R[4 * C])) < 1e-6);
});

test('dropout forward/backward: inverted scaling, gradient through the mask', () => {
  const rng = testRng(2);
  const n = 40, keep = 0.6;
  const mask = new Float32Array(n);
  fillDropoutMaskPerStep(mask, n, keep, rng);
  for (const m of mask) assert.ok(m === 0 || Math.abs(m - 1 / keep) < 1e-6, `mask value ${m}`);
  const x = randomArray(n, rng), R = randomArray(n, rng), out = new Float32Array(n);
  const loss = (): number => { dropoutForward(out, x, mask, n); return dot(out, R); };
  const dx = new Float32Array(n);
  dropoutBackward(dx, R, mask, n);
  assertGradientOk('dropout', checkGradient(loss, x, dx));
});

test('dropout masks: mean 1 and zero fraction 1 − keep, per step and per sequence', () => {
  const rng = testRng(3);
  for (const keep of [0.8, 0.5, 0.35]) {
    const n = 200_000;
    const mask = new Float32Array(n);
    fillDropoutMaskPerStep(mask, n, keep, rng);
    let sum = 0, zeros = 0;
    for (const m of mask) { sum += m; if (m === 0) zeros++; }
    assert.ok(Math.abs(sum / n - 1) < 0.01, `keep ${keep}: mean mask ${sum / n}`);
    assert.ok(Math.abs(zeros / n - (1 - keep)) < 0.005, `keep ${keep}: zero fraction ${zeros / n}`);
  }
  // per sequence: the (B,C) block of step 0 repeats at every step; per step it does not
  const T = 4, B = 3, C = 50;
  const seqMask = new Float32Array(T * B * C);
  fillDropoutMaskPerSequence(seqMask, T, B, C, 0.5, rng);
  for (let t = 1; t < T; t++) assert.deepEqual(seqMask.subarray(t * B * C, (t + 1) * B * C), seqMask.subarray(0, B * C));
  const stepMask = new Float32Array(T * B * C);
  fillDropoutMaskPerStep(stepMask, T * B * C, 0.5, rng);
  assert.notDeepEqual(stepMask.subarray(B * C, 2 * B * C), stepMask.subarray(0, B * C));
});

test('linear backward matches finite differences (input, weight, bias)', () => {
  const rng = testRng(4);
  const N = 3, In = 5, Out = 4;
  const x = randomArray(N * In, rng), w = randomArray(Out * In, rng), b = randomArray(Out, rng), R = randomArray(N * Out, rng);
  const out = new Float32Array(N * Out);
  const loss = (): number => { linearForward(backend, out, x, w, b, N, In, Out); return dot(out, R); };
  const dx = new Float32Array(N * In), dw = new Float32Array(Out * In), db = new Float32Array(Out);
  linearBackward(backend, dx, dw, db, R, x, w, N, In, Out);
  assertGradientOk('linear dx', checkGradient(loss, x, dx));
  assertGradientOk('linear dW', checkGradient(loss, w, dw));
  assertGradientOk('linear db', checkGradient(loss, b, db));
});

test('layer norm backward matches finite differences (input, gain, bias)', () => {
  const rng = testRng(5);
  const N = 3, C = 7;
  const x = randomArray(N * C, rng, 2), gain = randomArray(C, rng), bias = randomArray(C, rng), R = randomArray(N * C, rng);
  const out = new Float32Array(N * C), xhat = new Float32Array(N * C), rstd = new Float32Array(N);
  const loss = (): number => { layerNormForward(out, xhat, rstd, x, gain, bias, N, C); return dot(out, R); };
  loss();
  // the normalized rows have mean 0 and variance 1
  for (let n = 0; n < N; n++) {
    const row = Array.from(xhat.subarray(n * C, (n + 1) * C));
    const mean = row.reduce((s, v) => s + v, 0) / C;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / C;
    assert.ok(Math.abs(mean) < 1e-5 && Math.abs(variance - 1) < 1e-3, `row ${n}: mean ${mean}, var ${variance}`);
  }
  const dx = new Float32Array(N * C), dgain = new Float32Array(C), dbias = new Float32Array(C);
  layerNormBackward(dx, dgain, dbias, R, xhat, rstd, gain, N, C);
  assertGradientOk('layernorm dx', checkGradient(loss, x, dx));
  assertGradientOk('layernorm dgain', checkGradient(loss, gain, dgain));
  assertGradientOk('layernorm dbias', checkGradient(loss, bias, dbias));
});

test('softmax cross-entropy: value and gradient', () => {
  const rng = testRng(6);
  const N = 4, V = 9, scale = 0.5;
  const logits = randomArray(N * V, rng, 3);
  const targets = Int32Array.from([0, 8, 3, 3]);
  const loss = (): number => softmaxCrossEntropy(logits.slice(), targets, N, V, 0) * scale;
  // value against a direct computation
  let expected = 0;
  for (let n = 0; n < N; n++) {
    const row = Array.from(logits.subarray(n * V, (n + 1) * V));
    const logSum = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
    expected += logSum - row[targets[n]];
  }
  assert.ok(Math.abs(softmaxCrossEntropy(logits.slice(), targets, N, V, 0) - expected) < 1e-5);
  const grad = logits.slice();
  const nll = softmaxCrossEntropy(grad, targets, N, V, scale);
  assert.ok(Math.abs(nll - expected) < 1e-5, 'the training path returns the same NLL');
  assertGradientOk('softmax-xent', checkGradient(loss, logits, grad));
});

function lstmWeights(In: number, H: number, layerNorm: boolean, rng: ReturnType<typeof testRng>, zero = false): LstmWeights {
  const make = (n: number, scale = 0.5): Float32Array => (zero ? new Float32Array(n) : randomArray(n, rng, scale));
  const gain = (n: number): Float32Array => {
    const g = make(n);
    if (!zero) for (let k = 0; k < n; k++) g[k] += 1;
    return g;
  };
  return {
    weightIh: make(4 * H * In), weightHh: make(4 * H * H), biasIh: make(4 * H), biasHh: make(4 * H),
    lnIhGain: layerNorm ? gain(4 * H) : null, lnHhGain: layerNorm ? gain(4 * H) : null,
    lnCellGain: layerNorm ? gain(H) : null, lnCellBias: layerNorm ? make(H) : null,
  };
}

for (const variant of ['plain', 'recurrent mask', 'layer norm'] as const) {
  test(`LSTM over a sequence, backward matches finite differences (${variant})`, () => {
    const rng = testRng(8);
    const T = 4, B = 2, In = 3, H = 3;
    const layerNorm = variant === 'layer norm';
    const w = lstmWeights(In, H, layerNorm, rng);
    const g = lstmWeights(In, H, layerNorm, rng, true);
    const a = createLstmActivations(T, B, H, layerNorm);
    const x = randomArray(T * B * In, rng);
    a.h0.set(randomArray(B * H, rng, 0.5));
    a.c0.set(randomArray(B * H, rng, 0.5));
    let mask: Float32Array | null = null;
    if (variant === 'recurrent mask') {
      mask = new Float32Array(T * B * H);
      fillDropoutMaskPerStep(mask, mask.length, 0.6, rng);
    }
    const R = randomArray(T * B * H, rng);
    const loss = (): number => { lstmForward(backend, a, w, x, mask, T, B, In, H); return dot(a.h, R); };
    loss();
    const dx = new Float32Array(T * B * In);
    lstmBackward(backend, dx, g, R, a, w, x, mask, T, B, In, H);
    assertGradientOk('lstm dx', checkGradient(loss, x, dx));
    for (const key of Object.keys(w) as (keyof LstmWeights)[]) {
      const p = w[key], dp = g[key];
      if (p === null || dp === null) continue;
      assertGradientOk(`lstm ${key}`, checkGradient(loss, p, dp));
    }
  });
}

test('dropout mask per step: exactly the draws nextFloat(rng) < keep, and the generator left where nextFloat would leave it', () => {
  for (const seed of [1, 12345, 0xdeadbeef]) {
    const fast = createRng(seed), reference = createRng(seed);
    const n = 10_007, keep = 0.65;
    const mask = new Float32Array(n);
    fillDropoutMaskPerStep(mask, n, keep, fast);
    for (let k = 0; k < n; k++) assert.equal(mask[k], nextFloat(reference) < keep ? Math.fround(1 / keep) : 0, `element ${k}`);
    assert.deepEqual(Array.from(fast.state), Array.from(reference.state));
  }
});
