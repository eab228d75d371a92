/**
 * The unrolled two-layer LSTM of the paper's figure, drawn as SVG: vertical connections (word →
 * embedding → layer 1 → layer 2 → softmax) and horizontal ones (layer l at step t → step t+1). A `D`
 * marks every connection where dropout is applied. The reader picks a word and the step where its
 * information is used; the path lights up and the page counts the D's on it: L+1 = 3 with the paper's
 * placement, however far the word travels; 3 + distance with the naive placement.
 */

const SVG = 'http://www.w3.org/2000/svg';
const WORDS = ['the', 'stock', 'market', 'fell', 'sharply', 'after', 'the', 'report'];
const STEPS = WORDS.length;
const LAYERS = 2;

const colX = (t: number): number => 100 + t * 100;
// rows, bottom to top: word, embedding, layer 1 … layer L, softmax
const ROW_WORD = 400, ROW_EMBED = 336;
const rowLayer = (l: number): number => 248 - (l - 1) * 96; // l = 1..L
const ROW_SOFTMAX = rowLayer(LAYERS) - 96;

export type DiagramPlacement = 'zaremba' | 'naive';

export interface DiagramState {
  placement: DiagramPlacement;
  from: number; //  0-based step of the word
  to: number; //    0-based step whose prediction uses it (≥ from)
  route: number; // the layer (1..L) along which it travels in time
}

/** The dropout applications on the path: vertical ones always, horizontal ones only when naive. */
export function countDropouts(state: DiagramState, layers = LAYERS): { vertical: number; horizontal: number; total: number } {
  const vertical = layers + 1;
  const horizontal = state.placement === 'naive' ? state.to - state.from : 0;
  return { vertical, horizontal, total: vertical + horizontal };
}

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, parent?: Element): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  parent?.appendChild(node);
  return node;
}

interface Connection {
  id: string; // 'v:<t>:<site>' (site 0..L: into layer site+1, or the softmax) or 'h:<l>:<t>' (t → t+1)
  line: SVGLineElement;
  marker: SVGGElement | null; // the D, where dropout can apply
}

export interface Diagram {
  update(state: DiagramState): void;
}

export function createDiagram(container: HTMLElement): Diagram {
  const svg = el('svg', {
    viewBox: `0 0 ${colX(STEPS - 1) + 60} 420`, class: 'unrolled', role: 'img',
    'aria-labelledby': 'diagram-title diagram-readout',
  });
  el('title', { id: 'diagram-title' }, svg).textContent = 'A two-layer LSTM unrolled over eight time steps';
  const defs = el('defs', {}, svg);
  const arrow = el('marker', { id: 'arrowhead', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 10, markerHeight: 10, markerUnits: 'userSpaceOnUse', orient: 'auto' }, defs);
  el('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }, arrow);

  const connections = new Map<string, Connection>();
  const linesLayer = el('g', {}, svg);
  const boxesLayer = el('g', {}, svg);
  const markersLayer = el('g', {}, svg);

  const connect = (id: string, x1: number, y1: number, x2: number, y2: number, droppable: boolean): void => {
    const line = el('line', { x1, y1, x2, y2, class: 'connection', 'marker-end': 'url(#arrowhead)' }, linesLayer);
    let marker: SVGGElement | null = null;
    if (droppable) {
      marker = el('g', { class: 'dropout', transform: `translate(${(x1 + x2) / 2},${(y1 + y2) / 2})` }, markersLayer);
      el('circle', { r: 11 }, marker);
      el('text', { y: 4.5, 'text-anchor': 'middle' }, marker).textContent = 'D';
    }
    connections.set(id, { id, line, marker });
  };
  const box = (x: number, y: number, w: number, h: number, label: string, cls: string): void => {
    el('rect', { x: x - w / 2, y: y - h / 2, width: w, height: h, rx: 6, class: cls }, boxesLayer);
    el('text', { x, y: y + 5, 'text-anchor': 'middle', class: `${cls}-label` }, boxesLayer).textContent = label;
  };

  const words: SVGTextElement[] = [];
  for (let t = 0; t < STEPS; t++) {
    const x = colX(t);
    const word = el('text', { x, y: ROW_WORD + 5, 'text-anchor': 'middle', class: 'word' }, boxesLayer);
    word.textContent = WORDS[t];
    words.push(word);
    box(x, ROW_EMBED, 64, 26, 'embed', 'embed');
    for (let l = 1; l <= LAYERS; l++) box(x, rowLayer(l), 64, 40, `LSTM ${l}`, 'cell');
    box(x, ROW_SOFTMAX, 64, 26, 'softmax', 'softmax');
    el('text', { x, y: ROW_SOFTMAX - 26, 'text-anchor': 'middle', class: 'prediction' }, boxesLayer).textContent =
      t + 1 < STEPS ? `→ ${WORDS[t + 1]}` : '→ …';

    // vertical: the lookup (never dropped), then the L+1 sites of the paper
    el('line', { x1: x, y1: ROW_WORD - 10, x2: x, y2: ROW_EMBED + 14, class: 'connection lookup' }, linesLayer);
    connect(`v:${t}:0`, x, ROW_EMBED - 13, x, rowLayer(1) + 22, true);
    for (let l = 1; l < LAYERS; l++) connect(`v:${t}:${l}`, x, rowLayer(l) - 20, x, rowLayer(l + 1) + 22, true);
    connect(`v:${t}:${LAYERS}`, x, rowLayer(LAYERS) - 20, x, ROW_SOFTMAX + 15, true);
    // horizontal: h and c flow from step t to t+1 in every layer
    if (t + 1 < STEPS) {
      for (let l = 1; l <= LAYERS; l++) connect(`h:${l}:${t}`, x + 32, rowLayer(l), colX(t + 1) - 34, rowLayer(l), true);
    }
  }
  for (let l = 1; l <= LAYERS; l++) {
    el('text', { x: 8, y: rowLayer(l) + 5, class: 'row-label' }, boxesLayer).textContent = `layer ${l}`;
  }
  container.appendChild(svg);

  return {
    update(state: DiagramState): void {
      const onPath = new Set<string>(pathConnections(state));
      for (const c of connections.values()) {
        const active = onPath.has(c.id);
        const dropped = c.id.startsWith('v:') || state.placement === 'naive';
        c.line.classList.toggle('on-path', active);
        if (c.marker !== null) {
          c.marker.classList.toggle('hidden', !dropped);
          c.marker.classList.toggle('hit', active && dropped);
        }
      }
      words.forEach((w, t) => w.classList.toggle('chosen', t === state.from));
    },
  };
}

/** The connections a word's information crosses from its step to the prediction at `to`, via layer `route`. */
function pathConnections(state: DiagramState): string[] {
  const { from, to, route } = state;
  const ids = [];
  for (let l = 0; l < route; l++) ids.push(`v:${from}:${l}`); //        up to the route's layer
  for (let t = from; t < to; t++) ids.push(`h:${route}:${t}`); //       along it in time
  for (let l = route; l <= LAYERS; l++) ids.push(`v:${to}:${l}`); //    up to the softmax
  return ids;
}

export const DIAGRAM_WORDS = WORDS;
export const DIAGRAM_LAYERS = LAYERS;
