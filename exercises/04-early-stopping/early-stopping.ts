import { createEarlyStopping, type EarlyStopping } from '../../src/train/early-stopping.js';

/**
 * Exercise 4: early stopping (an addition beyond the paper; the trainer's --patience N).
 * Fill in the three bodies; README.md in this folder explains each one.
 * Check your work with: npm run exercise -- 4
 *
 * After every epoch the validation perplexity is recorded. Training stops when it has not improved
 * (gone strictly below the best so far) for `patience` epochs in a row, and the weights of the best
 * epoch are put back. patience = 0 turns early stopping off: training never stops early, and no copy of
 * the weights is kept.
 *
 * The state (src/train/early-stopping.ts; createEarlyStopping(patience) makes a fresh one):
 *   patience         epochs without improvement that stop training; 0 = off
 *   best             the best (lowest) validation perplexity so far; Infinity before the first epoch
 *   bestEpoch        the 1-based epoch that reached it; null before the first epoch
 *   epochsSinceBest  epochs since then without improvement
 *   bestParams       a copy of the parameters at the best epoch (null until there is one, and always with patience 0)
 */
export { createEarlyStopping, type EarlyStopping };

/**
 * Records one epoch's validation perplexity and returns true when training should stop.
 *   params: the model's flat parameter buffer (copied when this epoch is the best so far)
 */
export function earlyStoppingUpdate(state: EarlyStopping, epoch: number, validPerplexity: number, params: Float32Array): boolean {
  throw new Error('not implemented yet: earlyStoppingUpdate');
}

/** Copies the best weights back into params (the same buffer); returns false when there is nothing to restore. */
export function restoreBest(state: EarlyStopping, params: Float32Array): boolean {
  throw new Error('not implemented yet: restoreBest');
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
  throw new Error('not implemented yet: trainWithEarlyStopping');
}
