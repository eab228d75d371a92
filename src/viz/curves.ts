import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { EpochMetrics } from '../train/trainer.js';

/**
 * Learning curves as SVG, drawn by Vega-Lite and rendered in Node (no browser, no canvas):
 * training and validation perplexity per epoch on a log scale, and the learning rate below.
 */

export interface CurveSeries {
  label: string; //  the run's name in the legend
  epochs: EpochMetrics[];
}

export interface ReferenceLine {
  label: string; // e.g. "paper test 114.5"
  value: number; // perplexity
}

/** Renders a Vega-Lite specification to an SVG string. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

export async function learningCurvesSvg(
  series: CurveSeries[], options: { title: string; references?: ReferenceLine[] },
): Promise<string> {
  const several = series.length > 1;
  const points = series.flatMap((s) => s.epochs.flatMap((m) => [
    { run: s.label, split: 'train', epoch: m.epoch, perplexity: m.trainPerplexity },
    { run: s.label, split: 'validation', epoch: m.epoch, perplexity: m.validPerplexity },
  ]));
  const rates = series.flatMap((s) => s.epochs.map((m) => ({ run: s.label, epoch: m.epoch, lr: m.lr })));
  const references = options.references ?? [];
  const all = [...points.map((p) => p.perplexity), ...references.map((r) => r.value)];
  const domain = [Math.min(...all) * 0.9, Math.max(...all) * 1.1];
  const epochAxis = { field: 'epoch', type: 'quantitative' as const, title: 'epoch', axis: { tickMinStep: 1 } };
  const color = several
    ? { field: 'run', type: 'nominal' as const, title: 'run' }
    : { field: 'split', type: 'nominal' as const, title: null };
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: several ? { text: options.title, subtitle: 'solid: training, dashed: validation' } : options.title,
    config: { font: 'sans-serif', view: { stroke: '#ddd' }, legend: { labelLimit: 360 } }, // whole run names
    vconcat: [
      {
        width: 520, height: 300,
        layer: [
          {
            data: { values: points },
            mark: { type: 'line', point: true },
            encoding: {
              x: epochAxis,
              y: { field: 'perplexity', type: 'quantitative', title: 'perplexity (log scale)', scale: { type: 'log', domain, nice: false } },
              color,
              // the line style says which split; a legend for it renders without symbols, so the subtitle says it
              ...(several ? { strokeDash: { field: 'split', type: 'nominal', legend: null, scale: { domain: ['train', 'validation'], range: [[1, 0], [6, 3]] } } } : {}),
              detail: { field: 'run' },
            },
          },
          ...(references.length === 0 ? [] : [
            {
              data: { values: references },
              mark: { type: 'rule' as const, strokeDash: [2, 3], color: '#777' },
              encoding: { y: { field: 'value', type: 'quantitative' as const } },
            },
            // labels alternate above and below their line, so that close values stay readable
            ...references.map((r, k) => ({
              data: { values: [r] },
              mark: { type: 'text' as const, align: 'right' as const, dy: k % 2 === 0 ? -5 : 11, color: '#555', fontSize: 10 },
              encoding: {
                y: { field: 'value', type: 'quantitative' as const },
                x: { value: 515 },
                text: { field: 'label', type: 'nominal' as const },
              },
            })),
          ]),
        ],
      },
      {
        width: 520, height: 90,
        data: { values: rates },
        mark: { type: 'line', point: true, interpolate: 'step-after' },
        encoding: {
          x: epochAxis,
          y: { field: 'lr', type: 'quantitative', title: 'learning rate' },
          ...(several ? { color: { field: 'run', type: 'nominal', title: 'run' } } : { color: { value: '#555' } }),
        },
      },
    ],
  };
  return renderSvg(spec);
}
