import { EOS, tokenize, UNK, type TokenLevel, type Vocabulary } from '../data/text.js';
import { UserError } from '../errors.js';
import type { Backend } from '../kernels/backend.js';
import { createRng, nextFloat, type Rng } from '../util/rng.js';
import { carryState, createWorkspace, modelForward, resetState, type ForwardOptions, type Workspace } from './lm.js';
import type { Model } from './params.js';

/**
 * Sampling text from a trained model: one sequence (B = 1), one step at a time (T = 1), the state
 * carried from step to step exactly as evaluation carries it from window to window.
 */

export interface GenerateOptions {
  count: number; //        how many new tokens to sample
  temperature: number; //  softmax(logits / temperature); 0 = greedy (argmax)
  seed: number; //         the sampler's random seed
  prompt: number[]; //     ids read before sampling; empty starts from <eos> (the start of a line)
  topK?: number | null; // sample only among the K most likely tokens (null or ≥ V: all)
  topP?: number | null; // nucleus: only among the most likely tokens whose probabilities reach P (null or 1: all)
}

/** Which tokens a draw may pick: the top K, then of those the nucleus of mass P (see sampleFromLogits). */
export interface SamplingFilter {
  topK: number | null;
  topP: number | null;
}

const EVALUATION: ForwardOptions = { train: false, placement: 'none', keepProb: 1, rng: null };

/**
 * Feeds the prompt, then samples `count` ids, each fed back as the next input. Returns only the new ids.
 * The same model, backend, prompt and seed give the same ids.
 */
export function generateTokens(backend: Backend, model: Model, vocab: Vocabulary, options: GenerateOptions): number[] {
  return generateSamples(backend, model, vocab, options, 1)[0];
}

/**
 * `samples` continuations of one prompt: the prompt is read once, and every sample starts again from the
 * state after it. One random stream runs through the samples in turn, so the first sample is the one
 * generateTokens draws with the same options.
 */
export function generateSamples(
  backend: Backend, model: Model, vocab: Vocabulary, options: GenerateOptions, samples: number,
): number[][] {
  const { hidden: H, vocabSize: V } = model.config;
  const ws = createWorkspace(model, 1, 1, 'none');
  resetState(ws);
  const rng = createRng(options.seed);
  const scratch = createSamplingScratch(V); // allocated once
  const filter: SamplingFilter = { topK: options.topK ?? null, topP: options.topP ?? null };

  const context = options.prompt.length > 0 ? options.prompt : [startId(vocab)];
  for (const id of context) step(backend, model, ws, id, H);
  // the state and the next token's logits after the prompt, where every sample starts
  const promptLogits = ws.logits.slice(0, V);
  const promptState = ws.lstm.map((a) => [a.h0.slice(), a.c0.slice()]);
  const all: number[][] = [];
  for (let s = 0; s < samples; s++) {
    ws.logits.set(promptLogits);
    ws.lstm.forEach((a, l) => { a.h0.set(promptState[l][0]); a.c0.set(promptState[l][1]); });
    const generated: number[] = [];
    for (let k = 0; k < options.count; k++) {
      const id = sampleFromLogits(ws.logits, V, options.temperature, rng, scratch.weights, filter, scratch.order);
      generated.push(id);
      if (k + 1 < options.count) step(backend, model, ws, id, H);
    }
    all.push(generated);
  }
  return all;
}

/** The sampler's scratch for a vocabulary of V: the weights, and the token order the filters sort. */
export function createSamplingScratch(V: number): { weights: Float64Array; order: Uint32Array } {
  return { weights: new Float64Array(V), order: new Uint32Array(V) };
}

/** `<eos>` is where every training line starts; a vocabulary cut by --vocab-size may lack it. */
function startId(vocab: Vocabulary): number {
  return vocab.ids.get(EOS) ?? vocab.ids.get(UNK) ?? 0;
}

/** One step: reads `id` from the carried state, leaves the next token's logits (1, V) in ws.logits. */
function step(backend: Backend, model: Model, ws: Workspace, id: number, H: number): void {
  ws.tokens[0] = id;
  ws.targets[0] = 0; // the loss is not needed, but the forward reads a valid target
  modelForward(backend, model, ws, 1, EVALUATION);
  carryState(ws, 1, H);
}

/**
 * Draws an id from softmax(logits / temperature) with one uniform draw against the cumulative sum
 * (temperature 0: the argmax, first on ties, no draw). weights is a (V) scratch buffer.
 *
 * With a filter, the draw is from the same distribution restricted and renormalized: top-k keeps the K
 * tokens of highest probability (ties broken towards the lower id); top-p (nucleus sampling, Holtzman et
 * al. 2020) then keeps, of those, the fewest most probable tokens whose probabilities, renormalized over
 * the top K, add up to at least P. The filter sorts the tokens into `order`, a (V) scratch buffer. The
 * argmax is in every filter's set, so greedy decoding ignores the filter.
 */
export function sampleFromLogits(
  logits: Float32Array, V: number, temperature: number, rng: Rng, weights: Float64Array,
  filter: SamplingFilter | null = null, order: Uint32Array | null = null,
): number {
  let best = 0;
  for (let v = 1; v < V; v++) if (logits[v] > logits[best]) best = v;
  if (temperature === 0) return best;
  // exp((logit − max) / temperature): the largest weight is exactly 1, so nothing overflows
  const max = logits[best];
  let total = 0;
  for (let v = 0; v < V; v++) {
    weights[v] = Math.exp((logits[v] - max) / temperature);
    total += weights[v];
  }
  const topK = filter?.topK ?? null, topP = filter?.topP ?? null;
  if ((topK !== null && topK < V) || (topP !== null && topP < 1)) {
    total = restrictWeights(weights, V, topK ?? V, topP ?? 1, order ?? new Uint32Array(V));
  }
  const u = nextFloat(rng) * total;
  let cumulative = 0;
  for (let v = 0; v < V; v++) {
    cumulative += weights[v];
    if (u < cumulative) return v;
  }
  return best; // only reached when rounding leaves u at the very top of the sum
}

/**
 * Zeroes the weights outside the top K and outside the nucleus of mass P among those (see sampleFromLogits),
 * and returns the sum of the weights kept. order: (V) scratch.
 */
function restrictWeights(weights: Float64Array, V: number, topK: number, topP: number, order: Uint32Array): number {
  for (let v = 0; v < V; v++) order[v] = v;
  const sorted = order.subarray(0, V).sort((a, b) => weights[b] - weights[a] || a - b); // most probable first
  const K = Math.min(topK, V);
  let massK = 0;
  for (let r = 0; r < K; r++) massK += weights[sorted[r]];
  // the nucleus: the shortest prefix of the top K reaching mass P of the top K's mass (at least one token)
  let kept = 0, mass = 0;
  while (kept < K) {
    mass += weights[sorted[kept++]];
    if (mass >= topP * massK) break;
  }
  for (let r = kept; r < V; r++) weights[sorted[r]] = 0;
  return mass;
}

/**
 * Prompt text → tokens at the model's level, without the `<eos>` that would end its last line (the
 * generated text continues that line); a prompt ending in a line end ("\n" or "\r") keeps it.
 */
export function promptTokens(text: string, level: TokenLevel): string[] {
  const tokens = tokenize(text, level);
  if (!/[\n\r]$/.test(text) && tokens[tokens.length - 1] === EOS) tokens.pop();
  return tokens;
}

/**
 * Prompt tokens → ids; tokens outside the vocabulary become `<unk>` and are listed (once each, in order)
 * in `unknown`, for a warning. Throws if the vocabulary has no `<unk>` to use for them.
 */
export function encodePrompt(tokens: string[], vocab: Vocabulary): { ids: number[]; unknown: string[] } {
  const unk = vocab.ids.get(UNK);
  const ids: number[] = [];
  const unknown: string[] = [];
  for (const token of tokens) {
    const id = vocab.ids.get(token);
    if (id !== undefined) { ids.push(id); continue; }
    if (!unknown.includes(token)) unknown.push(token);
    if (unk === undefined) {
      throw new UserError(`--prompt: "${token}" is not in the model's vocabulary, which has no ${UNK}; leave it out of the prompt`);
    }
    ids.push(unk);
  }
  return { ids, unknown };
}

/**
 * Tokens → text: `<eos>` becomes a line break; words are joined by single spaces (none next to a line
 * break), characters are concatenated.
 */
export function formatTokens(words: string[], level: TokenLevel): string {
  let text = '';
  for (const word of words) {
    if (word === EOS) text += '\n';
    else if (level === 'word' && text.length > 0 && !text.endsWith('\n')) text += ' ' + word;
    else text += word;
  }
  return text;
}
