import type { Backend } from '../kernels/backend.js';
import { batchify, fillWindow, windowCount, type Batched } from '../data/text.js';
import { carryState, createWorkspace, modelForward, resetState, type Workspace } from '../model/lm.js';
import type { Model } from '../model/params.js';

export interface Evaluation {
  perplexity: number; // exp(nll / tokens)
  nll: number; //        summed negative log-likelihood (nats)
  tokens: number; //     predicted tokens
  batchSize: number;
  bptt: number;
  complete: boolean; //  false when a token limit cut the pass short
}

/**
 * Perplexity of a token stream: batchify into B rows, run windows of T steps with dropout off, carrying
 * the state from window to window, starting from zero state. `maxTokens` stops after about that many
 * predicted tokens (for time-budgeted runs); the result then says complete: false.
 * `scratch`: a workspace to run in when its B matches and its T is long enough (the trainer passes its own,
 * so that an evaluation allocates nothing); the state it carries (h0, c0) is put back afterwards.
 */
export function evaluate(
  backend: Backend, model: Model, stream: Int32Array, B: number, T: number, maxTokens: number | null = null,
  source = 'the evaluation split', scratch: Workspace | null = null,
): Evaluation {
  const data = batchify(stream, B, source);
  const reuse = scratch !== null && scratch.B === B && scratch.T >= T;
  const ws = reuse ? scratch : createWorkspace(model, T, B, 'none', backend);
  const carried = reuse ? ws.lstm.map((a) => [a.h0.slice(), a.c0.slice()]) : null;
  try {
    return evaluateIn(backend, model, ws, data, B, T, maxTokens);
  } finally {
    if (carried !== null) ws.lstm.forEach((a, l) => { a.h0.set(carried[l][0]); a.c0.set(carried[l][1]); });
  }
}

function evaluateIn(
  backend: Backend, model: Model, ws: Workspace, data: Batched, B: number, T: number,
  maxTokens: number | null,
): Evaluation {
  resetState(ws);
  const windows = windowCount(data, T);
  let nll = 0, tokens = 0, complete = true;
  for (let k = 0; k < windows; k++) {
    if (maxTokens !== null && tokens >= maxTokens) { complete = false; break; }
    const len = fillWindow(data, k, T, ws.tokens, ws.targets);
    nll += modelForward(backend, model, ws, len, { train: false, placement: 'none', keepProb: 1, rng: null });
    carryState(ws, len, model.config.hidden);
    tokens += len * B;
  }
  return { perplexity: Math.exp(nll / tokens), nll, tokens, batchSize: B, bptt: T, complete };
}
