import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';

/**
 * Corpus reading (SPEC.md, "Data"): every line becomes its whitespace-separated words followed by
 * `<eos>`; the vocabulary is built from the training split; ids are then laid out in B contiguous rows.
 */

export const EOS = '<eos>';
export const UNK = '<unk>';

export interface Vocabulary {
  words: string[]; //              id → word
  ids: Map<string, number>; //     word → id
}

export interface Corpus {
  vocab: Vocabulary;
  train: Int32Array;
  valid: Int32Array;
  test: Int32Array;
  /** Where the splits came from, for logs and error messages. */
  files: { train: string; valid: string; test: string };
}

/** Splits text into words, one `<eos>` after each line (the Mikolov PTB convention). */
export function tokenizeWords(text: string): string[] {
  const words: string[] = [];
  for (const line of text.split('\n')) {
    for (const word of line.trim().split(/\s+/)) if (word.length > 0) words.push(word);
    words.push(EOS);
  }
  // a trailing newline does not start one more (empty) line
  if (text.endsWith('\n')) words.pop();
  return words;
}

/** Vocabulary of the training words: by decreasing count, ties by the word, so ids are reproducible. */
export function buildVocabulary(words: string[]): Vocabulary {
  const counts = new Map<string, number>();
  for (const w of words) counts.set(w, (counts.get(w) ?? 0) + 1);
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return vocabularyFromWords(sorted.map(([w]) => w));
}

export function vocabularyFromWords(words: string[]): Vocabulary {
  return { words, ids: new Map(words.map((w, i) => [w, i])) };
}

/** Words → ids; a word outside the vocabulary becomes `<unk>` (an error if there is no `<unk>`). */
export function encodeWords(words: string[], vocab: Vocabulary, source: string): Int32Array {
  const ids = new Int32Array(words.length);
  const unk = vocab.ids.get(UNK);
  for (let k = 0; k < words.length; k++) {
    const id = vocab.ids.get(words[k]) ?? unk;
    if (id === undefined) {
      throw new UserError(`${source}: the word "${words[k]}" is not in the training vocabulary and there is no ${UNK}; `
        + `add ${UNK} to the training text or use the same vocabulary for every split`);
    }
    ids[k] = id;
  }
  return ids;
}

/** The three split files of a data folder: PTB's names (ptb.train.txt ...) or train.txt/valid.txt/test.txt. */
export function findSplitFiles(dir: string): { train: string; valid: string; test: string } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UserError(`--data ${dir}: no such folder; point --data at a folder holding ptb.train.txt, ptb.valid.txt `
      + 'and ptb.test.txt (or train.txt, valid.txt, test.txt)');
  }
  const pick = (split: string): string => {
    for (const name of [`ptb.${split}.txt`, `${split}.txt`]) {
      const path = join(dir, name);
      if (existsSync(path)) return path;
    }
    throw new UserError(`--data ${dir}: no ${split} split found; add ptb.${split}.txt or ${split}.txt to the folder`);
  };
  return { train: pick('train'), valid: pick('valid'), test: pick('test') };
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UserError(`${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'}); check the path and its permissions`);
  }
}

/**
 * Reads a corpus folder. With `vocab` given (a checkpoint's), splits are encoded with it; otherwise the
 * vocabulary is built from the training split.
 */
export function loadCorpus(dir: string, vocab?: Vocabulary): Corpus {
  const files = findSplitFiles(dir);
  const trainWords = tokenizeWords(readText(files.train));
  const v = vocab ?? buildVocabulary(trainWords);
  const load = (path: string): Int32Array => {
    const ids = encodeWords(tokenizeWords(readText(path)), v, path);
    if (ids.length < 2) throw new UserError(`${path}: the split has fewer than two tokens; give it some text`);
    return ids;
  };
  return {
    vocab: v,
    train: encodeWords(trainWords, v, files.train),
    valid: load(files.valid),
    test: load(files.test),
    files,
  };
}

/** A token stream cut into B contiguous rows of L = floor(n / B) tokens (the remainder is dropped). */
export interface Batched {
  B: number;
  L: number;
  rows: Int32Array; // (B, L): rows[b·L + j] = stream[b·L + j]
}

export function batchify(stream: Int32Array, B: number, source = 'the split'): Batched {
  const L = Math.floor(stream.length / B);
  if (L < 2) {
    throw new UserError(`--batch-size ${B}: too large for ${source} (${stream.length} tokens gives rows of ${L}); `
      + `use a batch size of at most ${Math.floor(stream.length / 2)}`);
  }
  return { B, L, rows: stream.slice(0, B * L) };
}

/** Number of windows of at most T steps in one pass over the rows (the last one may be shorter). */
export function windowCount(data: Batched, T: number): number {
  return Math.ceil((data.L - 1) / T);
}

/**
 * Window k: inputs rows[:, kT : kT+len] and targets shifted by one, written time-major into
 * tokens/targets (T·B): tokens[t·B + b] = rows[b][kT + t]. Returns len (T, or less for the last window).
 */
export function fillWindow(data: Batched, k: number, T: number, tokens: Int32Array, targets: Int32Array): number {
  const start = k * T;
  const len = Math.min(T, data.L - 1 - start);
  const { B, L, rows } = data;
  for (let t = 0; t < len; t++) {
    for (let b = 0; b < B; b++) {
      tokens[t * B + b] = rows[b * L + start + t];
      targets[t * B + b] = rows[b * L + start + t + 1];
    }
  }
  return len;
}
