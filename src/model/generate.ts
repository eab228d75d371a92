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
}

const EVALUATION: ForwardOptions = { train: false, placement: 'none', keepProb: 1, rng: null };

/**
 * Feeds the prompt, then samples `count` ids, each fed back as the next input. Returns only the new ids.
 * The same model, backend, prompt and seed give the same ids.
 */
export function generateTokens(backend: Backend, model: Model, vocab: Vocabulary, options: GenerateOptions): number[] {
  const { hidden: H, vocabSize: V } = model.config;
  const ws = createWorkspace(model, 1, 1, 'none');
  resetState(ws);
  const rng = createRng(options.seed);
  const weights = new Float64Array(V); // sampling scratch, allocated once

  const context = options.prompt.length > 0 ? options.prompt : [startId(vocab)];
  for (const id of context) step(backend, model, ws, id, H);
  const generated: number[] = [];
  for (let k = 0; k < options.count; k++) {
    const id = sampleFromLogits(ws.logits, V, options.temperature, rng, weights);
    generated.push(id);
    if (k + 1 < options.count) step(backend, model, ws, id, H);
  }
  return generated;
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
 */
export function sampleFromLogits(logits: Float32Array, V: number, temperature: number, rng: Rng, weights: Float64Array): number {
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
  const u = nextFloat(rng) * total;
  let cumulative = 0;
  for (let v = 0; v < V; v++) {
    cumulative += weights[v];
    if (u < cumulative) return v;
  }
  return best; // only reached when rounding leaves u at the very top of the sum
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
