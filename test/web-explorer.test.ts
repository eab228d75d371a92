import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { jsBackend } from '../src/kernels/js.js';
import {
  continueTokens, correlation, featureSeries, inspectText, sampleTopK, topIndices, unitSeries, unitsTracking, type LayerTrace,
} from '../src/model/inspect.js';
import { evaluate } from '../src/train/evaluate.js';
import { decodeSafetensors, encodeSafetensors, modelTensors, readCheckpoint, saveCheckpoint } from '../src/train/checkpoint.js';
import { modelInPlaceFromCheckpoint } from '../src/train/checkpoint-model.js';
import { loadModelFromCheckpoint } from '../src/train/load.js';
import { parseSafetensors } from '../src/train/safetensors.js';
import { createRng } from '../src/util/rng.js';
import { createSha256 } from '../src/util/sha256.js';
import { CHROMIUM, CHROMIUM_ARGS, serveStatic, watchPage } from './browser.js';
import { PROJECT_ROOT, RLSTM, tempDir } from './helpers.js';

/**
 * The walkthrough's model explorer: its pure parts in Node (src/model/inspect.ts, the browser-safe
 * checkpoint parser and SHA-256), then the page in Chromium: every view, the agreement with
 * `rlstm score --json` (1e-3 relative per token and for the perplexity), opening checkpoints from disk,
 * keyboard use and a phone-width screen, no console errors, no request to another host.
 */

const MODEL = join(PROJECT_ROOT, 'models/ptb-small.safetensors');
const TEXT = 'the company said it expects to report a loss for the third quarter\n'
  + 'shares of zzqx rose N cents to $ N in heavy trading';

/** EXPLORER_SCREENSHOT=docs/explorer.png refreshes the one in docs/. */
const SCREENSHOT = join(PROJECT_ROOT, process.env.EXPLORER_SCREENSHOT ?? 'web/dist/e2e/explorer.png');

const relative = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);

/** `rlstm score --json` on a text; null when this checkout's CLI has no score command. */
function cliScore(text: string): { perplexity: number; tokens: number; unknown: number; context: string;
  entries: { line: number; token: string; id: number; logProb: number; unknown: boolean }[] } | null {
  const r = spawnSync(process.execPath, [RLSTM, 'score', '--checkpoint', MODEL, '--text', text, '--json'], { encoding: 'utf8' });
  if (r.status !== 0 && /unknown command/i.test(r.stderr)) return null;
  assert.equal(r.status, 0, `rlstm score failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

test('inspectText scores a text as evaluation with batch 1 does, and as rlstm score prints it', () => {
  const { model, vocab, config } = loadModelFromCheckpoint(MODEL);
  const inspection = inspectText(jsBackend, model, vocab, config.level, TEXT);
  const { score } = inspection;
  const tokens = TEXT.split('\n').flatMap((line) => [...line.split(' '), '<eos>']);
  assert.equal(score.tokens, tokens.length - 1, 'every token but the first is scored');
  assert.equal(score.context, 'the');
  assert.deepEqual(score.entries.map((e) => e.token), tokens.slice(1));
  assert.deepEqual(score.entries.filter((e) => e.unknown).map((e) => e.token), ['zzqx']);
  assert.equal(score.unknown, 1);
  assert.deepEqual(score.lines.map((l) => l.tokens), [13, 13]);

  // the library's evaluation on the same ids, batch 1: the same total
  const ids = Int32Array.from(tokens, (w) => vocab.ids.get(w) ?? vocab.ids.get('<unk>')!);
  const evaluation = evaluate(jsBackend, model, ids, 1, 20);
  // within 1e-7, as rlstm score's test allows: evaluation's total comes from the softmax kernel (exponentials in
  // float32 lanes), the entries from a float64 log-softmax of the same logits (1.4e-9 apart here with relaxed SIMD)
  assert.ok(relative(score.perplexity, evaluation.perplexity) < 1e-7, `${score.perplexity} vs ${evaluation.perplexity}`);
  // and token by token: the prefix of k+2 tokens scores the first k+1 entries
  for (const k of [0, 5, 13, 20]) {
    const prefix = evaluate(jsBackend, model, ids.subarray(0, k + 2), 1, 20);
    const sum = score.entries.slice(0, k + 1).reduce((s, e) => s - e.logProb, 0);
    assert.ok(relative(sum, prefix.nll) < 1e-6, `entries 0..${k}: ${sum} vs ${prefix.nll}`);
  }
  // every step has ten next tokens, most likely first, probabilities of a softmax
  assert.equal(inspection.next.length, tokens.length);
  for (const next of inspection.next) {
    assert.equal(next.ids.length, 10);
    for (let j = 1; j < 10; j++) assert.ok(next.probs[j] <= next.probs[j - 1]);
    assert.ok(next.probs.reduce((s, p) => s + p, 0) <= 1 + 1e-9);
  }
  // the next-token probability of the text's own token is its entry's
  const k = 3;
  const j = inspection.next[k].ids.indexOf(score.entries[k].id);
  if (j >= 0) assert.ok(relative(Math.log(inspection.next[k].probs[j]), score.entries[k].logProb) < 1e-9);
  // gates are sigmoids (i, f, o) and tanh (g); the trace has one step per token
  assert.equal(inspection.trace.steps, tokens.length);
  const gates = inspection.trace.gates[1];
  assert.ok(gates.every((v) => v >= -1 && v <= 1));
  assert.ok(unitSeries(inspection.trace, 0, 7, 'f').every((v) => v >= 0 && v <= 1));

  const cli = cliScore(TEXT);
  if (cli === null) return; // checked in the browser test below, with a skip reason
  assert.equal(cli.tokens, score.tokens);
  assert.equal(cli.context, score.context);
  cli.entries.forEach((e, n) => {
    const mine = score.entries[n];
    assert.deepEqual([mine.line, mine.token, mine.id, mine.unknown], [e.line, e.token, e.id, e.unknown]);
    assert.ok(relative(mine.logProb, e.logProb) < 1e-3, `token ${n} ${e.token}: ${mine.logProb} vs ${e.logProb}`);
  });
  assert.ok(relative(score.perplexity, cli.perplexity) < 1e-3);
});

test('an empty text is refused with a one-line message', () => {
  const { model, vocab, config } = loadModelFromCheckpoint(MODEL);
  assert.throws(() => inspectText(jsBackend, model, vocab, config.level, ' \n'), { name: 'UserError', message: /^the text: empty; type some text/ });
});

test('top-k sampling: seeded, only among the k most likely, temperature 0 is the argmax', () => {
  const logits = Float32Array.from([0.5, 3, -1, 2.9, 1, 3, -1.5, 0]);
  assert.deepEqual(topIndices(logits, 3), [1, 5, 3], 'largest first, the lower id first on ties');
  const scratch = { weights: new Float64Array(8), order: new Int32Array(8) };
  assert.equal(sampleTopK(logits, 0, 0, createRng(1), scratch), 1);
  const draw = (topK: number, seed: number, n: number): number[] => {
    const rng = createRng(seed);
    return Array.from({ length: n }, () => sampleTopK(logits, 1, topK, rng, scratch));
  };
  assert.deepEqual(new Set(draw(3, 2, 400)), new Set([1, 5, 3]), 'top-3 draws only ids 1, 5 and 3, all of them');
  assert.equal(new Set(draw(0, 2, 2000)).size, 8, 'top-k 0 samples from every id');
  assert.deepEqual(draw(3, 9, 50), draw(3, 9, 50), 'the same seed gives the same draws');

  const { model, vocab } = loadModelFromCheckpoint(MODEL);
  const prompt = ['the', 'company', 'said'].map((w) => vocab.ids.get(w)!);
  const options = { count: 12, temperature: 1, topK: 5, seed: 3 };
  const a = continueTokens(jsBackend, model, vocab, prompt, options);
  assert.equal(a.length, 12);
  assert.deepEqual(continueTokens(jsBackend, model, vocab, prompt, options), a);
  assert.notDeepEqual(continueTokens(jsBackend, model, vocab, prompt, { ...options, seed: 4 }), a);
  // greedy continuation is the argmax of the inspection's next-token list after the prompt
  const greedy = continueTokens(jsBackend, model, vocab, prompt, { count: 1, temperature: 0, topK: 0, seed: 0 });
  const inspection = inspectText(jsBackend, model, vocab, 'word', 'the company said');
  assert.equal(greedy[0], inspection.next[2].ids[0]);
});

test('features and the units that track them', () => {
  const fed = ['a', 'b', '(', 'c', ')', '<eos>', 'd', '"', 'e', '"'];
  assert.deepEqual([...featureSeries(fed, 'position')], [1, 2, 3, 4, 5, 0, 1, 2, 3, 4]);
  assert.deepEqual([...featureSeries(fed, 'enclosed')], [0, 0, 1, 1, 0, 0, 0, 1, 1, 0]);
  assert.ok(Number.isNaN(correlation([1, 2, 3], [5, 5, 5])));
  assert.ok(Math.abs(correlation([1, 2, 3], [-2, -4, -6]) + 1) < 1e-12);
  // a trace where unit 2's cell counts the position and unit 0's forget gate falls with it
  const steps = fed.length, H = 3;
  const position = featureSeries(fed, 'position');
  const trace: LayerTrace = { steps, hidden: H, gates: [new Float32Array(steps * 4 * H)], cells: [new Float32Array(steps * H)] };
  for (let s = 0; s < steps; s++) {
    trace.cells[0][s * H + 2] = 0.1 * position[s];
    trace.cells[0][s * H + 1] = Math.sin(7 * s);
    trace.gates[0][s * 4 * H + H + 0] = 1 - 0.05 * position[s];
  }
  const byCell = unitsTracking(trace, 0, 'c', position, 2);
  assert.equal(byCell[0].unit, 2);
  assert.ok(Math.abs(byCell[0].r - 1) < 1e-6);
  const byForget = unitsTracking(trace, 0, 'f', position, 3);
  assert.equal(byForget.length, 1, 'units whose forget gate is constant are left out');
  assert.equal(byForget[0].unit, 0);
  assert.ok(byForget[0].r < -0.999);
});

test('the browser-safe parser and SHA-256 read checkpoints exactly as the Node reader does', () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 200, 100_003]) {
    const bytes = randomBytes(n);
    const mine = createSha256().update(bytes.subarray(0, n >> 1)).update(bytes.subarray(n >> 1)).update('\0ké\0').digest('hex');
    assert.equal(mine, createHash('sha256').update(bytes).update('\0ké\0').digest('hex'), `${n} bytes`);
  }
  const bytes = new Uint8Array(readFileSync(MODEL));
  const node = decodeSafetensors(bytes, MODEL);
  const browser = parseSafetensors(bytes, MODEL, createSha256);
  assert.equal(browser.dtype, 'F16');
  assert.deepEqual(browser.metadata, node.metadata);
  for (const [name, t] of node.tensors) assert.deepEqual(browser.tensors.get(name)!.data, t.data, name);
  const { model } = modelInPlaceFromCheckpoint(browser, MODEL);
  assert.deepEqual(model.params, loadModelFromCheckpoint(MODEL).model.params);
  assert.equal(model.params.buffer, browser.tensors.get('encoder.weight')!.data.buffer, 'the decoded values, not a copy of them');
  // a float32 file: the parameters are a view of the file's own bytes (the large model: 264 MB, once)
  const f32 = encodeSafetensors(modelTensors(model), { config: node.metadata.config, vocab: node.metadata.vocab });
  const inPlace = modelInPlaceFromCheckpoint(parseSafetensors(f32, 'f32', createSha256), 'f32');
  assert.equal(inPlace.model.params.buffer, f32.buffer);
  assert.deepEqual(inPlace.model.params, model.params);
  // one flipped bit in the data: the same one-line refusal from both
  const damaged = bytes.slice();
  damaged[damaged.length - 3] ^= 1;
  const refusal = /: the file is corrupted or truncated \(checksum mismatch\); pass a checkpoint/;
  assert.throws(() => decodeSafetensors(damaged, 'x.safetensors'), { name: 'UserError', message: refusal });
  assert.throws(() => parseSafetensors(damaged, 'x.safetensors', createSha256), { name: 'UserError', message: refusal });
});

test('model explorer in Chromium: scores as rlstm score, next words, gates and cells, continuation, opened checkpoints', {
  timeout: 240_000,
}, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is not installed (apt-get install chromium; .ci/run installs it)`);
    return;
  }
  const { build } = await import('vite');
  const { chromium } = await import('playwright-core');
  const dir = tempDir('rlstm-explorer-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const outDir = join(dir, 'site');
  await build({ configFile: join(PROJECT_ROOT, 'web/vite.config.ts'), logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  const { server, origin, missing } = await serveStatic(outDir);
  t.after(() => server.close());

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  await context.route('**/*', (route) => (route.request().url().startsWith(`${origin}/`) ? route.continue() : route.abort()));
  const page = await context.newPage();
  const { errors, elsewhere } = watchPage(page, origin);
  await page.goto(`${origin}/`);
  const status = page.locator('#explorer-status');
  await page.waitForFunction(() => document.querySelector('#explorer-status')?.getAttribute('data-state') === 'ready', null, { timeout: 60_000 });
  assert.match((await status.textContent()) ?? '', /ptb-small\.safetensors \(2 × 200, 10,000 words, .* F16\)/);

  // 1. type a text: the scores appear, and agree with rlstm score (or, on a branch without it, the library)
  const scored = async (text: string): Promise<{ perplexity: number; tokens: { token: string; logProb: number | null }[] }> => {
    await page.locator('#explorer-text').fill(text);
    await page.waitForFunction((n) => document.querySelectorAll('#explorer-tokens .ex-token').length === n
      && document.querySelector('#explorer-perplexity')?.getAttribute('data-tokens') === String(n - 1),
    text.split('\n').reduce((s, line) => s + line.split(/\s+/).filter(Boolean).length + 1, 0), { timeout: 30_000 });
    return page.evaluate(() => ({
      perplexity: Number(document.querySelector<HTMLElement>('#explorer-perplexity')!.dataset.perplexity),
      tokens: Array.from(document.querySelectorAll<HTMLElement>('#explorer-tokens .ex-token'), (b) => ({
        token: b.dataset.token!, logProb: b.dataset.logProb === undefined ? null : Number(b.dataset.logProb),
      })),
    }));
  };
  const shown = await scored(TEXT);
  const { model, vocab, config } = loadModelFromCheckpoint(MODEL);
  const reference = inspectText(jsBackend, model, vocab, config.level, TEXT).score;
  const cli = cliScore(TEXT);
  const expected = cli ?? reference;
  if (cli === null) t.diagnostic('rlstm score is not on this branch: compared with the library instead (src/model/inspect.ts in Node)');
  assert.equal(shown.tokens[0].logProb, null, 'the first token is read, not scored');
  assert.equal(shown.tokens[0].token, expected.context);
  assert.equal(shown.tokens.length - 1, expected.entries.length);
  let worst = 0;
  expected.entries.forEach((e, k) => {
    const mine = shown.tokens[k + 1];
    assert.equal(mine.token, e.token);
    worst = Math.max(worst, relative(mine.logProb!, e.logProb));
  });
  assert.ok(worst < 1e-3, `per-token log-probabilities within 1e-3 relative (worst ${worst})`);
  assert.ok(relative(shown.perplexity, expected.perplexity) < 1e-3, `perplexity ${shown.perplexity} vs ${expected.perplexity}`);
  t.diagnostic(`explorer vs ${cli === null ? 'library' : 'rlstm score'}: worst per-token relative difference ${worst.toExponential(1)}, `
    + `perplexity ${shown.perplexity.toFixed(3)} vs ${expected.perplexity.toFixed(3)}`);
  assert.match((await page.locator('#explorer-perplexity').textContent()) ?? '', /over 26 scored tokens \(1 unknown/);
  assert.equal(await page.locator('#explorer-tokens .ex-unknown').textContent(), 'zzqx');

  // an empty text: the one-line message instead of scores, then the text again
  await page.locator('#explorer-text').fill('   ');
  await page.locator('#explorer-perplexity', { hasText: 'the text: empty; type some text to score' }).waitFor();
  assert.equal(await page.locator('#explorer-tokens .ex-token').count(), 0);
  await scored(TEXT);

  // 2. hover, then keyboard focus: the token's probability
  const info = page.locator('#explorer-token-info');
  await page.locator('#explorer-tokens .ex-token').nth(2).hover(); // "said"
  const said = Math.exp(reference.entries[1].logProb);
  const saidShown = said >= 0.1 ? said.toFixed(2) : said >= 0.001 ? said.toFixed(3) : said.toExponential(1);
  assert.match((await info.textContent()) ?? '', new RegExp(`^"said": probability ${saidShown}, surprisal [0-9.]+ bits$`));
  await page.locator('#explorer-tokens .ex-token').nth(4).focus();
  await page.keyboard.press('Tab'); // to the sixth token, "to"
  assert.equal(await info.getAttribute('data-index'), '5');
  assert.match((await info.textContent()) ?? '', /^"to": probability/);

  // 3. the ten most likely next words: after the whole text by default, after "said" once it is pressed
  assert.equal(await page.locator('#explorer-next li').count(), 10);
  await page.keyboard.press('Shift+Tab'); // back to "expects"
  await page.keyboard.press('Shift+Tab'); // "it"
  await page.keyboard.press('Shift+Tab'); // "said"
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('#explorer-next-title').getAttribute('data-step'), '2');
  const next = await page.locator('#explorer-next li').evaluateAll((items) => items.map((li) => ({
    word: (li as HTMLElement).dataset.word!, prob: Number((li as HTMLElement).dataset.prob),
  })));
  const expectedNext = inspectText(jsBackend, model, vocab, config.level, TEXT).next[2];
  assert.deepEqual(next.map((n) => n.word), expectedNext.ids.map((v) => vocab.words[v]), 'the same ten words, in order');
  next.forEach((n, j) => assert.ok(relative(n.prob, expectedNext.probs[j]) < 1e-3));

  // 4. gates and cells: the units most correlated with position, then units by number, then layer 1
  const heatmap = page.locator('#explorer-heatmap');
  await page.waitForFunction(() => (document.querySelector('#explorer-heatmap')?.getAttribute('data-units') ?? '').length > 0);
  assert.equal(await heatmap.getAttribute('data-layer'), '1', 'the top layer by default');
  assert.equal(await heatmap.locator('tbody tr').count(), 6 * 4, 'six units, four rows each (i, f, o, c)');
  assert.equal(await heatmap.locator('thead th').count(), 1 + shown.tokens.length, 'a column per step');
  const note = (await page.locator('#explorer-units-note').textContent()) ?? '';
  const found = [...note.matchAll(/(\d+) \(r = (-?[0-9.]+)\)/g)].map((m) => ({ unit: Number(m[1]), r: Number(m[2]) }));
  const inspection = inspectText(jsBackend, model, vocab, config.level, TEXT);
  const expectedUnits = unitsTracking(inspection.trace, 1, 'c', featureSeries(inspection.fed, 'position'), 6);
  assert.deepEqual(found.map((u) => u.unit), expectedUnits.map((u) => u.unit));
  assert.ok(Math.abs(found[0].r) > 0.5, `the best unit follows position (r = ${found[0].r})`);
  await page.locator('#explorer-feature').selectOption('manual');
  await page.locator('#explorer-unit-list').fill('5 17');
  await page.locator('#explorer-layer').selectOption('0');
  await page.locator('#explorer-show-units').click();
  await page.waitForFunction(() => document.querySelector('#explorer-heatmap')?.getAttribute('data-units') === '5 17'
    && document.querySelector('#explorer-heatmap')?.getAttribute('data-layer') === '0');
  const cell = Number(await heatmap.locator('tbody tr').nth(4 + 3).locator('td').nth(3).getAttribute('data-value')); // unit 17, c, step 3
  assert.ok(relative(cell, unitSeries(inspection.trace, 0, 17, 'c')[3]) < 1e-3);
  await page.locator('#explorer-unit-list').fill('5 999');
  await page.locator('#explorer-show-units').click();
  assert.match((await page.locator('#explorer-units-note').textContent()) ?? '', /^Units: whole numbers from 0 to 199/);
  await page.locator('#explorer-feature').selectOption('enclosed');
  await page.locator('#explorer-layer').selectOption('1');
  await page.waitForFunction(() => /parentheses or quotes/.test(document.querySelector('#explorer-units-note')?.textContent ?? ''));

  // 5. continue the text: seeded, top-k, repeatable
  await page.locator('#explorer-topk').fill('10');
  await page.locator('#explorer-count').fill('15');
  await page.locator('#explorer-seed').fill('7');
  const continued = async (): Promise<string> => {
    await page.locator('#explorer-continue').click();
    await page.waitForFunction(() => document.querySelector('#explorer-continuation')?.getAttribute('data-state') === 'done');
    return (await page.locator('#explorer-continuation .ex-sampled').textContent()) ?? '';
  };
  const first = await continued();
  assert.equal(first.trim().split(/\s+/).length >= 10, true, `15 sampled tokens: ${JSON.stringify(first)}`);
  assert.equal(await page.locator('#explorer-continuation').getAttribute('data-tokens'), '15');
  assert.equal(await continued(), first, 'the same seed, the same words');
  await page.locator('#explorer-seed').fill('8');
  assert.notEqual(await continued(), first);
  t.diagnostic(`continuation (seed 7, top-10): ${JSON.stringify(first)}`);

  // 6. open checkpoints from disk: the same model as float32 scores the same; a damaged file is refused in one line
  const { model: small } = loadModelFromCheckpoint(MODEL);
  const metadata = readCheckpoint(MODEL).metadata;
  const f32 = join(dir, 'small-f32.safetensors');
  saveCheckpoint(f32, small, { config: metadata.config, vocab: metadata.vocab });
  await page.locator('#explorer-file').setInputFiles(f32);
  await page.waitForFunction(() => /small-f32\.safetensors .*F32\)/.test(document.querySelector('#explorer-status')?.textContent ?? ''), null, { timeout: 60_000 });
  const again = await scored(TEXT);
  assert.ok(relative(again.perplexity, shown.perplexity) < 1e-6, 'float32 and float16 files of the same values score the same');
  const damaged = join(dir, 'damaged.safetensors');
  const bytes = readFileSync(f32);
  bytes[bytes.length - 5] ^= 0x40;
  writeFileSync(damaged, bytes);
  await page.locator('#explorer-file').setInputFiles(damaged);
  await page.waitForFunction(() => document.querySelector('#explorer-status')?.getAttribute('data-state') === 'error');
  assert.equal(await status.textContent(),
    'damaged.safetensors: the file is corrupted or truncated (checksum mismatch); pass a checkpoint written by \'rlstm train\' or \'rlstm export\'');

  // the screenshot: the explorer with the default model on the test's text
  await page.locator('#explorer-file').setInputFiles(MODEL);
  await page.waitForFunction(() => document.querySelector('#explorer-status')?.getAttribute('data-state') === 'ready', null, { timeout: 60_000 });
  await scored(TEXT);
  await page.locator('#explorer-feature').selectOption('position');
  await page.waitForFunction(() => (document.querySelector('#explorer-heatmap')?.getAttribute('data-units') ?? '').split(' ').length === 6);
  mkdirSync(dirname(SCREENSHOT), { recursive: true });
  await page.locator('#explorer').screenshot({ path: SCREENSHOT });
  t.diagnostic(`screenshot: ${SCREENSHOT} (${(statSync(SCREENSHOT).size / 1024).toFixed(0)} KB)`);

  // 7. a phone-width screen: nothing wider than it (the heat map scrolls inside its box)
  await page.setViewportSize({ width: 390, height: 844 });
  const width = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, screen: window.innerWidth }));
  assert.ok(width.page <= width.screen, `page ${width.page}px wide on a ${width.screen}px screen`);

  assert.deepEqual(errors, [], 'no console errors');
  assert.deepEqual(elsewhere, [], 'no request to another host');
  assert.deepEqual(missing, [], 'every request was served from the build');
});
