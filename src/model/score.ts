import { batchify, fillWindow, tokenize, UNK, windowCount, type TokenLevel, type Vocabulary } from '../data/text.js';
import { UserError } from '../errors.js';
import type { Backend } from '../kernels/backend.js';
import { carryState, createWorkspace, modelForward, resetState, type ForwardOptions } from './lm.js';
import type { Model } from './params.js';

/**
 * Scoring a text with a trained model: how likely the model finds each token given everything before it.
 * Pure TypeScript (no Node imports), so the browser bundle can use it too.
 *
 * Exactly the pass evaluation makes with batch 1 (train/evaluate.ts, `rlstm eval --batch-size 1`): the text
 * becomes one token stream (each line ends with `<eos>`), cut into windows of T steps; the model reads token
 * k and predicts token k+1; the LSTM state starts from zeros and carries from window to window and so
 * across lines; dropout is off. So the first token of the text is read, not scored (nothing before it
 * predicts it), and a text of n tokens scores n−1. The total perplexity is computed from the same sums in
 * the same order as evaluation's, so on an evaluation split the two give the same bits.
 */

export interface ScoredToken {
  line: number; //        0-based line of the text the token is on (a line's `<eos>` belongs to it)
  token: string; //       as written in the text (an unknown word keeps its spelling); `<eos>` for a line end
  id: number; //          the id the model read: `<unk>`'s for an unknown word
  logProb: number; //     ln P(token | everything before it)
  surprisal: number; //   −logProb / ln 2, in bits
  unknown: boolean; //    not in the vocabulary, scored as `<unk>`
}

export interface ScoredLine {
  text: string; //               the line as written, without its line end
  tokens: number; //             scored tokens on it, its `<eos>` included (the first line's first token is not scored)
  perplexity: number | null; //  exp(−mean logProb) over them; null when none are scored
}

export interface TextScore {
  perplexity: number; //  exp(nll / tokens)
  nll: number; //         −Σ logProb in nats, summed as evaluation sums it
  tokens: number; //      scored tokens, `<eos>` included
  unknown: number; //     scored tokens that are words outside the vocabulary
  unknownWords: string[]; // those words, once each, in order of appearance
  context: string; //     the first token of the text: read, not scored
  lines: ScoredLine[];
  entries: ScoredToken[];
}

const EVALUATION: ForwardOptions = { train: false, placement: 'none', keepProb: 1, rng: null };

/** A line end as the tokenizer reads one (text.ts): "\r\n", a lone "\r" or "\n". */
const LINE_END = /\r\n|\r|\n/;

/**
 * The lines of a text as the tokenizer sees them: a byte-order mark at the start is dropped, and a line end
 * closing the text opens no further line.
 */
export function textLines(text: string): string[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = body.split(LINE_END);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * Scores `text` (tokens at `level`, the level the model was trained at) with windows of T steps.
 * `source` names the text in messages (`--text`, a file name). Throws a UserError for a text with fewer
 * than two tokens (nothing to predict) or, when the vocabulary has no `<unk>`, for a word outside it.
 */
export function scoreText(
  backend: Backend, model: Model, vocab: Vocabulary, level: TokenLevel, text: string, T: number, source = 'the text',
): TextScore {
  if (text.trim().length === 0) {
    throw new UserError(`${source}: ${text.length === 0 ? 'empty' : 'only whitespace'}; give some text to score`);
  }
  // the token stream, each token with its line and spelling (line by line, then exactly the tokens
  // tokenize(text) gives: each line's tokens and its <eos>)
  const lines = textLines(text);
  const spelled: string[] = [];
  const lineOf: number[] = [];
  for (let l = 0; l < lines.length; l++) {
    for (const token of tokenize(lines[l], level)) { spelled.push(token); lineOf.push(l); }
  }
  const unk = vocab.ids.get(UNK);
  const stream = new Int32Array(spelled.length);
  const isUnknown = new Uint8Array(spelled.length);
  const unknownWords: string[] = [];
  const seen = new Set<string>();
  for (let k = 0; k < spelled.length; k++) {
    const id = vocab.ids.get(spelled[k]);
    if (id !== undefined) { stream[k] = id; continue; }
    if (unk === undefined) {
      throw new UserError(`${source}: "${spelled[k]}" is not in the model's vocabulary, which has no ${UNK} to score it as; leave it out`);
    }
    stream[k] = unk;
    isUnknown[k] = 1;
    if (!seen.has(spelled[k])) { seen.add(spelled[k]); unknownWords.push(spelled[k]); }
  }
  if (stream.length < 2) {
    throw new UserError(`${source}: one token only ("${spelled[0]}"); the first token is read, not scored, so give at least two`);
  }

  // evaluation's pass (train/evaluate.ts) with B = 1, reading each window's log-probabilities off its logits
  const V = model.config.vocabSize, H = model.config.hidden;
  const data = batchify(stream, 1, source);
  const Tw = Math.min(T, data.L - 1);
  const ws = createWorkspace(model, Tw, 1, 'none', backend);
  resetState(ws);
  const logProbs = new Float64Array(stream.length - 1); // logProbs[k]: of token k+1
  let nll = 0;
  const windows = windowCount(data, Tw);
  for (let w = 0; w < windows; w++) {
    const len = fillWindow(data, w, Tw, ws.tokens, ws.targets);
    nll += modelForward(backend, model, ws, len, EVALUATION); // the logits are left as they are (no training)
    for (let t = 0; t < len; t++) logProbs[w * Tw + t] = logSoftmaxAt(ws.logits, t * V, V, ws.targets[t]);
    carryState(ws, len, H);
  }

  const entries: ScoredToken[] = [];
  const lineSums = new Float64Array(lines.length);
  const lineCounts = new Int32Array(lines.length);
  let unknown = 0;
  for (let k = 1; k < stream.length; k++) {
    const logProb = logProbs[k - 1];
    entries.push({ line: lineOf[k], token: spelled[k], id: stream[k], logProb, surprisal: -logProb / Math.LN2, unknown: isUnknown[k] === 1 });
    lineSums[lineOf[k]] += logProb;
    lineCounts[lineOf[k]]++;
    unknown += isUnknown[k];
  }
  const tokens = stream.length - 1;
  return {
    perplexity: Math.exp(nll / tokens), nll, tokens, unknown, unknownWords, context: spelled[0],
    lines: lines.map((line, l) => ({
      text: line, tokens: lineCounts[l], perplexity: lineCounts[l] === 0 ? null : Math.exp(-lineSums[l] / lineCounts[l]),
    })),
    entries,
  };
}

/** ln softmax(row)[target] for the row of V logits at `offset`, in float64 (max subtracted, so nothing overflows). */
function logSoftmaxAt(logits: Float32Array, offset: number, V: number, target: number): number {
  let max = -Infinity;
  for (let v = 0; v < V; v++) if (logits[offset + v] > max) max = logits[offset + v];
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(logits[offset + v] - max);
  return logits[offset + target] - max - Math.log(sum);
}
