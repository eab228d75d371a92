import { changeset, parse, View, type Spec } from 'vega';

/**
 * The lab's live chart: training (dashed) and validation (solid) perplexity of runs A and B against the
 * epochs trained, on a log scale, with each run's best validation epoch ringed and, when early stopping
 * ends a run, a rule at its last epoch. Drawn by Vega (the library the CLI's plots use), fed point by
 * point as the workers report.
 */

export type RunName = 'A' | 'B';
export type Split = 'train' | 'validation';

export interface ChartPoint {
  run: RunName;
  split: Split;
  epochs: number; // fractional for training points (1.5 = half way through epoch 2), whole for validation
  perplexity: number;
}

interface BestMark { run: RunName; epochs: number; perplexity: number; label: string }
interface StopMark { run: RunName; epochs: number; label: string }

export const RUN_COLORS: Record<RunName, string> = { A: '#1d5fb8', B: '#c2410c' };

const spec: Spec = {
  description: 'Perplexity of runs A and B against epochs trained, log scale: training dashed, validation solid, '
    + 'best validation epoch ringed, early stopping marked by a vertical rule.',
  width: 560,
  height: 280,
  padding: 4,
  autosize: { type: 'fit', contains: 'padding' },
  signals: [
    { name: 'xMax', value: 2 },
    { name: 'yMin', value: 50 },
    { name: 'yMax', value: 3000 },
  ],
  data: [{ name: 'points', values: [] }, { name: 'best', values: [] }, { name: 'stops', values: [] }],
  scales: [
    { name: 'x', type: 'linear', domain: [0, { signal: 'xMax' }], range: 'width', nice: true, zero: true },
    { name: 'y', type: 'log', domain: { signal: '[yMin, yMax]' }, range: 'height', nice: false },
    { name: 'color', type: 'ordinal', domain: ['A', 'B'], range: [RUN_COLORS.A, RUN_COLORS.B] },
    { name: 'dash', type: 'ordinal', domain: ['train', 'validation'], range: [[6, 4], [1, 0]] },
  ],
  axes: [
    { orient: 'bottom', scale: 'x', title: 'epochs trained', format: 'd', tickMinStep: 1 },
    { orient: 'left', scale: 'y', title: 'perplexity (log scale)', grid: true, format: '~r', tickCount: 6 },
  ],
  marks: [
    {
      type: 'group',
      from: { facet: { name: 'series', data: 'points', groupby: ['run', 'split'] } },
      encode: { update: { width: { signal: 'width' }, height: { signal: 'height' }, clip: { value: true } } },
      marks: [
        {
          type: 'line',
          from: { data: 'series' },
          encode: {
            update: {
              x: { scale: 'x', field: 'epochs' },
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
              x: { scale: 'x', field: 'epochs' },
              y: { scale: 'y', field: 'perplexity' },
              fill: { scale: 'color', field: 'run' },
              size: { signal: "datum.split === 'validation' ? 24 : 0" },
            },
          },
        },
      ],
    },
    { // early stopping: where the run stopped, and which epoch's weights it restored
      type: 'rule',
      from: { data: 'stops' },
      encode: {
        update: {
          x: { scale: 'x', field: 'epochs' }, y: { value: 0 }, y2: { signal: 'height' },
          stroke: { scale: 'color', field: 'run' }, strokeDash: { value: [2, 3] }, strokeWidth: { value: 1.5 },
        },
      },
    },
    {
      type: 'text',
      from: { data: 'stops' },
      encode: {
        update: {
          x: { scale: 'x', field: 'epochs' }, dx: { value: -4 }, y: { signal: "datum.run === 'A' ? 10 : 26" },
          align: { value: 'right' }, text: { field: 'label' }, fill: { scale: 'color', field: 'run' }, fontSize: { value: 11 },
        },
      },
    },
    { // each run's best validation epoch (the weights early stopping keeps)
      type: 'symbol',
      from: { data: 'best' },
      encode: {
        update: {
          x: { scale: 'x', field: 'epochs' }, y: { scale: 'y', field: 'perplexity' }, shape: { value: 'circle' },
          size: { value: 220 }, fill: { value: 'transparent' }, stroke: { scale: 'color', field: 'run' }, strokeWidth: { value: 2.5 },
        },
      },
    },
    {
      type: 'text',
      from: { data: 'best' },
      encode: {
        update: {
          // left of the ring, so that the newest (rightmost) epoch's label stays inside the chart
          x: { scale: 'x', field: 'epochs' }, y: { scale: 'y', field: 'perplexity' }, dx: { value: -11 },
          dy: { signal: "datum.run === 'A' ? -9 : 15" }, align: { value: 'right' }, text: { field: 'label' }, fill: { scale: 'color', field: 'run' },
          fontSize: { value: 11 }, fontWeight: { value: 'bold' },
        },
      },
    },
  ],
};

export interface Chart {
  add(point: ChartPoint): void;
  /** Rings the run's best validation epoch so far (replacing the previous ring). */
  best(run: RunName, epoch: number, perplexity: number): void;
  /** Early stopping ended the run after `epoch`, restoring `restoredEpoch`. */
  stop(run: RunName, epoch: number, restoredEpoch: number): void;
  clear(run: RunName): void;
}

export function createChart(container: HTMLElement): Chart {
  const view = new View(parse(spec), { renderer: 'svg', container, hover: false });
  const points: ChartPoint[] = [];
  let pending = changeset();
  const bests = new Map<RunName, BestMark>();
  const stops = new Map<RunName, StopMark>();
  let marksChanged = false;
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
      // after the first epoch, zoom in on what follows it: the first epoch's fall from ~2,000 is clipped,
      // so that a turn of a few perplexity points later on stays visible
      const later = points.filter((p) => p.epochs >= 1);
      const values = (later.length >= 2 ? later : points).map((p) => p.perplexity);
      const epochs = points.map((p) => p.epochs);
      view.change('points', pending);
      pending = changeset();
      if (marksChanged) {
        view.data('best', [...bests.values()]);
        view.data('stops', [...stops.values()]);
        marksChanged = false;
      }
      if (values.length > 0) {
        view.signal('yMin', Math.min(...values) * 0.9).signal('yMax', Math.max(...values) * 1.1);
        view.signal('xMax', Math.max(2, ...epochs));
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
    best(run: RunName, epoch: number, perplexity: number): void {
      bests.set(run, { run, epochs: epoch, perplexity, label: `best ${run}: epoch ${epoch}` });
      marksChanged = true;
      schedule();
    },
    stop(run: RunName, epoch: number, restoredEpoch: number): void {
      stops.set(run, { run, epochs: epoch, label: `${run} stopped; restored epoch ${restoredEpoch}` });
      marksChanged = true;
      schedule();
    },
    clear(run: RunName): void {
      for (let k = points.length - 1; k >= 0; k--) if (points[k].run === run) points.splice(k, 1);
      pending.remove((d: ChartPoint) => d.run === run);
      bests.delete(run);
      stops.delete(run);
      marksChanged = true;
      schedule();
    },
  };
}
