import type { TopLevelSpec } from 'vega-lite';
import type { AblationRunResult } from '../experiments/ablation.js';
import { renderSvg } from './curves.js';

/** The ablation's two plots: validation curves per placement, and perplexity against keep probability. */

const runLabel = (r: AblationRunResult): string => (r.placement === 'none' ? 'none (keep 1)' : `${r.placement}, keep ${r.keepProb}`);

/** Validation (solid) and training (dashed) perplexity per epoch, one colour per placement. */
export async function placementCurvesSvg(runs: AblationRunResult[], title: string): Promise<string> {
  const points = runs.flatMap((r) => r.epochs.flatMap((m) => [
    { run: runLabel(r), split: 'validation', epoch: m.epoch, perplexity: m.validPerplexity },
    { run: runLabel(r), split: 'training (dropout on)', epoch: m.epoch, perplexity: m.trainPerplexity },
  ]));
  const values = points.map((p) => p.perplexity);
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: title, subtitle: 'solid: validation, dashed: training (dropout on)' },
    config: { font: 'sans-serif', view: { stroke: '#ddd' } },
    width: 520, height: 320,
    data: { values: points },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } },
      y: {
        field: 'perplexity', type: 'quantitative', title: 'perplexity (log scale)',
        scale: { type: 'log', domain: [Math.min(...values) * 0.9, Math.max(...values) * 1.1], nice: false },
      },
      color: { field: 'run', type: 'nominal', title: 'dropout placement', legend: { labelLimit: 400 } },
      strokeDash: { field: 'split', type: 'nominal', legend: null, scale: { domain: ['validation', 'training (dropout on)'], range: [[1, 0], [6, 3]] } },
      detail: { field: 'run' },
    },
  };
  return renderSvg(spec);
}

/** Final and best validation perplexity of the paper's placement against its keep probability. */
export async function keepSweepSvg(runs: AblationRunResult[], title: string): Promise<string> {
  const points = runs.flatMap((r) => [
    { keepProb: r.keepProb, which: 'final validation', perplexity: r.finalValidPerplexity },
    { keepProb: r.keepProb, which: 'best validation (any epoch)', perplexity: r.bestValidPerplexity },
  ]).filter((p) => p.perplexity !== null);
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    config: { font: 'sans-serif', view: { stroke: '#ddd' } },
    width: 420, height: 280,
    data: { values: points },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'keepProb', type: 'quantitative', title: 'keep probability (1 = no dropout)', scale: { domain: [0.3, 1.02] } },
      y: { field: 'perplexity', type: 'quantitative', title: 'validation perplexity', scale: { zero: false } },
      color: { field: 'which', type: 'nominal', title: null },
    },
  };
  return renderSvg(spec);
}
