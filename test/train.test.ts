import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { batchify, fillWindow, loadCorpus } from '../src/data/corpus.js';
import { jsBackend } from '../src/kernels/js.js';
import { CONFIGS, learningRateForEpoch } from '../src/model/configs.js';
import { createModel, denseGradients, initializeParameters, setDenseGradients } from '../src/model/params.js';
import { createEarlyStopping, earlyStoppingUpdate, restoreBest } from '../src/train/early-stopping.js';
import { evaluate } from '../src/train/evaluate.js';
import { clipGradients, clipScale, gradientNorm, modelGradientNorm, sgdStep, weightDecayPenalty, zeroGradients } from '../src/train/sgd.js';
import { loadResumePoint } from '../src/train/load.js';
import { trainModel, type ProgressPoint, type StepProgress } from '../src/train/trainer.js';
import { createRng } from '../src/util/rng.js';
import { createWorkspace, modelBackward, modelForward } from '../src/model/lm.js';
import { rlstm, tempDir, tinyCorpus } from './helpers.js';

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

// Progress points inside an epoch. A tiny model (one layer of 8) on 80 lines of PTB with B = 2, T = 5:
// 150-odd windows per epoch, so two epochs have points in both, and the step-200 point is in epoch 2.
const PROGRESS_CONFIG = { ...CONFIGS.small, layers: 1, hidden: 8, batchSize: 2, bptt: 5, testBatchSize: 2, testBptt: 5,
  epochs: 2, maxEpoch: 1, seed: 4 };
const progressCorpus = loadCorpus(tinyCorpus(80));

/** Trains on the progress corpus; records what every step reported. */
async function progressRun(config: Partial<typeof PROGRESS_CONFIG>, run: { logPath?: string; savePath?: string; now?: () => number; onStep?: () => void } = {}) {
  const steps: StepProgress[] = [];
  const result = await trainModel({
    backend: jsBackend, corpus: progressCorpus, corpusFingerprint: 'test', config: { ...PROGRESS_CONFIG, ...config },
    savePath: run.savePath ?? null, logPath: run.logPath ?? null, progress: { now: run.now ?? (() => 0) },
    callbacks: { onStep: (p) => { steps.push(p); run.onStep?.(); } },
  });
  return { result, steps, progress: result.state.progress };
}

/**
 * The training perplexity over the epoch's steps since its last 100-step point (or its start), from the
 * running perplexities the steps reported: every window but an epoch's last has B·T tokens.
 */
function windowPerplexity(steps: StepProgress[], point: ProgressPoint): number {
  const tokens = PROGRESS_CONFIG.batchSize * PROGRESS_CONFIG.bptt;
  const nllAt = (window: number): number => {
    if (window === 0) return 0;
    const s = steps.find((x) => x.epoch === point.epoch && x.window === window)!;
    return Math.log(s.trainPerplexity) * window * tokens;
  };
  const firstStepOfEpoch = point.step - point.window + 1;
  const markStep = Math.max(Math.floor((point.step - 1) / 100) * 100, firstStepOfEpoch - 1);
  const markWindow = markStep - (firstStepOfEpoch - 1);
  return Math.exp((nllAt(point.window) - nllAt(markWindow)) / ((point.window - markWindow) * tokens));
}

test('progress: a point every 100 steps with the epoch, lr, perplexity since the last point, in the log one per line', async () => {
  const dir = tempDir();
  const { result, steps, progress } = await progressRun({}, { logPath: join(dir, 'log.json') });
  const windows = steps[0].windows;
  assert.ok(windows > 100 && windows < 200 && result.state.step > 300, `${windows} windows, ${result.state.step} steps`);
  assert.deepEqual(progress.map((p) => p.step), [100, 200, 300]);
  for (const p of progress) {
    assert.equal(p.timed, undefined);
    assert.equal(p.epoch, p.step <= windows ? 1 : 2);
    assert.equal(p.window, p.step - (p.epoch - 1) * windows);
    assert.equal(p.windows, windows);
    assert.equal(p.lr, learningRateForEpoch(PROGRESS_CONFIG, p.epoch));
    assert.equal(p.gradNorm, steps[p.step - 1].gradNorm);
    assert.ok(p.tokensPerSecond > 0 && p.seconds > 0);
    // step 200 covers epoch 2's first windows only, not the end of epoch 1
    const expected = windowPerplexity(steps, p);
    assert.ok(Math.abs(p.trainPerplexity - expected) < 1e-9 * expected, `step ${p.step}: ${p.trainPerplexity} vs ${expected}`);
  }
  // step 200 starts from epoch 2's start, so it equals the running perplexity there; step 300 starts from step 200
  assert.ok(Math.abs(progress[1].trainPerplexity - steps[199].trainPerplexity) < 1e-9 * progress[1].trainPerplexity);
  assert.ok(Math.abs(progress[2].trainPerplexity - steps[299].trainPerplexity) > 1e-3, 'not the running epoch perplexity');
  const text = readFileSync(join(dir, 'log.json'), 'utf8');
  assert.deepEqual(JSON.parse(text).progress, progress);
  assert.equal(text.split('\n').filter((line) => /^ {4}\{"step":\d+,/.test(line)).length, 3, 'one line per point');
});

test('progress: a timed point whenever the clock says a minute has passed, leaving the step points and the weights as they were', async () => {
  let clock = 0; // each step takes 7 s by this clock: a timed point every 9 steps after the last point
  const timed = await progressRun({ maxSteps: 250 }, { now: () => clock, onStep: () => { clock += 7000; } });
  const expected: [number, boolean][] = [];
  for (let step = 1, last = 0; step <= 250; step++) {
    if (step % 100 === 0 || 7000 * step - last >= 60_000) { expected.push([step, step % 100 !== 0]); last = 7000 * step; }
  }
  if (expected.at(-1)![0] !== 250) expected.push([250, true]); // and one where the session stops, mid-epoch
  assert.deepEqual(timed.progress.map((p) => [p.step, p.timed === true]), expected);
  assert.deepEqual(expected.slice(0, 13).map(([step]) => step), [9, 18, 27, 36, 45, 54, 63, 72, 81, 90, 99, 100, 109]);
  for (const p of timed.progress) {
    const want = windowPerplexity(timed.steps, p); // a timed point too covers the steps since the last 100-step point
    assert.ok(Math.abs(p.trainPerplexity - want) < 1e-9 * want, `step ${p.step}`);
  }
  const plain = await progressRun({ maxSteps: 250 });
  const facts = (points: ProgressPoint[]) => points.filter((p) => !p.timed).map(({ seconds: _s, tokensPerSecond: _t, ...rest }) => rest);
  assert.deepEqual(facts(timed.progress), facts(plain.progress));
  assert.deepEqual(timed.result.model.params, plain.result.model.params, 'the log does not touch the numerics');
});

test('progress: gradNorm is the global norm of the point\'s step gradient before clipping', async () => {
  // 99 steps, saved; then step 100 done by hand from the checkpoint: its gradient's norm, summed directly
  const dir = tempDir();
  const config = { clip: 0.25, maxSteps: 99 }; // clipping at work: the recorded norm is above the limit
  await progressRun(config, { savePath: join(dir, 'c.safetensors') });
  const { resume } = loadResumePoint(join(dir, 'c.safetensors'));
  const model = createModel({ vocabSize: progressCorpus.vocab.words.length, hidden: 8, layers: 1, layerNorm: false }, resume.params.slice());
  const ws = createWorkspace(model, PROGRESS_CONFIG.bptt, PROGRESS_CONFIG.batchSize, PROGRESS_CONFIG.placement);
  ws.lstm[0].h0.set(resume.hidden.subarray(0, 16)); ws.lstm[0].c0.set(resume.hidden.subarray(16, 32)); // (B,H) each
  const data = batchify(progressCorpus.train, PROGRESS_CONFIG.batchSize);
  const T = fillWindow(data, 99, PROGRESS_CONFIG.bptt, ws.tokens, ws.targets);
  const options = { train: true, placement: PROGRESS_CONFIG.placement, keepProb: PROGRESS_CONFIG.keepProb, rng: createRng(1) };
  zeroGradients(model);
  modelForward(jsBackend, model, ws, T, options);
  modelBackward(jsBackend, model, ws, T, options);
  const direct = Math.sqrt(denseGradients(model).reduce((sum, g) => sum + g * g, 0));
  const { progress } = await progressRun({ ...config, maxSteps: 100 });
  assert.equal(progress.at(-1)!.step, 100);
  assert.ok(Math.abs(progress.at(-1)!.gradNorm - direct) < 1e-6 * direct, `${progress.at(-1)!.gradNorm} vs ${direct}`);
  assert.ok(direct > config.clip, 'the norm before clipping');
});

test('progress: a run that stops before its first 100-step point ends its log with a point at its last step, which rlstm plot draws', async () => {
  const dir = tempDir();
  const { result, steps, progress } = await progressRun({ maxSteps: 30 }, { logPath: join(dir, 'log.json') });
  assert.equal(result.stopReason, 'max-steps');
  assert.deepEqual(progress.map((p) => [p.step, p.timed, p.final]), [[30, true, true]]);
  const want = windowPerplexity(steps, progress[0]);
  assert.ok(Math.abs(progress[0].trainPerplexity - want) < 1e-9 * want);
  const plot = rlstm(['plot', join(dir, 'log.json'), '--out', join(dir, 'curves.svg')], dir);
  assert.equal(plot.status, 0, plot.stderr);
  assert.ok(readFileSync(join(dir, 'curves.svg'), 'utf8').startsWith('<svg'));
});
