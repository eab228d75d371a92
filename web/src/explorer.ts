import defaultModelUrl from '../../models/ptb-small.safetensors?url';
import type { Feature, Quantity, TextScore } from '../../src/model/inspect.js';
import type { ExplorerAnswer, ExplorerRequest, ModelInfo, UnitTrace } from './explorer-protocol.js';
import './explorer.css';

/**
 * The model explorer (a section of the walkthrough): a trained model reads what the visitor types. Each
 * token is coloured by its surprisal, the ten most likely next words follow any prefix, a heat map shows
 * the gates and cells of chosen units, and the model continues the text. The model lives in a worker
 * (explorer-worker.ts); this file only draws.
 */

const DEFAULT_TEXT = 'the company said it expects to report a loss for the third quarter\n'
  + 'the stock rose N cents to $ N in new york stock exchange composite trading';
const QUANTITY_NAMES: Record<Quantity, string> = { i: 'input gate i', f: 'forget gate f', o: 'output gate o', c: 'cell c' };
const MAX_SURPRISAL = 16; // bits; the colour scale saturates there (1 in 65,536)

const TEMPLATE = `
  <h2 id="explorer-title">Inside a trained LSTM</h2>
  <p>
    A model trained with the paper's method reads whatever you type: the small configuration (2 layers of 200
    units, the paper's non-regularized small model), trained by <code>rlstm reproduce small</code> on the full
    Penn Treebank and shipped with the library as <code>models/ptb-small.safetensors</code> (float16, 9.4 MB).
    It runs in a Web Worker on your device, with the library's own forward pass; nothing is sent anywhere.
    You can also open any checkpoint that <code>rlstm train</code> or <code>rlstm export</code> wrote
    (float32, float16 or bfloat16; the medium and large models too, given the memory: the large one takes
    about 0.3 GB as float32).
  </p>
  <div class="ex-model">
    <p id="explorer-status" class="ex-status" role="status" data-state="loading">Loading the model…</p>
    <label class="ex-file">Open a checkpoint (.safetensors)
      <input type="file" id="explorer-file" accept=".safetensors,application/octet-stream">
    </label>
  </div>

  <h3>How likely is a sentence?</h3>
  <p class="fine">
    Penn Treebank style: lower case, numbers as <code>N</code>, one sentence per line. Each line ends with the
    end-of-sentence token <code>&lt;eos&gt;</code>, which is scored too; a word outside the model's vocabulary
    is scored as <code>&lt;unk&gt;</code> (dotted underline). The first token is read, not scored (nothing
    before it predicts it; grey), as evaluation reads a split. The numbers are those of
    <code>rlstm score --checkpoint models/ptb-small.safetensors --text "…"</code>.
  </p>
  <label for="explorer-text" class="ex-label">Text</label>
  <textarea id="explorer-text" rows="3" spellcheck="false" autocapitalize="off"></textarea>
  <p id="explorer-perplexity" class="ex-perplexity" aria-live="polite"></p>
  <div id="explorer-tokens" class="ex-tokens" aria-label="The text's tokens, coloured by surprisal; press one to see what the model expected after it"></div>
  <p class="ex-scale" aria-hidden="true"><span>0 bits (certain)</span><span class="ex-scale-bar"></span><span>${MAX_SURPRISAL}+ bits</span></p>
  <p id="explorer-token-info" class="ex-token-info" aria-live="polite">Hover over a token, or move to it with Tab, to see its probability.</p>

  <h3>What comes next?</h3>
  <p id="explorer-next-title" class="ex-next-title"></p>
  <ol id="explorer-next" class="ex-next"></ol>

  <h3>Gates and cells</h3>
  <p class="fine">
    Every unit has an input gate <var>i</var> (how much of the new candidate to write), a forget gate
    <var>f</var> (how much of the old cell to keep), an output gate <var>o</var> (how much of the cell to show)
    and the cell state <var>c</var> itself. Rank the units of a layer by how strongly one of these follows
    something in the text (Pearson correlation over the text's steps), or list units by number.
  </p>
  <form id="explorer-units-form" class="ex-controls">
    <label>Layer <select id="explorer-layer" name="layer"></select></label>
    <label>Find units by
      <select id="explorer-feature" name="feature">
        <option value="position" selected>position in the sentence</option>
        <option value="enclosed">inside ( ) or quotes</option>
        <option value="manual">the numbers below</option>
      </select>
    </label>
    <label>correlated in
      <select id="explorer-quantity" name="quantity">
        <option value="c" selected>cell c</option><option value="i">input gate i</option>
        <option value="f">forget gate f</option><option value="o">output gate o</option>
      </select>
    </label>
    <label>Units <input id="explorer-unit-list" name="units" value="0 1 2 3" inputmode="numeric" size="12"></label>
    <button type="submit" id="explorer-show-units">Show</button>
  </form>
  <p id="explorer-units-note" class="fine" aria-live="polite"></p>
  <div id="explorer-heatmap" class="ex-heatmap" tabindex="0" role="region" aria-label="Heat map of the chosen units over the text"></div>
  <p class="fine">Columns: the step after reading each token. Gates from 0 (white) to 1 (blue); the cell from its most
    negative (orange) through 0 (white) to its most positive (blue) over the units shown. Hover over a square for its value.</p>

  <h3>Continue the text</h3>
  <form id="explorer-continue-form" class="ex-controls">
    <label>Temperature <input id="explorer-temperature" name="temperature" type="number" min="0" max="3" step="0.1" value="1"></label>
    <label>Top-k <input id="explorer-topk" name="topk" type="number" min="0" step="1" value="40"></label>
    <label>Words <input id="explorer-count" name="count" type="number" min="1" max="200" step="1" value="30"></label>
    <label>Seed <input id="explorer-seed" name="seed" type="number" min="0" step="1" value="1"></label>
    <button type="submit" id="explorer-continue">Continue</button>
  </form>
  <p class="fine">Sampling from softmax(logits / temperature) among the top-k words (0: all; temperature 0: always the
    most likely word). The same seed gives the same words.</p>
  <p id="explorer-continuation" class="ex-continuation" aria-live="polite"></p>
`;

function must<T extends Element>(root: ParentNode, selector: string): T {
  const node = root.querySelector<T>(selector);
  if (node === null) throw new Error(`the explorer lacks ${selector}`);
  return node;
}

/** A token as shown: `<eos>` as a line-end mark, a space (character models) as a visible one. */
function shownToken(token: string): string {
  return token === '<eos>' ? '⏎' : token === ' ' ? '␣' : token;
}

function formatProbability(p: number): string {
  if (p >= 0.001) return p.toFixed(p >= 0.1 ? 2 : 3);
  return p.toExponential(1);
}

/** Surprisal → background: pale yellow (expected) to dark red (surprising). */
function surprisalColour(bits: number): { background: string; ink: string } {
  const x = Math.min(1, Math.max(0, bits / MAX_SURPRISAL));
  return { background: `hsl(${50 - 50 * x} 90% ${94 - 58 * x}%)`, ink: x > 0.55 ? '#fff' : '#1b1f24' };
}

/** A gate in [0, 1]: white to blue. A cell value in [−scale, scale]: orange, white, blue. */
function heatColour(value: number, quantity: Quantity, scale: number): string {
  if (quantity !== 'c') return `hsl(214 75% ${97 - 60 * Math.min(1, Math.max(0, value))}%)`;
  const x = Math.max(-1, Math.min(1, value / scale));
  return x >= 0 ? `hsl(214 75% ${97 - 60 * x}%)` : `hsl(24 85% ${97 + 55 * x}%)`;
}

export function mountExplorer(section: HTMLElement): void {
  section.innerHTML = TEMPLATE;
  const status = must<HTMLElement>(section, '#explorer-status');
  const textArea = must<HTMLTextAreaElement>(section, '#explorer-text');
  const tokensBox = must<HTMLElement>(section, '#explorer-tokens');
  const perplexity = must<HTMLElement>(section, '#explorer-perplexity');
  const tokenInfo = must<HTMLElement>(section, '#explorer-token-info');
  const nextTitle = must<HTMLElement>(section, '#explorer-next-title');
  const nextList = must<HTMLOListElement>(section, '#explorer-next');
  const unitsForm = must<HTMLFormElement>(section, '#explorer-units-form');
  const layerSelect = must<HTMLSelectElement>(section, '#explorer-layer');
  const unitsNote = must<HTMLElement>(section, '#explorer-units-note');
  const heatmap = must<HTMLElement>(section, '#explorer-heatmap');
  const continueForm = must<HTMLFormElement>(section, '#explorer-continue-form');
  const continuation = must<HTMLElement>(section, '#explorer-continuation');
  textArea.value = DEFAULT_TEXT;

  const worker = new Worker(new URL('./explorer-worker.ts', import.meta.url), { type: 'module', name: 'model explorer' });
  let nextId = 1;
  const latest: Record<string, number> = {}; // the newest request of each kind: older answers are dropped
  const send = (request: ExplorerRequest): void => { latest[request.type] = request.id; worker.postMessage(request); };
  const id = (): number => nextId++;

  let info: ModelInfo | null = null;
  let analysis: Extract<ExplorerAnswer, { type: 'analysis' }> | null = null;
  let selectedStep = -1; // the step whose next-word distribution is shown (-1: after the last word)
  let level: 'word' | 'char' = 'word';

  const setStatus = (state: 'loading' | 'ready' | 'error' | 'busy', text: string): void => {
    status.dataset.state = state;
    status.textContent = text;
  };

  const load = (request: ExplorerRequest & { type: 'load' }): void => {
    setStatus('loading', `Loading ${request.name}…`);
    analysis = null; // what the old model said goes
    tokensBox.replaceChildren();
    nextList.replaceChildren();
    heatmap.replaceChildren();
    perplexity.textContent = '';
    delete perplexity.dataset.perplexity;
    delete perplexity.dataset.tokens;
    send(request);
  };

  let typingTimer: ReturnType<typeof setTimeout> | undefined;
  const analyze = (): void => {
    clearTimeout(typingTimer);
    if (info === null) return;
    send({ type: 'analyze', id: id(), text: textArea.value });
  };
  textArea.addEventListener('input', () => {
    selectedStep = -1; // typing: what comes after the text
    clearTimeout(typingTimer);
    typingTimer = setTimeout(analyze, 250);
  });

  const requestUnits = (): void => {
    if (info === null || analysis === null) return;
    const data = new FormData(unitsForm);
    const feature = String(data.get('feature'));
    const units = String(data.get('units')).split(/[\s,]+/).filter((s) => s.length > 0).map(Number);
    if (feature === 'manual' && (units.length === 0 || units.some((u) => !Number.isInteger(u) || u < 0 || u >= info!.hidden))) {
      unitsNote.textContent = `Units: whole numbers from 0 to ${info.hidden - 1}, separated by spaces.`;
      return;
    }
    send({
      type: 'units', id: id(), layer: Number(data.get('layer')), quantity: String(data.get('quantity')) as Quantity,
      feature: feature === 'manual' ? null : feature as Feature, units: units.slice(0, 16), count: 6,
    });
  };
  unitsForm.addEventListener('submit', (event) => { event.preventDefault(); requestUnits(); });
  unitsForm.addEventListener('change', requestUnits);

  continueForm.addEventListener('submit', (event) => {
    event.preventDefault();
    if (info === null) return;
    const data = new FormData(continueForm);
    const number = (name: string, min: number, max: number, fallback: number): number => {
      const x = Number(data.get(name));
      return Number.isFinite(x) ? Math.min(max, Math.max(min, x)) : fallback;
    };
    continuation.textContent = 'Sampling…';
    continuation.dataset.state = 'busy';
    send({
      type: 'continue', id: id(), text: textArea.value.replace(/\s+$/, ''),
      options: {
        temperature: number('temperature', 0, 3, 1), topK: Math.round(number('topk', 0, 1e6, 40)),
        count: Math.round(number('count', 1, 200, 30)), seed: Math.round(number('seed', 0, 2 ** 31, 1)),
      },
    });
  });

  must<HTMLInputElement>(section, '#explorer-file').addEventListener('change', (event) => {
    const file = (event.target as HTMLInputElement).files?.[0];
    if (file !== undefined) load({ type: 'load', id: id(), file, name: file.name });
  });

  // ---- drawing the answers ----

  const showScore = (score: TextScore, fed: string[]): void => {
    perplexity.dataset.perplexity = String(score.perplexity);
    perplexity.dataset.tokens = String(score.tokens);
    perplexity.textContent = `Perplexity ${score.perplexity.toFixed(1)} over ${score.tokens} scored tokens`
      + (score.unknown > 0 ? ` (${score.unknown} unknown, scored as <unk>)` : '')
      + (score.lines.length > 1 ? `; by line: ${score.lines.map((l) => (l.perplexity === null ? '–' : l.perplexity.toFixed(1))).join(', ')}` : '');
    tokensBox.replaceChildren();
    fed.forEach((token, k) => {
      const entry = k === 0 ? null : score.entries[k - 1]; // token k is entry k − 1: the first is only read
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'ex-token' + (entry === null ? ' ex-context' : '') + (entry?.unknown ? ' ex-unknown' : '')
        + (token === '<eos>' ? ' ex-eos' : '');
      button.textContent = shownToken(token);
      button.dataset.index = String(k);
      button.dataset.token = token;
      let describe = `"${token}": the first token, read, not scored`;
      if (entry !== null) {
        const colour = surprisalColour(entry.surprisal);
        button.style.background = colour.background;
        button.style.color = colour.ink;
        button.dataset.logProb = String(entry.logProb);
        button.dataset.surprisal = String(entry.surprisal);
        describe = `"${token}"${entry.unknown ? ' (unknown: scored as <unk>)' : ''}: probability ${formatProbability(Math.exp(entry.logProb))}, `
          + `surprisal ${entry.surprisal.toFixed(2)} bits`;
      }
      button.setAttribute('aria-label', describe);
      button.title = describe;
      const show = (): void => { tokenInfo.textContent = describe; tokenInfo.dataset.index = String(k); };
      button.addEventListener('mouseenter', show);
      button.addEventListener('focus', show);
      button.addEventListener('click', () => { selectedStep = k; showNext(); });
      tokensBox.append(button);
      if (token === '<eos>' && k + 1 < fed.length) tokensBox.append(document.createElement('br'));
    });
  };

  /** The distribution after step `selectedStep`: after reading token selectedStep of the text. */
  const showNext = (): void => {
    if (analysis === null) return;
    const { fed } = analysis;
    if (selectedStep < 0 || selectedStep >= fed.length) selectedStep = Math.max(0, fed.length - 2); // after the last word
    const from = Math.max(0, selectedStep - 5);
    const prefix = fed.slice(from, selectedStep + 1).map(shownToken);
    nextTitle.textContent = `After “${from > 0 ? '… ' : ''}${prefix.join(level === 'char' ? '' : ' ')}”, the model expects:`;
    nextTitle.dataset.step = String(selectedStep);
    const { words, probs } = analysis.next[selectedStep];
    const actual = fed[selectedStep + 1];
    nextList.replaceChildren(...words.map((word, j) => {
      const item = document.createElement('li');
      item.dataset.word = word;
      item.dataset.prob = String(probs[j]);
      if (word === actual) item.classList.add('ex-actual');
      const label = document.createElement('span');
      label.className = 'ex-next-word';
      label.textContent = shownToken(word) + (word === actual ? ' (the text’s)' : '');
      const bar = document.createElement('span');
      bar.className = 'ex-bar';
      bar.style.width = `${Math.max(1, 100 * probs[j] / probs[0])}%`;
      const value = document.createElement('span');
      value.className = 'ex-next-prob';
      value.textContent = formatProbability(probs[j]);
      item.append(label, bar, value);
      return item;
    }));
  };

  const showUnits = (answer: Extract<ExplorerAnswer, { type: 'units' }>): void => {
    const { units, fed, feature } = answer;
    heatmap.dataset.layer = String(answer.layer);
    heatmap.dataset.units = units.map((u) => u.unit).join(' ');
    if (units.length === 0) {
      unitsNote.textContent = feature === 'enclosed'
        ? 'Nothing in this text is inside parentheses or quotes (Penn Treebank text has almost none): type some, or rank by position.'
        : 'No unit varies with that over this text: type a longer one.';
      heatmap.replaceChildren();
      return;
    }
    unitsNote.textContent = feature === null
      ? `Layer ${answer.layer + 1}, units ${units.map((u) => u.unit).join(', ')}.`
      : `Layer ${answer.layer + 1}: the units whose ${QUANTITY_NAMES[answer.quantity]} correlates most with `
        + `${feature === 'position' ? 'the position in the sentence' : 'being inside ( ) or quotes'}: `
        + units.map((u) => `${u.unit} (r = ${u.r!.toFixed(2)})`).join(', ') + '.';
    const scale = Math.max(1e-6, ...units.flatMap((u) => u.series.c.map(Math.abs)));
    const table = document.createElement('table');
    const head = table.createTHead().insertRow();
    const corner = document.createElement('th');
    corner.textContent = 'unit';
    corner.className = 'ex-corner';
    corner.scope = 'col';
    head.append(corner);
    for (const token of fed) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = shownToken(token);
      head.append(th);
    }
    const body = table.createTBody();
    units.forEach((u: UnitTrace) => {
      (['i', 'f', 'o', 'c'] as Quantity[]).forEach((q, row) => {
        const tr = body.insertRow();
        if (row === 0) tr.className = 'ex-unit-first';
        const th = document.createElement('th');
        th.scope = 'row';
        th.textContent = `${u.unit} ${q}`;
        th.title = `unit ${u.unit}, ${QUANTITY_NAMES[q]}`;
        tr.append(th);
        u.series[q].forEach((value, s) => {
          const td = tr.insertCell();
          td.style.background = heatColour(value, q, scale);
          td.dataset.value = String(value);
          td.title = `unit ${u.unit}, ${QUANTITY_NAMES[q]} after “${shownToken(fed[s])}”: ${value.toFixed(3)}`;
        });
      });
    });
    heatmap.replaceChildren(table);
  };

  worker.onmessage = (event: MessageEvent<ExplorerAnswer>): void => {
    const answer = event.data;
    if (answer.type === 'error') {
      if (latest.load === answer.id) { info = null; setStatus('error', answer.message); return; }
      if (latest.continue === answer.id) { continuation.textContent = answer.message; continuation.dataset.state = 'error'; return; }
      if (latest.units === answer.id) { unitsNote.textContent = answer.message; return; }
      if (latest.analyze === answer.id) {
        analysis = null;
        perplexity.textContent = answer.message;
        delete perplexity.dataset.perplexity;
        delete perplexity.dataset.tokens;
        tokensBox.replaceChildren();
        nextList.replaceChildren();
        nextTitle.textContent = '';
      }
      return;
    }
    const asked = { loaded: 'load', analysis: 'analyze', units: 'units', continuation: 'continue' }[answer.type];
    if (latest[asked] !== answer.id) return; // replaced by a newer request
    switch (answer.type) {
      case 'loaded': {
        info = answer.info;
        level = info.level;
        const size = `${info.layers} × ${info.hidden}${info.layerNorm ? ' with layer norm' : ''}, ${info.vocabSize.toLocaleString('en-US')} `
          + `${info.level === 'word' ? 'words' : 'characters'}, ${(info.parameters / 1e6).toFixed(1)} M parameters, ${info.dtype}`;
        setStatus('ready', `Model: ${info.name} (${size}).`);
        layerSelect.replaceChildren(...Array.from({ length: info.layers }, (_, l) => new Option(String(l + 1), String(l), l === info!.layers - 1, l === info!.layers - 1)));
        selectedStep = -1;
        analyze();
        break;
      }
      case 'analysis':
        analysis = answer;
        showScore(answer.score, answer.fed);
        if (selectedStep >= answer.next.length) selectedStep = -1;
        showNext();
        requestUnits();
        break;
      case 'units':
        showUnits(answer);
        break;
      case 'continuation':
        continuation.dataset.state = 'done';
        continuation.replaceChildren();
        {
          const prompt = document.createElement('span');
          prompt.className = 'ex-prompt';
          prompt.textContent = textArea.value.replace(/\s+$/, '').split(/\r\n|\r|\n/).pop() ?? '';
          const added = document.createElement('strong');
          added.className = 'ex-sampled';
          added.textContent = ' ' + answer.text;
          continuation.append(prompt, added);
        }
        continuation.dataset.tokens = String(answer.tokens.length);
        break;
    }
  };
  worker.onerror = (event): void => setStatus('error', `The explorer's worker failed: ${event.message}`);

  load({ type: 'load', id: id(), url: new URL(defaultModelUrl, document.baseURI).href, name: 'ptb-small.safetensors' });
}
