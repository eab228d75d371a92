/**
 * Early stopping (an addition beyond the paper): stop when the validation perplexity has not improved
 * for `patience` epochs, keeping a copy of the best weights so they can be restored and scored on test.
 * patience = 0 turns it off (no copies are kept, training never stops early).
 */
export interface EarlyStopping {
  patience: number;
  best: number; //               best validation perplexity so far
  bestEpoch: number | null;
  epochsSinceBest: number;
  bestParams: Float32Array | null; // a copy of the flat parameter buffer at the best epoch
}

export function createEarlyStopping(patience: number): EarlyStopping {
  return { patience, best: Infinity, bestEpoch: null, epochsSinceBest: 0, bestParams: null };
}

/** Records one epoch's validation perplexity; returns true when training should stop. */
export function earlyStoppingUpdate(state: EarlyStopping, epoch: number, validPerplexity: number, params: Float32Array): boolean {
  if (validPerplexity < state.best) {
    state.best = validPerplexity;
    state.bestEpoch = epoch;
    state.epochsSinceBest = 0;
    if (state.patience > 0) {
      if (state.bestParams === null) state.bestParams = params.slice();
      else state.bestParams.set(params);
    }
    return false;
  }
  state.epochsSinceBest++;
  return state.patience > 0 && state.epochsSinceBest >= state.patience;
}

/** Copies the best weights back into `params`; returns false when there is nothing to restore. */
export function restoreBest(state: EarlyStopping, params: Float32Array): boolean {
  if (state.bestParams === null) return false;
  params.set(state.bestParams);
  return true;
}
