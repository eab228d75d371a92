import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { firstTokens } from '../src/cli/ablate.js';
import { ablationRuns, placementRuns, sweepRuns } from '../src/experiments/ablation.js';
import { tensorStats } from '../src/viz/weights.js';
import { rlstm, tempDir, tinyCorpus } from './helpers.js';

// rlstm plot (curves, overlays, weight histograms), rlstm report (one self-contained page) and
// rlstm ablate (every run, both plots, resumable), on tiny models trained for the purpose.

const TINY = ['--hidden', '8', '--bptt', '5', '--batch-size', '4', '--backend', 'js', '--seed', '3'];

/** Trains a tiny model for two epochs in `dir` and returns its log and checkpoint paths. */
function tinyRun(dir: string, data: string, name: string, extra: string[] = []): { log: string; ckpt: string } {
  const log = join(dir, `${name}.json`);
  const ckpt = join(dir, `${name}.safetensors`);
  const r = rlstm(['train', '--data', data, '--epochs', '2', '--log', log, '--save', ckpt, ...TINY, ...extra], dir);
  assert.equal(r.status, 0, r.stderr);
  return { log, ckpt };
}

/** The number of vertices of each line drawn by the given Vega mark (its class, e.g. concat_0_layer_0_marks). */
function lineVertices(svg: string, mark: string): number[] {
  const groups = [...svg.matchAll(new RegExp(`<g class="mark-line role-mark ${mark}"[^>]*>(.*?)</g>`, 'g'))];
  return groups.flatMap((g) => [...g[1].matchAll(/ d="([^"]*)"/g)].map((d) => (d[1].match(/[ML]/g) ?? []).length));
}

function assertSvg(svg: string): void {
  assert.ok(svg.startsWith('<svg') && svg.trim().endsWith('</svg>'), 'an SVG document');
  assert.equal((svg.match(/<svg/g) ?? []).length, (svg.match(/<\/svg>/g) ?? []).length, 'balanced <svg> elements');
}

const data = tinyCorpus(200);
const dir = tempDir();
const a = tinyRun(dir, data, 'run-a');
const b = tinyRun(dir, data, 'run-b', ['--keep-prob', '0.5']);

test('plot: learning curves of a log, and two logs overlaid with a legend naming both', () => {
  const one = rlstm(['plot', a.log], dir);
  assert.equal(one.status, 0, one.stderr);
  const svg = readFileSync(join(dir, 'run-a.svg'), 'utf8'); // default: next to the log
  assertSvg(svg);
  for (const text of ['run-a: perplexity per epoch', 'train', 'validation', 'perplexity (log scale)', 'learning rate', 'epoch']) {
    assert.ok(svg.includes(text), `lacks "${text}"`);
  }
  const out = join(dir, 'both.svg');
  const two = rlstm(['plot', a.log, b.log, '--out', out], dir);
  assert.equal(two.status, 0, two.stderr);
  const overlay = readFileSync(out, 'utf8');
  assertSvg(overlay);
  for (const text of ['run-a', 'run-b', 'train', 'validation']) assert.ok(overlay.includes(text), `overlay lacks "${text}"`);
  // --label names each log in the legend, --title replaces the title; a log.json is named by its folder
  const named = join(dir, 'named.svg');
  const three = rlstm(['plot', a.log, b.log, '--label', 'keep 1.0 (no dropout)', '--label', 'keep 0.5', '--title', 'Overfitting', '--out', named], dir);
  assert.equal(three.status, 0, three.stderr);
  const labelled = readFileSync(named, 'utf8');
  for (const text of ['keep 1.0 (no dropout)', 'keep 0.5', 'Overfitting']) assert.ok(labelled.includes(text), `lacks "${text}"`);
  assert.ok(!labelled.includes('run-a'), 'the file name gave way to the label');
  mkdirSync(join(dir, 'medium-run'), { recursive: true });
  copyFileSync(a.log, join(dir, 'medium-run', 'log.json'));
  assert.equal(rlstm(['plot', join(dir, 'medium-run', 'log.json')], dir).status, 0);
  assert.ok(readFileSync(join(dir, 'medium-run', 'log.svg'), 'utf8').includes('medium-run: perplexity per epoch'));
});

test('plot: progress points as a faint line under the epochs; alone for a log with no complete epoch; old logs as before', () => {
  // a: two epochs, a progress point every 100 steps, drawn as the first layer (the faint line)
  const log = JSON.parse(readFileSync(a.log, 'utf8'));
  assert.ok(log.progress.length >= 4, `${log.progress.length} progress points`);
  assert.equal(rlstm(['plot', a.log, '--out', join(dir, 'faint.svg')], dir).status, 0);
  const faint = readFileSync(join(dir, 'faint.svg'), 'utf8');
  assert.ok(faint.includes('faint: training perplexity every 100 steps'));
  assert.deepEqual(lineVertices(faint, 'concat_0_layer_0_marks'), [log.progress.length]);
  assert.deepEqual(lineVertices(faint, 'concat_0_layer_1_layer_0_marks'), [2, 2], 'train and validation, two epochs each');
  // --epochs 1 keeps the points of epoch 1
  assert.equal(rlstm(['plot', a.log, '--epochs', '1', '--out', join(dir, 'first.svg')], dir).status, 0);
  const inFirst = log.progress.filter((p: { epoch: number }) => p.epoch === 1).length;
  assert.deepEqual(lineVertices(readFileSync(join(dir, 'first.svg'), 'utf8'), 'concat_0_layer_0_marks'), [inFirst]);

  // a log written before progress points plots as it did: the epoch curves, no faint line
  const { progress: _progress, ...old } = log;
  writeFileSync(join(dir, 'old.json'), JSON.stringify(old));
  const r = rlstm(['plot', join(dir, 'old.json')], dir);
  assert.equal(r.status, 0, r.stderr);
  const oldSvg = readFileSync(join(dir, 'old.svg'), 'utf8');
  assert.ok(!oldSvg.includes('faint') && oldSvg.includes('old: perplexity per epoch'));
  assert.deepEqual(lineVertices(oldSvg, 'concat_0_layer_0_marks'), [], 'no faint layer');
  assert.deepEqual(lineVertices(oldSvg, 'concat_0_layer_0_layer_0_marks'), [2, 2], 'the epoch curves first');

  // stopped before the end of epoch 1 (T 2: 560-odd windows): its progress points are the plot
  const partial = rlstm(['train', '--data', data, '--hidden', '8', '--bptt', '2', '--batch-size', '4', '--backend', 'js',
    '--max-steps', '450', '--log', 'partial.json', '--save', 'partial.safetensors'], dir);
  assert.equal(partial.status, 0, partial.stderr);
  const partialLog = JSON.parse(readFileSync(join(dir, 'partial.json'), 'utf8'));
  assert.equal(partialLog.epochs.length, 0);
  assert.deepEqual(partialLog.progress.map((p: { step: number }) => p.step), [100, 200, 300, 400, 450]); // 450: the final point
  const p = rlstm(['plot', join(dir, 'partial.json')], dir);
  assert.equal(p.status, 0, p.stderr);
  const partialSvg = readFileSync(join(dir, 'partial.svg'), 'utf8');
  assertSvg(partialSvg);
  for (const text of ['partial: training perplexity (no complete epoch yet)', 'training perplexity every 100 steps', 'learning rate']) {
    assert.ok(partialSvg.includes(text), `lacks "${text}"`);
  }
  assert.deepEqual(lineVertices(partialSvg, 'concat_0_layer_0_layer_0_marks'), [5], 'one line through the five points');
  assert.equal((partialSvg.match(/aria-label="epoch: 0\.\d+; perplexity \(log scale\): [\d.]+; split: train; run: partial" role="graphics-symbol" aria-roledescription="point"/g) ?? []).length, 5,
    'a symbol at each point, at fractional epochs');

  // and its report says so instead of failing
  const report = rlstm(['report', join(dir, 'partial.json'), '--checkpoint', join(dir, 'partial.safetensors'), '--out', join(dir, 'partial.html')], dir);
  assert.equal(report.status, 0, report.stderr);
  assert.match(readFileSync(join(dir, 'partial.html'), 'utf8'), /validation perplexity<\/t[dh]>\s*<td>no complete epoch yet/);

  // nothing to plot yet
  writeFileSync(join(dir, 'empty.json'), JSON.stringify({ ...old, epochs: [], progress: [] }));
  const e = rlstm(['plot', join(dir, 'empty.json')], dir);
  assert.equal(e.status, 2);
  assert.match(e.stderr, /empty\.json: the log has no completed epoch and no progress point yet; plot it after the first 100 training steps/);
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...old, progress: [{ step: 100 }] }));
  assert.match(rlstm(['plot', join(dir, 'bad.json')], dir).stderr, /bad\.json: not a training log \(malformed progress points\)/);
});

test('plot --weights: a histogram per tensor and gate block, with mean, std and norm in the titles', () => {
  const out = join(dir, 'weights.svg');
  const r = rlstm(['plot', '--weights', a.ckpt, '--out', out], dir);
  assert.equal(r.status, 0, r.stderr);
  const svg = readFileSync(out, 'utf8');
  assertSvg(svg);
  for (const l of [0, 1]) {
    for (const m of ['ih', 'hh']) {
      for (const g of ['i', 'f', 'g', 'o']) assert.ok(svg.includes(`rnn.weight_${m}_l${l} (${g} gate)`), `lacks ${m} l${l} ${g}`);
    }
    assert.ok(svg.includes(`rnn.bias_ih + bias_hh_l${l}`));
  }
  for (const text of ['encoder.weight', 'decoder.weight', 'decoder.bias', 'parameter value', 'count (parameters)']) {
    assert.ok(svg.includes(text), `lacks "${text}"`);
  }
  assert.match(svg, /decoder\.bias: n \d+, mean -?[\d.e-]+, std [\d.e-]+, norm [\d.e-]+/);
});

test('tensorStats: mean, standard deviation, norm, and bins that count every value once', () => {
  const s = tensorStats('x', new Float32Array([1, 2, 3, 4, -2]), 4);
  assert.ok(Math.abs(s.mean - 1.6) < 1e-12);
  assert.ok(Math.abs(s.std - Math.sqrt((1 + 4 + 9 + 16 + 4) / 5 - 1.6 * 1.6)) < 1e-12);
  assert.ok(Math.abs(s.norm - Math.sqrt(34)) < 1e-12);
  assert.deepEqual(s.bins.map((bin) => bin.count), [1, 0, 2, 2]); // [-2,-0.5) [-0.5,1) [1,2.5) [2.5,4]
  assert.equal(s.bins[0].start, -2);
  assert.equal(s.bins[3].end, 4);
});

test('report: one HTML file with the configuration, both kinds of plot and sample text, and no external reference', () => {
  const runDir = tempDir();
  copyFileSync(a.log, join(runDir, 'log.json'));
  const out = join(runDir, 'page.html');
  const r = rlstm(['report', runDir, '--checkpoint', a.ckpt, '--out', out], dir);
  assert.equal(r.status, 0, r.stderr);
  const html = readFileSync(out, 'utf8');
  assert.ok(html.startsWith('<!DOCTYPE html>'));
  for (const text of ['Learning curves', 'Weights', 'Sample text', 'Configuration', 'hidden', 'rnn.weight_hh_l1 (o gate)', 'validation perplexity']) {
    assert.ok(html.includes(text), `lacks "${text}"`);
  }
  assert.ok((html.match(/<svg/g) ?? []).length >= 2, 'curves and histograms inline');
  const sample = /<pre>([\s\S]*?)<\/pre>/.exec(html);
  assert.ok(sample !== null && sample[1].trim().split(/\s+/).length >= 20, 'a sample of the model\'s text');
  // url(#clip1): the curves' clip path, in the page itself (the faint progress line is cut off above the plot)
  assert.ok(!/<script|<link|<img|<iframe|@import|url\((?!#)/i.test(html), 'nothing loaded from elsewhere');
  const hosts = (html.match(/https?:\/\/[^\s"'<)]+/g) ?? []).filter((u) => !u.startsWith('http://www.w3.org/'));
  assert.deepEqual(hosts, [], 'no reference to another host');
  // the default checkpoint is the one the log names
  const again = rlstm(['report', runDir], dir);
  assert.equal(again.status, 0, again.stderr);
  assert.ok(existsSync(join(runDir, 'report.html')));
});

test('plot and report: bad input gets one line naming it, exit 2, nothing written', () => {
  const notJson = join(dir, 'notes.json');
  writeFileSync(notJson, 'hello');
  const r1 = rlstm(['plot', notJson, '--out', join(dir, 'x.svg')], dir);
  assert.equal(r1.status, 2);
  assert.match(r1.stderr, /notes\.json: not JSON; pass a JSON log/);
  assert.ok(!existsSync(join(dir, 'x.svg')));
  const wrongShape = join(dir, 'other.json');
  writeFileSync(wrongShape, '{"epochs": 3}');
  assert.match(rlstm(['plot', wrongShape], dir).stderr, /not a training log/);
  assert.match(rlstm(['plot', a.log, '--out', join(dir, 'missing-folder', 'x.svg')], dir).stderr, /--out .*does not exist/);
  assert.match(rlstm(['plot', '--weights', notJson], dir).stderr, /notes\.json/);
  assert.match(rlstm(['plot', a.log, b.log, '--label', 'only one', '--out', join(dir, 'y.svg')], dir).stderr,
    /--label was given 1 time for 2 logs; give one --label per log/);
  assert.ok(!existsSync(join(dir, 'y.svg')));
  const r2 = rlstm(['report', join(dir, 'nowhere')], dir);
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /nowhere: no such run folder/);
  assert.equal(r2.stderr.trim().split('\n').length, 1);
});

test('ablation plan: every placement, the keep sweep, runs that coincide trained once', () => {
  const runs = ablationRuns();
  assert.deepEqual(runs.map((r) => r.name),
    ['none', 'zaremba-0.8', 'zaremba-0.65', 'zaremba-0.5', 'zaremba-0.35', 'recurrent-0.5', 'variational-0.5']);
  assert.deepEqual(placementRuns(runs).map((r) => r.placement), ['none', 'zaremba', 'recurrent', 'variational']);
  assert.deepEqual(sweepRuns(runs).map((r) => r.keepProb), [1, 0.8, 0.65, 0.5, 0.35]);
  const cut = firstTokens('a b c\n\nd e\nf g h i\n', 6);
  assert.equal(cut.text, 'a b c\nd e\n');
  assert.equal(cut.tokens, 7); // 3 + <eos> + 2 + <eos>: the line that reaches 6 is kept whole
});

test('ablate: trains every run, writes the summary and both plots, and a second call skips finished runs', () => {
  const work = tempDir();
  const args = ['ablate', '--out', 'res', '--runs', 'runs', '--data', data, '--hidden', '8', '--epochs', '1', '--train-tokens', '1500', '--backend', 'js'];
  const r = rlstm(args, work);
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(readFileSync(join(work, 'res/summary.json'), 'utf8'));
  assert.equal(summary.runs.length, 7);
  assert.equal(summary.complete, true);
  for (const run of summary.runs) {
    assert.equal(run.epochsCompleted, 1, run.name);
    assert.ok(run.finalValidPerplexity > 1 && run.testPerplexity > 1, run.name);
  }
  const placements = readFileSync(join(work, 'res/placements.svg'), 'utf8');
  assertSvg(placements);
  for (const label of ['none (keep 1)', 'zaremba, keep 0.5', 'recurrent, keep 0.5', 'variational, keep 0.5']) {
    assert.ok(placements.includes(label), `placements.svg lacks "${label}"`);
  }
  const sweep = readFileSync(join(work, 'res/keep-probability.svg'), 'utf8');
  assertSvg(sweep);
  assert.ok(sweep.includes('keep probability (1 = no dropout)') && sweep.includes('best validation (any epoch)'));

  const again = rlstm(args, work);
  assert.equal(again.status, 0, again.stderr);
  assert.equal((again.stdout.match(/finished earlier, skipped/g) ?? []).length, 7);
  assert.deepEqual(JSON.parse(readFileSync(join(work, 'res/summary.json'), 'utf8')).runs, summary.runs);

  const other = rlstm([...args.slice(0, -2), '--epochs', '2'], work);
  assert.equal(other.status, 2);
  assert.match(other.stderr, /--runs runs: holds an ablation with other settings/);
});
