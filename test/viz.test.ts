import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CONFIGS } from '../src/model/configs.js';
import { summarize, writeResults } from '../src/cli/reproduce.js';
import type { EpochMetrics, ProgressPoint, TrainingState } from '../src/train/trainer.js';
import { fractionalEpoch, learningCurvesSvg } from '../src/viz/curves.js';
import { tempDir } from './helpers.js';

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

// progress points every 100 steps of 400-window epochs, perplexity falling from 3000
const progressPoints = (epochs: number): ProgressPoint[] => Array.from({ length: epochs * 4 }, (_, k) => ({
  step: 100 * (k + 1), epoch: Math.floor(k / 4) + 1, window: 100 * ((k % 4) + 1), windows: 400, lr: 1,
  trainPerplexity: 3000 / (k + 1) ** 1.5, gradNorm: 2, tokensPerSecond: 4000, seconds: 10 * k,
}));

/** The vertices of each line of the Vega mark with this class. */
function lineVertices(svg: string, mark: string): number[] {
  const groups = [...svg.matchAll(new RegExp(`<g class="mark-line role-mark ${mark}"[^>]*>(.*?)</g>`, 'g'))];
  return groups.flatMap((g) => [...g[1].matchAll(/ d="([^"]*)"/g)].map((d) => (d[1].match(/[ML]/g) ?? []).length));
}

test('learning curves with progress points: a faint line at fractional epochs, cut off above the epoch curves', async () => {
  const points = progressPoints(3);
  assert.deepEqual(points.slice(0, 5).map(fractionalEpoch), [0.25, 0.5, 0.75, 1, 1.25]);
  const epochs = [epoch(1, 280, 184, 1), epoch(2, 139, 147, 1), epoch(3, 107, 136, 0.5)];
  const svg = await learningCurvesSvg([{ label: 'small', epochs, progress: points }], { title: 'small' });
  assert.ok(svg.includes('faint: training perplexity every 100 steps'));
  assert.deepEqual(lineVertices(svg, 'concat_0_layer_0_marks'), [12], 'one faint line through the 12 points');
  assert.match(svg, /<g class="mark-line role-mark concat_0_layer_0_marks" clip-path=/, 'clipped to the plot');
  // the y range: from below the lowest point (the last progress point, 3000 / 12^1.5) to above the epochs' highest
  const low = 0.9 * 3000 / 12 ** 1.5;
  const y = /Y-axis titled 'perplexity \(log scale\)' for a log scale with values from ([\d.,]+) to ([\d.,]+)/.exec(svg);
  assert.ok(y !== null);
  assert.ok(Math.abs(Number(y[1].replace(/,/g, '')) - low) < 0.01 && Math.abs(Number(y[2].replace(/,/g, '')) - 308) < 0.01, y[0]);
  // the same curves without progress points are the old plot: no faint line, the same y range as before
  const plain = await learningCurvesSvg([{ label: 'small', epochs }], { title: 'small' });
  assert.equal(plain, await learningCurvesSvg([{ label: 'small', epochs, progress: [] }], { title: 'small' }));
  assert.ok(!plain.includes('faint') && plain.includes('with values from 96.3 to 308'));
  // several runs: one faint line each
  const two = await learningCurvesSvg([{ label: 'a', epochs, progress: points }, { label: 'b', epochs, progress: points.slice(0, 6) }], { title: 'two' });
  assert.deepEqual(lineVertices(two, 'concat_0_layer_0_marks'), [12, 6]);
  assert.ok(two.includes('solid: training, dashed: validation; faint: training perplexity every 100 steps'));
});

test('reproduce\'s curves.svg shows the progress points, and plots a run still in its first epoch', async () => {
  const out = tempDir();
  const state = { epochs: [epoch(1, 280, 184, 1), epoch(2, 139, 147, 1)], progress: progressPoints(2), finished: false, test: null, trainSeconds: 250 };
  await writeResults(out, state as unknown as TrainingState, CONFIGS.small, 'js');
  const svg = readFileSync(join(out, 'curves.svg'), 'utf8');
  assert.ok(svg.includes('paper valid 120.7') && svg.includes('faint: training perplexity every 100 steps'));
  assert.deepEqual(lineVertices(svg, 'concat_0_layer_0_marks'), [8]);
  await writeResults(out, { ...state, epochs: [], progress: progressPoints(1).slice(0, 3) } as unknown as TrainingState, CONFIGS.small, 'js');
  const early = readFileSync(join(out, 'curves.svg'), 'utf8');
  assert.ok(early.includes('(0 of 13 epochs)') && early.includes('training perplexity every 100 steps') && !early.includes('faint'));
  assert.deepEqual(lineVertices(early, 'concat_0_layer_0_layer_0_marks'), [3]);
});
