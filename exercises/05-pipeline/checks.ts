import { corpusFingerprint, type Corpus } from '../../src/data/corpus.js';
import { jsBackend } from '../../src/kernels/js.js';
import type { TrainConfig } from '../../src/model/configs.js';
import { evaluate } from '../../src/train/evaluate.js';
import { trainModel } from '../../src/train/trainer.js';
import { defineExercise, expectClose, expectEqual, fail, type Check } from '../harness.js';
import type * as Stub from './pipeline.js';
import { BASELINE, loadToyCorpus } from './toy-corpus.js';

/**
 * Checks for exercise 5: the learner's training loop against the library's trainer, then the regularized
 * model against the unregularized baseline with the same budget. The TypeScript backend, so that the
 * numbers are the same on every machine.
 */
export type Impl = typeof Stub;

export const exercise = defineExercise<Impl>({
  number: 5,
  slug: '05-pipeline',
  title: 'The full regularized pipeline: beat the baseline',
  file: 'exercises/05-pipeline/pipeline.ts',
  solutionFile: 'exercises/solutions/05-pipeline.ts',
  note: 'Checks 3 and 4 train two small models (20 epochs each): about half a minute.',
  load: (solution) => (solution ? import('../solutions/05-pipeline.js') : import('./pipeline.js')),
  checks,
});

const backend = jsBackend;

/** A perplexity for messages. */
const fmt = (perplexity: number): string => perplexity.toFixed(2);

/** The library's trainer on the same corpus: the reference for the learner's loop, and the baseline. */
async function libraryRun(corpus: Corpus, config: TrainConfig) {
  const result = await trainModel({
    backend, corpus, corpusFingerprint: corpusFingerprint(corpus), config, savePath: null, logPath: null,
  });
  return { model: result.model, validPerplexities: result.state.epochs.map((e) => e.validPerplexity) };
}

/** Runs fn once, on first use; later calls share its result (or its error). */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | null = null;
  return () => (result ??= fn());
}

const LOOP_HINT = 'follow trainModel (src/train/trainer.ts) step for step: rng = createRng(config.seed); createModel; '
  + 'initializeParameters(model, config.init, rng); then for every epoch lr = learningRateForEpoch(config, epoch) and resetState(ws), '
  + 'and for every window fillWindow, zeroGradients, modelForward and modelBackward with { train: true, placement, keepProb, rng }, '
  + 'sgdStep(model, lr, config.weightDecay, clipScale(modelGradientNorm(model), config.clip)), carryState; '
  + 'after the epoch evaluate(backend, model, corpus.valid, config.batchSize, config.bptt).';

export function checks(impl: Impl): Check[] {
  const corpus = loadToyCorpus();
  // the regularized run, shared by checks 3 and 4
  const regularizedRun = once(async () => {
    const config = impl.regularize(BASELINE);
    return { config, result: impl.trainPipeline(backend, corpus, config) };
  });
  return [
    {
      name: 'regularize turns on the four regularizers and keeps the budget',
      hint: 'return { ...base, keepProb: <below 1>, placement: \'zaremba\', layerNorm: true, weightDecay: <above 0>, patience: <above 0> }: '
        + 'keep probabilities around 0.5, λ around 1e-4 … 1e-3 and a patience of several epochs are sensible places to start.',
      run() {
        const config = impl.regularize(BASELINE);
        if (!(config.keepProb > 0 && config.keepProb < 1)) fail('dropout is off', { expected: 'a keep probability in (0, 1)', got: `keepProb ${config.keepProb}` });
        expectEqual('the dropout placement', config.placement, 'zaremba', 'the paper\'s placement: on the non-recurrent connections only.');
        expectEqual('layerNorm', config.layerNorm, true);
        if (!(config.weightDecay > 0)) fail('weight decay is off', { expected: 'weightDecay > 0', got: String(config.weightDecay) });
        if (!(Number.isInteger(config.patience) && config.patience > 0)) {
          fail('early stopping is off', { expected: 'a whole number of epochs, patience > 0', got: String(config.patience) });
        }
        const budget = ['layers', 'hidden', 'epochs', 'bptt', 'batchSize', 'lr', 'maxEpoch', 'decay', 'clip', 'init', 'seed'] as const;
        for (const key of budget) {
          expectEqual(`${key} (part of the model or the budget, the same for both models)`, config[key], BASELINE[key],
            'change only keepProb, placement, layerNorm, weightDecay and patience: the comparison is fair only with the same model size, steps and optimizer.');
        }
        return `keep probability ${config.keepProb}, layer norm, weight decay ${config.weightDecay}, patience ${config.patience}`;
      },
    },
    {
      name: 'trainPipeline trains exactly as the library\'s trainModel (2 epochs, with dropout, layer norm, weight decay, a learning-rate decay)',
      hint: LOOP_HINT,
      async run() {
        const config: TrainConfig = {
          ...BASELINE, epochs: 2, maxEpoch: 1, decay: 0.5, keepProb: 0.5, layerNorm: true, weightDecay: 0.01, patience: 0,
        };
        const mine = impl.trainPipeline(backend, corpus, config);
        const reference = await libraryRun(corpus, config);
        expectEqual('the number of validation perplexities (one per epoch)', mine.validPerplexities.length, 2);
        for (let e = 0; e < 2; e++) {
          const got = mine.validPerplexities[e], expected = reference.validPerplexities[e];
          if (!(Math.abs(got - expected) <= 0.005 * expected)) {
            fail(`the validation perplexity after epoch ${e + 1} differs from trainModel's with the same configuration`, {
              expected: fmt(expected), got: fmt(got),
              hint: e === 0 ? LOOP_HINT : 'epoch 1 matches, epoch 2 does not: the learning rate of each epoch comes from '
                + 'learningRateForEpoch(config, epoch), and the hidden state is reset (resetState) at the start of each epoch.',
            });
          }
        }
        return `validation perplexities ${mine.validPerplexities.map(fmt).join(', ')} (trainModel: ${reference.validPerplexities.map(fmt).join(', ')})`;
      },
    },
    {
      name: 'trainPipeline(regularize(BASELINE)) returns the weights of its best epoch, and reports their validation perplexity',
      hint: 'after the loop call restoreBest(early, model.params); weightsFromEpoch is then early.bestEpoch and validPerplexity early.best '
        + '(with patience 0: the last epoch and its perplexity).',
      async run() {
        const { config, result } = await regularizedRun();
        const { validPerplexities: curve } = result;
        if (curve.length === 0 || curve.length > config.epochs) {
          fail('validPerplexities should hold one perplexity per epoch trained', { expected: `1 to ${config.epochs} values`, got: `${curve.length}` });
        }
        const best = Math.min(...curve), bestEpoch = curve.indexOf(best) + 1;
        expectEqual('weightsFromEpoch (the best epoch)', result.weightsFromEpoch, bestEpoch);
        expectClose('validPerplexity (the best epoch\'s)', result.validPerplexity, best, 1e-6);
        const measured = evaluate(backend, result.model, corpus.valid, config.batchSize, config.bptt).perplexity;
        expectClose('the validation perplexity of the returned model, measured again', measured, result.validPerplexity, 1e-4,
          'the model you return must hold the weights you report: restore the best weights into model.params (the same buffer) after the loop.');
        return `${curve.length} epochs, best ${fmt(best)} at epoch ${bestEpoch}`;
      },
    },
    {
      name: 'the regularized model beats the unregularized baseline on validation, with the same budget',
      hint: 'if check 3 passes, the loop is right and it is the settings: try another keep probability (0.4 … 0.7), a smaller weight decay, '
        + 'or more patience (dropout makes validation perplexity noisy, and a short patience stops training too soon).',
      async run() {
        const { result } = await regularizedRun();
        const baseline = await libraryRun(corpus, BASELINE);
        const final = baseline.validPerplexities[baseline.validPerplexities.length - 1];
        const baselineBest = Math.min(...baseline.validPerplexities);
        const summary = `baseline ${fmt(final)} after ${BASELINE.epochs} epochs (its best was ${fmt(baselineBest)}, at epoch `
          + `${baseline.validPerplexities.indexOf(baselineBest) + 1}, before it overfit); yours ${fmt(result.validPerplexity)}`;
        if (!(result.validPerplexity < final)) {
          fail('the regularized model is not better than the baseline', {
            expected: `a validation perplexity below the baseline's ${fmt(final)}`, got: `${fmt(result.validPerplexity)} (${summary})`,
          });
        }
        return `validation perplexity: ${summary}, ${((1 - result.validPerplexity / final) * 100).toFixed(0)}% lower`;
      },
    },
  ];
}
