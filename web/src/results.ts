import { parse, View, type Spec } from 'vega';
import { runs as ablationRuns, settings as ablationSettings, placementKeepProb } from '../../results/ablation/summary.json';
import { epochs as largeEpochs, progress as largeProgress } from '../../results/large/log.json';
import { epochs as mediumEpochs, test as mediumTest } from '../../results/medium/log.json';
import { epochs as overfitEpochs } from '../../results/overfit/keep1.json';
import { epochs as smallEpochs, test as smallTest } from '../../results/small/log.json';
import { PAPER_RESULTS } from '../../src/model/configs.js';

/**
 * "What this library measured": the committed results/*.json, imported when the page is built (Vite
 * bundles the numbers, so the page draws whatever the repository holds at that commit), drawn with Vega
 * beside the paper's numbers. Nothing is fetched at run time.
 */

interface Point { x: number; y: number }
interface Series { name: string; color: string; dashed: boolean; points: Point[] }
interface Rule { y: number; label: string }
interface LineChart {
  description: string;
  xTitle: string;
  series: Series[];
  rules: Rule[]; //  horizontal reference lines (the paper's numbers)
  rings: Point[]; // marked points (best epochs)
}

interface EpochRecord { epoch: number; trainPerplexity: number; validPerplexity: number }
interface ProgressRecord { window: number; windows: number; epoch: number; trainPerplexity: number }

const BLUE = '#1d5fb8', ORANGE = '#c2410c', GREY = '#57606a';

function lineSpec(chart: LineChart): Spec {
  const points = chart.series.flatMap((s) => s.points.map((p) => ({ ...p, series: s.name, dashed: s.dashed })));
  const ys = [...points.map((p) => p.y), ...chart.rules.map((r) => r.y)];
  return {
    description: chart.description,
    width: 520, height: 240, padding: 4,
    autosize: { type: 'fit', contains: 'padding' },
    data: [
      { name: 'points', values: points },
      { name: 'rules', values: chart.rules },
      { name: 'rings', values: chart.rings },
    ],
    scales: [
      { name: 'x', type: 'linear', domain: { data: 'points', field: 'x' }, range: 'width', nice: true, zero: true },
      { name: 'y', type: 'log', domain: [Math.min(...ys) * 0.9, Math.max(...ys) * 1.1], range: 'height', nice: false },
      { name: 'color', type: 'ordinal', domain: chart.series.map((s) => s.name), range: chart.series.map((s) => s.color) },
    ],
    axes: [
      { orient: 'bottom', scale: 'x', title: chart.xTitle, format: 'd', tickMinStep: 1 },
      { orient: 'left', scale: 'y', title: 'perplexity (log scale)', grid: true, format: '~r', tickCount: 6 },
    ],
    legends: [{ stroke: 'color', orient: 'top', direction: 'horizontal', symbolType: 'stroke', columns: 2 }],
    marks: [
      {
        type: 'rule', from: { data: 'rules' },
        encode: { update: {
          x: { value: 0 }, x2: { signal: 'width' }, y: { scale: 'y', field: 'y' },
          stroke: { value: GREY }, strokeDash: { value: [1, 3] }, strokeWidth: { value: 1.5 },
        } },
      },
      {
        type: 'text', from: { data: 'rules' },
        encode: { update: {
          x: { signal: 'width' }, y: { scale: 'y', field: 'y' }, dy: { value: -4 }, align: { value: 'right' },
          text: { field: 'label' }, fill: { value: GREY }, fontSize: { value: 11 },
        } },
      },
      {
        type: 'group',
        from: { facet: { name: 'series', data: 'points', groupby: ['series'] } },
        marks: [
          {
            type: 'line', from: { data: 'series' },
            encode: { update: {
              x: { scale: 'x', field: 'x' }, y: { scale: 'y', field: 'y' }, stroke: { scale: 'color', field: 'series' },
              strokeDash: { signal: 'datum.dashed ? [6, 4] : [1, 0]' }, strokeWidth: { value: 2 },
            } },
          },
        ],
      },
      {
        type: 'symbol', from: { data: 'rings' },
        encode: { update: {
          x: { scale: 'x', field: 'x' }, y: { scale: 'y', field: 'y' }, size: { value: 160 },
          fill: { value: 'transparent' }, stroke: { value: '#1b1f24' }, strokeWidth: { value: 2 },
        } },
      },
    ],
  };
}

function draw(container: HTMLElement, spec: Spec): void {
  const view = new View(parse(spec), { renderer: 'svg', container, hover: false });
  const fit = (): void => { view.width(Math.max(240, Math.min(560, container.clientWidth - 8))); void view.runAsync(); };
  new ResizeObserver(fit).observe(container);
  fit();
}

const fmt = (x: number): string => x.toFixed(1);
const bestOf = (epochs: EpochRecord[]): EpochRecord =>
  epochs.reduce((best, e) => (e.validPerplexity < best.validPerplexity ? e : best));

function epochSeries(name: string, color: string, epochs: EpochRecord[]): Series[] {
  return [
    { name: `${name} validation`, color, dashed: false, points: epochs.map((e) => ({ x: e.epoch, y: e.validPerplexity })) },
    { name: `${name} training`, color, dashed: true, points: epochs.map((e) => ({ x: e.epoch, y: e.trainPerplexity })) },
  ];
}

function paperRules(config: string): Rule[] {
  const paper = PAPER_RESULTS[config];
  return [{ y: paper.valid, label: `paper, validation ${paper.valid}` }];
}

/** One reproduction run: its curves, the paper's validation perplexity, and a sentence that says it in words. */
function reproduction(container: HTMLElement, caption: HTMLElement, config: 'small' | 'medium', epochs: EpochRecord[],
  test: { perplexity: number } | null): void {
  const last = epochs[epochs.length - 1];
  const paper = PAPER_RESULTS[config];
  draw(container, lineSpec({
    description: `The ${config} configuration: training and validation perplexity per epoch, with the paper's validation perplexity.`,
    xTitle: 'epoch', series: epochSeries(config, config === 'small' ? GREY : BLUE, epochs), rules: paperRules(config), rings: [],
  }));
  container.dataset.epochs = String(epochs.length);
  caption.textContent = `${config}: ${epochs.length} epochs, validation ${fmt(last.validPerplexity)} (paper ${paper.valid}), `
    + `test ${test === null ? 'not scored' : fmt(test.perplexity)} (paper ${paper.test}).`;
}

/** The large run, which may have no complete epoch yet: then its training perplexity so far, by fraction of epoch 1. */
function large(container: HTMLElement, caption: HTMLElement, epochs: EpochRecord[], progress: ProgressRecord[]): void {
  const paper = PAPER_RESULTS.large;
  container.dataset.epochs = String(epochs.length);
  if (epochs.length > 0) {
    draw(container, lineSpec({
      description: 'The large configuration so far: training and validation perplexity per epoch, with the paper\'s validation perplexity.',
      xTitle: 'epoch', series: epochSeries('large', ORANGE, epochs), rules: paperRules('large'), rings: [],
    }));
    const last = epochs[epochs.length - 1];
    caption.textContent = `large: in progress, ${epochs.length} of 55 epochs so far, validation ${fmt(last.validPerplexity)} `
      + `after epoch ${last.epoch} (paper ${paper.valid} after 55).`;
    return;
  }
  if (progress.length === 0) {
    caption.textContent = 'large: the run has started, and has recorded nothing yet.';
    return;
  }
  const points = progress.map((p) => ({ x: p.epoch - 1 + p.window / p.windows, y: p.trainPerplexity }));
  draw(container, lineSpec({
    description: 'The large configuration so far: training perplexity within the first epoch (no complete epoch yet).',
    xTitle: 'epochs', series: [{ name: 'large training, epoch 1 so far', color: ORANGE, dashed: true, points }],
    rules: paperRules('large'), rings: [],
  }));
  const last = progress[progress.length - 1];
  caption.textContent = `large: in progress, no complete epoch yet (step ${last.window} of ${last.windows} in epoch `
    + `${last.epoch}, training perplexity ${fmt(last.trainPerplexity)}); the page shows more when it is rebuilt `
    + `after results/large/log.json grows.`;
}

function overfit(container: HTMLElement, caption: HTMLElement): void {
  const n = overfitEpochs.length;
  const withDropout = mediumEpochs.slice(0, n);
  const a = bestOf(overfitEpochs), b = bestOf(withDropout);
  draw(container, lineSpec({
    description: 'The medium network (2 × 650) with and without dropout, first epochs: training and validation perplexity, best epochs ringed.',
    xTitle: 'epoch',
    series: [...epochSeries('keep 1 (no dropout)', ORANGE, overfitEpochs), ...epochSeries('keep 0.5 (the paper)', BLUE, withDropout)],
    rules: [], rings: [{ x: a.epoch, y: a.validPerplexity }, { x: b.epoch, y: b.validPerplexity }],
  }));
  const lastA = overfitEpochs[n - 1];
  caption.textContent = `Without dropout, validation perplexity is best at epoch ${a.epoch} (${fmt(a.validPerplexity)}) and then `
    + `rises to ${fmt(lastA.validPerplexity)} by epoch ${lastA.epoch}, while training perplexity falls to ${fmt(lastA.trainPerplexity)}. `
    + `With dropout it is still falling at epoch ${withDropout[n - 1].epoch} (${fmt(withDropout[n - 1].validPerplexity)}).`;
}

function ablation(container: HTMLElement, caption: HTMLElement): void {
  const rows = ablationRuns.map((r) => ({ name: r.name, valid: r.bestValidPerplexity, test: r.testPerplexity }));
  const ys = rows.map((r) => r.valid);
  const spec: Spec = {
    description: 'The ablation: best validation perplexity of each dropout placement and keep probability.',
    width: 520, height: 24 * rows.length, padding: 4, autosize: { type: 'fit', contains: 'padding' },
    data: [{ name: 'rows', values: rows }],
    scales: [
      { name: 'y', type: 'band', domain: rows.map((r) => r.name), range: 'height', padding: 0.3 },
      { name: 'x', type: 'linear', domain: [Math.min(...ys) * 0.9, Math.max(...ys) * 1.03], range: 'width', zero: false },
    ],
    axes: [
      { orient: 'left', scale: 'y' },
      { orient: 'bottom', scale: 'x', title: 'best validation perplexity (lower is better)', grid: true, tickCount: 5 },
    ],
    marks: [
      {
        type: 'symbol', from: { data: 'rows' },
        encode: { update: {
          x: { scale: 'x', field: 'valid' }, y: { scale: 'y', field: 'name', band: 0.5 }, size: { value: 90 },
          fill: { signal: "indexof(datum.name, 'recurrent') === 0 ? '#c2410c' : '#1d5fb8'" },
        } },
      },
      {
        type: 'text', from: { data: 'rows' },
        encode: { update: {
          x: { scale: 'x', field: 'valid' }, dx: { value: 8 }, y: { scale: 'y', field: 'name', band: 0.5 },
          baseline: { value: 'middle' }, text: { signal: "format(datum.valid, '.1f')" }, fontSize: { value: 11 },
        } },
      },
    ],
  };
  draw(container, spec);
  const zaremba = rows.find((r) => r.name === `zaremba-${placementKeepProb}`);
  const recurrent = rows.find((r) => r.name === `recurrent-${placementKeepProb}`);
  const none = rows.find((r) => r.name === 'none');
  const s = ablationSettings;
  caption.textContent = `${s.layers} × ${s.hidden} LSTMs, ${s.epochs} epochs on the first ${s.trainTokens.toLocaleString('en-US')} `
    + `training words of PTB, seed ${s.seed}. `
    + (zaremba !== undefined && recurrent !== undefined
      ? `At keep ${placementKeepProb}: zaremba ${fmt(zaremba.valid)}, recurrent ${fmt(recurrent.valid)} (a gap of `
        + `${fmt(recurrent.valid - zaremba.valid)}). `
      : '')
    + (none !== undefined ? `No dropout: ${fmt(none.valid)}.` : '');
}

function byId(id: string): HTMLElement {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`the page lacks #${id}`);
  return node;
}

export function setUpResults(): void {
  reproduction(byId('measured-small'), byId('measured-small-caption'), 'small', smallEpochs, smallTest);
  reproduction(byId('measured-medium'), byId('measured-medium-caption'), 'medium', mediumEpochs, mediumTest);
  large(byId('measured-large'), byId('measured-large-caption'), largeEpochs as EpochRecord[], largeProgress);
  overfit(byId('measured-overfit'), byId('measured-overfit-caption'));
  ablation(byId('measured-ablation'), byId('measured-ablation-caption'));
}
