import { changeset, parse, View, type Spec } from 'vega';

/**
 * The lab's live chart: training (dashed) and validation (solid) perplexity of runs A and B against the
 * number of words trained, on a log scale. Drawn by Vega (the library the CLI's plots use), fed point by
 * point as the workers report.
 */

export type RunName = 'A' | 'B';
export type Split = 'train' | 'validation';

export interface ChartPoint {
  run: RunName;
  split: Split;
  words: number;
  perplexity: number;
}

export const RUN_COLORS: Record<RunName, string> = { A: '#1d5fb8', B: '#c2410c' };

const spec: Spec = {
  description: 'Perplexity of runs A and B against words trained, log scale: training dashed, validation solid.',
  width: 560,
  height: 280,
  padding: 4,
  autosize: { type: 'fit', contains: 'padding' },
  signals: [
    { name: 'xMax', value: 1000 },
    { name: 'yMin', value: 50 },
    { name: 'yMax', value: 3000 },
  ],
  data: [{ name: 'points', values: [] }],
  scales: [
    { name: 'x', type: 'linear', domain: [0, { signal: 'xMax' }], range: 'width', nice: true, zero: true },
    { name: 'y', type: 'log', domain: { signal: '[yMin, yMax]' }, range: 'height', nice: false },
    { name: 'color', type: 'ordinal', domain: ['A', 'B'], range: [RUN_COLORS.A, RUN_COLORS.B] },
    { name: 'dash', type: 'ordinal', domain: ['train', 'validation'], range: [[6, 4], [1, 0]] },
  ],
  axes: [
    { orient: 'bottom', scale: 'x', title: 'words trained', format: ',d', tickCount: 6 },
    { orient: 'left', scale: 'y', title: 'perplexity (log scale)', grid: true, format: '~r', tickCount: 6 },
  ],
  marks: [
    {
      type: 'group',
      from: { facet: { name: 'series', data: 'points', groupby: ['run', 'split'] } },
      marks: [
        {
          type: 'line',
          from: { data: 'series' },
          encode: {
            update: {
              x: { scale: 'x', field: 'words' },
              y: { scale: 'y', field: 'perplexity' },
              stroke: { scale: 'color', field: 'run' },
              strokeDash: { scale: 'dash', field: 'split' },
              strokeWidth: { value: 2 },
            },
          },
        },
        {
          type: 'symbol',
          from: { data: 'series' },
          encode: {
            update: {
              x: { scale: 'x', field: 'words' },
              y: { scale: 'y', field: 'perplexity' },
              fill: { scale: 'color', field: 'run' },
              size: { signal: "datum.split === 'validation' ? 24 : 0" },
            },
          },
        },
      ],
    },
  ],
};

export interface Chart {
  add(point: ChartPoint): void;
  clear(run: RunName): void;
}

export function createChart(container: HTMLElement): Chart {
  const view = new View(parse(spec), { renderer: 'svg', container, hover: false });
  const points: ChartPoint[] = [];
  let pending = changeset();
  let scheduled = false;

  const fitWidth = (): void => { view.width(Math.max(240, container.clientWidth - 8)); };
  fitWidth();
  new ResizeObserver(() => { fitWidth(); schedule(); }).observe(container);

  // at most one redraw per animation frame, however many points arrive
  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      const values = points.map((p) => p.perplexity);
      const words = points.map((p) => p.words);
      view.change('points', pending);
      pending = changeset();
      if (values.length > 0) {
        view.signal('yMin', Math.min(...values) * 0.9).signal('yMax', Math.max(...values) * 1.1);
        view.signal('xMax', Math.max(1000, ...words));
      }
      void view.runAsync();
    });
  }

  return {
    add(point: ChartPoint): void {
      points.push(point);
      pending.insert(point);
      schedule();
    },
    clear(run: RunName): void {
      for (let k = points.length - 1; k >= 0; k--) if (points[k].run === run) points.splice(k, 1);
      pending.remove((d: ChartPoint) => d.run === run);
      schedule();
    },
  };
}
