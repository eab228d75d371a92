import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCorpusFrom, type Corpus } from '../../src/data/corpus.js';
import { CONFIGS, type TrainConfig } from '../../src/model/configs.js';
import { createRng, nextFloat } from '../../src/util/rng.js';
import { PROJECT_ROOT } from '../harness.js';

/**
 * The data and the baseline of exercise 5 (given: nothing to write here).
 *
 * A toy language small enough to train on in seconds with the TypeScript backend, yet with structure an
 * LSTM has to learn: 57 words, number agreement between a subject and its verb, sometimes across a
 * prepositional phrase or a relative clause ("the dogs near the cat sleep", "a king that sees the birds
 * waits"). The training split is tiny (120 sentences, about 900 tokens), so an unregularized model
 * memorizes it within a few epochs and its validation perplexity climbs: the situation the paper's
 * dropout is for.
 */

const WORDS = {
  determinerSingular: ['the', 'a', 'every', 'this'],
  determinerPlural: ['the', 'some', 'many', 'these'],
  adjective: ['big', 'small', 'tall', 'young', 'happy', 'quiet'],
  nounSingular: ['dog', 'cat', 'bird', 'child', 'teacher', 'farmer', 'doctor', 'king'],
  nounPlural: ['dogs', 'cats', 'birds', 'children', 'teachers', 'farmers', 'doctors', 'kings'],
  transitiveSingular: ['sees', 'likes', 'chases', 'follows', 'helps'],
  transitivePlural: ['see', 'like', 'chase', 'follow', 'help'],
  intransitiveSingular: ['sleeps', 'runs', 'sings', 'waits'],
  intransitivePlural: ['sleep', 'run', 'sing', 'wait'],
  adverb: ['quickly', 'today', 'again', 'slowly'],
  preposition: ['near', 'with', 'behind'],
};

/** `sentences` lines of the toy language, one sentence per line, drawn from a generator seeded with `seed`. */
export function toyText(seed: number, sentences: number): string {
  const rng = createRng(seed);
  const chance = (p: number): boolean => nextFloat(rng) < p;
  const pick = (words: string[]): string => words[Math.floor(nextFloat(rng) * words.length)];
  // a noun phrase, singular or plural; at the top level it may carry a prepositional phrase or a relative clause
  const nounPhrase = (depth: number): { words: string[]; plural: boolean } => {
    const plural = chance(0.5);
    const words = [pick(plural ? WORDS.determinerPlural : WORDS.determinerSingular)];
    if (chance(0.4)) words.push(pick(WORDS.adjective));
    words.push(pick(plural ? WORDS.nounPlural : WORDS.nounSingular));
    if (depth < 1 && chance(0.25)) words.push(pick(WORDS.preposition), ...nounPhrase(depth + 1).words);
    else if (depth < 1 && chance(0.2)) words.push('that', ...verbPhrase(plural, depth + 1));
    return { words, plural };
  };
  // a verb phrase that agrees with its subject's number
  const verbPhrase = (plural: boolean, depth: number): string[] => {
    if (chance(0.6)) {
      const verb = pick(plural ? WORDS.transitivePlural : WORDS.transitiveSingular);
      return [verb, ...nounPhrase(depth + 1).words];
    }
    const words = [pick(plural ? WORDS.intransitivePlural : WORDS.intransitiveSingular)];
    if (chance(0.4)) words.push(pick(WORDS.adverb));
    return words;
  };
  const lines: string[] = [];
  for (let s = 0; s < sentences; s++) {
    const subject = nounPhrase(0);
    lines.push([...subject.words, ...verbPhrase(subject.plural, 0)].join(' '));
  }
  return lines.join('\n') + '\n';
}

/** The three splits: different seeds, so validation and test sentences are new draws from the same language. */
export const TOY_SPLITS = {
  train: { seed: 1, sentences: 120 },
  valid: { seed: 1001, sentences: 150 },
  test: { seed: 2001, sentences: 40 },
} as const;

/** Where the splits are stored, so that the command line can train on them too (rlstm train --data ...). */
export const TOY_CORPUS_DIR = join(PROJECT_ROOT, 'exercises/05-pipeline/data');

/** Writes train.txt, valid.txt and test.txt (how the files in data/ were made). */
export function writeToyCorpus(dir: string = TOY_CORPUS_DIR): void {
  mkdirSync(dir, { recursive: true });
  for (const [split, { seed, sentences }] of Object.entries(TOY_SPLITS)) {
    writeFileSync(join(dir, `${split}.txt`), toyText(seed, sentences));
  }
}

/** The toy corpus through the library's data loader (src/data/corpus.ts): every training word in the vocabulary. */
export function loadToyCorpus(): Corpus {
  return loadCorpusFrom({ dir: TOY_CORPUS_DIR }, { level: 'word', vocabSize: null });
}

/**
 * The unregularized baseline and the budget both models get: 20 epochs of 18 windows (T = 10, B = 5),
 * 360 SGD steps at learning rate 1, a 2-layer LSTM of 64 units. The initialization and clipping are
 * chosen so that such a small model leaves its first plateau quickly.
 */
export const BASELINE: TrainConfig = {
  ...CONFIGS.small,
  name: 'exercise-5-baseline',
  layers: 2, hidden: 64, init: 0.2, clip: 2, bptt: 10, batchSize: 5,
  lr: 1, epochs: 20, maxEpoch: 20, decay: 0.5, seed: 1,
  keepProb: 1, placement: 'zaremba', layerNorm: false, weightDecay: 0, patience: 0,
  maxSteps: null, timeBudgetMinutes: null, testBatchSize: 5, testBptt: 10,
};
