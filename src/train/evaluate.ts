import type { Backend } from '../kernels/backend.js';
import { batchify, fillWindow, windowCount } from '../data/text.js';
import { carryState, createWorkspace, modelForward, resetState } from '../model/lm.js';
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
 */
export function evaluate(
  backend: Backend, model: Model, stream: Int32Array, B: number, T: number, maxTokens: number | null = null,
  source = 'the evaluation split',
): Evaluation {
  const data = batchify(stream, B, source);
  const ws = createWorkspace(model, T, B, 'none');
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
