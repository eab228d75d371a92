import { createModel, initializeParameters, setDenseGradients, type Model, type TensorSpec } from '../../src/model/params.js';
import { sgdStep } from '../../src/train/sgd.js';
import { checkGradient } from '../../src/util/gradcheck.js';
import { createRng } from '../../src/util/rng.js';
import { defineExercise, expectClose, fail, fmt, randomArray, type Check } from '../harness.js';
import type * as Stub from './weight-decay.js';

/** Checks for exercise 3: the penalty, its gradient and the decayed SGD step, on weight matrices only. */
export type Impl = typeof Stub;

export const exercise = defineExercise<Impl>({
  number: 3,
  slug: '03-weight-decay',
  title: 'Weight decay: the penalty and its gradient, on weights only',
  file: 'exercises/03-weight-decay/weight-decay.ts',
  solutionFile: 'exercises/solutions/03-weight-decay.ts',
  load: (solution) => (solution ? import('../solutions/03-weight-decay.js') : import('./weight-decay.js')),
  checks,
});

const KIND_HINT = 'loop over model.tensors and use t.kind === \'weight\' to pick the matrices; entries t.offset … t.offset + t.size − 1 of model.params are that tensor.';

/**
 * A small layer-norm model (so that it has every kind of tensor), with every parameter random, the
 * gains and shifts included, so that decaying the wrong tensors changes the numbers.
 */
function smallModel(seed: number): Model {
  const model = createModel({ vocabSize: 7, hidden: 3, layers: 2, layerNorm: true });
  const rng = createRng(seed);
  initializeParameters(model, 0.5, rng);
  model.params.set(randomArray(model.params.length, rng, 0.8));
  setDenseGradients(model, randomArray(model.grads.length, rng, 0.5)); // the embedding's too (the library keeps its rows apart)
  return model;
}

/** Σ of squares over the tensors of the given kinds, in float64. */
function sumOfSquares(model: Model, kinds: TensorSpec['kind'][]): number {
  let sum = 0;
  for (const t of model.tensors) {
    if (!kinds.includes(t.kind)) continue;
    for (let k = t.offset; k < t.offset + t.size; k++) sum += model.params[k] ** 2;
  }
  return sum;
}

/** The tensor holding flat index k, for messages. */
function tensorAt(model: Model, k: number): TensorSpec {
  return model.tensors.find((t) => k >= t.offset && k < t.offset + t.size)!;
}

/** Fails at the first entry of `got` that differs from `expected`, naming its tensor. */
function expectParamsClose(what: string, model: Model, got: Float32Array, expected: ArrayLike<number>, hint?: string): void {
  for (let k = 0; k < expected.length; k++) {
    if (Math.abs(got[k] - expected[k]) > 1e-6 * Math.max(1, Math.abs(expected[k]))) {
      const t = tensorAt(model, k);
      fail(`${what}: entry ${k - t.offset} of ${t.name} (kind '${t.kind}') is wrong`, {
        expected: fmt(expected[k]), got: fmt(got[k]),
        hint: hint ?? (t.kind === 'weight' ? undefined : `${t.name} is a ${t.kind}, not a weight matrix: weight decay must leave it alone. ${KIND_HINT}`),
      });
    }
  }
}

export function checks(impl: Impl): Check[] {
  return [
    {
      name: 'weightDecayPenalty = λ/2 · Σ w² over the weight matrices, and 0 when λ = 0',
      hint: KIND_HINT,
      run() {
        const model = smallModel(1), lambda = 0.3;
        const weights = sumOfSquares(model, ['weight']);
        const got = impl.weightDecayPenalty(model, lambda);
        const expected = 0.5 * lambda * weights;
        if (Math.abs(got - expected) > 1e-5 * expected) {
          const all = sumOfSquares(model, ['weight', 'bias', 'normGain', 'normBias']);
          const near = (x: number): boolean => Math.abs(got - x) <= 1e-5 * Math.abs(x);
          const hint = near(0.5 * lambda * all) ? `you summed every parameter; only tensors of kind 'weight' are decayed. ${KIND_HINT}`
            : near(lambda * weights) ? 'the penalty is λ/2 · Σ w²: the 1/2 is missing (it makes the gradient exactly λ·w).'
              : near(0.5 * weights) || near(weights) ? 'multiply by λ (lambda).'
                : undefined;
          fail('the penalty is wrong', { expected: fmt(expected), got: fmt(got), hint });
        }
        expectClose('the penalty with λ = 0', impl.weightDecayPenalty(model, 0), 0);
      },
    },
    {
      name: 'addWeightDecayGradient: the gradient of the penalty, checked by finite differences',
      hint: `d/dw (λ/2 · w²) = λ·w for the entries of weight matrices, and 0 for every other parameter. ${KIND_HINT}`,
      run() {
        const model = smallModel(2), lambda = 0.3;
        model.grads.fill(0);
        impl.addWeightDecayGradient(model, lambda);
        const analytic = model.grads.slice();
        const result = checkGradient(() => 0.5 * lambda * sumOfSquares(model, ['weight']), model.params, analytic);
        if (result.failures > 0 && result.worst !== null) {
          const t = tensorAt(model, result.worst.index);
          fail(`the gradient of entry ${result.worst.index - t.offset} of ${t.name} (kind '${t.kind}') does not match finite differences `
            + `(${result.failures} of ${result.checked} entries off)`, {
            expected: `${fmt(result.worst.numeric)} (finite difference of λ/2·Σw²)`, got: fmt(result.worst.analytic),
            hint: t.kind === 'weight' ? undefined : `${t.name} is a ${t.kind}: it is not in the penalty, so its penalty gradient is 0.`,
          });
        }
      },
    },
    {
      name: 'addWeightDecayGradient adds to the gradients already there, and touches only weight matrices',
      hint: 'model.grads already holds the loss\'s gradient: add λ·w to it (+=), do not overwrite it, and skip every tensor whose kind is not \'weight\'.',
      run() {
        const model = smallModel(3), lambda = 0.2;
        const before = model.grads.slice();
        impl.addWeightDecayGradient(model, lambda);
        const expected = new Float64Array(before);
        for (const t of model.tensors) {
          if (t.kind !== 'weight') continue;
          for (let k = t.offset; k < t.offset + t.size; k++) expected[k] += lambda * model.params[k];
        }
        expectParamsClose('model.grads', model, model.grads, expected);
      },
    },
    {
      name: 'sgdStepWithWeightDecay: w −= lr·(g + λw) on weights, w −= lr·g elsewhere; with g = 0 the weights shrink by (1 − lr·λ)',
      hint: 'for each tensor: params[k] −= lr * (grads[k] + (t.kind === \'weight\' ? lambda * params[k] : 0)). Leave model.grads as it is.',
      run() {
        const lr = 0.5, lambda = 0.1;
        // with no gradient, decay alone: every weight shrinks by the same factor, the rest stays put
        const still = smallModel(4);
        still.grads.fill(0);
        const start = still.params.slice();
        impl.sgdStepWithWeightDecay(still, lr, lambda);
        const shrunk = new Float64Array(start);
        for (const t of still.tensors) {
          if (t.kind !== 'weight') continue;
          for (let k = t.offset; k < t.offset + t.size; k++) shrunk[k] *= 1 - lr * lambda;
        }
        expectParamsClose('params after a step with zero gradients', still, still.params, shrunk);
        // with a gradient
        const model = smallModel(5);
        const params = model.params.slice(), grads = model.grads.slice();
        impl.sgdStepWithWeightDecay(model, lr, lambda);
        const expected = new Float64Array(params.length);
        for (const t of model.tensors) {
          const decay = t.kind === 'weight' ? lambda : 0;
          for (let k = t.offset; k < t.offset + t.size; k++) expected[k] = params[k] - lr * (grads[k] + decay * params[k]);
        }
        expectParamsClose('params after a step', model, model.params, expected);
        expectParamsClose('model.grads after the step (must be unchanged)', model, model.grads, grads,
          'the step reads the gradients but must not change them.');
      },
    },
    {
      name: 'sgdStepWithWeightDecay agrees with the library\'s sgdStep (src/train/sgd.ts), which the trainer runs for --weight-decay',
      hint: 'the library folds the decay into the step the same way: w −= lr·g + lr·λ·w on weights. Compare your loop with sgdStep in src/train/sgd.ts.',
      run() {
        const mine = smallModel(6), library = smallModel(6);
        impl.sgdStepWithWeightDecay(mine, 0.7, 0.05);
        sgdStep(library, 0.7, 0.05);
        expectParamsClose('params after one step', mine, mine.params, library.params);
      },
    },
  ];
}
