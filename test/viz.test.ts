import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONFIGS } from '../src/model/configs.js';
import { summarize } from '../src/cli/reproduce.js';
import type { EpochMetrics, TrainingState } from '../src/train/trainer.js';
import { learningCurvesSvg } from '../src/viz/curves.js';

const epoch = (e: number, train: number, valid: number, lr: number): EpochMetrics => ({
  epoch: e, lr, trainPerplexity: train, validPerplexity: valid, steps: 10, complete: true, seconds: 100,
  tokensPerSecond: 4000, validSeconds: 5,
});

test('learning curves: one SVG with both series, axis titles and the reference lines', async () => {
  const svg = await learningCurvesSvg([{ label: 'small', epochs: [epoch(1, 280, 184, 1), epoch(2, 139, 147, 1), epoch(3, 107, 136, 0.5)] }],
    { title: 'small: perplexity per epoch', references: [{ label: 'paper test 114.5', value: 114.5 }] });
  assert.ok(svg.startsWith('<svg') && svg.trim().endsWith('</svg>'));
  for (const text of ['train', 'validation', 'perplexity (log scale)', 'epoch', 'learning rate', 'paper test 114.5', 'small: perplexity per epoch']) {
    assert.ok(svg.includes(text), `the SVG lacks "${text}"`);
  }
  assert.ok(!/https?:\/\/(?!www\.w3\.org)/.test(svg), 'no external references');
});

test('several runs overlay with a legend naming each run', async () => {
  const svg = await learningCurvesSvg([
    { label: 'keep 1.0', epochs: [epoch(1, 200, 180, 1), epoch(2, 100, 160, 1)] },
    { label: 'keep 0.5', epochs: [epoch(1, 300, 200, 1), epoch(2, 180, 140, 1)] },
  ], { title: 'overfitting' });
  for (const text of ['keep 1.0', 'keep 0.5', 'train', 'validation']) assert.ok(svg.includes(text), text);
});

test('reproduce summary: epochs, completeness, test protocol, speed', () => {
  const config = { ...CONFIGS.small };
  const state = {
    epochs: [epoch(1, 280, 184, 1), epoch(2, 139, 147, 1)], finished: false, test: null, trainSeconds: 250,
  } as unknown as TrainingState;
  const s = summarize(state, config, 'blas');
  assert.equal(s.epochsCompleted, 2);
  assert.equal(s.epochsPlanned, 13);
  assert.equal(s.complete, false);
  assert.equal(s.validPerplexity, 147);
  assert.equal(s.testPerplexity, null, 'no test score before the run is complete');
  assert.deepEqual(s.testProtocol, { batchSize: 1, bptt: 20 });
  assert.equal(s.tokensPerSecond, 4000);
  assert.equal(s.paper?.test, 114.5);
  const done = summarize({ ...state, finished: true, test: { perplexity: 115.2, nll: 0, tokens: 82429, batchSize: 1, bptt: 20, complete: true } } as TrainingState, config, 'blas');
  assert.equal(done.complete, true);
  assert.equal(done.testPerplexity, 115.2);
});
