import { createChart, type RunName } from './chart.js';
import { countDropouts, createDiagram, DIAGRAM_LAYERS, DIAGRAM_WORDS, type DiagramPlacement, type DiagramState } from './diagram.js';
import { mountExplorer } from './explorer.js';
import { createRunPanel } from './lab.js';
import type { CorpusInfo } from './protocol.js';

/** The page: the path-counting diagram (section 3) and the two-run lab (section 5). */

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

// ---- section 5: the lab ----

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
}

setUpDiagram();
setUpLab();
mountExplorer(byId('explorer'));
