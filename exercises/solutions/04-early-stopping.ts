import { createEarlyStopping, type EarlyStopping } from '../../src/train/early-stopping.js';

/**
 * Solution to exercise 4: early stopping. Training stops when the validation perplexity has not
 * improved (gone strictly below the best so far) for `patience` epochs in a row, and the weights of the
 * best epoch are put back. patience = 0 turns it off.
 */
export { createEarlyStopping, type EarlyStopping };

/**
 * Records one epoch's validation perplexity and returns true when training should stop.
 *   params: the model's flat parameter buffer (copied when this epoch is the best so far)
 */
export function earlyStoppingUpdate(state: EarlyStopping, epoch: number, validPerplexity: number, params: Float32Array): boolean {
  if (validPerplexity < state.best) { // strictly better; a NaN is never better
    state.best = validPerplexity;
    state.bestEpoch = epoch;
    state.epochsSinceBest = 0;
    if (state.patience > 0) {
      // a copy, not a reference: params keeps changing as training goes on
      if (state.bestParams === null) state.bestParams = params.slice();
      else state.bestParams.set(params);
    }
    return false;
  }
  state.epochsSinceBest++;
  return state.patience > 0 && state.epochsSinceBest >= state.patience;
}

/** Copies the best weights back into params (the same buffer); returns false when there is nothing to restore. */
export function restoreBest(state: EarlyStopping, params: Float32Array): boolean {
  if (state.bestParams === null) return false;
  params.set(state.bestParams); // into the same buffer: the model's named views point into it
  return true;
}

/** What trainWithEarlyStopping did. */
export interface EarlyStoppingRun {
  epochsTrained: number; //   how many epochs ran (trainEpoch calls)
  best: number; //            the best validation perplexity
  bestEpoch: number | null;
  stoppedEarly: boolean; //   true when patience ran out (earlyStoppingUpdate returned true)
}

/**
 * The training loop around the two functions above: for epoch = 1, 2, … maxEpochs, call trainEpoch(epoch)
 * (it changes params), then validate() (the validation perplexity of the current params), then
 * earlyStoppingUpdate; stop as soon as it says so. At the end put the best weights back into params.
 */
export function trainWithEarlyStopping(
  params: Float32Array, maxEpochs: number, patience: number,
  trainEpoch: (epoch: number) => void, validate: () => number,
): EarlyStoppingRun {
  const state = createEarlyStopping(patience);
  let epochsTrained = 0, stoppedEarly = false;
  for (let epoch = 1; epoch <= maxEpochs; epoch++) {
    trainEpoch(epoch);
    epochsTrained = epoch;
    if (earlyStoppingUpdate(state, epoch, validate(), params)) {
      stoppedEarly = true;
      break;
    }
  }
  restoreBest(state, params);
  return { epochsTrained, best: state.best, bestEpoch: state.bestEpoch, stoppedEarly };
}
