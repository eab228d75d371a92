import { jsBackend } from '../../src/kernels/js.js';
import { dropoutForward as libraryDropoutForward, fillDropoutMaskPerStep } from '../../src/nn/dropout.js';
import { linearForward } from '../../src/nn/linear.js';
import { createLstmActivations, lstmForward, type LstmWeights } from '../../src/nn/lstm.js';
import { checkGradient } from '../../src/util/gradcheck.js';
import { createRng, type Rng } from '../../src/util/rng.js';
import {
  defineExercise, dot, expectArrayClose, expectClose, expectGradientOk, fail, fmt, preview, randomArray, type Check,
} from '../harness.js';
import type * as Stub from './dropout.js';

/** Checks for exercise 1: the dropout layer, then its place in an LSTM step. */
export type Impl = typeof Stub;

export const exercise = defineExercise<Impl>({
  number: 1,
  slug: '01-dropout',
  title: 'Dropout: forward, backward, and where it goes in an LSTM',
  file: 'exercises/01-dropout/dropout.ts',
  solutionFile: 'exercises/solutions/01-dropout.ts',
  load: (solution) => (solution ? import('../solutions/01-dropout.js') : import('./dropout.js')),
  checks,
});

const backend = jsBackend;

// The small model of part B: L layers of H units, B sequences, V words.
const L = 2, B = 3, H = 4, V = 6;
const SITE_NAMES = [
  'site 0, the embedded words x_t going into layer 1',
  'site 1, layer 1\'s output h¹_t going into layer 2',
  'site 2, the top layer\'s output h²_t going into the softmax projection',
];

/** A random step network, and the embedded input of the step. */
function makeNet(seed: number, zeroInputWeights = false): { net: Stub.LstmStepNet; x: Float32Array } {
  const rng = createRng(seed);
  const layers = Array.from({ length: L }, () => {
    const w: LstmWeights = {
      weightIh: zeroInputWeights ? new Float32Array(4 * H * H) : randomArray(4 * H * H, rng, 0.8),
      weightHh: randomArray(4 * H * H, rng, 0.8),
      biasIh: randomArray(4 * H, rng, 0.3), biasHh: randomArray(4 * H, rng, 0.3),
      lnIhGain: null, lnHhGain: null, lnCellGain: null, lnCellBias: null,
    };
    const a = createLstmActivations(1, B, H, false);
    a.h0.set(randomArray(B * H, rng, 0.9));
    a.c0.set(randomArray(B * H, rng, 1.5));
    return { w, a };
  });
  const net: Stub.LstmStepNet = {
    layers,
    outWeight: randomArray(V * H, rng, 0.8), outBias: randomArray(V, rng, 0.3),
    dropped: Array.from({ length: L + 1 }, () => new Float32Array(B * H)),
    logits: new Float32Array(B * V),
  };
  return { net, x: randomArray(B * H, rng) };
}

function makeMasks(rng: Rng, keep: number): Float32Array[] {
  return Array.from({ length: L + 1 }, () => {
    const m = new Float32Array(B * H);
    fillDropoutMaskPerStep(m, B * H, keep, rng);
    return m;
  });
}

interface StepOutput { h: Float32Array[]; c: Float32Array[]; logits: Float32Array }

/** The step computed with the library, masks[s] applied at site s (null: that site is the identity). */
function referenceStep(net: Stub.LstmStepNet, x: Float32Array, masks: (Float32Array | null)[]): StepOutput {
  const site = (s: number, value: Float32Array): Float32Array => {
    const out = value.slice();
    const mask = masks[s];
    if (mask !== null) libraryDropoutForward(out, value, mask, B * H);
    return out;
  };
  let input = site(0, x);
  const h: Float32Array[] = [], c: Float32Array[] = [];
  net.layers.forEach(({ w, a }, l) => {
    const own = createLstmActivations(1, B, H, false);
    own.h0.set(a.h0);
    own.c0.set(a.c0);
    lstmForward(backend, own, w, input, null, 1, B, H, H);
    h.push(own.h.slice(0, B * H));
    c.push(own.c.slice(0, B * H));
    input = site(l + 1, own.h);
  });
  const logits = new Float32Array(B * V);
  linearForward(backend, logits, input, net.outWeight, net.outBias, B, H, V);
  return { h, c, logits };
}

/** Runs the learner's step and copies out what it wrote. */
function learnerStep(impl: Impl, net: Stub.LstmStepNet, x: Float32Array, masks: Float32Array[] | null): StepOutput {
  net.logits.fill(NaN);
  for (const { a } of net.layers) { a.h.fill(NaN); a.c.fill(NaN); }
  impl.lstmStepForward(backend, net, x, masks, B, H, V);
  return {
    h: net.layers.map(({ a }) => a.h.slice(0, B * H)),
    c: net.layers.map(({ a }) => a.c.slice(0, B * H)),
    logits: net.logits.slice(),
  };
}

function sameOutput(a: StepOutput, b: StepOutput, tolerance = 1e-5): boolean {
  const near = (p: Float32Array, q: Float32Array): boolean =>
    p.every((v, k) => Math.abs(v - q[k]) <= tolerance * Math.max(1, Math.abs(q[k])));
  return near(a.logits, b.logits) && a.h.every((v, l) => near(v, b.h[l])) && a.c.every((v, l) => near(v, b.c[l]));
}

export function checks(impl: Impl): Check[] {
  return [
    {
      name: 'fillDropoutMask: every value is 0 (dropped) or 1/keep (kept)',
      hint: 'for each k draw u = nextFloat(rng); mask[k] = u < keep ? 1 / keep : 0. The scaling by 1/keep is what makes it "inverted" dropout.',
      run() {
        const keep = 0.6, n = 1000;
        const mask = new Float32Array(n).fill(NaN);
        impl.fillDropoutMask(mask, n, keep, createRng(11));
        for (let k = 0; k < n; k++) {
          if (mask[k] !== 0 && Math.abs(mask[k] - 1 / keep) > 1e-6) {
            fail(`mask[${k}] is neither 0 nor 1/keep (keep = ${keep})`, { expected: `0 or ${fmt(1 / keep)}`, got: fmt(mask[k]) });
          }
        }
      },
    },
    {
      name: 'fillDropoutMask: about keep of the units survive, and the mask averages 1',
      hint: 'a unit is kept when nextFloat(rng) < keep (so with probability keep), and a kept unit is worth 1/keep, so the mean of the mask is keep · 1/keep = 1.',
      run() {
        const rng = createRng(12);
        for (const keep of [0.8, 0.5, 0.35]) {
          const n = 100_000;
          const mask = new Float32Array(n);
          impl.fillDropoutMask(mask, n, keep, rng);
          let kept = 0, sum = 0;
          for (const m of mask) { if (m !== 0) kept++; sum += m; }
          expectClose(`the fraction of kept units with keep = ${keep}`, kept / n, keep, 0.01);
          expectClose(`the mean of the mask with keep = ${keep}`, sum / n, 1, 0.015);
        }
      },
    },
    {
      name: 'fillDropoutMask: fresh draws from the given generator; keep = 1 keeps everything',
      hint: 'draw only from the rng you are given (not Math.random), one nextFloat per element, so that the same seed gives the same masks; each call continues the sequence, so consecutive masks differ.',
      run() {
        const n = 200;
        const first = new Float32Array(n), again = new Float32Array(n), next = new Float32Array(n);
        const rng = createRng(13);
        impl.fillDropoutMask(first, n, 0.5, rng);
        impl.fillDropoutMask(next, n, 0.5, rng);
        impl.fillDropoutMask(again, n, 0.5, createRng(13));
        expectArrayClose('the mask drawn again from the same seed', again, first, 0,
          'the same generator state must give the same mask: use nextFloat(rng), not Math.random.');
        if (next.every((v, k) => v === first[k])) {
          fail('two consecutive calls gave the same mask', { hint: 'every call must draw new numbers from rng (a fresh mask every step).' });
        }
        const all = new Float32Array(n).fill(NaN);
        impl.fillDropoutMask(all, n, 1, createRng(14));
        expectArrayClose('the mask with keep = 1', all, new Float32Array(n).fill(1), 0);
      },
    },
    {
      name: 'dropoutForward: in training, out = inp ⊙ mask (also in place)',
      hint: 'out[k] = inp[k] * mask[k]. The mask already holds 1/keep, so do not divide by keep again.',
      run() {
        const rng = createRng(21);
        const n = 50;
        const inp = randomArray(n, rng), mask = new Float32Array(n);
        fillDropoutMaskPerStep(mask, n, 0.5, rng);
        const expected = inp.map((v, k) => v * mask[k]);
        const out = new Float32Array(n).fill(NaN);
        impl.dropoutForward(out, inp, mask, n);
        expectArrayClose('out', out, expected);
        const inPlace = inp.slice();
        impl.dropoutForward(inPlace, inPlace, mask, n);
        expectArrayClose('out when out and inp are the same array', inPlace, expected, 1e-5,
          'read inp[k] before writing out[k] (they may be the same array).');
      },
    },
    {
      name: 'dropoutForward: at evaluation (mask null) the layer is the identity',
      hint: 'with mask === null copy inp into out unchanged: no mask, and no scaling by keep (inverted dropout already scaled during training).',
      run() {
        const n = 40;
        const inp = randomArray(n, createRng(22));
        const out = new Float32Array(n).fill(NaN);
        impl.dropoutForward(out, inp, null, n);
        expectArrayClose('out at evaluation', out, inp);
        const same = inp.slice();
        impl.dropoutForward(same, same, null, n);
        expectArrayClose('out at evaluation, in place', same, inp);
      },
    },
    {
      name: 'dropoutBackward: matches finite differences (checkGradient, src/util/gradcheck.ts)',
      hint: 'out = inp ⊙ mask, so dinp[k] = dout[k] * mask[k]: the gradient flows only through the kept units, scaled like them. With mask null it is dout itself.',
      run() {
        const rng = createRng(23);
        const n = 30;
        const mask = new Float32Array(n);
        fillDropoutMaskPerStep(mask, n, 0.6, rng);
        const x = randomArray(n, rng), R = randomArray(n, rng), out = new Float32Array(n);
        // loss = Σ R ⊙ dropout(x), so dL/dout = R
        const loss = (): number => { libraryDropoutForward(out, x, mask, n); return dot(out, R); };
        const dx = new Float32Array(n).fill(NaN);
        impl.dropoutBackward(dx, R, mask, n);
        expectGradientOk('dinp', checkGradient(loss, x, dx));
        const dxEval = new Float32Array(n).fill(NaN);
        impl.dropoutBackward(dxEval, R, null, n);
        expectArrayClose('dinp with mask null (evaluation)', dxEval, R);
        const inPlace = R.slice();
        impl.dropoutBackward(inPlace, inPlace, mask, n);
        expectArrayClose('dinp when dinp and dout are the same array', inPlace, dx);
      },
    },
    {
      name: 'lstmStepForward at evaluation (masks null) computes the plain model',
      hint: 'run the layers bottom to top: lstmForward(backend, a, w, input, null, 1, B, H, H) writes a.h and a.c; the next layer\'s input is a.h; then linearForward(backend, net.logits, input, net.outWeight, net.outBias, B, H, V).',
      run() {
        const { net, x } = makeNet(31);
        const got = learnerStep(impl, net, x, null);
        const expected = referenceStep(net, x, [null, null, null]);
        for (let l = 0; l < L; l++) {
          expectArrayClose(`layer ${l + 1}'s new cell state c_t`, got.c[l], expected.c[l]);
          expectArrayClose(`layer ${l + 1}'s new hidden state h_t`, got.h[l], expected.h[l]);
        }
        expectArrayClose('the logits', got.logits, expected.logits);
      },
    },
    {
      name: 'lstmStepForward never lets a mask touch the recurrent path (h_{t-1}, c_{t-1}, and the state it writes)',
      hint: 'the state a layer carries to the next step must be the undropped h_t, c_t, and its h_{t-1}, c_{t-1} (a.h0, a.c0) are read as they are: pass recurrentMask null to lstmForward, never drop a.h0 or a.c0, and write dropped-out values into net.dropped[s], never into a.h or a.c.',
      run() {
        // With W_ih = 0 the vertical input cannot reach the gates, so each layer's new state depends on
        // h_{t-1} and c_{t-1} only. Changing the dropout masks must then leave every state unchanged.
        const { net, x } = makeNet(32, true);
        const rng = createRng(33);
        const stateBefore = net.layers.map(({ a }) => ({ h0: a.h0.slice(), c0: a.c0.slice() }));
        const runs: { label: string; masks: Float32Array[] | null }[] = [
          { label: 'no dropout (masks null)', masks: null },
          { label: 'one set of masks', masks: makeMasks(rng, 0.5) },
          { label: 'another set of masks', masks: makeMasks(rng, 0.5) },
        ];
        const outputs: StepOutput[] = [];
        for (const { label, masks } of runs) {
          outputs.push(learnerStep(impl, net, x, masks));
          net.layers.forEach(({ a }, l) => {
            for (const [name, now, before] of [['h0 (h_{t-1})', a.h0, stateBefore[l].h0], ['c0 (c_{t-1})', a.c0, stateBefore[l].c0]] as const) {
              if (now.some((v, k) => v !== before[k])) {
                fail(`with ${label}, the step changed layer ${l + 1}'s a.${name}: the recurrent input was modified`, {
                  expected: `${preview(before)} (left as it was)`, got: preview(now),
                  hint: 'do not apply dropout to a.h0 or a.c0 (not even in place): h_{t-1} and c_{t-1} are the memory, and the paper keeps them free of noise.',
                });
              }
            }
            a.h0.set(stateBefore[l].h0);
            a.c0.set(stateBefore[l].c0);
          });
        }
        for (let r = 1; r < runs.length; r++) {
          for (let l = 0; l < L; l++) {
            for (const [name, got, expected] of [['c_t', outputs[r].c[l], outputs[0].c[l]], ['h_t', outputs[r].h[l], outputs[0].h[l]]] as const) {
              if (got.some((v, k) => !(Math.abs(v - expected[k]) <= 1e-5))) {
                fail(`a dropout mask reaches the recurrent path: with W_ih = 0, layer ${l + 1}'s new ${name} changed between `
                  + `"${runs[0].label}" and "${runs[r].label}"`, {
                  expected: `${preview(expected)} (the same whatever the masks)`, got: preview(got),
                });
              }
            }
          }
        }
      },
    },
    {
      name: 'lstmStepForward puts dropout on the L+1 vertical connections, in training',
      hint: 'drop x_t with masks[0] before layer 1; drop each layer\'s h_t with masks[l+1] before it goes up (into net.dropped[l+1]); the softmax projection reads the dropped top output. The same masks[s] (B,H) for site s, no others.',
      run() {
        const { net, x } = makeNet(34);
        const masks = makeMasks(createRng(35), 0.5);
        const got = learnerStep(impl, net, x, masks);
        const expected = referenceStep(net, x, masks);
        if (sameOutput(got, expected)) return;
        // Find which site the learner left out, to say so.
        if (sameOutput(got, referenceStep(net, x, [null, null, null]))) {
          fail('the step ignores the masks: the result is the model without any dropout', {
            hint: 'in training (masks not null) every site s multiplies its value by masks[s]: use your dropoutForward.',
          });
        }
        for (let s = 0; s <= L; s++) {
          const without = masks.map((m, k): Float32Array | null => (k === s ? null : m));
          if (sameOutput(got, referenceStep(net, x, without))) {
            fail(`no dropout at ${SITE_NAMES[s]}; the other sites are right`, {
              hint: `apply masks[${s}] there, writing into net.dropped[${s}].`,
            });
          }
        }
        for (let l = 0; l < L; l++) {
          expectArrayClose(`layer ${l + 1}'s new hidden state h_t`, got.h[l], expected.h[l]);
          expectArrayClose(`layer ${l + 1}'s new cell state c_t`, got.c[l], expected.c[l]);
        }
        expectArrayClose('the logits', got.logits, expected.logits);
      },
    },
  ];
}
