import { createChart, type RunName } from './chart.js';
import { countDropouts, createDiagram, DIAGRAM_LAYERS, DIAGRAM_WORDS, type DiagramPlacement, type DiagramState } from './diagram.js';
import { mountExplorer } from './explorer.js';
import { createRunPanel, type PanelValues, type RunPanel } from './lab.js';
import type { CorpusInfo } from './protocol.js';
import { setUpResults } from './results.js';

/**
 * The page: the path-counting diagram, the measured results (drawn from results/*.json at build time)
 * and the two-run lab with its presets.
 */

function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`the page lacks #${id}`);
  return node as T;
}

// ---- section 3: count the dropouts on a word's path ----

function setUpDiagram(): void {
  const form = byId<HTMLFormElement>('path-controls');
  const fromSelect = byId<HTMLSelectElement>('path-from');
  const toRange = byId<HTMLInputElement>('path-to');
  const keepRange = byId<HTMLInputElement>('path-keep');
  const readout = byId<HTMLElement>('diagram-readout');
  DIAGRAM_WORDS.forEach((word, t) => fromSelect.add(new Option(`${word} (step ${t + 1})`, String(t), t === 1, t === 1)));
  const diagram = createDiagram(byId('diagram'));

  const update = (): void => {
    const data = new FormData(form);
    const from = Number(data.get('from'));
    toRange.min = String(from + 1); // steps are shown 1-based
    const to = Math.max(from, Number(toRange.value) - 1);
    toRange.value = String(to + 1);
    byId<HTMLOutputElement>('path-to-value').value = String(to + 1);
    const keep = Number(keepRange.value);
    byId<HTMLOutputElement>('path-keep-value').value = keep.toFixed(2);
    const state: DiagramState = {
      placement: String(data.get('placement')) as DiagramPlacement, from, to, route: Number(data.get('route')),
    };
    diagram.update(state);

    const count = countDropouts(state);
    const distance = to - from;
    const survive = Math.pow(keep, count.total);
    const far = 35; // the medium and large models' window
    const farNaive = countDropouts({ ...state, placement: 'naive', from: 0, to: far }).total;
    const word = DIAGRAM_WORDS[from];
    readout.dataset.count = String(count.total);
    readout.textContent =
      `"${word}" is read at step ${from + 1} and used for the prediction at step ${to + 1}, ${distance} `
      + `step${distance === 1 ? '' : 's'} later. On the way it crosses ${count.vertical} vertical and ${distance} `
      + `horizontal connection${distance === 1 ? '' : 's'}, and meets dropout ${count.total} times`
      + (state.placement === 'zaremba'
        ? ` (L + 1 with L = ${DIAGRAM_LAYERS}), however far apart the steps are. `
        : ` (${count.vertical} vertical + ${count.horizontal} on the memory), one more for every step. `)
      + `With keep probability ${keep.toFixed(2)}, a given unit on this path escapes all of them with probability `
      + `${keep.toFixed(2)}${superscript(count.total)} = ${formatProbability(survive)}. Over a ${far}-step window it would be `
      + `${count.vertical} with the paper's placement against ${farNaive} with the naive one `
      + `(${formatProbability(Math.pow(keep, count.vertical))} against ${formatProbability(Math.pow(keep, farNaive))}).`;
  };
  form.addEventListener('input', update);
  form.addEventListener('submit', (event) => event.preventDefault());
  update();
}

function formatProbability(p: number): string {
  if (p >= 0.01) return `${(100 * p).toFixed(p >= 0.1 ? 0 : 1)}%`;
  const [mantissa, exponent] = p.toExponential(1).split('e');
  return `${mantissa}×10${superscript(Number(exponent))}`;
}

/** 12 → ¹², −3 → ⁻³ */
function superscript(n: number): string {
  const digits = '⁰¹²³⁴⁵⁶⁷⁸⁹';
  return String(n).replace('-', '⁻').replace(/[0-9]/g, (d) => digits[Number(d)]);
}

// ---- the lab ----

/** The hidden size of the overfitting presets (measured: see PRESETS). */
const OVERFIT_HIDDEN = 200;

/** The paper's regularizer and nothing else: the defaults a preset starts from. */
const PLAIN: PanelValues = { layers: 2, lr: 1, layerNorm: false, weightDecay: 0, patience: 0 };

interface Preset { a: PanelValues; b: PanelValues; note: string }

/**
 * The presets. Sizes were chosen by measuring in Node with the library on one thread (docs/walkthrough.md):
 * a 2 × 200 LSTM memorizes the 26k-word excerpt within a few epochs without dropout.
 */
export const PRESETS: Record<string, Preset> = {
  overfit: {
    a: { ...PLAIN, placement: 'none', keepProb: 1, hidden: OVERFIT_HIDDEN },
    b: { ...PLAIN, placement: 'zaremba', keepProb: 0.5, hidden: OVERFIT_HIDDEN },
    note: `A 2 × ${OVERFIT_HIDDEN} LSTM, large enough to memorize the excerpt: run A without dropout, run B with the `
      + 'paper\'s dropout (keep 0.5), same seed. Watch A\'s validation perplexity (solid) turn upward after a few epochs '
      + 'while its training perplexity (dashed) keeps falling, and B\'s validation perplexity keep improving and '
      + 'cross below A\'s. The rings mark each run\'s best epoch.',
  },
  placement: {
    a: { ...PLAIN, placement: 'zaremba', keepProb: 0.5, hidden: 128 },
    b: { ...PLAIN, placement: 'recurrent', keepProb: 0.5, hidden: 128 },
    note: 'The paper\'s placement (A) against dropout on the recurrent connection as well (B), both at keep 0.5. '
      + 'Expect the two to stay close here: the recurrent placement hurts by corrupting memory over long '
      + 'distances, and a few minutes on a page of text do not build that memory. In the library\'s measured '
      + 'ablation (section 6, "Where dropout goes") the gap is a few perplexity points after 8 epochs on '
      + '200,000 words; in the paper it decides whether large networks can be trained at all.',
  },
  early: {
    a: { ...PLAIN, placement: 'none', keepProb: 1, hidden: OVERFIT_HIDDEN, patience: 2 },
    b: { ...PLAIN, placement: 'zaremba', keepProb: 0.5, hidden: OVERFIT_HIDDEN, patience: 2 },
    note: 'Early stopping with patience 2 on both runs of the overfitting preset: run A stops two epochs after its '
      + 'best and restores that epoch\'s weights (the dotted rule and the ring on the chart); run B, with dropout, '
      + 'goes on improving much longer.',
  },
};

function setUpLab(): void {
  const chart = createChart(byId('chart'));
  let corpusShown = false;
  const onCorpus = (info: CorpusInfo): void => {
    if (corpusShown) return;
    corpusShown = true;
    byId('corpus-info').textContent =
      `${info.trainLines.toLocaleString('en-US')} lines of the Penn Treebank training set `
      + `(${info.trainTokens.toLocaleString('en-US')} words with the line ends), a vocabulary of its `
      + `${(info.vocabSize - 1).toLocaleString('en-US')} most frequent words plus <unk>`;
  };
  const onSettings = (name: RunName, label: string): void => {
    byId(name === 'A' ? 'legend-a' : 'legend-b').textContent = label;
  };
  const panels = [
    createRunPanel(byId<HTMLFormElement>('run-a'), 'A', chart, onCorpus, onSettings),
    createRunPanel(byId<HTMLFormElement>('run-b'), 'B', chart, onCorpus, onSettings),
  ];
  byId('train-both').addEventListener('click', () => { for (const p of panels) p.train(); });
  byId('pause-both').addEventListener('click', () => { for (const p of panels) p.pause(); });
  for (const button of document.querySelectorAll<HTMLButtonElement>('button[data-preset]')) {
    button.addEventListener('click', () => applyPreset(button.dataset.preset ?? '', panels));
  }
}

function applyPreset(name: string, [a, b]: RunPanel[]): void {
  const preset = PRESETS[name];
  if (preset === undefined) throw new Error(`no preset named ${name}`);
  a.set(preset.a);
  b.set(preset.b);
  byId('preset-note').textContent = preset.note;
  byId('lab').dataset.preset = name;
  a.train();
  b.train();
}

setUpDiagram();
setUpResults();
setUpLab();
mountExplorer(byId('explorer'));
