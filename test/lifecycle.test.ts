import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeSafetensors, readCheckpoint } from '../src/train/checkpoint.js';
import { RLSTM, rlstm, tempDir, tinyCorpus } from './helpers.js';

// Model lifecycle from the command line: exact resume, interruption, crash safety, divergence.
// The tiny corpus gives 300 lines ≈ 6,700 tokens; with B = 4 and T = 8 an epoch is 209 windows.
const TINY = ['--layers', '2', '--hidden', '16', '--batch-size', '4', '--bptt', '8', '--test-batch-size', '4',
  '--test-bptt', '8', '--backend', 'js', '--keep-prob', '0.7', '--seed', '9'];

function tensorsOf(path: string): Map<string, Float32Array> {
  return new Map([...readCheckpoint(path).tensors].map(([name, t]) => [name, t.data]));
}

/**
 * The parts of a log that must not depend on how the run was split into sessions: no timings, and of
 * the progress points only those taken every 100 steps (the timed ones depend on the clock).
 */
function logFacts(path: string): unknown {
  const log = JSON.parse(readFileSync(path, 'utf8'));
  const pointFacts = (p: Record<string, unknown>) => ({
    step: p.step, epoch: p.epoch, window: p.window, windows: p.windows, lr: p.lr, trainPerplexity: p.trainPerplexity, gradNorm: p.gradNorm,
  });
  const facts = (m: Record<string, unknown> | null) => m && {
    epoch: m.epoch, lr: m.lr, trainPerplexity: m.trainPerplexity, validPerplexity: m.validPerplexity, steps: m.steps, complete: m.complete,
  };
  return {
    epochs: log.epochs.map(facts), partial: facts(log.partial), test: log.test && { perplexity: log.test.perplexity, tokens: log.test.tokens },
    steps: log.steps, stopReason: log.stopReason, bestEpoch: log.bestEpoch,
    progress: log.progress.filter((p: Record<string, unknown>) => p.timed !== true).map(pointFacts),
  };
}

test('resume is exact: N steps, stop, resume to 2N equals 2N in one go (weights bit-identical, same log)', () => {
  const data = tinyCorpus();
  const work = tempDir();
  const oneGo = rlstm(['train', '--data', data, ...TINY, '--epochs', '3', '--max-steps', '300', '--save', 'a.safetensors', '--log', 'a.json'], work);
  assert.equal(oneGo.status, 0, oneGo.stderr);
  // 150 steps ends mid-way through epoch 1 (209 windows): the checkpoint is written mid-epoch
  const first = rlstm(['train', '--data', data, ...TINY, '--epochs', '3', '--max-steps', '150', '--save', 'b.safetensors', '--log', 'b.json'], work);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /to continue this run: rlstm train --resume b.safetensors/);
  const resumed = rlstm(['train', '--resume', 'b.safetensors', '--max-steps', '300', '--backend', 'js'], work);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, /resuming at step 150/);
  const a = tensorsOf(join(work, 'a.safetensors')), b = tensorsOf(join(work, 'b.safetensors'));
  for (const [name, data] of a) assert.deepEqual(b.get(name), data, `${name} differs`);
  assert.deepEqual(logFacts(join(work, 'b.json')), logFacts(join(work, 'a.json')));
  const log = JSON.parse(readFileSync(join(work, 'b.json'), 'utf8'));
  assert.equal(log.steps, 300);
  assert.equal(log.epochs.length, 1, 'epoch 1 complete, epoch 2 partial');
  assert.equal(log.partial.epoch, 2);
  // the point at step 200 covers steps 101-200, across the two sessions; 300 covers epoch 2's first 92 (of 208);
  // the first session ended at step 150, between two points, with a final one there
  assert.deepEqual(log.progress.map((p: { step: number; epoch: number; window: number; final?: true }) => [p.step, p.epoch, p.window, p.final ?? false]),
    [[100, 1, 100, false], [150, 1, 150, true], [200, 1, 200, false], [300, 2, 92, false]]);

  // and on to the end of training: the complete run equals the complete one-go run
  const rest = rlstm(['train', '--resume', 'b.safetensors', '--backend', 'js'], work);
  assert.equal(rest.status, 0, rest.stderr);
  const full = rlstm(['train', '--data', data, ...TINY, '--epochs', '3', '--save', 'c.safetensors', '--log', 'c.json'], work);
  assert.equal(full.status, 0, full.stderr);
  const c = tensorsOf(join(work, 'c.safetensors'));
  for (const [name, data] of c) assert.deepEqual(tensorsOf(join(work, 'b.safetensors')).get(name), data, `${name} differs at the end`);
  assert.deepEqual(logFacts(join(work, 'b.json')), logFacts(join(work, 'c.json')));
  // a finished run has nothing left to do
  const again = rlstm(['train', '--resume', 'b.safetensors', '--backend', 'js'], work);
  assert.equal(again.status, 0);
  assert.match(again.stdout, /already complete/);
});

test('a checkpoint written before progress points resumes: the log gets the points from there on', () => {
  const data = tinyCorpus();
  const work = tempDir();
  const r = rlstm(['train', '--data', data, ...TINY, '--max-steps', '150', '--save', 'o.safetensors', '--log', 'o.json'], work);
  assert.equal(r.status, 0, r.stderr);
  // the same checkpoint as an older version wrote it: no progress, no mark in its training state
  const checkpoint = readCheckpoint(join(work, 'o.safetensors'));
  const { sha256: _sha, format: _format, ...metadata } = checkpoint.metadata;
  const { progress, progressMark: _mark, ...state } = JSON.parse(metadata.trainingState);
  assert.deepEqual(progress.map((p: { step: number }) => p.step), [100, 150]); // 150: the session's final point
  const tensors = [...checkpoint.tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  writeFileSync(join(work, 'o.safetensors'), encodeSafetensors(tensors, { ...metadata, trainingState: JSON.stringify(state) }));
  const resumed = rlstm(['train', '--resume', 'o.safetensors', '--max-steps', '250', '--backend', 'js'], work);
  assert.equal(resumed.status, 0, resumed.stderr);
  const log = JSON.parse(readFileSync(join(work, 'o.json'), 'utf8'));
  assert.deepEqual(log.progress.map((p: { step: number; window: number }) => [p.step, p.window]), [[200, 200], [250, 42]]); // 250: the final point, in epoch 2 (208 windows)
  assert.ok(log.progress[0].trainPerplexity > 1);
});

/**
 * Starts `rlstm ARGS` in `cwd` and sends it `signals` (one after the other, at once) `delayMs` after
 * training began (its first line, printed once the corpus is loaded); its exit status and output.
 */
async function signalled(args: string[], cwd: string, signals: NodeJS.Signals[], delayMs = 300): Promise<{ status: number | null; stdout: string }> {
  const child = spawn(process.execPath, [RLSTM, ...args], { cwd });
  let stdout = '';
  const started = new Promise<void>((r) => child.stdout.on('data', (d) => { stdout += d; if (stdout.includes('rlstm train:')) r(); }));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code))); // listening before the signal
  await started;
  await new Promise((r) => setTimeout(r, delayMs));
  for (const signal of signals) child.kill(signal);
  return { status: await exited, stdout };
}

test('Ctrl-C, SIGTERM and SIGHUP save a checkpoint, say how to resume, and the resumed run equals an uninterrupted one', async () => {
  const data = tinyCorpus();
  const work = tempDir();
  // enough epochs that the run is still training when the signal comes (3 take ~2 s on the js backend)
  const train = ['train', '--data', data, ...TINY, '--epochs', '3'];
  const plain = rlstm([...train, '--save', 'plain.safetensors', '--log', 'plain.json'], work);
  assert.equal(plain.status, 0, plain.stderr);
  const y = tensorsOf(join(work, 'plain.safetensors'));
  for (const [signal, status, words] of [['SIGINT', 130, 'interrupted'], ['SIGTERM', 143, 'terminated \\(SIGTERM\\)'],
    ['SIGHUP', 129, 'hung up \\(SIGHUP\\)']] as const) {
    const name = signal.toLowerCase();
    const { status: got, stdout } = await signalled([...train, '--save', `${name}.safetensors`, '--log', `${name}.json`], work, [signal]);
    assert.equal(got, status, `${signal}: ${stdout}`);
    assert.match(stdout, new RegExp(`${words} at step \\d+: saved ${name}.safetensors; resume with: rlstm train --resume ${name}.safetensors`));
    const step = Number(/ at step (\d+)/.exec(stdout)![1]);
    assert.ok(step > 0 && step < 3 * 209, `${signal}: stopped at step ${step}`);
    assert.equal(JSON.parse(readCheckpoint(join(work, `${name}.safetensors`)).metadata.trainingState).step, step);
    const resumed = rlstm(['train', '--resume', `${name}.safetensors`, '--backend', 'js'], work);
    assert.equal(resumed.status, 0, resumed.stderr);
    const x = tensorsOf(join(work, `${name}.safetensors`));
    for (const [tensor, values] of y) assert.deepEqual(x.get(tensor), values, `${signal}: ${tensor} differs`);
    assert.deepEqual(logFacts(join(work, `${name}.json`)), logFacts(join(work, 'plain.json')), signal);
  }
  assert.deepEqual(readdirSync(work).filter((f) => f.endsWith('.tmp')), [], 'no temporary file is left');
});

test('a second signal exits at once, with its own status, leaving the last checkpoint loadable', async () => {
  const data = tinyCorpus();
  const work = tempDir();
  const args = ['train', '--data', data, ...TINY, '--epochs', '6', '--checkpoint-every', '0.001', '--save', 's.safetensors', '--log', 's.json'];
  const { status, stdout } = await signalled(args, work, ['SIGTERM', 'SIGHUP']);
  // the status of the second signal handled (Linux delivers pending signals lowest number first: SIGHUP, then SIGTERM)
  assert.ok(status === 143 || status === 129, `status ${status}: ${stdout}`);
  assert.doesNotMatch(stdout, /saved/);
  if (existsSync(join(work, 's.safetensors'))) readCheckpoint(join(work, 's.safetensors')); // throws on a torn file
  assert.deepEqual(readdirSync(work).filter((f) => f.endsWith('.tmp')), []);
});

test('reproduce and ablate stop on SIGTERM like train: checkpoint saved, their own resume command, status 143', async () => {
  const work = tempDir();
  const r = await signalled(['reproduce', 'small', '--out', 'out', '--checkpoint', 'c.safetensors', '--backend', 'js'], work, ['SIGTERM'], 1000);
  assert.equal(r.status, 143, r.stdout);
  assert.match(r.stdout, /terminated \(SIGTERM\) at step \d+: saved c.safetensors; resume with: rlstm reproduce small --resume --checkpoint c.safetensors --out out/);
  assert.equal(JSON.parse(readFileSync(join(work, 'out', 'summary.json'), 'utf8')).complete, false);
  assert.ok(JSON.parse(readCheckpoint(join(work, 'c.safetensors')).metadata.trainingState).step > 0);

  const data = tinyCorpus();
  const a = await signalled(['ablate', '--data', data, '--hidden', '16', '--train-tokens', '3000', '--epochs', '100',
    '--out', 'ablation', '--runs', 'runs', '--backend', 'js'], work, ['SIGTERM']);
  assert.equal(a.status, 143, a.stdout);
  assert.match(a.stdout, /terminated \(SIGTERM\) at step \d+: saved runs\/[\w.-]+\.safetensors; resume with: rlstm ablate \(the same flags\)/);
  assert.equal(a.stdout.match(/placement \w+, keep probability/g)?.length, 1, 'the ablation stops with the run the signal stopped');
});

test('SIGKILL at any moment leaves the last complete checkpoint loadable', async () => {
  const data = tinyCorpus();
  const work = tempDir();
  const path = join(work, 'k.safetensors');
  // a checkpoint after (almost) every step, so that kills often land while a file is being written
  const args = ['train', '--data', data, ...TINY, '--epochs', '50', '--checkpoint-every', '0.00001', '--save', 'k.safetensors', '--log', 'k.json'];
  let previousStep = -1;
  for (const delay of [900, 1100, 1300, 1500, 1700]) {
    const child = spawn(process.execPath, [RLSTM, ...(previousStep < 0 ? args : ['train', '--resume', 'k.safetensors', '--backend', 'js', '--checkpoint-every', '0.00001'])], { cwd: work });
    const exited = new Promise((r) => child.on('exit', r));
    await new Promise((r) => setTimeout(r, delay));
    child.kill('SIGKILL');
    await exited;
    if (!existsSync(path)) continue; // killed before the first save
    const checkpoint = readCheckpoint(path); // throws on a torn or partial file
    const state = JSON.parse(checkpoint.metadata.trainingState);
    assert.ok(state.step >= previousStep, 'checkpoints only move forward');
    previousStep = state.step;
  }
  assert.ok(previousStep > 0, 'at least one checkpoint was written');
  const resumed = rlstm(['train', '--resume', 'k.safetensors', '--backend', 'js', '--max-steps', String(previousStep + 3)], work);
  assert.equal(resumed.status, 0, resumed.stderr);
});

test('a diverging loss stops training, names the step and the last good checkpoint, which stays intact', () => {
  const data = tinyCorpus();
  const work = tempDir();
  const r = rlstm(['train', '--data', data, ...TINY, '--lr', '1e38', '--clip', '1e38', '--checkpoint-every', '0.000001',
    '--save', 'd.safetensors', '--log', 'd.json'], work);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^rlstm: training diverged: the loss became (NaN|Infinity) at step \d+ \(epoch 1\); the last good checkpoint is d.safetensors \(step \d+\)/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  const checkpoint = readCheckpoint(join(work, 'd.safetensors'));
  assert.ok(JSON.parse(checkpoint.metadata.trainingState).step >= 1);
});

test('resume refuses another corpus and changed hyperparameters, and leaves the checkpoint untouched', () => {
  const data = tinyCorpus();
  const other = tinyCorpus(200);
  const work = tempDir();
  const r = rlstm(['train', '--data', data, ...TINY, '--max-steps', '5', '--save', 'm.safetensors', '--log', 'm.json'], work);
  assert.equal(r.status, 0, r.stderr);
  const before = readFileSync(join(work, 'm.safetensors'));
  const mtime = statSync(join(work, 'm.safetensors')).mtimeMs;
  const wrongCorpus = rlstm(['train', '--resume', 'm.safetensors', '--data', other, '--backend', 'js'], work);
  assert.equal(wrongCorpus.status, 2);
  assert.match(wrongCorpus.stderr, /--resume m.safetensors: the corpus differs from the one this run was trained on; pass the same --data/);
  const changed = rlstm(['train', '--resume', 'm.safetensors', '--lr', '0.5'], work);
  assert.equal(changed.status, 2);
  assert.match(changed.stderr, /--lr cannot be changed when resuming/);
  assert.deepEqual(readFileSync(join(work, 'm.safetensors')), before);
  assert.equal(statSync(join(work, 'm.safetensors')).mtimeMs, mtime);
});

test('truncated, corrupted and incompatible checkpoints are refused by eval and resume', () => {
  const data = tinyCorpus();
  const work = tempDir();
  const r = rlstm(['train', '--data', data, ...TINY, '--max-steps', '3', '--save', 'm.safetensors', '--log', 'm.json'], work);
  assert.equal(r.status, 0, r.stderr);
  const good = readFileSync(join(work, 'm.safetensors'));
  writeFileSync(join(work, 'truncated.safetensors'), good.subarray(0, good.length - 100));
  const corrupted = Buffer.from(good); corrupted[good.length - 50] ^= 0x40;
  writeFileSync(join(work, 'corrupted.safetensors'), corrupted);
  for (const [file, message] of [['truncated.safetensors', /truncated/], ['corrupted.safetensors', /corrupted or truncated \(checksum mismatch\)/]] as const) {
    for (const command of [['eval', '--checkpoint', file, '--data', data], ['train', '--resume', file]]) {
      const x = rlstm(command, work);
      assert.equal(x.status, 2, `${command.join(' ')}: ${x.stderr}`);
      assert.match(x.stderr, message);
      assert.equal(x.stderr.trim().split('\n').length, 1);
    }
  }
  // a well-formed checkpoint whose tensors do not fit its configuration (hidden size edited, checksum redone)
  const checkpoint = readCheckpoint(join(work, 'm.safetensors'));
  const config = JSON.parse(checkpoint.metadata.config);
  const { sha256: _sha, format: _format, ...metadata } = checkpoint.metadata;
  const tensors = [...checkpoint.tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  writeFileSync(join(work, 'incompatible.safetensors'),
    encodeSafetensors(tensors, { ...metadata, config: JSON.stringify({ ...config, hidden: 17 }) }));
  const x = rlstm(['eval', '--checkpoint', 'incompatible.safetensors', '--data', data], work);
  assert.equal(x.status, 2);
  assert.match(x.stderr, /incompatible.safetensors: tensor encoder.weight is shaped \d+x16, the model needs \d+x17; the checkpoint does not match/);
  const y = rlstm(['train', '--resume', 'incompatible.safetensors'], work);
  assert.equal(y.status, 2);
  assert.match(y.stderr, /the checkpoint does not match this configuration/);
});
