import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { EpochMetrics, ProgressPoint } from '../train/trainer.js';

/**
 * Learning curves as SVG, drawn by Vega-Lite and rendered in Node (no browser, no canvas):
 * training and validation perplexity per epoch on a log scale, and the learning rate below. The log's
 * progress points (training perplexity every 100 steps) are a faint line under them, at fractional
 * epochs; a run with no complete epoch yet is drawn from its progress points alone.
 */

export interface CurveSeries {
  label: string; //  the run's name in the legend
  epochs: EpochMetrics[];
  progress?: ProgressPoint[]; // absent in logs written before progress points
}

/** Where a progress point sits on the epoch axis: 2.5 is half-way through epoch 3. */
export function fractionalEpoch(p: ProgressPoint): number {
  return p.epoch - 1 + p.window / p.windows;
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
  const progress = series.flatMap((s) => (s.progress ?? []).map((p) => (
    { run: s.label, split: 'train', epoch: fractionalEpoch(p), perplexity: p.trainPerplexity })));
  // the learning rate per epoch; a run with no complete epoch yet shows its progress points' rates
  const rates = series.flatMap((s) => (s.epochs.length > 0
    ? s.epochs.map((m) => ({ run: s.label, epoch: m.epoch, lr: m.lr }))
    : (s.progress ?? []).map((p) => ({ run: s.label, epoch: fractionalEpoch(p), lr: p.lr }))));
  const references = options.references ?? [];
  // The y range fits the per-epoch curves and the references; the progress line may go below them, but
  // its early points (perplexity in the thousands) are cut off above, so that they do not squash the rest.
  const top = [...points.map((p) => p.perplexity), ...references.map((r) => r.value)];
  const all = [...top, ...progress.map((p) => p.perplexity)];
  const domain = [Math.min(...all) * 0.9, Math.max(...(top.length > 0 ? top : all)) * 1.1];
  const span = Math.max(0, ...points.map((p) => p.epoch), ...progress.map((p) => p.epoch));
  // whole epochs on the axis, unless the run is still in its first epoch or two
  const epochAxis = { field: 'epoch', type: 'quantitative' as const, title: 'epoch', axis: span >= 2 ? { tickMinStep: 1 } : {} };
  // under per-epoch curves the progress line is faint; alone (no complete epoch yet) it is the plot
  const alone = points.length === 0;
  const faint = progress.length === 0 ? '' : `${alone ? '' : 'faint: '}training perplexity every ${progressInterval(series)} steps`;
  const perplexityAxis = {
    field: 'perplexity', type: 'quantitative' as const, title: 'perplexity (log scale)', scale: { type: 'log' as const, domain, nice: false },
  };
  const color = several
    ? { field: 'run', type: 'nominal' as const, title: 'run' }
    : { field: 'split', type: 'nominal' as const, title: null };
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: several || faint !== ''
      ? { text: options.title, subtitle: [...(several ? ['solid: training, dashed: validation'] : []), ...(faint !== '' ? [faint] : [])].join('; ') }
      : options.title,
    config: { font: 'sans-serif', view: { stroke: '#ddd' }, legend: { labelLimit: 360, symbolOpacity: 1 } }, // whole run names, symbols not faint
    vconcat: [
      {
        width: 520, height: 300,
        layer: [
          ...(progress.length === 0 ? [] : [{
            data: { values: progress },
            mark: alone ? { type: 'line' as const, point: true } : { type: 'line' as const, opacity: 0.35, strokeWidth: 1, clip: true },
            encoding: {
              x: epochAxis,
              y: perplexityAxis,
              color,
              detail: { field: 'run' },
            },
          }]),
          {
            data: { values: points },
            mark: { type: 'line', point: true },
            encoding: {
              x: epochAxis,
              y: perplexityAxis,
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

/** The steps between progress points, for the subtitle: 100 unless a log says otherwise. */
function progressInterval(series: CurveSeries[]): number {
  for (const s of series) {
    const steps = (s.progress ?? []).filter((p) => p.timed !== true).map((p) => p.step);
    if (steps.length >= 2) return steps[1] - steps[0];
  }
  return 100;
}
