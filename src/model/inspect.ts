import { EOS, tokenize, UNK, type TokenLevel, type Vocabulary } from '../data/text.js';
import { UserError } from '../errors.js';
import type { Backend } from '../kernels/backend.js';
import { createRng, nextFloat, type Rng } from '../util/rng.js';
import { carryState, createWorkspace, modelForward, resetState, type ForwardOptions, type Workspace } from './lm.js';
import type { Model } from './params.js';

/**
 * Looking inside a trained model as it reads a text (the walkthrough's model explorer): how likely it
 * finds every token, which words it expects next, and what its gates and cells do at every step.
 *
 * The reading is evaluation's on one sequence (B = 1, dropout off), as `rlstm score` does it
 * (docs/score-json.md): every line ends in `<eos>`; the state starts at zero and carries across lines;
 * the model reads token k and predicts token k+1, so the first token of the text is read, not scored
 * (the `context`). The scores are `rlstm score`'s numbers (test/web-explorer.test.ts checks them).
 */

const EVALUATION: ForwardOptions = { train: false, placement: 'none', keepProb: 1, rng: null };

/** Steps per forward call: windows of the text, the state carried between them (any size gives the same numbers). */
const WINDOW = 64;

export interface ScoredToken {
  line: number; //      0-based line of the text
  token: string; //     as written (an unknown word keeps its spelling), or `<eos>`
  id: number; //        the id scored: `<unk>`'s for an unknown word
  logProb: number; //   natural log of its probability given everything before it
  surprisal: number; // −logProb / ln 2, in bits
  unknown: boolean; //  not in the vocabulary, scored as `<unk>`
}

export interface TextScore {
  perplexity: number; // exp(−mean logProb over every scored token)
  tokens: number; //     scored tokens (every token but the first)
  unknown: number; //    scored tokens outside the vocabulary
  context: string; //    the first token: read, not scored
  lines: { text: string; tokens: number; perplexity: number | null }[]; // null: no token of the line scored
  entries: ScoredToken[]; // one per scored token
}

/** The k most likely next tokens at one step, most likely first. */
export interface NextTokens {
  ids: number[];
  probs: number[];
}

/**
 * What the LSTM layers did at every step s (after reading token s of the text):
 *   gates[l]  (steps, 4H)  activated gates i, f, g, o of layer l
 *   cells[l]  (steps, H)   cell state c of layer l
 */
export interface LayerTrace {
  steps: number;
  hidden: number;
  gates: Float32Array[];
  cells: Float32Array[];
}

export interface Inspection {
  score: TextScore;
  fed: string[]; //     the tokens read, one per step: every token of the text
  next: NextTokens[]; // per step: the k most likely tokens after it (next[s] predicted entries[s], token s+1)
  trace: LayerTrace;
}

/** The text's lines as tokenization sees them: split at "\n", "\r\n" or "\r"; a last line end ends no further line. */
export function textLines(text: string): string[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * Token strings → ids; a token outside the vocabulary becomes `<unk>` (flagged). `source` names the text in
 * the error when the vocabulary has no `<unk>` to use.
 */
function encodeForScoring(tokens: string[], vocab: Vocabulary, source: string): { ids: Int32Array; unknown: boolean[] } {
  const unk = vocab.ids.get(UNK);
  const ids = new Int32Array(tokens.length);
  const unknown = tokens.map(() => false);
  tokens.forEach((token, k) => {
    const id = vocab.ids.get(token);
    if (id !== undefined) { ids[k] = id; return; }
    if (unk === undefined) throw new UserError(`${source}: "${token}" is not in the model's vocabulary, which has no ${UNK}; leave it out`);
    ids[k] = unk;
    unknown[k] = true;
  });
  return { ids, unknown };
}

/**
 * Feeds `ids` in windows of at most ws.T steps, the state carried; after each window calls
 * visit(first step, steps) while ws holds its activations and logits (row r: after step first + r).
 */
function feed(backend: Backend, model: Model, ws: Workspace, ids: ArrayLike<number>, targets: ArrayLike<number> | null,
  visit: (first: number, steps: number) => void): void {
  for (let first = 0; first < ids.length; first += ws.T) {
    const steps = Math.min(ws.T, ids.length - first);
    for (let r = 0; r < steps; r++) {
      ws.tokens[r] = ids[first + r];
      ws.targets[r] = targets === null ? 0 : targets[first + r]; // the forward reads a valid target
    }
    modelForward(backend, model, ws, steps, EVALUATION);
    visit(first, steps);
    carryState(ws, steps, model.config.hidden);
  }
}

/** log Σ_v exp(logits[v]) of one row, in float64, shifted by its maximum. */
function logSumExp(row: Float32Array): number {
  let max = -Infinity;
  for (let v = 0; v < row.length; v++) if (row[v] > max) max = row[v];
  let sum = 0;
  for (let v = 0; v < row.length; v++) sum += Math.exp(row[v] - max);
  return max + Math.log(sum);
}

/** The k largest entries of a row, largest first (the lower id first on ties). */
export function topIndices(row: Float32Array, k: number): number[] {
  const best: number[] = [];
  for (let v = 0; v < row.length; v++) {
    if (best.length === k && row[v] <= row[best[k - 1]]) continue;
    let at = best.length === k ? k - 1 : best.length;
    while (at > 0 && row[best[at - 1]] < row[v]) { if (at < k) best[at] = best[at - 1]; at--; }
    best[at] = v;
  }
  return best;
}

/**
 * Reads a text and returns its scores (as `rlstm score`), the `topK` most likely next tokens after every
 * step (the last included, after the final `<eos>`), and every layer's gates and cells at every step.
 * `source` names the text in messages.
 *   text: lines at the model's level (words split on whitespace, or characters); at least two tokens
 */
export function inspectText(backend: Backend, model: Model, vocab: Vocabulary, level: TokenLevel, text: string,
  topK = 10, source = 'the text'): Inspection {
  const { hidden: H, layers: L, vocabSize: V } = model.config;
  const lines = textLines(text);
  const lineTokens = lines.map((line) => tokenize(line, level));
  const tokens = lineTokens.flat();
  if (text.trim().length === 0) throw new UserError(`${source}: empty; type some text to score`);
  const { ids, unknown } = encodeForScoring(tokens, vocab, source);
  const n = tokens.length; // ≥ 2: a word and its line's <eos>

  const ws = createWorkspace(model, Math.min(WINDOW, n), 1, 'none', backend);
  resetState(ws);
  const logProbs = new Float64Array(n); // logProbs[k]: of token k (k ≥ 1)
  const next: NextTokens[] = [];
  const trace: LayerTrace = {
    steps: n, hidden: H,
    gates: Array.from({ length: L }, () => new Float32Array(n * 4 * H)),
    cells: Array.from({ length: L }, () => new Float32Array(n * H)),
  };
  const targets = Int32Array.from({ length: n }, (_, k) => (k + 1 < n ? ids[k + 1] : 0));
  feed(backend, model, ws, ids, targets, (first, steps) => {
    for (let r = 0; r < steps; r++) {
      const row = ws.logits.subarray(r * V, (r + 1) * V);
      const norm = logSumExp(row);
      if (first + r + 1 < n) logProbs[first + r + 1] = row[ids[first + r + 1]] - norm;
      const best = topIndices(row, Math.min(topK, V));
      next.push({ ids: best, probs: best.map((v) => Math.exp(row[v] - norm)) });
    }
    for (let l = 0; l < L; l++) {
      trace.gates[l].set(ws.lstm[l].gates.subarray(0, steps * 4 * H), first * 4 * H);
      trace.cells[l].set(ws.lstm[l].c.subarray(0, steps * H), first * H);
    }
  });

  const entries: ScoredToken[] = [];
  const lineScores: TextScore['lines'] = [];
  let k = 0, total = 0, unknownScored = 0;
  lineTokens.forEach((line, lineIndex) => {
    let sum = 0, count = 0;
    for (const token of line) {
      if (k > 0) {
        entries.push({ line: lineIndex, token, id: ids[k], logProb: logProbs[k], surprisal: -logProbs[k] / Math.LN2, unknown: unknown[k] });
        sum += logProbs[k];
        count++;
        if (unknown[k]) unknownScored++;
      }
      k++;
    }
    total += sum;
    lineScores.push({ text: lines[lineIndex], tokens: count, perplexity: count === 0 ? null : Math.exp(-sum / count) });
  });
  return {
    score: { perplexity: Math.exp(-total / (n - 1)), tokens: n - 1, unknown: unknownScored, context: tokens[0], lines: lineScores, entries },
    fed: tokens, next, trace,
  };
}

export interface ContinueOptions {
  count: number; //        tokens to sample
  temperature: number; //  softmax(logits / temperature); 0 = greedy
  topK: number; //         sample among the k most likely tokens only; 0 = all of them
  seed: number;
}

/**
 * Continues a text: reads the prompt's ids (from `<eos>` when it is empty: a new line), then samples
 * `count` ids one at a time, each fed back as the next input. Returns the new ids. The same model, backend, prompt and options give the same ids.
 */
export function continueTokens(backend: Backend, model: Model, vocab: Vocabulary, prompt: number[], options: ContinueOptions): number[] {
  const V = model.config.vocabSize;
  const fed = prompt.length > 0 ? prompt : [vocab.ids.get(EOS) ?? vocab.ids.get(UNK) ?? 0];
  const ws = createWorkspace(model, Math.min(WINDOW, fed.length), 1, 'none', backend);
  resetState(ws);
  const rng = createRng(options.seed);
  const scratch = { weights: new Float64Array(V), order: new Int32Array(V) };
  let lastRow = 0;
  feed(backend, model, ws, fed, null, (_, steps) => { lastRow = steps - 1; });
  const generated: number[] = [];
  for (let k = 0; k < options.count; k++) {
    const id = sampleTopK(ws.logits.subarray(lastRow * V, (lastRow + 1) * V), options.temperature, options.topK, rng, scratch);
    generated.push(id);
    if (k + 1 < options.count) { feed(backend, model, ws, [id], null, () => {}); lastRow = 0; }
  }
  return generated;
}

/**
 * Draws an id from softmax(logits / temperature) restricted to the topK largest logits (topK 0 or ≥ V:
 * all), by one uniform draw against their cumulative sum (most likely first; all: in id order). Temperature 0: the argmax
 * (the lowest id on ties), no draw. scratch: weights (V) and order (V), reused between calls.
 */
export function sampleTopK(logits: Float32Array, temperature: number, topK: number, rng: Rng,
  scratch: { weights: Float64Array; order: Int32Array }): number {
  const V = logits.length;
  const k = topK > 0 && topK < V ? topK : V;
  const order = scratch.order.subarray(0, V);
  if (k < V) order.set(topIndices(logits, k));
  else for (let v = 0; v < V; v++) order[v] = v;
  let best = order[0];
  for (let j = 1; j < k; j++) if (logits[order[j]] > logits[best] || (logits[order[j]] === logits[best] && order[j] < best)) best = order[j];
  if (temperature === 0) return best;
  const max = logits[best];
  let total = 0;
  for (let j = 0; j < k; j++) {
    scratch.weights[j] = Math.exp((logits[order[j]] - max) / temperature); // ≤ 1: nothing overflows
    total += scratch.weights[j];
  }
  const u = nextFloat(rng) * total;
  let cumulative = 0;
  for (let j = 0; j < k; j++) {
    cumulative += scratch.weights[j];
    if (u < cumulative) return order[j];
  }
  return best; // only when rounding leaves u at the very top of the sum
}

// ---- finding units that track something ----

export type Quantity = 'i' | 'f' | 'o' | 'c';
export const QUANTITIES: readonly Quantity[] = ['i', 'f', 'o', 'c'];

/** One unit's values over the steps: gate i, f or o (offset 0, H, 3H in the gates' i, f, g, o order) or the cell. */
export function unitSeries(trace: LayerTrace, layer: number, unit: number, quantity: Quantity): Float32Array {
  const { steps, hidden: H } = trace;
  const out = new Float32Array(steps);
  if (quantity === 'c') {
    for (let s = 0; s < steps; s++) out[s] = trace.cells[layer][s * H + unit];
  } else {
    const offset = { i: 0, f: H, o: 3 * H }[quantity];
    for (let s = 0; s < steps; s++) out[s] = trace.gates[layer][s * 4 * H + offset + unit];
  }
  return out;
}

/**
 * Things a unit might track, one value per step (after reading token s):
 *   position:  how many tokens of the current line have been read (0 right after a line end)
 *   enclosed:  1 inside an open parenthesis, bracket, brace or quotation ( ( [ { " `` ' ), else 0
 */
export type Feature = 'position' | 'enclosed';
export const FEATURES: readonly Feature[] = ['position', 'enclosed'];

const OPENERS = new Set(['(', '[', '{', '-lrb-', '-lsb-', '-lcb-', '``']);
const CLOSERS = new Set([')', ']', '}', '-rrb-', '-rsb-', '-rcb-', '\'\'']);
const TOGGLES = new Set(['"']); // the same mark opens and closes

export function featureSeries(fed: string[], feature: Feature): Float64Array {
  const out = new Float64Array(fed.length);
  let position = 0, depth = 0, quoted = false;
  fed.forEach((token, s) => {
    if (token === EOS) { position = 0; depth = 0; quoted = false; } else position++;
    const lower = token.toLowerCase();
    if (OPENERS.has(lower)) depth++;
    else if (CLOSERS.has(lower)) depth = Math.max(0, depth - 1);
    else if (TOGGLES.has(token)) quoted = !quoted;
    out[s] = feature === 'position' ? position : depth > 0 || quoted ? 1 : 0;
  });
  return out;
}

/** Pearson correlation of two series; NaN when either is constant (it says nothing). */
export function correlation(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let mx = 0, my = 0;
  for (let k = 0; k < n; k++) { mx += x[k]; my += y[k]; }
  mx /= n; my /= n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let k = 0; k < n; k++) {
    const dx = x[k] - mx, dy = y[k] - my;
    sxy += dx * dy; sxx += dx * dx; syy += dy * dy;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

/**
 * The `count` units of a layer whose `quantity` correlates most strongly (either sign) with the feature
 * over the text, strongest first, with their correlations. Empty when the feature does not vary.
 */
export function unitsTracking(trace: LayerTrace, layer: number, quantity: Quantity, feature: Float64Array,
  count: number): { unit: number; r: number }[] {
  const found: { unit: number; r: number }[] = [];
  for (let unit = 0; unit < trace.hidden; unit++) {
    const r = correlation(unitSeries(trace, layer, unit, quantity), feature);
    if (!Number.isNaN(r)) found.push({ unit, r });
  }
  found.sort((a, b) => Math.abs(b.r) - Math.abs(a.r) || a.unit - b.unit);
  return found.slice(0, count);
}
