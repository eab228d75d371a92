import { defineExercise, expectArrayClose, expectEqual, fail, preview, type Check } from '../harness.js';
import type * as Stub from './early-stopping.js';

/** Checks for exercise 4: the patience logic, keeping and restoring the best weights, the loop around them. */
export type Impl = typeof Stub;

export const exercise = defineExercise<Impl>({
  number: 4,
  slug: '04-early-stopping',
  title: 'Early stopping: patience, keeping and restoring the best weights',
  file: 'exercises/04-early-stopping/early-stopping.ts',
  solutionFile: 'exercises/solutions/04-early-stopping.ts',
  load: (solution) => (solution ? import('../solutions/04-early-stopping.js') : import('./early-stopping.js')),
  checks,
});

/**
 * Feeds a validation curve to earlyStoppingUpdate and compares every answer with the expected one.
 * The parameters hold the epoch number, so a restored copy says which epoch it came from.
 */
function feed(impl: Impl, patience: number, curve: number[], stops: boolean[], hint?: string): Stub.EarlyStopping {
  const state = impl.createEarlyStopping(patience);
  const params = new Float32Array(3);
  curve.forEach((perplexity, k) => {
    const epoch = k + 1;
    params.fill(epoch);
    const stop = impl.earlyStoppingUpdate(state, epoch, perplexity, params);
    if (stop !== stops[k]) {
      fail(`with patience ${patience} and validation perplexities ${curve.slice(0, epoch).join(', ')}, `
        + `earlyStoppingUpdate at epoch ${epoch} returned ${stop}`, {
        expected: stops[k] ? 'true (stop: no improvement for patience epochs)' : 'false (go on)',
        got: String(stop), hint,
      });
    }
  });
  return state;
}

/** A fake training run: trainEpoch(e) sets every weight to e; validate() reads the curve at that epoch. */
function fakeRun(impl: Impl, curve: number[], maxEpochs: number, patience: number) {
  const params = new Float32Array(4);
  const calls: number[] = [];
  const run = impl.trainWithEarlyStopping(params, maxEpochs, patience,
    (epoch) => { calls.push(epoch); params.fill(epoch); },
    () => curve[params[0] - 1]);
  return { run, params, calls };
}

export function checks(impl: Impl): Check[] {
  return [
    {
      name: 'earlyStoppingUpdate records each improvement (best, bestEpoch, epochsSinceBest = 0) and says go on',
      hint: 'when validPerplexity < state.best: set best, bestEpoch = epoch, epochsSinceBest = 0, keep a copy of params, and return false.',
      run() {
        const state = impl.createEarlyStopping(2);
        const params = new Float32Array(2);
        [50, 40, 35].forEach((perplexity, k) => {
          params.fill(k + 1);
          expectEqual(`the answer at epoch ${k + 1} (perplexities 50, 40, 35)`, impl.earlyStoppingUpdate(state, k + 1, perplexity, params), false);
          expectEqual(`state.best after epoch ${k + 1}`, state.best, perplexity);
          expectEqual(`state.bestEpoch after epoch ${k + 1}`, state.bestEpoch, k + 1);
          expectEqual(`state.epochsSinceBest after epoch ${k + 1}`, state.epochsSinceBest, 0);
        });
      },
    },
    {
      name: 'earlyStoppingUpdate stops after exactly `patience` epochs without improvement; equal or NaN is no improvement',
      hint: 'when the perplexity is not strictly lower than state.best (a NaN never is: NaN < x is false), add 1 to epochsSinceBest and return true once it reaches patience.',
      run() {
        const state = feed(impl, 3, [50, 40, 45, 46, 47], [false, false, false, false, true]);
        expectEqual('state.epochsSinceBest after 50, 40, 45, 46, 47', state.epochsSinceBest, 3);
        expectEqual('state.bestEpoch after 50, 40, 45, 46, 47', state.bestEpoch, 2);
        feed(impl, 2, [30, 30, 30], [false, false, true], 'an equal perplexity is not an improvement: compare with <, not <=.');
        const nan = feed(impl, 2, [30, NaN, NaN], [false, false, true], 'a NaN perplexity (a diverged model) is not an improvement.');
        expectEqual('state.best after 30, NaN, NaN', nan.best, 30);
      },
    },
    {
      name: 'earlyStoppingUpdate starts counting again after an improvement',
      hint: 'set epochsSinceBest back to 0 whenever the perplexity improves: patience counts consecutive epochs without improvement.',
      run() {
        const state = feed(impl, 2, [50, 55, 45, 50, 52], [false, false, false, false, true]);
        expectEqual('state.bestEpoch after 50, 55, 45, 50, 52', state.bestEpoch, 3);
      },
    },
    {
      name: 'earlyStoppingUpdate keeps a copy of the best weights, not a reference to the live buffer',
      hint: 'params keeps changing as training goes on: store params.slice() (or copy into an existing bestParams with .set(params)), never params itself.',
      run() {
        const state = impl.createEarlyStopping(3);
        const params = Float32Array.from([1, 1, 1]);
        impl.earlyStoppingUpdate(state, 1, 50, params);
        if (state.bestParams === params) fail('state.bestParams is the live parameter buffer itself, not a copy');
        params.fill(2);
        impl.earlyStoppingUpdate(state, 2, 60, params); // worse: the copy must still hold epoch 1
        if (state.bestParams === null) fail('state.bestParams is null after an improvement (patience 3)', { hint: 'keep a copy whenever the perplexity improves and patience > 0.' });
        expectArrayClose('state.bestParams after epoch 2 (worse than epoch 1)', state.bestParams!, [1, 1, 1], 0);
        params.fill(3);
        impl.earlyStoppingUpdate(state, 3, 40, params); // better: the copy now holds epoch 3
        params.fill(4);
        expectArrayClose('state.bestParams after epoch 3 (the new best)', state.bestParams!, [3, 3, 3], 0,
          'when a later epoch is better, overwrite the copy with the current params.');
      },
    },
    {
      name: 'restoreBest copies the best weights back into the same buffer and says whether there were any',
      hint: 'if state.bestParams is null return false; otherwise params.set(state.bestParams) (into the buffer you were given: the model\'s views point into it) and return true.',
      run() {
        const state = impl.createEarlyStopping(2);
        const params = Float32Array.from([7, 7]);
        expectEqual('restoreBest before any epoch', impl.restoreBest(state, params), false);
        expectArrayClose('params after restoreBest with nothing to restore', params, [7, 7], 0);
        params.fill(1);
        impl.earlyStoppingUpdate(state, 1, 50, params);
        params.fill(2);
        impl.earlyStoppingUpdate(state, 2, 55, params);
        expectEqual('restoreBest after two epochs', impl.restoreBest(state, params), true);
        expectArrayClose('params after restoreBest (the best was epoch 1)', params, [1, 1], 0);
      },
    },
    {
      name: 'patience 0 turns early stopping off: it never stops, keeps no copy, and restores nothing (but still tracks the best)',
      hint: 'with state.patience === 0: always return false and do not copy params, but still update best, bestEpoch and epochsSinceBest.',
      run() {
        const state = feed(impl, 0, [50, 60, 70, 80, 90, 100], [false, false, false, false, false, false],
          'with patience 0 earlyStoppingUpdate always returns false.');
        expectEqual('state.bestParams with patience 0', state.bestParams, null);
        expectEqual('state.best with patience 0', state.best, 50);
        expectEqual('state.bestEpoch with patience 0', state.bestEpoch, 1);
        expectEqual('restoreBest with patience 0', impl.restoreBest(state, new Float32Array(3)), false);
      },
    },
    {
      name: 'trainWithEarlyStopping trains until patience runs out, then puts the best epoch\'s weights back',
      hint: 'state = createEarlyStopping(patience); for epoch = 1 … maxEpochs: trainEpoch(epoch); if (earlyStoppingUpdate(state, epoch, validate(), params)) stop; afterwards restoreBest(state, params).',
      run() {
        const curve = [50, 40, 35, 33, 34, 36, 38, 30];
        const { run, params, calls } = fakeRun(impl, curve, curve.length, 2);
        expectEqual(`the epochs trained (perplexities ${curve.join(', ')}, patience 2)`, calls.join(', '), '1, 2, 3, 4, 5, 6',
          'stop right after the epoch where earlyStoppingUpdate returns true: epochs 5 and 6 did not improve on 33.');
        expectEqual('run.epochsTrained', run.epochsTrained, 6);
        expectEqual('run.best', run.best, 33);
        expectEqual('run.bestEpoch', run.bestEpoch, 4);
        expectEqual('run.stoppedEarly', run.stoppedEarly, true);
        if (params.some((v) => v !== 4)) {
          fail('the weights at the end are not those of the best epoch (4)', {
            expected: preview([4, 4, 4, 4]), got: preview(params), hint: 'call restoreBest(state, params) after the loop.',
          });
        }
      },
    },
    {
      name: 'trainWithEarlyStopping runs every epoch when patience never runs out, and keeps the last weights with patience 0',
      hint: 'the loop ends after maxEpochs even without a stop; restoreBest then still puts the best weights back (when patience > 0), and with patience 0 there is nothing to restore.',
      run() {
        const curve = [50, 40, 35, 36];
        const patient = fakeRun(impl, curve, 4, 5);
        expectEqual('the epochs trained with patience 5 (perplexities 50, 40, 35, 36)', patient.calls.join(', '), '1, 2, 3, 4');
        expectEqual('run.stoppedEarly with patience 5', patient.run.stoppedEarly, false);
        expectArrayClose('the weights at the end with patience 5 (best epoch 3)', patient.params, [3, 3, 3, 3], 0,
          'restore the best weights after the loop also when it ran to maxEpochs.');
        const off = fakeRun(impl, curve, 4, 0);
        expectEqual('the epochs trained with patience 0', off.calls.join(', '), '1, 2, 3, 4');
        expectArrayClose('the weights at the end with patience 0 (the last epoch\'s)', off.params, [4, 4, 4, 4], 0);
        expectEqual('run.bestEpoch with patience 0', off.run.bestEpoch, 3);
      },
    },
  ];
}
