/**
 * The library's common path (docs/library.md): train a small model on a text held in memory, save it,
 * load it back, score a sentence, sample some text. Runs in a few seconds:
 *
 *   npm run build && node dist/examples/library.js
 *
 * It imports the package by its name, so it runs unchanged after `npm install regularized-lstm`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, train } from 'regularized-lstm';

// a tiny corpus: sentences that repeat, so that a model of 32 units learns them in seconds
const sentences = [
  'the cat sat on the mat', 'the dog sat on the rug', 'a cat ran to the dog', 'the dog ran to a cat',
  'a bird sat on the dog', 'the cat saw a bird',
];
const lines = (n: number, offset: number): string =>
  Array.from({ length: n }, (_, k) => sentences[(k * 5 + offset) % sentences.length]).join('\n') + '\n';

const corpus = { texts: { train: lines(600, 0), valid: lines(60, 1), test: lines(60, 2) } };
const trained = await train({
  corpus,
  config: { name: 'small', layers: 1, hidden: 32, keepProb: 0.9, epochs: 3, bptt: 10, batchSize: 10, init: 0.1, lr: 1, maxEpoch: 2 },
  backend: 'js', // the same bits on every machine
  onEpoch: (m) => console.log(`epoch ${m.epoch}: valid perplexity ${m.validPerplexity.toFixed(2)}`),
});

const file = join(mkdtempSync(join(tmpdir(), 'rlstm-example-')), 'model.safetensors');
trained.save(file);

const model = loadModel(file, { backend: 'js' });
console.log(`test perplexity ${model.evaluate('test', { corpus }).perplexity.toFixed(2)}`);

const score = model.score('the cat sat on the mat\nthe mat sat on the cat\n');
for (const [i, line] of score.lines.entries()) console.log(`line ${i + 1} perplexity ${line.perplexity?.toFixed(2)}: ${line.text}`);
const surprising = score.entries.reduce((a, b) => (b.surprisal > a.surprisal ? b : a));
console.log(`most surprising: "${surprising.token}" on line ${surprising.line + 1} (${surprising.surprisal.toFixed(1)} bits)`);

console.log(`sample: ${model.generate('the dog', { tokens: 12, topK: 3, seed: 7 }).replace(/\n/g, ' / ')}`);
