import type { TopLevelSpec } from 'vega-lite';
import type { Model } from '../model/params.js';
import { renderSvg } from './curves.js';

/**
 * Histograms of a model's parameters, one panel per tensor: the embedding, each LSTM layer's weight
 * matrices split into their four gate blocks (i, f, g, o: rows [0,H), [H,2H), [2H,3H), [3H,4H)),
 * each layer's biases, layer-norm gains, and the decoder. Binned here, so the SVG holds bars, not
 * millions of points.
 */

export interface TensorStats {
  name: string; //   e.g. "rnn.weight_ih_l0 (f gate)"
  count: number;
  mean: number;
  std: number;
  norm: number; //   L2 norm
  min: number;
  max: number;
  bins: { start: number; end: number; count: number }[];
}

const GATES = ['i', 'f', 'g', 'o'];

/** Mean, standard deviation, norm and an equal-width histogram of `values`. */
export function tensorStats(name: string, values: Float32Array, binCount = 50): TensorStats {
  let sum = 0; let sumSquares = 0; let min = Infinity; let max = -Infinity;
  for (let k = 0; k < values.length; k++) {
    const v = values[k];
    sum += v; sumSquares += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const n = values.length;
  const mean = sum / n;
  const std = Math.sqrt(Math.max(0, sumSquares / n - mean * mean));
  const width = max > min ? (max - min) / binCount : 1;
  const counts = new Array<number>(binCount).fill(0);
  for (let k = 0; k < n; k++) counts[Math.min(binCount - 1, Math.floor((values[k] - min) / width))]++;
  const bins = counts.map((count, b) => ({ start: min + b * width, end: min + (b + 1) * width, count }));
  return { name, count: n, mean, std, norm: Math.sqrt(sumSquares), min, max, bins };
}

/** The panels to draw: every tensor, gate blocks of the LSTM matrices separately, biases per layer together. */
export function parameterGroups(model: Model): { name: string; values: Float32Array }[] {
  const H = model.config.hidden;
  const groups: { name: string; values: Float32Array }[] = [];
  const view = (offset: number, size: number): Float32Array => model.params.subarray(offset, offset + size);
  for (const t of model.tensors) {
    const values = view(t.offset, t.size);
    if (/^rnn\.weight_(ih|hh)_l\d+$/.test(t.name)) {
      for (let g = 0; g < 4; g++) {
        groups.push({ name: `${t.name} (${GATES[g]} gate)`, values: values.subarray(g * H * H, (g + 1) * H * H) });
      }
    } else if (/^rnn\.bias_hh_l\d+$/.test(t.name)) {
      continue; // drawn with bias_ih, below
    } else if (/^rnn\.bias_ih_l\d+$/.test(t.name)) {
      const other = model.tensors.find((u) => u.name === t.name.replace('bias_ih', 'bias_hh'))!;
      const both = new Float32Array(t.size + other.size);
      both.set(values); both.set(view(other.offset, other.size), t.size);
      groups.push({ name: t.name.replace('bias_ih', 'bias_ih + bias_hh'), values: both });
    } else {
      groups.push({ name: t.name, values });
    }
  }
  return groups;
}

const fmt = (x: number): string => (Math.abs(x) >= 0.01 || x === 0 ? x.toFixed(3) : x.toExponential(2));

/** The title of a tensor's panel: its name, size, mean, standard deviation and norm. */
export function panelTitle(s: TensorStats): string {
  return `${s.name}: n ${s.count}, mean ${fmt(s.mean)}, std ${fmt(s.std)}, norm ${fmt(s.norm)}`;
}

/** An SVG with one histogram per parameter group, three panels to a row. */
export async function weightHistogramsSvg(model: Model, title: string): Promise<string> {
  const stats = parameterGroups(model).map((g) => tensorStats(g.name, g.values));
  const panels = stats.map((s) => ({
    width: 260, height: 110,
    title: { text: panelTitle(s), fontSize: 10 },
    data: { values: s.bins },
    mark: { type: 'bar' as const, color: '#4c78a8' },
    encoding: {
      x: { field: 'start', type: 'quantitative' as const, bin: { binned: true }, title: 'parameter value' },
      x2: { field: 'end' },
      y: { field: 'count', type: 'quantitative' as const, title: 'count (parameters)' },
    },
  }));
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    config: { font: 'sans-serif', view: { stroke: '#ddd' } },
    concat: panels,
    columns: 3,
  };
  return renderSvg(spec);
}
