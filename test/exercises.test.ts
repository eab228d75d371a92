import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checks as dropoutChecks } from '../exercises/01-dropout/checks.js';
import { checks as layerNormChecks } from '../exercises/02-layer-norm/checks.js';
import { checks as weightDecayChecks } from '../exercises/03-weight-decay/checks.js';
import { checks as earlyStoppingChecks } from '../exercises/04-early-stopping/checks.js';
import { TOY_CORPUS_DIR, TOY_SPLITS, toyText } from '../exercises/05-pipeline/toy-corpus.js';
import { formatResult, runCheck, runExercise, type Check, type CheckResult } from '../exercises/harness.js';
import { EXERCISES } from '../exercises/registry.js';
import * as dropoutSolution from '../exercises/solutions/01-dropout.js';
import * as layerNormSolution from '../exercises/solutions/02-layer-norm.js';
import * as weightDecaySolution from '../exercises/solutions/03-weight-decay.js';
import * as earlyStoppingSolution from '../exercises/solutions/04-early-stopping.js';
import { lstmForward } from '../src/nn/lstm.js';
import { linearForward } from '../src/nn/linear.js';
import { PROJECT_ROOT } from './helpers.js';

// The course's exercises: every solution passes its checks, every untouched stub fails them with the
// "not implemented yet" feedback, the runner's command line answers as documented, and the checks catch
// the classic mistakes (a mask on the recurrent path above all).

const report = (results: CheckResult[]): string => results.map(formatResult).join('\n');
const RUNNER = join(PROJECT_ROOT, 'dist/exercises/run.js');

/**
 * exercises/stubs.sha256 holds the hash of every pristine stub. A stub that differs is a learner's work
 * in progress (skip its check), unless this is CI, where it means the stub changed without the manifest.
 */
const stubHashes = new Map(readFileSync(join(PROJECT_ROOT, 'exercises/stubs.sha256'), 'utf8').trim().split('\n')
  .map((line) => { const [hash, file] = line.split(/\s+/); return [`exercises/${file}`, hash]; }));

function stubIsPristine(file: string): boolean {
  const expected = stubHashes.get(file);
  assert.ok(expected !== undefined, `exercises/stubs.sha256 has no line for ${file}`);
  const actual = createHash('sha256').update(readFileSync(join(PROJECT_ROOT, file))).digest('hex');
  if (actual === expected) return true;
  const stubs = EXERCISES.map((e) => e.file.replace(/^exercises\//, '')).join(' ');
  assert.ok(!process.env.CI, `${file} differs from its hash in exercises/stubs.sha256; if the stub changed on purpose, run `
    + `(cd exercises && sha256sum ${stubs} > stubs.sha256)`);
  return false;
}

for (const exercise of EXERCISES) {
  test(`exercise ${exercise.number} (${exercise.slug}): the solution passes every check`, async () => {
    const results = await runExercise(exercise, true);
    assert.ok(results.length > 0);
    assert.ok(results.every((r) => r.status === 'pass'), `the solution fails:\n${report(results)}`);
  });

  test(`exercise ${exercise.number} (${exercise.slug}): the untouched stub fails every check with "not implemented yet"`, async (t) => {
    if (!stubIsPristine(exercise.file)) {
      t.skip(`${exercise.file} has been edited (a learner's work?): restore it with git checkout to check the stub`);
      return;
    }
    const results = await runExercise(exercise, false);
    for (const r of results) {
      assert.equal(r.status, 'not-implemented', `check "${r.name}" should fail as not implemented yet:\n${report(results)}`);
      assert.match(r.lines[0], /is not implemented yet/);
    }
    // the first mention of each missing function says where to write it and gives the hint
    assert.match(results[0].lines[0], new RegExp(`write its body in ${exercise.file}`));
    assert.match(results[0].lines[1], /^hint: /);
  });
}

test('npm run exercise: feedback on the stub (status 1), the solution (status 0), a wrong number (status 2)', (t) => {
  const run = (...args: string[]) => spawnSync(process.execPath, [RUNNER, ...args], { cwd: PROJECT_ROOT, encoding: 'utf8' });
  const solution = run('1', '--solution');
  assert.equal(solution.status, 0, solution.stdout + solution.stderr);
  assert.match(solution.stdout, /Checking the solution, exercises\/solutions\/01-dropout\.ts/);
  assert.match(solution.stdout, /All 9 checks pass against the solution\./);
  const wrong = run('9');
  assert.equal(wrong.status, 2);
  assert.match(wrong.stderr, /exercise: 9: no such exercise; give a number from 1 to 5/);
  const none = run();
  assert.equal(none.status, 2);
  assert.match(none.stdout, /usage: npm run exercise -- N \[--solution\]/);
  for (const exercise of EXERCISES) {
    if (!stubIsPristine(exercise.file)) { t.diagnostic(`skipped the stub of exercise ${exercise.number}: edited`); continue; }
    const stub = run(String(exercise.number));
    assert.equal(stub.status, 1, stub.stdout + stub.stderr);
    assert.match(stub.stdout, new RegExp(`Checking your file, ${exercise.file}`));
    assert.match(stub.stdout, /✗ 1\. .*\n +\S+ is not implemented yet: write its body in /);
    assert.match(stub.stdout, /hint: /);
    assert.match(stub.stdout, new RegExp(`0 of \\d+ checks pass\\. Next: check 1, .*\\n.*exercises/${exercise.slug}/README\\.md`));
  }
});

/** Runs the check whose name matches `pattern` from a list built on a (deliberately wrong) implementation. */
async function runNamed(checks: Check[], pattern: RegExp): Promise<CheckResult> {
  const check = checks.find((c) => pattern.test(c.name));
  assert.ok(check !== undefined, `no check matches ${pattern}`);
  return runCheck(check, 'the test');
}

type Step = typeof dropoutSolution.lstmStepForward;

test('exercise 1 catches every way of putting a mask on the recurrent path, and names a missing site', async () => {
  const { dropoutForward } = dropoutSolution;
  // the solution's step, with `before` run on each layer's state before its lstmForward, and the
  // recurrent mask and the state written chosen by the variant
  const variant = (options: {
    before?: (a: { h0: Float32Array; c0: Float32Array }, mask: Float32Array, n: number) => void;
    recurrentMask?: boolean; dropStateInPlace?: boolean; skipTopSite?: boolean;
  }): Step => (backend, net, x, masks, B, H, V) => {
    const n = B * H;
    let input = net.dropped[0];
    dropoutForward(input, x, masks === null ? null : masks[0], n);
    net.layers.forEach(({ w, a }, l) => {
      if (masks !== null) options.before?.(a, masks[l + 1], n);
      lstmForward(backend, a, w, input, options.recurrentMask && masks !== null ? masks[l] : null, 1, B, H, H);
      const siteMask = masks === null || (options.skipTopSite && l === net.layers.length - 1) ? null : masks[l + 1];
      if (options.dropStateInPlace) { dropoutForward(a.h, a.h, siteMask, n); input = a.h; return; }
      dropoutForward(net.dropped[l + 1], a.h, siteMask, n);
      input = net.dropped[l + 1];
    });
    linearForward(backend, net.logits, input, net.outWeight, net.outBias, B, H, V);
  };
  const wrong: [string, Step, RegExp][] = [
    ['h_{t-1} through lstmForward\'s recurrentMask', variant({ recurrentMask: true }), /a dropout mask reaches the recurrent path/],
    ['h_{t-1} dropped in place', variant({ before: (a, m, n) => dropoutForward(a.h0, a.h0, m, n) }), /changed layer 1's a\.h0 \(h_\{t-1\}\)/],
    ['c_{t-1} dropped in place', variant({ before: (a, m, n) => dropoutForward(a.c0, a.c0, m, n) }), /changed layer 1's a\.c0 \(c_\{t-1\}\)/],
    ['h_t dropped in place, so the carried state is dropped', variant({ dropStateInPlace: true }), /a dropout mask reaches the recurrent path: .*new h_t/],
  ];
  for (const [what, step, message] of wrong) {
    const result = await runNamed(dropoutChecks({ ...dropoutSolution, lstmStepForward: step }), /recurrent path/);
    assert.equal(result.status, 'fail', `a mask on ${what} was not caught`);
    assert.match(result.lines[0], message, what);
  }
  const missing = await runNamed(dropoutChecks({ ...dropoutSolution, lstmStepForward: variant({ skipTopSite: true }) }), /vertical connections/);
  assert.equal(missing.status, 'fail');
  assert.match(missing.lines[0], /no dropout at site 2, the top layer's output/);
  // and the correct step passes both
  for (const pattern of [/recurrent path/, /vertical connections/]) {
    assert.equal((await runNamed(dropoutChecks(dropoutSolution), pattern)).status, 'pass');
  }
});

test('exercises 2 to 4 give pointed hints for the classic mistakes', async () => {
  // layer norm backward without the path through the mean
  const noMean: typeof layerNormSolution.layerNormBackward = (dinp, dgain, dbias, dout, xhat, rstd, gain, N, C) => {
    const scratch = new Float32Array(N * C);
    layerNormSolution.layerNormBackward(scratch, dgain, dbias, dout, xhat, rstd, gain, N, C);
    for (let n = 0; n < N; n++) {
      let mean = 0;
      for (let j = 0; j < C; j++) mean += dout[n * C + j] * gain[j];
      for (let j = 0; j < C; j++) dinp[n * C + j] = scratch[n * C + j] + rstd[n] * mean / C;
    }
  };
  const ln = await runNamed(layerNormChecks({ ...layerNormSolution, layerNormBackward: noMean }), /dinp matches finite differences/);
  assert.equal(ln.status, 'fail');
  assert.ok(ln.lines.some((l) => /subtract mean\(dx̂\)/.test(l)), ln.lines.join('\n'));
  // weight decay on every parameter, biases and gains included
  const everything: typeof weightDecaySolution.weightDecayPenalty = (model, lambda) => 0.5 * lambda * model.params.reduce((s, w) => s + w * w, 0);
  const wd = await runNamed(weightDecayChecks({ ...weightDecaySolution, weightDecayPenalty: everything }), /weightDecayPenalty/);
  assert.equal(wd.status, 'fail');
  assert.ok(wd.lines.some((l) => /you summed every parameter/.test(l)), wd.lines.join('\n'));
  // early stopping that keeps a reference to the live buffer instead of a copy
  const alias: typeof earlyStoppingSolution.earlyStoppingUpdate = (state, epoch, perplexity, params) => {
    const stop = earlyStoppingSolution.earlyStoppingUpdate(state, epoch, perplexity, params);
    if (state.bestEpoch === epoch && state.patience > 0) state.bestParams = params;
    return stop;
  };
  const es = await runNamed(earlyStoppingChecks({ ...earlyStoppingSolution, earlyStoppingUpdate: alias }), /copy of the best weights/);
  assert.equal(es.status, 'fail');
  assert.match(es.lines[0], /not a copy/);
});

test('exercise 5: the toy corpus files are what toyText writes', () => {
  for (const [split, { seed, sentences }] of Object.entries(TOY_SPLITS)) {
    assert.equal(readFileSync(join(TOY_CORPUS_DIR, `${split}.txt`), 'utf8'), toyText(seed, sentences), `${split}.txt`);
  }
});
