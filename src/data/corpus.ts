import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';

/**
 * Corpus reading (SPEC.md, "Data"): any UTF-8 text, cut into tokens at one of two levels:
 *
 *   word: every line becomes its whitespace-separated words followed by `<eos>` (the Mikolov PTB convention)
 *   char: every line becomes its Unicode code points (spaces included) followed by `<eos>`
 *
 * The vocabulary is built from the training split (by decreasing count, ties by the token), always holds
 * `<unk>`, and tokens outside it become `<unk>` in every split. Ids are then laid out in B contiguous rows.
 */

export const EOS = '<eos>';
export const UNK = '<unk>';

export type TokenLevel = 'word' | 'char';

export interface Vocabulary {
  words: string[]; //              id → word (or character)
  ids: Map<string, number>; //     word → id
}

export interface Corpus {
  level: TokenLevel;
  vocab: Vocabulary;
  train: Int32Array;
  valid: Int32Array;
  test: Int32Array;
  /** Where the splits came from, for logs and error messages. */
  files: { train: string; valid: string; test: string };
}

/** A data folder (ptb.{train,valid,test}.txt or {train,valid,test}.txt), or three explicit files. */
export type CorpusSource = { dir: string } | { train: string; valid: string; test: string };

export interface CorpusOptions {
  level: TokenLevel;
  /** Keep the vocabSize−1 most frequent training tokens plus `<unk>`; null keeps every training token. */
  vocabSize: number | null;
  /** A vocabulary to use as is (a checkpoint's); the training split then does not build one. */
  vocab?: Vocabulary;
}

type Split = 'train' | 'valid' | 'test';
const SPLITS: readonly Split[] = ['train', 'valid', 'test'];
const SPLIT_NAMES: Record<Split, string> = { train: 'training', valid: 'validation', test: 'test' };

/** The lines of a text; a trailing newline does not start one more (empty) line. */
function textLines(text: string): string[] {
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  return lines;
}

/** Splits text into words, one `<eos>` after each line (the Mikolov PTB convention). */
export function tokenizeWords(text: string): string[] {
  const words: string[] = [];
  for (const line of textLines(text)) {
    for (const word of line.trim().split(/\s+/)) if (word.length > 0) words.push(word);
    words.push(EOS);
  }
  return words;
}

/**
 * Splits text into Unicode code points (Array.from, so a character outside the BMP is one token), one
 * `<eos>` after each line; a '\r' ending a line (Windows text) is dropped.
 */
export function tokenizeChars(text: string): string[] {
  const chars: string[] = [];
  for (const line of textLines(text)) {
    const content = line.endsWith('\r') ? line.slice(0, -1) : line;
    for (const char of Array.from(content)) chars.push(char);
    chars.push(EOS);
  }
  return chars;
}

export function tokenize(text: string, level: TokenLevel): string[] {
  return level === 'word' ? tokenizeWords(text) : tokenizeChars(text);
}

/** The distinct tokens by decreasing count, ties by the token, so ids are reproducible. */
function typesByCount(tokens: string[]): string[] {
  const counts = new Map<string, number>();
  for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return sorted.map(([t]) => t);
}

/** Vocabulary of the training words: by decreasing count, ties by the word, so ids are reproducible. */
export function buildVocabulary(words: string[]): Vocabulary {
  return vocabularyFromWords(typesByCount(words));
}

/**
 * The vocabulary a corpus is encoded with: the training tokens by decreasing count (ties by the token),
 * cut to the vocabSize−1 most frequent when vocabSize is given, and always `<unk>`: at its own place when
 * the training text holds it (PTB does), otherwise last.
 */
export function trainingVocabulary(tokens: string[], vocabSize: number | null): Vocabulary {
  if (vocabSize !== null && !(Number.isInteger(vocabSize) && vocabSize >= 2)) {
    throw new UserError(`--vocab-size ${vocabSize}: must be a whole number of at least 2 (${UNK} and one token)`);
  }
  const types = typesByCount(tokens);
  const keep = vocabSize === null ? types.length : vocabSize - 1; // tokens other than <unk>
  const words: string[] = [];
  let kept = 0;
  for (const t of types) {
    if (t === UNK) words.push(t);
    else if (kept < keep) { words.push(t); kept++; }
  }
  if (!words.includes(UNK)) words.push(UNK);
  return vocabularyFromWords(words);
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

/**
 * The text of one split, checked: readable, UTF-8 (no NUL bytes, no invalid sequences) and not blank.
 * `flag` is the option that chose the file (--data, or --train/--valid/--test), named in the fix.
 */
function readSplitText(path: string, split: Split, flag: string): string {
  const what = `${path} (the ${SPLIT_NAMES[split]} split)`;
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a folder, not a file' : `cannot read it (${code})`;
    throw new UserError(`${what}: ${why}; point ${flag} at a readable text file`);
  }
  if (bytes.includes(0)) {
    throw new UserError(`${what}: not a text file (it holds NUL bytes); point ${flag} at a UTF-8 text file`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UserError(`${what}: not valid UTF-8; convert it (for example iconv -t UTF-8) or point ${flag} at a UTF-8 text file`);
  }
  if (text.trim().length === 0) {
    throw new UserError(`${what}: ${text.length === 0 ? 'empty' : 'only whitespace'}; give it some text or point ${flag} at another file`);
  }
  return text;
}

/** The split files of a source, and the flag that named each (for error messages). */
function sourceFiles(source: CorpusSource): { files: Corpus['files']; flags: Record<Split, string> } {
  if ('dir' in source) return { files: findSplitFiles(source.dir), flags: { train: '--data', valid: '--data', test: '--data' } };
  return {
    files: { train: source.train, valid: source.valid, test: source.test },
    flags: { train: '--train', valid: '--valid', test: '--test' },
  };
}

/**
 * Reads a corpus from a folder or three files at the word or character level. With `options.vocab`
 * given (a checkpoint's), every split is encoded with it; otherwise the vocabulary is built from the
 * training split, cut to `options.vocabSize`.
 */
export function loadCorpusFrom(source: CorpusSource, options: CorpusOptions): Corpus {
  const { files, flags } = sourceFiles(source);
  const tokens = {} as Record<Split, string[]>;
  // readSplitText refuses blank text, so every split has at least one token and its <eos>: one to read,
  // one to predict (a split too short for the batch size is batchify's error, which names --batch-size)
  for (const split of SPLITS) tokens[split] = tokenize(readSplitText(files[split], split, flags[split]), options.level);
  const vocab = options.vocab ?? trainingVocabulary(tokens.train, options.vocabSize);
  return {
    level: options.level,
    vocab,
    train: encodeWords(tokens.train, vocab, files.train),
    valid: encodeWords(tokens.valid, vocab, files.valid),
    test: encodeWords(tokens.test, vocab, files.test),
    files,
  };
}

/**
 * Reads a corpus folder at the word level with every training word in the vocabulary (PTB: exactly its
 * 10,000 types). With `vocab` given (a checkpoint's), splits are encoded with it.
 */
export function loadCorpus(dir: string, vocab?: Vocabulary): Corpus {
  return loadCorpusFrom({ dir }, { level: 'word', vocabSize: null, vocab });
}

/**
 * A SHA-256 (hex) of what training sees: the level, the vocabulary in id order and the three id streams,
 * so a resumed run can check it continues on the same corpus (wherever its files now lie).
 */
export function corpusFingerprint(corpus: Corpus): string {
  const hash = createHash('sha256');
  hash.update(`level ${corpus.level}\n`);
  hash.update(`vocab ${JSON.stringify(corpus.vocab.words)}\n`);
  for (const split of SPLITS) {
    const ids = corpus[split];
    hash.update(`${split} ${ids.length}\n`);
    hash.update(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength)); // the platform's byte order (little-endian in practice)
  }
  return hash.digest('hex');
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
