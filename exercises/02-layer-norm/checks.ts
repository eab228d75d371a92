import { LAYER_NORM_EPS, layerNormForward as libraryLayerNormForward } from '../../src/nn/layernorm.js';
import { checkGradient } from '../../src/util/gradcheck.js';
import { createRng } from '../../src/util/rng.js';
import {
  defineExercise, dot, expectArrayClose, expectGradientOk, fail, fmt, randomArray, type Check,
} from '../harness.js';
import type * as Stub from './layer-norm.js';

/** Checks for exercise 2: layer normalization, forward against a float64 reference, backward by finite differences. */
export type Impl = typeof Stub;

export const exercise = defineExercise<Impl>({
  number: 2,
  slug: '02-layer-norm',
  title: 'Layer normalization: forward and backward',
  file: 'exercises/02-layer-norm/layer-norm.ts',
  solutionFile: 'exercises/solutions/02-layer-norm.ts',
  load: (solution) => (solution ? import('../solutions/02-layer-norm.js') : import('./layer-norm.js')),
  checks,
});

/** The forward in float64: x̂, rstd and y for every row. */
function reference(inp: Float32Array, gain: Float32Array, bias: Float32Array | null, N: number, C: number) {
  const xhat = new Float64Array(N * C), rstd = new Float64Array(N), out = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    const row = Array.from(inp.subarray(n * C, (n + 1) * C));
    const mean = row.reduce((s, v) => s + v, 0) / C;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / C;
    rstd[n] = 1 / Math.sqrt(variance + LAYER_NORM_EPS);
    for (let j = 0; j < C; j++) {
      xhat[n * C + j] = (row[j] - mean) * rstd[n];
      out[n * C + j] = gain[j] * xhat[n * C + j] + (bias === null ? 0 : bias[j]);
    }
  }
  return { xhat, rstd, out };
}

/** A random problem: N rows of C features with a shifted, scaled input, a gain near 1 and a bias. */
function problem(seed: number, N = 4, C = 7) {
  const rng = createRng(seed);
  const inp = randomArray(N * C, rng, 2);
  for (let k = 0; k < N * C; k++) inp[k] += 0.5; // a non-zero mean, so that subtracting it matters
  const gain = randomArray(C, rng, 0.5).map((g) => g + 1);
  return { N, C, inp, gain, bias: randomArray(C, rng, 0.5), R: randomArray(N * C, rng), rng };
}

export function checks(impl: Impl): Check[] {
  return [
    {
      name: 'layerNormForward: x̂ has mean 0 and variance 1 in every row, and rstd = 1/sqrt(var + eps)',
      hint: 'per row: mean = Σx/C; var = Σ(x − mean)²/C (divide by C, not C − 1); rstd = 1/Math.sqrt(var + LAYER_NORM_EPS); x̂ = (x − mean)·rstd.',
      run() {
        const { N, C, inp, gain, bias } = problem(1);
        const expected = reference(inp, gain, bias, N, C);
        const out = new Float32Array(N * C), xhat = new Float32Array(N * C).fill(NaN), rstd = new Float32Array(N).fill(NaN);
        impl.layerNormForward(out, xhat, rstd, inp, gain, bias, N, C);
        for (let n = 0; n < N; n++) {
          const row = Array.from(xhat.subarray(n * C, (n + 1) * C));
          const mean = row.reduce((s, v) => s + v, 0) / C;
          const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / C;
          if (!(Math.abs(mean) < 1e-4)) fail(`row ${n} of x̂ does not have mean 0`, { expected: '0', got: fmt(mean), hint: 'subtract the row\'s mean before scaling.' });
          if (!(Math.abs(variance - 1) < 1e-3)) {
            const unbiased = Math.abs(variance - (C - 1) / C) < 1e-3;
            fail(`row ${n} of x̂ does not have variance 1`, {
              expected: '1', got: fmt(variance),
              hint: unbiased ? 'divide the sum of squares by C, not C − 1 (layer norm uses the biased variance).' : 'scale by rstd = 1/sqrt(var + eps), the inverse of the standard deviation.',
            });
          }
        }
        expectArrayClose('rstd', rstd, expected.rstd, 1e-4);
        expectArrayClose('xhat', xhat, expected.xhat, 1e-4);
      },
    },
    {
      name: 'layerNormForward: out = gain ⊙ x̂ + bias (bias may be null; out may be inp)',
      hint: 'out[n,j] = gain[j]·x̂[n,j] + bias[j], with no shift when bias is null. When out is inp, compute each x̂ from inp before overwriting it (the mean and variance need the whole row first).',
      run() {
        const { N, C, inp, gain, bias } = problem(2);
        const out = new Float32Array(N * C).fill(NaN), xhat = new Float32Array(N * C), rstd = new Float32Array(N);
        impl.layerNormForward(out, xhat, rstd, inp, gain, bias, N, C);
        expectArrayClose('out', out, reference(inp, gain, bias, N, C).out, 1e-4);
        impl.layerNormForward(out, xhat, rstd, inp, gain, null, N, C);
        expectArrayClose('out with bias null', out, reference(inp, gain, null, N, C).out, 1e-4);
        const inPlace = inp.slice();
        impl.layerNormForward(inPlace, xhat, rstd, inPlace, gain, bias, N, C);
        expectArrayClose('out when out and inp are the same array', inPlace, reference(inp, gain, bias, N, C).out, 1e-4);
      },
    },
    {
      name: 'layerNormForward: a constant row gives x̂ = 0 and out = bias (eps avoids dividing by zero)',
      hint: 'add LAYER_NORM_EPS to the variance before the square root: a constant row has variance 0.',
      run() {
        const C = 5;
        const inp = new Float32Array(C).fill(3.25), gain = new Float32Array(C).fill(2), bias = Float32Array.from([0.1, -0.2, 0.3, 0, 1]);
        const out = new Float32Array(C), xhat = new Float32Array(C), rstd = new Float32Array(1);
        impl.layerNormForward(out, xhat, rstd, inp, gain, bias, 1, C);
        expectArrayClose('x̂ of a constant row', xhat, new Float32Array(C));
        expectArrayClose('out of a constant row', out, bias);
      },
    },
    {
      name: 'layerNormBackward: dinp matches finite differences (checkGradient, src/util/gradcheck.ts)',
      hint: 'with dx̂ = dout ⊙ gain: dinp = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ⊙ x̂)), the means over the C features of the row. README.md derives it.',
      run() {
        const { N, C, inp, gain, bias, R } = problem(3);
        const out = new Float32Array(N * C), xhat = new Float32Array(N * C), rstd = new Float32Array(N);
        // loss = Σ R ⊙ LN(x), so dL/dout = R; the forward here is the library's, so only your backward is tested
        const loss = (): number => { libraryLayerNormForward(out, xhat, rstd, inp, gain, bias, N, C); return dot(out, R); };
        loss();
        const dinp = new Float32Array(N * C).fill(NaN);
        impl.layerNormBackward(dinp, new Float32Array(C), new Float32Array(C), R, xhat, rstd, gain, N, C);
        const result = checkGradient(loss, inp, dinp);
        if (result.failures === 0) return;
        loss(); // xhat as at the unperturbed input again
        // What is missing? The true dinp of each row sums to 0 (shifting x does not change x̂) and is
        // orthogonal to x̂ (scaling x does not change x̂).
        let hint: string | undefined;
        for (let n = 0; n < N && hint === undefined; n++) {
          let sum = 0, along = 0;
          for (let j = 0; j < C; j++) { sum += dinp[n * C + j]; along += dinp[n * C + j] * xhat[n * C + j]; }
          if (Math.abs(sum) > 1e-3) hint = `row ${n} of dinp sums to ${fmt(sum)}, not 0: subtract mean(dx̂), the path through the mean.`;
          else if (Math.abs(along) > 1e-3) hint = `row ${n} of dinp is not orthogonal to x̂: subtract x̂ · mean(dx̂ ⊙ x̂), the path through the variance.`;
        }
        expectGradientOk('dinp', result, hint);
      },
    },
    {
      name: 'layerNormBackward: dgain and dbias match finite differences',
      hint: 'out = gain ⊙ x̂ + bias, summed over the N rows: dgain[j] += Σ_n dout[n,j]·x̂[n,j] and dbias[j] += Σ_n dout[n,j].',
      run() {
        const { N, C, inp, gain, bias, R } = problem(4);
        const out = new Float32Array(N * C), xhat = new Float32Array(N * C), rstd = new Float32Array(N);
        const loss = (): number => { libraryLayerNormForward(out, xhat, rstd, inp, gain, bias, N, C); return dot(out, R); };
        loss();
        const dgain = new Float32Array(C), dbias = new Float32Array(C);
        impl.layerNormBackward(new Float32Array(N * C), dgain, dbias, R, xhat, rstd, gain, N, C);
        expectGradientOk('dgain', checkGradient(loss, gain, dgain));
        expectGradientOk('dbias', checkGradient(loss, bias, dbias));
      },
    },
    {
      name: 'layerNormBackward: adds into dgain and dbias, accepts dbias null, and dinp may be dout',
      hint: 'use += for dgain and dbias (they collect the gradient of every row and every time step), skip dbias when it is null, and compute each row\'s two means from dout before writing dinp over it.',
      run() {
        const { N, C, inp, gain, bias, R, rng } = problem(5);
        const out = new Float32Array(N * C), xhat = new Float32Array(N * C), rstd = new Float32Array(N);
        libraryLayerNormForward(out, xhat, rstd, inp, gain, bias, N, C);
        const fresh = { dinp: new Float32Array(N * C), dgain: new Float32Array(C), dbias: new Float32Array(C) };
        impl.layerNormBackward(fresh.dinp, fresh.dgain, fresh.dbias, R, xhat, rstd, gain, N, C);
        const start = { dgain: randomArray(C, rng), dbias: randomArray(C, rng) };
        const dgain = start.dgain.slice(), dbias = start.dbias.slice();
        impl.layerNormBackward(new Float32Array(N * C), dgain, dbias, R, xhat, rstd, gain, N, C);
        expectArrayClose('dgain after adding to a non-zero dgain', dgain, start.dgain.map((v, j) => v + fresh.dgain[j]), 1e-5,
          'accumulate with dgain[j] += …; do not overwrite or zero it.');
        expectArrayClose('dbias after adding to a non-zero dbias', dbias, start.dbias.map((v, j) => v + fresh.dbias[j]), 1e-5,
          'accumulate with dbias[j] += …; do not overwrite or zero it.');
        const dinpNoBias = new Float32Array(N * C);
        impl.layerNormBackward(dinpNoBias, new Float32Array(C), null, R, xhat, rstd, gain, N, C);
        expectArrayClose('dinp with dbias null', dinpNoBias, fresh.dinp);
        const inPlace = R.slice();
        impl.layerNormBackward(inPlace, new Float32Array(C), new Float32Array(C), inPlace, xhat, rstd, gain, N, C);
        expectArrayClose('dinp when dinp and dout are the same array', inPlace, fresh.dinp);
      },
    },
  ];
}
