import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadCorpus } from '../src/data/corpus.js';
import { jsBackend } from '../src/kernels/js.js';
import { CONFIGS, learningRateForEpoch } from '../src/model/configs.js';
import { createModel, denseGradients, initializeParameters, setDenseGradients } from '../src/model/params.js';
import { createEarlyStopping, earlyStoppingUpdate, restoreBest } from '../src/train/early-stopping.js';
import { evaluate } from '../src/train/evaluate.js';
import { clipGradients, clipScale, gradientNorm, modelGradientNorm, sgdStep, weightDecayPenalty, zeroGradients } from '../src/train/sgd.js';
import { trainModel } from '../src/train/trainer.js';
import { createRng } from '../src/util/rng.js';
import { createWorkspace, modelBackward, modelForward } from '../src/model/lm.js';
import { tempDir } from './helpers.js';

test('learning-rate schedule: constant for max_epoch epochs, then multiplied by decay each epoch', () => {
  const small = CONFIGS.small;
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((e) => learningRateForEpoch(small, e)), [1, 1, 1, 1, 0.5, 0.25, 0.125]);
  const medium = CONFIGS.medium;
  assert.equal(learningRateForEpoch(medium, 6), 1);
  assert.ok(Math.abs(learningRateForEpoch(medium, 8) - 1 / 1.44) < 1e-12);
});

test('the paper\'s configurations, exactly', () => {
  const pick = (c: typeof CONFIGS.small) => [c.layers, c.hidden, c.keepProb, c.init, c.clip, c.bptt, c.batchSize, c.epochs, c.maxEpoch, c.decay];
  assert.deepEqual(pick(CONFIGS.small), [2, 200, 1, 0.1, 5, 20, 20, 13, 4, 0.5]);
  assert.deepEqual(pick(CONFIGS.medium), [2, 650, 0.5, 0.05, 5, 35, 20, 39, 6, 1 / 1.2]);
  assert.deepEqual(pick(CONFIGS.large), [2, 1500, 0.35, 0.04, 10, 35, 20, 55, 14, 1 / 1.15]);
  assert.equal(CONFIGS.quick.epochs, 1);
  assert.equal(CONFIGS.quick.hidden, 200);
});

test('global-norm clipping scales every gradient by clip / norm, and only above the limit', () => {
  const g = Float32Array.from([3, 4, 0, 0]); // norm 5
  assert.equal(gradientNorm(g), 5);
  assert.equal(clipScale(5, 10), 1);
  assert.equal(clipScale(5, 2.5), 0.5);
  assert.equal(clipGradients(g, 2.5), 5);
  assert.deepEqual(Array.from(g), [1.5, 2, 0, 0]);
  const long = Float32Array.from({ length: 1001 }, (_, k) => (k % 7) - 3); // exercises the unrolled tail
  const direct = Math.sqrt(Array.from(long).reduce((s, v) => s + v * v, 0));
  assert.ok(Math.abs(gradientNorm(long) - direct) < 1e-9 * direct);
});

test('SGD with weight decay shrinks weight matrices only, never biases', () => {
  const model = createModel({ vocabSize: 6, hidden: 3, layers: 1, layerNorm: true });
  initializeParameters(model, 0.5, createRng(1));
  const before = model.params.slice();
  model.grads.fill(0);
  const lr = 0.5, decay = 0.1;
  const penalty = weightDecayPenalty(model, decay);
  assert.ok(penalty > 0);
  sgdStep(model, lr, decay);
  for (const t of model.tensors) {
    for (let k = t.offset; k < t.offset + t.size; k++) {
      const expected = t.kind === 'weight' ? before[k] * (1 - lr * decay) : before[k];
      assert.ok(Math.abs(model.params[k] - expected) < 1e-7, `${t.name}[${k - t.offset}]`);
    }
  }
  // the plain step with a clipping factor: w −= lr · s · g (every embedding row holding a gradient)
  setDenseGradients(model, new Float32Array(model.grads.length).fill(2));
  const p = model.params.slice();
  sgdStep(model, 0.5, 0, 0.25);
  for (let k = 0; k < p.length; k++) assert.ok(Math.abs(model.params[k] - (p[k] - 0.25)) < 1e-6);
});

test('SGD with weight decay on the embedding: rows without a gradient decay, rows with one also step', () => {
  const V = 9, H = 4;
  const model = createModel({ vocabSize: V, hidden: H, layers: 1, layerNorm: false });
  initializeParameters(model, 0.5, createRng(3));
  const ws = createWorkspace(model, 2, 2, 'none');
  ws.tokens.set([1, 4, 4, 7]); ws.targets.set([2, 3, 5, 0]);
  zeroGradients(model);
  const options = { train: true, placement: 'none' as const, keepProb: 1, rng: null };
  modelForward(jsBackend, model, ws, 2, options);
  modelBackward(jsBackend, model, ws, 2, options);
  assert.equal(model.encoder.grad.count, 3);
  const grads = denseGradients(model), before = model.params.slice();
  const lr = 0.5, decay = 0.1, scale = 0.8;
  sgdStep(model, lr, decay, scale);
  const expected = new Float32Array(before.length);
  for (const t of model.tensors) {
    for (let k = t.offset; k < t.offset + t.size; k++) {
      expected[k] = before[k] - (lr * scale * grads[k] + (t.kind === 'weight' ? lr * decay * before[k] : 0));
    }
  }
  assert.deepEqual(model.params, expected);
});

test('early stopping: stops after `patience` epochs without improvement and restores the best weights', () => {
  const params = new Float32Array(3);
  const state = createEarlyStopping(2);
  const valid = [100, 90, 95, 96, 80];
  const stops: boolean[] = [];
  for (let epoch = 1; epoch <= 4; epoch++) {
    params.fill(epoch); // the weights after this epoch
    stops.push(earlyStoppingUpdate(state, epoch, valid[epoch - 1], params));
  }
  assert.deepEqual(stops, [false, false, false, true]);
  assert.equal(state.bestEpoch, 2);
  assert.equal(state.best, 90);
  assert.ok(restoreBest(state, params));
  assert.deepEqual(Array.from(params), [2, 2, 2]);
  const off = createEarlyStopping(0);
  for (let e = 1; e <= 10; e++) assert.equal(earlyStoppingUpdate(off, e, 100 + e, params), false);
  assert.equal(restoreBest(off, params), false, 'patience 0 keeps no copy');
});

test('training with patience reports the best epoch and scores test with the restored weights', async () => {
  // valid is the training text reversed: the better the model learns train, the worse valid gets
  const dir = tempDir();
  const line = 'the cat sat on a mat and the dog ate my hat';
  const reversed = line.split(' ').reverse().join(' ');
  writeFileSync(join(dir, 'train.txt'), `${line}\n`.repeat(60));
  writeFileSync(join(dir, 'valid.txt'), `${reversed}\n`.repeat(10));
  writeFileSync(join(dir, 'test.txt'), `${reversed}\n`.repeat(10));
  const corpus = loadCorpus(dir);
  const config = { ...CONFIGS.small, hidden: 32, batchSize: 4, bptt: 10, epochs: 12, maxEpoch: 12, lr: 1, patience: 2,
    testBatchSize: 4, testBptt: 10, seed: 3 };
  const result = await trainModel({ backend: jsBackend, corpus, corpusFingerprint: 'test', config, savePath: null, logPath: null });
  const { epochs, early } = result.state;
  const valids = epochs.map((m) => m.validPerplexity);
  const best = Math.min(...valids);
  assert.equal(early.bestEpoch, valids.indexOf(best) + 1);
  assert.equal(result.stopReason, 'early-stopping', `valid perplexities ${valids.map((v) => v.toFixed(1)).join(' ')}`);
  assert.equal(epochs.length, early.bestEpoch! + 2, 'stopped exactly `patience` epochs after the best');
  // the model returned holds the best epoch's weights: its validation perplexity is the best one
  const again = evaluate(jsBackend, result.model, corpus.valid, 4, 10);
  assert.ok(Math.abs(again.perplexity - best) < 1e-9 * best, `restored ${again.perplexity} vs best ${best}`);
});

test('the embedding gradient kept as rows equals the dense one: norm, step and zeroing skip only zero rows', () => {
  const V = 50, H = 6, T = 4, B = 3;
  const model = createModel({ vocabSize: V, hidden: H, layers: 2, layerNorm: false });
  initializeParameters(model, 0.3, createRng(5));
  const ws = createWorkspace(model, T, B, 'zaremba');
  const rng = createRng(6);
  for (let round = 0; round < 3; round++) {
    for (let k = 0; k < T * B; k++) { ws.tokens[k] = (7 * k + 3 * round) % 20; ws.targets[k] = (5 * k + round) % V; }
    zeroGradients(model);
    const options = { train: true, placement: 'zaremba' as const, keepProb: 0.8, rng };
    modelForward(jsBackend, model, ws, T, options);
    modelBackward(jsBackend, model, ws, T, options);
    const used = new Set(Array.from(ws.tokens));
    assert.equal(model.encoder.grad.count, used.size, 'one gradient row per distinct token');
    const grads = denseGradients(model);
    // rows outside the batch hold zero gradient (the previous rounds' rows were cleared)
    for (let v = 0; v < V; v++) {
      const row = grads.subarray(v * H, (v + 1) * H);
      if (!used.has(v)) assert.ok(row.every((g) => g === 0), `row ${v} should be zero`);
      else assert.ok(row.some((g) => g !== 0), `row ${v} should have a gradient`);
    }
    assert.ok(model.grads.subarray(0, V * H).every((g) => g === 0), 'the dense buffer\'s embedding part is never written');
    assert.ok(Math.abs(modelGradientNorm(model) - gradientNorm(grads)) < 1e-9 * gradientNorm(grads));
    const dense = model.params.slice();
    for (let k = 0; k < dense.length; k++) dense[k] -= 0.7 * 0.5 * grads[k];
    sgdStep(model, 0.7, 0, 0.5);
    assert.deepEqual(model.params, dense);
  }
});
